use super::*;

fn death() -> Event {
    Event::Death(ExitInfo::Exited(0))
}

#[test]
fn k2_core_signals_trigger_abnormal_death_and_death() {
    use ConditionType as C;
    for sig in CORE_SIGNALS {
        let ev = Event::Death(ExitInfo::Signaled {
            signal: sig,
            core_dumped: false,
        });
        assert_eq!(
            ev.condition_types(),
            [C::AbnormalDeath, C::Death],
            "signal {sig}"
        );
    }
    for sig in [1, 2, 9, 15] {
        let ev = Event::Death(ExitInfo::Signaled {
            signal: sig,
            core_dumped: false,
        });
        assert_eq!(ev.condition_types(), [C::Death], "signal {sig}");
    }
    assert_eq!(
        Event::Death(ExitInfo::Exited(3)).condition_types(),
        [C::Death]
    );
}

#[test]
fn k3_event_triggers_entity_node_global_and_cluster_global_and_any() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    attach_pid(&mut s, "other", 6).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "d", "a", log("own"), 0).unwrap();
    add_cond(&mut s, "app", "any", ConditionType::Any, 0).unwrap();
    add_action(&mut s, "app", "any", "a", log("any"), 0).unwrap();
    add_cond(&mut s, "app", "detach", ConditionType::Detach, 0).unwrap();
    add_action(&mut s, "app", "detach", "a", log("not this one"), 0).unwrap();
    add_cond(&mut s, "other", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "other", "d", "a", log("not this entity"), 0).unwrap();
    add_cond(&mut s, "", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "", "d", "a", log("node global"), 0).unwrap();
    let cluster = EntityRef {
        node: CLUSTER_NODE_ID,
        name: String::new(),
        uid: None,
    };
    s.apply(Command::AddCondition {
        entity: cluster.clone(),
        name: "d".into(),
        ctype: ConditionType::Death,
        flags: 0,
        filter: ConditionFilter::None,
    })
    .unwrap();
    let cond = ConditionRef {
        entity: cluster,
        name: "d".into(),
        uid: None,
    };
    s.apply(Command::AddAction {
        condition: cond,
        name: "a".into(),
        flags: 0,
        kind: log("cluster"),
    })
    .unwrap();
    // A death on node beta's entity sees only the cluster-wide condition.
    let on_beta = Command::Attach {
        node: N2,
        name: "app".into(),
        pid: 7,
        command_line: None,
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 0,
        options: Default::default(),
        conditions: Vec::new(),
        stop: Default::default(),
        pacing: None,
    };
    s.apply(on_beta).unwrap();
    let plan = plan_for_event(&s, &eref("app"), death()).unwrap();
    assert_eq!(
        plan_names(&plan),
        ["app/d/a", "app/any/a", "(global)/d/a", "(global)/d/a"]
    );
    assert_eq!(
        plan.steps().last().unwrap().at.condition.entity.node,
        CLUSTER_NODE_ID
    );
    let beta = EntityRef {
        node: N2,
        name: "app".into(),
        uid: None,
    };
    let plan = plan_for_event(&s, &beta, death()).unwrap();
    assert_eq!(plan_names(&plan), ["(global)/d/a"]);
}

#[test]
fn k8_executors_nowait_shared_and_one_per_independent() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    let conds = [
        ("n1", HCONDNOWAIT),
        ("s1", 0),
        ("i1", HCONDINDEPENDENT),
        ("n2", HCONDNOWAIT | HCONDINDEPENDENT), // NOWAIT wins
        ("s2", 0),
        ("i2", HCONDINDEPENDENT),
    ];
    for (name, flags) in conds {
        add_cond(&mut s, "app", name, ConditionType::Death, flags).unwrap();
        add_action(&mut s, "app", name, "a", log(name), 0).unwrap();
    }
    add_action(&mut s, "app", "s1", "w", waitfor(100), 0).unwrap();
    let plan = plan_for_event(&s, &eref("app"), death()).unwrap();
    let shape: Vec<(ExecutorKind, Vec<String>)> = plan
        .executors
        .iter()
        .map(|x| (x.kind, x.steps.iter().map(|st| st.path.clone()).collect()))
        .collect();
    use ExecutorKind::*;
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shape,
        [
            (NoWait, v(&["app/n1/a", "app/n2/a"])),
            (Independent, v(&["app/i1/a"])),
            (Independent, v(&["app/i2/a"])),
            (Shared, v(&["app/s1/a", "app/s1/w", "app/s2/a"])),
        ]
    );
    // At most independent + 2 executors.
    assert!(plan.executors.len() <= 2 + 2);
    // A condition that does not trigger adds no executor.
    let plan = plan_for_event(&s, &eref("app"), Event::Detach).unwrap();
    assert!(plan.is_empty());
}

