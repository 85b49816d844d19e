//! Callers waiting on the owner task: proposals (until applied) and read barriers (until the
//! applied index reaches the leader-confirmed read index).
//!
//! Proposals are matched by request id: the id travels in the entry's envelope and only the
//! origin node keeps a waiter, so an entry applied anywhere else simply has no waiter. A caller
//! that gave up closes its reply channel; such waiters are purged on ticks.
//!
//! Every proposal has a deadline on the monotonic clock, and its answer at the deadline says
//! what this node knows (HAM-CONTRACT M5): a proposal never handed to raft (still waiting for a
//! leader) is withdrawn, so that it can never be proposed, and fails with `NoQuorum`; one that
//! was handed to raft (forwarded to a leader, or appended as leader) may still commit, so it
//! fails with `OutcomeUnknown` and is no longer tracked (a copy that commits later is applied
//! once, `dedup.rs`, and answers nobody).

use std::collections::HashMap;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::replica::ReplicaError;

/// Where a caller waits for its result.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, ReplicaError>>;

/// A read barrier in progress.
struct Read {
    reply: Reply<()>,
    /// The read index once the leader confirmed it.
    index: Option<u64>,
    /// Tick at which the ReadIndex request was last (re)issued; `None` = not yet.
    asked_at: Option<u64>,
}

/// A proposal's caller.
struct Waiter<T> {
    reply: Reply<T>,
    /// When it is answered if not applied by then.
    deadline: Instant,
    /// How many times it was handed to raft (0: never, so it cannot commit).
    handed: u32,
}

/// All outstanding waiters of one replica.
pub(crate) struct Pending<T> {
    /// Proposals by request id, resolved when their entry is applied here.
    waiters: HashMap<u64, Waiter<T>>,
    /// Log index -> request id of proposals this node appended itself, as leader.
    by_index: HashMap<u64, u64>,
    /// Proposals raft dropped (no leader known yet): proposed again once a leader is known.
    unproposed: Vec<(u64, Vec<u8>)>,
    /// Proposals handed to raft (forwarded to the leader, or appended as leader), with their
    /// envelopes: proposed again when the leader changes, as the old leadership may have lost
    /// them.
    in_flight: HashMap<u64, Vec<u8>>,
    /// Read barriers by request context.
    reads: HashMap<u64, Read>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending {
            waiters: HashMap::new(),
            by_index: HashMap::new(),
            unproposed: Vec::new(),
            in_flight: HashMap::new(),
            reads: HashMap::new(),
        }
    }
}

impl<T> Pending<T> {
    /// Registers a proposal's waiter, answered at `deadline` if not applied by then.
    pub(crate) fn add_proposal(&mut self, id: u64, reply: Reply<T>, deadline: Instant) {
        let waiter = Waiter {
            reply,
            deadline,
            handed: 0,
        };
        self.waiters.insert(id, waiter);
    }

    /// Hands the applied result to the proposal's caller, if it is still waiting here.
    pub(crate) fn complete(&mut self, id: u64, result: Result<T, ReplicaError>) {
        self.in_flight.remove(&id);
        if let Some(w) = self.waiters.remove(&id) {
            // The caller may have given up meanwhile; nothing to do then.
            let _ = w.reply.send(result);
        }
    }

    /// Keeps a proposal handed to raft until it is applied here (or its deadline passes).
    pub(crate) fn in_flight(&mut self, id: u64, data: Vec<u8>) {
        if let Some(w) = self.waiters.get_mut(&id) {
            w.handed = w.handed.saturating_add(1);
            self.in_flight.insert(id, data);
        }
    }

    /// Answers the proposals whose deadline passed with what this node knows (module docs):
    /// `NoQuorum` for those never handed to raft, withdrawn first so that they are never
    /// proposed; `OutcomeUnknown` for the others, which are no longer proposed again.
    pub(crate) fn expire(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        if due.is_empty() {
            return;
        }
        for id in due {
            let Some(w) = self.waiters.remove(&id) else {
                continue;
            };
            self.unproposed.retain(|(u, _)| *u != id);
            self.in_flight.remove(&id);
            self.by_index.retain(|_, i| *i != id);
            let why = if w.handed == 0 {
                ReplicaError::NoQuorum
            } else {
                ReplicaError::OutcomeUnknown
            };
            let _ = w.reply.send(Err(why));
        }
    }

    /// The leader changed and in-flight proposals will be proposed again: where this node
    /// appended them as leader no longer matters (another entry found there is not a loss any
    /// more).
    pub(crate) fn leader_changed(&mut self) {
        self.by_index.clear();
    }

