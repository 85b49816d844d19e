use super::*;

#[test]
fn k1_every_condition_type_can_be_added() {
    use ConditionType as C;
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    let plain = [
        C::Death,
        C::AbnormalDeath,
        C::Detach,
        C::Attach,
        C::HbeatMissedLow,
        C::HbeatMissedHigh,
        C::Restart,
        C::Any,
        C::Escalate,
    ];
    for (i, t) in plain.into_iter().enumerate() {
        add_cond(&mut s, "app", &format!("c{i}"), t, 0).unwrap();
    }
    // RAISE and STATE need their filters; NODEDOWN belongs to the cluster-wide entity.
    assert_eq!(
        errno(add_cond(&mut s, "app", "r", C::Raise, 0)),
        Errno::Einval
    );
    assert_eq!(
        errno(add_cond(&mut s, "app", "s", C::State, 0)),
        Errno::Einval
    );
    assert_eq!(
        errno(add_cond(&mut s, "app", "n", C::NodeDown, 0)),
        Errno::Einval
    );
    assert_eq!(
        s.entity(&eref("app")).unwrap().conditions.len(),
        plain.len()
    );
}

#[test]
fn n3_condition_and_action_names_unique_in_their_parent() {
    let mut s = two_nodes();
    attach_pid(&mut s, "a", 5).unwrap();
    attach_pid(&mut s, "b", 6).unwrap();
    add_cond(&mut s, "a", "death", ConditionType::Death, 0).unwrap();
    add_cond(&mut s, "b", "death", ConditionType::Death, 0).unwrap();
    assert_eq!(
        errno(add_cond(&mut s, "a", "death", ConditionType::Detach, 0)),
        Errno::Eexist
    );
    add_action(&mut s, "a", "death", "log", log("x"), 0).unwrap();
    add_action(&mut s, "b", "death", "log", log("x"), 0).unwrap();
    assert_eq!(
        errno(add_action(&mut s, "a", "death", "log", log("y"), 0)),
        Errno::Eexist
    );
}

#[test]
fn k5_raise_filters_match_value_or_wildcard() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    let add = |s: &mut HamState, name: &str, rtype, rclass, rseverity| {
        s.apply(Command::AddCondition {
            entity: eref("app"),
            name: name.into(),
            ctype: ConditionType::Raise,
            flags: 0,
            filter: ConditionFilter::Raise(RaiseFilter {
                rtype,
                rclass,
                rseverity,
            }),
        })
        .unwrap();
        add_action(s, "app", name, "a", log(name), 0).unwrap();
    };
    add(&mut s, "exact", 1, 2, 3);
    add(&mut s, "anysev", 1, 2, ANY);
    add(&mut s, "anything", ANY, ANY, ANY);
    add(&mut s, "other", 9, 2, 3);
    let raise = |s: &HamState, t, c, v| {
        let ev = Event::Raise {
            rtype: t,
            rclass: c,
            rseverity: v,
        };
        plan_names(&plan_for_event(s, &eref("app"), ev).unwrap())
    };
    assert_eq!(
        raise(&s, 1, 2, 3),
        ["app/exact/a", "app/anysev/a", "app/anything/a"]
    );
    assert_eq!(raise(&s, 1, 2, 7), ["app/anysev/a", "app/anything/a"]);
    assert_eq!(raise(&s, 5, 5, 5), ["app/anything/a"]);
}

#[test]
fn k6_state_filters_values_sets_and_inversion() {
    let from_to = |from, to| ConditionFilter::State { from, to };
    let set = |bits, invert| StateMatch::Set { bits, invert };
    let cases = [
        (from_to(StateMatch::Any, StateMatch::Value(2)), 0, 2, true),
        (from_to(StateMatch::Any, StateMatch::Value(2)), 0, 3, false),
        (from_to(StateMatch::Value(1), StateMatch::Any), 1, 9, true),
        (from_to(set(0b0110, false), StateMatch::Any), 2, 0, true),
        (from_to(set(0b0110, false), StateMatch::Any), 3, 0, false),
        (from_to(StateMatch::Any, set(0b0110, true)), 0, 3, true),
        (from_to(StateMatch::Any, set(0b0110, true)), 0, 1, false),
        (from_to(StateMatch::Any, set(0b0110, true)), 0, 99, true), // outside 0..63: not in set
    ];
    for (i, (filter, from, to, want)) in cases.into_iter().enumerate() {
        let c = Condition {
            name: "s".into(),
            uid: 1,
            ctype: ConditionType::State,
            flags: 0,
            enabled: true,
            filter,
            actions: Vec::new(),
        };
        assert_eq!(
            condition_matches(&c, Event::State { from, to }),
            want,
            "case {i}"
        );
    }
}

#[test]
fn k6_state_is_remembered_and_transitions_trigger() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    s.apply(Command::AddCondition {
        entity: eref("app"),
        name: "to-failed".into(),
        ctype: ConditionType::State,
        flags: HCONDSTATEFROMSET,
        filter: ConditionFilter::State {
            from: StateMatch::Value(1),
            to: StateMatch::Value(3),
        },
    })
    .unwrap();
    add_action(&mut s, "app", "to-failed", "warn", log("failed"), 0).unwrap();
    let report = |s: &mut HamState, state| {
        let out = s
            .apply(Command::ReportState {
                entity: eref("app"),
                state,
            })
            .unwrap();
        out.effects.iter().any(|e| matches!(e, Effect::Run(_)))
    };
    assert!(!report(&mut s, 3)); // 0 -> 3: from is not 1
    assert!(!report(&mut s, 1)); // 3 -> 1
    assert!(report(&mut s, 3)); // 1 -> 3
}

