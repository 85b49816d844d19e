//! The two helper modes of this binary, and the benchmark's end of their
//! reports (one Unix datagram socket):
//!
//! - `receiver SOCK`: stands for a process on node B. It blocks SIGUSR1,
//!   waits for it with sigwait, and reports CLOCK_MONOTONIC at arrival.
//! - `victim SOCK`: the entity node A watches. It reports its pid and then
//!   only waits to be killed.
//!
//! Both exit by themselves once their parent is gone (the benchmark, or the
//! `ham` daemon that started the victim), so nothing outlives a killed run.

use crate::procs::monotonic_ns;
use anyhow::{Context, Result, bail};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::getppid;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// What a helper reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The receiver is ready; its pid.
    Ready(u32),
    /// A victim started; its pid.
    Victim(u32),
    /// The receiver got a signal: number and CLOCK_MONOTONIC ns at arrival.
    Signal(i32, u64),
}

impl Report {
    fn encode(self) -> String {
        match self {
            Report::Ready(pid) => format!("ready {pid}"),
            Report::Victim(pid) => format!("victim {pid}"),
            Report::Signal(sig, at) => format!("signal {sig} {at}"),
        }
    }

    /// Parses a datagram; `None` for anything else.
    pub fn decode(text: &str) -> Option<Report> {
        let mut words = text.split_whitespace();
        let r = match (words.next()?, words.next()?, words.next()) {
            ("ready", pid, None) => Report::Ready(pid.parse().ok()?),
            ("victim", pid, None) => Report::Victim(pid.parse().ok()?),
            ("signal", sig, Some(at)) => Report::Signal(sig.parse().ok()?, at.parse().ok()?),
            _ => return None,
        };
        words.next().is_none().then_some(r)
    }
}

/// Exits the process once its parent changed (it died: we were re-parented).
fn exit_with_parent() {
    let parent = getppid();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            if getppid() != parent {
                std::process::exit(0);
            }
        }
    });
}

fn send(sock: &UnixDatagram, r: Report) -> Result<()> {
    sock.send(r.encode().as_bytes())
        .context("cannot report to the benchmark")?;
    Ok(())
}

fn report_socket(path: &Path) -> Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)
        .with_context(|| format!("cannot reach {}", path.display()))?;
    Ok(sock)
}

/// The `receiver` mode. Must run before any other thread exists: the mask
/// set here is inherited by every thread started later, so SIGUSR1 is only
/// ever taken by sigwait.
pub fn receiver(report: &Path) -> Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.thread_block().context("cannot block SIGUSR1")?;
    exit_with_parent();
    let sock = report_socket(report)?;
    send(&sock, Report::Ready(std::process::id()))?;
    loop {
        let sig = set.wait().context("sigwait")?;
        let at = monotonic_ns();
        send(&sock, Report::Signal(sig as i32, at))?;
    }
}

/// The `victim` mode.
pub fn victim(report: &Path) -> Result<()> {
    exit_with_parent();
    let sock = report_socket(report)?;
    send(&sock, Report::Victim(std::process::id()))?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// The benchmark's socket the helpers report to.
#[derive(Debug)]
pub struct Reports {
    sock: tokio::net::UnixDatagram,
}

impl Reports {
    pub fn bind(path: &Path) -> Result<Reports> {
        let sock = tokio::net::UnixDatagram::bind(path)
            .with_context(|| format!("cannot bind {}", path.display()))?;
        Ok(Reports { sock })
    }

    /// The next report, waiting at most `limit` (`None` on timeout).
    pub async fn next(&self, limit: Duration) -> Result<Option<Report>> {
        let mut buf = [0u8; 128];
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let n = match tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(n) => n?,
            };
            match std::str::from_utf8(&buf[..n]).ok().and_then(Report::decode) {
                Some(r) => return Ok(Some(r)),
                None => eprintln!("ignoring a malformed report ({n} bytes)"),
            }
        }
    }

    /// Waits (bounded) for a report `pick` accepts; others are returned in `other`.
    pub async fn expect<T>(
        &self,
        what: &str,
        limit: Duration,
        other: &mut Vec<Report>,
        pick: impl Fn(Report) -> Option<T>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                Some(r) => match pick(r) {
                    Some(v) => return Ok(v),
                    None => other.push(r),
                },
                None => bail!("no {what} within {limit:?}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        for r in [
            Report::Ready(12),
            Report::Victim(99),
            Report::Signal(10, 123_456_789),
        ] {
            assert_eq!(Report::decode(&r.encode()), Some(r));
        }
        assert_eq!(Report::decode("signal 10"), None);
        assert_eq!(Report::decode("ready 1 2"), None);
        assert_eq!(Report::decode("hello"), None);
    }
}
