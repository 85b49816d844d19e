//! Following a daemon (HAM-CONTRACT E8): a launcher that exits 0 soon after
//! its start leaves a daemon, named by a pid file, by sd_notify's MAINPID, or
//! as the one new child of this subreaper; the daemon is watched instead.

use super::Msg;
use super::lifecycle::{Agent, Watched};
use super::outcomes::commit;
use crate::node::now_ns;
use crate::process::daemon;
use ham_core::model::{Command, ExitInfo, Uid};

impl Agent {
    /// E8: a launcher exited 0 soon after its start; look for the daemon it left.
    /// Returns true when the death is handled (followed, or deferred to the pid file).
    pub(super) fn follow_daemon(&mut self, w: &Watched) -> bool {
        let uid = w.entity.uid.unwrap_or(0);
        let pidfile = self
            .ctx
            .node
            .read_now(|s| s.entity(&w.entity).ok().and_then(|e| e.pidfile.clone()));
        if let Some(path) = pidfile {
            if let Some(daemon) = daemon::read_pidfile(&path)
                .filter(|&p| daemon::parent_of(p) == Some(std::process::id()))
            {
                self.on_adopt(uid, w.pid, Some(daemon));
                return true;
            }
            // The pid file may be written after the launcher exits: wait for it, bounded.
            let tx = self.tx.clone();
            let launcher = w.pid;
            tokio::spawn(async move {
                let appeared = super::waitpath::wait_for_path(
                    std::path::Path::new(&path),
                    std::time::Duration::from_secs(5),
                )
                .await;
                let daemon = appeared
                    .ok()
                    .filter(|&a| a)
                    .and_then(|_| daemon::read_pidfile(&path));
                let _ = tx.send(Msg::Adopt {
                    uid,
                    launcher,
                    daemon,
                });
            });
            return true;
        }
        let mut candidates = daemon::children_of_self();
        for p in self.ctx.reaper.spawned() {
            candidates.remove(&p);
        }
        for other in self.watched.values() {
            candidates.remove(&other.pid);
        }
        match candidates.len() {
            1 => {
                let daemon = candidates.into_iter().next();
                self.on_adopt(uid, w.pid, daemon);
                true
            }
            0 => false,
            n => {
                tracing::warn!(entity = %w.entity.name, candidates = n, "launcher left several processes; name the daemon with a pid file");
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
                let hb = self.heartbeat_of(&w.entity);
                self.watch(w.entity.clone(), pid, hb, true);
                let node = self.ctx.node.clone();
                let cmd = Command::ProcessStarted {
                    entity: w.entity,
                    pid: pid.into(),
                    now_ns: now_ns(),
                };
                tokio::spawn(async move { commit(&node, cmd, "a daemon's pid").await });
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
