//! Watching this node's processes (HAM-CONTRACT E1, E11, S3): starting them,
//! registering a watcher for each, and forgetting them.

use super::Msg;
use super::launch::Launch;
use super::lifecycle::{Agent, Watched};
use crate::node::now_ns;
use crate::process::{daemon, identity, pidfd::PidFd, spawn};
use ham_core::model::{Command, EntityRef, ExitInfo, HeartbeatSpec, ProcessOptions, Uid};
use std::os::fd::AsFd as _;
use tracing::Instrument;

impl Agent {
    pub(super) fn forget(&mut self, uid: Uid) {
        self.ctx.records.forget(uid);
        if let Some(w) = self.watched.remove(&uid) {
            if w.child {
                self.ctx.reaper.forget(w.pid);
            }
            tracing::info!(entity = %w.entity.name, pid = w.pid, "no longer monitored");
        }
        self.ctx.heartbeats.remove(uid);
        if let Some(cgroups) = &self.ctx.cgroups {
            // Only an empty one goes: a detached entity's processes keep running (E6).
            cgroups.remove(uid);
        }
        self.shared.forget_started(uid);
        self.launches.remove(&uid);
        // A paced restart waiting for its delay is cancelled (detach, stop).
        self.pacer.forget(uid);
        self.shared.forget_pacing(uid);
        self.queued.remove(&uid);
        self.blocking.remove(&uid);
        // Dropping the sender ends the committer once its queue is written.
        self.committers.remove(&uid);
    }

    /// Starts an entity's process and watches it; proposes its pid.
    pub(super) fn start(
        &mut self,
        entity: EntityRef,
        argv: &[String],
        instance: u64,
        hb: Option<HeartbeatSpec>,
        options: &ProcessOptions,
    ) {
        let Some(uid) = entity.uid else { return };
        match self.spawn_child(&entity, argv, instance, hb, options) {
            Ok(pid) => {
                tracing::info!(entity = %entity.name, pid, instance, "started");
                crate::failpoint::hit("abort-after-spawn");
                let shared = self.shared.clone();
                let cmd = Command::ProcessStarted {
                    entity: entity.clone(),
                    pid: pid.into(),
                    now_ns: now_ns(),
                };
                // In the entity's order: a daemon it is followed to (E8) commits after it.
                let then: super::outcomes::Then = Box::new(move || shared.mark_started(uid));
                self.propose_then(&entity, cmd, false, Some(then));
            }
            Err(e) => {
                tracing::warn!(entity = %entity.name, error = %e, "cannot start");
                self.shared.mark_started(uid);
                // A start that fails is a death: the conditions decide what follows.
                self.watched.insert(
                    uid,
                    Watched {
                        entity,
                        pid: 0,
                        started: self.ctx.clock.mono(),
                        child: true,
                        group: None,
                    },
                );
                let _ = self.tx.send(Msg::Died {
                    uid,
                    pid: 0,
                    exit: ExitInfo::Exited(127),
                });
            }
        }
    }

