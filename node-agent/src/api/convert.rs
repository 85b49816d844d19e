//! Conversions between generated protobuf types and `ham-core` types. This is
//! the only place (with the service) where generated types are seen
//! (DESIGN invariant 2).

use ham_core::model::{self as m, Errno, HamError, Result, einval};
use ham_proto::ham::v1 as pb;

pub use crate::node::NodeSel;

pub fn node_sel(r: Option<&pb::NodeRef>) -> NodeSel {
    match r.and_then(|r| r.node.as_ref()) {
        None => NodeSel::Local,
        Some(pb::node_ref::Node::Id(0)) => NodeSel::Local,
        Some(pb::node_ref::Node::Id(id)) => NodeSel::Id(*id),
        Some(pb::node_ref::Node::Name(n)) if n.is_empty() => NodeSel::Local,
        Some(pb::node_ref::Node::Name(n)) => NodeSel::Name(n.clone()),
    }
}

/// Linux's `PID_MAX_LIMIT` (2^22): no pid is ever above it.
pub const PID_MAX_LIMIT: i64 = 1 << 22;

/// Checks a pid where a request enters (HAM-CONTRACT E1), the same way for
/// every target node, local or remote: a pid above [`PID_MAX_LIMIT`] is
/// EINVAL, and so is one that is not positive when one is `required`
/// (attach takes `pid <= 0`, as QNX's -1, for "start the command line").
/// Nothing past this point may narrow a pid to 32 bits and find another process.
pub fn pid(what: &str, pid: i64, required: bool) -> Result<i64> {
    if pid > PID_MAX_LIMIT || (required && pid <= 0) {
        return Err(einval(format!(
            "{what} {pid} is not a Linux pid (1 to {PID_MAX_LIMIT})"
        )));
    }
    Ok(pid)
}

/// The pacing fields of a request (L4): all zero (and not off) is None, the
/// defaults (or a placeholder's settings); otherwise every zero field takes
/// its default. EINVAL for a policy `PacingPolicy::check` refuses.
pub fn pacing(
    burst: u32,
    window_ms: u64,
    min_delay_ms: u64,
    max_delay_ms: u64,
    off: bool,
) -> Result<Option<m::PacingPolicy>> {
    if burst == 0 && window_ms == 0 && min_delay_ms == 0 && max_delay_ms == 0 && !off {
        return Ok(None);
    }
    let d = m::PacingPolicy::default();
    // Saturating: a value too large for ns is above a day and refused below.
    let ns = |ms: u64, default: u64| match ms {
        0 => default,
        ms => ms.saturating_mul(1_000_000),
    };
    m::PacingPolicy {
        burst: if burst == 0 { d.burst } else { burst },
        window_ns: ns(window_ms, d.window_ns),
        min_delay_ns: ns(min_delay_ms, d.min_delay_ns),
        max_delay_ns: ns(max_delay_ms, d.max_delay_ns),
        off,
    }
    .check()
    .map(Some)
}

/// An entity's pacing for its info: the settings, the current delay and
/// the pending restart (`view` from this node's agent, if it restarted it).
pub fn pacing_info(
    e: &m::Entity,
    view: Option<crate::agent::PacingView>,
    now_ns: i64,
) -> pb::PacingInfo {
    let p = e.pacing;
    let view = view.unwrap_or_default();
    let history = m::PacingHistory {
        deaths: Vec::new(),
        delay_ns: view.delay_ns,
    };
    // A pending restart shows its delay; otherwise the delay resets once the
    // process has stayed up for the window.
    let delay_ns = if view.next_restart_ns != 0 {
        view.delay_ns
    } else {
        history.current_delay(&p, now_ns, e.stats.since_ns)
    };
    pb::PacingInfo {
        burst: p.burst,
        window_ms: p.window_ns / 1_000_000,
        min_delay_ms: p.min_delay_ns / 1_000_000,
        max_delay_ms: p.max_delay_ns / 1_000_000,
        off: p.off,
        delay_ms: delay_ns / 1_000_000,
        next_restart_ns: view.next_restart_ns,
    }
}

/// An entity by node and name, without a uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityKey {
    /// The node.
    pub node: u64,
    /// The entity name.
    pub name: String,
}

fn uid(u: u64) -> Option<u64> {
    (u != 0).then_some(u)
}

fn missing(what: &str) -> HamError {
    einval(format!("missing {what}"))
}

/// An entity handle, with node 0 meaning `local`.
pub fn entity_ref(h: Option<&pb::EntityHandle>, local: u64) -> Result<m::EntityRef> {
    let h = h.ok_or_else(|| missing("entity handle"))?;
    let node = if h.node_id == 0 { local } else { h.node_id };
    Ok(m::EntityRef {
        node,
        name: h.entity.clone(),
        uid: uid(h.uid),
    })
}

