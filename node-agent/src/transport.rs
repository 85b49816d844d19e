//! Carrying Raft messages to other nodes.
//!
//! A one-node cluster has no peers, so [`NoPeers`] refuses to send and says so
//! in the log; the cluster transport over `ham.raft.v1` implements the same
//! [`Transport`] trait.

use ham_core::replica::Transport;

/// The transport of a node with no peers.
#[derive(Debug, Default)]
pub struct NoPeers;

impl Transport for NoPeers {
    fn send(&self, to: u64, _message: Vec<u8>) {
        tracing::warn!(
            to,
            "raft message for an unknown peer dropped (one-node cluster)"
        );
    }
}
