//! Calls that change the state: each becomes one command through the log.

use super::Calls;
use super::convert::{self as cv, node_sel};
use crate::node::now_ns;
use ham_core::model::flags::*;
use ham_core::model::{self as m, CLUSTER_NODE_ID, Command, Response, Result, einval};
use ham_proto::ham::v1 as pb;

fn entity_of(r: Response) -> Result<pb::EntityHandle> {
    match r {
        Response::Entity(e) => Ok(cv::entity_handle(&e)),
        other => Err(unexpected(other)),
    }
}

fn condition_of(r: Response) -> Result<pb::ConditionHandle> {
    match r {
        Response::Condition(c) => Ok(cv::condition_handle(&c)),
        other => Err(unexpected(other)),
    }
}

fn action_of(r: Response) -> Result<pb::ActionHandle> {
    match r {
        Response::Action(a) => Ok(cv::action_handle(&a)),
        other => Err(unexpected(other)),
    }
}

fn flags_of(r: Response) -> Result<pb::ControlReply> {
    match r {
        Response::Flags(flags) => Ok(pb::ControlReply { flags }),
        other => Err(unexpected(other)),
    }
}

/// A node reference by id, for calls forwarded to that node.
pub fn id_ref(node: u64) -> pb::NodeRef {
    pb::NodeRef {
        node: Some(pb::node_ref::Node::Id(node)),
    }
}

