//! The agent's owner task: the table of watched processes and what happens
//! when one starts, dies, daemonizes or misses its heartbeats.

use super::{Ctx, Msg, Shared, runner};
use crate::node::now_ns;
use crate::process::{daemon, identity, pidfd::PidFd, spawn};
use ham_core::model::flags::{HACTIONBREAKONFAIL, HENTITYKEEPONDEATH, HREARMAFTERRESTART};
use ham_core::model::{
    ActionKind, ActionResult, CLUSTER_NODE_ID, Command, Effect, EntityRef, Event, ExitInfo,
    HeartbeatMiss, HeartbeatSpec, Plan, Uid, parse_command_line, plan_for_event,
};
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
}

/// Proposes what this agent did until it commits: a node cut off from the
/// quorum keeps recovering its processes (D3), and the outcome reaches the
/// state once the quorum is back. Only "no quorum" is retried; the model
/// applies a repeated outcome once.
pub(super) async fn commit(node: &crate::node::Node, cmd: Command, what: &str) {
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        match node.write(cmd.clone()).await {
            Ok(_) => return,
            Err(e) if e.errno == ham_core::model::Errno::Eagain => {
                tracing::debug!(error = %e, "no quorum to record {what}; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record {what}");
                return;
            }
        }
    }
}

/// The owner task's state.
pub struct Agent {
    pub(super) ctx: Arc<Ctx>,
    pub(super) shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Msg>,
    stop: Arc<Notify>,
    pub(super) watched: HashMap<Uid, Watched>,
    /// Live processes started for entities before a restart of ham that the state
    /// does not name (yet): adopted if the state asks to start them (E11).
    pub(super) orphans: HashMap<Uid, u32>,
    /// Entities whose last recovery outcome can change the plan of their
    /// next death (something not rearmed, or no restart) and is not
    /// committed yet, with that outcome's number: the next death waits for
    /// it, at most [`OUTCOME_WAIT`].
    blocking: HashMap<Uid, u64>,
    queued: HashMap<Uid, VecDeque<(u32, ExitInfo)>>,
    /// One committer per entity, so its outcomes reach the state in order.
    committers: HashMap<Uid, mpsc::UnboundedSender<(u64, Command)>>,
    outcome_seq: u64,
}

/// How long a death waits for the previous outcome of its entity to commit
/// before it is planned from the state as it is (D3: recovery never waits
/// for consensus; a node cut off from the quorum keeps restarting).
const OUTCOME_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

