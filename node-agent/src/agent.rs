//! The node's agent: it starts and watches this node's processes, detects
//! deaths and missed heartbeats, runs the actions, and proposes what happened
//! to the replicated state (HAM-CONTRACT D3: recovery never waits for
//! consensus; the outcome is replicated afterwards).
//!
//! One task ([`Agent::run`]) owns the table of watched processes; watchers,
//! the heartbeat timer, the sd_notify socket and the API reach it through
//! one channel of [`Msg`]s.

mod actions;
mod daemons;
mod heartbeats;
mod launch;
mod lifecycle;
mod logs;
pub(crate) mod notify;
mod outcomes;
mod pacing;
pub(crate) mod pulses;
mod readopt;
mod recovery;
mod runner;
mod stopping;
mod stops;
mod waitpath;
mod watching;

pub use heartbeats::{HeartbeatView, Heartbeats};
pub use logs::LogDir;
pub use pacing::PacingView;
pub use pulses::Pulses;

use crate::clock::{Clock, SystemClock};
use crate::cluster::Cluster;
use crate::node::Node;
use crate::process::reaper::Reaper;
use ham_core::machine::{EffectBatch, EffectSink};
use ham_core::model::{CLUSTER_NODE_ID, Effect, Errno, ExitInfo, HamError, NodeId, Result, Uid};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tracing::Instrument as _;

/// What actions need to run.
#[derive(Debug)]
pub struct Ctx {
    /// The node (state reads, writes).
    pub node: Node,
    /// The other nodes.
    pub cluster: Cluster,
    /// This node's id.
    pub node_id: NodeId,
    /// The one reaper of our children.
    pub reaper: Arc<Reaper>,
    /// The time source: monotonic for timers, wall clock for labels (H5).
    pub clock: Arc<dyn Clock>,
    /// Heartbeat trackers.
    pub heartbeats: Arc<Heartbeats>,
    /// Open pulse channels.
    pub pulses: Pulses,
    /// Per-entity output logs.
    pub logs: LogDir,
    /// The sd_notify socket path handed to started processes.
    pub notify_socket: PathBuf,
    /// This data directory's agent id, in the marker of every process it starts.
    pub agent_id: String,
    /// Start times of the processes it watches (E11).
    pub records: crate::process::identity::Records,
    /// The entities' cgroups, where the node has a usable hierarchy (L1).
    pub cgroups: Option<crate::process::cgroup::Cgroups>,
}

/// Messages to the agent task.
#[derive(Debug)]
pub enum Msg {
    /// Applied commands with effects for this node.
    Effects(EffectBatch),
    /// A watched process ended.
    Died {
        /// The entity.
        uid: Uid,
        /// The pid that ended.
        pid: u32,
        /// How.
        exit: ExitInfo,
    },
    /// A heartbeat threshold was crossed.
    Missed(heartbeats::Missed),
    /// Recovery outcome `seq` of an entity was committed, or waiting for it
    /// stopped being worth it: its next death may be handled.
    OutcomeSettled {
        /// The entity.
        uid: Uid,
        /// Which outcome.
        seq: u64,
    },
    /// A self-attached entity's connection closed without a detach (E10).
    ConnectionLost(Uid),
    /// `MAINPID=` from the sd_notify socket: process `from` says the entity now runs as `main`.
    MainPid {
        /// The sender.
        from: u32,
        /// The new main pid.
        main: u32,
    },
    /// A daemon's pid was found late (from its pid file) or not at all.
    Adopt {
        /// The entity.
        uid: Uid,
        /// The launcher that exited.
        launcher: u32,
        /// The daemon, or None: treat the launcher's exit as a death.
        daemon: Option<u32>,
    },
    /// What a dead main process left behind is stopped (L1): its recovery may run.
    LeftoversStopped {
        /// The entity.
        uid: Uid,
        /// The main process that died.
        pid: u32,
        /// How it ended.
        exit: ExitInfo,
    },
    /// The delay of a paced restart ended (L4).
    PacedRestart {
        /// The entity.
        uid: Uid,
        /// Which paced death, so a cancelled or replaced one is ignored.
        seq: u64,
    },
}

