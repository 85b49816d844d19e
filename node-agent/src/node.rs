//! One node's view of the HAM: its identity, its replica of the state, and
//! the write and read paths every API call goes through.

use ham_core::machine::{HamMachine, encode_command_with_id};
use ham_core::model::{
    CLUSTER_NODE_ID, Command, Errno, HamError, HamState, NodeId, Response, Result,
};
use ham_core::replica::{ReplicaError, ReplicaHandle, ReplicaStatus};
use std::time::{SystemTime, UNIX_EPOCH};

/// A node as a call names it, before it is resolved (HAM-CONTRACT N6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSel {
    /// The node serving the call.
    Local,
    /// By id (`_nd`).
    Id(u64),
    /// By name (`_node`); "*" is the cluster-wide context.
    Name(String),
}

/// Replication failures, as the errno a client sees (HAM-CONTRACT M4, M5).
pub fn replica_error(err: ReplicaError) -> HamError {
    match err {
        ReplicaError::NoQuorum => HamError::new(
            Errno::Eagain,
            "the write was not committed and will not be (no quorum in time); try again",
        ),
        ReplicaError::OutcomeUnknown => HamError::new(
            Errno::Etimedout,
            "the write was proposed but not committed in time and may still commit; \
             retry it with the same request id to learn its outcome",
        ),
        ReplicaError::Stopped => HamError::new(Errno::Ebadf, "this HAM is stopping"),
        ReplicaError::NoSpace(m) => HamError::new(
            Errno::Enospc,
            format!("the disk of this HAM is full; the write was not committed: {m}"),
        ),
        other => HamError::new(Errno::Eio, other.to_string()),
    }
}

/// Who this node is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Raft and HAM node id (>= 1).
    pub id: NodeId,
    /// Unique node name.
    pub name: String,
    /// The API address other nodes and clients use.
    pub address: String,
}

/// A running node: identity plus replica.
#[derive(Debug, Clone)]
pub struct Node {
    /// Who we are.
    pub identity: Identity,
    replica: ReplicaHandle<HamMachine>,
}

tokio::task_local! {
    /// The client request id of the API call being served, taken by its first write.
    static REQUEST_ID: std::cell::RefCell<Option<String>>;
}

/// Runs `call` (one API call) with the client request id it came with: the first write it
/// makes carries the id, so that a retry of the call with the same id is applied at most once
/// and answered with the first outcome (HAM-CONTRACT M5).
pub async fn with_request_id<F: std::future::Future>(id: Option<String>, call: F) -> F::Output {
    REQUEST_ID.scope(std::cell::RefCell::new(id), call).await
}

/// The client request id of the call being served, if any and not yet used by a write.
fn take_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.borrow_mut().take())
        .ok()
        .flatten()
}

/// Wall-clock time in ns since the Unix epoch, the only clock reading that
/// enters the state (as a value inside commands).
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Resolves a node selector against `state`, for a call served by node `local`
/// (HAM-CONTRACT N6); an unknown node is EHOSTUNREACH.
pub fn resolve_in(state: &HamState, local: NodeId, sel: &NodeSel) -> Result<NodeId> {
    let unknown = |what: String| HamError::new(Errno::Ehostunreach, what);
    match sel {
        NodeSel::Local => Ok(local),
        NodeSel::Id(CLUSTER_NODE_ID) => Ok(CLUSTER_NODE_ID),
        NodeSel::Id(id) => state
            .nodes
            .contains_key(id)
            .then_some(*id)
            .ok_or_else(|| unknown(format!("no node with id {id}"))),
        NodeSel::Name(name) => state
            .node_by_name(name)
            .ok_or_else(|| unknown(format!("no node named {}", ham_core::model::quoted(name)))),
    }
}

impl Node {
    /// Wraps a started replica.
    pub fn new(identity: Identity, replica: ReplicaHandle<HamMachine>) -> Node {
        Node { identity, replica }
    }

    /// Proposes a command and answers once it is committed and applied here (HAM-CONTRACT
    /// M5): OK when committed; EAGAIN when it was not and never will be; ETIMEDOUT when it
    /// was proposed but not applied in time, and may still commit. The first write of an API
    /// call carries the call's client request id ([`with_request_id`]): if that id was
    /// applied already, the write is not applied again and answers the first outcome.
    pub async fn write(&self, cmd: Command) -> Result<Response> {
        let bytes = encode_command_with_id(&cmd, take_request_id().as_deref())?;
        // The outer error is replication's, the inner one the model's refusal.
        self.replica.propose(bytes).await.map_err(replica_error)?
    }

    /// Reads the local replica (linearizable after a read barrier when asked).
    pub async fn read<R>(&self, linearizable: bool, f: impl FnOnce(&HamState) -> R) -> Result<R> {
        if linearizable {
            self.replica.read_barrier().await.map_err(replica_error)?;
        }
        Ok(self.replica.read(|m| f(m.state())))
    }

    /// Reads the local replica without a barrier.
    pub fn read_now<R>(&self, f: impl FnOnce(&HamState) -> R) -> R {
        self.replica.read(|m| f(m.state()))
    }

    /// Raft's view: leader, term, leader changes.
    pub fn status(&self) -> ReplicaStatus {
        self.replica.status()
    }

    /// Resolves a node selector to a node id (HAM-CONTRACT N6).
    pub fn resolve(&self, sel: &NodeSel) -> Result<NodeId> {
        match sel {
            NodeSel::Local => Ok(self.identity.id),
            NodeSel::Id(CLUSTER_NODE_ID) => Ok(CLUSTER_NODE_ID),
            _ => self.read_now(|s| resolve_in(s, self.identity.id, sel)),
        }
    }

    /// Makes sure the state knows this node under its name and address. EAGAIN means "not
    /// registered yet, call again": also when the write's outcome was unknown (ETIMEDOUT) and
    /// the registration is not seen here yet, as registering is idempotent as a whole.
    pub async fn register(&self) -> Result<()> {
        let registered = || {
            let known = self.read_now(|s| s.nodes.get(&self.identity.id).cloned());
            known
                .is_some_and(|m| m.name == self.identity.name && m.address == self.identity.address)
        };
        if registered() {
            return Ok(());
        }
        let write = self.write(Command::RegisterNode {
            id: self.identity.id,
            name: self.identity.name.clone(),
            address: self.identity.address.clone(),
        });
        match write.await {
            Err(e) if e.errno == Errno::Etimedout && !registered() => Err(HamError::new(
                Errno::Eagain,
                format!("registration not confirmed yet ({e})"),
            )),
            Err(e) if e.errno == Errno::Etimedout => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// A Raft membership change (on the leader); answers with the new membership.
    pub async fn change_membership(
        &self,
        changes: Vec<ham_core::replica::MembershipChange>,
    ) -> Result<ham_core::replica::Membership> {
        self.replica
            .change_membership(changes)
            .await
            .map_err(|e| match e {
                // Another change in flight, or raft refused this one now: try again later.
                ham_core::replica::ReplicaError::Config(m) => HamError::new(Errno::Eagain, m),
                other => replica_error(other),
            })
    }

    /// Stops the replica (after persisting).
    pub async fn shutdown(&self) {
        self.replica.shutdown().await;
    }
}
