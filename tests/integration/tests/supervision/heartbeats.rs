//! Heartbeats: missed-heartbeat detection, rearming, the deadlocked process,
//! a closed heartbeat connection, and sd_notify watchdog programs (H2, H3,
//! H4, A9, E10).

use super::fixture::*;

#[test]
fn h3_missed_heartbeat_detected_promptly_after_the_boundary() {
    let fx = Fx::new();
    let (stop, mark) = (fx.path("stop"), fx.path("mark"));
    // The action signals a receiver that stamps each signal as it lands, so
    // the figure is detection + signal delivery, not the cold start of a
    // program the action would otherwise run (tens of ms on a loaded CI box).
    let rx = helper(&["sigstamps", &mark]);
    wait_for("the receiver", Duration::from_secs(5), || {
        lines(&mark).len() == 1
    });
    let rx_pid = rx.0.id().to_string();
    fx.ctl(&["entity", "wd"]);
    fx.ctl(&["condition", "wd", "low", "hbeatmissedlow"]);
    fx.ctl(&[
        "action", "wd", "low", "mark", "signal", "--pid", &rx_pid, "--signum", "10",
    ]);
    fx.ctl(&["action", "wd", "low", "rearm", "healthy"]);
    attach_with_heartbeat(&fx, "wd", &format!("{PROG} watchdog {stop}"), 50, 1, 1);
    std::fs::write(&stop, b"").unwrap();
    wait_for("several detections", Duration::from_secs(5), || {
        stamps(&mark).len() >= 5
    });
    let boundary = next_boundary_ns(&fx, "wd");
    let period = 50 * MS;
    // The contract's bound is 5 ms; a loaded 2-core CI machine running other
    // suites in parallel gets 15 ms of scheduling slack. A detection one
    // period late would show as ~50 ms. The benchmark measures the real
    // figure (docs/benchmarks.md, row c).
    let lates: Vec<i128> = stamps(&mark)
        .iter()
        .map(|s| (*s as i128 - boundary).rem_euclid(period as i128) / 1000)
        .collect();
    assert!(
        lates.iter().all(|l| *l < 20_000),
        "stamps after their boundaries (µs): {lates:?}"
    );
}