fn unexpected(r: Response) -> m::HamError {
    m::HamError::new(m::Errno::Eio, format!("unexpected answer {r:?}"))
}

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Calls {
    fn local(&self) -> u64 {
        self.node.identity.id
    }

    async fn done(&self, cmd: Command) -> Result<pb::Empty> {
        self.node.write(cmd).await.map(|_| pb::Empty {})
    }

    pub async fn attach(&self, r: pb::AttachRequest) -> Result<pb::EntityHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        // E1: <= 0 means "start the command line"; anything else must be a Linux pid.
        cv::pid("attach pid", r.pid, false)?;
        // E1: a pid must name a running process. Only this node can tell for
        // its own pids; another node's agent sees a missing one as a death.
        if r.pid > 0 && node == self.local() && !crate::process::signal::exists(r.pid) {
            return Err(m::HamError::new(
                m::Errno::Enoent,
                format!("no process with pid {}", r.pid),
            ));
        }
        // L7, P4: user and group resolved here, on the node serving the call.
        let options = super::attach::process_options(r.process.as_ref())?;
        // P4: only an admin chooses a user other than its own.
        crate::auth::check_run_as(options.run_as.uid(), options.run_as.gid())?;
        // L6: every part converted (and refused, named) before anything is proposed.
        let conditions = self.attach_conditions(node, &r.conditions)?;
        let pacing = cv::pacing(
            r.pacing_burst,
            r.pacing_window_ms,
            r.pacing_min_delay_ms,
            r.pacing_max_delay_ms,
            r.pacing_off,
        )?;
        // P4: stopping or recovering an attached process signals it.
        if r.pid > 0 {
            crate::auth::check_signal_target(node == self.local(), r.pid)?;
        }
        let cmd = Command::Attach {
            node,
            name: r.name,
            pid: r.pid,
            command_line: some(&r.command_line),
            flags: r.flags,
            pidfile: some(&r.pidfile),
            heartbeat: Some(m::HeartbeatSpec {
                period_ns: r.period_ns,
                hpdl: r.hpdl,
                hpdh: r.hpdh,
            }),
            now_ns: now_ns(),
            options,
            conditions,
            stop: cv::stop_policy(r.warn_signal, r.grace_ms, r.kill_mode)?,
            pacing,
        };
        let handle = entity_of(self.node.write(cmd).await?)?;
        if handle.node_id == self.local() {
            // E2: answer once the started process's pid is in the state.
            let limit = std::time::Duration::from_secs(5);
            self.agent.wait_started(handle.uid, limit).await;
        }
        Ok(handle)
    }

    pub async fn attach_self(&self, r: pb::AttachSelfRequest) -> Result<pb::EntityHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        cv::pid("self-attach pid", r.pid, true)?;
        // P4: stopping or recovering an attached process signals it.
        crate::auth::check_signal_target(node == self.local(), r.pid)?;
        let cmd = Command::AttachSelf {
            node,
            name: r.name,
            pid: r.pid,
            period_ns: r.period_ns,
            hpdl: r.hpdl,
            hpdh: r.hpdh,
            flags: r.flags,
            now_ns: now_ns(),
        };
        let handle = entity_of(self.node.write(cmd).await?)?;
        if handle.node_id == self.local() {
            // Answer once the agent watches the process and tracks its
            // heartbeat, so the caller's first heartbeat is accepted.
            self.agent
                .wait_started(handle.uid, std::time::Duration::from_secs(5))
                .await;
        }
        Ok(handle)
    }

    pub async fn detach(&self, r: pb::DetachRequest) -> Result<pb::Empty> {
        if r.flags != 0 {
            return Err(einval(format!("detach takes no flags, got {:#x}", r.flags)));
        }
        let entity = match r.target {
            Some(pb::detach_request::Target::Handle(h)) => cv::entity_ref(Some(&h), self.local())?,
            Some(pb::detach_request::Target::ByName(n)) => m::EntityRef {
                node: self.node.resolve(&node_sel(n.node.as_ref()))?,
                name: n.name,
                uid: None,
            },
            None => return Err(einval("detach needs a handle or a name")),
        };
        self.done(Command::Detach { entity }).await
    }

    pub async fn entity(&self, r: pb::EntityRequest) -> Result<pb::EntityHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        let pacing = cv::pacing(
            r.pacing_burst,
            r.pacing_window_ms,
            r.pacing_min_delay_ms,
            r.pacing_max_delay_ms,
            r.pacing_off,
        )?;
        let cmd = Command::Placeholder {
            node,
            name: r.name,
            flags: r.flags,
            now_ns: now_ns(),
            pacing,
        };
        entity_of(self.node.write(cmd).await?)
    }

    async fn add_condition(
        &self,
        entity: Option<&pb::EntityHandle>,
        name: String,
        ctype: m::ConditionType,
        flags: u32,
        filter: m::ConditionFilter,
    ) -> Result<pb::ConditionHandle> {
        let entity = cv::entity_ref(entity, self.local())?;
        let cmd = Command::AddCondition {
            entity,
            name,
            ctype,
            flags,
            filter,
        };
        condition_of(self.node.write(cmd).await?)
    }

    pub async fn condition(&self, r: pb::ConditionRequest) -> Result<pb::ConditionHandle> {
        let ctype = cv::condition_type(r.condition_type)?;
        if matches!(ctype, m::ConditionType::Raise | m::ConditionType::State) {
            return Err(einval(
                "RAISE and STATE conditions are added with ConditionRaise/ConditionState",
            ));
        }
        self.add_condition(
            r.entity.as_ref(),
            r.name,
            ctype,
            r.flags,
            m::ConditionFilter::None,
        )
        .await
    }

    pub async fn condition_raise(
        &self,
        r: pb::ConditionRaiseRequest,
    ) -> Result<pb::ConditionHandle> {
        let filter = m::ConditionFilter::Raise(m::RaiseFilter {
            rtype: r.rtype.into(),
            rclass: r.rclass.into(),
            rseverity: r.rseverity.into(),
        });
        let t = m::ConditionType::Raise;
        self.add_condition(r.entity.as_ref(), r.name, t, r.flags, filter)
            .await
    }

    pub async fn condition_state(
        &self,
        r: pb::ConditionStateRequest,
    ) -> Result<pb::ConditionHandle> {
        let f = r.flags;
        let from = cv::state_match(
            r.from_state,
            f & HCONDSTATEFROMSET != 0,
            f & HCONDSTATEFROMINV != 0,
        )?;
        let to = cv::state_match(
            r.to_state,
            f & HCONDSTATETOSET != 0,
            f & HCONDSTATETOINV != 0,
        )?;
        let filter = m::ConditionFilter::State { from, to };
        let t = m::ConditionType::State;
        self.add_condition(r.entity.as_ref(), r.name, t, f, filter)
            .await
    }

    pub async fn condition_remove(&self, r: pb::ConditionHandle) -> Result<pb::Empty> {
        let condition = cv::condition_ref(Some(&r), self.local())?;
        self.done(Command::RemoveCondition { condition }).await
    }

    /// Adds an action with its kind built: to a condition (an action) or
    /// to an action (an action-fail), whichever `on` names.
    async fn hang<H: Hook>(
        &self,
        on: Option<&H>,
        name: String,
        flags: u32,
        kind: m::ActionKind,
    ) -> Result<H::Reply> {
        let cmd = H::command(on, self.local(), name, flags, kind)?;
        H::reply(self.node.write(cmd).await?)
    }

    /// The one path of the kinds that are both actions and action-fails:
    /// the parameters become a kind first (so a bad one is refused before
    /// the handle is looked at), then the action hangs on `on`.
    async fn add<H: Hook, P: Params>(
        &self,
        on: Option<H>,
        name: String,
        flags: u32,
        params: Option<P>,
    ) -> Result<H::Reply> {
        let entity_node = H::entity_node(on.as_ref(), self.local());
        let kind = P::kind(self, params.as_ref(), entity_node)?;
        self.hang(on.as_ref(), name, flags, kind).await
    }

    pub async fn action_restart(&self, r: pb::ActionRestartRequest) -> Result<pb::ActionHandle> {
        let p = r
            .params
            .ok_or_else(|| einval("missing restart parameters"))?;
        let kind = m::ActionKind::Restart {
            command_line: p.command_line,
        };
        self.hang(r.condition.as_ref(), r.name, r.flags, kind).await
    }

    pub async fn action_heartbeat_healthy(
        &self,
        r: pb::ActionHeartbeatHealthyRequest,
    ) -> Result<pb::ActionHandle> {
        let kind = m::ActionKind::HeartbeatHealthy;
        self.hang(r.condition.as_ref(), r.name, r.flags, kind).await
    }

    pub async fn action_execute(&self, r: pb::ActionExecuteRequest) -> Result<pb::ActionHandle> {
        self.add(r.condition, r.name, r.flags, r.params).await
    }

    pub async fn action_fail_execute(
        &self,
        r: pb::ActionFailExecuteRequest,
    ) -> Result<pb::ActionFailRef> {
        self.add(r.action, r.name, r.flags, r.params).await
    }

    pub async fn action_waitfor(&self, r: pb::ActionWaitforRequest) -> Result<pb::ActionHandle> {
        self.add(r.condition, r.name, r.flags, r.params).await
    }

    pub async fn action_fail_waitfor(
        &self,
        r: pb::ActionFailWaitforRequest,
    ) -> Result<pb::ActionFailRef> {
        self.add(r.action, r.name, r.flags, r.params).await
    }

    pub async fn action_notify_pulse(
        &self,
        r: pb::ActionNotifyPulseRequest,
    ) -> Result<pb::ActionHandle> {
        self.add(r.condition, r.name, r.flags, r.params).await
    }

    pub async fn action_fail_notify_pulse(
        &self,
        r: pb::ActionFailNotifyPulseRequest,
    ) -> Result<pb::ActionFailRef> {
        self.add(r.action, r.name, r.flags, r.params).await
    }

    pub async fn action_notify_signal(
        &self,
        r: pb::ActionNotifySignalRequest,
    ) -> Result<pb::ActionHandle> {
        self.add(r.condition, r.name, r.flags, r.params).await
    }

    pub async fn action_fail_notify_signal(
        &self,
        r: pb::ActionFailNotifySignalRequest,
    ) -> Result<pb::ActionFailRef> {
        self.add(r.action, r.name, r.flags, r.params).await
    }

    pub async fn action_log(&self, r: pb::ActionLogRequest) -> Result<pb::ActionHandle> {
        self.add(r.condition, r.name, r.flags, r.params).await
    }

    pub async fn action_fail_log(&self, r: pb::ActionFailLogRequest) -> Result<pb::ActionFailRef> {
        self.add(r.action, r.name, r.flags, r.params).await
    }

    /// Resolves the target node of a notification: by default the node of
    /// the entity whose condition holds the action; the cluster as a whole is no target.
    fn notify_node(&self, target: Option<&pb::NodeRef>, entity_node: u64) -> Result<u64> {
        let node = match node_sel(target) {
            cv::NodeSel::Local if entity_node != CLUSTER_NODE_ID && entity_node != 0 => entity_node,
            sel => self.node.resolve(&sel)?,
        };
        if node == CLUSTER_NODE_ID {
            return Err(einval("a notification targets one node, not \"*\""));
        }
        Ok(node)
    }

    pub async fn action_remove(&self, r: pb::ActionHandle) -> Result<pb::Empty> {
        let action = cv::action_ref(Some(&r), self.local())?;
        self.done(Command::RemoveAction { action }).await
    }

    pub async fn action_fail_remove(&self, r: pb::ActionFailRef) -> Result<pb::Empty> {
        let action = cv::action_ref(r.action.as_ref(), self.local())?;
        self.done(Command::RemoveActionFail {
            action,
            name: r.name,
        })
        .await
    }

    async fn control(
        &self,
        target: m::ObjectRef,
        command: i32,
        flags: u32,
    ) -> Result<pb::ControlReply> {
        let op = cv::control_op(command)?;
        flags_of(
            self.node
                .write(Command::Control { target, op, flags })
                .await?,
        )
    }

    pub async fn entity_control(&self, r: pb::EntityControlRequest) -> Result<pb::ControlReply> {
        let target = m::ObjectRef::Entity(cv::entity_ref(r.entity.as_ref(), self.local())?);
        self.control(target, r.command, r.flags).await
    }

    pub async fn condition_control(
        &self,
        r: pb::ConditionControlRequest,
    ) -> Result<pb::ControlReply> {
        let target =
            m::ObjectRef::Condition(cv::condition_ref(r.condition.as_ref(), self.local())?);
        self.control(target, r.command, r.flags).await
    }

    pub async fn action_control(&self, r: pb::ActionControlRequest) -> Result<pb::ControlReply> {
        let target = m::ObjectRef::Action(cv::action_ref(r.action.as_ref(), self.local())?);
        self.control(target, r.command, r.flags).await
    }

    pub async fn entity_condition_raise(
        &self,
        r: pb::EntityConditionRaiseRequest,
    ) -> Result<pb::Empty> {
        let entity = cv::entity_ref(r.entity.as_ref(), self.local())?;
        let (rtype, rclass, rseverity) = (r.rtype.into(), r.rclass.into(), r.rseverity.into());
        self.done(Command::Raise {
            entity,
            rtype,
            rclass,
            rseverity,
        })
        .await
    }

    pub async fn entity_condition_state(
        &self,
        r: pb::EntityConditionStateRequest,
    ) -> Result<pb::Empty> {
        let entity = cv::entity_ref(r.entity.as_ref(), self.local())?;
        self.done(Command::ReportState {
            entity,
            state: r.state,
        })
        .await
    }

    pub async fn verbose(&self, r: pb::VerboseRequest) -> Result<pb::VerboseReply> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        if node == CLUSTER_NODE_ID {
            return Err(einval("verbosity belongs to one node's HAM, not to \"*\""));
        }
        let op = cv::verbose_op(r.op)?;
        if op == m::VerboseOp::Get {
            // A read needs no log entry.
            let v = self
                .node
                .read(false, |s| s.context(node).map(|c| c.verbosity))
                .await??;
            return Ok(pb::VerboseReply {
                verbosity: v.try_into().unwrap_or(i32::MAX),
            });
        }
        let cmd = Command::Verbose {
            node,
            op,
            value: r.value.into(),
        };
        match self.node.write(cmd).await? {
            Response::Verbosity(v) => Ok(pb::VerboseReply {
                verbosity: v.try_into().unwrap_or(i32::MAX),
            }),
            other => Err(unexpected(other)),
        }
    }

    pub async fn stop(&self, r: pb::StopRequest) -> Result<pb::Empty> {
        if r.cluster {
            return self.done(Command::StopCluster).await;
        }
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        if node == CLUSTER_NODE_ID {
            return Err(einval(
                "stopping every node needs the cluster flag (hamctrl stop --cluster)",
            ));
        }
        if node != self.local() {
            // X3: `hamctrl -node NAME -stop` stops that node's HAM.
            let req = pb::StopRequest {
                node: Some(id_ref(node)),
                cluster: false,
            };
            return crate::net::cluster::call(node, self.cluster.ham_of(node)?.stop(req)).await;
        }
        tracing::info!("stop requested through the API");
        self.stop.notify_one();
        Ok(pb::Empty {})
    }
}

