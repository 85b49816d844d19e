//! Carrying Raft messages between nodes over `ham.raft.v1.RaftTransport` (gRPC, mutual TLS when
//! configured).
//!
//! **Sending.** [`PeerTransport::send`] (called by the replica's owner task) never waits: it puts
//! the message on the peer's bounded queue ([`QUEUE_MESSAGES`]) and returns. One task per peer
//! drains the queue into batches (up to [`BATCH_MESSAGES`] messages and about [`BATCH_BYTES`]
//! bytes, a larger single message alone) and pushes them on one long-lived client stream
//! (`Send(stream RaftBatch)`). The task sleeps while there is nothing to send: no timers run on
//! an idle link (HTTP/2 keep-alive pings aside, every [`KEEPALIVE_INTERVAL`] while a stream is
//! open, to notice a peer that vanished without closing its connection).
//!
//! **Failures.** A full queue, an unknown peer or a broken stream drops messages: the replica is
//! told [`report_unreachable`](ham_core::replica::ReplicaHandle::report_unreachable), and each
//! dropped snapshot is reported failed. Raft retransmits, so dropping is safe. The task then
//! reconnects with exponential backoff ([`BACKOFF_MIN`] doubling to [`BACKOFF_MAX`], back to the
//! minimum after a stream that lasted [`BACKOFF_MAX`]), after dropping what queued up meanwhile.
//! A peer that opens a stream to us is evidently back: the link to it stops waiting and
//! reconnects at once (a restarted node is otherwise deaf to us for up to [`BACKOFF_MAX`], long
//! enough to split the next election).
//! Drop and connection warnings are logged at most every [`LOG_EVERY`] per peer. A snapshot (`MsgSnapshot`, which carries the whole state) is reported delivered
//! once a stream has taken it.
//!
//! **Receiving.** [`PeerTransport::service`] steps every message of every batch, in order, into
//! the attached replica; bad bytes are the replica's to log and drop. Message size limits on both
//! sides are [`MAX_MESSAGE_BYTES`] (snapshots travel whole inside one raft message).
//!
//! **TLS.** With [`TlsSettings`], channels dial `https://` and present this node's certificate;
//! the server side is the caller's (its listener's connections go through
//! [`TlsSettings::acceptor`]). Names and checks are in [`crate::net::tls`]; the inbound side
//! takes batches only from the node the caller's certificate names (`identity`, P5).
//!
//! A one-node cluster has no peers: every message goes to an unknown peer, is dropped with a
//! debug line and reported unreachable.

mod inbound;
mod link;
#[cfg(test)]
mod tests;
pub(crate) mod wire;

pub use inbound::RaftInbound;

use super::tls::TlsSettings;
use ham_core::machine::HamMachine;
use ham_core::replica::{ReplicaHandle, Transport};
use ham_proto::ham::raft::v1::raft_transport_server::RaftTransportServer;
use link::Link;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tonic::transport::{Channel, Endpoint};

/// Messages waiting for one peer; more are dropped (and reported) until the link catches up.
pub const QUEUE_MESSAGES: usize = 4096;
/// At most this many messages in one `RaftBatch`.
pub const BATCH_MESSAGES: usize = 256;
/// A batch stops growing at this many bytes (a single larger message travels alone).
pub const BATCH_BYTES: usize = 4 << 20;
/// gRPC encode and decode limit of `RaftTransport`, both ways: a snapshot travels whole inside
/// one raft message.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;
/// Largest raft message the transport sends (room left for the batch's own encoding).
const MAX_RAFT_MESSAGE: usize = MAX_MESSAGE_BYTES - (64 << 10);
/// First reconnect delay after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Reconnect delays double up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Bound on establishing a TCP connection to a peer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// HTTP/2 ping interval on a connection with an open stream.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// A ping unanswered for this long closes the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// At most one "dropped" warning per peer in this interval.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Locks, ignoring poisoning (every critical section leaves its data whole).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the transport, its links and its service share.
#[derive(Debug)]
struct Shared {
    self_id: u64,
    tls: Option<Arc<TlsSettings>>,
    replica: OnceLock<ReplicaHandle<HamMachine>>,
    /// True once [`PeerTransport::close`] ran; ends inbound streams.
    closed: watch::Sender<bool>,
    sent_messages: AtomicU64,
    sent_batches: AtomicU64,
    dropped_messages: AtomicU64,
    received_messages: AtomicU64,
    received_from: Mutex<HashMap<u64, u64>>,
    /// Each link's "the peer is back" signal, by peer id (see [`Shared::peer_is_back`]).
    peer_back: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Reconnect delays cut short because the peer opened a stream to us.
    backoffs_cut_short: AtomicU64,
}

