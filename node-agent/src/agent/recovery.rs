//! Deaths and recovery (HAM-CONTRACT D3, E7, K2-K4, A3, A11-A13, S3): the
//! decision is `ham_core::model::decide_death`, made from the local replica;
//! this file only carries it out (restart first, then the plan) and hands
//! the outcome to `outcomes`.

use super::lifecycle::{Agent, Watched};
use super::outcomes::commit;
use super::pacing::PacingView;
use super::runner;
use crate::node::now_ns;
use crate::process::daemon;
use ham_core::model::{
    Command, DeathClock, DeathDecision, EntityRef, Event, ExitInfo, HeartbeatMiss, Pacing, Plan,
    RestartStep, TimeNs, Uid, decide_death, plan_for_event,
};
use std::collections::HashSet;

impl Agent {
    pub(super) fn on_death(&mut self, uid: Uid, pid: u32, exit: ExitInfo) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        if w.pid != pid {
            return; // an older process of this entity
        }
        if w.child
            && exit == ExitInfo::Exited(0)
            && self.ctx.clock.mono() - w.started < daemon::DAEMONIZE_WINDOW
            && self.follow_daemon(&w)
        {
            return;
        }
        if self.blocking.contains_key(&uid) {
            self.queued.entry(uid).or_default().push_back((pid, exit));
            return;
        }
        self.recover(w, exit);
    }

    pub(super) fn on_connection_lost(&mut self, uid: Uid) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        tracing::warn!(entity = %w.entity.name, "heartbeat connection closed without a detach");
        // Its process may still run: L1's stop of what is left is for a main
        // process that died, so this death goes straight to its recovery.
        self.recover_now(w, ExitInfo::Unknown);
    }

    /// A death: first what the dead main process left is stopped (L1,
    /// `stops`), at once when nothing is left; then the recovery.
    pub(super) fn recover(&mut self, w: Watched, exit: ExitInfo) {
        if self.stop_leftovers(&w, exit) {
            return;
        }
        self.recover_now(w, exit);
    }

    /// A death with nothing of the entity left running: decide from the
    /// local replica, restart first, run the rest, propose the outcome
    /// (HAM-CONTRACT D3, A3, K4, E7).
    pub(super) fn recover_now(&mut self, w: Watched, exit: ExitInfo) {
        let uid = w.entity.uid.unwrap_or(0);
        let died_ns = now_ns();
        let mono_now = self.pacer.ns(self.ctx.clock.mono());
        let up_since_ns = self.pacer.ns(w.started);
        let pacer = &self.pacer;
        let decision = self.ctx.node.read_now(|s| {
            let history = pacer.history(s.entity(&w.entity)?, mono_now, died_ns);
            let clock = DeathClock {
                now_ns: mono_now,
                up_since_ns,
                history: &history,
            };
            decide_death(s, &w.entity, exit, clock)
        });
        let Ok(decision) = decision else {
            self.forget(uid);
            return;
        };
        self.pacer.keep(uid, decision.history.clone());
        // L4: past the burst the restart (and the rest of the recovery) waits.
        if let Some(RestartStep {
            pacing: Pacing::After(delay_ns),
            ..
        }) = decision.restart
        {
            self.defer_recovery(w, exit, died_ns, decision, delay_ns);
            return;
        }
        self.shared.set_pacing(uid, PacingView::default());
        tracing::info!(entity = %w.entity.name, uid, pid = w.pid, ?exit, "died");
        self.carry_out(w, died_ns, decision);
    }

    /// Carries a death's decision out: restart first, then the plan, then
    /// the outcome (at once, or when a paced restart's delay ends).
    pub(super) fn carry_out(&mut self, w: Watched, died_ns: TimeNs, decision: DeathDecision) {
        let uid = w.entity.uid.unwrap_or(0);
        let mut restarted = None;
        if let Some(r) = &decision.restart {
            let at = now_ns();
            match self.restart(&w, r) {
                Ok(pid) => restarted = Some((i64::from(pid), at)),
                Err(why) => {
                    tracing::warn!(entity = %w.entity.name, uid, action = %r.step.path, error = %why, "restart failed");
                    let ctx = self.ctx.clone();
                    let (subject, fail, path, options) = (
                        w.entity.clone(),
                        r.step.action.fail.clone(),
                        r.step.path.clone(),
                        r.step.options.clone(),
                    );
                    tokio::spawn(async move {
                        runner::run_fail_list(&ctx, &path, &subject, &options, &fail).await
                    });
                }
            }
        }
        let after = decision.after(restarted.is_some()).clone();
        if !after.stays {
            self.forget(uid);
        } else if restarted.is_none()
            && let Some(m) = self.watched.get_mut(&uid)
        {
            m.pid = 0;
        }
        let outcome = decision.outcome(died_ns, restarted);
        self.propose_outcome(&w.entity, outcome, after.changes_next_plan);
        if let Some(after_restart) = after.restart_plan {
            // K4: RESTART triggers after the restart succeeded; its actions run with the death's.
            self.run_plan(after_restart, HashSet::new());
        }
        self.run_plan(decision.plan, after.broken.into_iter().collect());
    }

    /// Starts the restart line; the new process replaces the old one in the table.
    fn restart(&mut self, w: &Watched, r: &RestartStep) -> Result<u32, String> {
        let argv = r.argv.clone()?;
        let pid = self
            .spawn_child(&w.entity, &argv, r.instance, r.heartbeat, &r.step.options)
            .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
        tracing::info!(entity = %w.entity.name, uid = w.entity.uid, pid, instance = r.instance, "restarted");
        Ok(pid)
    }

    pub(super) fn on_missed(&mut self, entity: EntityRef, miss: HeartbeatMiss) {
        tracing::warn!(entity = %entity.name, ?miss, "missed heartbeats");
        let event = match miss {
            HeartbeatMiss::Low => Event::HbeatMissedLow,
            HeartbeatMiss::High => Event::HbeatMissedHigh,
        };
        if let Ok(plan) = self
            .ctx
            .node
            .read_now(|s| plan_for_event(s, &entity, event))
        {
            self.run_plan(plan, HashSet::new());
        }
    }

    /// Runs a plan's executors in the background and proposes their results.
    pub(super) fn run_plan(&self, plan: Plan, broken: HashSet<Uid>) {
        if plan.executors.is_empty() {
            return;
        }
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let node = ctx.node.clone();
            let results =
                runner::run_executors(ctx, plan.entity.clone(), plan.executors, broken).await;
            if !results.is_empty() {
                commit(&node, Command::ActionsRan { results }, "action results").await;
            }
        });
    }
}
