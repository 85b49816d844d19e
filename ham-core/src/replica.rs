//! A generic, persistent, single-owner Raft replica (raft-rs 0.7 behind a typed API).
//!
//! One tokio task owns the `raft::RawNode`, its redb-backed log and the Ready loop (DESIGN.md
//! invariant 3); everything else talks to it through [`ReplicaHandle`], which sends commands over
//! a channel. Raft types never leave this module: peers exchange opaque bytes through
//! [`Transport`] and [`ReplicaHandle::step`] (invariant 6). The replicated state is any
//! deterministic [`StateMachine`] (invariant 1).
//!
//! Durability and replay: the log, the hard state and periodic snapshots of the state machine
//! live in `data_dir/raft.redb` (layout in `storage.rs`). After a restart the latest snapshot is
//! restored and the committed entries after it are applied again with
//! [`ApplyContext::replaying`] set. An entry applied just before a crash, before its commit
//! index reached the disk, is applied again with `replaying == false` (side effects are
//! at-least-once, never lost).
//!
//! Proposals: each command travels in an envelope with its origin node and a request id; only
//! the origin keeps a waiter, answered when the entry is applied there. Proposals made while no
//! leader is known wait for one. A proposal handed to raft (forwarded to the leader, or
//! appended as leader) is kept and proposed again whenever the leader changes (the old
//! leadership may have lost it, or it may still commit): every node records the applied
//! `(origin, request)` pairs (`dedup.rs`, carried in snapshots, `snapdata.rs`) and skips a
//! second copy, so the write is applied once and answered once a new leader commits it.
//!
//! Answers mean what they say (HAM-CONTRACT M5). `Ok` means committed and applied here. The
//! owner task gives every proposal a deadline `propose_timeout` after the call, on the
//! monotonic clock; at the deadline a proposal never handed to raft is withdrawn and answers
//! `NoQuorum` (it can never commit), and one handed to raft answers `OutcomeUnknown` (it may
//! still commit, once). A proposal this node appended as leader, and handed to raft only that
//! once, that finds another entry committed in its slot is provably lost and answers `NoQuorum`
//! at once. Nothing compares wall clocks across nodes (H5): a forwarded proposal is accepted by
//! the leader whenever it arrives.
//!
//! Snapshots are taken every `snapshot_every` applied entries (a little later on nodes with
//! higher ids, so that the nodes of a cluster do not all build one at the same moment). The
//! Raft task only freezes the state ([`StateMachine::snapshot`], which must be cheap); the
//! serialization and the write of the file happen on a blocking thread while entries keep being
//! applied, and the task records the finished snapshot and compacts the log. Snapshots travel
//! whole inside one raft message, so the transport must accept messages as large as the state. A transport that
//! cannot tell delivery may leave `report_snapshot` alone: an unacknowledged snapshot is
//! declared failed after four election timeouts, and raft tries again.
#![warn(missing_docs)]

mod dedup;
mod driver;
mod envelope;
mod error;
// Public only for the fuzz targets (`fuzz/`); not part of the replica's API.
#[doc(hidden)]
pub mod fuzzing;
mod logger;
mod snapdata;
mod storage;
#[cfg(test)]
mod tests;
mod types;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument as _;

pub use error::ReplicaError;
pub use types::{Membership, MembershipChange, ReplicaConfig, ReplicaStatus, Role};

use driver::Command;

/// Deterministic state replicated by the log.
pub trait StateMachine: Send + Sync + 'static {
    /// What `apply` hands back to the proposer.
    type Output: Send + 'static;
    /// Apply one committed command (the bytes given to `propose`). `ctx.replaying` is true for
    /// entries at or below the commit index found on disk at start (re-applied after a restart),
    /// so callers can suppress side effects that already happened.
    fn apply(&mut self, ctx: ApplyContext, command: &[u8]) -> Self::Output;
    /// Freezes the state for a snapshot and returns the job that serializes it. Called on the
    /// Raft task, so it must be cheap (clone persistent structures, do not serialize here); the
    /// job runs on a blocking thread while later entries are applied.
    fn snapshot(&self) -> SnapshotJob;
    /// Replaces the whole state with a snapshot made by `snapshot` (on any node).
    fn restore(&mut self, data: &[u8]) -> Result<(), String>;
}