impl Shared {
    fn report_unreachable(&self, peer: u64) {
        if let Some(replica) = self.replica.get() {
            replica.report_unreachable(peer);
        }
    }

    fn report_snapshot(&self, peer: u64, ok: bool) {
        if let Some(replica) = self.replica.get() {
            replica.report_snapshot(peer, ok);
        }
    }

    /// `peer` opened a stream to us: if our link to it is waiting to reconnect, it goes now.
    fn peer_is_back(&self, peer: u64) {
        if let Some(back) = lock(&self.peer_back).get(&peer) {
            // Wakes a waiting link only; no permit is stored for a link that is fine.
            back.notify_waiters();
        }
    }

    /// A new lazily connecting channel to `address` ("host:port").
    fn endpoint(&self, address: &str) -> Result<Channel, tonic::transport::Error> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(false);
        if let Some(tls) = &self.tls {
            endpoint = tls.endpoint(endpoint)?;
        }
        Ok(endpoint.connect_lazy())
    }
}

/// Counters of a [`PeerTransport`] since it was made.
#[cfg_attr(not(test), allow(dead_code, reason = "no status output shows it yet"))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Raft messages taken by an outbound stream.
    pub sent_messages: u64,
    /// Batches taken by an outbound stream.
    pub sent_batches: u64,
    /// Raft messages dropped (queue full, unknown or unreachable peer).
    pub dropped_messages: u64,
    /// Raft messages received from peers.
    pub received_messages: u64,
    /// Raft messages received, by the `from` of their batch.
    pub received_from: BTreeMap<u64, u64>,
    /// Reconnect delays cut short because the peer opened a stream to us.
    pub backoffs_cut_short: u64,
}

