//! (e): heartbeats per second ham absorbs on its sd_notify socket.
//!
//! `ham-bench blast` is started, attached to ham by its pid with a 1 s
//! heartbeat period (no conditions: nothing fires), then sends COUNT
//! `WATCHDOG=1` datagrams on a blocking socket. ham stamps every heartbeat
//! it processes (`last_beat_ns`, CLOCK_REALTIME, in the tree); once that
//! stops moving, the last one was processed. Rate = COUNT / (last beat
//! processed - first send).

use crate::supervisors::ham::HamDaemon;
use anyhow::{Context as _, bail};
use ham_client::NodeSel;
use ham_client::proto::AttachRequest;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// What (e) measured.
#[derive(Debug, Clone, Default)]
pub struct NotifyResult {
    /// Datagrams sent.
    pub count: u64,
    /// Heartbeats processed per second.
    pub rate: f64,
    /// Datagrams the sender got through per second.
    pub send_rate: f64,
}

/// ham's last processed heartbeat of entity `name` (0 = none yet).
fn last_beat(rt: &Runtime, ham: &HamDaemon, name: &str) -> anyhow::Result<i64> {
    let tree = rt.block_on(ham.client.tree(NodeSel::Local, name, "", "", false))?;
    Ok(tree
        .entities
        .first()
        .and_then(|e| e.heartbeat)
        .map_or(0, |h| h.last_beat_ns))
}

/// Polls (every 5 ms) until `last_beat_ns` satisfies `done`, at most `limit`.
fn wait_beat(
    rt: &Runtime,
    ham: &HamDaemon,
    limit: Duration,
    mut done: impl FnMut(i64) -> bool,
) -> anyhow::Result<i64> {
    let deadline = Instant::now() + limit;
    loop {
        let beat = last_beat(rt, ham, "blaster")?;
        if done(beat) {
            return Ok(beat);
        }
        if Instant::now() > deadline {
            bail!("ham's last_beat_ns stayed at {beat}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs (e) with `count` datagrams.
pub fn run(rt: &Runtime, ham: &HamDaemon, exe: &Path, count: u64) -> anyhow::Result<NotifyResult> {
    let mut child = Command::new(exe)
        .arg("blast")
        .arg(ham.notify_socket())
        .arg(count.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the blaster")?;
    let mut to = child.stdin.take().context("stdin")?;
    let mut from = BufReader::new(child.stdout.take().context("stdout")?);
    rt.block_on(ham.client.raw().attach(AttachRequest {
        node: NodeSel::Local.to_proto(),
        name: "blaster".to_owned(),
        pid: i64::from(child.id()),
        command_line: String::new(),
        flags: 0,
        pidfile: String::new(),
        period_ns: 1_000_000_000,
        hpdl: 1,
        hpdh: 1,
        ..Default::default()
    }))?;
    // One heartbeat first, to know ham tracks the sender.
    let mut line = String::new();
    writeln!(to, "ping")?;
    from.read_line(&mut line)?;
    wait_beat(rt, ham, Duration::from_secs(5), |b| b > 0)?;
    writeln!(to, "go")?;
    line.clear();
    from.read_line(&mut line)?;
    let mut stamps = line.split_ascii_whitespace().map(str::parse::<i64>);
    let (Some(Ok(first)), Some(Ok(sent))) = (stamps.next(), stamps.next()) else {
        bail!("the blaster said {line:?}");
    };
    // Settled: at or after the last send, and unchanged over 50 ms.
    let mut previous = 0;
    let last = wait_beat(rt, ham, Duration::from_secs(60), |b| {
        let settled = b >= sent && b == previous;
        previous = b;
        if !settled {
            std::thread::sleep(Duration::from_millis(45));
        }
        settled
    })?;
    rt.block_on(ham.client.detach_name(NodeSel::Local, "blaster", 0))?;
    drop(to);
    let _ = child.wait();
    Ok(NotifyResult {
        count,
        rate: count as f64 / ((last - first) as f64 / 1e9),
        send_rate: count as f64 / ((sent - first) as f64 / 1e9),
    })
}
