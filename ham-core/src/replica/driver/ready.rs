//! The Ready loop, in the order raft-rs requires (notes/raft-rs.md §1):
//! send messages; install a snapshot; apply committed entries; persist entries and hard state
//! atomically (fsync when `must_sync`); send persisted messages; advance; persist the new commit
//! index, send and apply what the LightReady holds; advance_apply. Plus applying entries to the
//! state machine.

use std::sync::Arc;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeV2, Entry, EntryType, MessageType, Snapshot,
};

use super::{Driver, lock_write};
use crate::replica::storage::RedbStorage;
use crate::replica::{ApplyContext, ReplicaError, StateMachine, envelope, snapdata};

/// How long a Ready that cannot be persisted for want of space is retried before the replica
/// gives up (and `ham` exits, for its supervisor to restart it).
const NO_SPACE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);
/// Pause between those retries.
const NO_SPACE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `write` until it succeeds. A Ready raft handed over must reach the disk before it is
/// advanced (its messages promise it), so it is never dropped: a write that fails for want of
/// space (the store already released its reserve) is retried each second for a while, this
/// task waiting (proposals are refused meanwhile by the handles, local reads go on); any other
/// error, or no space for too long, is fatal.
fn persist_until_done(
    store: &mut RedbStorage,
    mut write: impl FnMut(&mut RedbStorage) -> Result<(), ReplicaError>,
) -> Result<(), ReplicaError> {
    let start = std::time::Instant::now();
    loop {
        match write(store) {
            Err(ReplicaError::NoSpace(e)) if start.elapsed() < NO_SPACE_PATIENCE => {
                tracing::warn!(error = %e, "cannot persist raft state, no space left; retrying");
                let wait = || std::thread::sleep(NO_SPACE_RETRY);
                match tokio::runtime::Handle::try_current() {
                    Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                        tokio::task::block_in_place(wait)
                    }
                    _ => wait(),
                }
            }
            other => return other,
        }
    }
}

impl<S: StateMachine> Driver<S> {
    /// Handles every pending Ready. An error is fatal: the disk no longer matches raft.
    pub(super) fn process_ready(&mut self) -> Result<(), ReplicaError> {
        loop {
            while self.node.has_ready() {
                self.one_ready()?;
            }
            if !std::mem::take(&mut self.repropose_due) {
                return Ok(());
            }
            self.repropose_in_flight();
        }
    }

    fn one_ready(&mut self) -> Result<(), ReplicaError> {
        let mut rd = self.node.ready();
        if let Some(ss) = rd.ss()
            && ss.leader_id != 0
            && ss.leader_id != self.last_leader
        {
            self.last_leader = ss.leader_id;
            self.leader_changes += 1;
            // Not here: raft-rs forbids new proposals between `ready` and `advance`.
            self.repropose_due = true;
            self.pending.leader_changed();
        }
        // Only a leader has messages here; it may replicate while its own fsync runs.
        self.send(rd.take_messages());
        // A follower's proposals and read requests forwarded to the leader promise nothing about
        // its own log: they leave now, not after this Ready's fsync (raft-rs holds back every
        // message of a non-leader until then).
        let (forwarded, persisted): (Vec<_>, Vec<_>) =
            rd.take_persisted_messages().into_iter().partition(|m| {
                matches!(
                    m.get_msg_type(),
                    MessageType::MsgPropose | MessageType::MsgReadIndex
                )
            });
        self.send(forwarded);
        let snapshot = (!rd.snapshot().is_empty()).then(|| rd.snapshot().clone());
        if let Some(s) = &snapshot {
            self.install_snapshot(s)?;
        }
        for rs in rd.take_read_states() {
            self.pending.read_confirmed(&rs.request_ctx, rs.index);
        }
        // Committed entries are <= min(committed, persisted): safe to apply before step 5.
        self.apply(rd.take_committed_entries());
        let must_sync = rd.must_sync();
        persist_until_done(self.node.mut_store(), |store| {
            store.persist_ready(snapshot.as_ref(), rd.entries(), rd.hs(), must_sync)
        })?;
        // Votes and append responses: only once the state they promise is on disk.
        self.send(persisted);
        let mut light = self.node.advance(rd);
        // Persist the commit index before applying the entries it covers.
        if let Some(commit) = light.commit_index() {
            persist_until_done(self.node.mut_store(), |store| store.persist_commit(commit))?;
        }
        self.send(light.take_messages());
        self.apply(light.take_committed_entries());
        self.node.advance_apply();
        self.pending.resolve_reads(self.applied);
        Ok(())
    }

