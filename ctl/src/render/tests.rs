//! Exact-text tests of the /proc/ham shapes (HAM-CONTRACT X5).

use ham_client::flags;
use ham_client::proto::{
    ActionFailInfo, ActionInfo, ConditionInfo, ConditionType, EntityInfo, EntityKind, EntityStats,
    ExecuteAction, HamInfo, HeartbeatInfo, HeartbeatState, LogAction, NodeRef, NodeState,
    NodeStatus, NotifyPulseAction, NotifySignalAction, RestartAction, StateFilter, WaitforAction,
    action_fail_info, action_info, node_ref,
};

use super::*;

const CREATED: i64 = 999_212_689_930_148_650;
const DIED: i64 = 999_213_031_889_820_814;
const RESTARTED: i64 = 999_213_031_904_818_519;

fn inetd() -> EntityInfo {
    let restart = ActionInfo {
        name: "restart".into(),
        flags: flags::HREARMAFTERRESTART,
        enabled: true,
        kind: Some(action_info::Kind::Restart(RestartAction {
            command_line: "/usr/sbin/inetd -D".into(),
        })),
        ..Default::default()
    };
    let death = ConditionInfo {
        name: "death".into(),
        condition_type: ConditionType::Death.into(),
        flags: flags::HREARMAFTERRESTART,
        enabled: true,
        actions: vec![restart],
        ..Default::default()
    };
    EntityInfo {
        name: "inetd".into(),
        pid: 11_014_167,
        kind: EntityKind::Attached.into(),
        enabled: true,
        stats: Some(EntityStats {
            created_ns: CREATED,
            ..Default::default()
        }),
        conditions: vec![death],
        ..Default::default()
    }
}

fn info() -> HamInfo {
    HamInfo {
        ham_pid: 10_993_674,
        node_id: 1,
        node_name: "n1".into(),
        leader_id: 2,
        leader_name: "n2".into(),
        term: 7,
        leader_changes: 3,
        verbosity: 1,
        num_entities: 1,
        num_conditions: 1,
        num_actions: 1,
        nodes: vec![
            NodeStatus {
                id: 1,
                name: "n1".into(),
                address: "10.0.0.1:4816".into(),
                state: NodeState::Up.into(),
                role: "voter".into(),
            },
            NodeStatus {
                id: 2,
                name: "n2".into(),
                address: "10.0.0.2:4816".into(),
                state: NodeState::Down.into(),
                role: "voter".into(),
            },
        ],
    }
}

#[test]
fn x5_ls_levels() {
    let e = inetd();
    let global = EntityInfo {
        kind: EntityKind::Global.into(),
        ..Default::default()
    };
    assert_eq!(ls_root(&[e.clone(), global]), ".info\ninetd/\n@global/\n");
    assert_eq!(ls_entity(&e), ".info\ndeath/\n");
    assert_eq!(ls_condition(&e.conditions[0]), ".info\nrestart\n");
    assert_eq!(ls_root(&[]), ".info\n");
}

#[test]
fn x5_top_info() {
    let expected = "\
Ham Pid : 10993674
Node : n1 (id 1)
Leader : n2 (id 2)
Term : 7
Leader Changes : 3
Verbosity : 1
Num Entities : 1
Num Conditions : 1
Num Actions : 1
Num Nodes : 2
Node n1 (id 1) : UP voter 10.0.0.1:4816
Node n2 (id 2) : DOWN voter 10.0.0.2:4816
";
    assert_eq!(root_info(&info()), expected);
    let mut no_leader = info();
    no_leader.leader_id = 0;
    assert!(root_info(&no_leader).contains("\nLeader : none\n"));
}

#[test]
fn x5_nodes_listing() {
    assert_eq!(
        nodes(&info()),
        "1 n1 UP voter 10.0.0.1:4816\n2 n2 DOWN voter 10.0.0.2:4816 *\n"
    );
}

