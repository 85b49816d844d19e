//! The benchmark's end of the probes' reports: one Unix datagram socket all
//! probes send to, with reports kept per tag until someone asks for them.

use crate::probe::{self, Report};
use anyhow::Context as _;
use std::collections::{HashMap, VecDeque};
use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Receives probe reports.
#[derive(Debug)]
pub struct Collector {
    sock: UnixDatagram,
    path: PathBuf,
    pending: HashMap<String, VecDeque<Report>>,
}

impl Collector {
    /// Binds the socket at `path`.
    pub fn bind(path: &Path) -> anyhow::Result<Collector> {
        let sock =
            UnixDatagram::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
        Ok(Collector {
            sock,
            path: path.to_owned(),
            pending: HashMap::new(),
        })
    }

    /// Where probes send their reports.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next report of `tag` from a pid other than `not_pid`, waiting at
    /// most `timeout` (blocking receive, no polling). Reports of other tags
    /// that arrive meanwhile are kept for later.
    pub fn wait_new(
        &mut self,
        tag: &str,
        not_pid: Option<i32>,
        timeout: Duration,
    ) -> anyhow::Result<Option<Report>> {
        if let Some(queue) = self.pending.get_mut(tag) {
            while let Some(r) = queue.pop_front() {
                if Some(r.pid) != not_pid {
                    return Ok(Some(r));
                }
            }
        }
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 256];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock.set_read_timeout(Some(left))?;
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("receiving probe reports"),
            };
            let Some((from, report)) = std::str::from_utf8(&buf[..n]).ok().and_then(probe::decode)
            else {
                continue;
            };
            if from == tag && Some(report.pid) != not_pid {
                return Ok(Some(report));
            }
            if from != tag {
                self.pending.entry(from).or_default().push_back(report);
            }
        }
    }
}