/// Serializes a frozen copy of a state machine's state (see [`StateMachine::snapshot`]).
pub type SnapshotJob = Box<dyn FnOnce() -> Vec<u8> + Send>;

/// Where a command sits in the log when it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyContext {
    /// Log index of the entry.
    pub index: u64,
    /// Term of the entry.
    pub term: u64,
    /// True when the entry was already committed before this start (it is being replayed).
    pub replaying: bool,
}

/// Sends raft messages to peers. Must not block (queue and return).
///
/// Delivery is best effort; raft retries. A transport that knows a snapshot message failed or
/// succeeded may call [`ReplicaHandle::report_snapshot`]; otherwise the replica itself declares
/// an unacknowledged snapshot failed after a while so that the peer is not paused forever.
pub trait Transport: Send + Sync + 'static {
    /// Queues `message` (opaque bytes for the peer's [`ReplicaHandle::step`]) for node `to`.
    fn send(&self, to: u64, message: Vec<u8>);
}

/// Shared by all clones of a handle.
struct Shared<S: StateMachine> {
    id: u64,
    tx: mpsc::Sender<Command<S>>,
    sm: Arc<RwLock<S>>,
    status: watch::Receiver<ReplicaStatus>,
    propose_timeout: Duration,
    /// Why the owner task ended by itself (empty while it runs or after `shutdown`).
    stopped: watch::Receiver<Option<ReplicaError>>,
    /// Full disk: proposals are refused before they reach raft (HAM-CONTRACT M4).
    space: Arc<storage::space::DiskSpace>,
}

/// The way to talk to a running replica; cheap to clone.
pub struct ReplicaHandle<S: StateMachine> {
    shared: Arc<Shared<S>>,
}

impl<S: StateMachine> Clone for ReplicaHandle<S> {
    fn clone(&self) -> Self {
        ReplicaHandle {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: StateMachine> std::fmt::Debug for ReplicaHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaHandle")
            .field("id", &self.shared.id)
            .finish_non_exhaustive()
    }
}

/// Queue length of the owner task's command channel.
const COMMAND_QUEUE: usize = 4096;

/// Runs the owner task. Inside a multi-threaded runtime (a `ham` node) it gets a thread of its
/// own, with a single-threaded runtime: it writes and fsyncs the log in place, where on a worker
/// of the shared runtime each write had to go through `block_in_place`, which hands that worker's
/// queue to another thread each time (a thread hand-off per fsync, and the raft messages it had
/// just queued for the transport waited for it). Anywhere else (single-threaded tests) it is a
/// task of the current runtime, as before.
fn spawn_owner(
    id: u64,
    task: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ReplicaError> {
    use tokio::runtime::{Builder, Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() != RuntimeFlavor::MultiThread {
        tokio::spawn(task);
        return Ok(());
    }
    // Timers only: the task does no IO through tokio (it writes the log in place, snapshot jobs
    // run on blocking threads). Without an IO driver the thread sleeps on a futex and each
    // message that wakes it (a proposal, a peer's message) is a futex wake, not an eventfd write
    // that epoll has to pass on.
    let runtime = Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| ReplicaError::Storage(format!("cannot start the replica's runtime: {e}")))?;
    std::thread::Builder::new()
        .name(format!("ham-raft-{id}"))
        .spawn(move || runtime.block_on(task))
        .map_err(|e| ReplicaError::Storage(format!("cannot start the replica's thread: {e}")))?;
    Ok(())
}

/// How much longer than the owner task's deadline a proposer waits before it answers
/// `OutcomeUnknown` by itself.
const PROPOSE_GRACE: Duration = Duration::from_secs(1);

impl<S: StateMachine> ReplicaHandle<S> {
    /// Opens (or creates) the log under data_dir, restores the latest snapshot into `sm`, applies
    /// the entries committed after it (with `replaying` set) before it returns, then spawns the
    /// owner task. Must be called inside a tokio runtime.
    pub fn start(
        cfg: ReplicaConfig,
        sm: S,
        transport: Arc<dyn Transport>,
    ) -> Result<Self, ReplicaError> {
        cfg.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ReplicaError::Config(
                "ReplicaHandle::start must be called inside a tokio runtime".into(),
            ));
        }
        let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
        // Everything the owner task logs, and the opening and replay before it, carries the
        // replica's id from this span.
        let span = tracing::info_span!("replica", id = cfg.id);
        let entered = span.enter();
        let (mut driver, status) = driver::Driver::open(&cfg, sm, transport)?;
        // Whoever reads the state after `start` (the agent re-adopting its processes, E11)
        // must see every entry that was committed before the restart, not just the snapshot.
        driver.replay()?;
        drop(entered);
        let sm = driver.state_machine();
        let space = driver.disk_space();
        let (stopped_tx, stopped) = watch::channel(None);
        spawn_owner(cfg.id, driver.run(rx, stopped_tx).instrument(span))?;
        Ok(ReplicaHandle {
            shared: Arc::new(Shared {
                id: cfg.id,
                tx,
                sm,
                status,
                propose_timeout: cfg.propose_timeout,
                stopped,
                space,
            }),
        })
    }

