//! The sending side: one bounded queue, one task and one long-lived client stream per peer.

use super::{
    BACKOFF_MAX, BACKOFF_MIN, BATCH_BYTES, BATCH_MESSAGES, LOG_EVERY, MAX_MESSAGE_BYTES,
    MAX_RAFT_MESSAGE, QUEUE_MESSAGES, Shared, lock, wire,
};
use ham_proto::ham::raft::v1::raft_transport_client::RaftTransportClient;
use ham_proto::ham::raft::v1::{Ack, RaftBatch};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tracing::Instrument as _;

/// One raft message on its way out.
#[derive(Debug)]
pub(super) struct Outbound {
    bytes: Vec<u8>,
    snapshot: bool,
}

/// Messages that did not make it: how many, and how many of them were snapshots.
#[derive(Debug, Default, Clone, Copy)]
struct Lost {
    messages: u64,
    snapshots: u32,
}

impl Lost {
    fn add(&mut self, m: &Outbound) {
        self.messages += 1;
        self.snapshots += u32::from(m.snapshot);
    }
}

/// A peer's link, owned by the transport's peer table; dropping it stops the sender task.
#[derive(Debug)]
pub(super) struct Link {
    queue: mpsc::Sender<Outbound>,
    state: Arc<LinkState>,
    task: AbortHandle,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
        // A replacing link may already have registered its own signal.
        let mut back = lock(&self.state.shared.peer_back);
        if back
            .get(&self.state.peer)
            .is_some_and(|b| Arc::ptr_eq(b, &self.state.back))
        {
            back.remove(&self.state.peer);
        }
    }
}

/// What the link's queue, its task and its stream's body share.
#[derive(Debug)]
struct LinkState {
    peer: u64,
    address: String,
    shared: Arc<Shared>,
    /// A failure was logged as a warning and no stream has carried anything since.
    failing: AtomicBool,
    /// When a short-lived failure was last logged as a warning.
    last_fail_log: Mutex<Option<Instant>>,
    /// Rate limit of the "dropped" warning: drops since the last line, and when it was.
    drops_unlogged: AtomicU64,
    last_drop_log: Mutex<Option<Instant>>,
    /// Signalled when the peer opens a stream to us (it is back: stop waiting to reconnect).
    back: Arc<Notify>,
}

impl Link {
    /// Starts the sender task of `peer` at `address` (inside a tokio runtime).
    pub(super) fn start(shared: Arc<Shared>, peer: u64, address: String) -> Link {
        let (queue, rx) = mpsc::channel(QUEUE_MESSAGES);
        let state = Arc::new(LinkState {
            peer,
            address,
            shared,
            failing: AtomicBool::new(false),
            last_fail_log: Mutex::new(None),
            drops_unlogged: AtomicU64::new(0),
            last_drop_log: Mutex::new(None),
            back: Arc::new(Notify::new()),
        });
        lock(&state.shared.peer_back).insert(peer, Arc::clone(&state.back));
        // The task's lines carry the peer from this span; the methods of `LinkState` name it
        // themselves, as the replica's task calls some of them too.
        let span = tracing::info_span!("peer", id = peer, address = %state.address);
        let task = tokio::spawn(run(Arc::clone(&state), rx).instrument(span)).abort_handle();
        Link { queue, state, task }
    }

    /// The peer's address.
    pub(super) fn address(&self) -> &str {
        &self.state.address
    }

    /// Queues a message; never waits. A full queue or a stopped link drops it and reports.
    pub(super) fn push(&self, bytes: Vec<u8>) {
        let m = Outbound {
            snapshot: wire::is_snapshot(&bytes),
            bytes,
        };
        if m.bytes.len() > MAX_RAFT_MESSAGE {
            tracing::error!(
                peer = self.state.peer,
                address = %self.state.address,
                bytes = m.bytes.len(),
                limit = MAX_RAFT_MESSAGE,
                "raft message too large for the transport; dropped"
            );
            self.state.dropped(single(&m), "message too large");
            return;
        }
        match self.queue.try_send(m) {
            Ok(()) => {}
            Err(TrySendError::Full(m)) => self.state.dropped(single(&m), "send queue full"),
            Err(TrySendError::Closed(m)) => self.state.dropped(single(&m), "link stopped"),
        }
    }
}

fn single(m: &Outbound) -> Lost {
    let mut lost = Lost::default();
    lost.add(m);
    lost
}

