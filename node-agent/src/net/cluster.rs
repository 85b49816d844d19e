//! Reaching other nodes: their addresses come from the replicated node table,
//! channels from the transport (TLS when configured). A node that is unknown
//! is EHOSTUNREACH; one that is known but cannot be reached is EBADF
//! (HAM-CONTRACT N6).

use super::transport::PeerTransport;
use crate::node::Node;
use crate::status::from_status;
use ham_core::model::{Errno, HamError, NodeId, Result};
use ham_proto::ham::raft::v1::peer_client::PeerClient;
use ham_proto::ham::v1::ham_client::HamClient;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;

/// How long a call to another node may take before it counts as unreachable.
pub const PEER_CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// This node's view of the others.
#[derive(Debug, Clone)]
pub struct Cluster {
    node: Node,
    transport: Arc<PeerTransport>,
}

impl Cluster {
    /// Over a node and its transport.
    pub fn new(node: Node, transport: Arc<PeerTransport>) -> Cluster {
        Cluster { node, transport }
    }

    /// The node this is.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The transport (to learn peers' addresses).
    pub fn transport(&self) -> &Arc<PeerTransport> {
        &self.transport
    }

    /// A node's address from the state.
    pub fn address_of(&self, id: NodeId) -> Result<String> {
        self.node
            .read_now(|s| s.nodes.get(&id).map(|m| m.address.clone()))
            .ok_or_else(|| HamError::new(Errno::Ehostunreach, format!("no node with id {id}")))
    }

    fn channel_to(&self, id: NodeId) -> Result<Channel> {
        let address = self.address_of(id)?;
        self.transport.channel(&address).map_err(|e| {
            HamError::new(
                Errno::Ebadf,
                format!("node {id} at {address} cannot be reached: {e}"),
            )
        })
    }

    /// The public API of another node.
    pub fn ham_of(&self, id: NodeId) -> Result<HamClient<Channel>> {
        Ok(HamClient::new(self.channel_to(id)?).max_decoding_message_size(64 << 20))
    }

    /// The node-to-node service of another node.
    pub fn peer_of(&self, id: NodeId) -> Result<PeerClient<Channel>> {
        Ok(PeerClient::new(self.channel_to(id)?))
    }

    /// The current leader, or EAGAIN when there is none.
    pub fn leader(&self) -> Result<NodeId> {
        match self.node.status().leader_id {
            0 => Err(HamError::new(
                Errno::Eagain,
                "there is no leader now; try again",
            )),
            id => Ok(id),
        }
    }
}

/// Runs a call to another node with the peer timeout; its failure becomes
/// the errno the remote node answered, or EBADF when it did not answer.
pub async fn call<T>(
    node: NodeId,
    fut: impl std::future::Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T> {
    match tokio::time::timeout(PEER_CALL_TIMEOUT, fut).await {
        Ok(Ok(reply)) => Ok(reply.into_inner()),
        Ok(Err(status)) => Err(from_status(status, node)),
        Err(_) => Err(HamError::new(
            Errno::Ebadf,
            format!("node {node} did not answer in time"),
        )),
    }
}
