//! Entry points for the fuzz targets (`fuzz/`, HAM-CONTRACT P9): thin public wrappers over the
//! agent's private parsers of outside input. Each wrapper runs the parser the agent runs, on
//! bytes instead of a socket or a file; nothing in the daemon calls them.

use crate::api::convert::{self as cv, node_sel};
use crate::cli::Args;
use crate::node::resolve_in;
use crate::settings::{FileConfig, Settings};
use clap::Parser as _;
use ham_core::model::flags::{
    HCONDSTATEFROMINV, HCONDSTATEFROMSET, HCONDSTATETOINV, HCONDSTATETOSET,
};
use ham_core::model::{
    self as m, ActionKind, CLUSTER_NODE_ID, Command, ConditionFilter, ConditionType, HamError,
    HamState, Result, einval,
};
use ham_proto::ham::v1 as pb;
use prost::Message;

/// What an sd_notify datagram says (HAM-CONTRACT H4); `None` for a datagram the agent drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `WATCHDOG=1`.
    pub watchdog: bool,
    /// `READY=1`.
    pub ready: bool,
    /// `STOPPING=1`.
    pub stopping: bool,
    /// `STATUS=...`.
    pub status: Option<String>,
    /// `MAINPID=n`.
    pub main_pid: Option<u32>,
}

/// Parses one sd_notify datagram as the notify socket does.
pub fn sd_notify(datagram: &[u8]) -> Option<Notice> {
    let text = crate::agent::notify::datagram_text(datagram)?;
    let n = crate::agent::notify::parse(text);
    Some(Notice {
        watchdog: n.watchdog,
        ready: n.ready,
        stopping: n.stopping,
        status: n.status,
        main_pid: n.main_pid,
    })
}

/// Parses a pid file's contents as the daemon follower does (HAM-CONTRACT E8). A pid file
/// that is not UTF-8 is unreadable to it, as to `read_to_string`.
pub fn pidfile(contents: &[u8]) -> Option<u32> {
    crate::process::daemon::parse_pidfile(contents)
}

/// The settings a node resolves to, as far as the fuzz targets check them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// This node's id.
    pub node_id: u64,
    /// The other initial voters: id, name, address.
    pub peers: Vec<(u64, String, String)>,
    /// The initial voters (this node and its peers, none when joining).
    pub voters: Vec<u64>,
    /// Election timeout in ticks.
    pub election_ticks: usize,
    /// Leader heartbeat interval in ticks.
    pub heartbeat_ticks: usize,
}

/// Resolves `ham`'s settings from a command line (without the program name) and the text of
/// a configuration file, as the daemon does at start; `Err` is the daemon's start-up error.
/// A `--config` flag in `argv` is parsed but its file is not read: `config` stands for it.
pub fn settings(argv: &[String], config: Option<&str>) -> std::result::Result<Resolved, String> {
    let args = Args::try_parse_from(std::iter::once("ham".to_string()).chain(argv.iter().cloned()))
        .map_err(|e| e.to_string())?;
    let file = match config {
        Some(text) => FileConfig::parse(text).map_err(|e| e.to_string())?,
        None => FileConfig::default(),
    };
    let s = Settings::from_parts(&args, file).map_err(|e| format!("{e:#}"))?;
    Ok(Resolved {
        node_id: s.node_id,
        peers: s
            .peers
            .iter()
            .map(|p| (p.id, p.name.clone(), p.address.clone()))
            .collect(),
        voters: s.voters(),
        election_ticks: s.election_ticks,
        heartbeat_ticks: s.heartbeat_ticks,
    })
}

/// Parses one `--peer ID=NAME@HOST:PORT` value.
pub fn peer(text: &str) -> std::result::Result<(u64, String, String), String> {
    crate::cli::parse_peer(text).map(|p| (p.id, p.name, p.address))
}