    /// Takes the in-flight proposals whose callers still wait, to be proposed again.
    pub(crate) fn take_in_flight(&mut self) -> Vec<(u64, Vec<u8>)> {
        let waiters = &self.waiters;
        let mut out: Vec<(u64, Vec<u8>)> = self
            .in_flight
            .drain()
            .filter(|(id, _)| waiters.get(id).is_some_and(|w| !w.reply.is_closed()))
            .collect();
        // In the order they were first proposed.
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }

    /// Records where this node, as leader, appended proposal `id`.
    pub(crate) fn appended_at(&mut self, index: u64, id: u64) {
        self.by_index.insert(index, id);
    }

    /// Called for every applied entry with the request id it carries for this node (if any).
    /// A proposal this node appended at `index` that finds another entry committed there is
    /// lost: by log matching that entry can never commit. If that append was the only time the
    /// proposal was handed to raft, no other copy exists anywhere (raft never moves an entry to
    /// another index, and only this node, the origin, proposes it again), so it is provably
    /// dead and fails now with `NoQuorum`, a true EAGAIN (HAM-CONTRACT M5). If it was handed to
    /// raft before (forwarded, or appended under an earlier leadership that this node did not
    /// see end), an earlier copy may still commit at another index: keep waiting for it.
    pub(crate) fn check_index(&mut self, index: u64, request: Option<u64>) {
        if let Some(id) = self.by_index.remove(&index)
            && request != Some(id)
            && self.waiters.get(&id).is_some_and(|w| w.handed == 1)
        {
            self.complete(id, Err(ReplicaError::NoQuorum));
        }
    }

    /// A snapshot skipped the entries up to `index`: whether those proposals committed is
    /// unknown here, so they are left to their deadline (`OutcomeUnknown`).
    pub(crate) fn forget_indexes_up_to(&mut self, index: u64) {
        self.by_index.retain(|&i, _| i > index);
    }

    /// Keeps a proposal raft refused, to try again when a leader is known.
    pub(crate) fn add_unproposed(&mut self, id: u64, data: Vec<u8>) {
        self.unproposed.push((id, data));
    }

    /// Whether proposals are waiting for a leader.
    pub(crate) fn has_unproposed(&self) -> bool {
        !self.unproposed.is_empty()
    }

    /// Takes the refused proposals whose callers still wait.
    pub(crate) fn take_unproposed(&mut self) -> Vec<(u64, Vec<u8>)> {
        let waiters = &self.waiters;
        let mut out = std::mem::take(&mut self.unproposed);
        out.retain(|(id, _)| waiters.get(id).is_some_and(|w| !w.reply.is_closed()));
        out
    }

    /// Registers a read barrier; its ReadIndex request goes out with `reads_to_issue`.
    pub(crate) fn add_read(&mut self, ctx: u64, reply: Reply<()>) {
        let read = Read {
            reply,
            index: None,
            asked_at: None,
        };
        self.reads.insert(ctx, read);
    }

    /// The leader confirmed `index` for the request `ctx` (raft's ReadState).
    pub(crate) fn read_confirmed(&mut self, ctx: &[u8], index: u64) {
        let Ok(bytes) = <[u8; 8]>::try_from(ctx) else {
            return;
        };
        if let Some(read) = self.reads.get_mut(&u64::from_le_bytes(bytes)) {
            read.index.get_or_insert(index);
        }
    }