    /// Sends a command and waits for its reply, bounded by `propose_timeout`: a command that
    /// could not even be queued in time never reached raft (`NoQuorum`); a reply that does not
    /// come in time is `late`.
    async fn call<T>(
        &self,
        late: ReplicaError,
        make: impl FnOnce(oneshot::Sender<Result<T, ReplicaError>>) -> Command<S>,
    ) -> Result<T, ReplicaError> {
        let deadline = tokio::time::Instant::now() + self.shared.propose_timeout;
        self.call_until(deadline, deadline, late, make).await
    }

    /// [`Self::call`] with explicit deadlines for queueing and for the reply.
    async fn call_until<T>(
        &self,
        queued_by: tokio::time::Instant,
        answered_by: tokio::time::Instant,
        late: ReplicaError,
        make: impl FnOnce(oneshot::Sender<Result<T, ReplicaError>>) -> Command<S>,
    ) -> Result<T, ReplicaError> {
        let (reply, rx) = oneshot::channel();
        match tokio::time::timeout_at(queued_by, self.shared.tx.send(make(reply))).await {
            Err(_) => return Err(ReplicaError::NoQuorum),
            Ok(Err(_)) => return Err(ReplicaError::Stopped),
            Ok(Ok(())) => {}
        }
        match tokio::time::timeout_at(answered_by, rx).await {
            Err(_) => Err(late),
            Ok(Err(_)) => Err(ReplicaError::Stopped),
            Ok(Ok(result)) => result,
        }
    }

    /// Proposes a command; resolves with the state machine's output once it is committed AND
    /// applied on this node. After `propose_timeout` (HAM-CONTRACT M5): Err(NoQuorum) when the
    /// command was never handed to raft (no leader known in time) and will never commit, or
    /// Err(OutcomeUnknown) when it was and may still commit (applied once if so). Err(Stopped)
    /// after shutdown, before raft saw it. Err(NoSpace) at once, before raft sees it, while the
    /// disk is full.
    pub async fn propose(&self, command: Vec<u8>) -> Result<S::Output, ReplicaError> {
        if self.shared.space.is_full() {
            return Err(ReplicaError::NoSpace(
                "the disk holding the raft log is full".into(),
            ));
        }
        // The owner task answers at `deadline`; the handle waits a little longer, as a safety
        // net only (a task stuck persisting), and then cannot know the outcome.
        let deadline = tokio::time::Instant::now() + self.shared.propose_timeout;
        let net = deadline + PROPOSE_GRACE;
        self.call_until(deadline, net, ReplicaError::OutcomeUnknown, |reply| {
            Command::Propose {
                command,
                deadline,
                reply,
            }
        })
        .await
    }