/// True when `bytes` is a raft snapshot message to the transport (it reports their delivery).
pub fn wire_is_snapshot(bytes: &[u8]) -> bool {
    crate::transport::wire::is_snapshot(bytes)
}

/// Decodes a node-to-node Raft batch (`ham.raft.v1.RaftBatch`) as the inbound stream does,
/// returning the sender and its messages.
pub fn raft_batch(bytes: &[u8]) -> Option<(u64, Vec<Vec<u8>>)> {
    let b = ham_proto::ham::raft::v1::RaftBatch::decode(bytes).ok()?;
    Some((b.from, b.messages))
}

/// Encodes a Raft batch as a link sends it.
pub fn encode_raft_batch(from: u64, messages: Vec<Vec<u8>>) -> Vec<u8> {
    ham_proto::ham::raft::v1::RaftBatch { from, messages }.encode_to_vec()
}

/// The node serving every fuzzed API call.
pub const LOCAL_NODE: u64 = 1;

/// A small state for API requests to act on: nodes 1 (`n1`, the local one) and 2 (`n2`),
/// entity `e` on node 1 with a DEATH condition `c` that holds a LOG action `a`.
pub fn api_state() -> HamState {
    let mut s = HamState::default();
    let entity = m::EntityRef {
        node: LOCAL_NODE,
        name: "e".into(),
        uid: None,
    };
    let condition = m::ConditionRef {
        entity: entity.clone(),
        name: "c".into(),
        uid: None,
    };
    let seed = [
        Command::RegisterNode {
            id: 1,
            name: "n1".into(),
            address: "127.0.0.1:4815".into(),
        },
        Command::RegisterNode {
            id: 2,
            name: "n2".into(),
            address: "127.0.0.2:4815".into(),
        },
        Command::Placeholder {
            node: LOCAL_NODE,
            name: "e".into(),
            flags: 0,
            now_ns: 1,
            pacing: None,
        },
        Command::AddCondition {
            entity,
            name: "c".into(),
            ctype: ConditionType::Death,
            flags: 0,
            filter: ConditionFilter::None,
        },
        Command::AddAction {
            condition,
            name: "a".into(),
            flags: 0,
            kind: ActionKind::Log {
                message: "m".into(),
                attach_prefix: false,
                verbosity: 1,
            },
        },
    ];
    for cmd in seed {
        if let Err(e) = s.apply(cmd) {
            unreachable!("the fuzzing seed state applies: {e}");
        }
    }
    s
}

/// What an API request became at the edge.
// One value per fuzz input, made and dropped at once: boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Converted {
    /// A write: the command the service proposes.
    Write(Command),
    /// A read or a local call: nothing enters the log.
    Read,
}

/// The request types of `service Ham`, by RPC name, in the order of the `.proto`.
/// `api_request` takes an index into this list.
pub const API_REQUESTS: &[(&str, &str)] = &[
    ("Handshake", "ConnectRequest"),
    ("Attach", "AttachRequest"),
    ("AttachSelf", "AttachSelfRequest"),
    ("Detach", "DetachRequest"),
    ("Entity", "EntityRequest"),
    ("Condition", "ConditionRequest"),
    ("ConditionRaise", "ConditionRaiseRequest"),
    ("ConditionState", "ConditionStateRequest"),
    ("ConditionRemove", "ConditionHandle"),
    ("ActionRestart", "ActionRestartRequest"),
    ("ActionExecute", "ActionExecuteRequest"),
    ("ActionWaitfor", "ActionWaitforRequest"),
    ("ActionNotifyPulse", "ActionNotifyPulseRequest"),
    ("ActionNotifySignal", "ActionNotifySignalRequest"),
    ("ActionHeartbeatHealthy", "ActionHeartbeatHealthyRequest"),
    ("ActionLog", "ActionLogRequest"),
    ("ActionFailExecute", "ActionFailExecuteRequest"),
    ("ActionFailWaitfor", "ActionFailWaitforRequest"),
    ("ActionFailNotifyPulse", "ActionFailNotifyPulseRequest"),
    ("ActionFailNotifySignal", "ActionFailNotifySignalRequest"),
    ("ActionFailLog", "ActionFailLogRequest"),
    ("ActionRemove", "ActionHandle"),
    ("ActionFailRemove", "ActionFailRef"),
    ("EntityControl", "EntityControlRequest"),
    ("ConditionControl", "ConditionControlRequest"),
    ("ActionControl", "ActionControlRequest"),
    ("EntityConditionRaise", "EntityConditionRaiseRequest"),
    ("EntityConditionState", "EntityConditionStateRequest"),
    ("Heartbeat", "HeartbeatRequest"),
    ("Stop", "StopRequest"),
    ("Verbose", "VerboseRequest"),
    ("EntityHandleLookup", "EntityHandleLookupRequest"),
    ("ConditionHandleLookup", "ConditionHandleLookupRequest"),
    ("ActionHandleLookup", "ActionHandleLookupRequest"),
    ("Tree", "TreeRequest"),
    ("AddNode", "AddNodeRequest"),
    ("RemoveNode", "RemoveNodeRequest"),
    ("HeartbeatStream", "HeartbeatRequest"),
    ("PulseChannel", "PulseChannelRequest"),
    ("EntityStop", "EntityStopRequest"),
    ("EntityStart", "EntityStartRequest"),
];