/// Drops `m` for an unknown peer `to`, reporting like a link would.
pub(super) fn drop_unknown(shared: &Shared, to: u64, bytes: &[u8]) {
    tracing::debug!(peer = to, "raft message for an unknown peer dropped");
    shared.dropped_messages.fetch_add(1, Ordering::Relaxed);
    shared.report_unreachable(to);
    if wire::is_snapshot(bytes) {
        shared.report_snapshot(to, false);
    }
}

impl LinkState {
    /// Accounts for lost messages: raft is told the peer is unreachable and that the lost
    /// snapshots failed; the warning is rate-limited.
    fn dropped(&self, lost: Lost, reason: &str) {
        if lost.messages == 0 {
            return;
        }
        let shared = &self.shared;
        shared
            .dropped_messages
            .fetch_add(lost.messages, Ordering::Relaxed);
        shared.report_unreachable(self.peer);
        for _ in 0..lost.snapshots {
            shared.report_snapshot(self.peer, false);
        }
        let unlogged = self
            .drops_unlogged
            .fetch_add(lost.messages, Ordering::Relaxed)
            + lost.messages;
        let mut last = lock(&self.last_drop_log);
        if last.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            self.drops_unlogged.store(0, Ordering::Relaxed);
            tracing::warn!(
                peer = self.peer,
                address = %self.address,
                dropped = unlogged,
                reason,
                "raft messages to a peer dropped; raft will retransmit"
            );
        }
    }

    /// A stream body took a batch out of `in_stream`: it is on its way (snapshots in it count
    /// as delivered).
    fn accepted(&self, in_stream: &Mutex<Lost>, messages: u64, snapshots: u32) {
        {
            let mut pending = lock(in_stream);
            pending.messages = pending.messages.saturating_sub(messages);
            pending.snapshots = pending.snapshots.saturating_sub(snapshots);
        }
        let shared = &self.shared;
        shared.sent_batches.fetch_add(1, Ordering::Relaxed);
        shared.sent_messages.fetch_add(messages, Ordering::Relaxed);
        for _ in 0..snapshots {
            tracing::debug!(peer = self.peer, address = %self.address, "raft snapshot sent");
            shared.report_snapshot(self.peer, true);
        }
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(peer = self.peer, address = %self.address, "raft stream to a peer is up again");
        }
    }

    /// The stream failed after `lasted`: `lost` never reached it (or was never taken by its
    /// body). The break of an established stream is a warning; repeated failures to connect
    /// (or streams refused right away, e.g. a TLS certificate refused) are warned about at most
    /// every [`LOG_EVERY`].
    fn failed(&self, lost: Lost, error: &str, lasted: Duration) {
        let mut last = lock(&self.last_fail_log);
        if lasted >= STABLE || last.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            *last = Some(Instant::now());
            self.failing.store(true, Ordering::Relaxed);
            tracing::warn!(peer = self.peer, address = %self.address, error, "raft stream to a peer failed");
        } else {
            tracing::debug!(peer = self.peer, address = %self.address, error, "peer still unreachable");
        }
        drop(last);
        // Report even when nothing was lost: raft should stop pipelining to this peer.
        self.shared.report_unreachable(self.peer);
        self.dropped(lost, "peer unreachable");
    }
}

/// A status with the chain of errors under it (e.g. why a TLS handshake failed).
fn describe(status: &tonic::Status) -> String {
    let mut text = format!("{}: {}", status.code(), status.message());
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        let line = e.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = e.source();
    }
    text
}

/// How a stream ended.
enum Ended {
    /// The link's queue closed (peer removed, transport closed).
    QueueClosed,
    /// The stream or the connection failed; `lost` never left through it.
    Failed { error: String, lost: Lost },
}

/// A stream that lived this long was healthy: the next reconnect starts from [`BACKOFF_MIN`].
/// (A shorter one, say refused right after the TLS handshake, keeps the backoff growing.)
const STABLE: Duration = BACKOFF_MAX;

