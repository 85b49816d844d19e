//! The streaming side of the client: pulse channels (a process receives the
//! pulses notify_pulse actions send it) and a heartbeat connection for
//! self-attached entities (closing it without a detach counts as a death,
//! HAM-CONTRACT E10).

use crate::ham::{Ham, HamResult};
use ham_proto::ham::v1 as pb;
use ham_proto::ham::v1::EntityHandle;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// An open pulse channel: receive (code, value) pairs with [`PulseChannel::recv`].
#[derive(Debug)]
pub struct PulseChannel {
    stream: tonic::Streaming<pb::Pulse>,
}

impl PulseChannel {
    /// The next pulse; None when the HAM closed the channel.
    pub async fn recv(&mut self) -> Option<(i32, i64)> {
        match self.stream.message().await {
            Ok(Some(p)) => Some((p.code, p.value)),
            _ => None,
        }
    }
}

/// A running heartbeat of a self-attached entity over one connection.
/// Dropping it (or the process dying) ends the connection; unless the entity
/// was detached first, the HAM then treats the entity as dead.
#[derive(Debug)]
pub struct HeartbeatConnection {
    beats: mpsc::Sender<pb::HeartbeatRequest>,
    task: JoinHandle<()>,
    call: JoinHandle<HamResult<()>>,
}

impl HeartbeatConnection {
    /// Sends one heartbeat now (ham_heartbeat), in addition to the periodic ones.
    pub async fn beat(&self, entity: &EntityHandle) -> bool {
        let req = pb::HeartbeatRequest {
            entity: Some(entity.clone()),
        };
        self.beats.send(req).await.is_ok()
    }

    /// Stops heartbeating without closing the connection (the HAM will see
    /// missed heartbeats). Used to simulate a hung process.
    pub fn pause(&self) {
        self.task.abort();
    }

    /// Closes the connection and reports how the call ended.
    pub async fn close(self) -> HamResult<()> {
        self.task.abort();
        drop(self.beats);
        self.call.await.unwrap_or(Ok(()))
    }
}

impl Ham {
    /// Opens pulse channel `chid` of process `pid` on the node this client talks to.
    pub async fn pulse_channel(&self, pid: i64, chid: i64) -> HamResult<PulseChannel> {
        let req = pb::PulseChannelRequest { pid, chid };
        let stream = self.c().pulse_channel(req).await?.into_inner();
        Ok(PulseChannel { stream })
    }

    /// Heartbeats `entity` every `period` over one long-lived stream.
    pub fn heartbeat_connection(
        &self,
        entity: EntityHandle,
        period: Duration,
    ) -> HeartbeatConnection {
        let (tx, rx) = mpsc::channel(16);
        let mut client = self.c();
        let call = tokio::spawn(async move {
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
            client.heartbeat_stream(stream).await?;
            Ok(())
        });
        let beats = tx.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let req = pb::HeartbeatRequest {
                    entity: Some(entity.clone()),
                };
                if tx.send(req).await.is_err() {
                    return;
                }
            }
        });
        HeartbeatConnection { beats, task, call }
    }
}