impl Agent {
    pub(super) fn new(
        ctx: Arc<Ctx>,
        shared: Arc<Shared>,
        tx: mpsc::UnboundedSender<Msg>,
        stop: Arc<Notify>,
    ) -> Agent {
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
            }
        }
    }

    pub(super) fn heartbeat_of(&self, entity: &EntityRef) -> Option<HeartbeatSpec> {
        self.ctx
            .node
            .read_now(|s| s.entity(entity).ok().and_then(|e| e.heartbeat))
    }

    fn on_effect(&mut self, effect: Effect) {
        match effect {
            Effect::Spawn {
                entity,
                argv,
                instance,
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
                self.start(entity, &argv, instance, hb);
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
            Effect::StopNode { node } if node == self.ctx.node_id => self.stop.notify_one(),
            Effect::StopNode { .. } => {}
        }
    }

    fn forget(&mut self, uid: Uid) {
        self.ctx.records.forget(uid);
        if let Some(w) = self.watched.remove(&uid) {
            if w.child {
                self.ctx.reaper.forget(w.pid);
            }
            tracing::info!(entity = %w.entity.name, pid = w.pid, "no longer monitored");
        }
        self.ctx.heartbeats.remove(uid);
        self.shared.forget_started(uid);
        self.queued.remove(&uid);
        self.blocking.remove(&uid);
        // Dropping the sender ends the committer once its queue is written.
        self.committers.remove(&uid);
    }

    /// Starts an entity's process and watches it; proposes its pid.
    pub(super) fn start(
        &mut self,
        entity: EntityRef,
        argv: &[String],
        instance: u64,
        hb: Option<HeartbeatSpec>,
    ) {
        let Some(uid) = entity.uid else { return };
        match self.spawn_child(&entity, argv, instance, hb) {
            Ok(pid) => {
                tracing::info!(entity = %entity.name, pid, instance, "started");
                crate::failpoint::hit("abort-after-spawn");
                let node = self.ctx.node.clone();
                let shared = self.shared.clone();
                let cmd = Command::ProcessStarted {
                    entity,
                    pid: pid.into(),
                    now_ns: now_ns(),
                };
                tokio::spawn(async move {
                    commit(&node, cmd, "a started process").await;
                    shared.mark_started(uid);
                });
            }
            Err(e) => {
                tracing::warn!(entity = %entity.name, error = %e, "cannot start");
                self.shared.mark_started(uid);
                // A start that fails is a death: the conditions decide what follows.
                self.watched.insert(
                    uid,
                    Watched {
                        entity,
                        pid: 0,
                        started: self.ctx.clock.mono(),
                        child: true,
                    },
                );
                let _ = self.tx.send(Msg::Died {
                    uid,
                    pid: 0,
                    exit: ExitInfo::Exited(127),
                });
            }
        }
    }

    /// Spawns a child for an entity and registers its watcher. Heartbeat
    /// periods count from the spawn, on the monotonic clock.
    fn spawn_child(
        &mut self,
        entity: &EntityRef,
        argv: &[String],
        instance: u64,
        hb: Option<HeartbeatSpec>,
    ) -> std::io::Result<u32> {
        let uid = entity.uid.unwrap_or(0);
        let log = self.ctx.logs.open(&entity.name);
        let mut env = vec![
            ("HAM_INSTANCE", instance.to_string()),
            // How a later ham on this data tells this process (and its daemon) as the
            // entity's, also when it died before the pid was recorded (E11).
            (
                identity::MARKER,
                identity::marker_value(&self.ctx.agent_id, uid),
            ),
            (
                "NOTIFY_SOCKET",
                self.ctx.notify_socket.display().to_string(),
            ),
        ];
        if let Some(hb) = hb {
            env.push(("WATCHDOG_USEC", (hb.period_ns / 1000).to_string()));
        }
        let spec = spawn::SpawnSpec {
            argv,
            env,
            log: log.as_ref(),
        };
        let (pid, exited) = self.ctx.reaper.spawn_watched(|| spawn::spawn(&spec))?;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            if let Ok(exit) = exited.await {
                let _ = tx.send(Msg::Died { uid, pid, exit });
            }
        });
        self.watched.insert(
            uid,
            Watched {
                entity: entity.clone(),
                pid,
                started: self.ctx.clock.mono(),
                child: true,
            },
        );
        if let Some(hb) = hb {
            // A (re)started process gets a fresh tracker.
            self.ctx.heartbeats.add(entity.clone(), pid, hb);
        }
        self.ctx.records.remember(uid, pid);
        Ok(pid)
    }

    /// Watches a process we did not just start: our child through the
    /// reaper (exit status known), any other through a pidfd.
    pub(super) fn watch(
        &mut self,
        entity: EntityRef,
        pid: u32,
        hb: Option<HeartbeatSpec>,
        adopted: bool,
    ) {
        let Some(uid) = entity.uid else { return };
        self.ctx.records.remember(uid, pid);
        let tx = self.tx.clone();
        let ours = adopted || daemon::parent_of(pid) == Some(std::process::id());
        if ours {
            let exited = self.ctx.reaper.watch(pid);
            tokio::spawn(async move {
                if let Ok(exit) = exited.await {
                    let _ = tx.send(Msg::Died { uid, pid, exit });
                }
            });
        } else {
            match PidFd::open(pid) {
                Ok(fd) => {
                    tokio::spawn(async move {
                        if fd.exited().await.is_ok() {
                            let _ = tx.send(Msg::Died {
                                uid,
                                pid,
                                exit: ExitInfo::Unknown,
                            });
                        }
                    });
                }
                // Already gone: that is a death too.
                Err(_) => {
                    let _ = tx.send(Msg::Died {
                        uid,
                        pid,
                        exit: ExitInfo::Unknown,
                    });
                }
            }
        }
        tracing::info!(entity = %entity.name, pid, "monitoring");
        self.watched.insert(
            uid,
            Watched {
                entity: entity.clone(),
                pid,
                started: self.ctx.clock.mono(),
                child: ours,
            },
        );
        if let Some(hb) = hb {
            if self.ctx.heartbeats.tracks(uid) {
                self.ctx.heartbeats.set_pid(uid, pid);
            } else {
                // Periods count from now, when this agent begins watching, on
                // its monotonic clock (H5; see Heartbeats::add).
                self.ctx.heartbeats.add(entity, pid, hb);
            }
        }
    }

    fn on_death(&mut self, uid: Uid, pid: u32, exit: ExitInfo) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        if w.pid != pid {
            return; // an older process of this entity
        }
        if w.child
            && exit == ExitInfo::Exited(0)
            && self.ctx.clock.mono() - w.started < daemon::DAEMONIZE_WINDOW
            && self.follow_daemon(&w)
        {
            return;
        }
        if self.blocking.contains_key(&uid) {
            self.queued.entry(uid).or_default().push_back((pid, exit));
            return;
        }
        self.recover(w, exit);
    }

    /// E8: a launcher exited 0 soon after its start; look for the daemon it left.
    /// Returns true when the death is handled (followed, or deferred to the pid file).
    fn follow_daemon(&mut self, w: &Watched) -> bool {
        let uid = w.entity.uid.unwrap_or(0);
        let pidfile = self
            .ctx
            .node
            .read_now(|s| s.entity(&w.entity).ok().and_then(|e| e.pidfile.clone()));
        if let Some(path) = pidfile {
            if let Some(daemon) = daemon::read_pidfile(&path)
                .filter(|&p| daemon::parent_of(p) == Some(std::process::id()))
            {
                self.on_adopt(uid, w.pid, Some(daemon));
                return true;
            }
            // The pid file may be written after the launcher exits: wait for it, bounded.
            let tx = self.tx.clone();
            let launcher = w.pid;
            tokio::spawn(async move {
                let appeared = super::waitpath::wait_for_path(
                    std::path::Path::new(&path),
                    std::time::Duration::from_secs(5),
                )
                .await;
                let daemon = appeared
                    .ok()
                    .filter(|&a| a)
                    .and_then(|_| daemon::read_pidfile(&path));
                let _ = tx.send(Msg::Adopt {
                    uid,
                    launcher,
                    daemon,
                });
            });
            return true;
        }
        let mut candidates = daemon::children_of_self();
        for p in self.ctx.reaper.spawned() {
            candidates.remove(&p);
        }
        for other in self.watched.values() {
            candidates.remove(&other.pid);
        }
        match candidates.len() {
            1 => {
                let daemon = candidates.into_iter().next();
                self.on_adopt(uid, w.pid, daemon);
                true
            }
            0 => false,
            n => {
                tracing::warn!(entity = %w.entity.name, candidates = n, "launcher left several processes; name the daemon with a pid file");
                false
            }
        }
    }

    fn on_adopt(&mut self, uid: Uid, launcher: u32, daemon: Option<u32>) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        if w.pid != launcher {
            return;
        }
        match daemon {
            Some(pid) => {
                tracing::info!(entity = %w.entity.name, launcher, daemon = pid, "following daemon");
                let hb = self.heartbeat_of(&w.entity);
                self.watch(w.entity.clone(), pid, hb, true);
                let node = self.ctx.node.clone();
                let cmd = Command::ProcessStarted {
                    entity: w.entity,
                    pid: pid.into(),
                    now_ns: now_ns(),
                };
                tokio::spawn(async move { commit(&node, cmd, "a daemon's pid").await });
            }
            None => self.recover(w, ExitInfo::Exited(0)),
        }
    }

    fn on_main_pid(&mut self, from: u32, main: u32) {
        let Some((&uid, w)) = self.watched.iter().find(|(_, w)| w.pid == from) else {
            return;
        };
        let launcher = w.pid;
        self.on_adopt(uid, launcher, Some(main));
    }

    fn on_connection_lost(&mut self, uid: Uid) {
        let Some(w) = self.watched.get(&uid).cloned() else {
            return;
        };
        tracing::warn!(entity = %w.entity.name, "heartbeat connection closed without a detach");
        self.recover(w, ExitInfo::Unknown);
    }

    fn on_settled(&mut self, uid: Uid, seq: u64) {
        if self.blocking.get(&uid) != Some(&seq) {
            return; // an older outcome, or already settled
        }
        self.blocking.remove(&uid);
        let next = self.queued.get_mut(&uid).and_then(VecDeque::pop_front);
        if let Some((pid, exit)) = next
            && let Some(w) = self.watched.get(&uid).cloned().filter(|w| w.pid == pid)
        {
            self.recover(w, exit);
        }
    }

    /// A death: plan from the local replica, restart first, run the rest,
    /// propose the outcome (HAM-CONTRACT D3, A3, K4, E7).
    pub(super) fn recover(&mut self, w: Watched, exit: ExitInfo) {
        let uid = w.entity.uid.unwrap_or(0);
        let died_ns = now_ns();
        let plan = self
            .ctx
            .node
            .read_now(|s| plan_for_event(s, &w.entity, Event::Death(exit)));
        let Ok(mut plan) = plan else {
            self.forget(uid);
            return;
        };
        tracing::info!(entity = %w.entity.name, pid = w.pid, ?exit, "died");
        let mut results = Vec::new();
        let mut broken = HashSet::new();
        let mut restarted = None;
        if let Some(step) = plan.restart.take() {
            let at = now_ns();
            match self.restart(&w, &step.action.kind) {
                Ok(pid) => restarted = Some((i64::from(pid), at)),
                Err(why) => {
                    tracing::warn!(action = %step.path, %why, "restart failed");
                    if step.action.has(HACTIONBREAKONFAIL) {
                        broken.insert(step.condition().uid.unwrap_or(0));
                    }
                    let ctx = self.ctx.clone();
                    let (subject, fail, path) = (
                        w.entity.clone(),
                        step.action.fail.clone(),
                        step.path.clone(),
                    );
                    tokio::spawn(async move {
                        runner::run_fail_list(&ctx, &path, &subject, &fail).await
                    });
                }
            }
            results.push(ActionResult {
                action: step.at.clone(),
                ok: restarted.is_some(),
            });
        }
        if restarted.is_none() {
            let keep = self
                .ctx
                .node
                .read_now(|s| s.entity(&w.entity).is_ok_and(|e| e.has(HENTITYKEEPONDEATH)));
            if keep {
                if let Some(m) = self.watched.get_mut(&uid) {
                    m.pid = 0;
                }
            } else {
                self.forget(uid);
            }
        }
        // The outcome changes the next death's plan when something goes
        // (A13 pruning of un-rearmed objects, E7 removal, a failed restart).
        let changes_plans = restarted.is_none()
            || results.iter().any(|r| !r.ok)
            || self.ctx.node.read_now(|s| {
                s.entity(&w.entity).is_ok_and(|e| {
                    e.conditions.iter().any(|c| {
                        !c.has(HREARMAFTERRESTART)
                            || c.actions.iter().any(|a| !a.has(HREARMAFTERRESTART))
                    })
                })
            });
        self.propose_outcome(
            w.entity.clone(),
            exit,
            died_ns,
            restarted,
            results,
            changes_plans,
        );
        if restarted.is_some() {
            // K4: RESTART triggers after the restart succeeded; its actions run with the death's.
            if let Ok(after) = self
                .ctx
                .node
                .read_now(|s| plan_for_event(s, &w.entity, Event::Restart))
            {
                self.run_plan(after, HashSet::new());
            }
        }
        self.run_plan(plan, broken);
    }

    /// Starts the restart line; the new process replaces the old one in the table.
    fn restart(&mut self, w: &Watched, kind: &ActionKind) -> Result<u32, String> {
        let ActionKind::Restart { command_line } = kind else {
            return Err("not a restart action".into());
        };
        let argv = parse_command_line(command_line).map_err(|e| e.message)?;
        let (instance, hb) = self.ctx.node.read_now(|s| {
            s.entity(&w.entity)
                .map(|e| (e.stats.instance + 1, e.heartbeat))
                .unwrap_or((1, None))
        });
        let pid = self
            .spawn_child(&w.entity, &argv, instance, hb)
            .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
        tracing::info!(entity = %w.entity.name, pid, instance, "restarted");
        Ok(pid)
    }

    fn propose_outcome(
        &mut self,
        entity: EntityRef,
        exit: ExitInfo,
        died_ns: i64,
        restarted: Option<(i64, i64)>,
        results: Vec<ActionResult>,
        changes_plans: bool,
    ) {
        let uid = entity.uid.unwrap_or(0);
        self.outcome_seq += 1;
        let seq = self.outcome_seq;
        if changes_plans {
            self.blocking.insert(uid, seq);
            let tx = self.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OUTCOME_WAIT).await;
                let _ = tx.send(Msg::OutcomeSettled { uid, seq });
            });
        }
        let cmd = Command::RecoveryOutcome {
            entity,
            exit,
            died_ns,
            restarted,
            results,
        };
        if !self.watched.contains_key(&uid) {
            // The entity is gone (E7): nothing follows this outcome.
            let ctx = self.ctx.clone();
            tokio::spawn(async move { commit(&ctx.node, cmd, "a recovery").await });
            return;
        }
        let committer = self.committers.entry(uid).or_insert_with(|| {
            let (ctx, tx) = (self.ctx.clone(), self.tx.clone());
            let (sender, mut rx) = mpsc::unbounded_channel::<(u64, Command)>();
            tokio::spawn(async move {
                while let Some((seq, cmd)) = rx.recv().await {
                    commit(&ctx.node, cmd, "a recovery").await;
                    let _ = tx.send(Msg::OutcomeSettled { uid, seq });
                }
            });
            sender
        });
        // The committer ends only when this sender is dropped (forget).
        let _ = committer.send((seq, cmd));
    }

    fn on_missed(&mut self, entity: EntityRef, miss: HeartbeatMiss) {
        tracing::warn!(entity = %entity.name, ?miss, "missed heartbeats");
        let event = match miss {
            HeartbeatMiss::Low => Event::HbeatMissedLow,
            HeartbeatMiss::High => Event::HbeatMissedHigh,
        };
        if let Ok(plan) = self
            .ctx
            .node
            .read_now(|s| plan_for_event(s, &entity, event))
        {
            self.run_plan(plan, HashSet::new());
        }
    }

    /// Runs a plan's executors in the background and proposes their results.
    fn run_plan(&self, plan: Plan, broken: HashSet<Uid>) {
        if plan.executors.is_empty() {
            return;
        }
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let node = ctx.node.clone();
            let results =
                runner::run_executors(ctx, plan.entity.clone(), plan.executors, broken).await;
            if !results.is_empty() {
                commit(&node, Command::ActionsRan { results }, "action results").await;
            }
        });
    }
}