/// Decodes `bytes` as the request of RPC `API_REQUESTS[which]` and converts it as the service
/// does, resolving nodes and handles against `state` for a call served by [`LOCAL_NODE`].
/// `None` when the bytes are not that message (the gRPC layer refuses those before the
/// service sees them). Each decoded message is also checked to encode and decode back to
/// itself.
pub fn api_request(which: usize, bytes: &[u8], state: &HamState) -> Option<Result<Converted>> {
    let (rpc, _) = API_REQUESTS.get(which)?;
    let cx = Edge { state };
    Some(match *rpc {
        "Handshake" => decode(bytes, |r: pb::ConnectRequest| {
            cx.node(r.node.as_ref()).map(|_| Converted::Read)
        })?,
        "Attach" => decode(bytes, |r: pb::AttachRequest| cx.attach(r))?,
        "AttachSelf" => decode(bytes, |r: pb::AttachSelfRequest| cx.attach_self(r))?,
        "Detach" => decode(bytes, |r: pb::DetachRequest| cx.detach(r))?,
        "Entity" => decode(bytes, |r: pb::EntityRequest| {
            Ok(write(Command::Placeholder {
                node: cx.node(r.node.as_ref())?,
                name: r.name,
                flags: r.flags,
                now_ns: 0,
                pacing: None,
            }))
        })?,
        "Condition" => decode(bytes, |r: pb::ConditionRequest| {
            let ctype = cv::condition_type(r.condition_type)?;
            if matches!(ctype, ConditionType::Raise | ConditionType::State) {
                return Err(einval("RAISE and STATE conditions have calls of their own"));
            }
            cx.condition(
                r.entity.as_ref(),
                r.name,
                ctype,
                r.flags,
                ConditionFilter::None,
            )
        })?,
        "ConditionRaise" => decode(bytes, |r: pb::ConditionRaiseRequest| {
            let filter = ConditionFilter::Raise(m::RaiseFilter {
                rtype: r.rtype.into(),
                rclass: r.rclass.into(),
                rseverity: r.rseverity.into(),
            });
            cx.condition(
                r.entity.as_ref(),
                r.name,
                ConditionType::Raise,
                r.flags,
                filter,
            )
        })?,
        "ConditionState" => decode(bytes, |r: pb::ConditionStateRequest| {
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
            let filter = ConditionFilter::State { from, to };
            cx.condition(r.entity.as_ref(), r.name, ConditionType::State, f, filter)
        })?,
        "ConditionRemove" => decode(bytes, |r: pb::ConditionHandle| {
            Ok(write(Command::RemoveCondition {
                condition: cv::condition_ref(Some(&r), LOCAL_NODE)?,
            }))
        })?,
        "ActionRestart" => decode(bytes, |r: pb::ActionRestartRequest| {
            let p = r
                .params
                .ok_or_else(|| einval("missing restart parameters"))?;
            let kind = ActionKind::Restart {
                command_line: p.command_line,
            };
            action(r.condition.as_ref(), r.name, r.flags, kind)
        })?,
        "ActionExecute" => decode(bytes, |r: pb::ActionExecuteRequest| {
            action(
                r.condition.as_ref(),
                r.name,
                r.flags,
                cv::execute(r.params.as_ref())?,
            )
        })?,
        "ActionWaitfor" => decode(bytes, |r: pb::ActionWaitforRequest| {
            action(
                r.condition.as_ref(),
                r.name,
                r.flags,
                cv::waitfor(r.params.as_ref())?,
            )
        })?,
        "ActionNotifyPulse" => decode(bytes, |r: pb::ActionNotifyPulseRequest| {
            let node = entity_node_of_condition(r.condition.as_ref());
            let kind = cx.pulse(r.params.as_ref(), node)?;
            action(r.condition.as_ref(), r.name, r.flags, kind)
        })?,
        "ActionNotifySignal" => decode(bytes, |r: pb::ActionNotifySignalRequest| {
            let node = entity_node_of_condition(r.condition.as_ref());
            let kind = cx.signal(r.params.as_ref(), node)?;
            action(r.condition.as_ref(), r.name, r.flags, kind)
        })?,
        "ActionHeartbeatHealthy" => decode(bytes, |r: pb::ActionHeartbeatHealthyRequest| {
            action(
                r.condition.as_ref(),
                r.name,
                r.flags,
                ActionKind::HeartbeatHealthy,
            )
        })?,
        "ActionLog" => decode(bytes, |r: pb::ActionLogRequest| {
            action(
                r.condition.as_ref(),
                r.name,
                r.flags,
                cv::log(r.params.as_ref())?,
            )
        })?,
        "ActionFailExecute" => decode(bytes, |r: pb::ActionFailExecuteRequest| {
            action_fail(
                r.action.as_ref(),
                r.name,
                r.flags,
                cv::execute(r.params.as_ref())?,
            )
        })?,
        "ActionFailWaitfor" => decode(bytes, |r: pb::ActionFailWaitforRequest| {
            action_fail(
                r.action.as_ref(),
                r.name,
                r.flags,
                cv::waitfor(r.params.as_ref())?,
            )
        })?,
        "ActionFailNotifyPulse" => decode(bytes, |r: pb::ActionFailNotifyPulseRequest| {
            let node = entity_node_of_action(r.action.as_ref());
            let kind = cx.pulse(r.params.as_ref(), node)?;
            action_fail(r.action.as_ref(), r.name, r.flags, kind)
        })?,
        "ActionFailNotifySignal" => decode(bytes, |r: pb::ActionFailNotifySignalRequest| {
            let node = entity_node_of_action(r.action.as_ref());
            let kind = cx.signal(r.params.as_ref(), node)?;
            action_fail(r.action.as_ref(), r.name, r.flags, kind)
        })?,
        "ActionFailLog" => decode(bytes, |r: pb::ActionFailLogRequest| {
            action_fail(
                r.action.as_ref(),
                r.name,
                r.flags,
                cv::log(r.params.as_ref())?,
            )
        })?,
        "ActionRemove" => decode(bytes, |r: pb::ActionHandle| {
            Ok(write(Command::RemoveAction {
                action: cv::action_ref(Some(&r), LOCAL_NODE)?,
            }))
        })?,
        "ActionFailRemove" => decode(bytes, |r: pb::ActionFailRef| {
            Ok(write(Command::RemoveActionFail {
                action: cv::action_ref(r.action.as_ref(), LOCAL_NODE)?,
                name: r.name,
            }))
        })?,
        "EntityControl" => decode(bytes, |r: pb::EntityControlRequest| {
            let target = m::ObjectRef::Entity(cv::entity_ref(r.entity.as_ref(), LOCAL_NODE)?);
            control(target, r.command, r.flags)
        })?,
        "ConditionControl" => decode(bytes, |r: pb::ConditionControlRequest| {
            let target =
                m::ObjectRef::Condition(cv::condition_ref(r.condition.as_ref(), LOCAL_NODE)?);
            control(target, r.command, r.flags)
        })?,
        "ActionControl" => decode(bytes, |r: pb::ActionControlRequest| {
            let target = m::ObjectRef::Action(cv::action_ref(r.action.as_ref(), LOCAL_NODE)?);
            control(target, r.command, r.flags)
        })?,
        "EntityConditionRaise" => decode(bytes, |r: pb::EntityConditionRaiseRequest| {
            Ok(write(Command::Raise {
                entity: cv::entity_ref(r.entity.as_ref(), LOCAL_NODE)?,
                rtype: r.rtype.into(),
                rclass: r.rclass.into(),
                rseverity: r.rseverity.into(),
            }))
        })?,
        "EntityConditionState" => decode(bytes, |r: pb::EntityConditionStateRequest| {
            Ok(write(Command::ReportState {
                entity: cv::entity_ref(r.entity.as_ref(), LOCAL_NODE)?,
                state: r.state,
            }))
        })?,
        "Heartbeat" | "HeartbeatStream" => {
            decode(bytes, |r: pb::HeartbeatRequest| cx.heartbeat(&r))?
        }
        "Stop" => decode(bytes, |r: pb::StopRequest| {
            if r.cluster {
                return Ok(write(Command::StopCluster));
            }
            if cx.node(r.node.as_ref())? == CLUSTER_NODE_ID {
                return Err(einval("stopping every node needs the cluster flag"));
            }
            Ok(Converted::Read)
        })?,
        "Verbose" => decode(bytes, |r: pb::VerboseRequest| {
            let node = cx.node(r.node.as_ref())?;
            if node == CLUSTER_NODE_ID {
                return Err(einval("verbosity belongs to one node's HAM"));
            }
            let op = cv::verbose_op(r.op)?;
            if op == m::VerboseOp::Get {
                return state.context(node).map(|_| Converted::Read);
            }
            Ok(write(Command::Verbose {
                node,
                op,
                value: r.value.into(),
            }))
        })?,
        "EntityHandleLookup" => decode(bytes, |r: pb::EntityHandleLookupRequest| {
            let node = cx.node(r.node.as_ref())?;
            let h = state.entity_handle(node, &r.entity)?;
            handle_round_trips(cv::entity_ref(Some(&cv::entity_handle(&h)), LOCAL_NODE)?, h)
        })?,
        "ConditionHandleLookup" => decode(bytes, |r: pb::ConditionHandleLookupRequest| {
            let node = cx.node(r.node.as_ref())?;
            let h = state.condition_handle(node, &r.entity, &r.condition)?;
            let back = cv::condition_ref(Some(&cv::condition_handle(&h)), LOCAL_NODE)?;
            handle_round_trips(back, h)
        })?,
        "ActionHandleLookup" => decode(bytes, |r: pb::ActionHandleLookupRequest| {
            let node = cx.node(r.node.as_ref())?;
            let h = state.action_handle(node, &r.entity, &r.condition, &r.action)?;
            handle_round_trips(cv::action_ref(Some(&cv::action_handle(&h)), LOCAL_NODE)?, h)
        })?,
        "Tree" => decode(bytes, |r: pb::TreeRequest| {
            cx.node(r.node.as_ref()).map(|_| Converted::Read)
        })?,
        "AddNode" => decode(bytes, |r: pb::AddNodeRequest| {
            if r.address.is_empty() || !r.address.contains(':') {
                return Err(einval("bad address: expected HOST:PORT"));
            }
            m::check_name("node", &r.name)?;
            Ok(write(Command::RegisterNode {
                id: r.id,
                name: r.name,
                address: r.address,
            }))
        })?,
        "RemoveNode" => decode(bytes, |r: pb::RemoveNodeRequest| {
            cx.node(r.node.as_ref()).map(|_| Converted::Read)
        })?,
        "PulseChannel" => decode(bytes, |r: pb::PulseChannelRequest| {
            crate::agent::pulses::check_channel(r.pid, r.chid).map(|_| Converted::Read)
        })?,
        "EntityStop" => decode(bytes, |r: pb::EntityStopRequest| {
            use pb::entity_stop_request::Target as T;
            let entity = match r.target {
                Some(T::Handle(h)) => cx.entity(Some(h), None)?,
                Some(T::ByName(n)) => cx.entity(None, Some(n))?,
                None => cx.entity(None, None)?,
            };
            Ok(write(Command::StopEntity { entity }))
        })?,
        "EntityStart" => decode(bytes, |r: pb::EntityStartRequest| {
            use pb::entity_start_request::Target as T;
            let entity = match r.target {
                Some(T::Handle(h)) => cx.entity(Some(h), None)?,
                Some(T::ByName(n)) => cx.entity(None, Some(n))?,
                None => cx.entity(None, None)?,
            };
            Ok(write(Command::StartEntity { entity, now_ns: 0 }))
        })?,
        other => unreachable!("API_REQUESTS names {other}, which has no conversion here"),
    })
}

