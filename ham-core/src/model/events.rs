//! Events, which conditions they trigger (K3, K5, K6), and the ordered plan of
//! actions grouped by executor (K8, K9).

use super::command::{ActionRef, ConditionRef, EntityRef};
use super::errno::Result;
use super::flags::{HACTIONBREAKONFAIL, HCONDINDEPENDENT, HCONDNOWAIT};
use super::names::display_path;
use super::options::ProcessOptions;
use super::state::HamState;
use super::types::*;
use serde::{Deserialize, Serialize};

/// Something that happened to an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// Its process ended.
    Death(ExitInfo),
    /// It is being detached.
    Detach,
    /// A placeholder was filled.
    Attach,
    /// It missed `hpdl` heartbeats in a row.
    HbeatMissedLow,
    /// It missed `hpdh` heartbeats in a row.
    HbeatMissedHigh,
    /// A restart action succeeded.
    Restart,
    /// It raised a condition.
    Raise {
        /// Raised type.
        rtype: i64,
        /// Raised class.
        rclass: i64,
        /// Raised severity.
        rseverity: i64,
    },
    /// It reported a state transition.
    State {
        /// The state before.
        from: i64,
        /// The state after.
        to: i64,
    },
    /// A node went down (on the cluster-wide global entity).
    NodeDown {
        /// The node.
        node: NodeId,
    },
    /// Restarted too often (W2).
    Escalate,
}

impl Event {
    /// The condition types this event triggers (ANY aside).
    pub fn condition_types(self) -> &'static [ConditionType] {
        use ConditionType as C;
        match self {
            Event::Death(exit) if exit.is_abnormal() => &[C::AbnormalDeath, C::Death],
            Event::Death(_) => &[C::Death],
            Event::Detach => &[C::Detach],
            Event::Attach => &[C::Attach],
            Event::HbeatMissedLow => &[C::HbeatMissedLow],
            Event::HbeatMissedHigh => &[C::HbeatMissedHigh],
            Event::Restart => &[C::Restart],
            Event::Raise { .. } => &[C::Raise],
            Event::State { .. } => &[C::State],
            Event::NodeDown { .. } => &[C::NodeDown],
            Event::Escalate => &[C::Escalate],
        }
    }
}

/// Whether an enabled condition is triggered by `event` (K3, K5, K6).
pub fn condition_matches(c: &Condition, event: Event) -> bool {
    if !c.enabled {
        return false;
    }
    if c.ctype == ConditionType::Any {
        return true;
    }
    if !event.condition_types().contains(&c.ctype) {
        return false;
    }
    match (c.filter, event) {
        (
            ConditionFilter::Raise(f),
            Event::Raise {
                rtype,
                rclass,
                rseverity,
            },
        ) => {
            let pass = |want: i64, got: i64| want == ANY || want == got;
            pass(f.rtype, rtype) && pass(f.rclass, rclass) && pass(f.rseverity, rseverity)
        }
        (ConditionFilter::State { from, to }, Event::State { from: old, to: new }) => {
            from.matches(old) && to.matches(new)
        }
        (ConditionFilter::None, _) => true,
        _ => false,
    }
}

/// Where a group of conditions runs (K8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecutorKind {
    /// The shared executor of all NOWAIT conditions.
    NoWait,
    /// The executor of one INDEPENDENT condition.
    Independent,
    /// The shared executor of all other conditions.
    Shared,
}

/// One action to run, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    /// The action, by reference with uids, for reporting its outcome.
    pub at: ActionRef,
    /// A copy of the action as it was when the event happened.
    pub action: Action,
    /// `entity/condition/action`, for logs and the log action's prefix.
    pub path: String,
    /// The process options of the entity the action belongs to: its
    /// restart and execute actions start processes with them (L7, P4),
    /// also when the entity is removed before they run.
    pub options: ProcessOptions,
}

impl PlannedAction {
    /// The condition the action belongs to.
    pub fn condition(&self) -> &ConditionRef {
        &self.at.condition
    }

    /// A11: when this action fails, the rest of its condition does not run
    /// (HACTIONBREAKONFAIL).
    pub fn breaks_on_fail(&self) -> bool {
        self.action.has(HACTIONBREAKONFAIL)
    }
}

/// The actions one executor runs, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorPlan {
    /// Which executor.
    pub kind: ExecutorKind,
    /// In order: conditions in trigger order, each condition's actions in the order added.
    pub steps: Vec<PlannedAction>,
}

