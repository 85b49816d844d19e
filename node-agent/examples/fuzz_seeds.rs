//! Writes the binary seed corpora of the fuzz targets (`fuzz/corpus/{api,log_entry,snapshot,
//! raft_envelope}`) from valid requests, commands, snapshots and raft messages, through the
//! same encoders the node uses: `cargo run -p ham-node-agent --example fuzz_seeds`
//! (docs/fuzzing.md). It lives here, not in `fuzz/`, to build without libFuzzer.

use ham_core::machine::{HamMachine, encode_command, encode_command_with_id};
use ham_core::replica::fuzzing::{encode_envelope, snapshot_bytes};
use ham_core::replica::{ApplyContext, StateMachine};
use ham_node_agent::fuzzing::{
    API_REQUESTS, Converted, api_request, api_state, apply, encode_raft_batch,
};
use ham_proto::ham::v1 as pb;
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb;
use std::path::Path;

fn entity() -> pb::EntityHandle {
    pb::EntityHandle {
        node_id: 1,
        entity: "e".into(),
        uid: 0,
    }
}

fn condition() -> pb::ConditionHandle {
    pb::ConditionHandle {
        entity: Some(entity()),
        condition: "c".into(),
        uid: 0,
    }
}

fn action() -> pb::ActionHandle {
    pb::ActionHandle {
        condition: Some(condition()),
        action: "a".into(),
        uid: 0,
    }
}

fn by_name(name: &str) -> Option<pb::NodeRef> {
    Some(pb::NodeRef {
        node: Some(pb::node_ref::Node::Name(name.into())),
    })
}

