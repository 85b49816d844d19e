//! Condition, action and action-fail rules, and the control commands
//! (HAM-CONTRACT N3, K1, K7, A2, A5, A6, A12, X1, X2).

use super::cmdline::parse_command_line;
use super::command::*;
use super::errno::{Errno, HamError, Result, eexist, einval, enoent};
use super::events::{ExecutorKind, ExecutorPlan, Plan, PlannedAction};
use super::flags::*;
use super::names::{check_name, check_path, display_path, quoted};
use super::state::HamState;
use super::types::*;

/// Validates the parameters of an action (or action-fail) kind on its own.
fn check_kind(state: &HamState, kind: &ActionKind) -> Result<()> {
    match kind {
        ActionKind::Restart { command_line } | ActionKind::Execute { command_line, .. } => {
            parse_command_line(command_line).map(|_| ())
        }
        ActionKind::Waitfor { path, delay_ms } => {
            if *delay_ms == 0 {
                return Err(einval("waitfor delay must be > 0 ms"));
            }
            match path {
                Some(p) if !p.starts_with('/') || p.contains('\0') => Err(einval(format!(
                    "waitfor path {} is not an absolute path",
                    quoted(p)
                ))),
                _ => Ok(()),
            }
        }
        ActionKind::NotifyPulse { node, pid, .. } | ActionKind::NotifySignal { node, pid, .. } => {
            if *pid <= 0 {
                return Err(einval(format!("notify target pid {pid} is not a process")));
            }
            if !state.nodes.contains_key(node) {
                return Err(HamError::new(
                    Errno::Ehostunreach,
                    format!("no node with id {node}"),
                ));
            }
            if let ActionKind::NotifySignal { signum, .. } = kind
                && !(1..=64).contains(signum)
            {
                return Err(einval(format!(
                    "signal {signum} is not a valid signal number"
                )));
            }
            Ok(())
        }
        ActionKind::HeartbeatHealthy | ActionKind::Log { .. } => Ok(()),
    }
}

fn action_flags_allowed(kind: &ActionKind) -> u32 {
    match kind {
        ActionKind::Execute { .. } => ACTION_FLAGS | HACTIONWAIT,
        _ => ACTION_FLAGS,
    }
}

fn condition_flags_allowed(ctype: ConditionType) -> u32 {
    match ctype {
        ConditionType::State => CONDITION_FLAGS | STATE_CONDITION_FLAGS,
        _ => CONDITION_FLAGS,
    }
}

fn holds_waitfor(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| matches!(a.kind, ActionKind::Waitfor { .. }))
}

/// K7: a NOWAIT condition may hold no waitfor.
fn check_nowait(flags: u32, has_waitfor: bool) -> Result<()> {
    if flags & HCONDNOWAIT != 0 && has_waitfor {
        return Err(einval(
            "a HCONDNOWAIT condition cannot hold a waitfor action",
        ));
    }
    Ok(())
}

impl HamState {
    pub(crate) fn add_condition(
        &mut self,
        r: &EntityRef,
        name: &str,
        ctype: ConditionType,
        flags: u32,
        filter: ConditionFilter,
    ) -> Result<Applied> {
        let e = self.entity(r)?;
        check_name("condition", name)?;
        check_path(&[&e.name, name])?;
        check_flags("this condition", flags, condition_flags_allowed(ctype))?;
        let filter_fits = matches!(
            (ctype, filter),
            (ConditionType::Raise, ConditionFilter::Raise(_))
                | (ConditionType::State, ConditionFilter::State { .. })
        ) || (!matches!(ctype, ConditionType::Raise | ConditionType::State)
            && filter == ConditionFilter::None);
        if !filter_fits {
            return Err(einval("the condition's filter does not fit its type"));
        }
        if ctype == ConditionType::NodeDown && r.node != CLUSTER_NODE_ID {
            return Err(einval(
                "NODEDOWN conditions belong to the cluster-wide global entity",
            ));
        }
        if e.condition(name).is_some() {
            return Err(eexist(format!(
                "condition {} already exists in {}",
                quoted(name),
                quoted(&e.name)
            )));
        }
        let uid = self.uid();
        let e = self.entity_mut(r)?;
        let entity_uid = e.uid;
        e.conditions.push(Condition {
            name: name.to_string(),
            uid,
            ctype,
            flags,
            enabled: true,
            filter,
            actions: Vec::new(),
        });
        let entity = EntityRef {
            uid: Some(entity_uid),
            ..r.clone()
        };
        Ok(Applied::just(Response::Condition(ConditionRef {
            entity,
            name: name.to_string(),
            uid: Some(uid),
        })))
    }

