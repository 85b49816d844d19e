//! Entities: attach, self-attach, placeholders, detach, kinds and stats,
//! heartbeats through the API (HAM-CONTRACT E1-E6, E9, H4).

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn e1_attach_by_pid_keeps_the_line_as_restart_line_and_does_not_run_it() {
    // Declared first, dropped last: the daemon is gone before its process is killed.
    let sleeper = Sleeper::start();
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let marker = n.dir.path().join("ran");
        let line = format!("/bin/touch {}", marker.display());
        let h = c
            .attach(L, "sleeper", sleeper.pid(), &line, 0)
            .await
            .unwrap();
        assert_eq!((h.node_id, h.entity.as_str()), (1, "sleeper"));
        let e = entity(&c, "sleeper").await;
        assert_eq!(e.kind, EntityKind::Attached as i32);
        assert_eq!(
            (e.pid, e.command_line.as_str()),
            (sleeper.pid(), line.as_str())
        );
        // Give a wrongly started line time to leave its mark.
        tokio::time::sleep(ms(300)).await;
        assert!(!marker.exists(), "the restart line was run at attach");
    })
    .await;
}

#[tokio::test]
async fn e2_attach_without_a_pid_needs_a_command_line() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        for pid in [0, -1] {
            for line in ["", "   "] {
                errno(c.attach(L, "web", pid, line, 0).await, Errno::Einval);
            }
        }
        errno(c.entity_handle(L, "web").await, Errno::Enoent);
    })
    .await;
}

#[tokio::test]
async fn e3_unparsable_lines_and_relative_programs_are_einval() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let e = c.entity(L, "holder", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        let log = c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        let me = i64::from(std::process::id());
        for bad in [
            "sleep 30",
            "./run",
            "/bin/echo 'open",
            "/bin/echo \"open",
            "'' /bin/true",
        ] {
            errno(c.attach(L, "web", 0, bad, 0).await, Errno::Einval);
            // A restart line given with a pid is checked the same way.
            errno(c.attach(L, "web", me, bad, 0).await, Errno::Einval);
            errno(c.action_restart(&d, "r", bad, 0).await, Errno::Einval);
            errno(c.action_execute(&d, "x", bad, 0, 0).await, Errno::Einval);
            errno(
                c.action_fail_execute(&log, "fx", bad, 0, 0).await,
                Errno::Einval,
            );
        }
        errno(c.entity_handle(L, "web").await, Errno::Enoent);
        assert_eq!(entity(&c, "holder").await.conditions[0].actions.len(), 1);
        // A well-formed line is kept as written (it is parsed at each start).
        let line = r#"'/opt/my app/bin' -c "a b" x"#;
        c.attach(L, "web", me, line, 0).await.unwrap();
        assert_eq!(entity(&c, "web").await.command_line, line);
    })
    .await;
}

#[tokio::test]
async fn e4_self_attach_checks_the_period_and_thresholds() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        errno(c.attach_self(L, "me", ms(5), 1, 2, 0).await, Errno::Einval);
        errno(
            c.attach_self(L, "me", Duration::from_nanos(9_999_999), 1, 2, 0)
                .await,
            Errno::Einval,
        );
        errno(c.attach_self(L, "me", ms(50), 3, 2, 0).await, Errno::Einval);
        errno(c.entity_handle(L, "me").await, Errno::Enoent);
        // The bounds themselves are fine: HAMHBEATMIN, and hpdl == hpdh.
        let min = Duration::from_nanos(flags::HAMHBEATMIN);
        c.attach_self(L, "min", min, 2, 2, 0).await.unwrap();
        let hb = entity(&c, "min").await.heartbeat.unwrap();
        assert_eq!((hb.period_ns, hb.hpdl, hb.hpdh), (10_000_000, 2, 2));
        // Period 0: no heartbeat at all.
        c.attach_self(L, "quiet", Duration::ZERO, 0, 0, 0)
            .await
            .unwrap();
        assert_eq!(entity(&c, "quiet").await.heartbeat, None);
    })
    .await;
}