#[derive(Debug)]
enum Started {
    Waiting(Vec<oneshot::Sender<()>>),
    Done,
}

/// The agent's shared side, used by the API.
#[derive(Debug)]
struct Shared {
    node_id: NodeId,
    heartbeats: Arc<Heartbeats>,
    pulses: Pulses,
    tx: mpsc::UnboundedSender<Msg>,
    started: Mutex<HashMap<Uid, Started>>,
    /// Stop calls waiting for their entity's processes to be gone (L5).
    stopping: Mutex<HashMap<Uid, Vec<oneshot::Sender<()>>>>,
    /// What `.info` shows of each entity's pacing (L4).
    pacing: Mutex<HashMap<Uid, PacingView>>,
}

/// Cheap handle on the agent for the API.
#[derive(Debug, Clone)]
pub struct AgentHandle {
    shared: Arc<Shared>,
}

impl AgentHandle {
    /// This agent's node.
    pub fn node_id(&self) -> NodeId {
        self.shared.node_id
    }

    /// A heartbeat of entity `uid` through the API (H4).
    pub fn heartbeat(&self, uid: Uid) -> Result<()> {
        let missed = self.shared.heartbeats.beat(uid).ok_or_else(|| {
            HamError::new(Errno::Einval, "this entity has no heartbeat on this node")
        })?;
        for m in missed {
            let _ = self.shared.tx.send(Msg::Missed(m));
        }
        Ok(())
    }

    /// Last heartbeat and state of entity `uid`, if this node tracks it.
    pub fn heartbeat_view(&self, uid: Uid) -> Option<HeartbeatView> {
        self.shared.heartbeats.view(uid)
    }

    /// The pacing of entity `uid`'s latest restart, if this node restarted it (L4).
    pub fn pacing_view(&self, uid: Uid) -> Option<PacingView> {
        self.shared
            .pacing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&uid)
            .copied()
    }

    /// The pulse channels of this node.
    pub fn pulses(&self) -> &Pulses {
        &self.shared.pulses
    }

    /// The heartbeat connection of a self-attached entity closed (E10).
    pub fn connection_lost(&self, uid: Uid) {
        let _ = self.shared.tx.send(Msg::ConnectionLost(uid));
    }

    /// Waits (bounded) until the process of a just-attached entity is started
    /// and its pid committed, so the attach call answers with the pid known.
    pub async fn wait_started(&self, uid: Uid, limit: Duration) {
        let rx = {
            let mut started = self
                .shared
                .started
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match started
                .entry(uid)
                .or_insert_with(|| Started::Waiting(Vec::new()))
            {
                Started::Done => return,
                Started::Waiting(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    rx
                }
            }
        };
        let _ = tokio::time::timeout(limit, rx).await;
    }
}

impl AgentHandle {
    /// Before a stop call of entity `uid` is written: the receiver resolves
    /// once the agent has stopped its processes (L5).
    pub fn expect_stopped(&self, uid: Uid) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(uid)
            .or_default()
            .push(tx);
        rx
    }

    /// Before a start call of entity `uid` is written: [`AgentHandle::wait_started`]
    /// then waits for the new process, not for the start of an earlier one.
    pub fn expect_start(&self, uid: Uid) {
        self.shared.forget_started(uid);
    }
}

impl Shared {
    fn mark_stopped(&self, uid: Uid) {
        let waiters = self
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&uid);
        for w in waiters.into_iter().flatten() {
            let _ = w.send(());
        }
    }

    fn mark_started(&self, uid: Uid) {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(Started::Waiting(waiters)) = started.insert(uid, Started::Done) {
            for w in waiters {
                let _ = w.send(());
            }
        }
    }

    fn set_pacing(&self, uid: Uid, view: PacingView) {
        self.pacing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uid, view);
    }

    fn forget_pacing(&self, uid: Uid) {
        self.pacing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&uid);
    }

    fn forget_started(&self, uid: Uid) {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&uid);
    }
}