fn write(cmd: Command) -> Converted {
    Converted::Write(cmd)
}

/// Decodes one message, checks that it encodes back to an equal message, and converts it.
fn decode<T: Message + Default + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    convert: impl FnOnce(T) -> Result<Converted>,
) -> Option<Result<Converted>> {
    let msg = T::decode(bytes).ok()?;
    let again = T::decode(msg.encode_to_vec().as_slice()).ok();
    assert!(
        again.as_ref() == Some(&msg),
        "a decoded request does not survive encoding: {msg:?}"
    );
    Some(convert(msg))
}

/// A handle the state handed out converts to the wire and back to itself.
fn handle_round_trips<T: PartialEq + std::fmt::Debug>(back: T, h: T) -> Result<Converted> {
    assert_eq!(back, h, "a handle does not survive the wire");
    Ok(Converted::Read)
}

fn action(
    on: Option<&pb::ConditionHandle>,
    name: String,
    flags: u32,
    kind: ActionKind,
) -> Result<Converted> {
    Ok(write(Command::AddAction {
        condition: cv::condition_ref(on, LOCAL_NODE)?,
        name,
        flags,
        kind,
    }))
}

fn action_fail(
    on: Option<&pb::ActionHandle>,
    name: String,
    flags: u32,
    kind: ActionKind,
) -> Result<Converted> {
    Ok(write(Command::AddActionFail {
        action: cv::action_ref(on, LOCAL_NODE)?,
        name,
        flags,
        kind,
    }))
}

