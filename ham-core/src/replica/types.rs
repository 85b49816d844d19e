//! Plain data of the public API: configuration, status, membership.

use std::path::PathBuf;
use std::time::Duration;

use super::ReplicaError;

/// Settings of one replica.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// This node's raft id (non-zero, never reused after its data was wiped).
    pub id: u64,
    /// Directory holding `raft.redb` (created if missing).
    pub data_dir: PathBuf,
    /// Initial voters, used only when the store is fresh; every initial node must get the same
    /// list. Empty = a node that will join an existing cluster: it waits for the leader's
    /// snapshot after being added with [`ReplicaHandle::change_membership`](super::ReplicaHandle::change_membership).
    pub voters: Vec<u64>,
    /// Length of one raft tick.
    pub tick: Duration,
    /// Ticks without a leader before an election.
    pub election_ticks: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_ticks: usize,
    /// Applied entries between two snapshots.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot (so slow followers avoid a snapshot transfer).
    pub keep_entries_after_snapshot: u64,
    /// Upper bound for `propose` and `read_barrier`.
    pub propose_timeout: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            id: 1,
            data_dir: PathBuf::from("."),
            voters: vec![1],
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            snapshot_every: 5000,
            keep_entries_after_snapshot: 1000,
            propose_timeout: Duration::from_secs(5),
        }
    }
}

impl ReplicaConfig {
    pub(super) fn validate(&self) -> Result<(), ReplicaError> {
        let bad = |m: &str| Err(ReplicaError::Config(m.to_owned()));
        if self.id == 0 {
            return bad("id must not be 0");
        }
        if self.voters.contains(&0) {
            return bad("voter ids must not be 0");
        }
        let mut unique = self.voters.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != self.voters.len() {
            return bad("voter ids must be distinct");
        }
        if self.tick.is_zero() || self.propose_timeout.is_zero() {
            return bad("tick and propose_timeout must be positive");
        }
        if self.heartbeat_ticks == 0 || self.election_ticks <= self.heartbeat_ticks {
            return bad("need 0 < heartbeat_ticks < election_ticks");
        }
        if self.snapshot_every == 0 {
            return bad("snapshot_every must be positive");
        }
        Ok(())
    }
}

/// One change of the cluster's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Add a voter, or promote a learner (add nodes as learners first, promote once caught up).
    AddVoter(u64),
    /// Add a learner, or demote a voter (demote a voter before removing it).
    AddLearner(u64),
    /// Remove a voter or a learner. Never reuse the id of a removed node whose disk was wiped.
    Remove(u64),
}

/// Voters and learners of an applied configuration (sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Voting members.
    pub voters: Vec<u64>,
    /// Non-voting members that receive the log.
    pub learners: Vec<u64>,
}

/// Raft role of this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts proposals and replicates the log.
    Leader,
    /// Follows a leader (or waits for one).
    Follower,
    /// Campaigning for votes.
    Candidate,
    /// Checking whether it could win before campaigning (pre-vote).
    PreCandidate,
}

/// A cheap copy of the replica's state, kept current by the owner task.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    /// This node's id.
    pub id: u64,
    /// Current leader (0 = none known).
    pub leader_id: u64,
    /// Current term.
    pub term: u64,
    /// This node's role.
    pub role: Role,
    /// Commit index.
    pub commit: u64,
    /// Index of the last entry in this node's log (committed or not).
    pub last_index: u64,
    /// Index of the last entry applied to the state machine.
    pub applied: u64,
    /// How often a new leader became known since start.
    pub leader_changes: u64,
    /// Voters of the applied configuration.
    pub voters: Vec<u64>,
    /// Learners of the applied configuration.
    pub learners: Vec<u64>,
}
