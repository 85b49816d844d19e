use super::*;

#[test]
fn a2_restart_only_in_death_conditions_and_only_one_per_entity() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "death", ConditionType::Death, 0).unwrap();
    add_cond(&mut s, "app", "crash", ConditionType::AbnormalDeath, 0).unwrap();
    add_cond(&mut s, "app", "raised", ConditionType::Detach, 0).unwrap();
    let r = restart("/usr/sbin/app");
    assert_eq!(
        errno(add_action(&mut s, "app", "raised", "r", r.clone(), 0)),
        Errno::Einval
    );
    add_action(&mut s, "app", "crash", "r", r.clone(), 0).unwrap();
    assert_eq!(
        errno(add_action(&mut s, "app", "death", "r2", r.clone(), 0)),
        Errno::Eexist
    );
    // A global entity has no process to restart.
    add_cond(&mut s, "", "any", ConditionType::Death, 0).unwrap();
    assert_eq!(
        errno(add_action(&mut s, "", "any", "r", r, 0)),
        Errno::Einval
    );
}

#[test]
fn a2_fs_nfs2_tree_builds_and_a_second_restart_is_refused() {
    let mut s = two_nodes();
    fs_nfs2(&mut s);
    let e = s.entity(&eref("Fs-nfs2")).unwrap();
    let names: Vec<_> = e.conditions[0]
        .actions
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Restart", "Delay1", "MountDir1", "Delay2", "MountDir2"]
    );
    let again = restart("/usr/sbin/fs-nfs2");
    assert_eq!(
        errno(add_action(&mut s, "Fs-nfs2", "Death", "Again", again, 0)),
        Errno::Eexist
    );
}

#[test]
fn a5_donow_execute_runs_once_when_added_and_is_ignored_on_waitfor() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    let out = add_action(
        &mut s,
        "app",
        "d",
        "mount",
        execute("/bin/mount /x"),
        HACTIONDONOW,
    )
    .unwrap();
    match out.effects.as_slice() {
        [Effect::Run(p)] => assert_eq!(plan_names(p), ["app/d/mount"]),
        other => panic!("expected one run, got {other:?}"),
    }
    let out = add_action(&mut s, "app", "d", "w", waitfor(10), HACTIONDONOW).unwrap();
    assert!(out.effects.is_empty());
    let out = add_action(&mut s, "app", "d", "later", execute("/bin/true"), 0).unwrap();
    assert!(out.effects.is_empty());
}

#[test]
fn a6_waitfor_delay_must_be_positive_and_path_absolute() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "w", waitfor(0), 0)),
        Errno::Einval
    );
    let rel = ActionKind::Waitfor {
        path: Some("dev/x".into()),
        delay_ms: 10,
    };
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "w", rel, 0)),
        Errno::Einval
    );
    let abs = ActionKind::Waitfor {
        path: Some("/dev/x".into()),
        delay_ms: 10,
    };
    add_action(&mut s, "app", "d", "w", abs, 0).unwrap();
}

#[test]
fn a1_notify_actions_check_target_node_pid_and_signal() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    let sig = |node, pid, signum| ActionKind::NotifySignal {
        node,
        pid,
        signum,
        code: 0,
        value: 7,
    };
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "s", sig(9, 10, 34), 0)),
        Errno::Ehostunreach
    );
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "s", sig(N2, 0, 34), 0)),
        Errno::Einval
    );
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "s", sig(N2, 10, 65), 0)),
        Errno::Einval
    );
    add_action(&mut s, "app", "d", "s", sig(N2, 10, 34), 0).unwrap();
    let pulse = ActionKind::NotifyPulse {
        node: N1,
        pid: 10,
        chid: 1,
        code: 5,
        value: 9,
    };
    add_action(&mut s, "app", "d", "p", pulse, 0).unwrap();
    add_action(&mut s, "app", "d", "h", ActionKind::HeartbeatHealthy, 0).unwrap();
}

