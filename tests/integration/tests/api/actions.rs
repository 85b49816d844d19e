//! Actions and action-fail actions: kinds, parameters, flags, order
//! (HAM-CONTRACT A1, A2, A6, A11, A12).

use super::*;

fn pulse(node: NodeSel) -> Pulse {
    Pulse {
        node,
        pid: 10,
        chid: 2,
        code: 3,
        value: -4,
    }
}

fn signal(node: NodeSel) -> Signal {
    Signal {
        node,
        pid: 10,
        signum: 10,
        code: 0,
        value: 5,
    }
}

fn testnode() -> Option<pb::NodeRef> {
    Some(pb::NodeRef {
        node: Some(node_ref::Node::Name("testnode".into())),
    })
}

#[tokio::test]
async fn a1_every_action_kind_round_trips_in_order() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c
            .action_restart(&d, "restart", "/usr/sbin/web -D", REARM)
            .await
            .unwrap();
        assert_eq!(a.action, "restart");
        assert_eq!(a.condition.as_ref(), Some(&d));
        c.action_execute(&d, "exec", "/bin/true", 100, flags::HACTIONWAIT)
            .await
            .unwrap();
        c.action_waitfor(&d, "wait", "/tmp", 250, 0).await.unwrap();
        c.action_notify_pulse(&d, "pulse", &pulse("testnode".into()), 0)
            .await
            .unwrap();
        // No target node: the node the call was served by.
        c.action_notify_signal(&d, "signal", &signal(L), 0)
            .await
            .unwrap();
        c.action_heartbeat_healthy(&d, "healthy", 0).await.unwrap();
        c.action_log(&d, "log", "hello", true, 2, 0).await.unwrap();

        use action_info::Kind as K;
        let want = [
            (
                "restart",
                REARM,
                K::Restart(pb::RestartAction {
                    command_line: "/usr/sbin/web -D".into(),
                }),
            ),
            (
                "exec",
                flags::HACTIONWAIT,
                K::Execute(pb::ExecuteAction {
                    command_line: "/bin/true".into(),
                    timeout_ms: 100,
                }),
            ),
            (
                "wait",
                0,
                K::Waitfor(pb::WaitforAction {
                    path: "/tmp".into(),
                    delay_ms: 250,
                }),
            ),
            (
                "pulse",
                0,
                K::NotifyPulse(pb::NotifyPulseAction {
                    target_node: testnode(),
                    pid: 10,
                    chid: 2,
                    code: 3,
                    value: -4,
                }),
            ),
            (
                "signal",
                0,
                K::NotifySignal(pb::NotifySignalAction {
                    target_node: testnode(),
                    pid: 10,
                    signum: 10,
                    code: 0,
                    value: 5,
                }),
            ),
            (
                "healthy",
                0,
                K::HeartbeatHealthy(pb::HeartbeatHealthyAction {}),
            ),
            (
                "log",
                0,
                K::Log(pb::LogAction {
                    message: "hello".into(),
                    attach_prefix: true,
                    verbosity: 2,
                }),
            ),
        ];
        let actions = entity(&c, "web").await.conditions.remove(0).actions;
        assert_eq!(actions.len(), want.len());
        for (got, (name, fl, kind)) in actions.iter().zip(want) {
            assert_eq!(got.name, name);
            assert_eq!(got.flags, fl, "{name}");
            assert_eq!(got.kind.as_ref(), Some(&kind), "{name}");
            assert!(got.enabled, "{name}");
            assert_eq!((got.runs, got.failures), (0, 0), "{name}");
        }
    })
    .await;
}

#[tokio::test]
async fn a1_notification_targets_are_checked_when_added() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let bad_signals = [
            Signal {
                pid: 0,
                ..signal(L)
            },
            Signal {
                pid: -1,
                ..signal(L)
            },
            Signal {
                signum: 0,
                ..signal(L)
            },
            Signal {
                signum: 65,
                ..signal(L)
            },
            // A notification goes to one process on one node, not to "*".
            signal(NodeSel::Cluster),
        ];
        for s in &bad_signals {
            errno(c.action_notify_signal(&d, "s", s, 0).await, Errno::Einval);
        }
        for p in [Pulse { pid: 0, ..pulse(L) }, pulse(NodeSel::Cluster)] {
            errno(c.action_notify_pulse(&d, "p", &p, 0).await, Errno::Einval);
        }
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        errno(
            c.action_fail_notify_signal(&a, "fs", &bad_signals[2], 0)
                .await,
            Errno::Einval,
        );
        assert_eq!(entity(&c, "web").await.conditions[0].actions.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a2_restart_only_on_death_conditions_and_once_per_entity() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let line = "/bin/sleep 30";
        for t in [
            ConditionType::Attach,
            ConditionType::Detach,
            ConditionType::Restart,
            ConditionType::Any,
        ] {
            let other = c.condition(&e, t, &format!("{t:?}"), 0).await.unwrap();
            errno(c.action_restart(&other, "r", line, 0).await, Errno::Einval);
        }
        let death = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let crash = c
            .condition(&e, ConditionType::Abnormaldeath, "crash", 0)
            .await
            .unwrap();
        let r = c.action_restart(&crash, "restart", line, 0).await.unwrap();
        errno(
            c.action_restart(&death, "restart", line, 0).await,
            Errno::Eexist,
        );
        errno(
            c.action_restart(&crash, "again", line, 0).await,
            Errno::Eexist,
        );
        // Once it is gone, another death condition may hold it.
        c.action_remove(&r).await.unwrap();
        c.action_restart(&death, "restart", line, 0).await.unwrap();
        // Each entity has its own.
        let db = c.entity(L, "db", 0).await.unwrap();
        let db_death = c
            .condition(&db, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        c.action_restart(&db_death, "restart", line, 0)
            .await
            .unwrap();
        // A global entity has no process to restart.
        let g = c.entity_handle(L, "").await.unwrap();
        let g_death = c
            .condition(&g, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        errno(
            c.action_restart(&g_death, "restart", line, 0).await,
            Errno::Einval,
        );
    })
    .await;
}

