//! The witness: the test process, outside the cluster, receives every workload's reports on
//! one Unix datagram socket under the test's directory and stamps each with its own
//! CLOCK_MONOTONIC. A path-based Unix socket is reached from every network namespace, so a
//! workload on a node cut off from the others still reports: the witness sees what runs,
//! whatever the cluster believes.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// CLOCK_MONOTONIC in ns: the clock of the workloads' readings too (one per machine).
pub fn monotonic_ns() -> i64 {
    // clock_gettime cannot fail for CLOCK_MONOTONIC on Linux.
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    ts.tv_sec() * 1_000_000_000 + ts.tv_nsec()
}

/// One running copy of an entity: its pid and its own start reading, so that a later
/// process reusing the pid is another copy.
pub type Copy = (u32, i64);

/// One report of a workload, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The entity's index in the suite's list.
    pub entity: usize,
    /// `HAM_GENERATION` of the copy (0 while the HAM gives none).
    pub generation: u64,
    /// The inode of the network namespace it runs in (its node).
    pub netns: u64,
    /// The copy.
    pub copy: Copy,
    /// The copy's CLOCK_MONOTONIC reading at the send.
    pub sent_ns: i64,
    /// The witness's CLOCK_MONOTONIC reading at the receipt.
    pub recv_ns: i64,
}

/// "NAME GENERATION NETNS PID STARTED_NS SENT_NS", with NAME one of `names`.
pub fn parse(line: &str, names: &[String], recv_ns: i64) -> Option<Report> {
    let mut f = line.split(' ');
    let name = f.next()?;
    let entity = names.iter().position(|n| n == name)?;
    let generation = f.next()?.parse().ok()?;
    let netns = f.next()?.parse().ok()?;
    let pid = f.next()?.parse().ok()?;
    let started = f.next()?.parse().ok()?;
    let sent_ns = f.next()?.parse().ok()?;
    f.next().is_none().then_some(Report {
        entity,
        generation,
        netns,
        copy: (pid, started),
        sent_ns,
        recv_ns,
    })
}

/// The receiving thread and what it received.
pub struct Witness {
    path: PathBuf,
    reports: Arc<Mutex<Vec<Report>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Witness {
    /// Binds `dir/witness.sock` and receives reports of the entities `names` until dropped.
    pub fn start(dir: &Path, names: Vec<String>) -> Witness {
        let path = dir.join("witness.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the witness socket");
        // Only so that the thread notices `stop`; reports arrive every 10 ms per workload.
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let reports = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (reports, stop) = (reports.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(n) = sock.recv(&mut buf) else {
                        continue;
                    };
                    let recv_ns = monotonic_ns();
                    let line = String::from_utf8_lossy(&buf[..n]);
                    match parse(&line, &names, recv_ns) {
                        Some(r) => reports.lock().unwrap().push(r),
                        None => eprintln!("witness: unreadable report {line:?}"),
                    }
                }
            })
        };
        Witness {
            path,
            reports,
            stop,
            thread: Some(thread),
        }
    }

    /// The socket the workloads report to.
    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// The reports received at or after `since_ns`, in order of receipt.
    pub fn since(&self, since_ns: i64) -> Vec<Report> {
        let reports = self.reports.lock().unwrap();
        let first = reports.partition_point(|r| r.recv_ns < since_ns);
        reports[first..].to_vec()
    }

    /// Forgets the reports received before `before_ns` (a long run keeps memory bounded).
    pub fn forget_before(&self, before_ns: i64) {
        let mut reports = self.reports.lock().unwrap();
        let first = reports.partition_point(|r| r.recv_ns < before_ns);
        reports.drain(..first);
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The report jitter measured over `reports`: the largest delay between a copy's send and the
/// witness's receipt (one clock), and the largest gap between two reports of one copy.
pub fn jitter(reports: &[Report]) -> (i64, i64) {
    let delay = reports
        .iter()
        .map(|r| r.recv_ns - r.sent_ns)
        .max()
        .unwrap_or(0);
    let mut last: std::collections::HashMap<Copy, i64> = Default::default();
    let mut gap = 0;
    for r in reports {
        if let Some(prev) = last.insert(r.copy, r.recv_ns) {
            gap = gap.max(r.recv_ns - prev);
        }
    }
    (delay, gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_line_is_read_whole_or_not_at_all() {
        let names = vec!["e0".to_string(), "e1".to_string()];
        let r = parse("e1 7 4026532281 123 1000 2000", &names, 2500).unwrap();
        assert_eq!(r.entity, 1);
        assert_eq!(r.generation, 7);
        assert_eq!(r.copy, (123, 1000));
        assert_eq!((r.sent_ns, r.recv_ns), (2000, 2500));
        assert_eq!(parse("e2 0 1 2 3 4", &names, 0), None, "unknown entity");
        assert_eq!(parse("e1 0 1 2 3", &names, 0), None, "short");
        assert_eq!(parse("e1 0 1 2 3 4 5", &names, 0), None, "long");
    }
}
