//! (c): delay between a heartbeat period boundary and the missed-heartbeat
//! action running.
//!
//! An idle `sleep` (which never heartbeats) is attached by pid with a
//! period P and hpdl = hpdh = 1, over a placeholder that already holds an
//! HBEATMISSEDLOW condition with two actions: notify_signal (sigqueue of
//! SIGUSR1 to the benchmark) and heartbeat_healthy (re-arms the
//! condition). So every boundary `start + k*P` fires the condition again,
//! where `start` is any boundary: the tree's `next_boundary_ns` (periods
//! count from when the agent began watching the process, which follows the
//! attach's commit, so the entity's `since_ns` would add the commit time).
//! The benchmark reads the signals from a signalfd (SIGUSR1 is blocked in
//! all its threads from the start of the run) and takes CLOCK_REALTIME
//! when each arrives; the delay is that time minus the last boundary.

use crate::clock;
use crate::supervisors::ham::HamDaemon;
use anyhow::{Context as _, bail};
use ham_client::proto::AttachRequest;
use ham_client::{ConditionType, NodeSel, Signal as HamSignal};
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::AsFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// The si_value the action carries, to recognise its signals.
const MARK: i64 = 0x0048_414d;
/// `si_code` of a sigqueue(3) signal.
const SI_QUEUE: i32 = -1;
/// Boundaries ignored at the start: the placeholder was created before
/// the attach, so the first boundaries may already be past when the
/// tracker starts and fire late by design.
const WARMUP: usize = 3;

/// The signal the action sends; block it before any thread starts.
pub const SIGNAL: Signal = Signal::SIGUSR1;

/// What (c) measured.
#[derive(Debug, Clone, Default)]
pub struct HbResult {
    /// Boundary-to-signal delays in ms.
    pub delays_ms: Vec<f64>,
    /// Boundaries that elapsed over the measured signals.
    pub boundaries: i64,
    /// The period in ms.
    pub period_ms: f64,
}

/// Blocks [`SIGNAL`] in the calling thread (and so in every thread it
/// starts later, and in the children they start: none of the programs run
/// here uses SIGUSR1).
pub fn block_signal() -> anyhow::Result<()> {
    SigSet::from_iter([SIGNAL]).thread_block()?;
    Ok(())
}

/// Runs (c) on `ham` with `trials` measured boundaries.
pub fn run(
    rt: &Runtime,
    ham: &HamDaemon,
    sleep: &Path,
    period: Duration,
    trials: usize,
) -> anyhow::Result<HbResult> {
    let trials = trials.max(1);
    let fd = SignalFd::with_flags(&SigSet::from_iter([SIGNAL]), SfdFlags::SFD_CLOEXEC)?;
    let mut sleeper = Command::new(sleep)
        .arg("86400")
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot start sleep")?;
    let period_ns = u64::try_from(period.as_nanos())?;
    let start_ns = rt.block_on(async {
        let c = &ham.client;
        let entity = c.entity(NodeSel::Local, "hbeat", 0).await?;
        let missed = c
            .condition(&entity, ConditionType::Hbeatmissedlow, "missed", 0)
            .await?;
        let tell = HamSignal {
            node: NodeSel::Local,
            pid: i64::from(std::process::id()),
            signum: SIGNAL as i32,
            code: 0,
            value: MARK,
        };
        c.action_notify_signal(&missed, "tell", &tell, 0).await?;
        c.action_heartbeat_healthy(&missed, "rearm", 0).await?;
        c.raw()
            .attach(AttachRequest {
                node: NodeSel::Local.to_proto(),
                name: "hbeat".to_owned(),
                pid: i64::from(sleeper.id()),
                command_line: String::new(),
                flags: 0,
                pidfile: String::new(),
                period_ns,
                hpdl: 1,
                hpdh: 1,
                ..Default::default()
            })
            .await?;
        let tree = c.tree(NodeSel::Local, "hbeat", "", "", false).await?;
        let hb = tree
            .entities
            .first()
            .and_then(|e| e.heartbeat)
            .filter(|hb| hb.next_boundary_ns != 0)
            .context("ham does not watch entity hbeat's heartbeat")?;
        anyhow::Ok(hb.next_boundary_ns)
    })?;
    let p = i64::try_from(period_ns)?;
    let began = Instant::now();
    let limit = began + period * u32::try_from(trials + WARMUP)? * 2 + Duration::from_secs(5);
    let mut arrivals = Vec::with_capacity(trials + WARMUP);
    while arrivals.len() < trials + WARMUP {
        if Instant::now() > limit {
            bail!(
                "only {} missed-heartbeat signals in {:?}",
                arrivals.len(),
                began.elapsed()
            );
        }
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, 1000u16)? == 0 {
            continue;
        }
        let Some(info) = fd.read_signal()? else {
            continue;
        };
        let now = clock::realtime_ns();
        if info.ssi_code == SI_QUEUE && i64::from(info.ssi_int) == MARK {
            arrivals.push(now);
        }
    }
    rt.block_on(ham.client.detach_name(NodeSel::Local, "hbeat", 0))?;
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let measured = &arrivals[WARMUP..];
    let delays_ms = measured
        .iter()
        .map(|t| clock::ms((t - start_ns).rem_euclid(p)))
        .collect();
    let (first, last) = (measured[0], measured[measured.len() - 1]);
    Ok(HbResult {
        delays_ms,
        boundaries: (last - start_ns).div_euclid(p) - (first - start_ns).div_euclid(p) + 1,
        period_ms: clock::ms(p),
    })
}
