//! Notifications and published events: a failed notification runs its
//! fail list and is removed (A12); raises and state changes run their
//! actions (X6).

use super::fixture::*;

#[test]
fn a12_failed_notification_runs_its_fail_list_and_is_removed() {
    let fx = Fx::new();
    let (up, mark) = (fx.path("up"), fx.path("mark"));
    fx.ctl(&["attach", "svc", "--cmd", &format!("{PROG} up {up}")]);
    fx.ctl(&["condition", "svc", "d", "death"]);
    // No process has pid 2^22 (above every pid_max): the signal fails.
    fx.ctl(&[
        "action", "svc", "d", "tell", "signal", "--pid", "4194304", "--signum", "10", "--value",
        "1",
    ]);
    fx.ctl(&[
        "action-fail",
        "svc",
        "d",
        "tell",
        "fallback",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    fx.ctl(&[
        "attach",
        "keeper",
        "--cmd",
        &format!("{PROG} up {}", fx.path("k")),
        "--keep-on-death",
    ]);
    fx.ctl(&["condition", "keeper", "d", "death"]);
    fx.ctl(&[
        "action",
        "keeper",
        "d",
        "tell",
        "signal",
        "--pid",
        "4194304",
        "--signum",
        "10",
        "--value",
        "1",
        "--keep-on-fail",
    ]);
    wait_for("the starts", Duration::from_secs(5), || {
        lines(&up).len() == 1 && fx.pid("keeper") > 0
    });
    kill9(fx.pid("svc"));
    wait_for("the fail action", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
    kill9(fx.pid("keeper"));
    // A11: a failed action goes unless HACTIONKEEPONFAIL; the kept entity still shows it.
    wait_for("the failure recorded", Duration::from_secs(5), || {
        fx.ctl(&["cat", "keeper/d/tell"]).contains("tell")
            && fx.field("keeper", "Entity Pid").as_deref() == Some("0")
    });
    assert_eq!(
        fx.ctl(&["ls", "keeper/d"])
            .lines()
            .filter(|l| *l == "tell")
            .count(),
        1
    );
}

#[test]
fn x6_raise_and_state_changes_run_their_actions() {
    let fx = Fx::new();
    let (raised, changed) = (fx.path("raised"), fx.path("changed"));
    fx.ctl(&[
        "attach",
        "app",
        "--cmd",
        &format!("{PROG} up {}", fx.path("up")),
    ]);
    fx.ctl(&[
        "condition",
        "app",
        "disk",
        "raise",
        "--rtype",
        "1",
        "--rclass",
        "any",
        "--rseverity",
        "3",
    ]);
    fx.ctl(&[
        "action",
        "app",
        "disk",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {raised}"),
    ]);
    fx.ctl(&[
        "condition",
        "app",
        "failing",
        "state",
        "--from",
        "1",
        "--to",
        "2",
    ]);
    fx.ctl(&[
        "action",
        "app",
        "failing",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {changed}"),
    ]);
    fx.ctl(&[
        "raise",
        "app",
        "--rtype",
        "1",
        "--rclass",
        "9",
        "--rseverity",
        "4",
    ]);
    fx.ctl(&[
        "raise",
        "app",
        "--rtype",
        "1",
        "--rclass",
        "9",
        "--rseverity",
        "3",
    ]);
    fx.ctl(&["state", "app", "2"]); // 0 -> 2: not from 1
    fx.ctl(&["state", "app", "1"]);
    fx.ctl(&["state", "app", "2"]); // 1 -> 2
    wait_for(
        "the raise and the state actions",
        Duration::from_secs(5),
        || stamps(&raised).len() == 1 && stamps(&changed).len() == 1,
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!((stamps(&raised).len(), stamps(&changed).len()), (1, 1));
}