#[test]
fn x5_entity_info_before_and_after_a_restart() {
    let mut e = inetd();
    let expected = "\
Path : inetd
Entity Pid : 11014167
Num conditions : 1
Entity type : ATTACHED
Stats:
Created : 2001/08/30 23:04:49:930148650
Num Restarts : 0
";
    assert_eq!(entity_info(&e), expected);

    e.pid = 11_071_511;
    let stats = e.stats.as_mut().unwrap();
    stats.last_death_ns = DIED;
    stats.restarted_ns = RESTARTED;
    stats.restarts = 1;
    let expected = "\
Path : inetd
Entity Pid : 11071511
Num conditions : 1
Entity type : ATTACHED
Stats:
Created : 2001/08/30 23:04:49:930148650
Last Death : 2001/08/30 23:10:31:889820814
Restarted : 2001/08/30 23:10:31:904818519
Num Restarts : 1
";
    assert_eq!(entity_info(&e), expected);
}

#[test]
fn x5_heartbeating_entity_info() {
    let e = EntityInfo {
        name: "mutex-deadlock".into(),
        pid: 462_866,
        kind: EntityKind::AttachedSelf.into(),
        enabled: false,
        stats: Some(EntityStats {
            created_ns: CREATED,
            ..Default::default()
        }),
        heartbeat: Some(HeartbeatInfo {
            period_ns: 100_000_000,
            hpdl: 5,
            hpdh: 5,
            last_beat_ns: RESTARTED,
            state: HeartbeatState::MissedHigh.into(),
            next_boundary_ns: 0,
        }),
        ..Default::default()
    };
    let expected = "\
Path : mutex-deadlock
Entity Pid : 462866
Num conditions : 0
Entity type : ATTACHEDSELF
Stats:
Heartbeat Period : 100000000
HB Low Mark : 5
HB High Mark : 5
Last Heartbeat : 2001/08/30 23:10:31:904818519
HeartBeat State : MISSEDHIGH
Created : 2001/08/30 23:04:49:930148650
Num Restarts : 0
Enabled : OFF
";
    assert_eq!(entity_info(&e), expected);
}

#[test]
fn x5_placeholder_entity_never_created() {
    let e = EntityInfo {
        name: "later".into(),
        kind: EntityKind::Placeholder.into(),
        enabled: true,
        ..Default::default()
    };
    let text = entity_info(&e);
    assert!(text.contains("Entity type : PLACEHOLDER\n"));
    assert!(text.contains("Created : -\n"));
}

#[test]
fn x5_condition_info() {
    let e = inetd();
    let expected = "\
Path : inetd/death
Entity Pid : 11014167
Num Actions : 1
Condition ReArm : ON
Condition type : CONDDEATH
";
    assert_eq!(condition_info(&e, &e.conditions[0]), expected);

    let state = ConditionInfo {
        name: "st".into(),
        condition_type: ConditionType::State.into(),
        flags: flags::HCONDSTATETOSET | flags::HCONDSTATETOINV,
        enabled: true,
        state_filter: Some(StateFilter {
            from_state: -1,
            to_state: flags::state_set(&[1, 3]),
        }),
        ..Default::default()
    };
    let expected = "\
Path : inetd/st
Entity Pid : 11014167
Num Actions : 0
Condition ReArm : OFF
Condition type : CONDSTATE
State Filter : from ANY to !{1,3}
";
    assert_eq!(condition_info(&e, &state), expected);
}

#[test]
fn x5_restart_action_file() {
    let e = inetd();
    let c = &e.conditions[0];
    let expected = "\
Path : inetd/death/restart
Entity Pid : 11014167
Action ReArm : ON
Restart Line : /usr/sbin/inetd -D
";
    assert_eq!(action_file(&e, c, &c.actions[0]), expected);
}