#[tokio::test]
async fn e5_attach_fills_a_placeholder_and_keeps_its_conditions() {
    // Declared first, dropped last: the daemon is gone before its process is killed.
    let sleeper = Sleeper::start();
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let p = c.entity(L, "web", 0).await.unwrap();
        let e = entity(&c, "web").await;
        assert_eq!((e.kind, e.pid), (EntityKind::Placeholder as i32, 0));
        let d = c
            .condition(&p, ConditionType::Death, "death", REARM)
            .await
            .unwrap();
        c.action_restart(&d, "restart", "/bin/sleep 30", REARM)
            .await
            .unwrap();
        let h = c.attach(L, "web", sleeper.pid(), "", 0).await.unwrap();
        // The same object: handles taken from the placeholder stay valid.
        assert_eq!(h, p);
        let e = entity(&c, "web").await;
        assert_eq!(
            (e.kind, e.pid),
            (EntityKind::Attached as i32, sleeper.pid())
        );
        assert_eq!(names(e.conditions.iter().map(|c| &c.name)), ["death"]);
        assert_eq!(e.conditions[0].actions[0].name, "restart");
        c.action_log(&d, "log", "m", false, 0, 0).await.unwrap();
        // Now it is live: attaching the name again is refused.
        errno(
            c.attach(L, "web", sleeper.pid(), "", 0).await,
            Errno::Eexist,
        );
        errno(
            c.attach_self(L, "web", Duration::ZERO, 0, 0, 0).await,
            Errno::Eexist,
        );
        errno(c.entity(L, "web", 0).await, Errno::Eexist);
    })
    .await;
}

#[tokio::test]
async fn e6_detach_removes_the_entity_with_its_conditions_and_the_process_keeps_running() {
    // Declared first, dropped last: the daemon is gone before its process is killed.
    let mut sleeper = Sleeper::start();
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let h = c.attach(L, "web", sleeper.pid(), "", 0).await.unwrap();
        let bye = c
            .condition(&h, ConditionType::Detach, "bye", 0)
            .await
            .unwrap();
        c.action_log(&bye, "log", "bye", false, 0, 0).await.unwrap();
        c.detach(&h, 0).await.unwrap();
        errno(c.entity_handle(L, "web").await, Errno::Enoent);
        errno(c.condition_handle(L, "web", "bye").await, Errno::Enoent);
        let info = c.tree(L, "", "", "", false).await.unwrap().info.unwrap();
        assert_eq!(
            (info.num_entities, info.num_conditions, info.num_actions),
            (0, 0, 0)
        );
        errno(c.detach(&h, 0).await, Errno::Enoent);

        // By name, and the self form.
        c.entity(L, "db", 0).await.unwrap();
        c.detach_name(L, "db", 0).await.unwrap();
        errno(c.detach_name(L, "db", 0).await, Errno::Enoent);
        let me = c
            .attach_self(L, "me", Duration::ZERO, 0, 0, 0)
            .await
            .unwrap();
        c.detach_self(&me, 0).await.unwrap();
        errno(c.entity_handle(L, "me").await, Errno::Enoent);
    })
    .await;
    assert!(sleeper.running(), "detach ended the process");
}

#[tokio::test]
async fn e9_entities_report_their_kind_and_stats() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let me = i64::from(std::process::id());
        let t0 = now_ns();
        c.attach(L, "attached", me, "", 0).await.unwrap();
        // A period far longer than the test: no heartbeat can be missed meanwhile.
        c.attach_self(L, "self", HOUR, 3, 5, 0).await.unwrap();
        c.entity(L, "placeholder", flags::HENTITYKEEPONDEATH)
            .await
            .unwrap();
        let g = c.entity_handle(L, "").await.unwrap();
        c.condition(&g, ConditionType::Any, "any", 0).await.unwrap();
        let t1 = now_ns();

        let tree = c.tree(L, "", "", "", false).await.unwrap();
        let kinds: Vec<(&str, i32)> = tree
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("", EntityKind::Global as i32),
                ("attached", EntityKind::Attached as i32),
                ("placeholder", EntityKind::Placeholder as i32),
                ("self", EntityKind::AttachedSelf as i32),
            ]
        );
        for e in &tree.entities[1..] {
            let s = e.stats.unwrap();
            assert!(
                (t0..=t1).contains(&s.created_ns),
                "{}: created {} not in [{t0}, {t1}]",
                e.name,
                s.created_ns
            );
            assert_eq!((s.last_death_ns, s.restarted_ns, s.restarts), (0, 0, 0));
            assert!(e.enabled);
            assert_eq!(e.node_id, 1);
        }
        let [_, attached, placeholder, me_self] = &tree.entities[..] else {
            panic!("four entities");
        };
        assert_eq!((attached.pid, attached.heartbeat), (me, None));
        assert_eq!(placeholder.flags, flags::HENTITYKEEPONDEATH);
        assert_eq!(me_self.pid, me);
        let hb = me_self.heartbeat.unwrap();
        assert_eq!((hb.period_ns, hb.hpdl, hb.hpdh), (3_600_000_000_000, 3, 5));
        assert_eq!(hb.state, HeartbeatState::Ok as i32);
    })
    .await;
}

