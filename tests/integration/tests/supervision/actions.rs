//! Single actions run for real: execute with wait, waitfor a path, do-now,
//! and the activity log (A4, A6, A5, A10).

use super::fixture::*;

#[test]
fn a4_execute_with_wait_fails_on_timeout() {
    let fx = Fx::new();
    let (up, mark) = (fx.path("up"), fx.path("mark"));
    fx.ctl(&["attach", "svc", "--cmd", &format!("{PROG} up {up}")]);
    fx.ctl(&["condition", "svc", "d", "death"]);
    fx.ctl(&[
        "action",
        "svc",
        "d",
        "slow",
        "execute",
        "--cmd",
        &format!("{PROG} up {}", fx.path("never")),
        "--wait",
        "--timeout-ms",
        "200",
    ]);
    fx.ctl(&[
        "action-fail",
        "svc",
        "d",
        "slow",
        "note",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    let t0 = Instant::now();
    kill9(fx.pid("svc"));
    wait_for("the timeout's fail action", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
    assert!(t0.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a6_waitfor_path_succeeds_when_the_path_appears() {
    let fx = Fx::new();
    let (up, mark, flag) = (fx.path("up"), fx.path("mark"), fx.path("sub/dir/flag"));
    fx.ctl(&["attach", "svc", "--cmd", &format!("{PROG} up {up}")]);
    fx.ctl(&["condition", "svc", "d", "death"]);
    fx.ctl(&[
        "action",
        "svc",
        "d",
        "wait",
        "waitfor",
        "--delay-ms",
        "5000",
        "--path",
        &flag,
    ]);
    fx.ctl(&[
        "action",
        "svc",
        "d",
        "then",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    kill9(fx.pid("svc"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(stamps(&mark).is_empty(), "ran before the path existed");
    std::fs::create_dir_all(fx.path("sub/dir")).unwrap();
    let created = Instant::now();
    std::fs::write(&flag, b"").unwrap();
    wait_for(
        "the action after the path appeared",
        Duration::from_secs(3),
        || stamps(&mark).len() == 1,
    );
    assert!(
        created.elapsed() < Duration::from_millis(1000),
        "the waitfor noticed late"
    );
}

#[test]
fn a5_donow_execute_runs_when_added() {
    let fx = Fx::new();
    let mark = fx.path("mark");
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {}", fx.path("up")),
    ]);
    fx.ctl(&["condition", "svc", "d", "death"]);
    fx.ctl(&[
        "action",
        "svc",
        "d",
        "now",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
        "--donow",
    ]);
    wait_for("the do-now run", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
}

#[test]
fn a10_log_action_writes_the_activity_log_at_its_verbosity() {
    let fx = Fx::new();
    fx.ctl(&[
        "attach",
        "app",
        "--cmd",
        &format!("{PROG} up {}", fx.path("up")),
    ]);
    fx.ctl(&[
        "condition",
        "app",
        "r",
        "raise",
        "--rtype",
        "any",
        "--rclass",
        "any",
        "--rseverity",
        "any",
    ]);
    fx.ctl(&[
        "action",
        "app",
        "r",
        "say",
        "log",
        "--message",
        "shown at level one",
        "--prefix",
        "--level",
        "1",
    ]);
    fx.ctl(&[
        "action",
        "app",
        "r",
        "quiet",
        "log",
        "--message",
        "hidden at level five",
        "--level",
        "5",
    ]);
    fx.ctl(&[
        "raise",
        "app",
        "--rtype",
        "1",
        "--rclass",
        "1",
        "--rseverity",
        "1",
    ]);
    wait_for("the log line", Duration::from_secs(5), || {
        fx.ham.log_text().contains("app/r/say: shown at level one")
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(!fx.ham.log_text().contains("hidden at level five"));
}