/// Which node an effect is for; None = every node. The cluster-wide
/// entity's plans reach every agent, and only the leader's runs them.
fn effect_node(e: &Effect) -> Option<NodeId> {
    match e {
        Effect::Spawn { node, .. }
        | Effect::Monitor { node, .. }
        | Effect::Unmonitor { node, .. }
        | Effect::StopNode { node }
        | Effect::Stop { node, .. } => Some(*node),
        Effect::Run(plan) if plan.node == CLUSTER_NODE_ID => None,
        Effect::Run(plan) => Some(plan.node),
        Effect::PeerAddress { .. } => None,
    }
}

/// A sink that passes this node's effects to the agent task without blocking the replica.
pub fn effect_sink(node_id: NodeId, tx: mpsc::UnboundedSender<Msg>) -> EffectSink {
    Box::new(move |mut batch: EffectBatch| {
        batch
            .effects
            .retain(|e| effect_node(e).is_none_or(|n| n == node_id));
        if !batch.effects.is_empty() {
            // The agent task ends only at shutdown; effects after that have no one to act.
            let _ = tx.send(Msg::Effects(batch));
        }
    })
}

/// The channel to the agent task, made before the replica so that effects can flow.
pub fn channel() -> (mpsc::UnboundedSender<Msg>, mpsc::UnboundedReceiver<Msg>) {
    mpsc::unbounded_channel()
}

/// How long re-adoption waits for the leader's commit index before it decides from the
/// local state alone (a node cut off from the quorum still recovers its processes, D3).
const CATCH_UP_LIMIT: Duration = Duration::from_secs(2);

/// Starts the agent: the owner task, the heartbeat timer and the sd_notify socket. The
/// receiver resolves once the agent has re-adopted this node's processes (E11): the node
/// reports ready only then.
pub fn start(
    cluster: Cluster,
    data_dir: &std::path::Path,
    reaper: Arc<Reaper>,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    stop: Arc<Notify>,
) -> anyhow::Result<(AgentHandle, oneshot::Receiver<()>)> {
    let node = cluster.node().clone();
    let node_id = node.identity.id;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let heartbeats = Arc::new(Heartbeats::new(clock.clone()));
    let pulses = Pulses::default();
    let notify_socket = data_dir.join("notify.sock");
    let notify_rx = notify::bind(&notify_socket)?;
    let agent_id = crate::process::identity::agent_id(data_dir)?;
    let ctx = Arc::new(Ctx {
        node,
        cluster,
        node_id,
        reaper,
        clock,
        heartbeats: heartbeats.clone(),
        pulses: pulses.clone(),
        logs: LogDir::new(data_dir.join("logs"))?,
        notify_socket,
        agent_id: agent_id.clone(),
        records: crate::process::identity::Records::open(data_dir)?,
        cgroups: crate::process::cgroup::Cgroups::setup(&agent_id),
    });
    let shared = Arc::new(Shared {
        node_id,
        heartbeats: heartbeats.clone(),
        pulses,
        tx: tx.clone(),
        started: Mutex::default(),
        stopping: Mutex::default(),
        pacing: Mutex::default(),
    });

    let (miss_tx, mut miss_rx) = mpsc::unbounded_channel();
    tokio::spawn(
        async move { heartbeats.run_timer(miss_tx).await }
            .instrument(tracing::info_span!("heartbeat_timer", node = node_id)),
    );
    let relay = tx.clone();
    tokio::spawn(
        async move {
            while let Some(m) = miss_rx.recv().await {
                if relay.send(Msg::Missed(m)).is_err() {
                    return;
                }
            }
        }
        .instrument(tracing::info_span!("heartbeat_relay", node = node_id)),
    );
    tokio::spawn(
        notify::serve(notify_rx, ctx.heartbeats.clone(), tx.clone()).instrument(
            tracing::info_span!("sd_notify", node = node_id, socket = %ctx.notify_socket.display()),
        ),
    );

    let mut agent = lifecycle::Agent::new(ctx, shared.clone(), tx, stop);
    let (readopted, ready) = oneshot::channel();
    let span = tracing::info_span!("agent", node = node_id);
    tokio::spawn(
        async move {
            agent.catch_up(CATCH_UP_LIMIT).await;
            agent.reconcile();
            let _ = readopted.send(());
            agent.run(rx).await;
        }
        .instrument(span),
    );
    Ok((AgentHandle { shared }, ready))
}
