//! Programs that daemonize: followed to their new pid, or named by a pid
//! file (E8).

use super::fixture::*;

#[test]
fn e8_daemonizing_program_is_followed_to_its_new_pid() {
    let fx = Fx::new();
    let up = fx.path("up");
    let line = format!("{PROG} daemonize {up}");
    fx.ctl(&["attach", "daemon", "--cmd", &line, "--restart"]);
    wait_for("the daemon", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    let daemon: i64 = lines(&up)[0].split(' ').next().unwrap().parse().unwrap();
    wait_for(
        "the tree to follow the daemon",
        Duration::from_secs(5),
        || fx.pid("daemon") == daemon,
    );
    assert_eq!(
        fx.field("daemon", "Num Restarts").as_deref(),
        Some("0"),
        "daemonizing counted as a death"
    );
    kill9(daemon);
    wait_for("the restarted daemon", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    let second: i64 = lines(&up)[1].split(' ').next().unwrap().parse().unwrap();
    wait_for(
        "the tree to follow the new daemon",
        Duration::from_secs(5),
        || fx.pid("daemon") == second,
    );
    assert_eq!(fx.field("daemon", "Num Restarts").as_deref(), Some("1"));
}

#[test]
fn e8_pidfile_names_the_daemon() {
    let fx = Fx::new();
    let (up, pidfile) = (fx.path("up"), fx.path("d.pid"));
    fx.ctl(&[
        "attach",
        "daemon",
        "--cmd",
        &format!("{PROG} daemonize {up} {pidfile}"),
        "--pidfile",
        &pidfile,
    ]);
    wait_for("the pid file", Duration::from_secs(5), || {
        !lines(&pidfile).is_empty()
    });
    let daemon: i64 = lines(&pidfile)[0].parse().unwrap();
    wait_for(
        "the tree to follow the daemon",
        Duration::from_secs(5),
        || fx.pid("daemon") == daemon,
    );
}