fn control(target: m::ObjectRef, command: i32, flags: u32) -> Result<Converted> {
    let op = cv::control_op(command)?;
    Ok(write(Command::Control { target, op, flags }))
}

fn entity_node_of_condition(on: Option<&pb::ConditionHandle>) -> u64 {
    cv::condition_ref(on, LOCAL_NODE).map_or(LOCAL_NODE, |c| c.entity.node)
}

fn entity_node_of_action(on: Option<&pb::ActionHandle>) -> u64 {
    cv::action_ref(on, LOCAL_NODE).map_or(LOCAL_NODE, |a| a.condition.entity.node)
}

/// The service's view of one call: the state it resolves against.
struct Edge<'a> {
    state: &'a HamState,
}

impl Edge<'_> {
    fn node(&self, r: Option<&pb::NodeRef>) -> Result<u64> {
        resolve_in(self.state, LOCAL_NODE, &node_sel(r))
    }

    /// The entity a stop or start call names (as `api/stopstart.rs` resolves it).
    fn entity(
        &self,
        handle: Option<pb::EntityHandle>,
        by_name: Option<pb::NamedEntity>,
    ) -> Result<m::EntityRef> {
        match (handle, by_name) {
            (Some(h), _) => cv::entity_ref(Some(&h), LOCAL_NODE),
            (None, Some(n)) => Ok(m::EntityRef {
                node: self.node(n.node.as_ref())?,
                name: n.name,
                uid: None,
            }),
            (None, None) => Err(einval("name the entity by handle or by node and name")),
        }
    }

    fn attach(&self, r: pb::AttachRequest) -> Result<Converted> {
        let node = self.node(r.node.as_ref())?;
        cv::pid("attach pid", r.pid, false)?;
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Ok(write(Command::Attach {
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
            now_ns: 0,
            // The service's own conversions of the options (L7/P4), stop policy (S2) and
            // pacing (L4). Conditions given with the attach (L6) go through the service's
            // per-action conversions, which the action RPCs below reach one by one.
            options: crate::api::attach::process_options(r.process.as_ref())?,
            conditions: Vec::new(),
            stop: cv::stop_policy(r.warn_signal, r.grace_ms, r.kill_mode)?,
            pacing: cv::pacing(
                r.pacing_burst,
                r.pacing_window_ms,
                r.pacing_min_delay_ms,
                r.pacing_max_delay_ms,
                r.pacing_off,
            )?,
        }))
    }

    fn attach_self(&self, r: pb::AttachSelfRequest) -> Result<Converted> {
        let node = self.node(r.node.as_ref())?;
        cv::pid("self-attach pid", r.pid, true)?;
        Ok(write(Command::AttachSelf {
            node,
            name: r.name,
            pid: r.pid,
            period_ns: r.period_ns,
            hpdl: r.hpdl,
            hpdh: r.hpdh,
            flags: r.flags,
            now_ns: 0,
        }))
    }

    fn detach(&self, r: pb::DetachRequest) -> Result<Converted> {
        if r.flags != 0 {
            return Err(einval("detach takes no flags"));
        }
        let entity = match r.target {
            Some(pb::detach_request::Target::Handle(h)) => cv::entity_ref(Some(&h), LOCAL_NODE)?,
            Some(pb::detach_request::Target::ByName(n)) => m::EntityRef {
                node: self.node(n.node.as_ref())?,
                name: n.name,
                uid: None,
            },
            None => return Err(einval("detach needs a handle or a name")),
        };
        Ok(write(Command::Detach { entity }))
    }

    fn condition(
        &self,
        entity: Option<&pb::EntityHandle>,
        name: String,
        ctype: ConditionType,
        flags: u32,
        filter: ConditionFilter,
    ) -> Result<Converted> {
        Ok(write(Command::AddCondition {
            entity: cv::entity_ref(entity, LOCAL_NODE)?,
            name,
            ctype,
            flags,
            filter,
        }))
    }

    /// The target node of a notification, as the service picks it.
    fn notify_node(&self, target: Option<&pb::NodeRef>, entity_node: u64) -> Result<u64> {
        let node = match node_sel(target) {
            cv::NodeSel::Local if entity_node != CLUSTER_NODE_ID && entity_node != 0 => entity_node,
            sel => resolve_in(self.state, LOCAL_NODE, &sel)?,
        };
        if node == CLUSTER_NODE_ID {
            return Err(einval("a notification targets one node, not \"*\""));
        }
        Ok(node)
    }

    fn pulse(&self, p: Option<&pb::NotifyPulseAction>, entity_node: u64) -> Result<ActionKind> {
        let p = p.ok_or_else(|| einval("missing pulse parameters"))?;
        Ok(ActionKind::NotifyPulse {
            node: self.notify_node(p.target_node.as_ref(), entity_node)?,
            pid: cv::pid("pulse target pid", p.pid, true)?,
            chid: p.chid,
            code: p.code,
            value: p.value,
        })
    }

    fn signal(&self, p: Option<&pb::NotifySignalAction>, entity_node: u64) -> Result<ActionKind> {
        let p = p.ok_or_else(|| einval("missing signal parameters"))?;
        Ok(ActionKind::NotifySignal {
            node: self.notify_node(p.target_node.as_ref(), entity_node)?,
            pid: cv::pid("signal target pid", p.pid, true)?,
            signum: p.signum,
            code: p.code,
            value: p.value,
        })
    }

    fn heartbeat(&self, r: &pb::HeartbeatRequest) -> Result<Converted> {
        let entity = cv::entity_ref(r.entity.as_ref(), LOCAL_NODE)?;
        resolve_in(self.state, LOCAL_NODE, &cv::NodeSel::Id(entity.node))?;
        self.state.entity(&entity).map(|_| Converted::Read)
    }
}

