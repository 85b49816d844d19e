//! Cross-node notification: a death on node A (n1) to a signal received by
//! a process "on" node B (n2).
//!
//! Node A watches a victim entity with a DEATH condition holding two
//! actions, both re-armed after restart: a signal notification (SIGUSR1,
//! delivered by node B's agent with sigqueue to the receiver) and a restart.
//! Each trial kills the current victim with SIGKILL and measures from just
//! before kill() to the receiver's sigwait returning (both CLOCK_MONOTONIC).
//! ham runs a condition's restart before its other actions (HAM-CONTRACT),
//! so the figure includes starting the new victim.

use crate::cluster::{HamCluster, connect};
use crate::probe::{Report, Reports};
use crate::procs::{Proc, kill_pid, monotonic_ns};
use crate::stats::Summary;
use anyhow::{Result, bail};
use ham_client::flags::HREARMAFTERRESTART;
use ham_client::{ConditionType, NodeSel, Signal};
use nix::sys::signal::{Signal as Sig, kill};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A signal not received this long after the kill counts as lost.
const SIGNAL_LIMIT: Duration = Duration::from_secs(2);
/// Bound for a helper to report in.
const REPORT_LIMIT: Duration = Duration::from_secs(5);

/// The result of all trials.
#[derive(Debug, Clone)]
pub struct NotifyRun {
    pub summary: Summary,
    /// Signals not received within 2 s.
    pub lost: usize,
}

/// Kills the current victim when dropped (it also exits with its `ham`).
/// Only the current one: the earlier ones are dead and their pids may be
/// reused.
#[derive(Debug, Default)]
struct Victim(u32);

impl Drop for Victim {
    fn drop(&mut self) {
        kill_pid(self.0);
    }
}

fn victim_pid(r: Report) -> Option<u32> {
    match r {
        Report::Victim(p) => Some(p),
        _ => None,
    }
}

/// Runs `trials` notifications on `cluster`, `gap` apart; `exe` is this
/// binary (receiver and victim modes), `dir` holds its socket and logs.
pub async fn run(
    cluster: &HamCluster,
    exe: &Path,
    dir: &Path,
    trials: usize,
    gap: Duration,
) -> Result<NotifyRun> {
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let sock = dir.join("reports.sock");
    let reports = Reports::bind(&sock)?;
    let mut cmd = Command::new(exe);
    cmd.arg("receiver").arg(&sock);
    let _receiver = Proc::spawn("receiver", cmd, &dir.join("receiver.log"))?;
    let mut other = Vec::new();
    let receiver = reports
        .expect(
            "report from the receiver",
            REPORT_LIMIT,
            &mut other,
            |r| match r {
                Report::Ready(p) => Some(p),
                _ => None,
            },
        )
        .await?;

    let ham = connect(&a.socket).await?;
    let line = format!("{} victim {}", exe.display(), sock.display());
    let entity = ham.attach(NodeSel::Local, "victim", -1, &line, 0).await?;
    let cond = ham
        .condition(&entity, ConditionType::Death, "death", HREARMAFTERRESTART)
        .await?;
    let signal = Signal {
        node: NodeSel::Name(b.name.clone()),
        pid: i64::from(receiver),
        signum: Sig::SIGUSR1 as i32,
        code: 0,
        value: 1,
    };
    ham.action_notify_signal(&cond, "notify", &signal, HREARMAFTERRESTART)
        .await?;
    ham.action_restart(&cond, "restart", &line, HREARMAFTERRESTART)
        .await?;

    let mut victim = Victim(
        reports
            .expect("first victim", REPORT_LIMIT, &mut other, victim_pid)
            .await?,
    );
    let mut samples = Vec::with_capacity(trials);
    let mut lost = 0;
    for t in 0..trials {
        tokio::time::sleep(gap).await;
        // Anything still queued (a late signal of a lost trial) is not this trial's.
        while reports.next(Duration::ZERO).await?.is_some() {}
        let pid = Pid::from_raw(i32::try_from(std::mem::take(&mut victim.0))?);
        let killed_at = monotonic_ns();
        kill(pid, Sig::SIGKILL)?;
        let (mut arrived, mut next) = (None, None);
        let deadline = tokio::time::Instant::now() + SIGNAL_LIMIT;
        while arrived.is_none() || next.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match reports.next(left).await? {
                Some(Report::Signal(_, at)) => arrived = Some(at),
                Some(Report::Victim(p)) => next = Some(p),
                Some(Report::Ready(_)) => {}
                None => break,
            }
        }
        match arrived {
            Some(at) => samples.push(at.saturating_sub(killed_at)),
            None => lost += 1,
        }
        victim.0 = match next {
            Some(p) => p,
            None => {
                let mut other = Vec::new();
                reports
                    .expect("restarted victim", REPORT_LIMIT, &mut other, victim_pid)
                    .await
                    .map_err(|e| anyhow::anyhow!("trial {t}: {e}"))?
            }
        };
        if lost > trials / 10 + 2 {
            bail!("{lost} of {} signals lost", t + 1);
        }
    }
    Ok(NotifyRun {
        summary: Summary::of(samples),
        lost,
    })
}
