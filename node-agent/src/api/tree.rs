//! The tree view (HAM-CONTRACT X5): the state of one node's HAM, whole or a
//! sub-tree, with the statistics the `.info` files show.

use super::convert::{self as cv, ActionKindPb};
use crate::agent::AgentHandle;
use ham_core::model::{
    self as m, CLUSTER_NODE_ID, Entity, HamState, HeartbeatState, NodeId, Result, enoent,
};
use ham_core::replica::ReplicaStatus;
use ham_proto::ham::v1 as pb;

pub fn build_tree(
    s: &HamState,
    node: NodeId,
    status: &ReplicaStatus,
    agent: &AgentHandle,
    r: &pb::TreeRequest,
) -> Result<pb::HamTree> {
    let node_name = |id: NodeId| s.nodes.get(&id).map(|n| n.name.clone()).unwrap_or_default();
    let (entities, verbosity): (Vec<&Entity>, u32) = if node == CLUSTER_NODE_ID {
        (vec![&s.cluster_global], 0)
    } else {
        let ctx = s.context(node)?;
        let global = Some(&ctx.global).filter(|g| !g.conditions.is_empty());
        (
            global.into_iter().chain(ctx.entities.values()).collect(),
            ctx.verbosity,
        )
    };
    let (ne, nc, na) = s.counts(node);
    let info = pb::HamInfo {
        ham_pid: if node == agent.node_id() {
            std::process::id().into()
        } else {
            0
        },
        node_id: node,
        node_name: if node == CLUSTER_NODE_ID {
            "*".into()
        } else {
            node_name(node)
        },
        leader_id: status.leader_id,
        leader_name: node_name(status.leader_id),
        term: status.term,
        leader_changes: status.leader_changes,
        verbosity,
        num_entities: count(ne),
        num_conditions: count(nc),
        num_actions: count(na),
        nodes: s
            .nodes
            .iter()
            .map(|(&id, meta)| pb::NodeStatus {
                id,
                name: meta.name.clone(),
                address: meta.address.clone(),
                state: if meta.down {
                    pb::NodeState::Down
                } else {
                    pb::NodeState::Up
                }
                .into(),
                role: if status.voters.contains(&id) {
                    "voter".into()
                } else if status.learners.contains(&id) {
                    "learner".into()
                } else {
                    String::new()
                },
            })
            .collect(),
    };
    let mut out = Vec::new();
    for e in entities {
        if !r.entity.is_empty() && e.name != r.entity {
            continue;
        }
        out.push(entity_info(e, node, agent, r, &node_name)?);
    }
    if !r.entity.is_empty() && out.is_empty() {
        return Err(enoent(format!("no entity {}", m::quoted(&r.entity))));
    }
    Ok(pb::HamTree {
        info: Some(info),
        entities: out,
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn entity_info(
    e: &Entity,
    node: NodeId,
    agent: &AgentHandle,
    r: &pb::TreeRequest,
    node_name: &dyn Fn(NodeId) -> String,
) -> Result<pb::EntityInfo> {
    let kind = match e.kind {
        m::EntityKind::Attached => pb::EntityKind::Attached,
        m::EntityKind::AttachedSelf => pb::EntityKind::AttachedSelf,
        m::EntityKind::Placeholder => pb::EntityKind::Placeholder,
        m::EntityKind::Global => pb::EntityKind::Global,
    };
    let (last_exit_code, last_signal) = match e.stats.last_exit {
        Some(m::ExitInfo::Exited(code)) => (code, 0),
        Some(m::ExitInfo::Signaled { signal, .. }) => (0, signal),
        Some(m::ExitInfo::Unknown) | None => (0, 0),
    };
    let heartbeat = e.heartbeat.map(|hb| {
        let view = agent.heartbeat_view(e.uid);
        let (last_beat_ns, state, next_boundary_ns) = view
            .map_or((0, HeartbeatState::Ok, 0), |v| {
                (v.last_beat_ns, v.state, v.next_boundary_ns)
            });
        pb::HeartbeatInfo {
            period_ns: hb.period_ns,
            hpdl: hb.hpdl,
            hpdh: hb.hpdh,
            last_beat_ns,
            next_boundary_ns,
            state: match state {
                HeartbeatState::Ok => pb::HeartbeatState::Ok,
                HeartbeatState::MissedLow => pb::HeartbeatState::MissedLow,
                HeartbeatState::MissedHigh => pb::HeartbeatState::MissedHigh,
            }
            .into(),
        }
    });
    let mut conditions = Vec::new();
    for c in &e.conditions {
        if !r.condition.is_empty() && c.name != r.condition {
            continue;
        }
        conditions.push(condition_info(c, r, node_name)?);
    }
    if !r.condition.is_empty() && conditions.is_empty() {
        return Err(enoent(format!(
            "no condition {} in {}",
            m::quoted(&r.condition),
            m::quoted(&e.name)
        )));
    }
    Ok(pb::EntityInfo {
        name: e.name.clone(),
        pid: e.pid,
        kind: kind.into(),
        flags: e.flags,
        enabled: e.enabled,
        node_id: node,
        stats: Some(pb::EntityStats {
            created_ns: e.stats.created_ns,
            last_death_ns: e.stats.last_death_ns,
            restarted_ns: e.stats.restarted_ns,
            restarts: e.stats.restarts,
            last_exit_code,
            last_signal,
            instance: e.stats.instance,
            since_ns: e.stats.since_ns,
        }),
        heartbeat,
        command_line: e.command_line.clone().unwrap_or_default(),
        state: e.state,
        conditions,
        uid: e.uid,
        pidfile: e.pidfile.clone().unwrap_or_default(),
        process: super::attach::process_options_pb(&e.options),
        stopped: e.stopped,
        warn_signal: e.stop.warn_signal,
        grace_ms: e.stop.grace_ms,
        kill_mode: super::convert::kill_mode_pb(e.stop.kill_mode).into(),
        // A global entity has no process to restart.
        pacing: (e.kind != m::EntityKind::Global)
            .then(|| cv::pacing_info(e, agent.pacing_view(e.uid), crate::node::now_ns())),
    })
}

fn condition_info(
    c: &m::Condition,
    r: &pb::TreeRequest,
    node_name: &dyn Fn(NodeId) -> String,
) -> Result<pb::ConditionInfo> {
    let (raise, state) = match c.filter {
        m::ConditionFilter::None => (None, None),
        m::ConditionFilter::Raise(f) => (
            Some(pb::RaiseFilter {
                rtype: narrow(f.rtype),
                rclass: narrow(f.rclass),
                rseverity: narrow(f.rseverity),
            }),
            None,
        ),
        m::ConditionFilter::State { from, to } => (
            None,
            Some(pb::StateFilter {
                from_state: cv::state_match_pb(from),
                to_state: cv::state_match_pb(to),
            }),
        ),
    };
    let mut actions = Vec::new();
    for a in &c.actions {
        if !r.action.is_empty() && a.name != r.action {
            continue;
        }
        actions.push(action_info(a, node_name));
    }
    if !r.action.is_empty() && actions.is_empty() {
        return Err(enoent(format!(
            "no action {} in {}",
            m::quoted(&r.action),
            m::quoted(&c.name)
        )));
    }
    Ok(pb::ConditionInfo {
        name: c.name.clone(),
        condition_type: cv::condition_type_pb(c.ctype).into(),
        flags: c.flags,
        enabled: c.enabled,
        raise_filter: raise,
        state_filter: state,
        actions,
        uid: c.uid,
    })
}

/// Raise filters are i32 on the wire; the model keeps i64 to hold them and ANY alike.
fn narrow(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(-1)
}

fn action_info(a: &m::Action, node_name: &dyn Fn(NodeId) -> String) -> pb::ActionInfo {
    use pb::action_info::Kind;
    let kind = match cv::action_kind_pb(&a.kind, node_name) {
        ActionKindPb::Restart(p) => Kind::Restart(p),
        ActionKindPb::Execute(p) => Kind::Execute(p),
        ActionKindPb::Waitfor(p) => Kind::Waitfor(p),
        ActionKindPb::Pulse(p) => Kind::NotifyPulse(p),
        ActionKindPb::Signal(p) => Kind::NotifySignal(p),
        ActionKindPb::Healthy => Kind::HeartbeatHealthy(pb::HeartbeatHealthyAction {}),
        ActionKindPb::Log(p) => Kind::Log(p),
    };
    let fail_actions = a
        .fail
        .iter()
        .filter_map(|f| {
            use pb::action_fail_info::Kind as F;
            let kind = match cv::action_kind_pb(&f.kind, node_name) {
                ActionKindPb::Execute(p) => F::Execute(p),
                ActionKindPb::Waitfor(p) => F::Waitfor(p),
                ActionKindPb::Pulse(p) => F::NotifyPulse(p),
                ActionKindPb::Signal(p) => F::NotifySignal(p),
                ActionKindPb::Log(p) => F::Log(p),
                // The model never lets these into a fail list (A12).
                ActionKindPb::Restart(_) | ActionKindPb::Healthy => return None,
            };
            Some(pb::ActionFailInfo {
                name: f.name.clone(),
                flags: f.flags,
                kind: Some(kind),
            })
        })
        .collect();
    pb::ActionInfo {
        name: a.name.clone(),
        flags: a.flags,
        enabled: a.enabled,
        kind: Some(kind),
        fail_actions,
        runs: a.runs,
        failures: a.failures,
        uid: a.uid,
    }
}
