//! Paced restarts (HAM-CONTRACT L4): the rule is `ham_core::model::next_restart`,
//! applied inside `decide_death`; this file keeps each entity's history on
//! the agent's monotonic clock and carries out a paced death when its delay
//! ends, on a timer that detach and stop cancel.
//!
//! Where the history lives: here, in memory, because deaths are decided
//! locally (D3) and a crash loop dies faster than its outcomes commit. Every
//! committed outcome also records the death in the replicated entity (same
//! rule, wall-clock times), and an agent with no history of an entity (it was
//! started again) seeds it from there, so a crash loop stays paced across a
//! restart of `ham`.

use super::Msg;
use super::lifecycle::{Agent, Watched};
use ham_core::model::{DeathDecision, Entity, ExitInfo, PacingHistory, TimeNs, Uid};
use std::collections::HashMap;
use tokio::time::Instant;

/// What `.info` shows of an entity's pacing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacingView {
    /// The delay the latest restart waited (or waits); 0 when it was immediate.
    pub delay_ns: u64,
    /// When the pending restart runs (wall clock, ns); 0 when none is pending.
    pub next_restart_ns: TimeNs,
}

/// A death whose restart waits for its delay.
#[derive(Debug)]
struct Pending {
    seq: u64,
    timer: tokio::task::JoinHandle<()>,
    watched: Watched,
    died_ns: TimeNs,
    decision: Box<DeathDecision>,
}

/// The agent's pacing state.
#[derive(Debug)]
pub(super) struct Pacer {
    /// Histories count in ns from here, on the monotonic clock.
    epoch: Instant,
    histories: HashMap<Uid, PacingHistory>,
    pending: HashMap<Uid, Pending>,
    seq: u64,
}

impl Pacer {
    pub(super) fn new(epoch: Instant) -> Pacer {
        Pacer {
            epoch,
            histories: HashMap::new(),
            pending: HashMap::new(),
            seq: 0,
        }
    }

    /// A monotonic instant as ns since the epoch (instants before it count as 0).
    pub(super) fn ns(&self, at: Instant) -> TimeNs {
        i64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(i64::MAX)
    }

    /// The entity's history on this clock: the agent's own, else the
    /// replicated record moved from wall-clock times to monotonic ones.
    pub(super) fn history(&self, e: &Entity, mono_now: TimeNs, wall_now: TimeNs) -> PacingHistory {
        if let Some(h) = self.histories.get(&e.uid) {
            return h.clone();
        }
        PacingHistory {
            deaths: e
                .deaths
                .deaths
                .iter()
                .map(|&t| mono_now.saturating_sub(wall_now.saturating_sub(t)))
                .collect(),
            delay_ns: e.deaths.delay_ns,
        }
    }

    pub(super) fn keep(&mut self, uid: Uid, history: PacingHistory) {
        self.histories.insert(uid, history);
    }

    /// Forgets an entity; a pending restart is cancelled.
    pub(super) fn forget(&mut self, uid: Uid) {
        self.histories.remove(&uid);
        if let Some(p) = self.pending.remove(&uid) {
            p.timer.abort();
        }
    }
}

impl Agent {
    /// Carries the death out after `delay_ns`: the restart first, then the
    /// plan, exactly as an immediate one but later. Until then the entity has
    /// no process and no heartbeat to miss.
    pub(super) fn defer_recovery(
        &mut self,
        w: Watched,
        exit: ExitInfo,
        died_ns: TimeNs,
        decision: DeathDecision,
        delay_ns: u64,
    ) {
        let uid = w.entity.uid.unwrap_or(0);
        if let Some(m) = self.watched.get_mut(&uid) {
            m.pid = 0;
        }
        self.ctx.heartbeats.remove(uid);
        let wait = std::time::Duration::from_nanos(delay_ns);
        let next = self.ctx.clock.wall_ns().saturating_add_unsigned(delay_ns);
        tracing::info!(entity = %w.entity.name, uid, pid = w.pid, ?exit, delay_ms = delay_ns / 1_000_000, "died; restart paced");
        self.shared.set_pacing(
            uid,
            PacingView {
                delay_ns,
                next_restart_ns: next,
            },
        );
        self.pacer.seq += 1;
        let seq = self.pacer.seq;
        let tx = self.tx.clone();
        let deadline = self.ctx.clock.mono() + wait;
        let timer = tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            let _ = tx.send(Msg::PacedRestart { uid, seq });
        });
        let pending = Pending {
            seq,
            timer,
            watched: w,
            died_ns,
            decision: Box::new(decision),
        };
        if let Some(old) = self.pacer.pending.insert(uid, pending) {
            old.timer.abort();
        }
    }

    /// A paced restart's delay ended.
    pub(super) fn on_paced_restart(&mut self, uid: Uid, seq: u64) {
        if self.pacer.pending.get(&uid).is_none_or(|p| p.seq != seq) {
            return; // cancelled, or replaced by a later death
        }
        let Some(p) = self.pacer.pending.remove(&uid) else {
            return;
        };
        self.shared.set_pacing(
            uid,
            PacingView {
                delay_ns: p.decision.history.delay_ns,
                next_restart_ns: 0,
            },
        );
        self.carry_out(p.watched, p.died_ns, *p.decision);
    }
}
