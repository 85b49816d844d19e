//! The one error type of the replica.

/// Why a replica operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplicaError {
    /// Not committed, and never will be: the proposal was never handed to raft (no leader or
    /// no quorum within the timeout), or it was provably lost (HAM-CONTRACT M5: EAGAIN).
    #[error("not committed: no leader or no quorum within the timeout")]
    NoQuorum,
    /// The proposal was handed to raft (forwarded to a leader, or appended as leader) but not
    /// applied here within the timeout: it may still commit, and this node stopped waiting
    /// (HAM-CONTRACT M5: ETIMEDOUT). A copy that commits later is applied once.
    #[error("the proposal was not applied within the timeout and may still commit")]
    OutcomeUnknown,
    /// The replica was shut down (or stopped after a fatal storage error).
    #[error("the replica was shut down")]
    Stopped,
    /// The log on disk is unreadable or inconsistent (the message says what and where).
    #[error("raft store is corrupt: {0}")]
    Corrupt(String),
    /// The disk holding the store is full: nothing was handed to raft (a write refused with
    /// this is not committed), or a write to the store failed for want of space.
    #[error("no space left on the device: {0}")]
    NoSpace(String),
    /// IO or database error opening or writing the store.
    #[error("raft store error: {0}")]
    Storage(String),
    /// Invalid configuration (or an invalid membership change).
    #[error("invalid replica configuration: {0}")]
    Config(String),
}