#[test]
fn k9_actions_run_in_the_order_added() {
    let mut s = two_nodes();
    fs_nfs2(&mut s);
    let plan = plan_for_event(&s, &eref("Fs-nfs2"), death()).unwrap();
    assert_eq!(
        plan_names(&plan),
        [
            "Fs-nfs2/Death/Restart",
            "Fs-nfs2/Death/Delay1",
            "Fs-nfs2/Death/MountDir1",
            "Fs-nfs2/Death/Delay2",
            "Fs-nfs2/Death/MountDir2",
        ]
    );
    assert!(plan.restart.is_some());
}

#[test]
fn a3_restart_comes_first_only_for_deaths() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "note", ConditionType::Death, HCONDNOWAIT).unwrap();
    add_action(&mut s, "app", "note", "tell", log("died"), 0).unwrap();
    add_cond(&mut s, "app", "crash", ConditionType::AbnormalDeath, 0).unwrap();
    add_action(&mut s, "app", "crash", "log", log("crashed"), 0).unwrap();
    add_action(
        &mut s,
        "app",
        "crash",
        "restart",
        restart("/usr/sbin/app"),
        0,
    )
    .unwrap();
    let segv = Event::Death(ExitInfo::Signaled {
        signal: 11,
        core_dumped: true,
    });
    let plan = plan_for_event(&s, &eref("app"), segv).unwrap();
    assert_eq!(plan.restart.as_ref().unwrap().path, "app/crash/restart");
    assert_eq!(
        plan_names(&plan),
        ["app/crash/restart", "app/note/tell", "app/crash/log"]
    );
    // A clean exit does not trigger ABNORMALDEATH, so no restart.
    let plan = plan_for_event(&s, &eref("app"), death()).unwrap();
    assert!(plan.restart.is_none());
    assert_eq!(plan_names(&plan), ["app/note/tell"]);
}

#[test]
fn d5_node_down_triggers_nodedown_on_the_cluster_wide_entity_once() {
    let mut s = two_nodes();
    let cluster = EntityRef {
        node: CLUSTER_NODE_ID,
        name: String::new(),
        uid: None,
    };
    s.apply(Command::AddCondition {
        entity: cluster.clone(),
        name: "lost".into(),
        ctype: ConditionType::NodeDown,
        flags: 0,
        filter: ConditionFilter::None,
    })
    .unwrap();
    let cond = ConditionRef {
        entity: cluster,
        name: "lost".into(),
        uid: None,
    };
    s.apply(Command::AddAction {
        condition: cond,
        name: "tell".into(),
        flags: 0,
        kind: log("node lost"),
    })
    .unwrap();
    let liveness = |s: &mut HamState, up| {
        s.apply(Command::NodeLiveness { node: N2, up })
            .unwrap()
            .effects
    };
    match liveness(&mut s, false).as_slice() {
        [Effect::Run(plan)] => {
            assert_eq!(plan.event, Event::NodeDown { node: N2 });
            assert_eq!(plan.node, CLUSTER_NODE_ID);
            assert_eq!(plan_names(plan), ["(global)/lost/tell"]);
        }
        other => panic!("expected one NODEDOWN plan, got {other:?}"),
    }
    assert!(s.nodes[&N2].down);
    assert!(
        liveness(&mut s, false).is_empty(),
        "NODEDOWN fired twice for one loss"
    );
    assert!(liveness(&mut s, true).is_empty());
    assert!(!s.nodes[&N2].down);
    assert_eq!(
        liveness(&mut s, false).len(),
        1,
        "a second loss fires again"
    );
    let unknown = s.apply(Command::NodeLiveness { node: 9, up: false });
    assert_eq!(errno(unknown), Errno::Ehostunreach);
}
