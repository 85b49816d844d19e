//! The owner task: the only code that touches the `RawNode`, its storage and the state
//! machine's write lock. It reacts to commands from handles and to its own tick timer, then
//! drives the Ready loop (see `ready.rs`).

mod membership;
mod open;
mod outbound;
mod pending;
mod ready;
mod snapshot;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Message};
use raft::{RawNode, SnapshotStatus, StateRole};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use super::dedup::{Applied, SEQ_BITS};
use super::storage::RedbStorage;
use super::{
    Membership, MembershipChange, ReplicaError, ReplicaStatus, Role, StateMachine, Transport,
    envelope,
};
use membership::ConfWaiters;
use pending::{Pending, Reply};
use snapshot::Build;

/// What handles ask of the owner task.
pub(crate) enum Command<S: StateMachine> {
    /// Propose a command and answer with its output once applied here, or at `deadline`
    /// (monotonic) with what this node knows of it (`pending.rs`).
    Propose {
        command: Vec<u8>,
        deadline: tokio::time::Instant,
        reply: Reply<S::Output>,
    },
    /// Answer once a ReadIndex confirmed by the leader is applied here.
    ReadBarrier { reply: Reply<()> },
    /// A message from a peer (already decoded by the handle).
    Step(Box<Message>),
    /// Change voters/learners; answer with the configuration once applied here.
    ChangeMembership {
        changes: Vec<MembershipChange>,
        reply: Reply<Membership>,
    },
    /// A peer could not be reached.
    Unreachable(u64),
    /// A snapshot sent to a peer was delivered (`true`) or not.
    SnapshotStatus(u64, bool),
    /// Persist, stop, then signal.
    Shutdown(oneshot::Sender<()>),
}

/// Decodes peer bytes into a raft message (never panics on bad input).
pub(crate) fn decode_message(bytes: &[u8]) -> Result<Message, String> {
    Message::parse_from_bytes(bytes).map_err(|e| e.to_string())
}

/// At most this many queued commands are handled before the Ready loop runs again; batching
/// lets one fsync cover many proposals.
const MAX_BATCH: usize = 256;

/// The owner task's state.
pub(crate) struct Driver<S: StateMachine> {
    id: u64,
    node: RawNode<RedbStorage>,
    sm: Arc<RwLock<S>>,
    transport: Arc<dyn Transport>,
    status: watch::Sender<ReplicaStatus>,
    pending: Pending<S::Output>,
    conf_waiters: ConfWaiters,
    /// Configuration as of the applied index (what snapshots record).
    conf_state: ConfState,
    /// Last index applied to the state machine.
    applied: u64,
    /// Entries up to here were committed before this start: applying them is a replay.
    replay_until: u64,
    /// Index of the latest stored snapshot.
    last_snapshot: u64,
    tick: Duration,
    ticks: u64,
    election_ticks: u64,
    read_retry_ticks: u64,
    snapshot_every: u64,
    keep_entries: u64,
    /// The snapshot being serialized off this task, if any (one at a time).
    snapshot_build: Option<Build>,
    /// After a failed build, no new one before this tick.
    snapshot_retry_tick: u64,
    /// Peers we sent a snapshot to, with the tick it was sent at.
    snapshots_in_flight: HashMap<u64, u64>,
    last_leader: u64,
    leader_changes: u64,
    /// Proposals already applied, by origin and request id: a copy proposed again after a
    /// leader change is skipped (see `dedup.rs`). Part of every snapshot.
    applied_requests: Applied,
    /// The leader changed: proposals in flight are to be proposed again.
    repropose_due: bool,
    /// Request ids are `boot << SEQ_BITS | seq`: unique per origin, even across restarts.
    boot: u64,
    seq: u64,
    /// Contexts of ReadIndex requests (a counter of their own, so that request ids of
    /// proposals stay contiguous).
    read_seq: u64,
}

impl<S: StateMachine> Drop for Driver<S> {
    /// However the task ends (even by a panic inside raft-rs or `apply`), a stopped replica
    /// must not keep claiming a leader.
    fn drop(&mut self) {
        self.status.send_modify(|s| {
            s.leader_id = 0;
            s.role = Role::Follower;
        });
    }
}

/// Reports why the owner task ended when it is dropped: the error it stopped with, or, if it
/// unwinds before saying (a panic in raft-rs or `apply`), that it ended unexpectedly.
struct StopNotice(watch::Sender<Option<ReplicaError>>, Option<ReplicaError>);

