//! Renders the Tree RPC's answer in the shapes of the guide's /proc/ham
//! example (HAM-CONTRACT X5): `ls` listings and `.info` / action files.

mod process;
mod time;

use std::fmt::Write as _;

use ham_client::flags;
use ham_client::proto::{
    ActionFailInfo, ActionInfo, ConditionInfo, ConditionType, EntityInfo, EntityKind, HamInfo,
    HeartbeatState, NodeRef, NodeState, NodeStatus, action_fail_info, action_info, node_ref,
};

use crate::paths::show_entity;
pub use time::timestamp;

/// The name of the info file at every level.
pub const INFO: &str = ".info";

/// Collects `Key : value` lines.
#[derive(Debug, Default)]
struct Lines(String);

impl Lines {
    fn kv(&mut self, key: &str, value: impl std::fmt::Display) -> &mut Lines {
        let _ = writeln!(self.0, "{key} : {value}");
        self
    }

    fn line(&mut self, text: &str) -> &mut Lines {
        self.0.push_str(text);
        self.0.push('\n');
        self
    }
}

fn on_off(on: bool) -> &'static str {
    if on { "ON" } else { "OFF" }
}

/// `ls` of the top: `.info` and one folder per entity.
pub fn ls_root(entities: &[EntityInfo]) -> String {
    let mut out = Lines::default();
    out.line(INFO);
    for e in entities {
        out.line(&format!("{}/", show_entity(&e.name)));
    }
    out.0
}

/// `ls` of an entity: `.info` and one folder per condition.
pub fn ls_entity(entity: &EntityInfo) -> String {
    let mut out = Lines::default();
    out.line(INFO);
    for c in &entity.conditions {
        out.line(&format!("{}/", c.name));
    }
    out.0
}

/// `ls` of a condition: `.info` and one file per action.
pub fn ls_condition(condition: &ConditionInfo) -> String {
    let mut out = Lines::default();
    out.line(INFO);
    for a in &condition.actions {
        out.line(&a.name);
    }
    out.0
}

/// The top `.info`.
pub fn root_info(info: &HamInfo) -> String {
    let mut out = Lines::default();
    out.kv("Ham Pid", info.ham_pid)
        .kv("Node", format!("{} (id {})", info.node_name, info.node_id));
    if info.leader_id == 0 {
        out.kv("Leader", "none");
    } else {
        out.kv(
            "Leader",
            format!("{} (id {})", info.leader_name, info.leader_id),
        );
    }
    out.kv("Term", info.term)
        .kv("Leader Changes", info.leader_changes)
        .kv("Verbosity", info.verbosity)
        .kv("Num Entities", info.num_entities)
        .kv("Num Conditions", info.num_conditions)
        .kv("Num Actions", info.num_actions)
        .kv("Num Nodes", info.nodes.len());
    // The Guardian's place: every node of the Raft group and its state.
    for n in &info.nodes {
        let role = if n.role.is_empty() {
            "-"
        } else {
            n.role.as_str()
        };
        out.kv(
            &format!("Node {} (id {})", n.name, n.id),
            format!("{} {role} {}", node_state(n.state), n.address),
        );
    }
    out.0
}

fn node_state(state: i32) -> &'static str {
    match NodeState::try_from(state) {
        Ok(NodeState::Up) => "UP",
        Ok(NodeState::Down) => "DOWN",
        _ => "UNKNOWN",
    }
}

/// The cluster members, one line each: `ID NAME STATE ROLE ADDRESS`, the leader
/// marked with `*`.
pub fn nodes(info: &HamInfo) -> String {
    let mut out = String::new();
    for NodeStatus {
        id,
        name,
        address,
        state,
        role,
    } in &info.nodes
    {
        let role = if role.is_empty() { "-" } else { role.as_str() };
        let state = node_state(*state);
        let leader = if *id == info.leader_id { " *" } else { "" };
        let _ = writeln!(out, "{id} {name} {state} {role} {address}{leader}");
    }
    out
}

fn entity_type(kind: i32) -> &'static str {
    match EntityKind::try_from(kind) {
        Ok(EntityKind::Attached) => "ATTACHED",
        Ok(EntityKind::AttachedSelf) => "ATTACHEDSELF",
        Ok(EntityKind::Placeholder) => "PLACEHOLDER",
        Ok(EntityKind::Global) => "GLOBAL",
        _ => "UNKNOWN",
    }
}

fn heartbeat_state(state: i32) -> &'static str {
    match HeartbeatState::try_from(state) {
        Ok(HeartbeatState::Ok) => "OK",
        Ok(HeartbeatState::MissedLow) => "MISSEDLOW",
        Ok(HeartbeatState::MissedHigh) => "MISSEDHIGH",
        _ => "UNKNOWN",
    }
}

