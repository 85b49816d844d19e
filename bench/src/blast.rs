//! `ham-bench blast NOTIFY_SOCKET COUNT`: the heartbeat sender of (e). It
//! is attached to ham by its own pid (the sd_notify socket knows senders by
//! their kernel credentials), then obeys one-line commands on stdin:
//! `ping` sends one `WATCHDOG=1` and answers `ok`; `go` sends COUNT of them
//! as fast as the socket takes them and answers `FIRST LAST`, the
//! CLOCK_REALTIME readings before the first and after the last send. It
//! exits at end of input.
//!
//! The socket is blocking: when ham's receive queue is full the sender
//! sleeps in the kernel, so no datagram is dropped and the send rate
//! follows ham's processing rate.

use crate::clock::realtime_ns;
use anyhow::{Context as _, bail};
use std::io::{BufRead as _, Write as _};
use std::os::unix::net::UnixDatagram;

const BEAT: &[u8] = b"WATCHDOG=1";

/// Runs the sender; returns at end of input.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let [socket, count] = args else {
        bail!("usage: ham-bench blast NOTIFY_SOCKET COUNT");
    };
    let count: u64 = count.parse().context("COUNT")?;
    let sock = UnixDatagram::unbound()?;
    sock.connect(socket)
        .with_context(|| format!("cannot connect to {socket}"))?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        match line?.trim() {
            "ping" => {
                sock.send(BEAT)?;
                writeln!(out, "ok")?;
            }
            "go" => {
                let first = realtime_ns();
                for _ in 0..count {
                    sock.send(BEAT)?;
                }
                let last = realtime_ns();
                writeln!(out, "{first} {last}")?;
            }
            other => bail!("unknown command {other:?}"),
        }
        out.flush()?;
    }
    Ok(())
}