#[test]
fn a11_action_flags_and_failed_actions_removed_unless_keeponfail() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    // HACTIONWAIT is for execute only; entity flags are not action flags.
    assert_eq!(
        errno(add_action(&mut s, "app", "d", "l", log("x"), HACTIONWAIT)),
        Errno::Einval
    );
    assert_eq!(
        errno(add_action(
            &mut s,
            "app",
            "d",
            "l",
            log("x"),
            HENTITYKEEPONDEATH
        )),
        Errno::Einval
    );
    add_action(
        &mut s,
        "app",
        "d",
        "dropped",
        execute("/bin/false"),
        HACTIONWAIT,
    )
    .unwrap();
    add_action(
        &mut s,
        "app",
        "d",
        "kept",
        execute("/bin/false"),
        HACTIONKEEPONFAIL,
    )
    .unwrap();
    add_action(&mut s, "app", "d", "fine", log("x"), 0).unwrap();
    let result = |s: &HamState, name: &str, ok| ActionResult {
        action: s.action_handle(N1, "app", "d", name).unwrap(),
        ok,
    };
    let results = vec![
        result(&s, "dropped", false),
        result(&s, "kept", false),
        result(&s, "fine", true),
    ];
    s.apply(Command::ActionsRan { results }).unwrap();
    let c = s.condition(&cref("app", "d")).unwrap().1;
    let names: Vec<_> = c
        .actions
        .iter()
        .map(|a| (a.name.as_str(), a.runs, a.failures))
        .collect();
    assert_eq!(names, [("kept", 1, 1), ("fine", 1, 0)]);
}

#[test]
fn a12_action_fail_lists_kinds_names_and_removal() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "d", "mount", execute("/bin/mount /x"), 0).unwrap();
    let fail = |s: &mut HamState, name: &str, kind| {
        s.apply(Command::AddActionFail {
            action: aref("app", "d", "mount"),
            name: name.into(),
            flags: 0,
            kind,
        })
    };
    fail(&mut s, "tell", log("mount failed")).unwrap();
    fail(&mut s, "retry", execute("/bin/mount /y")).unwrap();
    fail(&mut s, "pause", waitfor(50)).unwrap();
    assert_eq!(errno(fail(&mut s, "tell", log("again"))), Errno::Eexist);
    assert_eq!(errno(fail(&mut s, "r", restart("/bin/x"))), Errno::Einval);
    assert_eq!(
        errno(fail(&mut s, "h", ActionKind::HeartbeatHealthy)),
        Errno::Einval
    );
    let a = s.action(&aref("app", "d", "mount")).unwrap().2;
    let names: Vec<_> = a.fail.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["tell", "retry", "pause"]);
    let rm = |s: &mut HamState, name: &str| {
        s.apply(Command::RemoveActionFail {
            action: aref("app", "d", "mount"),
            name: name.into(),
        })
    };
    rm(&mut s, "retry").unwrap();
    assert_eq!(errno(rm(&mut s, "retry")), Errno::Enoent);
    assert_eq!(
        s.action(&aref("app", "d", "mount")).unwrap().2.fail.len(),
        2
    );
}

#[test]
fn a13_pruning_after_restart_keeps_rearmed_objects_only() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    let r = HREARMAFTERRESTART;
    add_cond(&mut s, "app", "death", ConditionType::Death, r).unwrap();
    add_action(
        &mut s,
        "app",
        "death",
        "restart",
        restart("/usr/sbin/app"),
        r,
    )
    .unwrap();
    add_action(&mut s, "app", "death", "once", log("first death only"), 0).unwrap();
    add_action(&mut s, "app", "death", "always", log("every death"), r).unwrap();
    add_cond(&mut s, "app", "oneshot", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "oneshot", "x", log("x"), r).unwrap();
    add_cond(&mut s, "app", "later", ConditionType::Detach, r).unwrap();
    add_action(&mut s, "app", "later", "notyet", log("did not run"), 0).unwrap();
    let plan = plan_for_event(&s, &eref("app"), Event::Death(ExitInfo::Exited(1))).unwrap();
    let results = plan
        .steps()
        .map(|st| ActionResult {
            action: st.at.clone(),
            ok: true,
        })
        .collect();
    s.apply(Command::RecoveryOutcome {
        entity: s.entity_handle(N1, "app").unwrap(),
        exit: ExitInfo::Exited(1),
        died_ns: 10,
        restarted: Some((6, 11)),
        results,
    })
    .unwrap();
    let e = s.entity(&eref("app")).unwrap();
    let tree: Vec<(String, Vec<String>)> = e
        .conditions
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.actions.iter().map(|a| a.name.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        tree,
        [
            (
                "death".to_string(),
                vec!["restart".to_string(), "always".to_string()]
            ),
            ("later".to_string(), vec!["notyet".to_string()]),
        ]
    );
}