/// One valid request per RPC, by name.
fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let execute = pb::ExecuteAction {
        command_line: "/bin/echo 'recovered now'".into(),
        timeout_ms: 500,
    };
    let waitfor = pb::WaitforAction {
        path: "/run/inetd.sock".into(),
        delay_ms: 100,
    };
    let pulse = pb::NotifyPulseAction {
        target_node: by_name("n2"),
        pid: 42,
        chid: 1,
        code: 5,
        value: 7,
    };
    let signal = pb::NotifySignalAction {
        target_node: None,
        pid: 42,
        signum: 15,
        code: 0,
        value: 0,
    };
    let log = pb::LogAction {
        message: "inetd died".into(),
        attach_prefix: true,
        verbosity: 2,
    };
    vec![
        (
            "Handshake",
            pb::ConnectRequest {
                node: by_name("n2"),
            }
            .encode_to_vec(),
        ),
        (
            "Attach",
            pb::AttachRequest {
                name: "inetd".into(),
                command_line: "/usr/sbin/inetd -d".into(),
                pid: -1,
                period_ns: 1_000_000_000,
                hpdl: 1,
                hpdh: 3,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "AttachSelf",
            pb::AttachSelfRequest {
                name: "client".into(),
                pid: 4242,
                period_ns: 500_000_000,
                hpdl: 2,
                hpdh: 4,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "Detach",
            pb::DetachRequest {
                target: Some(pb::detach_request::Target::Handle(entity())),
                flags: 0,
            }
            .encode_to_vec(),
        ),
        (
            "Entity",
            pb::EntityRequest {
                node: by_name("n2"),
                name: "placeholder".into(),
                flags: 0,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "Condition",
            pb::ConditionRequest {
                entity: Some(entity()),
                condition_type: 2,
                name: "abnormal".into(),
                flags: 0,
            }
            .encode_to_vec(),
        ),
        (
            "ConditionRaise",
            pb::ConditionRaiseRequest {
                entity: Some(entity()),
                name: "raised".into(),
                rtype: 1,
                rclass: 2,
                rseverity: 3,
                flags: 0,
            }
            .encode_to_vec(),
        ),
        (
            "ConditionState",
            pb::ConditionStateRequest {
                entity: Some(entity()),
                name: "state".into(),
                from_state: 1,
                to_state: 2,
                flags: 0,
            }
            .encode_to_vec(),
        ),
        ("ConditionRemove", condition().encode_to_vec()),
        (
            "ActionRestart",
            pb::ActionRestartRequest {
                condition: Some(condition()),
                name: "restart".into(),
                flags: 0,
                params: Some(pb::RestartAction {
                    command_line: "/usr/sbin/inetd -d".into(),
                }),
            }
            .encode_to_vec(),
        ),
        (
            "ActionExecute",
            pb::ActionExecuteRequest {
                condition: Some(condition()),
                name: "exec".into(),
                flags: 0,
                params: Some(execute.clone()),
            }
            .encode_to_vec(),
        ),
        (
            "ActionWaitfor",
            pb::ActionWaitforRequest {
                condition: Some(condition()),
                name: "wait".into(),
                flags: 0,
                params: Some(waitfor.clone()),
            }
            .encode_to_vec(),
        ),
        (
            "ActionNotifyPulse",
            pb::ActionNotifyPulseRequest {
                condition: Some(condition()),
                name: "pulse".into(),
                flags: 0,
                params: Some(pulse.clone()),
            }
            .encode_to_vec(),
        ),
        (
            "ActionNotifySignal",
            pb::ActionNotifySignalRequest {
                condition: Some(condition()),
                name: "signal".into(),
                flags: 0,
                params: Some(signal.clone()),
            }
            .encode_to_vec(),
        ),
        (
            "ActionHeartbeatHealthy",
            pb::ActionHeartbeatHealthyRequest {
                condition: Some(condition()),
                name: "healthy".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "ActionLog",
            pb::ActionLogRequest {
                condition: Some(condition()),
                name: "log".into(),
                flags: 0,
                params: Some(log.clone()),
            }
            .encode_to_vec(),
        ),
        (
            "ActionFailExecute",
            pb::ActionFailExecuteRequest {
                action: Some(action()),
                name: "fexec".into(),
                flags: 0,
                params: Some(execute),
            }
            .encode_to_vec(),
        ),
        (
            "ActionFailWaitfor",
            pb::ActionFailWaitforRequest {
                action: Some(action()),
                name: "fwait".into(),
                flags: 0,
                params: Some(waitfor),
            }
            .encode_to_vec(),
        ),
        (
            "ActionFailNotifyPulse",
            pb::ActionFailNotifyPulseRequest {
                action: Some(action()),
                name: "fpulse".into(),
                flags: 0,
                params: Some(pulse),
            }
            .encode_to_vec(),
        ),
        (
            "ActionFailNotifySignal",
            pb::ActionFailNotifySignalRequest {
                action: Some(action()),
                name: "fsignal".into(),
                flags: 0,
                params: Some(signal),
            }
            .encode_to_vec(),
        ),
        (
            "ActionFailLog",
            pb::ActionFailLogRequest {
                action: Some(action()),
                name: "flog".into(),
                flags: 0,
                params: Some(log),
            }
            .encode_to_vec(),
        ),
        ("ActionRemove", action().encode_to_vec()),
        (
            "ActionFailRemove",
            pb::ActionFailRef {
                action: Some(action()),
                name: "flog".into(),
            }
            .encode_to_vec(),
        ),
        (
            "EntityControl",
            pb::EntityControlRequest {
                entity: Some(entity()),
                command: 2,
                flags: 0,
            }
            .encode_to_vec(),
        ),
        (
            "ConditionControl",
            pb::ConditionControlRequest {
                condition: Some(condition()),
                command: 3,
                flags: 1,
            }
            .encode_to_vec(),
        ),
        (
            "ActionControl",
            pb::ActionControlRequest {
                action: Some(action()),
                command: 1,
                flags: 0,
            }
            .encode_to_vec(),
        ),
        (
            "EntityConditionRaise",
            pb::EntityConditionRaiseRequest {
                entity: Some(entity()),
                rtype: 1,
                rclass: 2,
                rseverity: 3,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "EntityConditionState",
            pb::EntityConditionStateRequest {
                entity: Some(entity()),
                state: 2,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "Heartbeat",
            pb::HeartbeatRequest {
                entity: Some(entity()),
            }
            .encode_to_vec(),
        ),
        (
            "Stop",
            pb::StopRequest {
                node: None,
                cluster: true,
            }
            .encode_to_vec(),
        ),
        (
            "Verbose",
            pb::VerboseRequest {
                node: by_name("n1"),
                op: 2,
                value: 3,
            }
            .encode_to_vec(),
        ),
        (
            "EntityHandleLookup",
            pb::EntityHandleLookupRequest {
                node: None,
                entity: "e".into(),
            }
            .encode_to_vec(),
        ),
        (
            "ConditionHandleLookup",
            pb::ConditionHandleLookupRequest {
                node: None,
                entity: "e".into(),
                condition: "c".into(),
            }
            .encode_to_vec(),
        ),
        (
            "ActionHandleLookup",
            pb::ActionHandleLookupRequest {
                node: None,
                entity: "e".into(),
                condition: "c".into(),
                action: "a".into(),
            }
            .encode_to_vec(),
        ),
        (
            "Tree",
            pb::TreeRequest {
                node: by_name("*"),
                entity: "e".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "AddNode",
            pb::AddNodeRequest {
                id: 3,
                name: "n3".into(),
                address: "127.0.0.3:4815".into(),
                learner: true,
            }
            .encode_to_vec(),
        ),
        (
            "RemoveNode",
            pb::RemoveNodeRequest {
                node: by_name("n2"),
            }
            .encode_to_vec(),
        ),
        (
            "HeartbeatStream",
            pb::HeartbeatRequest {
                entity: Some(entity()),
            }
            .encode_to_vec(),
        ),
        (
            "PulseChannel",
            pb::PulseChannelRequest { pid: 42, chid: 1 }.encode_to_vec(),
        ),
    ]
}

fn raft_messages(snapshot: &[u8], entry: &[u8]) -> Vec<Vec<u8>> {
    let mut append = eraftpb::Message::default();
    append.set_msg_type(eraftpb::MessageType::MsgAppend);
    append.to = 2;
    append.from = 1;
    append.term = 3;
    append.index = 9;
    append.log_term = 3;
    append.commit = 9;
    let mut e = eraftpb::Entry {
        index: 10,
        term: 3,
        ..Default::default()
    };
    e.set_data(entry.to_vec().into());
    append.mut_entries().push(e);
    let mut snap = eraftpb::Message::default();
    snap.set_msg_type(eraftpb::MessageType::MsgSnapshot);
    snap.to = 2;
    snap.from = 1;
    snap.term = 3;
    let mut s = eraftpb::Snapshot::default();
    s.set_data(snapshot.to_vec().into());
    s.mut_metadata().index = 10;
    s.mut_metadata().term = 3;
    s.mut_metadata().mut_conf_state().voters = vec![1, 2, 3];
    snap.set_snapshot(s);
    let mut heartbeat = eraftpb::Message::default();
    heartbeat.set_msg_type(eraftpb::MessageType::MsgHeartbeat);
    heartbeat.to = 2;
    heartbeat.from = 1;
    heartbeat.term = 3;
    heartbeat.commit = 10;
    let mut vote = eraftpb::Message::default();
    vote.set_msg_type(eraftpb::MessageType::MsgRequestPreVote);
    vote.to = 1;
    vote.from = 3;
    vote.term = 4;
    vote.index = 10;
    vote.log_term = 3;
    [append, snap, heartbeat, vote]
        .iter()
        .map(|m| m.write_to_bytes().expect("a raft message encodes"))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed written");
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut state = api_state();
    let mut machine = HamMachine::new(api_state(), Box::new(|_| {}));
    let mut index = 10;
    let mut first_entry = None;
    for (rpc, bytes) in requests() {
        let which = API_REQUESTS
            .iter()
            .position(|(r, _)| *r == rpc)
            .expect("a listed RPC");
        let mut seed = vec![u8::try_from(which).expect("fewer than 256 RPCs")];
        seed.extend_from_slice(&bytes);
        write(&corpus.join("api"), &rpc.to_lowercase(), &seed);
        let Some(Ok(Converted::Write(cmd))) = api_request(which, &bytes, &state) else {
            continue;
        };
        let entry = encode_command(&cmd);
        let with_id = encode_command_with_id(&cmd, Some("req-0001")).expect("a valid id");
        write(&corpus.join("log_entry"), &rpc.to_lowercase(), &entry);
        write(
            &corpus.join("log_entry"),
            &format!("{}-with-id", rpc.to_lowercase()),
            &with_id,
        );
        // The state grows with every write that applies, as a node's would; stopping the
        // cluster is left out so that the later writes still apply.
        if rpc != "Stop" && apply(&mut state, cmd).is_ok() {
            index += 1;
            let ctx = ApplyContext {
                index,
                term: 1,
                replaying: false,
            };
            let _ = machine.apply(ctx, &with_id);
            first_entry.get_or_insert(entry);
        }
    }
    let snapshot = snapshot_bytes(&machine);
    write(&corpus.join("snapshot"), "grown", &snapshot);
    let empty = HamMachine::new(Default::default(), Box::new(|_| {}));
    write(&corpus.join("snapshot"), "empty", &snapshot_bytes(&empty));
    let seeded = HamMachine::new(api_state(), Box::new(|_| {}));
    write(&corpus.join("snapshot"), "seeded", &snapshot_bytes(&seeded));

    let entry = first_entry.expect("some write applied");
    let envelope = encode_envelope(2, (1 << 40) | 7, &entry);
    let dir = corpus.join("raft_envelope");
    write(&dir, "envelope", &envelope);
    write(&dir, "envelope-empty", &encode_envelope(1, 1, b""));
    let messages = raft_messages(&snapshot_bytes(&seeded), &envelope);
    for (name, m) in ["append", "snapshot", "heartbeat", "prevote"]
        .iter()
        .zip(&messages)
    {
        write(&dir, name, m);
    }
    write(&dir, "batch", &encode_raft_batch(1, messages));
}
