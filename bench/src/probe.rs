//! `ham-bench probe SOCKET TAG [READY_FD]`: the supervised program. `main`
//! reads CLOCK_MONOTONIC before anything else and hands the reading here;
//! the probe sends `TAG PID NS` to the benchmark's datagram socket and then
//! sleeps until it is killed. The reading is taken after exec, so the
//! latency the benchmark computes ends at "replacement running". With
//! READY_FD (s6's `notification-fd`), it then writes a newline to that fd
//! to tell s6-supervise it is ready.

use anyhow::{Context as _, bail};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// One probe start, as the benchmark receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The probe's pid.
    pub pid: i32,
    /// Its CLOCK_MONOTONIC reading at the top of `main`.
    pub mono_ns: i64,
}

/// Encodes a report for `tag`.
pub fn encode(tag: &str, report: Report) -> String {
    format!("{tag} {} {}", report.pid, report.mono_ns)
}

/// Decodes `TAG PID NS`.
pub fn decode(text: &str) -> Option<(String, Report)> {
    let mut it = text.split_ascii_whitespace();
    let tag = it.next()?.to_owned();
    let pid = it.next()?.parse().ok()?;
    let mono_ns = it.next()?.parse().ok()?;
    it.next()
        .is_none()
        .then_some((tag, Report { pid, mono_ns }))
}

/// Runs the probe; returns only on error.
pub fn run(started_ns: i64, args: &[String]) -> anyhow::Result<()> {
    let (socket, tag, ready_fd) = match args {
        [socket, tag] => (socket, tag, None),
        [socket, tag, fd] => (socket, tag, Some(fd)),
        _ => bail!("usage: ham-bench probe SOCKET TAG [READY_FD]"),
    };
    let report = Report {
        pid: i32::try_from(std::process::id())?,
        mono_ns: started_ns,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to(encode(tag, report).as_bytes(), socket)
        .with_context(|| format!("cannot report to {socket}"))?;
    if let Some(fd) = ready_fd {
        // Opening /dev/fd/N of a pipe gives a new descriptor of the same
        // pipe: no need to adopt the raw fd (which would take `unsafe`).
        let path = format!("/dev/fd/{}", fd.parse::<u32>().context("READY_FD")?);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"\n"))
            .with_context(|| format!("cannot notify readiness on {path}"))?;
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        let r = Report {
            pid: 4242,
            mono_ns: 123_456_789_012,
        };
        assert_eq!(decode(&encode("s6", r)), Some(("s6".to_owned(), r)));
        assert_eq!(decode("s6 12"), None);
        assert_eq!(decode("s6 x 12"), None);
        assert_eq!(decode("s6 1 2 3"), None);
    }
}