    pub(crate) fn remove_condition(&mut self, r: &ConditionRef) -> Result<Applied> {
        self.condition(r)?;
        self.entity_mut(&r.entity)?
            .conditions
            .retain(|c| c.name != r.name);
        Ok(Applied::just(Response::Done))
    }

    pub(crate) fn add_action(
        &mut self,
        r: &ConditionRef,
        name: &str,
        flags: u32,
        kind: ActionKind,
    ) -> Result<Applied> {
        let (e, c) = self.condition(r)?;
        check_name("action", name)?;
        check_path(&[&e.name, &c.name, name])?;
        check_flags("this action", flags, action_flags_allowed(&kind))?;
        check_kind(self, &kind)?;
        if c.action(name).is_some() {
            return Err(eexist(format!(
                "action {} already exists in {}",
                quoted(name),
                quoted(&c.name)
            )));
        }
        match &kind {
            ActionKind::Restart { .. } => {
                if !matches!(c.ctype, ConditionType::Death | ConditionType::AbnormalDeath) {
                    return Err(einval(
                        "a restart action belongs to a DEATH or ABNORMALDEATH condition",
                    ));
                }
                if e.kind == EntityKind::Global {
                    return Err(einval("a global entity has no process to restart"));
                }
                if e.restart_action().is_some() {
                    return Err(eexist(format!(
                        "entity {} already has a restart action",
                        quoted(&e.name)
                    )));
                }
            }
            ActionKind::Waitfor { .. } => check_nowait(c.flags, true)?,
            _ => {}
        }
        let (entity_uid, cond_uid) = (e.uid, c.uid);
        let options = e.options.clone();
        let uid = self.uid();
        let action = Action {
            name: name.to_string(),
            uid,
            flags,
            enabled: true,
            kind,
            fail: Vec::new(),
            runs: 0,
            failures: 0,
        };
        let handle = ActionRef {
            condition: ConditionRef {
                entity: EntityRef {
                    uid: Some(entity_uid),
                    ..r.entity.clone()
                },
                name: r.name.clone(),
                uid: Some(cond_uid),
            },
            name: name.to_string(),
            uid: Some(uid),
        };
        // A5: an execute added with HACTIONDONOW also runs once now (on the entity's node).
        let run_now = matches!(action.kind, ActionKind::Execute { .. }) && action.has(HACTIONDONOW);
        let effects = if run_now {
            let path = display_path(&[&r.entity.name, &r.name, name]);
            let step = PlannedAction {
                at: handle.clone(),
                action: action.clone(),
                path,
                options,
            };
            vec![Effect::Run(Box::new(Plan {
                node: r.entity.node,
                entity: handle.condition.entity.clone(),
                event: super::events::Event::Attach,
                restart: None,
                executors: vec![ExecutorPlan {
                    kind: ExecutorKind::NoWait,
                    steps: vec![step],
                }],
            }))]
        } else {
            Vec::new()
        };
        self.condition_mut(r)?.actions.push(action);
        Ok(Applied {
            response: Response::Action(handle),
            effects,
        })
    }

    pub(crate) fn remove_action(&mut self, r: &ActionRef) -> Result<Applied> {
        self.action(r)?;
        self.condition_mut(&r.condition)?
            .actions
            .retain(|a| a.name != r.name);
        Ok(Applied::just(Response::Done))
    }

