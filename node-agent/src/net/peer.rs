//! The node-to-node service (`ham.raft.v1.Peer`): notifications for this
//! node's processes sent by other nodes' agents (D4), and lease renewals (D5).
//! With TLS, each is taken only from the node the caller's certificate names
//! (P5, `sender`).

use super::leases::Leases;
use super::sender::check_request;
use crate::agent::AgentHandle;
use crate::node::Node;
use crate::process::signal;
use ham_proto::ham::raft::v1 as rpb;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Serves other nodes.
#[derive(Debug, Clone)]
pub struct PeerService {
    node: Node,
    agent: AgentHandle,
    leases: Arc<Leases>,
}

impl PeerService {
    /// The service for this node.
    pub fn new(node: Node, agent: AgentHandle, leases: Arc<Leases>) -> PeerService {
        PeerService {
            node,
            agent,
            leases,
        }
    }

    /// The tonic server.
    pub fn into_server(self) -> rpb::peer_server::PeerServer<PeerService> {
        rpb::peer_server::PeerServer::new(self)
    }
}

/// Delivers one notification to a process of this node.
pub fn deliver(agent: &AgentHandle, req: &rpb::NotifyRequest) -> Result<(), String> {
    match &req.what {
        Some(rpb::notify_request::What::Signal(s)) => signal::queue(req.pid, s.signum, s.value)
            .map_err(|e| format!("signal {} to pid {}: {e}", s.signum, req.pid)),
        Some(rpb::notify_request::What::Pulse(p)) => {
            agent.pulses().send(req.pid, p.chid, (p.code, p.value))
        }
        None => Err("empty notification".into()),
    }
}

#[tonic::async_trait]
impl rpb::peer_server::Peer for PeerService {
    async fn notify(
        &self,
        req: Request<rpb::NotifyRequest>,
    ) -> Result<Response<rpb::NotifyReply>, Status> {
        check_request(&req, "Peer.Notify", req.get_ref().from)?;
        deliver(&self.agent, req.get_ref()).map_err(Status::not_found)?;
        Ok(Response::new(rpb::NotifyReply {}))
    }

    async fn renew_lease(
        &self,
        req: Request<rpb::LeaseRequest>,
    ) -> Result<Response<rpb::LeaseReply>, Status> {
        check_request(&req, "Peer.RenewLease", req.get_ref().node_id)?;
        let status = self.node.status();
        if status.leader_id != self.node.identity.id {
            return Err(Status::failed_precondition(format!(
                "not the leader; node {} leads",
                status.leader_id
            )));
        }
        self.leases.renew(req.get_ref().node_id);
        let lease_ms = u64::try_from(self.leases.lease().as_millis()).unwrap_or(u64::MAX);
        Ok(Response::new(rpb::LeaseReply { lease_ms }))
    }
}
