//! The agent's owner task: the table of watched processes and the loop that
//! dispatches what happens to them. Watching (`watching`), daemon following
//! (`daemons`), deaths and recovery (`recovery`) and recording outcomes
//! (`outcomes`) are the other parts of the same `impl Agent`.

use super::{Ctx, Msg, Shared};
use ham_core::model::{CLUSTER_NODE_ID, Effect, EntityRef, ExitInfo, HeartbeatSpec, Uid};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc};

/// A process this node watches for an entity.
#[derive(Debug, Clone)]
pub(super) struct Watched {
    pub(super) entity: EntityRef,
    pub(super) pid: u32,
    pub(super) started: tokio::time::Instant,
    /// Our child (exit status known), or a process watched through a pidfd.
    pub(super) child: bool,
    /// The process group its processes share (the started process's own), if
    /// it leads one: what a stop signals besides the cgroup (L1).
    pub(super) group: Option<u32>,
}

/// The owner task's state.
pub struct Agent {
    pub(super) ctx: Arc<Ctx>,
    pub(super) shared: Arc<Shared>,
    pub(super) tx: mpsc::UnboundedSender<Msg>,
    pub(super) stop: Arc<Notify>,
    pub(super) watched: HashMap<Uid, Watched>,
    /// Live processes started for entities before a restart of ham that the state
    /// does not name (yet): adopted if the state asks to start them (E11).
    pub(super) orphans: HashMap<Uid, u32>,
    /// Entities whose last recovery outcome can change the plan of their
    /// next death (something not rearmed, or no restart) and is not
    /// committed yet, with that outcome's number: the next death waits for
    /// it, at most [`OUTCOME_WAIT`].
    pub(super) blocking: HashMap<Uid, u64>,
    pub(super) queued: HashMap<Uid, VecDeque<(u32, ExitInfo)>>,
    /// One committer per entity, so its outcomes reach the state in order.
    pub(super) committers: HashMap<Uid, mpsc::UnboundedSender<super::outcomes::Queued>>,
    pub(super) outcome_seq: u64,
    /// Each entity's latest start, to tell its daemon from other processes (E8, L2, L3).
    pub(super) launches: HashMap<Uid, super::daemons::LaunchRecord>,
    /// Restart pacing (L4): histories and restarts waiting for their delay.
    pub(super) pacer: super::pacing::Pacer,
}

impl Agent {
    pub(super) fn new(
        ctx: Arc<Ctx>,
        shared: Arc<Shared>,
        tx: mpsc::UnboundedSender<Msg>,
        stop: Arc<Notify>,
    ) -> Agent {
        let pacer = super::pacing::Pacer::new(ctx.clock.mono());
        Agent {
            ctx,
            shared,
            tx,
            stop,
            watched: HashMap::new(),
            orphans: HashMap::new(),
            blocking: HashMap::new(),
            queued: HashMap::new(),
            committers: HashMap::new(),
            outcome_seq: 0,
            launches: HashMap::new(),
            pacer,
        }
    }

    /// Runs until the channel closes.
    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                // Replayed effects already happened; only addresses are state to rebuild.
                Msg::Effects(batch) if batch.replaying => batch
                    .effects
                    .into_iter()
                    .filter(|e| matches!(e, Effect::PeerAddress { .. }))
                    .for_each(|e| self.on_effect(e)),
                Msg::Effects(batch) => batch.effects.into_iter().for_each(|e| self.on_effect(e)),
                Msg::Died { uid, pid, exit } => self.on_death(uid, pid, exit),
                Msg::Missed(m) => self.on_missed(m.entity, m.miss),
                Msg::OutcomeSettled { uid, seq } => self.on_settled(uid, seq),
                Msg::ConnectionLost(uid) => self.on_connection_lost(uid),
                Msg::MainPid { from, main } => self.on_main_pid(from, main),
                Msg::Adopt {
                    uid,
                    launcher,
                    daemon,
                } => self.on_adopt(uid, launcher, daemon),
                Msg::LeftoversStopped { uid, pid, exit } => {
                    self.on_leftovers_stopped(uid, pid, exit)
                }
                Msg::PacedRestart { uid, seq } => self.on_paced_restart(uid, seq),
            }
        }
    }

    pub(super) fn heartbeat_of(&self, entity: &EntityRef) -> Option<HeartbeatSpec> {
        self.ctx
            .node
            .read_now(|s| s.entity(entity).ok().and_then(|e| e.heartbeat))
    }

    pub(super) fn on_effect(&mut self, effect: Effect) {
        match effect {
            Effect::Spawn {
                entity,
                argv,
                instance,
                options,
                ..
            } => {
                // An entry applied again after a restart of ham (its commit index had not
                // reached the disk) asks again for a start that already happened (E11).
                if let Some(w) = entity.uid.and_then(|u| self.watched.get(&u))
                    && w.pid > 0
                {
                    tracing::info!(entity = %entity.name, pid = w.pid, "already running; not started again");
                    return;
                }
                if self.adopt_orphan(&entity) {
                    return;
                }
                let hb = self.heartbeat_of(&entity);
                self.start(entity, &argv, instance, hb, &options);
            }
            Effect::Monitor { entity, pid, .. } => {
                let hb = self.heartbeat_of(&entity);
                self.watch(entity.clone(), pid.max(0) as u32, hb, false);
                if let Some(uid) = entity.uid {
                    self.shared.mark_started(uid);
                }
            }
            Effect::Unmonitor { entity, .. } => {
                if let Some(uid) = entity.uid {
                    self.forget(uid);
                }
            }
            Effect::Run(plan) if plan.node == CLUSTER_NODE_ID => {
                // Cluster-wide plans (NODEDOWN, ...) reach every agent; the leader's runs them.
                if self.ctx.node.status().leader_id == self.ctx.node_id {
                    self.run_plan(*plan, HashSet::new());
                }
            }
            Effect::Run(plan) => self.run_plan(*plan, HashSet::new()),
            Effect::PeerAddress { id, address } => {
                if id != self.ctx.node_id {
                    self.ctx.cluster.transport().set_peer(id, address);
                }
            }
            Effect::Stop { entity, policy, .. } => self.stop_entity(entity, policy),
            Effect::StopNode { node } if node == self.ctx.node_id => self.stop.notify_one(),
            Effect::StopNode { .. } => {}
        }
    }
}