/// The sender task: idle until a message comes, then one stream until it fails, then backoff.
async fn run(state: Arc<LinkState>, mut rx: mpsc::Receiver<Outbound>) {
    let channel = match state.shared.endpoint(&state.address) {
        Ok(channel) => channel,
        Err(e) => {
            tracing::error!(error = %e, "bad peer address");
            while let Some(m) = rx.recv().await {
                state.dropped(single(&m), "bad peer address");
            }
            return;
        }
    };
    let mut backoff = BACKOFF_MIN;
    while let Some(first) = rx.recv().await {
        let started = Instant::now();
        match stream(&state, &channel, &mut rx, first).await {
            Ended::QueueClosed => return,
            Ended::Failed { error, mut lost } => {
                let lasted = started.elapsed();
                if lasted >= STABLE {
                    backoff = BACKOFF_MIN;
                }
                // What queued up meanwhile is stale by the time we are back; raft resends.
                while let Ok(m) = rx.try_recv() {
                    lost.add(&m);
                }
                state.failed(lost, &error, lasted);
                tokio::select! {
                    () = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(BACKOFF_MAX),
                    () = state.back.notified() => {
                        tracing::debug!("peer is back: reconnecting now");
                        state.shared.backoffs_cut_short.fetch_add(1, Ordering::Relaxed);
                        backoff = BACKOFF_MIN;
                    }
                }
            }
        }
    }
}

/// Takes `first` and whatever else is queued, within the batch limits; returns the batch,
/// its snapshot count and a message that did not fit (the next batch starts with it).
fn fill(
    from: u64,
    first: Outbound,
    rx: &mut mpsc::Receiver<Outbound>,
) -> (RaftBatch, u32, Option<Outbound>) {
    let mut bytes = first.bytes.len();
    let mut snapshots = u32::from(first.snapshot);
    let mut messages = vec![first.bytes];
    let mut carry = None;
    while messages.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
        let Ok(m) = rx.try_recv() else { break };
        if bytes + m.bytes.len() > BATCH_BYTES {
            carry = Some(m);
            break;
        }
        bytes += m.bytes.len();
        snapshots += u32::from(m.snapshot);
        messages.push(m.bytes);
    }
    (RaftBatch { from, messages }, snapshots, carry)
}

/// One client stream: pushes batches until the queue closes or the stream fails.
async fn stream(
    state: &Arc<LinkState>,
    channel: &Channel,
    rx: &mut mpsc::Receiver<Outbound>,
    first: Outbound,
) -> Ended {
    // One batch of slack: while the connection is slow, messages wait (and batch up) in the
    // link's queue, where overflow is reported, rather than in the stream.
    let (tx, body) = mpsc::channel::<(RaftBatch, u32)>(1);
    // Handed to the stream and not yet taken by its body (lost if the stream fails).
    let in_stream = Arc::new(Mutex::new(Lost::default()));
    let (taken, pending) = (Arc::clone(state), Arc::clone(&in_stream));
    let body = ReceiverStream::new(body).map(move |(batch, snapshots)| {
        taken.accepted(&pending, batch.messages.len() as u64, snapshots);
        batch
    });
    let mut client = RaftTransportClient::new(channel.clone())
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let call = client.send(body);
    tokio::pin!(call);
    let failed = |end: Result<tonic::Response<Ack>, tonic::Status>, mut lost: Lost| {
        let stuck = std::mem::take(&mut *lock(&in_stream));
        lost.messages += stuck.messages;
        lost.snapshots += stuck.snapshots;
        Ended::Failed {
            error: match end {
                Ok(_) => "the peer ended the stream".to_string(),
                Err(status) => describe(&status),
            },
            lost,
        }
    };

    let mut next = Some(first);
    loop {
        let first = match next.take() {
            Some(m) => m,
            None => tokio::select! {
                biased;
                end = &mut call => return failed(end, Lost::default()),
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => {
                        // Close the stream cleanly and give the peer a moment to answer.
                        drop(tx);
                        let _ = tokio::time::timeout(Duration::from_secs(1), &mut call).await;
                        return Ended::QueueClosed;
                    }
                },
            },
        };
        let (batch, snapshots, carry) = fill(state.shared.self_id, first, rx);
        let mut unsent = Lost {
            messages: batch.messages.len() as u64,
            snapshots,
        };
        if let Some(m) = &carry {
            unsent.add(m);
        }
        next = carry;
        let permit = tokio::select! {
            biased;
            end = &mut call => return failed(end, unsent),
            permit = tx.reserve() => permit,
        };
        match permit {
            Ok(permit) => {
                {
                    let mut pending = lock(&in_stream);
                    pending.messages += batch.messages.len() as u64;
                    pending.snapshots += snapshots;
                }
                permit.send((batch, snapshots));
            }
            // The body is gone, so the call is ending: wait for its answer.
            Err(_) => {
                let end = tokio::time::timeout(Duration::from_secs(1), &mut call)
                    .await
                    .unwrap_or_else(|_| Err(tonic::Status::unavailable("stream body closed")));
                return failed(end, unsent);
            }
        }
    }
}
