//! The writer: one write after the other (placeholder entities `w0`, `w1`, ... in node 1's
//! context), each with its own `ham-request-id`, through whichever node answers, recording
//! every write the HAM acknowledged. A write whose outcome is unknown (ETIMEDOUT, EAGAIN, no
//! answer in time, a node that cannot be reached) is sent again with the same id through the
//! next node until one answers it (HAM-CONTRACT M5: applied at most once, answered with its
//! first outcome), so every acknowledged name is one the HAM promised to keep (D1).

use ham_client::{Errno, Ham, NodeSel, WriteRetry, new_request_id};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest wait for one answer: a frozen node's socket accepts and never answers.
const CALL_LIMIT: Duration = Duration::from_secs(2);
/// Pause between two writes: the state grows by one entity per write over a long run.
const PACE: Duration = Duration::from_millis(20);

/// What the writer was told.
#[derive(Debug, Default)]
pub struct Log {
    /// Names whose write was acknowledged (OK), in order.
    pub acked: Vec<String>,
    /// Names whose retry with the same request id was answered EEXIST: the first outcome was
    /// not kept (an M5 breach, counted as a finding).
    pub eexist: Vec<String>,
    /// When the last acknowledgement came (CLOCK_MONOTONIC ns).
    pub last_ack_ns: i64,
    /// Errors other than the retried ones, by errno, for the report.
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// The writing thread.
pub struct Writer {
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts writing through the nodes whose sockets are `sockets`.
    pub fn start(sockets: Vec<PathBuf>) -> Writer {
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || run(sockets, log, stop))
        };
        Writer {
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// What it was told so far.
    pub fn with_log<T>(&self, f: impl FnOnce(&Log) -> T) -> T {
        f(&self.log.lock().unwrap())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn connect(socket: &PathBuf) -> Option<Ham> {
    let ham = tokio::time::timeout(CALL_LIMIT, Ham::connect_uds(socket))
        .await
        .ok()?
        .ok()?;
    // The writer retries itself, through another node.
    Some(ham.with_write_retry(WriteRetry::NONE))
}

fn run(sockets: Vec<PathBuf>, log: Arc<Mutex<Log>>, stop: Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut conns: Vec<Option<Ham>> = vec![None; sockets.len()];
        let mut via = 0usize;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let name = format!("w{n}");
            n += 1;
            let id = new_request_id();
            let mut attempts = 0u32;
            // One write until the HAM tells its outcome, or the suite ends (then it is
            // simply not acknowledged).
            while !stop.load(Ordering::Relaxed) {
                attempts += 1;
                let i = via % sockets.len();
                if conns[i].is_none() {
                    conns[i] = connect(&sockets[i]).await;
                }
                let answer = match &conns[i] {
                    Some(ham) => tokio::time::timeout(
                        CALL_LIMIT,
                        ham.entity_with_request_id(&id, NodeSel::Id(1), &name, 0),
                    )
                    .await
                    .ok(),
                    None => None,
                };
                match answer {
                    Some(Ok(_)) => {
                        let mut l = log.lock().unwrap();
                        l.acked.push(name.clone());
                        l.last_ack_ns = super::witness::monotonic_ns();
                        break;
                    }
                    Some(Err(e)) if e.errno == Errno::Eexist && attempts > 1 => {
                        log.lock().unwrap().eexist.push(name.clone());
                        break;
                    }
                    Some(Err(e)) => {
                        *log.lock()
                            .unwrap()
                            .errors
                            .entry(e.errno.to_string())
                            .or_default() += 1;
                        if !matches!(e.errno, Errno::Etimedout | Errno::Eagain) {
                            // A broken connection (the node was killed): dial again later.
                            conns[i] = None;
                        }
                    }
                    None => {
                        *log.lock()
                            .unwrap()
                            .errors
                            .entry("no answer".into())
                            .or_default() += 1;
                        conns[i] = None;
                    }
                }
                // Same request id, next node.
                via += 1;
                tokio::time::sleep(PACE).await;
            }
            tokio::time::sleep(PACE).await;
        }
    });
}