/// Applies a converted write to `state` as the replicated machine would; `Err` leaves
/// `state` as it was (checked by the caller).
pub fn apply(state: &mut HamState, cmd: Command) -> std::result::Result<(), HamError> {
    state.apply(cmd).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P9: the API target covers every request of `service Ham`: the list is the `.proto`'s.
    #[test]
    fn p9_api_requests_list_every_rpc_of_service_ham() {
        let proto = include_str!("../../proto/ham/v1/ham.proto");
        let service = &proto[proto.find("service Ham {").expect("service Ham")..];
        let service = &service[..service.find("\n}").expect("end of service Ham")];
        let mut rpcs = Vec::new();
        for line in service.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("rpc ") else {
                continue;
            };
            let (name, rest) = rest.split_once('(').expect("rpc NAME(");
            let input = rest.split_once(')').expect("(INPUT)").0;
            let input = input.trim_start_matches("stream ").trim();
            rpcs.push((name.trim().to_string(), input.to_string()));
        }
        let listed: Vec<(String, String)> = API_REQUESTS
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(listed, rpcs);
    }

    #[test]
    fn p9_every_listed_request_converts_from_its_empty_message() {
        let state = api_state();
        for (i, (rpc, _)) in API_REQUESTS.iter().enumerate() {
            // The empty message is valid protobuf for every type: each must reach its conversion.
            assert!(api_request(i, &[], &state).is_some(), "{rpc}");
        }
        assert!(api_request(API_REQUESTS.len(), &[], &state).is_none());
    }

    #[test]
    fn p9_a_valid_attach_request_becomes_a_command_the_state_accepts() {
        let mut state = api_state();
        let req = pb::AttachRequest {
            name: "inetd".into(),
            command_line: "/usr/sbin/inetd -d".into(),
            ..Default::default()
        };
        let which = API_REQUESTS
            .iter()
            .position(|(r, _)| *r == "Attach")
            .unwrap();
        let Some(Ok(Converted::Write(cmd))) = api_request(which, &req.encode_to_vec(), &state)
        else {
            panic!("attach did not convert");
        };
        apply(&mut state, cmd).unwrap();
        let e = m::EntityRef {
            node: LOCAL_NODE,
            name: "inetd".into(),
            uid: None,
        };
        assert!(state.entity(&e).is_ok());
    }

    #[test]
    fn p9_sd_notify_and_pidfile_wrappers_parse_like_the_agent() {
        assert_eq!(
            sd_notify(b"READY=1\nMAINPID=77\n").map(|n| (n.ready, n.main_pid)),
            Some((true, Some(77)))
        );
        assert_eq!(sd_notify(b"WATCHDOG=1\0"), None);
        assert_eq!(sd_notify(&[0xff, 0xfe]), None);
        assert_eq!(pidfile(b" 1234\n"), Some(1234));
        assert_eq!(pidfile(b"1"), None);
        assert_eq!(pidfile(&[0x31, 0xff]), None);
    }
}
