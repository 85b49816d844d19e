//! Stop and start calls (L5) and the stop policy (S2, L1).

use super::*;

fn attach_with(s: &mut HamState, name: &str, stop: StopPolicy) -> Result<Applied> {
    s.apply(Command::Attach {
        node: N1,
        name: name.into(),
        pid: -1,
        command_line: Some(format!("/usr/sbin/{name} -D")),
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 1_000,
        options: Default::default(),
        conditions: Vec::new(),
        stop,
        pacing: None,
    })
}

fn stop(s: &mut HamState, name: &str) -> Result<Applied> {
    s.apply(Command::StopEntity { entity: eref(name) })
}

fn start(s: &mut HamState, name: &str) -> Result<Applied> {
    s.apply(Command::StartEntity {
        entity: eref(name),
        now_ns: 9_000,
    })
}

#[test]
fn s2_stop_policy_defaults_and_bounds() {
    let d = StopPolicy::default();
    assert_eq!(
        (d.warn_signal, d.grace_ms, d.kill_mode),
        (15, 10_000, KillMode::Group)
    );
    let cases = [
        (15, 0, true),
        (1, MAX_GRACE_MS, true),
        (64, 10, true),
        (34, 10, true),
        (0, 10, false),
        (-1, 10, false),
        (32, 10, false),
        (33, 10, false),
        (65, 10, false),
        (15, MAX_GRACE_MS + 1, false),
    ];
    for (warn_signal, grace_ms, ok) in cases {
        let mut s = two_nodes();
        let policy = StopPolicy {
            warn_signal,
            grace_ms,
            kill_mode: KillMode::Process,
        };
        let r = attach_with(&mut s, "svc", policy);
        assert_eq!(r.is_ok(), ok, "signal {warn_signal}, grace {grace_ms}");
        if ok {
            assert_eq!(s.entity(&eref("svc")).unwrap().stop, policy);
        } else {
            assert_eq!(errno(r), Errno::Einval);
            assert!(
                s.entity(&eref("svc")).is_err(),
                "refused attach leaves nothing"
            );
        }
    }
}

#[test]
fn l5_stop_keeps_conditions_and_asks_the_agent_to_stop() {
    let mut s = two_nodes();
    let policy = StopPolicy {
        warn_signal: 10,
        grace_ms: 500,
        kill_mode: KillMode::Group,
    };
    attach_with(&mut s, "svc", policy).unwrap();
    s.apply(Command::ProcessStarted {
        entity: eref("svc"),
        pid: 77,
        now_ns: 2_000,
    })
    .unwrap();
    add_cond(&mut s, "svc", "death", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "svc", "death", "again", restart("/usr/sbin/svc"), 0).unwrap();
    let applied = stop(&mut s, "svc").unwrap();
    let uid = s.entity(&eref("svc")).unwrap().uid;
    assert_eq!(
        applied.effects,
        vec![Effect::Stop {
            node: N1,
            entity: EntityRef {
                uid: Some(uid),
                ..eref("svc")
            },
            policy,
        }]
    );
    let e = s.entity(&eref("svc")).unwrap();
    assert!(e.stopped);
    assert_eq!(e.pid, 0);
    assert_eq!(e.conditions.len(), 1, "conditions are kept");
    assert_eq!(e.action_count(), 1, "actions are kept");
    // A start reported late (the stop ends that process) does not bring a pid back.
    s.apply(Command::ProcessStarted {
        entity: eref("svc"),
        pid: 78,
        now_ns: 3_000,
    })
    .unwrap();
    assert_eq!(s.entity(&eref("svc")).unwrap().pid, 0);
    // A death that raced with the stop keeps the entity, although it was not restarted.
    s.apply(Command::RecoveryOutcome {
        entity: eref("svc"),
        exit: ExitInfo::Exited(1),
        died_ns: 4_000,
        restarted: None,
        results: Vec::new(),
    })
    .unwrap();
    assert!(s.entity(&eref("svc")).is_ok());
}

#[test]
fn l5_start_runs_the_restart_line_as_a_new_instance() {
    let mut s = two_nodes();
    attach_with(&mut s, "svc", StopPolicy::default()).unwrap();
    s.apply(Command::ProcessStarted {
        entity: eref("svc"),
        pid: 77,
        now_ns: 2_000,
    })
    .unwrap();
    assert_eq!(errno(start(&mut s, "svc")), Errno::Eexist, "running");
    stop(&mut s, "svc").unwrap();
    assert_eq!(errno(stop(&mut s, "svc")), Errno::Esrch, "already stopped");
    // Without a restart action the attach line is the restart line.
    let applied = start(&mut s, "svc").unwrap();
    let e = s.entity(&eref("svc")).unwrap();
    assert!(!e.stopped);
    assert_eq!((e.stats.instance, e.stats.since_ns), (2, 9_000));
    assert_eq!(e.stats.restarts, 0, "a start is not a recovery");
    match &applied.effects[..] {
        [Effect::Spawn { argv, instance, .. }] => {
            assert_eq!(argv, &["/usr/sbin/svc", "-D"]);
            assert_eq!(*instance, 2);
        }
        other => panic!("{other:?}"),
    }
    // With one, its line wins.
    stop(&mut s, "svc").unwrap();
    add_cond(&mut s, "svc", "death", ConditionType::Death, 0).unwrap();
    add_action(
        &mut s,
        "svc",
        "death",
        "again",
        restart("/usr/bin/other -x"),
        0,
    )
    .unwrap();
    match &start(&mut s, "svc").unwrap().effects[..] {
        [Effect::Spawn { argv, .. }] => assert_eq!(argv, &["/usr/bin/other", "-x"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn l5_stop_and_start_refuse_what_has_no_process() {
    let mut s = two_nodes();
    assert_eq!(errno(stop(&mut s, "nobody")), Errno::Enoent);
    assert_eq!(errno(start(&mut s, "nobody")), Errno::Enoent);
    assert_eq!(errno(stop(&mut s, "")), Errno::Einval, "global entity");
    s.apply(Command::Placeholder {
        node: N1,
        name: "later".into(),
        flags: 0,
        now_ns: 0,
        pacing: None,
    })
    .unwrap();
    assert_eq!(errno(stop(&mut s, "later")), Errno::Einval);
    assert_eq!(errno(start(&mut s, "later")), Errno::Einval);
    // Attached by pid with no line: it can be stopped, not started again.
    s.apply(Command::Attach {
        node: N1,
        name: "bare".into(),
        pid: 4242,
        command_line: None,
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 0,
        options: Default::default(),
        conditions: Vec::new(),
        stop: StopPolicy::default(),
        pacing: None,
    })
    .unwrap();
    stop(&mut s, "bare").unwrap();
    let before = s.clone();
    assert_eq!(errno(start(&mut s, "bare")), Errno::Einval);
    assert_eq!(s, before, "a refused start changes nothing");
}

#[test]
fn l5_attach_filling_a_placeholder_is_not_stopped() {
    let mut s = two_nodes();
    attach_with(&mut s, "svc", StopPolicy::default()).unwrap();
    stop(&mut s, "svc").unwrap();
    s.apply(Command::Detach {
        entity: eref("svc"),
    })
    .unwrap();
    attach_with(&mut s, "svc", StopPolicy::default()).unwrap();
    assert!(!s.entity(&eref("svc")).unwrap().stopped);
}