    /// Spawns a child for an entity with its process options and registers
    /// its watcher. Heartbeat periods count from the spawn, on the monotonic
    /// clock.
    pub(super) fn spawn_child(
        &mut self,
        entity: &EntityRef,
        argv: &[String],
        instance: u64,
        hb: Option<HeartbeatSpec>,
        options: &ProcessOptions,
    ) -> std::io::Result<u32> {
        let uid = entity.uid.unwrap_or(0);
        let launch = Launch::prepare(&self.ctx.logs, &entity.name, options)?;
        let mut env = vec![
            ("HAM_INSTANCE", instance.to_string()),
            // How a later ham on this data tells this process (and its daemon) as the
            // entity's, also when it died before the pid was recorded (E11).
            (
                identity::MARKER,
                identity::marker_value(&self.ctx.agent_id, uid),
            ),
            (
                "NOTIFY_SOCKET",
                self.ctx.notify_socket.display().to_string(),
            ),
        ];
        if let Some(hb) = hb {
            env.push(("WATCHDOG_USEC", (hb.period_ns / 1000).to_string()));
        }
        let spec = launch.spec(argv, env);
        let draft = self.launch_draft(entity);
        // Born in its cgroup where the node can (cgroup v2): nothing is moved.
        let into = self.ctx.cgroups.as_ref().and_then(|c| c.start_dir(uid));
        let (started, exited) = self
            .ctx
            .reaper
            .spawn_watched(|| spawn::spawn_in(&spec, into.as_ref().map(|d| d.as_fd())))?;
        drop(into);
        let pid = started.pid;
        if !started.placed
            && let Some(cgroups) = &self.ctx.cgroups
            && let Err(e) = cgroups.place(uid, pid)
        {
            // Its process group still holds what it starts.
            tracing::warn!(entity = %entity.name, pid, error = %e, "cannot place the process in its cgroup");
        }
        self.launched(uid, pid, draft);
        let tx = self.tx.clone();
        let span = tracing::info_span!("watcher", entity = %entity.name, uid, pid);
        tokio::spawn(
            async move {
                if let Ok(exit) = exited.await {
                    let _ = tx.send(Msg::Died { uid, pid, exit });
                }
            }
            .instrument(span),
        );
        self.watched.insert(
            uid,
            Watched {
                entity: entity.clone(),
                pid,
                started: self.ctx.clock.mono(),
                child: true,
                // Started with process_group(0): it leads its own group.
                group: Some(pid),
            },
        );
        if let Some(hb) = hb {
            // A (re)started process gets a fresh tracker.
            self.ctx.heartbeats.add(entity.clone(), pid, hb);
        }
        match &started.pidfd {
            Some(fd) => self.ctx.records.remember_started(uid, pid, fd.as_fd()),
            None => self.ctx.records.remember(uid, pid),
        }
        Ok(pid)
    }

    /// Watches a process we did not just start: our child through the
    /// reaper (exit status known), any other through a pidfd.
    pub(super) fn watch(
        &mut self,
        entity: EntityRef,
        pid: u32,
        hb: Option<HeartbeatSpec>,
        adopted: bool,
    ) {
        let Some(uid) = entity.uid else { return };
        self.ctx.records.remember(uid, pid);
        let tx = self.tx.clone();
        let ours = adopted || daemon::parent_of(pid) == Some(std::process::id());
        let span = tracing::info_span!("watcher", entity = %entity.name, uid, pid);
        if ours {
            let exited = self.ctx.reaper.watch(pid);
            tokio::spawn(
                async move {
                    if let Ok(exit) = exited.await {
                        let _ = tx.send(Msg::Died { uid, pid, exit });
                    }
                }
                .instrument(span),
            );
        } else {
            match PidFd::open(pid) {
                Ok(fd) => {
                    tokio::spawn(
                        async move {
                            if fd.exited().await.is_ok() {
                                let _ = tx.send(Msg::Died {
                                    uid,
                                    pid,
                                    exit: ExitInfo::Unknown,
                                });
                            }
                        }
                        .instrument(span),
                    );
                }
                // Already gone: that is a death too.
                Err(_) => {
                    let _ = tx.send(Msg::Died {
                        uid,
                        pid,
                        exit: ExitInfo::Unknown,
                    });
                }
            }
        }
        tracing::info!(entity = %entity.name, pid, "monitoring");
        // A process that leads its own group stops with it; a daemon followed
        // from its launcher keeps the launcher's group too (L1).
        let group = identity::stat(pid)
            .filter(|s| s.pgid == pid)
            .map(|_| pid)
            .or_else(|| self.watched.get(&uid).and_then(|w| w.group));
        self.watched.insert(
            uid,
            Watched {
                entity: entity.clone(),
                pid,
                started: self.ctx.clock.mono(),
                child: ours,
                group,
            },
        );
        if let Some(hb) = hb {
            if self.ctx.heartbeats.tracks(uid) {
                self.ctx.heartbeats.set_pid(uid, pid);
            } else {
                // Periods count from now, when this agent begins watching, on
                // its monotonic clock (H5; see Heartbeats::add).
                self.ctx.heartbeats.add(entity, pid, hb);
            }
        }
    }
}