impl Drop for StopNotice {
    fn drop(&mut self) {
        let why = self.1.take().or_else(|| {
            std::thread::panicking()
                .then(|| ReplicaError::Storage("the replica task ended unexpectedly".into()))
        });
        if let Some(e) = why {
            self.0.send_replace(Some(e));
        }
    }
}

fn role(state: StateRole) -> Role {
    match state {
        StateRole::Leader => Role::Leader,
        StateRole::Follower => Role::Follower,
        StateRole::Candidate => Role::Candidate,
        StateRole::PreCandidate => Role::PreCandidate,
    }
}

fn lock_write<S>(sm: &RwLock<S>) -> std::sync::RwLockWriteGuard<'_, S> {
    sm.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: StateMachine> Driver<S> {
    /// The state machine, shared with handles for reads.
    pub(crate) fn state_machine(&self) -> Arc<RwLock<S>> {
        Arc::clone(&self.sm)
    }

    /// The disk space state of the store, shared with handles.
    pub(crate) fn disk_space(&self) -> Arc<crate::replica::storage::space::DiskSpace> {
        self.node.store().disk_space()
    }

    /// The task body: runs until shutdown, a closed channel or a fatal storage error. A fatal
    /// error (or an unwinding panic) ends up in `stopped`, for `ReplicaHandle::stopped`; a
    /// requested stop leaves it empty.
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::Receiver<Command<S>>,
        stopped: watch::Sender<Option<ReplicaError>>,
    ) {
        let mut notice = StopNotice(stopped, None);
        let mut done = None;
        if let Err(e) = self.run_loop(&mut rx, &mut done).await {
            tracing::error!(error = %e, "replica stopped");
            notice.1 = Some(e);
        }
        self.finish_snapshot_build().await;
        if let Err(e) = self.node.mut_store().sync() {
            tracing::error!(error = %e, "final sync failed");
        }
        // Refuse new commands; dropping queued ones answers their callers with Stopped.
        rx.close();
        while rx.try_recv().is_ok() {}
        self.pending.fail_all();
        self.conf_waiters.fail_all();
        // Close the database before acknowledging, so the directory can be reopened at once.
        drop(self);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    async fn run_loop(
        &mut self,
        rx: &mut mpsc::Receiver<Command<S>>,
        done: &mut Option<oneshot::Sender<()>>,
    ) -> Result<(), ReplicaError> {
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        interval.tick().await; // the first tick completes immediately
        // The replay already ran (`replay`); a sole voter elects itself at once instead of
        // waiting an election timeout. Campaigning only after the replay matters: the replayed
        // log may have added voters.
        let cs = &self.conf_state;
        if cs.voters == [self.id] && cs.voters_outgoing.is_empty() {
            let _ = self.node.campaign();
        }
        loop {
            self.retry_unproposed();
            self.issue_reads();
            self.process_ready()?;
            self.maybe_snapshot();
            self.publish_status();
            let ticking = !self.may_stop_ticking();
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { return Ok(()) };
                    *done = self.handle(cmd);
                    let mut n = 0;
                    while done.is_none() && n < MAX_BATCH {
                        let Ok(cmd) = rx.try_recv() else { break };
                        *done = self.handle(cmd);
                        n += 1;
                    }
                    if done.is_some() {
                        return self.process_ready();
                    }
                }
                _ = interval.tick(), if ticking => self.on_tick(),
                built = snapshot::built(&mut self.snapshot_build) => self.snapshot_built(built)?,
            }
        }
    }

    /// Applies what was committed before this start (the first Ready holds every entry after
    /// the snapshot up to the commit index on disk), so that the state is whole before anyone
    /// reads it. Called once, before the task runs.
    pub(crate) fn replay(&mut self) -> Result<(), ReplicaError> {
        self.process_ready()?;
        self.publish_status();
        Ok(())
    }

    /// Handles one command; returns the shutdown signal if asked to stop.
    fn handle(&mut self, cmd: Command<S>) -> Option<oneshot::Sender<()>> {
        match cmd {
            Command::Propose {
                command,
                deadline,
                reply,
            } => {
                let id = self.next_request_id();
                self.pending.add_proposal(id, reply, deadline);
                self.propose(id, envelope::encode(self.id, id, &command));
            }
            Command::ReadBarrier { reply } => {
                self.read_seq += 1;
                let ctx = self.read_seq;
                self.pending.add_read(ctx, reply);
            }
            Command::Step(m) => {
                // Forwarded proposals are stepped whenever they arrive: their proposer's clock
                // says nothing here (HAM-CONTRACT H5), and a proposer that stopped waiting
                // answered ETIMEDOUT, not EAGAIN, so a late commit contradicts no answer.
                if m.to != self.id {
                    tracing::debug!(to = m.to, "dropping misrouted message");
                } else if let Err(e) = self.node.step(*m) {
                    tracing::debug!(error = %e, "step");
                }
            }
            Command::ChangeMembership { changes, reply } => self.change_membership(changes, reply),
            Command::Unreachable(peer) => self.node.report_unreachable(peer),
            Command::SnapshotStatus(peer, ok) => {
                self.snapshots_in_flight.remove(&peer);
                let status = if ok {
                    SnapshotStatus::Finish
                } else {
                    SnapshotStatus::Failure
                };
                self.node.report_snapshot(peer, status);
            }
            Command::Shutdown(done) => return Some(done),
        }
        None
    }

    /// A request id never used by this node before: 2^40 proposals per start (over three years
    /// at 10,000 a second) and 2^24 starts.
    fn next_request_id(&mut self) -> u64 {
        self.seq = self.seq.wrapping_add(1);
        (self.boot << SEQ_BITS) | (self.seq & ((1 << SEQ_BITS) - 1))
    }

    /// Proposes envelope bytes; raft refuses while no leader is known, so keep those for later.
    fn propose(&mut self, id: u64, data: Vec<u8>) {
        if self.node.raft.leader_id == 0 {
            self.pending.add_unproposed(id, data);
        } else if let Err(e) = self.node.propose(Vec::new(), data.clone()) {
            tracing::debug!(proposal = id, error = %e, "proposal not accepted yet");
            self.pending.add_unproposed(id, data);
        } else {
            if self.node.raft.state == StateRole::Leader {
                let index = self.node.raft.raft_log.last_index();
                self.pending.appended_at(index, id);
            }
            self.pending.in_flight(id, data);
        }
    }

    /// The leader changed: a proposal forwarded to an earlier leader, or appended by this node
    /// while it led, may have been lost with that leadership, or may still commit. Propose every
    /// one still waiting again (same request ids) and let `applied_requests` skip whichever copy
    /// comes second: a write sent as the leader dies, or to a leader that is deposed, succeeds
    /// once a new leader is elected instead of waiting for its timeout.
    fn repropose_in_flight(&mut self) {
        let again = self.pending.take_in_flight();
        if !again.is_empty() {
            tracing::debug!(
                proposals = again.len(),
                "proposing in-flight proposals again to the new leader"
            );
        }
        for (id, data) in again {
            self.propose(id, data);
        }
    }

    /// Proposes again what raft refused while no leader was known.
    fn retry_unproposed(&mut self) {
        if self.node.raft.leader_id != 0 && self.pending.has_unproposed() {
            for (id, data) in self.pending.take_unproposed() {
                self.propose(id, data);
            }
        }
    }

    /// Sends ReadIndex requests when raft can answer them: a follower needs a known leader, a
    /// leader must have committed an entry in its term; otherwise raft drops them silently.
    fn issue_reads(&mut self) {
        let raft = &self.node.raft;
        let ready = raft.leader_id != 0
            && (raft.state != StateRole::Leader || raft.commit_to_current_term());
        if ready && self.pending.has_unconfirmed_reads() {
            for ctx in self
                .pending
                .reads_to_issue(self.ticks, self.read_retry_ticks)
            {
                self.node.read_index(ctx.to_le_bytes().to_vec());
            }
        }
    }

    /// A sole voter that leads and has nothing in progress has no use for ticks (no one to send
    /// heartbeats to, no election to time out, nothing to retry or expire): it sleeps until a
    /// command comes, so an idle one-node HAM does not wake up 20 times a second.
    fn may_stop_ticking(&self) -> bool {
        let cs = &self.conf_state;
        cs.voters == [self.id]
            && cs.learners.is_empty()
            && cs.voters_outgoing.is_empty()
            && cs.learners_next.is_empty()
            && self.node.raft.state == StateRole::Leader
            && self.pending.is_idle()
            && self.conf_waiters.is_idle()
            && self.snapshot_build.is_none()
            && self.snapshots_in_flight.is_empty()
    }

    fn on_tick(&mut self) {
        self.ticks += 1;
        self.node.tick();
        self.pending.expire(tokio::time::Instant::now());
        self.pending.purge_closed();
        self.conf_waiters.purge_closed();
        self.maybe_leave_joint();
        self.expire_snapshots();
    }
}
