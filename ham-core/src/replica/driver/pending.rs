//! Callers waiting on the owner task: proposals (until applied) and read barriers (until the
//! applied index reaches the leader-confirmed read index).
//!
//! Proposals are matched by request id: the id travels in the entry's envelope and only the
//! origin node keeps a waiter, so an entry applied anywhere else simply has no waiter. A caller
//! that gave up (timeout) closes its reply channel; such waiters are purged on ticks.

use std::collections::HashMap;

use tokio::sync::oneshot;

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

/// All outstanding waiters of one replica.
pub(crate) struct Pending<T> {
    /// Proposals by request id, resolved when their entry is applied here.
    waiters: HashMap<u64, Reply<T>>,
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
    /// Registers a proposal's waiter.
    pub(crate) fn add_proposal(&mut self, id: u64, reply: Reply<T>) {
        self.waiters.insert(id, reply);
    }

    /// Hands the applied result to the proposal's caller, if it is still waiting here.
    pub(crate) fn complete(&mut self, id: u64, result: Result<T, ReplicaError>) {
        self.in_flight.remove(&id);
        if let Some(reply) = self.waiters.remove(&id) {
            // The caller may have timed out meanwhile; nothing to do then.
            let _ = reply.send(result);
        }
    }

    /// Keeps a proposal handed to raft until it is applied here.
    pub(crate) fn in_flight(&mut self, id: u64, data: Vec<u8>) {
        if self.waiters.contains_key(&id) {
            self.in_flight.insert(id, data);
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
            .filter(|(id, _)| waiters.get(id).is_some_and(|r| !r.is_closed()))
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
    /// A proposal this node appended at `index` that finds another entry there was lost with a
    /// leader change: log matching means it can never commit, so fail it now instead of
    /// letting the caller wait for the timeout.
    pub(crate) fn check_index(&mut self, index: u64, request: Option<u64>) {
        if let Some(id) = self.by_index.remove(&index)
            && request != Some(id)
        {
            self.complete(id, Err(ReplicaError::NoQuorum));
        }
    }

    /// A snapshot skipped the entries up to `index`: whether those proposals committed is
    /// unknown here, so they are left to time out.
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
        out.retain(|(id, _)| waiters.get(id).is_some_and(|r| !r.is_closed()));
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
        self.waiters.retain(|_, r| !r.is_closed());
        let waiters = &self.waiters;
        self.by_index.retain(|_, id| waiters.contains_key(id));
        self.in_flight.retain(|id, _| waiters.contains_key(id));
        self.reads.retain(|_, r| !r.reply.is_closed());
    }

    /// Fails everything (shutdown).
    pub(crate) fn fail_all(&mut self) {
        for (_, reply) in self.waiters.drain() {
            let _ = reply.send(Err(ReplicaError::Stopped));
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
        p.add_proposal(id, tx);
        rx
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
