//! Membership changes (ConfChangeV2) and their pitfalls (notes/raft-rs.md §1):
//! - only one change may be pending: refused up front when this node can tell, and a change
//!   raft silently replaced by an empty entry is reported as dropped;
//! - several changes at once go through joint consensus; the caller is answered once the
//!   configuration left the joint state;
//! - raft auto-leaves only on the leader that applied the joint entry, so any leader that finds
//!   the applied configuration joint with nothing pending proposes the leave itself;
//! - the ConfState is persisted with every snapshot, and entries after it (conf changes
//!   included) are re-applied at start.

use std::collections::HashMap;

use raft::StateRole;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
};

use super::{Driver, Reply};
use crate::replica::{Membership, MembershipChange, ReplicaError, StateMachine, envelope};

/// Callers waiting for a membership change.
#[derive(Default)]
pub(crate) struct ConfWaiters {
    /// By request id, until the change is applied here.
    by_id: HashMap<u64, Reply<Membership>>,
    /// Log index -> request id of changes this node (as leader) appended itself.
    by_index: HashMap<u64, u64>,
    /// Changes applied in joint state, answered when the leave is applied.
    leaving_joint: Vec<Reply<Membership>>,
}

impl ConfWaiters {
    /// Whether no membership change is waited for.
    pub(crate) fn is_idle(&self) -> bool {
        self.by_id.is_empty() && self.leaving_joint.is_empty()
    }

    /// A snapshot skipped the entries up to `index`; their callers are left to time out.
    pub(crate) fn forget_indexes_up_to(&mut self, index: u64) {
        self.by_index.retain(|&i, _| i > index);
    }

    /// Forgets callers that gave up.
    pub(crate) fn purge_closed(&mut self) {
        self.by_id.retain(|_, r| !r.is_closed());
        let by_id = &self.by_id;
        self.by_index.retain(|_, id| by_id.contains_key(id));
        self.leaving_joint.retain(|r| !r.is_closed());
    }

    /// Fails everything (shutdown).
    pub(crate) fn fail_all(&mut self) {
        let joint = self.leaving_joint.drain(..);
        for reply in self.by_id.drain().map(|(_, r)| r).chain(joint) {
            let _ = reply.send(Err(ReplicaError::Stopped));
        }
    }
}

fn membership(cs: &ConfState) -> Membership {
    let mut m = Membership {
        voters: cs.voters.clone(),
        learners: cs.learners.clone(),
    };
    m.voters.sort_unstable();
    m.learners.sort_unstable();
    m
}

fn is_joint(cs: &ConfState) -> bool {
    !cs.voters_outgoing.is_empty()
}

impl<S: StateMachine> Driver<S> {
    /// Proposes `changes` as one ConfChangeV2 (Auto transition).
    pub(super) fn change_membership(
        &mut self,
        changes: Vec<MembershipChange>,
        reply: Reply<Membership>,
    ) {
        let raft = &self.node.raft;
        let refuse = if changes.is_empty() {
            Some(ReplicaError::Config("no membership change given".into()))
        } else if raft.leader_id == 0 {
            Some(ReplicaError::NoQuorum)
        } else if is_joint(&self.conf_state)
            || (raft.state == StateRole::Leader && raft.pending_conf_index > self.applied)
        {
            Some(ReplicaError::Config(
                "another membership change is still in progress".into(),
            ))
        } else {
            None
        };
        if let Some(err) = refuse {
            let _ = reply.send(Err(err));
            return;
        }
        let id = self.next_request_id();
        let context = envelope::encode(self.id, id, &[]);
        let mut cc = ConfChangeV2::default();
        cc.set_transition(ConfChangeTransition::Auto);
        for change in changes {
            let (kind, node) = match change {
                MembershipChange::AddVoter(n) => (ConfChangeType::AddNode, n),
                MembershipChange::AddLearner(n) => (ConfChangeType::AddLearnerNode, n),
                MembershipChange::Remove(n) => (ConfChangeType::RemoveNode, n),
            };
            let mut single = ConfChangeSingle::default();
            single.set_change_type(kind);
            single.node_id = node;
            cc.mut_changes().push(single);
        }
        cc.context = context.clone().into();
        match self.node.propose_conf_change(context, cc) {
            Ok(()) => {
                if self.node.raft.state == StateRole::Leader {
                    let index = self.node.raft.raft_log.last_index();
                    self.conf_waiters.by_index.insert(index, id);
                }
                self.conf_waiters.by_id.insert(id, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(ReplicaError::Config(format!("raft refused: {e}"))));
            }
        }
    }

    /// Called for every applied entry: a change this leader appended but whose index now holds
    /// something else was dropped by raft (another change pending) or overwritten.
    pub(super) fn check_conf_index(&mut self, index: u64, request: Option<u64>) {
        if let Some(id) = self.conf_waiters.by_index.remove(&index)
            && request != Some(id)
            && let Some(reply) = self.conf_waiters.by_id.remove(&id)
        {
            let msg =
                "membership change dropped by raft (another change pending, or leadership lost)";
            let _ = reply.send(Err(ReplicaError::Config(msg.into())));
        }
    }

    /// A conf change entry was applied with `result`; answer its caller (if it came from here)
    /// and whoever waits for the joint state to end.
    pub(super) fn conf_change_applied(
        &mut self,
        request: Option<u64>,
        result: Result<&ConfState, String>,
    ) {
        let waiter = request.and_then(|id| self.conf_waiters.by_id.remove(&id));
        match (waiter, result) {
            (Some(reply), Err(msg)) => {
                let _ = reply.send(Err(ReplicaError::Config(msg)));
            }
            (Some(reply), Ok(cs)) if is_joint(cs) => self.conf_waiters.leaving_joint.push(reply),
            (Some(reply), Ok(cs)) => {
                let _ = reply.send(Ok(membership(cs)));
            }
            (None, _) => {}
        }
        if !is_joint(&self.conf_state) {
            for reply in self.conf_waiters.leaving_joint.drain(..) {
                let _ = reply.send(Ok(membership(&self.conf_state)));
            }
        }
    }

    /// A leader that finds the applied configuration joint, with no change pending, leaves it
    /// (raft-rs only does so on the leader that applied the joint entry).
    pub(super) fn maybe_leave_joint(&mut self) {
        let raft = &self.node.raft;
        if raft.state == StateRole::Leader
            && is_joint(&self.conf_state)
            && raft.pending_conf_index <= self.applied
        {
            tracing::info!("proposing to leave the joint configuration");
            if let Err(e) = self
                .node
                .propose_conf_change(Vec::new(), ConfChangeV2::default())
            {
                tracing::warn!(error = %e, "cannot propose leaving joint state");
            }
        }
    }

    /// The applied configuration, sorted.
    pub(super) fn membership(&self) -> Membership {
        membership(&self.conf_state)
    }
}
