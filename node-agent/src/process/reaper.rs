//! The one reaper of the agent's children (including orphans re-parented to
//! it as a child subreaper).

use ham_core::model::ExitInfo;
use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

/// How many exit statuses nobody waited for are remembered, so that a
/// watcher registered late (a daemon's pid learned after it died) still
/// gets its status.
const UNCLAIMED: usize = 256;

#[derive(Debug, Default)]
struct Table {
    waiters: HashMap<u32, oneshot::Sender<ExitInfo>>,
    unclaimed: VecDeque<(u32, ExitInfo)>,
    /// Children we started and have not reaped yet.
    spawned: HashSet<u32>,
}

/// What a start returns: at least the pid of the child.
pub trait Spawned {
    /// The child's pid.
    fn pid(&self) -> u32;
}

impl Spawned for u32 {
    fn pid(&self) -> u32 {
        *self
    }
}

impl Spawned for super::spawn::Started {
    fn pid(&self) -> u32 {
        self.pid
    }
}

/// Dispatches exit statuses to whoever waits for a pid.
#[derive(Debug, Default)]
pub struct Reaper {
    table: Mutex<Table>,
}

fn exit_info(status: WaitStatus) -> Option<(u32, ExitInfo)> {
    match status {
        WaitStatus::Exited(pid, code) => {
            Some((pid.as_raw().cast_unsigned(), ExitInfo::Exited(code)))
        }
        WaitStatus::Signaled(pid, sig, core_dumped) => Some((
            pid.as_raw().cast_unsigned(),
            ExitInfo::Signaled {
                signal: sig as i32,
                core_dumped,
            },
        )),
        _ => None,
    }
}

impl Reaper {
    /// Makes this process a child subreaper and starts reaping on SIGCHLD.
    /// Must be called inside the tokio runtime, before any child is started.
    pub fn start() -> std::io::Result<Arc<Reaper>> {
        nix::sys::prctl::set_child_subreaper(true).map_err(std::io::Error::from)?;
        let mut sigchld = signal(SignalKind::child())?;
        let reaper = Arc::new(Reaper::default());
        let r = reaper.clone();
        tokio::spawn(async move {
            // Children that exited before the handler was installed.
            r.reap_all();
            while sigchld.recv().await.is_some() {
                r.reap_all();
            }
        });
        Ok(reaper)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reaps every child that has exited (SIGCHLDs coalesce, so loop until none is left).
    // The one caller of `wait*` in the workspace (clippy.toml): anyone else would take
    // exit statuses the agent is waiting for.
    #[allow(clippy::disallowed_methods)]
    pub fn reap_all(&self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waitpid failed");
                    return;
                }
                Ok(status) => {
                    if let Some((pid, info)) = exit_info(status) {
                        self.dispatch(pid, info);
                    }
                }
            }
        }
    }

    fn dispatch(&self, pid: u32, info: ExitInfo) {
        let mut t = self.lock();
        t.spawned.remove(&pid);
        match t.waiters.remove(&pid) {
            // A dropped receiver means nobody cares any more.
            Some(tx) => {
                let _ = tx.send(info);
            }
            None => {
                if t.unclaimed.len() == UNCLAIMED {
                    t.unclaimed.pop_front();
                }
                t.unclaimed.push_back((pid, info));
            }
        }
    }

    /// Starts a child with `start` and registers a waiter for it under the
    /// same lock, so its exit cannot be reaped before the waiter exists.
    pub fn spawn_watched<T: Spawned>(
        &self,
        start: impl FnOnce() -> std::io::Result<T>,
    ) -> std::io::Result<(T, oneshot::Receiver<ExitInfo>)> {
        let mut t = self.lock();
        let started = start()?;
        let pid = started.pid();
        let (tx, rx) = oneshot::channel();
        t.waiters.insert(pid, tx);
        t.spawned.insert(pid);
        Ok((started, rx))
    }

    /// Starts a child nobody waits for (its status is reaped and dropped).
    pub fn spawn_detached(
        &self,
        start: impl FnOnce() -> std::io::Result<u32>,
    ) -> std::io::Result<u32> {
        let mut t = self.lock();
        let pid = start()?;
        t.spawned.insert(pid);
        Ok(pid)
    }

    /// The children we started that are still running (or not reaped yet).
    pub fn spawned(&self) -> Vec<u32> {
        self.lock().spawned.iter().copied().collect()
    }

    /// Waits for a child (or adopted orphan) that may already have been reaped.
    pub fn watch(&self, pid: u32) -> oneshot::Receiver<ExitInfo> {
        let (tx, rx) = oneshot::channel();
        let mut t = self.lock();
        if let Some(i) = t.unclaimed.iter().position(|(p, _)| *p == pid) {
            let (_, info) = t.unclaimed.remove(i).expect("index just found");
            let _ = tx.send(info);
        } else {
            t.waiters.insert(pid, tx);
        }
        rx
    }

    /// Stops waiting for a pid (its status will be dropped when it exits).
    pub fn forget(&self, pid: u32) {
        self.lock().waiters.remove(&pid);
    }
}
