//! The one error type of the replica.

/// Why a replica operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplicaError {
    /// No leader or no quorum within the timeout.
    #[error("no leader or no quorum within the timeout")]
    NoQuorum,
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
