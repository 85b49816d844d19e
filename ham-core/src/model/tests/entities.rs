use super::*;

#[test]
fn n3_entity_names_unique_per_node_but_not_across_nodes() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    assert_eq!(errno(attach_pid(&mut s, "inetd", 11)), Errno::Eexist);
    let other = Command::Placeholder {
        node: N2,
        name: "inetd".into(),
        flags: 0,
        now_ns: 0,
        pacing: None,
    };
    s.apply(other).unwrap();
}

#[test]
fn n4_global_entity_cannot_be_attached_or_detached() {
    let mut s = two_nodes();
    assert_eq!(errno(attach_pid(&mut s, "", 10)), Errno::Einval);
    assert_eq!(
        errno(s.apply(Command::Detach { entity: eref("") })),
        Errno::Einval
    );
    // ... but it takes conditions, on a node and cluster-wide.
    add_cond(&mut s, "", "any-death", ConditionType::Death, 0).unwrap();
    let cluster = EntityRef {
        node: CLUSTER_NODE_ID,
        name: String::new(),
        uid: None,
    };
    let cmd = Command::AddCondition {
        entity: cluster,
        name: "down".into(),
        ctype: ConditionType::NodeDown,
        flags: 0,
        filter: ConditionFilter::None,
    };
    s.apply(cmd).unwrap();
    assert_eq!(s.node_by_name("*"), Some(CLUSTER_NODE_ID));
}

#[test]
fn n5_lookups_of_missing_objects_and_stale_handles_are_enoent() {
    let mut s = two_nodes();
    assert_eq!(errno(s.entity_handle(N1, "nope")), Errno::Enoent);
    attach_pid(&mut s, "inetd", 10).unwrap();
    add_cond(&mut s, "inetd", "death", ConditionType::Death, 0).unwrap();
    assert_eq!(
        errno(s.condition_handle(N1, "inetd", "nope")),
        Errno::Enoent
    );
    assert_eq!(
        errno(s.action_handle(N1, "inetd", "death", "nope")),
        Errno::Enoent
    );
    let old = s.entity_handle(N1, "inetd").unwrap();
    s.apply(Command::Detach {
        entity: old.clone(),
    })
    .unwrap();
    attach_pid(&mut s, "inetd", 12).unwrap();
    // Same name, new object: the old handle is stale.
    let cmd = Command::Raise {
        entity: old,
        rtype: 1,
        rclass: 1,
        rseverity: 1,
    };
    assert_eq!(errno(s.apply(cmd)), Errno::Enoent);
    let fresh = s.entity_handle(N1, "inetd").unwrap();
    s.apply(Command::Raise {
        entity: fresh,
        rtype: 1,
        rclass: 1,
        rseverity: 1,
    })
    .unwrap();
}

#[test]
fn n6_unknown_node_is_ehostunreach() {
    let mut s = two_nodes();
    let cmd = Command::Placeholder {
        node: 9,
        name: "x".into(),
        flags: 0,
        now_ns: 0,
        pacing: None,
    };
    assert_eq!(errno(s.apply(cmd)), Errno::Ehostunreach);
    assert_eq!(s.node_by_name("beta"), Some(N2));
    assert_eq!(s.node_by_name("gamma"), None);
}

#[test]
fn e1_attach_by_pid_monitors_and_keeps_the_line_without_running_it() {
    let mut s = two_nodes();
    let out = attach_pid(&mut s, "inetd", 77).unwrap();
    assert!(matches!(
        out.effects.as_slice(),
        [Effect::Monitor {
            pid: 77,
            node: N1,
            ..
        }]
    ));
    let e = s.entity(&eref("inetd")).unwrap();
    assert_eq!((e.pid, e.kind), (77, EntityKind::Attached));
    assert_eq!(e.command_line.as_deref(), Some("/usr/sbin/inetd -D"));
}

