//! The streaming calls: heartbeats of self-attached entities over one
//! connection (E10), and pulse channels (A7).

use super::Calls;
use super::convert as cv;
use ham_core::model::{Errno, HamError, Result};
use ham_proto::ham::v1 as pb;
use std::pin::Pin;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};

/// The pulses of one channel, as the API streams them.
pub type PulseStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::Pulse, tonic::Status>> + Send>>;

impl Calls {
    /// Every message is a heartbeat of the entity named by the first one.
    /// When the stream ends while the entity still exists (no detach), the
    /// entity is treated as dead (HAM-CONTRACT E10).
    pub async fn heartbeat_stream(
        &self,
        mut stream: tonic::Streaming<pb::HeartbeatRequest>,
        may: impl Fn(&pb::HeartbeatRequest) -> Result<()>,
    ) -> Result<pb::Empty> {
        let mut uid = None;
        let mut entity = None;
        loop {
            let msg = match stream.next().await {
                Some(Ok(msg)) => msg,
                Some(Err(_)) | None => break,
            };
            may(&msg)?;
            let r = cv::entity_ref(msg.entity.as_ref(), self.node.identity.id)?;
            let this = self.node.read_now(|s| s.entity(&r).map(|e| e.uid))?;
            if uid.is_some_and(|u| u != this) {
                return Err(HamError::new(
                    Errno::Einval,
                    "one heartbeat stream serves one entity",
                ));
            }
            self.agent.heartbeat(this)?;
            uid = Some(this);
            entity = Some(cv::EntityKey {
                node: r.node,
                name: r.name,
            });
        }
        if let (Some(uid), Some(key)) = (uid, entity) {
            let still_there = self.node.read_now(|s| {
                s.entity_handle(key.node, &key.name)
                    .is_ok_and(|h| h.uid == Some(uid))
            });
            if still_there {
                self.agent.connection_lost(uid);
            }
        }
        Ok(pb::Empty {})
    }

    /// Opens a pulse channel of a process on this node.
    /// The stream holds `slot`, the caller's place among its open streams, until it ends.
    pub fn pulse_channel(
        &self,
        r: pb::PulseChannelRequest,
        slot: crate::auth::limits::StreamSlot,
    ) -> Result<PulseStream> {
        let rx = self.agent.pulses().open(r.pid, r.chid)?;
        let stream = ReceiverStream::new(rx).map(move |(code, value)| {
            let _held = &slot;
            Ok(pb::Pulse { code, value })
        });
        Ok(Box::pin(stream))
    }
}