pub fn condition_ref(h: Option<&pb::ConditionHandle>, local: u64) -> Result<m::ConditionRef> {
    let h = h.ok_or_else(|| missing("condition handle"))?;
    Ok(m::ConditionRef {
        entity: entity_ref(h.entity.as_ref(), local)?,
        name: h.condition.clone(),
        uid: uid(h.uid),
    })
}

pub fn action_ref(h: Option<&pb::ActionHandle>, local: u64) -> Result<m::ActionRef> {
    let h = h.ok_or_else(|| missing("action handle"))?;
    Ok(m::ActionRef {
        condition: condition_ref(h.condition.as_ref(), local)?,
        name: h.action.clone(),
        uid: uid(h.uid),
    })
}

pub fn entity_handle(r: &m::EntityRef) -> pb::EntityHandle {
    pb::EntityHandle {
        node_id: r.node,
        entity: r.name.clone(),
        uid: r.uid.unwrap_or(0),
    }
}

pub fn condition_handle(r: &m::ConditionRef) -> pb::ConditionHandle {
    pb::ConditionHandle {
        entity: Some(entity_handle(&r.entity)),
        condition: r.name.clone(),
        uid: r.uid.unwrap_or(0),
    }
}

pub fn action_handle(r: &m::ActionRef) -> pb::ActionHandle {
    pb::ActionHandle {
        condition: Some(condition_handle(&r.condition)),
        action: r.name.clone(),
        uid: r.uid.unwrap_or(0),
    }
}

/// A condition type from its wire number (the vocabulary's; `ham-proto`'s
/// tests tie the `.proto` enum to it).
pub fn condition_type(t: i32) -> Result<m::ConditionType> {
    if t == pb::ConditionType::Unspecified as i32 {
        return Err(einval("condition type is missing"));
    }
    m::ConditionType::from_code(t).ok_or_else(|| einval(format!("unknown condition type {t}")))
}

pub fn condition_type_pb(t: m::ConditionType) -> pb::ConditionType {
    pb::ConditionType::try_from(t.code()).unwrap_or(pb::ConditionType::Unspecified)
}

/// A STATE filter side from its wire value and the SET/INV flags (K6).
/// INV without SET is refused: only a set can be inverted.
pub fn state_match(value: i64, set: bool, inv: bool) -> Result<m::StateMatch> {
    match (set, inv) {
        (true, invert) => Ok(m::StateMatch::Set {
            bits: value as u64,
            invert,
        }),
        (false, true) => Err(einval("HCONDSTATE*INV needs the matching HCONDSTATE*SET")),
        (false, false) if value == m::ANY => Ok(m::StateMatch::Any),
        (false, false) => Ok(m::StateMatch::Value(value)),
    }
}

pub fn state_match_pb(s: m::StateMatch) -> i64 {
    match s {
        m::StateMatch::Any => m::ANY,
        m::StateMatch::Value(v) => v,
        m::StateMatch::Set { bits, .. } => bits as i64,
    }
}

pub fn control_op(c: i32) -> Result<m::flags::ControlOp> {
    m::flags::ControlOp::from_code(c)
}

pub fn verbose_op(op: i32) -> Result<m::VerboseOp> {
    use pb::VerboseOp as P;
    match P::try_from(op) {
        Ok(P::Get) => Ok(m::VerboseOp::Get),
        Ok(P::Set) => Ok(m::VerboseOp::Set),
        Ok(P::Incr) => Ok(m::VerboseOp::Incr),
        Ok(P::Decr) => Ok(m::VerboseOp::Decr),
        _ => Err(HamError::new(
            Errno::Einval,
            format!("unknown verbose operation {op}"),
        )),
    }
}

fn nonneg(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| einval(format!("{what} {v} is negative")))
}

pub fn execute(p: Option<&pb::ExecuteAction>) -> Result<m::ActionKind> {
    let p = p.ok_or_else(|| missing("execute parameters"))?;
    Ok(m::ActionKind::Execute {
        command_line: p.command_line.clone(),
        timeout_ms: p.timeout_ms,
    })
}

pub fn waitfor(p: Option<&pb::WaitforAction>) -> Result<m::ActionKind> {
    let p = p.ok_or_else(|| missing("waitfor parameters"))?;
    let path = (!p.path.is_empty()).then(|| p.path.clone());
    Ok(m::ActionKind::Waitfor {
        path,
        delay_ms: nonneg("delay", p.delay_ms)?,
    })
}