#[test]
fn e2_attach_without_pid_starts_the_line_and_needs_one() {
    let mut s = two_nodes();
    let cmd = |line: Option<&str>| Command::Attach {
        node: N1,
        name: "web".into(),
        pid: -1,
        command_line: line.map(String::from),
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 5,
        options: Default::default(),
        conditions: Vec::new(),
        stop: Default::default(),
        pacing: None,
    };
    assert_eq!(errno(s.apply(cmd(None))), Errno::Einval);
    assert_eq!(errno(s.apply(cmd(Some("  ")))), Errno::Einval);
    assert_eq!(errno(s.apply(cmd(Some("web --port 80")))), Errno::Einval);
    let out = s.apply(cmd(Some("/usr/bin/web --name 'my site'"))).unwrap();
    match out.effects.as_slice() {
        [
            Effect::Spawn {
                argv, instance: 1, ..
            },
        ] => {
            assert_eq!(argv, &["/usr/bin/web", "--name", "my site"]);
        }
        other => panic!("unexpected effects {other:?}"),
    }
}

#[test]
fn e4_self_attach_checks_period_and_thresholds() {
    let mut s = two_nodes();
    let cmd = |name: &str, period_ns, hpdl, hpdh| Command::AttachSelf {
        node: N1,
        name: name.into(),
        pid: 100,
        period_ns,
        hpdl,
        hpdh,
        flags: 0,
        now_ns: 0,
    };
    assert_eq!(errno(s.apply(cmd("a", 9_999_999, 1, 2))), Errno::Einval);
    assert_eq!(errno(s.apply(cmd("a", 10_000_000, 3, 2))), Errno::Einval);
    s.apply(cmd("a", 10_000_000, 2, 2)).unwrap();
    s.apply(cmd("b", 0, 9, 1)).unwrap(); // no heartbeat: thresholds unused
    assert_eq!(s.entity(&eref("a")).unwrap().kind, EntityKind::AttachedSelf);
    assert!(s.entity(&eref("b")).unwrap().heartbeat.is_none());
}

#[test]
fn e5_placeholder_filled_by_attach_keeps_conditions_and_triggers_attach() {
    let mut s = two_nodes();
    let ph = Command::Placeholder {
        node: N1,
        name: "db".into(),
        flags: 0,
        now_ns: 0,
        pacing: None,
    };
    s.apply(ph.clone()).unwrap();
    assert_eq!(errno(s.apply(ph)), Errno::Eexist);
    add_cond(&mut s, "db", "up", ConditionType::Attach, 0).unwrap();
    add_action(&mut s, "db", "up", "say", log("db is up"), 0).unwrap();
    let out = attach_pid(&mut s, "db", 55).unwrap();
    // Heartbeats of the new process count from the attach, not from the placeholder.
    assert_eq!(s.entity(&eref("db")).unwrap().stats.since_ns, 1_000);
    let plan = out.effects.iter().find_map(|e| match e {
        Effect::Run(p) => Some(p),
        _ => None,
    });
    assert_eq!(plan_names(plan.expect("ATTACH plan")), ["db/up/say"]);
    let e = s.entity(&eref("db")).unwrap();
    assert_eq!(
        (e.kind, e.pid, e.conditions.len()),
        (EntityKind::Attached, 55, 1)
    );
    // Now it is a live entity: a second attach is refused.
    assert_eq!(errno(attach_pid(&mut s, "db", 56)), Errno::Eexist);
}

#[test]
fn e6_detach_triggers_detach_then_removes_and_leaves_the_process() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    add_cond(&mut s, "inetd", "bye", ConditionType::Detach, 0).unwrap();
    add_action(&mut s, "inetd", "bye", "note", log("detached"), 0).unwrap();
    let out = s
        .apply(Command::Detach {
            entity: eref("inetd"),
        })
        .unwrap();
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::Unmonitor { .. }))
    );
    assert!(
        out.effects
            .iter()
            .any(|e| matches!(e, Effect::Run(p) if p.event == Event::Detach))
    );
    // No effect kills the process.
    assert!(
        !out.effects
            .iter()
            .any(|e| matches!(e, Effect::Spawn { .. } | Effect::StopNode { .. }))
    );
    assert_eq!(errno(s.entity(&eref("inetd"))), Errno::Enoent);
    assert_eq!(
        errno(s.apply(Command::Detach {
            entity: eref("inetd")
        })),
        Errno::Enoent
    );
}