    /// A leader's snapshot replaces the whole state; storage persists it with this Ready.
    fn install_snapshot(&mut self, s: &Snapshot) -> Result<(), ReplicaError> {
        let meta = s.get_metadata();
        let bad = |e: String| {
            ReplicaError::Corrupt(format!(
                "snapshot at index {} from the leader cannot be restored: {e}",
                meta.index
            ))
        };
        let (applied, state) = snapdata::unwrap(&s.data).map_err(bad)?;
        lock_write(&self.sm).restore(state).map_err(bad)?;
        self.applied_requests = applied;
        tracing::info!(index = meta.index, "installed a snapshot");
        self.conf_state = meta.get_conf_state().clone();
        self.pending.forget_indexes_up_to(meta.index);
        self.conf_waiters.forget_indexes_up_to(meta.index);
        self.applied = meta.index;
        self.last_snapshot = meta.index;
        Ok(())
    }

    /// Applies committed entries. Empty entries (a new leader's no-op) and conf changes do not
    /// reach the state machine; undecodable entries are skipped on every node alike.
    fn apply(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        let sm = Arc::clone(&self.sm);
        let mut sm = lock_write(&sm);
        for e in entries {
            self.applied = e.index;
            if e.get_entry_type() != EntryType::EntryNormal {
                self.pending.check_index(e.index, None);
                self.apply_conf_change(&e);
                continue;
            }
            self.check_conf_index(e.index, None);
            if e.data.is_empty() {
                // A new leader's no-op entry.
                self.pending.check_index(e.index, None);
                continue;
            }
            let env = match envelope::decode(&e.data) {
                Ok(env) => env,
                Err(err) => {
                    tracing::error!(index = e.index, error = %err, "skipping entry");
                    self.pending.check_index(e.index, None);
                    continue;
                }
            };
            let mine = (env.origin == self.id).then_some(env.request);
            self.pending.check_index(e.index, mine);
            if !self.applied_requests.record(env.origin, env.request) {
                // A copy proposed again after a leader change; the first one was applied.
                tracing::debug!(
                    index = e.index,
                    origin = env.origin,
                    "skipping a duplicate proposal"
                );
                continue;
            }
            let ctx = ApplyContext {
                index: e.index,
                term: e.term,
                replaying: e.index <= self.replay_until,
            };
            let out = sm.apply(ctx, env.command);
            if let Some(id) = mine {
                self.pending.complete(id, Ok(out));
            }
        }
    }

    /// Applies a conf change entry to raft (never to the state machine) and answers its caller.
    fn apply_conf_change(&mut self, e: &Entry) {
        let env = envelope::decode(&e.context).ok();
        if let Some(env) = &env {
            // Not proposed twice, but recorded so that the origin's ids stay contiguous.
            self.applied_requests.record(env.origin, env.request);
        }
        let request = env
            .filter(|env| env.origin == self.id)
            .map(|env| env.request);
        self.check_conf_index(e.index, request);
        let cc = if e.get_entry_type() == EntryType::EntryConfChangeV2 {
            ConfChangeV2::parse_from_bytes(&e.data)
        } else {
            ConfChange::parse_from_bytes(&e.data).map(|v1| {
                let mut single = ConfChangeSingle::default();
                single.set_change_type(v1.get_change_type());
                single.node_id = v1.node_id;
                let mut v2 = ConfChangeV2::default();
                v2.mut_changes().push(single);
                v2
            })
        };
        let result = match cc {
            Err(err) => Err(format!("undecodable conf change at {}: {err}", e.index)),
            Ok(cc) => self
                .node
                .apply_conf_change(&cc)
                .map_err(|err| err.to_string()),
        };
        match &result {
            Ok(cs) => {
                tracing::info!(index = e.index, conf = ?cs, "membership changed");
                self.conf_state = cs.clone();
            }
            Err(err) => tracing::warn!(index = e.index, error = %err, "conf change"),
        }
        self.conf_change_applied(request, result.as_ref().map_err(Clone::clone));
    }
}