#[tokio::test]
async fn a6_waitfor_needs_a_positive_delay_and_an_absolute_path() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let a = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        for delay in [0, -1, -1000] {
            errno(c.action_waitfor(&d, "w", "", delay, 0).await, Errno::Einval);
            errno(
                c.action_fail_waitfor(&a, "fw", "", delay, 0).await,
                Errno::Einval,
            );
        }
        errno(
            c.action_waitfor(&d, "w", "relative/path", 10, 0).await,
            Errno::Einval,
        );
        c.action_waitfor(&d, "w", "", 1, 0).await.unwrap();
        c.action_waitfor(&d, "ready", "/run/ready", 2000, 0)
            .await
            .unwrap();
        let actions = entity(&c, "web").await.conditions.remove(0).actions;
        assert_eq!(
            names(actions.iter().map(|a| &a.name)),
            ["log", "w", "ready"]
        );
    })
    .await;
}

#[tokio::test]
async fn a11_action_flags_are_checked_per_kind() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        // HACTIONWAIT is for execute actions only; entity and condition bits are for those.
        errno(
            c.action_waitfor(&d, "w", "", 10, flags::HACTIONWAIT).await,
            Errno::Einval,
        );
        for bad in [
            flags::HACTIONWAIT,
            flags::HCONDNOWAIT,
            flags::HENTITYKEEPONDEATH,
            flags::HRECURSE,
        ] {
            errno(
                c.action_log(&d, "l", "m", false, 0, bad).await,
                Errno::Einval,
            );
        }
        let all = REARM | flags::HACTIONBREAKONFAIL | flags::HACTIONKEEPONFAIL;
        c.action_log(&d, "l", "m", false, 0, all).await.unwrap();
        c.action_execute(&d, "x", "/bin/true", 0, all | flags::HACTIONWAIT)
            .await
            .unwrap();
        let actions = entity(&c, "web").await.conditions.remove(0).actions;
        let got: Vec<u32> = actions.iter().map(|a| a.flags).collect();
        assert_eq!(got, [all, all | flags::HACTIONWAIT]);
    })
    .await;
}

#[tokio::test]
async fn a12_action_fail_lists_are_ordered_and_removable_by_name() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let x = c.action_execute(&d, "x", "/bin/true", 0, 0).await.unwrap();
        let f1 = c
            .action_fail_execute(&x, "f1", "/bin/false", 50, flags::HACTIONWAIT)
            .await
            .unwrap();
        assert_eq!((f1.action.as_ref(), f1.name.as_str()), (Some(&x), "f1"));
        c.action_fail_waitfor(&x, "f2", "/tmp", 10, 0)
            .await
            .unwrap();
        let f3 = c
            .action_fail_notify_pulse(&x, "f3", &pulse(L), 0)
            .await
            .unwrap();
        c.action_fail_notify_signal(&x, "f4", &signal("testnode".into()), 0)
            .await
            .unwrap();
        c.action_fail_log(&x, "f5", "failed", true, 1, 0)
            .await
            .unwrap();
        // HACTIONWAIT is the only action-fail flag, and only on execute.
        errno(
            c.action_fail_log(&x, "f6", "m", false, 0, flags::HACTIONWAIT)
                .await,
            Errno::Einval,
        );
        errno(
            c.action_fail_execute(&x, "f6", "/bin/true", 0, REARM).await,
            Errno::Einval,
        );

        let fails = |a: &pb::ActionInfo| -> Vec<(String, u32, Option<action_fail_info::Kind>)> {
            a.fail_actions
                .iter()
                .map(|f| (f.name.clone(), f.flags, f.kind.clone()))
                .collect()
        };
        use action_fail_info::Kind as F;
        let got = fails(&entity(&c, "web").await.conditions[0].actions[0]);
        let want = vec![
            (
                "f1".to_string(),
                flags::HACTIONWAIT,
                Some(F::Execute(pb::ExecuteAction {
                    command_line: "/bin/false".into(),
                    timeout_ms: 50,
                })),
            ),
            (
                "f2".into(),
                0,
                Some(F::Waitfor(pb::WaitforAction {
                    path: "/tmp".into(),
                    delay_ms: 10,
                })),
            ),
            (
                "f3".into(),
                0,
                Some(F::NotifyPulse(pb::NotifyPulseAction {
                    target_node: testnode(),
                    pid: 10,
                    chid: 2,
                    code: 3,
                    value: -4,
                })),
            ),
            (
                "f4".into(),
                0,
                Some(F::NotifySignal(pb::NotifySignalAction {
                    target_node: testnode(),
                    pid: 10,
                    signum: 10,
                    code: 0,
                    value: 5,
                })),
            ),
            (
                "f5".into(),
                0,
                Some(F::Log(pb::LogAction {
                    message: "failed".into(),
                    attach_prefix: true,
                    verbosity: 1,
                })),
            ),
        ];
        assert_eq!(got, want);

        c.action_fail_remove(&f3).await.unwrap();
        errno(c.action_fail_remove(&f3).await, Errno::Enoent);
        let mut nameless = f3.clone();
        nameless.name.clear();
        errno(c.action_fail_remove(&nameless).await, Errno::Enoent);
        let got = fails(&entity(&c, "web").await.conditions[0].actions[0]);
        let left: Vec<&str> = got.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(left, ["f1", "f2", "f4", "f5"]);
    })
    .await;
}
