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

/// The first field ("PID ...") of each line of an `up` file.
fn up_pids(path: &str) -> Vec<i64> {
    lines(path)
        .iter()
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// A pid that names no process: a child of the test, started and reaped.
fn dead_pid() -> i64 {
    let mut c = Command::new("/bin/true").spawn().unwrap();
    c.wait().unwrap();
    i64::from(c.id())
}

/// Waits until the tree shows `want` as the entity's pid, failing at once if
/// it ever shows `never`.
fn follows(fx: &Fx, entity: &str, want: impl Fn() -> Option<i64>, never: i64) {
    wait_for(
        "the tree to follow the daemon",
        Duration::from_secs(8),
        || {
            let shown = fx.pid(entity);
            assert_ne!(
                shown, never,
                "the tree shows pid {never}, which is not the daemon"
            );
            want() == Some(shown)
        },
    );
}

#[test]
fn l2_stale_pid_file_is_never_watched() {
    let fx = Fx::new();
    let (up, pidfile) = (fx.path("up"), fx.path("d.pid"));
    // What a crashed earlier run left behind: a pid file naming a dead process.
    let dead = dead_pid();
    std::fs::write(&pidfile, format!("{dead}\n")).unwrap();
    let line = format!("{PROG} daemonize-late {up} {pidfile} 300");
    fx.ctl(&[
        "attach",
        "daemon",
        "--cmd",
        &line,
        "--pidfile",
        &pidfile,
        "--restart",
    ]);
    follows(&fx, "daemon", || up_pids(&up).first().copied(), dead);
    let daemon = up_pids(&up)[0];
    assert_eq!(
        lines(&pidfile),
        [daemon.to_string()],
        "the daemon rewrote its pid file"
    );
    assert_eq!(fx.field("daemon", "Num Restarts").as_deref(), Some("0"));
    // The daemon is really watched: its death is recovered.
    kill9(daemon);
    wait_for("the restarted daemon", Duration::from_secs(8), || {
        up_pids(&up).len() == 2
    });
    let second = up_pids(&up)[1];
    follows(&fx, "daemon", || Some(second), daemon);
    assert_eq!(fx.field("daemon", "Num Restarts").as_deref(), Some("1"));
}

#[test]
fn l2_pid_file_naming_an_unrelated_process_is_ignored() {
    let fx = Fx::new();
    let (up, pidfile) = (fx.path("up"), fx.path("d.pid"));
    // A live process that is not the entity's: the test's own child.
    let other = helper(&["up", &fx.path("other")]);
    let unrelated = i64::from(other.0.id());
    wait_for("the unrelated process", Duration::from_secs(5), || {
        lines(&fx.path("other")).len() == 1
    });
    // The launcher writes the unrelated pid (fresh, but not its own), and
    // the daemon its real pid 300 ms later.
    let line = format!("{PROG} daemonize-late {up} {pidfile} 300 {unrelated}");
    fx.ctl(&["attach", "daemon", "--cmd", &line, "--pidfile", &pidfile]);
    follows(&fx, "daemon", || up_pids(&up).first().copied(), unrelated);
    assert_eq!(fx.field("daemon", "Num Restarts").as_deref(), Some("0"));
    assert!(
        std::path::Path::new(&format!("/proc/{unrelated}")).exists(),
        "the unrelated process was touched"
    );
}

#[test]
fn l2_no_valid_pid_file_after_the_window_is_a_death() {
    let fx = Fx::new();
    let (up, pidfile) = (fx.path("up"), fx.path("d.pid"));
    let dead = dead_pid();
    std::fs::write(&pidfile, format!("{dead}\n")).unwrap();
    // The daemon never writes its pid file: the stale one stays.
    let line = format!("{PROG} daemonize-late {up} {pidfile} -1");
    let attached = Instant::now();
    fx.ctl(&[
        "attach",
        "daemon",
        "--cmd",
        &line,
        "--pidfile",
        &pidfile,
        "--restart",
    ]);
    wait_for("the first daemon", Duration::from_secs(5), || {
        up_pids(&up).len() == 1
    });
    // The E8 window is 10 s (the contract's; no shorter one is allowed):
    // until it ends nothing is restarted and the dead pid is never shown.
    wait_for(
        "the start to count as a death",
        Duration::from_secs(25),
        || {
            assert_ne!(fx.pid("daemon"), dead, "the stale pid is watched");
            up_pids(&up).len() == 2
        },
    );
    let waited = attached.elapsed();
    assert!(
        waited >= Duration::from_millis(9_500),
        "restarted after {waited:?}, before the 10 s window ended"
    );
    // The restart runs first and its outcome is committed after it (D3).
    wait_for("the restart counted", Duration::from_secs(5), || {
        fx.field("daemon", "Num Restarts").as_deref() == Some("1")
    });
}

#[test]
fn l3_unrelated_child_of_the_agent_does_not_break_following() {
    let fx = Fx::new();
    // An unrelated child of the agent: an execute action's daemon, re-parented
    // to ham (the subreaper) when its launcher exits. It is no entity's.
    let holder = helper(&["up", &fx.path("holder")]);
    fx.ctl(&["attach", "holder", "--pid", &holder.0.id().to_string()]);
    fx.ctl(&["condition", "holder", "d", "death"]);
    let orphan_up = fx.path("orphan");
    fx.ctl(&[
        "action",
        "holder",
        "d",
        "spawn",
        "execute",
        "--cmd",
        &format!("{PROG} daemonize {orphan_up}"),
        "--donow",
    ]);
    wait_for("the unrelated child", Duration::from_secs(5), || {
        up_pids(&orphan_up).len() == 1
    });
    let orphan = up_pids(&orphan_up)[0];
    wait_for(
        "it to be re-parented to ham",
        Duration::from_secs(5),
        || {
            std::fs::read_to_string(format!("/proc/{orphan}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                })
                == Some(fx.ham.pid())
        },
    );

    let up = fx.path("up");
    let line = format!("{PROG} daemonize {up}");
    fx.ctl(&["attach", "daemon", "--cmd", &line, "--restart"]);
    follows(&fx, "daemon", || up_pids(&up).first().copied(), orphan);
    let daemon = up_pids(&up)[0];
    kill9(daemon);
    wait_for("the restarted daemon", Duration::from_secs(5), || {
        up_pids(&up).len() == 2
    });
    let second = up_pids(&up)[1];
    follows(&fx, "daemon", || Some(second), orphan);
    // No storm: one death, one restart, also a while later.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fx.field("daemon", "Num Restarts").as_deref(), Some("1"));
    assert_eq!(up_pids(&up).len(), 2);
    assert!(std::path::Path::new(&format!("/proc/{orphan}")).exists());
}