/// Sends heartbeats until one is accepted (bounded).
///
/// The daemon acknowledges `attach_self` before its agent has set up the
/// heartbeat tracker, so a heartbeat sent at once may be refused with EINVAL
/// (see `h4_heartbeat_right_after_attach_self_is_accepted`). Tests that are
/// about something else wait that set-up out here.
async fn first_heartbeat(c: &Ham, h: &pb::EntityHandle) {
    let start = Instant::now();
    loop {
        match c.heartbeat(h).await {
            Ok(()) => return,
            Err(e) if e.errno == Errno::Einval && start.elapsed() < Duration::from_secs(5) => {
                tokio::time::sleep(ms(10)).await;
            }
            Err(e) => panic!("heartbeat refused: {e}"),
        }
    }
}

#[tokio::test]
async fn h4_heartbeats_through_the_api_are_recorded() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        // A period far longer than the test: no heartbeat can be missed meanwhile.
        let h = c.attach_self(L, "self", HOUR, 3, 5, 0).await.unwrap();
        first_heartbeat(&c, &h).await;
        let t = now_ns();
        c.heartbeat(&h).await.unwrap();
        let hb = entity(&c, "self").await.heartbeat.unwrap();
        assert!(hb.last_beat_ns >= t, "{} < {t}", hb.last_beat_ns);
        assert_eq!(hb.state, HeartbeatState::Ok as i32);
        // Only heartbeating entities heartbeat.
        let p = c.entity(L, "placeholder", 0).await.unwrap();
        errno(c.heartbeat(&p).await, Errno::Einval);
        let quiet = c
            .attach_self(L, "quiet", Duration::ZERO, 0, 0, 0)
            .await
            .unwrap();
        errno(c.heartbeat(&quiet).await, Errno::Einval);
        c.detach(&h, 0).await.unwrap();
        errno(c.heartbeat(&h).await, Errno::Enoent);
    })
    .await;
}

#[tokio::test]

async fn h4_heartbeat_right_after_attach_self_is_accepted() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        for i in 0..50 {
            let h = c
                .attach_self(L, &format!("me{i}"), ms(100), 1, 2, 0)
                .await
                .unwrap();
            c.heartbeat(&h).await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn e1_attach_of_a_pid_that_does_not_exist_is_enoent() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        // Linux pids stay below pid_max (at most 2^22): 2^22 is a pid that names no process.
        errno(c.attach(L, "ghost", 4_194_304, "", 0).await, Errno::Enoent);
        errno(c.entity_handle(L, "ghost").await, Errno::Enoent);
    })
    .await;
}

#[tokio::test]
async fn e6_detach_with_flags_is_einval_and_keeps_the_entity() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let h = c.entity(L, "kept", 0).await.unwrap();
        errno(c.detach(&h, 0x1234).await, Errno::Einval);
        c.entity_handle(L, "kept").await.unwrap();
        c.detach(&h, 0).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn e1_pids_above_pid_max_or_not_positive_where_required_are_einval() {
    let n = node();
    let sleeper = Sleeper::start();
    within(async {
        let c = n.ham.client().await;
        // 2^32 + P would be P once narrowed to 32 bits.
        let wrapped = (1i64 << 32) + sleeper.pid();
        for pid in [wrapped, 4_194_305, i64::MAX] {
            errno(c.attach(L, "big", pid, "", 0).await, Errno::Einval);
            errno(
                c.attach(L, "big", pid, "/bin/sleep 1", 0).await,
                Errno::Einval,
            );
        }
        for pid in [wrapped, 4_194_305, -1, 0, i64::MIN] {
            let req = pb::AttachSelfRequest {
                node: L.to_proto(),
                name: "self".into(),
                pid,
                period_ns: 100_000_000,
                hpdl: 1,
                hpdh: 2,
                flags: 0,
            };
            errno(
                c.raw()
                    .attach_self(req)
                    .await
                    .map_err(HamError::from)
                    .map(|_| ()),
                Errno::Einval,
            );
        }
        let e = c.entity(L, "web", 0).await.unwrap();
        let d = c
            .condition(&e, ConditionType::Death, "death", 0)
            .await
            .unwrap();
        for pid in [wrapped, 4_194_305, 0, -1] {
            let signal = Signal {
                node: L,
                pid,
                signum: 10,
                ..Signal::default()
            };
            errno(
                c.action_notify_signal(&d, "s", &signal, 0).await,
                Errno::Einval,
            );
            let pulse = Pulse {
                node: L,
                pid,
                ..Pulse::default()
            };
            errno(
                c.action_notify_pulse(&d, "p", &pulse, 0).await,
                Errno::Einval,
            );
        }
        // Nothing was created, nothing watches the sleeper.
        let tree = c.tree(L, "", "", "", false).await.unwrap();
        assert_eq!(names(tree.entities.iter().map(|e| &e.name)), ["web"]);
        assert!(entity(&c, "web").await.conditions[0].actions.is_empty());
    })
    .await;
}
