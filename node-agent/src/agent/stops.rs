//! Carrying out stops (HAM-CONTRACT S2) for the agent: what a dead main
//! process leaves behind, before its restart (L1), and stop calls (L5).
//! The sequence itself is `stopping`; it runs in a task of its own, so the
//! owner task keeps serving every other entity meanwhile.

use super::Msg;
use super::lifecycle::{Agent, Watched};
use super::stopping::{self, Target};
use ham_core::model::{EntityRef, ExitInfo, StopPolicy, Uid};
use tracing::Instrument as _;

impl Agent {
    fn target(&self, w: &Watched, main_alive: bool, policy: &StopPolicy) -> Target {
        Target {
            main: (main_alive && w.pid > 0).then_some(w.pid),
            group: w.group,
            uid: w.entity.uid.unwrap_or(0),
            mode: policy.kill_mode,
        }
    }

    fn policy_of(&self, entity: &EntityRef) -> StopPolicy {
        self.ctx
            .node
            .read_now(|s| s.entity(entity).map(|e| e.stop).unwrap_or_default())
    }

    /// L1: when the main process of `w` died and some of the entity's
    /// processes are left, stops them in the background and returns true;
    /// the recovery continues on [`Msg::LeftoversStopped`]. Returns false
    /// (recover at once) when nothing is left: the common case costs two
    /// system calls.
    pub(super) fn stop_leftovers(&mut self, w: &Watched, exit: ExitInfo) -> bool {
        let policy = self.policy_of(&w.entity);
        let target = self.target(w, false, &policy);
        if !target.anything_left(self.ctx.cgroups.as_ref()) {
            return false;
        }
        let (uid, pid) = (target.uid, w.pid);
        tracing::info!(entity = %w.entity.name, uid, pid, "main process died; stopping what it left before the recovery");
        let tx = self.tx.clone();
        let (cgroups, clock) = (self.ctx.cgroups.clone(), self.ctx.clock.clone());
        let span = tracing::info_span!("stop", entity = %w.entity.name, uid);
        tokio::spawn(
            async move {
                let report = stopping::stop(target, policy, cgroups, clock).await;
                tracing::info!(?report, "what the main process left is stopped");
                let _ = tx.send(Msg::LeftoversStopped { uid, pid, exit });
            }
            .instrument(span),
        );
        true
    }

    /// The leftovers of a dead main process are gone: recover, unless a stop
    /// call or a detach came meanwhile.
    pub(super) fn on_leftovers_stopped(&mut self, uid: Uid, pid: u32, exit: ExitInfo) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        if w.pid != pid {
            return;
        }
        self.recover_now(w, exit);
    }

    /// L5: stops the entity's processes with no DEATH recovery: the agent
    /// stops watching them first, so their exits are nobody's death.
    pub(super) fn stop_entity(&mut self, entity: EntityRef, policy: StopPolicy) {
        let Some(uid) = entity.uid else { return };
        let w = self.watched.get(&uid).cloned().unwrap_or_else(|| {
            // Not watched: the stop entry is applied again after a restart of ham, before
            // re-adoption (its commit had not reached the disk), or the entity's process was
            // never watched here. Its processes are found by their marker (E11), so that they
            // get the warning signal and not SIGKILL alone.
            let left = crate::process::identity::marked_processes(&self.ctx.agent_id)
                .remove(&uid)
                .and_then(|l| l.last().map(|(pid, _)| *pid));
            Watched {
                entity: entity.clone(),
                pid: left.unwrap_or(0),
                started: self.ctx.clock.mono(),
                child: false,
                group: left,
            }
        });
        self.forget(uid);
        let target = self.target(&w, true, &policy);
        let shared = self.shared.clone();
        let (cgroups, clock) = (self.ctx.cgroups.clone(), self.ctx.clock.clone());
        let span = tracing::info_span!("stop", entity = %entity.name, uid);
        tokio::spawn(
            async move {
                let report = stopping::stop(target, policy, cgroups.clone(), clock).await;
                if let Some(c) = &cgroups {
                    c.remove(uid);
                }
                tracing::info!(?report, "stopped");
                shared.mark_stopped(uid);
            }
            .instrument(span),
        );
    }
}