/// The cluster transport of the Raft replica: queues outbound messages per peer and serves the
/// inbound side. See the module documentation.
#[derive(Debug)]
pub struct PeerTransport {
    shared: Arc<Shared>,
    peers: Mutex<HashMap<u64, Link>>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl PeerTransport {
    /// A transport for node `self_id` with no peers yet; TLS on every connection when `tls` is
    /// given, plain text otherwise.
    pub fn new(self_id: u64, tls: Option<Arc<TlsSettings>>) -> Arc<PeerTransport> {
        Arc::new(PeerTransport {
            shared: Arc::new(Shared {
                self_id,
                tls,
                replica: OnceLock::new(),
                closed: watch::Sender::new(false),
                sent_messages: AtomicU64::new(0),
                sent_batches: AtomicU64::new(0),
                dropped_messages: AtomicU64::new(0),
                received_messages: AtomicU64::new(0),
                received_from: Mutex::new(HashMap::new()),
                peer_back: Mutex::new(HashMap::new()),
                backoffs_cut_short: AtomicU64::new(0),
            }),
            peers: Mutex::new(HashMap::new()),
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// Inbound messages and delivery reports go to this replica (called once, after the replica
    /// starts; messages arriving before that are dropped; a second call is ignored).
    pub fn attach(&self, replica: ReplicaHandle<HamMachine>) {
        if self.shared.replica.set(replica).is_err() {
            tracing::warn!("raft transport: a replica is already attached; ignoring another");
        }
    }

    /// Adds or updates a peer's address ("host:port", e.g. `10.0.0.2:7000` or `[::1]:7000`).
    /// A changed address replaces the peer's link (its queue is dropped). Must be called inside
    /// a tokio runtime. This node's own id and calls after [`PeerTransport::close`] are ignored.
    pub fn set_peer(&self, id: u64, address: String) {
        if id == self.shared.self_id || id == 0 {
            tracing::debug!(peer = id, address, "not a peer; ignored");
            return;
        }
        if *self.shared.closed.borrow() {
            tracing::debug!(peer = id, address, "transport closed; peer ignored");
            return;
        }
        let mut peers = lock(&self.peers);
        if peers.get(&id).is_some_and(|l| l.address() == address) {
            return;
        }
        tracing::info!(peer = id, address, "raft peer set");
        let link = Link::start(Arc::clone(&self.shared), id, address);
        // The old link, if any, is dropped (and its task stopped) here.
        peers.insert(id, link);
    }

    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "membership removal is not wired yet")
    )]
    /// Forgets a peer: its queue and stream go; later messages to it are dropped as unknown.
    pub fn remove_peer(&self, id: u64) {
        if let Some(link) = lock(&self.peers).remove(&id) {
            tracing::info!(peer = id, address = link.address(), "raft peer removed");
        }
    }

    /// The tonic service (`ham.raft.v1.RaftTransport`) receiving other nodes' batches, with
    /// decode and encode limits of [`MAX_MESSAGE_BYTES`].
    pub fn service(self: &Arc<Self>) -> RaftTransportServer<RaftInbound> {
        RaftTransportServer::new(RaftInbound {
            shared: Arc::clone(&self.shared),
        })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// A (cached, lazily connecting) gRPC channel to `address` ("host:port"), TLS when
    /// configured, for node-to-node calls of other services (`ham.raft.v1.Peer`, `ham.v1.Ham`
    /// forwarding). Raft traffic uses its own connections. Errors: a malformed address, or TLS
    /// material tonic refuses. Must be called inside a tokio runtime.
    pub fn channel(&self, address: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = lock(&self.channels);
        if let Some(channel) = channels.get(address) {
            return Ok(channel.clone());
        }
        let channel = self.shared.endpoint(address)?;
        channels.insert(address.to_string(), channel.clone());
        Ok(channel)
    }

    #[cfg_attr(
        not(test),
        allow(dead_code, reason = "to be called by main.rs on stop")
    )]
    /// Stops the transport: outbound links stop, open inbound streams end with UNAVAILABLE
    /// (so that a graceful server shutdown does not wait for peers' streams), new inbound
    /// streams are refused, later messages are dropped. Call it when the node stops.
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
        lock(&self.peers).clear();
        lock(&self.channels).clear();
    }

    #[cfg_attr(not(test), allow(dead_code, reason = "no status output shows it yet"))]
    /// Counters since the transport was made.
    pub fn stats(&self) -> TransportStats {
        let s = &self.shared;
        TransportStats {
            sent_messages: s.sent_messages.load(Ordering::Relaxed),
            sent_batches: s.sent_batches.load(Ordering::Relaxed),
            dropped_messages: s.dropped_messages.load(Ordering::Relaxed),
            received_messages: s.received_messages.load(Ordering::Relaxed),
            received_from: lock(&s.received_from)
                .iter()
                .map(|(&k, &v)| (k, v))
                .collect(),
            backoffs_cut_short: s.backoffs_cut_short.load(Ordering::Relaxed),
        }
    }
}

impl Transport for PeerTransport {
    /// Queues `message` for peer `to` and returns at once; an unknown peer's message is dropped
    /// with a debug line and reported unreachable.
    fn send(&self, to: u64, message: Vec<u8>) {
        let peers = lock(&self.peers);
        match peers.get(&to) {
            Some(link) => link.push(message),
            None => {
                drop(peers);
                link::drop_unknown(&self.shared, to, &message);
            }
        }
    }
}