    pub(crate) fn add_action_fail(
        &mut self,
        r: &ActionRef,
        name: &str,
        flags: u32,
        kind: ActionKind,
    ) -> Result<Applied> {
        let (e, c, a) = self.action(r)?;
        check_name("action-fail", name)?;
        check_path(&[&e.name, &c.name, &a.name, name])?;
        if matches!(
            kind,
            ActionKind::Restart { .. } | ActionKind::HeartbeatHealthy
        ) {
            return Err(einval(format!(
                "{} cannot be an action-fail action",
                kind.label()
            )));
        }
        let allowed = if matches!(kind, ActionKind::Execute { .. }) {
            HACTIONWAIT
        } else {
            0
        };
        check_flags("this action-fail action", flags, allowed)?;
        check_kind(self, &kind)?;
        if a.fail.iter().any(|f| f.name == name) {
            return Err(eexist(format!(
                "action-fail {} already exists in {}",
                quoted(name),
                quoted(&a.name)
            )));
        }
        let handle = self.action_handle(r.condition.entity.node, &e.name, &c.name, &a.name)?;
        let fail = ActionFail {
            name: name.to_string(),
            kind,
            flags,
        };
        self.action_mut(r)?.fail.push(fail);
        Ok(Applied::just(Response::ActionFail(
            handle,
            name.to_string(),
        )))
    }

    pub(crate) fn remove_action_fail(&mut self, r: &ActionRef, name: &str) -> Result<Applied> {
        let (_, _, a) = self.action(r)?;
        if !a.fail.iter().any(|f| f.name == name) {
            return Err(enoent(format!(
                "no action-fail {} in action {}",
                quoted(name),
                quoted(&a.name)
            )));
        }
        self.action_mut(r)?.fail.retain(|f| f.name != name);
        Ok(Applied::just(Response::Done))
    }

    /// X1, X2: enable/disable (HRECURSE reaches everything below) and flag commands.
    pub(crate) fn control(
        &mut self,
        target: &ObjectRef,
        op: ControlOp,
        flags: u32,
    ) -> Result<Applied> {
        if matches!(op, ControlOp::Enable | ControlOp::Disable) {
            check_flags("enable/disable", flags, HRECURSE)?;
            return self.set_enabled(target, op == ControlOp::Enable, flags & HRECURSE != 0);
        }
        if flags & HRECURSE != 0 {
            return Err(einval("HRECURSE applies to enable and disable only"));
        }
        let (current, allowed) = match target {
            ObjectRef::Entity(r) => (self.entity(r)?.flags, ENTITY_FLAGS),
            ObjectRef::Condition(r) => {
                let c = self.condition(r)?.1;
                (c.flags, CONDITION_FLAGS | (c.flags & STATE_CONDITION_FLAGS))
            }
            ObjectRef::Action(r) => {
                let a = self.action(r)?.2;
                (a.flags, action_flags_allowed(&a.kind))
            }
        };
        let Some(new) = op.new_flags(current, flags) else {
            return Ok(Applied::just(Response::Flags(current)));
        };
        check_flags("this object", flags, allowed)?;
        // The STATE filter bits are fixed when the condition is added.
        if (new ^ current) & STATE_CONDITION_FLAGS != 0 {
            return Err(einval(
                "STATE filter flags cannot be changed after the condition is added",
            ));
        }
        match target {
            ObjectRef::Entity(r) => self.entity_mut(r)?.flags = new,
            ObjectRef::Condition(r) => {
                check_nowait(new, holds_waitfor(&self.condition(r)?.1.actions))?;
                self.condition_mut(r)?.flags = new;
            }
            ObjectRef::Action(r) => self.action_mut(r)?.flags = new,
        }
        Ok(Applied::just(Response::Flags(new)))
    }

    fn set_enabled(&mut self, target: &ObjectRef, on: bool, recurse: bool) -> Result<Applied> {
        let flags = match target {
            ObjectRef::Entity(r) => {
                let e = self.entity_mut(r)?;
                e.enabled = on;
                if recurse {
                    for c in &mut e.conditions {
                        c.enabled = on;
                        c.actions.iter_mut().for_each(|a| a.enabled = on);
                    }
                }
                e.flags
            }
            ObjectRef::Condition(r) => {
                let c = self.condition_mut(r)?;
                c.enabled = on;
                if recurse {
                    c.actions.iter_mut().for_each(|a| a.enabled = on);
                }
                c.flags
            }
            ObjectRef::Action(r) => {
                let a = self.action_mut(r)?;
                a.enabled = on;
                a.flags
            }
        };
        Ok(Applied::just(Response::Flags(flags)))
    }
}