fn death_outcome(s: &HamState, restarted: Option<(i64, TimeNs)>) -> Command {
    Command::RecoveryOutcome {
        entity: s.entity_handle(N1, "inetd").unwrap(),
        exit: ExitInfo::Signaled {
            signal: 9,
            core_dumped: false,
        },
        died_ns: 2_000,
        restarted,
        results: Vec::new(),
    }
}

#[test]
fn e7_dead_entity_without_restart_is_removed_unless_keepondeath() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    s.apply(death_outcome(&s, None)).unwrap();
    assert_eq!(errno(s.entity(&eref("inetd"))), Errno::Enoent);

    let keep = Command::Attach {
        node: N1,
        name: "inetd".into(),
        pid: 11,
        command_line: None,
        flags: HENTITYKEEPONDEATH,
        pidfile: None,
        heartbeat: None,
        now_ns: 0,
        options: Default::default(),
        conditions: Vec::new(),
        stop: Default::default(),
        pacing: None,
    };
    s.apply(keep).unwrap();
    s.apply(death_outcome(&s, None)).unwrap();
    let e = s.entity(&eref("inetd")).unwrap();
    assert_eq!((e.pid, e.stats.last_death_ns), (0, 2_000));
}

#[test]
fn e9_kind_and_stats_are_reported() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    {
        let e = s.entity(&eref("inetd")).unwrap();
        assert_eq!(
            (
                e.kind,
                e.stats.created_ns,
                e.stats.restarts,
                e.stats.instance
            ),
            (EntityKind::Attached, 1_000, 0, 1)
        );
    }
    s.apply(death_outcome(&s, Some((20, 2_500)))).unwrap();
    let e = s.entity(&eref("inetd")).unwrap();
    assert_eq!(e.pid, 20);
    assert_eq!(e.stats.last_death_ns, 2_000);
    assert_eq!(e.stats.restarted_ns, 2_500);
    assert_eq!((e.stats.restarts, e.stats.instance), (1, 2));
    assert_eq!(
        e.stats.last_exit,
        Some(ExitInfo::Signaled {
            signal: 9,
            core_dumped: false
        })
    );
    assert_eq!(e.stats.since_ns, 2_500, "heartbeats count from the restart");
    assert_eq!(s.context(N1).unwrap().global.kind, EntityKind::Global);
    // An unknown entity has no stats.
    assert_eq!(errno(s.entity(&eref("ghost"))), Errno::Enoent);
}

#[test]
fn x6_raise_and_state_on_unknown_entity_are_enoent() {
    let mut s = two_nodes();
    let raise = Command::Raise {
        entity: eref("ghost"),
        rtype: 1,
        rclass: 2,
        rseverity: 3,
    };
    assert_eq!(errno(s.apply(raise)), Errno::Enoent);
    let st = Command::ReportState {
        entity: eref("ghost"),
        state: 1,
    };
    assert_eq!(errno(s.apply(st)), Errno::Enoent);
    attach_pid(&mut s, "app", 3).unwrap();
    s.apply(Command::ReportState {
        entity: eref("app"),
        state: 4,
    })
    .unwrap();
    assert_eq!(s.entity(&eref("app")).unwrap().state, 4);
}

#[test]
fn x4_verbosity_get_set_incr_decr() {
    let mut s = two_nodes();
    let v = |s: &mut HamState, op, value| {
        s.apply(Command::Verbose {
            node: N1,
            op,
            value,
        })
        .map(|a| a.response)
    };
    assert_eq!(
        v(&mut s, VerboseOp::Get, 0).unwrap(),
        Response::Verbosity(DEFAULT_VERBOSITY)
    );
    assert_eq!(
        v(&mut s, VerboseOp::Set, 3).unwrap(),
        Response::Verbosity(3)
    );
    assert_eq!(
        v(&mut s, VerboseOp::Incr, 0).unwrap(),
        Response::Verbosity(4)
    ); // 0 counts as 1
    assert_eq!(
        v(&mut s, VerboseOp::Decr, 2).unwrap(),
        Response::Verbosity(2)
    );
    assert_eq!(
        v(&mut s, VerboseOp::Decr, 10).unwrap(),
        Response::Verbosity(0)
    );
    assert_eq!(errno(v(&mut s, VerboseOp::Set, -1)), Errno::Einval);
    assert_eq!(errno(v(&mut s, VerboseOp::Incr, -2)), Errno::Einval);
    // Per node: beta is untouched.
    let beta = s
        .apply(Command::Verbose {
            node: N2,
            op: VerboseOp::Get,
            value: 0,
        })
        .unwrap();
    assert_eq!(beta.response, Response::Verbosity(DEFAULT_VERBOSITY));
}

