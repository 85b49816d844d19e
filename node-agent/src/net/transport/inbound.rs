//! The receiving side: `ham.raft.v1.RaftTransport/Send`, one long-lived stream per peer. With
//! TLS, every batch must come from the node the stream's certificate names (P5).

use super::{Shared, lock};
use crate::net::sender::{may_claim, refuse, remote_of, sender_of_request};
use ham_proto::ham::raft::v1::raft_transport_server::RaftTransport;
use ham_proto::ham::raft::v1::{Ack, RaftBatch};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tonic::{Request, Response, Status, Streaming};

/// The `ham.raft.v1.RaftTransport` service of a [`PeerTransport`](super::PeerTransport): steps
/// every message of every received batch, in order, into the attached replica.
#[derive(Debug, Clone)]
pub struct RaftInbound {
    pub(super) shared: Arc<Shared>,
}

impl RaftInbound {
    /// Hands one batch to the replica (dropped, with a debug line, before `attach`).
    fn deliver(&self, batch: RaftBatch) {
        let n = batch.messages.len() as u64;
        self.shared
            .received_messages
            .fetch_add(n, Ordering::Relaxed);
        *lock(&self.shared.received_from)
            .entry(batch.from)
            .or_default() += n;
        match self.shared.replica.get() {
            // `step` only queues; bad bytes are logged and dropped by the replica. A zero or
            // unknown `from` is stepped all the same: raft checks the messages themselves.
            Some(replica) => batch.messages.into_iter().for_each(|m| replica.step(m)),
            None => tracing::debug!(
                from = batch.from,
                messages = n,
                "raft messages dropped: no replica attached yet"
            ),
        }
    }
}

/// The service, as refusal lines name it.
const SERVICE: &str = "RaftTransport.Send";

#[tonic::async_trait]
impl RaftTransport for RaftInbound {
    async fn send(&self, request: Request<Streaming<RaftBatch>>) -> Result<Response<Ack>, Status> {
        let remote = remote_of(&request);
        // P5: the certificate is the connection's, so it is read once; every batch's `from` is
        // checked against it.
        let sender = sender_of_request(&request, SERVICE)?;
        let mut closed = self.shared.closed.subscribe();
        if *closed.borrow() {
            return Err(Status::unavailable("this node is shutting down"));
        }
        let mut stream = request.into_inner();
        let mut from = None;
        loop {
            let next = tokio::select! {
                // Long-lived streams would otherwise hold a graceful server shutdown forever.
                _ = closed.wait_for(|c| *c) => {
                    tracing::debug!(remote, from, "raft stream closed: shutting down");
                    return Err(Status::unavailable("this node is shutting down"));
                }
                next = stream.message() => next,
            };
            match next {
                Ok(Some(batch)) => {
                    if let Err(refused) = may_claim(sender, batch.from) {
                        return Err(refuse(SERVICE, &remote, &refused));
                    }
                    if from != Some(batch.from) {
                        tracing::debug!(remote, from = batch.from, "raft stream from a peer");
                        from = Some(batch.from);
                        self.shared.peer_is_back(batch.from);
                    }
                    self.deliver(batch);
                }
                Ok(None) => {
                    tracing::debug!(remote, from, "raft stream ended by the peer");
                    return Ok(Response::new(Ack {}));
                }
                Err(status) => {
                    tracing::debug!(remote, from, error = status.message(), "raft stream broken");
                    return Err(status);
                }
            }
        }
    }
}
