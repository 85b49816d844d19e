//! L6: one atomic attach with conditions, actions and action-fail lists;
//! L7/P4: the options it carries reach the entity, its start and its plans.

use super::*;

fn spawn_with(conditions: Vec<ConditionSpec>, options: ProcessOptions) -> Command {
    Command::Attach {
        node: N1,
        name: "svc".into(),
        pid: -1,
        command_line: Some("/bin/sh -c 'exit 1'".into()),
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 7,
        options,
        conditions,
        stop: Default::default(),
        pacing: None,
    }
}

fn death_with_restart() -> ConditionSpec {
    ConditionSpec {
        name: "death".into(),
        ctype: ConditionType::Death,
        flags: HREARMAFTERRESTART,
        filter: ConditionFilter::None,
        actions: vec![
            ActionSpec {
                name: "restart".into(),
                flags: HREARMAFTERRESTART,
                kind: restart("/bin/sh -c 'exit 1'"),
                fail: vec![ActionFailSpec {
                    name: "note".into(),
                    flags: 0,
                    kind: ActionKind::Log {
                        message: "restart failed".into(),
                        attach_prefix: true,
                        verbosity: 1,
                    },
                }],
            },
            ActionSpec {
                name: "alarm".into(),
                flags: 0,
                kind: execute("/usr/bin/alarm"),
                fail: Vec::new(),
            },
        ],
    }
}

fn run_as_nobody() -> ProcessOptions {
    ProcessOptions {
        cwd: Some("/tmp".into()),
        run_as: RunAs {
            user: Some(User {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534,
            }),
            group: None,
        },
        ..ProcessOptions::default()
    }
}

#[test]
fn l6_attach_with_parts_creates_everything_before_the_start() {
    let mut s = two_nodes();
    let out = s
        .apply(spawn_with(vec![death_with_restart()], run_as_nobody()))
        .unwrap();
    // One start, asked for by the same command that created the conditions.
    match out.effects.as_slice() {
        [Effect::Spawn { options, .. }] => assert_eq!(options, &run_as_nobody()),
        other => panic!("unexpected effects {other:?}"),
    }
    let e = s.entity(&eref("svc")).unwrap();
    assert_eq!(e.options, run_as_nobody());
    let (c, a) = e.restart_action().unwrap();
    assert_eq!((c.name.as_str(), a.name.as_str()), ("death", "restart"));
    assert_eq!(a.fail.len(), 1);
    assert_eq!(c.actions.len(), 2);
    // A death right away is recovered by those conditions, and the restart
    // and the execute carry the entity's options.
    let history = PacingHistory::default();
    let clock = DeathClock {
        now_ns: 2_000,
        up_since_ns: 1_000,
        history: &history,
    };
    let d = decide_death(&s, &eref("svc"), ExitInfo::Exited(1), clock).unwrap();
    let r = d.restart.expect("a restart step");
    assert_eq!(r.step.options, run_as_nobody());
    let steps: Vec<_> = d.plan.steps().collect();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].options, run_as_nobody());
}

#[test]
fn l6_invalid_part_refuses_the_whole_call_and_starts_nothing() {
    let before = two_nodes();
    let mut bad_fail = death_with_restart();
    bad_fail.actions[0].fail[0].kind = restart("/bin/x");
    let mut bad_action = death_with_restart();
    bad_action.actions[1].kind = execute("relative/alarm");
    let mut twice = death_with_restart();
    twice.name = "death".into();
    let cases = vec![
        (
            vec![bad_fail],
            "condition \"death\", action \"restart\", action-fail \"note\"",
        ),
        (vec![bad_action], "condition \"death\", action \"alarm\""),
        (vec![death_with_restart(), twice], "condition \"death\""),
        (
            vec![ConditionSpec {
                name: "bad/name".into(),
                ..death_with_restart()
            }],
            "condition \"bad/name\"",
        ),
        (
            vec![ConditionSpec {
                name: "hb".into(),
                ctype: ConditionType::HbeatMissedHigh,
                flags: 0,
                filter: ConditionFilter::None,
                actions: vec![ActionSpec {
                    // A restart belongs to DEATH conditions only.
                    name: "restart".into(),
                    flags: 0,
                    kind: restart("/bin/x"),
                    fail: Vec::new(),
                }],
            }],
            "condition \"hb\", action \"restart\"",
        ),
    ];
    for (conditions, names) in cases {
        let mut s = before.clone();
        let e = s
            .apply(spawn_with(conditions, ProcessOptions::default()))
            .unwrap_err();
        assert!(
            matches!(e.errno, Errno::Einval | Errno::Eexist),
            "{}",
            e.message
        );
        assert!(e.message.starts_with(names), "{}", e.message);
        // Nothing was created, not even an object id was used.
        assert_eq!(s, before);
    }
    // Options are checked the same way.
    let mut s = before.clone();
    let bad = ProcessOptions {
        cwd: Some("tmp".into()),
        ..ProcessOptions::default()
    };
    let e = s
        .apply(spawn_with(vec![death_with_restart()], bad))
        .unwrap_err();
    assert_eq!(e.errno, Errno::Einval);
    assert_eq!(s, before);
}

#[test]
fn l7_filling_a_placeholder_takes_the_attachs_options() {
    let mut s = two_nodes();
    s.apply(Command::Placeholder {
        node: N1,
        name: "svc".into(),
        flags: 0,
        now_ns: 1,
        pacing: None,
    })
    .unwrap();
    s.apply(spawn_with(Vec::new(), run_as_nobody())).unwrap();
    assert_eq!(s.entity(&eref("svc")).unwrap().options, run_as_nobody());
}