    /// Changes membership with one ConfChangeV2 (several changes go through joint consensus,
    /// left automatically); resolves with the resulting configuration once it is applied here
    /// and no longer joint. Err(Config) when another change is in progress or raft refuses
    /// the change, Err(NoQuorum) without a leader or after propose_timeout.
    pub async fn change_membership(
        &self,
        changes: Vec<MembershipChange>,
    ) -> Result<Membership, ReplicaError> {
        self.call(ReplicaError::NoQuorum, |reply| Command::ChangeMembership {
            changes,
            reply,
        })
        .await
    }

    /// Runs `f` on the locally applied state (RwLock read guard; the owner task takes the write
    /// lock only while applying).
    pub fn read<R>(&self, f: impl FnOnce(&S) -> R) -> R {
        // A panic inside `f` or `apply` poisons the lock; the state itself is still whole.
        let guard = self
            .shared
            .sm
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// Linearizable read barrier (ReadIndex, Safe option): resolves once the local applied
    /// index reaches the read index confirmed by the leader. Retries internally because raft
    /// drops ReadIndex silently (no leader yet, or a leader that has not committed in its term);
    /// bounded by propose_timeout, then Err(NoQuorum).
    pub async fn read_barrier(&self) -> Result<(), ReplicaError> {
        self.call(ReplicaError::NoQuorum, |reply| Command::ReadBarrier {
            reply,
        })
        .await
    }

    /// A raft message received from a peer (bytes as given to Transport::send). Bad bytes are
    /// logged and dropped, never panic.
    pub fn step(&self, message: Vec<u8>) {
        match driver::decode_message(&message) {
            Ok(m) => self.post(Command::Step(Box::new(m))),
            Err(e) => {
                tracing::warn!(replica = self.shared.id, error = %e, "dropping a bad raft message")
            }
        }
    }

    /// Tells raft that `peer` could not be reached (e.g. its send queue overflowed).
    pub fn report_unreachable(&self, peer: u64) {
        self.post(Command::Unreachable(peer));
    }

    /// Tells raft whether a snapshot sent to `peer` was delivered (`ok`) or failed.
    pub fn report_snapshot(&self, peer: u64, ok: bool) {
        self.post(Command::SnapshotStatus(peer, ok));
    }

    /// Best-effort, non-blocking post (raft tolerates lost messages and reports).
    fn post(&self, cmd: Command<S>) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.shared.tx.try_send(cmd) {
            tracing::debug!(
                replica = self.shared.id,
                "command queue full; dropping a message"
            );
        }
    }

    /// A cheap copy of the current status.
    pub fn status(&self) -> ReplicaStatus {
        self.shared.status.borrow().clone()
    }

    /// Resolves with the error the owner task stopped with, if it ends by itself (a fatal
    /// storage error, or a panic); never resolves while it runs or after `shutdown`. A daemon
    /// selects on it to exit rather than answer "stopping" forever.
    pub async fn stopped(&self) -> ReplicaError {
        let mut rx = self.shared.stopped.clone();
        let why = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|w| w.clone());
        match why {
            Some(e) => e,
            // Ended without a word: by request.
            None => std::future::pending().await,
        }
    }

    /// Stops the owner task after persisting; later calls return Stopped.
    pub async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.shared.tx.send(Command::Shutdown(done)).await.is_ok() {
            // An error means the task is already gone, which is what we want.
            let _ = rx.await;
        }
    }
}