#[test]
fn x5_other_action_files() {
    let e = inetd();
    let c = &e.conditions[0];
    let action = |name: &str, flags: u32, kind| ActionInfo {
        name: name.into(),
        flags,
        enabled: true,
        kind: Some(kind),
        ..Default::default()
    };
    let exec = action(
        "exec",
        flags::HACTIONWAIT,
        action_info::Kind::Execute(ExecuteAction {
            command_line: "/bin/echo hi".into(),
            timeout_ms: 500,
        }),
    );
    assert!(
        action_file(&e, c, &exec)
            .ends_with("Action ReArm : OFF\nExecute Line : /bin/echo hi\nWait Timeout : 500 ms\n")
    );
    let wait = action(
        "w",
        0,
        action_info::Kind::Waitfor(WaitforAction {
            path: "/tmp/ready".into(),
            delay_ms: 100,
        }),
    );
    assert!(action_file(&e, c, &wait).ends_with("Delay : 100 ms\nPath : /tmp/ready\n"));
    let pulse = action(
        "p",
        0,
        action_info::Kind::NotifyPulse(NotifyPulseAction {
            target_node: Some(NodeRef {
                node: Some(node_ref::Node::Name("n2".into())),
            }),
            pid: 42,
            chid: 3,
            code: 5,
            value: 9,
        }),
    );
    assert!(action_file(&e, c, &pulse).ends_with("Pulse : code 5 value 9 chid 3 pid 42 node n2\n"));
    let mut signal = action(
        "s",
        0,
        action_info::Kind::NotifySignal(NotifySignalAction {
            target_node: None,
            pid: 42,
            signum: 10,
            code: 0,
            value: 7,
        }),
    );
    signal.fail_actions = vec![
        ActionFailInfo {
            name: "f1".into(),
            flags: 0,
            kind: Some(action_fail_info::Kind::Log(LogAction {
                message: "signal failed".into(),
                attach_prefix: true,
                verbosity: 1,
            })),
        },
        ActionFailInfo {
            name: "f2".into(),
            flags: 0,
            kind: Some(action_fail_info::Kind::Waitfor(WaitforAction {
                path: String::new(),
                delay_ms: 20,
            })),
        },
    ];
    signal.enabled = false;
    let expected = "\
Path : inetd/death/s
Entity Pid : 11014167
Action ReArm : OFF
Signal : 10 value 7 pid 42 node local
Action Fail : f1 log signal failed
Action Fail : f2 waitfor 20 ms
Enabled : OFF
";
    assert_eq!(action_file(&e, c, &signal), expected);
}

#[test]
fn l5_entity_info_shows_a_stopped_entity_and_its_stop_policy() {
    let mut e = inetd();
    e.warn_signal = 15;
    e.grace_ms = 10_000;
    e.kill_mode = ham_client::proto::KillMode::Group.into();
    let plain = entity_info(&e);
    assert!(!plain.contains("Stop"), "defaults are not shown: {plain}");
    e.stopped = true;
    e.pid = 0;
    e.warn_signal = 10;
    e.grace_ms = 500;
    e.kill_mode = ham_client::proto::KillMode::Process.into();
    let expected = "\
Path : inetd
Entity Pid : 0
Num conditions : 1
Entity type : ATTACHED
Stats:
Created : 2001/08/30 23:04:49:930148650
Num Restarts : 0
Stopped : ON
Stop Signal : 10
Stop Grace : 500 ms
Kill Mode : process
";
    assert_eq!(entity_info(&e), expected);
}

#[test]
fn l4_entity_info_shows_the_restart_delay_and_the_next_restart() {
    let e = EntityInfo {
        name: "loop".into(),
        pid: 4242,
        kind: EntityKind::Attached.into(),
        enabled: true,
        stats: Some(EntityStats {
            created_ns: CREATED,
            ..Default::default()
        }),
        pacing: Some(ham_client::proto::PacingInfo {
            burst: 5,
            window_ms: 10_000,
            min_delay_ms: 100,
            max_delay_ms: 30_000,
            off: false,
            delay_ms: 400,
            next_restart_ns: RESTARTED,
        }),
        ..Default::default()
    };
    let expected = "\
Path : loop
Entity Pid : 4242
Num conditions : 0
Entity type : ATTACHED
Stats:
Created : 2001/08/30 23:04:49:930148650
Num Restarts : 0
Restart Delay : 400 ms
Next Restart : 2001/08/30 23:10:31:904818519
";
    assert_eq!(entity_info(&e), expected);
    let off = EntityInfo {
        pacing: Some(ham_client::proto::PacingInfo {
            off: true,
            ..Default::default()
        }),
        ..e
    };
    assert!(entity_info(&off).ends_with("Num Restarts : 0\nRestart Pacing : OFF\n"));
}