/// Everything one event triggers on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The node whose agent runs the plan (CLUSTER_NODE_ID: the leader's).
    pub node: NodeId,
    /// The entity the event happened to.
    pub entity: EntityRef,
    /// The event.
    pub event: Event,
    /// The entity's restart action, run before everything else.
    pub restart: Option<PlannedAction>,
    /// The executors, each running its steps in order, in parallel with the others.
    pub executors: Vec<ExecutorPlan>,
}

impl Plan {
    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.restart.is_none() && self.executors.iter().all(|x| x.steps.is_empty())
    }

    /// Every action of the plan, restart first.
    pub fn steps(&self) -> impl Iterator<Item = &PlannedAction> {
        self.restart
            .iter()
            .chain(self.executors.iter().flat_map(|x| x.steps.iter()))
    }
}

fn planned(entity: &Entity, at: &EntityRef, c: &Condition, a: &Action) -> PlannedAction {
    let condition = ConditionRef {
        entity: EntityRef {
            uid: Some(entity.uid),
            ..at.clone()
        },
        name: c.name.clone(),
        uid: Some(c.uid),
    };
    PlannedAction {
        path: display_path(&[&entity.name, &c.name, &a.name]),
        at: ActionRef {
            condition,
            name: a.name.clone(),
            uid: Some(a.uid),
        },
        action: a.clone(),
        options: entity.options.clone(),
    }
}

/// The plan for `event` on entity `target` (HAM-CONTRACT K3, K8, K9).
///
/// Sources, in this order: the entity itself, its node's global entity, the
/// cluster-wide global entity. A disabled entity (or global entity) adds
/// nothing; a disabled condition never triggers; a disabled action is
/// skipped (X1). The entity's restart action comes out first (A3) when the
/// event is a death.
pub fn plan_for_event(state: &HamState, target: &EntityRef, event: Event) -> Result<Plan> {
    let entity = state.entity(target)?;
    let mut sources: Vec<(&Entity, EntityRef)> = Vec::new();
    if entity.enabled {
        sources.push((
            entity,
            EntityRef {
                uid: Some(entity.uid),
                ..target.clone()
            },
        ));
    }
    if !target.name.is_empty() && target.node != CLUSTER_NODE_ID {
        let global = &state.context(target.node)?.global;
        if global.enabled && entity.enabled {
            let at = EntityRef {
                node: target.node,
                name: String::new(),
                uid: Some(global.uid),
            };
            sources.push((global, at));
        }
    }
    let cluster = &state.cluster_global;
    if target.node != CLUSTER_NODE_ID && cluster.enabled && entity.enabled {
        let at = EntityRef {
            node: CLUSTER_NODE_ID,
            name: String::new(),
            uid: Some(cluster.uid),
        };
        sources.push((cluster, at));
    }

    let mut plan = Plan {
        node: target.node,
        entity: EntityRef {
            uid: Some(entity.uid),
            ..target.clone()
        },
        event,
        restart: None,
        executors: Vec::new(),
    };
    let mut nowait = Vec::new();
    let mut shared = Vec::new();
    for (source, at) in &sources {
        for c in source
            .conditions
            .iter()
            .filter(|c| condition_matches(c, event))
        {
            let mut steps = Vec::new();
            for a in c.actions.iter().filter(|a| a.enabled) {
                let step = planned(source, at, c, a);
                let is_restart = matches!(a.kind, ActionKind::Restart { .. });
                if is_restart && matches!(event, Event::Death(_)) && source.uid == entity.uid {
                    plan.restart = Some(step);
                } else if !is_restart {
                    steps.push(step);
                }
            }
            if c.has(HCONDNOWAIT) {
                nowait.extend(steps);
            } else if c.has(HCONDINDEPENDENT) {
                plan.executors.push(ExecutorPlan {
                    kind: ExecutorKind::Independent,
                    steps,
                });
            } else {
                shared.extend(steps);
            }
        }
    }
    plan.executors.retain(|x| !x.steps.is_empty());
    if !nowait.is_empty() {
        plan.executors.insert(
            0,
            ExecutorPlan {
                kind: ExecutorKind::NoWait,
                steps: nowait,
            },
        );
    }
    if !shared.is_empty() {
        plan.executors.push(ExecutorPlan {
            kind: ExecutorKind::Shared,
            steps: shared,
        });
    }
    Ok(plan)
}