#[test]
fn n3_node_names_are_unique() {
    let mut s = two_nodes();
    let dup = Command::RegisterNode {
        id: 3,
        name: "alpha".into(),
        address: String::new(),
    };
    assert_eq!(errno(s.apply(dup)), Errno::Eexist);
    let star = Command::RegisterNode {
        id: 3,
        name: "*".into(),
        address: String::new(),
    };
    assert_eq!(errno(s.apply(star)), Errno::Einval);
    // Re-registering a node updates its address.
    let again = Command::RegisterNode {
        id: 1,
        name: "alpha".into(),
        address: "x:1".into(),
    };
    s.apply(again).unwrap();
    assert_eq!(s.nodes[&1].address, "x:1");
}

#[test]
fn a3_a_repeated_recovery_outcome_is_applied_once() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    let outcome = death_outcome(&s, Some((20, 2_500)));
    s.apply(outcome.clone()).unwrap();
    // An agent that could not tell whether it committed proposes it again.
    s.apply(outcome).unwrap();
    let e = s.entity(&eref("inetd")).unwrap();
    assert_eq!((e.stats.restarts, e.stats.instance, e.pid), (1, 2, 20));
    // A later death is a new outcome.
    let next = Command::RecoveryOutcome {
        entity: s.entity_handle(N1, "inetd").unwrap(),
        exit: ExitInfo::Exited(1),
        died_ns: 3_000,
        restarted: Some((30, 3_100)),
        results: Vec::new(),
    };
    s.apply(next).unwrap();
    assert_eq!(s.entity(&eref("inetd")).unwrap().stats.restarts, 2);
}

#[test]
fn l4_outcomes_record_recent_deaths_with_the_pacing_rule() {
    let mut s = two_nodes();
    attach_pid(&mut s, "inetd", 10).unwrap();
    let handle = s.entity_handle(N1, "inetd").unwrap();
    // Six deaths 1 ms apart, each restarted at once.
    for i in 0..6 {
        let died = 1_000_000 * (i + 1);
        s.apply(Command::RecoveryOutcome {
            entity: handle.clone(),
            exit: ExitInfo::Exited(1),
            died_ns: died,
            restarted: Some((100 + i, died + 1)),
            results: Vec::new(),
        })
        .unwrap();
    }
    let e = s.entity(&eref("inetd")).unwrap();
    // The sixth is past the default burst of 5: the record says 100 ms, as
    // the agent's own history would, so a restarted agent keeps pacing.
    assert_eq!(e.deaths.deaths.len(), 5);
    assert_eq!(e.deaths.delay_ns, 100_000_000);
    // A placeholder's pacing is kept by the attach that fills it, unless the attach names one.
    let custom = PacingPolicy {
        burst: 2,
        ..PacingPolicy::default()
    };
    s.apply(Command::Placeholder {
        node: N1,
        name: "later".into(),
        flags: 0,
        now_ns: 0,
        pacing: Some(custom),
    })
    .unwrap();
    attach_pid(&mut s, "later", 11).unwrap();
    assert_eq!(s.entity(&eref("later")).unwrap().pacing, custom);
    let bad = PacingPolicy {
        min_delay_ns: 2,
        max_delay_ns: 1,
        ..PacingPolicy::default()
    };
    let refused = s.apply(Command::Placeholder {
        node: N1,
        name: "bad".into(),
        flags: 0,
        now_ns: 0,
        pacing: Some(bad),
    });
    assert_eq!(errno(refused), Errno::Einval);
}
