//! Following a daemon (HAM-CONTRACT E8, L2, L3): a launcher that exits 0
//! soon after its start leaves a daemon, named by a fresh pid file, by
//! sd_notify's MAINPID, or as the one process of the launch that is now a
//! child of this subreaper; the daemon is watched instead.
//!
//! Every start records a [`Launch`]: the launcher's pid (its process group),
//! a lower bound of its start time, and how the entity's pid file looked
//! just before. Only the launch's own processes are candidates (L3), and a
//! pid file counts only once rewritten and naming one of them (L2); with
//! none valid within the E8 window of the start, the start is a death.

use super::Msg;
use super::lifecycle::{Agent, Watched};
use crate::node::now_ns;
use crate::process::{asyncfd, daemon};
use daemon::{FileSeen, Launch};
use ham_core::model::{Command, EntityRef, ExitInfo, Uid};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::collections::HashSet;
use std::path::PathBuf;
use tokio::time::Instant;

/// A start in progress: what is known before the spawn.
#[derive(Debug)]
pub(super) struct LaunchDraft {
    since_ticks: u64,
    pidfile: Option<(PathBuf, FileSeen)>,
}

/// An entity's latest start, and the process it was followed to, if any.
#[derive(Debug, Clone)]
pub(super) struct LaunchRecord {
    launch: Launch,
    followed: Option<u32>,
}

impl Agent {
    /// Looks at the entity's pid file and the clock just before a start (L2).
    pub(super) fn launch_draft(&self, entity: &EntityRef) -> LaunchDraft {
        let pidfile = self
            .ctx
            .node
            .read_now(|s| s.entity(entity).ok().and_then(|e| e.pidfile.clone()))
            .map(PathBuf::from)
            .map(|p| {
                let seen = FileSeen::now(&p);
                (p, seen)
            });
        LaunchDraft {
            since_ticks: daemon::boot_ticks_now(),
            pidfile,
        }
    }

    /// Records a start once its launcher's pid is known.
    pub(super) fn launched(&mut self, uid: Uid, pid: u32, draft: LaunchDraft) {
        let launch = Launch {
            pid,
            since_ticks: draft.since_ticks,
            agent: self.ctx.agent_id.clone(),
            uid,
            pidfile: draft.pidfile,
        };
        self.launches.insert(
            uid,
            LaunchRecord {
                launch,
                followed: None,
            },
        );
    }

    /// E8: a launcher (or the process it was followed to) exited 0 soon
    /// after its start; look for the daemon it left. Returns true when the
    /// death is handled (followed, or waiting for the pid file).
    pub(super) fn follow_daemon(&mut self, w: &Watched) -> bool {
        let uid = w.entity.uid.unwrap_or(0);
        let Some(launch) = self
            .launches
            .get(&uid)
            .filter(|s| s.launch.pid == w.pid || s.followed == Some(w.pid))
            .map(|s| s.launch.clone())
        else {
            return false;
        };
        if launch.pidfile.is_some() {
            if let Some(daemon) = daemon::fresh_pid(&launch) {
                self.on_adopt(uid, w.pid, Some(daemon));
                return true;
            }
            // L2: the pid file may be written (or rewritten) after the launcher exits.
            let tx = self.tx.clone();
            let exited = w.pid;
            let deadline = w.started + daemon::DAEMONIZE_WINDOW;
            tokio::spawn(async move {
                let daemon = wait_for_fresh_pid(&launch, deadline).await;
                if daemon.is_none() {
                    tracing::warn!(
                        uid,
                        launcher = launch.pid,
                        "no valid pid file within the daemon window"
                    );
                }
                let _ = tx.send(Msg::Adopt {
                    uid,
                    launcher: exited,
                    daemon,
                });
            });
            return true;
        }
        // L3: the processes we started or watch for anything else are not this launch's.
        let mut known: HashSet<u32> = self.ctx.reaper.spawned().into_iter().collect();
        known.extend(self.watched.values().map(|o| o.pid));
        match daemon::candidates(&launch, &known)[..] {
            [daemon] => {
                self.on_adopt(uid, w.pid, Some(daemon));
                true
            }
            [] => false,
            ref several => {
                tracing::warn!(entity = %w.entity.name, candidates = ?several, "launcher left several processes; name the daemon with a pid file");
                false
            }
        }
    }

    pub(super) fn on_adopt(&mut self, uid: Uid, launcher: u32, daemon: Option<u32>) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        if w.pid != launcher {
            return;
        }
        match daemon {
            Some(pid) => {
                tracing::info!(entity = %w.entity.name, launcher, daemon = pid, "following daemon");
                if let Some(s) = self.launches.get_mut(&uid) {
                    s.followed = Some(pid);
                }
                let hb = self.heartbeat_of(&w.entity);
                // A daemon named by a pid file may be deeper in our subtree than a child:
                // `watch` asks the reaper for children and a pidfd for the others.
                self.watch(w.entity.clone(), pid, hb, false);
                let cmd = Command::ProcessStarted {
                    entity: w.entity.clone(),
                    pid: pid.into(),
                    now_ns: now_ns(),
                };
                // After the launcher's pid (its start or restart outcome), never before.
                self.propose_outcome(&w.entity, cmd, false);
            }
            None => self.recover(w, ExitInfo::Exited(0)),
        }
    }

    pub(super) fn on_main_pid(&mut self, from: u32, main: u32) {
        let Some((&uid, w)) = self.watched.iter().find(|(_, w)| w.pid == from) else {
            return;
        };
        let launcher = w.pid;
        self.on_adopt(uid, launcher, Some(main));
    }
}

/// Waits until the launch's pid file is fresh and valid (L2), or `deadline`.
/// Each change in the file's directory (inotify) re-checks it; nothing polls.
async fn wait_for_fresh_pid(launch: &Launch, deadline: Instant) -> Option<u32> {
    let (path, _) = launch.pidfile.as_ref()?;
    let dir = path.parent()?.to_path_buf();
    loop {
        if !dir.exists() {
            // The daemon may create its run directory first.
            let left = deadline.saturating_duration_since(Instant::now());
            if !super::waitpath::wait_for_path(&dir, left).await.ok()? {
                return None;
            }
            continue;
        }
        return watch_dir(launch, &dir, deadline).await;
    }
}

/// Watches `dir` for the pid file's writes and renames until it is valid or `deadline`.
async fn watch_dir(launch: &Launch, dir: &std::path::Path, deadline: Instant) -> Option<u32> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
    let flags = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ATTRIB;
    // The watch exists before the check, so no write between them is missed.
    inotify.add_watch(dir, flags).ok()?;
    let fd = asyncfd::register(inotify).ok()?;
    loop {
        if let Some(pid) = daemon::fresh_pid(launch) {
            return Some(pid);
        }
        let ready = tokio::select! {
            r = fd.readable() => r.ok(),
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let Some(mut guard) = ready else {
            return daemon::fresh_pid(launch);
        };
        // What the events say matters less than checking again; an overflow is a change too.
        match guard.get_inner().0.read_events() {
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
            Err(_) => return None,
        }
    }
}
