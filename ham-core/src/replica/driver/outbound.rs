//! What leaves the owner task: raft messages to the transport (with the bookkeeping for
//! snapshots nobody reports on) and the published status.

use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};
use raft::{ProgressState, SnapshotStatus};

use super::{Driver, role};
use crate::replica::{Membership, ReplicaStatus, StateMachine};

impl<S: StateMachine> Driver<S> {
    /// A snapshot nobody reported on leaves its peer paused forever; after a generous delay,
    /// report it failed so raft probes the peer again (and resends if still needed).
    pub(super) fn expire_snapshots(&mut self) {
        let (now, limit) = (self.ticks, self.election_ticks * 4);
        let node = &mut self.node;
        self.snapshots_in_flight.retain(|&peer, &mut sent| {
            if now - sent < limit {
                return true;
            }
            let paused = node
                .raft
                .prs()
                .get(peer)
                .is_some_and(|p| p.state == ProgressState::Snapshot);
            if paused {
                node.report_snapshot(peer, SnapshotStatus::Failure);
            }
            false
        });
    }

    /// Encodes and hands messages to the transport.
    pub(super) fn send(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            if m.get_msg_type() == MessageType::MsgSnapshot {
                self.snapshots_in_flight.insert(m.to, self.ticks);
            }
            match m.write_to_bytes() {
                Ok(bytes) => self.transport.send(m.to, bytes),
                Err(e) => tracing::error!(error = %e, "cannot encode a raft message"),
            }
        }
    }

    pub(super) fn publish_status(&mut self) {
        let Membership { voters, learners } = self.membership();
        let raft = &self.node.raft;
        let next = ReplicaStatus {
            id: self.id,
            leader_id: raft.leader_id,
            term: raft.term,
            role: role(raft.state),
            commit: raft.raft_log.committed,
            last_index: raft.raft_log.last_index(),
            applied: self.applied,
            leader_changes: self.leader_changes,
            voters,
            learners,
        };
        self.status.send_if_modified(|cur| {
            let changed = cur.leader_id != next.leader_id
                || cur.term != next.term
                || cur.role != next.role
                || cur.commit != next.commit
                || cur.last_index != next.last_index
                || cur.applied != next.applied
                || cur.voters != next.voters
                || cur.learners != next.learners;
            *cur = next;
            changed
        });
    }
}