#[test]
fn a9_heartbeat_healthy_rearms_missed_heartbeat_conditions() {
    let fx = Fx::new();
    let (stop, mark) = (fx.path("stop"), fx.path("mark"));
    fx.ctl(&["entity", "wd"]);
    fx.ctl(&["condition", "wd", "low", "hbeatmissedlow"]);
    fx.ctl(&[
        "action",
        "wd",
        "low",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    attach_with_heartbeat(&fx, "wd", &format!("{PROG} watchdog {stop}"), 50, 2, 10);
    std::fs::write(&stop, b"").unwrap();
    wait_for("the first miss", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        stamps(&mark).len(),
        1,
        "triggered again without heartbeat_healthy"
    );
    fx.ctl(&["action", "wd", "low", "rearm", "healthy"]);
    // The next miss still fires nothing (the state is MISSEDLOW until an action resets it);
    // trigger the healthy action through a raise condition instead.
    fx.ctl(&[
        "condition",
        "wd",
        "fix",
        "raise",
        "--rtype",
        "any",
        "--rclass",
        "any",
        "--rseverity",
        "any",
    ]);
    fx.ctl(&["action", "wd", "fix", "ok", "healthy"]);
    fx.ctl(&[
        "raise",
        "wd",
        "--rtype",
        "1",
        "--rclass",
        "1",
        "--rseverity",
        "1",
    ]);
    wait_for(
        "a miss after heartbeat_healthy",
        Duration::from_secs(5),
        || stamps(&mark).len() >= 2,
    );
}

#[test]
fn h2_deadlocked_process_stops_heartbeating_and_is_terminated() {
    let fx = Fx::new();
    let log = fx.path("deadlock.log");
    let socket = fx.ham.socket.display().to_string();
    let mut child = Command::new(PROG)
        .args(["deadlock", &socket, "mutex-deadlock", &log])
        .env("NOTIFY_SOCKET", fx.notify_socket())
        .spawn()
        .unwrap();
    wait_for("the self-attach", Duration::from_secs(5), || {
        lines(&log).first().map(String::as_str) == Some("attached")
    });
    wait_for("the entity", Duration::from_secs(5), || {
        fx.entities().contains(&"mutex-deadlock".to_string())
    });
    // 5 periods of 100 ms without heartbeats, then the terminate action.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the deadlocked process was not terminated"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    // Not restarted: E7 removes it.
    wait_for("the entity's removal", Duration::from_secs(5), || {
        fx.entities().is_empty()
    });
}

#[test]
fn e10_closed_heartbeat_connection_is_a_death() {
    let fx = Fx::new();
    let mark = fx.path("mark");
    let alive = helper(&["up", &fx.path("alive")]);
    let pid = i64::from(alive.0.id());
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let req = pb::AttachSelfRequest {
            node: None,
            name: "selfish".into(),
            pid,
            period_ns: 50_000_000,
            hpdl: 5,
            hpdh: 10,
            flags: 0,
        };
        let me = ham.raw().attach_self(req).await.unwrap().into_inner();
        let cond = ham
            .condition(&me, ham_client::ConditionType::Death, "d", 0)
            .await
            .unwrap();
        ham.action_execute(&cond, "mark", &format!("{PROG} stamp {mark}"), 0, 0)
            .await
            .unwrap();
        let conn = ham.heartbeat_connection(me.clone(), Duration::from_millis(20));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(stamps(&mark).is_empty());
        conn.close().await.unwrap();
    });
    wait_for("the death", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
    wait_for("the removal", Duration::from_secs(5), || {
        fx.entities().is_empty()
    });
    drop(alive);
}

#[test]
fn h4_sd_notify_watchdog_program_works_unchanged() {
    let fx = Fx::new();
    let (stop, low, high) = (fx.path("stop"), fx.path("low"), fx.path("high"));
    fx.ctl(&["entity", "wd"]);
    fx.ctl(&["condition", "wd", "low", "hbeatmissedlow"]);
    fx.ctl(&[
        "action",
        "wd",
        "low",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {low}"),
    ]);
    fx.ctl(&["condition", "wd", "high", "hbeatmissedhigh"]);
    fx.ctl(&[
        "action",
        "wd",
        "high",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {high}"),
    ]);
    attach_with_heartbeat(&fx, "wd", &format!("{PROG} watchdog {stop}"), 100, 2, 3);
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        stamps(&low).is_empty(),
        "missed heartbeats while the program was beating"
    );
    assert_eq!(fx.field("wd", "HeartBeat State").as_deref(), Some("OK"));
    assert!(
        fx.info("wd").contains("Last Heartbeat"),
        "{}",
        fx.info("wd")
    );
    std::fs::write(&stop, b"").unwrap();
    wait_for("HBEATMISSEDLOW then HIGH", Duration::from_secs(5), || {
        stamps(&low).len() == 1 && stamps(&high).len() == 1
    });
    let (l, h) = (stamps(&low)[0], stamps(&high)[0]);
    assert!(h > l && (h - l) / MS < 400, "low {l} high {h}");
    assert_eq!(
        fx.field("wd", "HeartBeat State").as_deref(),
        Some("MISSEDHIGH")
    );
}

#[test]
fn h4_hamctrl_attach_promises_heartbeats_for_a_watchdog_program() {
    let fx = Fx::new();
    let (stop, high) = (fx.path("stop"), fx.path("high"));
    fx.ctl(&["entity", "wd"]);
    fx.ctl(&["condition", "wd", "high", "hbeatmissedhigh"]);
    fx.ctl(&[
        "action",
        "wd",
        "high",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {high}"),
    ]);
    let line = format!("{PROG} watchdog {stop}");
    fx.ctl(&[
        "attach",
        "wd",
        "--cmd",
        &line,
        "--heartbeat-ms",
        "100",
        "--hpdl",
        "1",
        "--hpdh",
        "2",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        fx.field("wd", "HeartBeat State").as_deref(),
        Some("OK"),
        "{}",
        fx.info("wd")
    );
    std::fs::write(&stop, b"").unwrap();
    wait_for("HBEATMISSEDHIGH", Duration::from_secs(5), || {
        stamps(&high).len() == 1
    });
}