/// What an action hangs on: a condition (the action is an action) or an
/// action (it is an action-fail), with the command that adds it and its answer.
trait Hook {
    type Reply;
    /// The node of the entity the action belongs to (`local` if `on` names none).
    fn entity_node(on: Option<&Self>, local: u64) -> u64;
    fn command(
        on: Option<&Self>,
        local: u64,
        name: String,
        flags: u32,
        kind: m::ActionKind,
    ) -> Result<Command>;
    fn reply(r: Response) -> Result<Self::Reply>;
}

impl Hook for pb::ConditionHandle {
    type Reply = pb::ActionHandle;

    fn entity_node(on: Option<&Self>, local: u64) -> u64 {
        cv::condition_ref(on, local).map_or(local, |c| c.entity.node)
    }

    fn command(
        on: Option<&Self>,
        local: u64,
        name: String,
        flags: u32,
        kind: m::ActionKind,
    ) -> Result<Command> {
        Ok(Command::AddAction {
            condition: cv::condition_ref(on, local)?,
            name,
            flags,
            kind,
        })
    }

    fn reply(r: Response) -> Result<pb::ActionHandle> {
        action_of(r)
    }
}

impl Hook for pb::ActionHandle {
    type Reply = pb::ActionFailRef;

    fn entity_node(on: Option<&Self>, local: u64) -> u64 {
        cv::action_ref(on, local).map_or(local, |a| a.condition.entity.node)
    }