/// The QNX name of a condition type (`CONDDEATH`, ...).
pub fn condition_type(kind: i32) -> &'static str {
    match ConditionType::try_from(kind) {
        Ok(ConditionType::Death) => "CONDDEATH",
        Ok(ConditionType::Abnormaldeath) => "CONDABNORMALDEATH",
        Ok(ConditionType::Detach) => "CONDDETACH",
        Ok(ConditionType::Attach) => "CONDATTACH",
        Ok(ConditionType::Hbeatmissedlow) => "CONDHBEATMISSEDLOW",
        Ok(ConditionType::Hbeatmissedhigh) => "CONDHBEATMISSEDHIGH",
        Ok(ConditionType::Restart) => "CONDRESTART",
        Ok(ConditionType::Raise) => "CONDRAISE",
        Ok(ConditionType::State) => "CONDSTATE",
        Ok(ConditionType::Any) => "CONDANY",
        Ok(ConditionType::Nodedown) => "CONDNODEDOWN",
        Ok(ConditionType::Escalate) => "CONDESCALATE",
        _ => "CONDUNKNOWN",
    }
}

/// An entity's `.info`.
pub fn entity_info(e: &EntityInfo) -> String {
    let mut out = Lines::default();
    out.kv("Path", show_entity(&e.name))
        .kv("Entity Pid", e.pid)
        .kv("Num conditions", e.conditions.len())
        .kv("Entity type", entity_type(e.kind))
        .line("Stats:");
    if let Some(hb) = e.heartbeat.as_ref().filter(|hb| hb.period_ns > 0) {
        out.kv("Heartbeat Period", hb.period_ns)
            .kv("HB Low Mark", hb.hpdl)
            .kv("HB High Mark", hb.hpdh)
            .kv("Last Heartbeat", timestamp(hb.last_beat_ns))
            .kv("HeartBeat State", heartbeat_state(hb.state));
    }
    let stats = e.stats.unwrap_or_default();
    out.kv("Created", timestamp(stats.created_ns));
    if stats.last_death_ns != 0 {
        out.kv("Last Death", timestamp(stats.last_death_ns));
    }
    if stats.restarted_ns != 0 {
        out.kv("Restarted", timestamp(stats.restarted_ns));
    }
    out.kv("Num Restarts", stats.restarts);
    if let Some(p) = &e.process {
        process::process_lines(&mut out, p);
    }
    if let Some(p) = e.pacing.as_ref() {
        if p.off {
            out.kv("Restart Pacing", "OFF");
        } else {
            out.kv("Restart Delay", format!("{} ms", p.delay_ms));
        }
        if p.next_restart_ns != 0 {
            out.kv("Next Restart", timestamp(p.next_restart_ns));
        }
    }
    if !e.enabled {
        out.kv("Enabled", "OFF");
    }
    stop_policy(&mut out, e);
    out.0
}

/// Whether a stop call stopped the entity (L5), and the parts of its stop
/// policy (S2, L1) that differ from the defaults (SIGTERM, 10 s, group), so
/// that an entity as the guide shows it reads as the guide shows it. A
/// warning signal of 0 means a server that sends no policy.
fn stop_policy(out: &mut Lines, e: &EntityInfo) {
    use ham_client::proto::{EntityKind, KillMode};
    if !matches!(
        EntityKind::try_from(e.kind),
        Ok(EntityKind::Attached | EntityKind::AttachedSelf)
    ) {
        return;
    }
    if e.stopped {
        out.kv("Stopped", "ON");
    }
    if e.warn_signal == 0 {
        return;
    }
    if e.warn_signal != DEFAULT_WARN_SIGNAL {
        out.kv("Stop Signal", e.warn_signal);
    }
    if e.grace_ms != DEFAULT_GRACE_MS {
        out.kv("Stop Grace", format!("{} ms", e.grace_ms));
    }
    if KillMode::try_from(e.kill_mode) == Ok(KillMode::Process) {
        out.kv("Kill Mode", "process");
    }
}

/// The stop policy a server applies when an attach names none.
const DEFAULT_WARN_SIGNAL: i32 = 15;
const DEFAULT_GRACE_MS: u64 = 10_000;

/// A condition's `.info`.
pub fn condition_info(e: &EntityInfo, c: &ConditionInfo) -> String {
    let mut out = Lines::default();
    out.kv("Path", format!("{}/{}", show_entity(&e.name), c.name))
        .kv("Entity Pid", e.pid)
        .kv("Num Actions", c.actions.len())
        .kv(
            "Condition ReArm",
            on_off(c.flags & flags::HREARMAFTERRESTART != 0),
        )
        .kv("Condition type", condition_type(c.condition_type));
    if let Some(r) = c.raise_filter.as_ref() {
        out.kv(
            "Raise Filter",
            format!(
                "type {} class {} severity {}",
                any_i32(r.rtype),
                any_i32(r.rclass),
                any_i32(r.rseverity)
            ),
        );
    }
    if let Some(s) = c.state_filter.as_ref() {
        let from = state_filter(s.from_state, c.flags, flags::HCONDSTATEFROMSET);
        let to = state_filter(s.to_state, c.flags, flags::HCONDSTATETOSET);
        let inv = |bit| if c.flags & bit != 0 { "!" } else { "" };
        out.kv(
            "State Filter",
            format!(
                "from {}{from} to {}{to}",
                inv(flags::HCONDSTATEFROMINV),
                inv(flags::HCONDSTATETOINV)
            ),
        );
    }
    if !c.enabled {
        out.kv("Enabled", "OFF");
    }
    out.0
}