    /// Resolves the reads whose confirmed index is applied.
    pub(crate) fn resolve_reads(&mut self, applied: u64) {
        if self.reads.is_empty() {
            return;
        }
        let done: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.index.is_some_and(|i| i <= applied))
            .map(|(ctx, _)| *ctx)
            .collect();
        for ctx in done {
            if let Some(read) = self.reads.remove(&ctx) {
                let _ = read.reply.send(Ok(()));
            }
        }
    }

    /// Reads to send a ReadIndex request for now: new ones, and those still unconfirmed
    /// `every` ticks after their last request (raft drops ReadIndex silently, so ask again).
    pub(crate) fn reads_to_issue(&mut self, tick: u64, every: u64) -> Vec<u64> {
        let mut out = Vec::new();
        for (ctx, read) in &mut self.reads {
            let due = read
                .asked_at
                .is_none_or(|at| tick.saturating_sub(at) >= every);
            if read.index.is_none() && due {
                read.asked_at = Some(tick);
                out.push(*ctx);
            }
        }
        out
    }

    /// Whether nobody waits for anything.
    pub(crate) fn is_idle(&self) -> bool {
        self.waiters.is_empty()
            && self.reads.is_empty()
            && self.unproposed.is_empty()
            && self.in_flight.is_empty()
    }

    /// Whether some read barrier still waits for its read index.
    pub(crate) fn has_unconfirmed_reads(&self) -> bool {
        self.reads.values().any(|r| r.index.is_none())
    }

    /// Forgets waiters whose callers gave up.
    pub(crate) fn purge_closed(&mut self) {
        self.waiters.retain(|_, w| !w.reply.is_closed());
        let waiters = &self.waiters;
        self.by_index.retain(|_, id| waiters.contains_key(id));
        self.in_flight.retain(|id, _| waiters.contains_key(id));
        self.unproposed.retain(|(id, _)| waiters.contains_key(id));
        self.reads.retain(|_, r| !r.reply.is_closed());
    }

    /// Fails everything (shutdown). A proposal already handed to raft may still commit
    /// elsewhere: its outcome is unknown, not refused.
    pub(crate) fn fail_all(&mut self) {
        for (_, w) in self.waiters.drain() {
            let why = if w.handed == 0 {
                ReplicaError::Stopped
            } else {
                ReplicaError::OutcomeUnknown
            };
            let _ = w.reply.send(Err(why));
        }
        for (_, read) in self.reads.drain() {
            let _ = read.reply.send(Err(ReplicaError::Stopped));
        }
        self.unproposed.clear();
        self.in_flight.clear();
        self.by_index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(p: &mut Pending<u8>, id: u64) -> oneshot::Receiver<Result<u8, ReplicaError>> {
        let (tx, rx) = oneshot::channel();
        p.add_proposal(id, tx, Instant::now() + std::time::Duration::from_secs(60));
        rx
    }

    #[tokio::test]
    async fn m5_at_the_deadline_the_answer_says_whether_raft_ever_had_the_proposal() {
        let mut p = Pending::default();
        let now = Instant::now();
        let (tx, mut never) = oneshot::channel();
        p.add_proposal(1, tx, now);
        p.add_unproposed(1, b"one".to_vec());
        let (tx, mut handed) = oneshot::channel();
        p.add_proposal(2, tx, now);
        p.in_flight(2, b"two".to_vec());
        // Handed to raft, then back in the queue for want of a leader after a leader change.
        let (tx, mut requeued) = oneshot::channel();
        p.add_proposal(3, tx, now);
        p.in_flight(3, b"three".to_vec());
        assert_eq!(p.take_in_flight().len(), 2);
        p.add_unproposed(3, b"three".to_vec());
        let mut later = waiter(&mut p, 4);
        p.add_unproposed(4, b"four".to_vec());
        p.expire(now);
        assert!(matches!(never.try_recv(), Ok(Err(ReplicaError::NoQuorum))));
        assert!(matches!(
            handed.try_recv(),
            Ok(Err(ReplicaError::OutcomeUnknown))
        ));
        assert!(matches!(
            requeued.try_recv(),
            Ok(Err(ReplicaError::OutcomeUnknown))
        ));
        assert!(later.try_recv().is_err(), "not due yet");
        // Withdrawn: only the proposal still waiting is ever proposed again.
        assert_eq!(p.take_unproposed(), vec![(4, b"four".to_vec())]);
        assert!(p.take_in_flight().is_empty());
    }

    #[test]
    fn m5_a_lost_slot_fails_at_once_only_when_no_other_copy_exists() {
        let mut p = Pending::default();
        let mut twice = waiter(&mut p, 1);
        // Forwarded once, then appended by this node as the new leader.
        p.in_flight(1, b"one".to_vec());
        p.leader_changed();
        p.appended_at(10, 1);
        p.in_flight(1, b"one".to_vec());
        p.check_index(10, Some(99));
        assert!(
            twice.try_recv().is_err(),
            "the forwarded copy may still commit"
        );
    }

    #[test]
    fn a_slot_taken_by_another_entry_fails_the_proposal_unless_the_leader_changed() {
        let mut p = Pending::default();
        let mut lost = waiter(&mut p, 1);
        p.appended_at(10, 1);
        p.in_flight(1, b"one".to_vec());
        p.check_index(10, Some(99));
        assert!(matches!(lost.try_recv(), Ok(Err(ReplicaError::NoQuorum))));

        // After a leader change the proposal is proposed again: its old slot no longer counts.
        let mut kept = waiter(&mut p, 2);
        p.appended_at(11, 2);
        p.in_flight(2, b"two".to_vec());
        p.leader_changed();
        p.check_index(11, Some(98));
        assert!(kept.try_recv().is_err(), "still waiting");
        assert_eq!(p.take_in_flight(), vec![(2, b"two".to_vec())]);
        p.complete(2, Ok(7));
        assert!(matches!(kept.try_recv(), Ok(Ok(7))));
        assert!(p.take_in_flight().is_empty());
    }
}