    fn command(
        on: Option<&Self>,
        local: u64,
        name: String,
        flags: u32,
        kind: m::ActionKind,
    ) -> Result<Command> {
        Ok(Command::AddActionFail {
            action: cv::action_ref(on, local)?,
            name,
            flags,
            kind,
        })
    }

    fn reply(r: Response) -> Result<pb::ActionFailRef> {
        match r {
            Response::ActionFail(a, name) => Ok(pb::ActionFailRef {
                action: Some(cv::action_handle(&a)),
                name,
            }),
            other => Err(unexpected(other)),
        }
    }
}

/// The parameters of a kind that is both an action and an action-fail, and
/// the kind they make. `entity_node` is the node of the entity the action
/// belongs to: the default target of a notification.
pub(super) trait Params {
    fn kind(calls: &Calls, p: Option<&Self>, entity_node: u64) -> Result<m::ActionKind>;
}

impl Params for pb::ExecuteAction {
    fn kind(_: &Calls, p: Option<&Self>, _: u64) -> Result<m::ActionKind> {
        cv::execute(p)
    }
}

impl Params for pb::WaitforAction {
    fn kind(_: &Calls, p: Option<&Self>, _: u64) -> Result<m::ActionKind> {
        cv::waitfor(p)
    }
}

impl Params for pb::LogAction {
    fn kind(_: &Calls, p: Option<&Self>, _: u64) -> Result<m::ActionKind> {
        cv::log(p)
    }
}

impl Params for pb::NotifyPulseAction {
    fn kind(calls: &Calls, p: Option<&Self>, entity_node: u64) -> Result<m::ActionKind> {
        let p = p.ok_or_else(|| einval("missing pulse parameters"))?;
        Ok(m::ActionKind::NotifyPulse {
            node: calls.notify_node(p.target_node.as_ref(), entity_node)?,
            pid: cv::pid("pulse target pid", p.pid, true)?,
            chid: p.chid,
            code: p.code,
            value: p.value,
        })
    }
}

impl Params for pb::NotifySignalAction {
    fn kind(calls: &Calls, p: Option<&Self>, entity_node: u64) -> Result<m::ActionKind> {
        let p = p.ok_or_else(|| einval("missing signal parameters"))?;
        let node = calls.notify_node(p.target_node.as_ref(), entity_node)?;
        let pid = cv::pid("signal target pid", p.pid, true)?;
        // P4: a non-admin may only have a process signalled that it could signal itself.
        crate::auth::check_signal_target(node == calls.local(), pid)?;
        Ok(m::ActionKind::NotifySignal {
            node,
            pid,
            signum: p.signum,
            code: p.code,
            value: p.value,
        })
    }
}