#[test]
fn k6_state_set_flags_only_on_state_conditions() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    assert_eq!(
        errno(add_cond(
            &mut s,
            "app",
            "d",
            ConditionType::Death,
            HCONDSTATETOSET
        )),
        Errno::Einval
    );
}

#[test]
fn k7_nowait_condition_refuses_waitfor_both_ways() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "fast", ConditionType::Death, HCONDNOWAIT).unwrap();
    assert_eq!(
        errno(add_action(&mut s, "app", "fast", "w", waitfor(100), 0)),
        Errno::Einval
    );
    add_action(&mut s, "app", "fast", "x", execute("/bin/true"), 0).unwrap();

    add_cond(&mut s, "app", "slow", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "slow", "w", waitfor(100), 0).unwrap();
    let set_nowait = Command::Control {
        target: ObjectRef::Condition(cref("app", "slow")),
        op: ControlOp::AddFlags,
        flags: HCONDNOWAIT,
    };
    assert_eq!(errno(s.apply(set_nowait.clone())), Errno::Einval);
    s.apply(Command::RemoveAction {
        action: aref("app", "slow", "w"),
    })
    .unwrap();
    s.apply(set_nowait).unwrap();
}

#[test]
fn x1_disabled_objects_do_not_react_and_recurse_reaches_below() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "d", "one", log("1"), 0).unwrap();
    add_action(&mut s, "app", "d", "two", log("2"), 0).unwrap();
    let death = Event::Death(ExitInfo::Exited(1));
    let run = |s: &HamState| plan_names(&plan_for_event(s, &eref("app"), death).unwrap());
    let control = |s: &mut HamState, target, op, flags| {
        s.apply(Command::Control { target, op, flags }).unwrap();
    };
    control(
        &mut s,
        ObjectRef::Action(aref("app", "d", "one")),
        ControlOp::Disable,
        0,
    );
    assert_eq!(run(&s), ["app/d/two"]);
    control(
        &mut s,
        ObjectRef::Condition(cref("app", "d")),
        ControlOp::Disable,
        0,
    );
    assert!(run(&s).is_empty());
    control(
        &mut s,
        ObjectRef::Condition(cref("app", "d")),
        ControlOp::Enable,
        0,
    );
    control(
        &mut s,
        ObjectRef::Entity(eref("app")),
        ControlOp::Disable,
        0,
    );
    assert!(run(&s).is_empty());
    // Enabling the entity with HRECURSE re-enables the disabled action below it.
    control(
        &mut s,
        ObjectRef::Entity(eref("app")),
        ControlOp::Enable,
        HRECURSE,
    );
    assert_eq!(run(&s), ["app/d/one", "app/d/two"]);
    // Enable/disable take no flag but HRECURSE.
    let bad = Command::Control {
        target: ObjectRef::Entity(eref("app")),
        op: ControlOp::Disable,
        flags: HCONDNOWAIT,
    };
    assert_eq!(errno(s.apply(bad)), Errno::Einval);
}

#[test]
fn x2_flags_add_remove_set_get_and_invalid_flags() {
    let mut s = two_nodes();
    attach_pid(&mut s, "app", 5).unwrap();
    add_cond(&mut s, "app", "d", ConditionType::Death, 0).unwrap();
    add_action(&mut s, "app", "d", "x", execute("/bin/true"), 0).unwrap();
    let ctl = |s: &mut HamState, target: ObjectRef, op, flags| {
        s.apply(Command::Control { target, op, flags })
            .map(|a| a.response)
    };
    let ent = ObjectRef::Entity(eref("app"));
    let cond = ObjectRef::Condition(cref("app", "d"));
    let act = ObjectRef::Action(aref("app", "d", "x"));
    let f = |v| Ok(Response::Flags(v));
    assert_eq!(
        ctl(&mut s, ent.clone(), ControlOp::AddFlags, HENTITYKEEPONDEATH),
        f(HENTITYKEEPONDEATH)
    );
    assert_eq!(
        ctl(&mut s, ent.clone(), ControlOp::GetFlags, 0),
        f(HENTITYKEEPONDEATH)
    );
    assert_eq!(
        ctl(
            &mut s,
            ent.clone(),
            ControlOp::RemoveFlags,
            HENTITYKEEPONDEATH
        ),
        f(0)
    );
    assert_eq!(
        errno(ctl(&mut s, ent, ControlOp::AddFlags, HCONDNOWAIT)),
        Errno::Einval
    );
    let both = HREARMAFTERRESTART | HCONDINDEPENDENT;
    assert_eq!(
        ctl(&mut s, cond.clone(), ControlOp::SetFlags, both),
        f(both)
    );
    assert_eq!(
        errno(ctl(&mut s, cond, ControlOp::AddFlags, HACTIONDONOW)),
        Errno::Einval
    );
    let wait = HACTIONWAIT | HACTIONKEEPONFAIL;
    assert_eq!(ctl(&mut s, act.clone(), ControlOp::SetFlags, wait), f(wait));
    assert_eq!(
        errno(ctl(
            &mut s,
            act.clone(),
            ControlOp::AddFlags,
            HENTITYKEEPONDEATH
        )),
        Errno::Einval
    );
    assert_eq!(
        errno(ctl(
            &mut s,
            act,
            ControlOp::AddFlags,
            HACTIONDONOW | HRECURSE
        )),
        Errno::Einval
    );
}