pub fn log(p: Option<&pb::LogAction>) -> Result<m::ActionKind> {
    let p = p.ok_or_else(|| missing("log parameters"))?;
    Ok(m::ActionKind::Log {
        message: p.message.clone(),
        attach_prefix: p.attach_prefix,
        verbosity: p.verbosity,
    })
}

/// Wire form of an action kind, for the tree view.
pub fn action_kind_pb(k: &m::ActionKind, node_name: impl Fn(u64) -> String) -> ActionKindPb {
    let target = |n: u64| {
        Some(pb::NodeRef {
            node: Some(pb::node_ref::Node::Name(node_name(n))),
        })
    };
    match k {
        m::ActionKind::Restart { command_line } => ActionKindPb::Restart(pb::RestartAction {
            command_line: command_line.clone(),
        }),
        m::ActionKind::Execute {
            command_line,
            timeout_ms,
        } => ActionKindPb::Execute(pb::ExecuteAction {
            command_line: command_line.clone(),
            timeout_ms: *timeout_ms,
        }),
        m::ActionKind::Waitfor { path, delay_ms } => ActionKindPb::Waitfor(pb::WaitforAction {
            path: path.clone().unwrap_or_default(),
            delay_ms: i64::try_from(*delay_ms).unwrap_or(i64::MAX),
        }),
        m::ActionKind::NotifyPulse {
            node,
            pid,
            chid,
            code,
            value,
        } => ActionKindPb::Pulse(pb::NotifyPulseAction {
            target_node: target(*node),
            pid: *pid,
            chid: *chid,
            code: *code,
            value: *value,
        }),
        m::ActionKind::NotifySignal {
            node,
            pid,
            signum,
            code,
            value,
        } => ActionKindPb::Signal(pb::NotifySignalAction {
            target_node: target(*node),
            pid: *pid,
            signum: *signum,
            code: *code,
            value: *value,
        }),
        m::ActionKind::HeartbeatHealthy => ActionKindPb::Healthy,
        m::ActionKind::Log {
            message,
            attach_prefix,
            verbosity,
        } => ActionKindPb::Log(pb::LogAction {
            message: message.clone(),
            attach_prefix: *attach_prefix,
            verbosity: *verbosity,
        }),
    }
}

/// An action kind on the wire, before it is put in an ActionInfo or ActionFailInfo.
#[derive(Debug)]
pub enum ActionKindPb {
    Restart(pb::RestartAction),
    Execute(pb::ExecuteAction),
    Waitfor(pb::WaitforAction),
    Pulse(pb::NotifyPulseAction),
    Signal(pb::NotifySignalAction),
    Healthy,
    Log(pb::LogAction),
}

/// The stop policy of an attach (HAM-CONTRACT S2, L1): 0 is the default
/// warning signal and an absent grace the default grace; the model checks
/// the values (EINVAL).
pub fn stop_policy(
    warn_signal: i32,
    grace_ms: Option<u64>,
    kill_mode: i32,
) -> Result<m::StopPolicy> {
    let kill_mode = match pb::KillMode::try_from(kill_mode) {
        Ok(pb::KillMode::Unspecified | pb::KillMode::Group) => m::KillMode::Group,
        Ok(pb::KillMode::Process) => m::KillMode::Process,
        Err(_) => return Err(einval(format!("unknown kill mode {kill_mode}"))),
    };
    Ok(m::StopPolicy {
        warn_signal: if warn_signal == 0 {
            m::DEFAULT_WARN_SIGNAL
        } else {
            warn_signal
        },
        grace_ms: grace_ms.unwrap_or(m::DEFAULT_GRACE_MS),
        kill_mode,
    })
}

/// A kill mode on the wire.
pub fn kill_mode_pb(k: m::KillMode) -> pb::KillMode {
    match k {
        m::KillMode::Group => pb::KillMode::Group,
        m::KillMode::Process => pb::KillMode::Process,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e1_pids_above_pid_max_or_negative_are_einval() {
        for (p, required) in [
            (1i64 << 32, false),
            ((1 << 32) + 5, true),
            (PID_MAX_LIMIT + 1, true),
            (PID_MAX_LIMIT + 1, false),
            (i64::MAX, false),
            (-1, true),
            (i64::MIN, true),
            (0, true),
        ] {
            let e = pid("pid", p, required).unwrap_err();
            assert_eq!(e.errno, Errno::Einval, "{p}");
        }
        assert_eq!(pid("pid", 0, false).unwrap(), 0);
        assert_eq!(pid("pid", -1, false).unwrap(), -1);
        assert_eq!(pid("pid", 1, true).unwrap(), 1);
        assert_eq!(pid("pid", PID_MAX_LIMIT, true).unwrap(), PID_MAX_LIMIT);
    }
}