fn any_i32(v: i32) -> String {
    if v == -1 {
        "ANY".to_owned()
    } else {
        v.to_string()
    }
}

fn state_filter(value: i64, cond_flags: u32, set_bit: u32) -> String {
    if cond_flags & set_bit != 0 {
        let bits = u64::from_ne_bytes(value.to_ne_bytes());
        let states: Vec<String> = (0..64)
            .filter(|s| bits & (1u64 << s) != 0)
            .map(|s| s.to_string())
            .collect();
        format!("{{{}}}", states.join(","))
    } else if value == flags::CONDSTATEANY {
        "ANY".to_owned()
    } else {
        value.to_string()
    }
}

/// How a notification's target node is shown.
fn node(target: Option<&NodeRef>) -> String {
    match target.and_then(|n| n.node.as_ref()) {
        None | Some(node_ref::Node::Id(0)) => "local".to_owned(),
        Some(node_ref::Node::Name(name)) if name.is_empty() => "local".to_owned(),
        Some(node_ref::Node::Id(id)) => id.to_string(),
        Some(node_ref::Node::Name(name)) => name.clone(),
    }
}

/// An action's file.
pub fn action_file(e: &EntityInfo, c: &ConditionInfo, a: &ActionInfo) -> String {
    use action_info::Kind;
    let mut out = Lines::default();
    out.kv(
        "Path",
        format!("{}/{}/{}", show_entity(&e.name), c.name, a.name),
    )
    .kv("Entity Pid", e.pid)
    .kv(
        "Action ReArm",
        on_off(a.flags & flags::HREARMAFTERRESTART != 0),
    );
    match &a.kind {
        Some(Kind::Restart(r)) => {
            out.kv("Restart Line", &r.command_line);
        }
        Some(Kind::Execute(x)) => {
            out.kv("Execute Line", &x.command_line);
            if a.flags & flags::HACTIONWAIT != 0 {
                out.kv("Wait Timeout", format!("{} ms", x.timeout_ms));
            }
        }
        Some(Kind::Waitfor(w)) => {
            out.kv("Delay", format!("{} ms", w.delay_ms));
            if !w.path.is_empty() {
                out.kv("Path", &w.path);
            }
        }
        Some(Kind::NotifyPulse(p)) => {
            out.kv("Pulse", pulse_text(p));
        }
        Some(Kind::NotifySignal(s)) => {
            out.kv("Signal", signal_text(s));
        }
        Some(Kind::HeartbeatHealthy(_)) => {
            out.kv("Heartbeat Healthy", "ON");
        }
        Some(Kind::Log(l)) => {
            out.kv("Log", &l.message);
        }
        None => {}
    }
    for f in &a.fail_actions {
        out.kv("Action Fail", fail_text(f));
    }
    if !a.enabled {
        out.kv("Enabled", "OFF");
    }
    out.0
}

fn pulse_text(p: &ham_client::proto::NotifyPulseAction) -> String {
    format!(
        "code {} value {} chid {} pid {} node {}",
        p.code,
        p.value,
        p.chid,
        p.pid,
        node(p.target_node.as_ref())
    )
}

fn signal_text(s: &ham_client::proto::NotifySignalAction) -> String {
    format!(
        "{} value {} pid {} node {}",
        s.signum,
        s.value,
        s.pid,
        node(s.target_node.as_ref())
    )
}

fn fail_text(f: &ActionFailInfo) -> String {
    use action_fail_info::Kind;
    let what = match &f.kind {
        Some(Kind::Execute(x)) => format!("execute {}", x.command_line),
        Some(Kind::Waitfor(w)) if w.path.is_empty() => format!("waitfor {} ms", w.delay_ms),
        Some(Kind::Waitfor(w)) => format!("waitfor {} ms {}", w.delay_ms, w.path),
        Some(Kind::NotifyPulse(p)) => format!("pulse {}", pulse_text(p)),
        Some(Kind::NotifySignal(s)) => format!("signal {}", signal_text(s)),
        Some(Kind::Log(l)) => format!("log {}", l.message),
        None => "unknown".to_owned(),
    };
    format!("{} {what}", f.name)
}

#[cfg(test)]
mod tests;
