//! Local supervision with real processes: the guide's examples (simple and
//! compound restart, notifications, the heartbeating deadlock, a daemonizing
//! program, an sd_notify watchdog program) and the clauses they rest on.

use ham_client::proto as pb;
use ham_integration_tests::{HamProcess, lines, wait_for};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");
const MS: u128 = 1_000_000;

/// A daemon in its own temporary directory, plus file helpers.
struct Fx {
    dir: tempfile::TempDir,
    ham: HamProcess,
}

impl Fx {
    fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let ham = HamProcess::start(dir.path());
        Fx { dir, ham }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn ctl(&self, args: &[&str]) -> String {
        self.ham.hamctrl_ok(args)
    }

    fn info(&self, path: &str) -> String {
        self.ctl(&["cat", &format!("{path}/.info")])
    }

    fn field(&self, path: &str, name: &str) -> Option<String> {
        let info = self.info(path);
        info.lines().find_map(|l| {
            l.split_once(" : ")
                .filter(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        })
    }

    fn pid(&self, entity: &str) -> i64 {
        self.field(entity, "Entity Pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    fn entities(&self) -> Vec<String> {
        self.ctl(&["ls"])
            .lines()
            .filter(|l| l.ends_with('/'))
            .map(|l| l.trim_end_matches('/').to_string())
            .collect()
    }

    fn notify_socket(&self) -> PathBuf {
        self.ham.data_dir.join("notify.sock")
    }

    fn rt(&self) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

fn stamps(path: &str) -> Vec<u128> {
    lines(path).iter().filter_map(|l| l.parse().ok()).collect()
}

fn kill9(pid: i64) {
    let status = Command::new("/bin/kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

/// A child process of the test, killed when dropped.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn helper(args: &[&str]) -> Helper {
    Helper(Command::new(PROG).args(args).spawn().unwrap())
}

#[test]
fn a3_simple_restart_records_new_pid_stats_and_instance() {
    let fx = Fx::new();
    let up = fx.path("up");
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
    ]);
    wait_for("the first start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    let first: Vec<String> = lines(&up)[0].split(' ').map(String::from).collect();
    assert_eq!(first[1], "1", "HAM_INSTANCE of the first start (S3)");
    assert_eq!(fx.pid("svc").to_string(), first[0]);

    kill9(fx.pid("svc"));
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    let second: Vec<String> = lines(&up)[1].split(' ').map(String::from).collect();
    assert_eq!(second[1], "2", "HAM_INSTANCE after one restart (S3)");
    wait_for("the outcome in the tree", Duration::from_secs(5), || {
        fx.field("svc", "Num Restarts").as_deref() == Some("1")
    });
    assert_eq!(fx.pid("svc").to_string(), second[0]);
    let info = fx.info("svc");
    assert!(
        info.contains("Last Death :") && info.contains("Restarted :"),
        "{info}"
    );
}

#[test]
fn s3_instance_number_grows_with_each_restart() {
    let fx = Fx::new();
    let up = fx.path("up");
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
    ]);
    for n in 1..=3 {
        wait_for("a start", Duration::from_secs(5), || lines(&up).len() == n);
        let instance = lines(&up)[n - 1].split(' ').nth(1).unwrap().to_string();
        assert_eq!(instance, n.to_string());
        let pid = lines(&up)[n - 1]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        wait_for("the pid in the tree", Duration::from_secs(5), || {
            fx.pid("svc") == pid
        });
        kill9(pid);
    }
}

#[test]
fn k9_compound_restart_runs_restart_waitfor_execute_in_order() {
    let fx = Fx::new();
    let (up, mark) = (fx.path("up"), fx.path("mark"));
    let line = format!("{PROG} up {up}");
    fx.ctl(&["attach", "nfs", "--cmd", &line]);
    fx.ctl(&["condition", "nfs", "Death", "death", "--rearm"]);
    fx.ctl(&[
        "action", "nfs", "Death", "Restart", "restart", "--cmd", &line, "--rearm",
    ]);
    fx.ctl(&[
        "action",
        "nfs",
        "Death",
        "Delay1",
        "waitfor",
        "--delay-ms",
        "300",
        "--rearm",
    ]);
    fx.ctl(&[
        "action",
        "nfs",
        "Death",
        "Mount1",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
        "--wait",
        "--rearm",
    ]);
    fx.ctl(&[
        "action",
        "nfs",
        "Death",
        "Delay2",
        "waitfor",
        "--delay-ms",
        "200",
        "--rearm",
    ]);
    fx.ctl(&[
        "action",
        "nfs",
        "Death",
        "Mount2",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
        "--rearm",
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    kill9(fx.pid("nfs"));
    wait_for("both mounts", Duration::from_secs(5), || {
        stamps(&mark).len() == 2
    });
    let restarted: u128 = lines(&up)[1].split(' ').nth(2).unwrap().parse().unwrap();
    let m = stamps(&mark);
    // Restart first; then 300 ms; then the first mount; then 200 ms; then the second.
    assert!(m[0] > restarted, "the execute ran before the restart");
    let gap1 = (m[0] - restarted) / MS;
    let gap2 = (m[1] - m[0]) / MS;
    assert!(
        (280..2000).contains(&gap1),
        "restart -> mount1 took {gap1} ms, want about 300"
    );
    assert!(
        (190..2000).contains(&gap2),
        "mount1 -> mount2 took {gap2} ms, want about 200"
    );
}

#[test]
fn k8_independent_condition_not_delayed_by_waitfor_in_another() {
    let fx = Fx::new();
    let (up, sigs, pulses) = (fx.path("up"), fx.path("signals"), fx.path("pulses"));
    let socket = fx.ham.socket.display().to_string();
    let sig_rx = helper(&["signals", &sigs]);
    let pulse_rx = helper(&["pulses", &socket, "3", &pulses]);
    wait_for("receivers ready", Duration::from_secs(5), || {
        lines(&sigs).len() == 1 && lines(&pulses).len() == 1
    });
    let (sig_pid, pulse_pid) = (sig_rx.0.id().to_string(), pulse_rx.0.id().to_string());

    fx.ctl(&["attach", "victim", "--cmd", &format!("{PROG} up {up}")]);
    // Shared executor: a long wait, then a signal (SIGUSR1 = 10, value 42).
    fx.ctl(&["condition", "victim", "slow", "death"]);
    fx.ctl(&[
        "action",
        "victim",
        "slow",
        "wait",
        "waitfor",
        "--delay-ms",
        "800",
    ]);
    fx.ctl(&[
        "action", "victim", "slow", "late", "signal", "--pid", &sig_pid, "--signum", "10",
        "--value", "42",
    ]);
    // Its own executor: a pulse right away.
    fx.ctl(&["condition", "victim", "fast", "death", "--independent"]);
    fx.ctl(&[
        "action", "victim", "fast", "tell", "pulse", "--pid", &pulse_pid, "--chid", "3", "--code",
        "7", "--value", "99",
    ]);
    // The no-wait executor: another signal (SIGUSR2 = 12, value 5).
    fx.ctl(&["condition", "victim", "quick", "death", "--nowait"]);
    fx.ctl(&[
        "action", "victim", "quick", "early", "signal", "--pid", &sig_pid, "--signum", "12",
        "--value", "5",
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });

    let t0 = Instant::now();
    kill9(fx.pid("victim"));
    wait_for("the pulse", Duration::from_secs(5), || {
        lines(&pulses).len() == 2
    });
    let pulse_at = t0.elapsed();
    wait_for("the early signal", Duration::from_secs(5), || {
        lines(&sigs).len() >= 2
    });
    let early_at = t0.elapsed();
    wait_for("the late signal", Duration::from_secs(5), || {
        lines(&sigs).len() == 3
    });
    let late_at = t0.elapsed();
    assert_eq!(lines(&pulses)[1], "7 99");
    let sig_lines = lines(&sigs);
    // si_code -1 is SI_QUEUE: sent by sigqueue with the value (A8).
    assert_eq!(sig_lines[1], "12 5 -1");
    assert_eq!(sig_lines[2], "10 42 -1");
    assert!(
        pulse_at < Duration::from_millis(500),
        "independent condition waited: {pulse_at:?}"
    );
    assert!(
        early_at < Duration::from_millis(500),
        "no-wait condition waited: {early_at:?}"
    );
    assert!(
        late_at >= Duration::from_millis(800),
        "the waitfor did not wait: {late_at:?}"
    );
}

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
fn a11_break_on_fail_skips_the_rest_of_the_condition() {
    let fx = Fx::new();
    let (up, kept, skipped) = (fx.path("up"), fx.path("kept"), fx.path("skipped"));
    fx.ctl(&["attach", "svc", "--cmd", &format!("{PROG} up {up}")]);
    fx.ctl(&["condition", "svc", "a", "death"]);
    fx.ctl(&[
        "action",
        "svc",
        "a",
        "fails",
        "execute",
        "--cmd",
        &format!("{PROG} exit 3"),
        "--wait",
        "--break-on-fail",
    ]);
    fx.ctl(&[
        "action",
        "svc",
        "a",
        "after",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {skipped}"),
    ]);
    fx.ctl(&["condition", "svc", "b", "death", "--independent"]);
    fx.ctl(&[
        "action",
        "svc",
        "b",
        "fails",
        "execute",
        "--cmd",
        &format!("{PROG} exit 3"),
        "--wait",
    ]);
    fx.ctl(&[
        "action",
        "svc",
        "b",
        "after",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {kept}"),
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    kill9(fx.pid("svc"));
    wait_for(
        "the condition without break-on-fail to go on",
        Duration::from_secs(5),
        || stamps(&kept).len() == 1,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        stamps(&skipped).is_empty(),
        "the action after a break-on-fail failure ran"
    );
}

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
fn k2_core_signal_triggers_abnormal_death_and_death() {
    let fx = Fx::new();
    let (abn, death) = (fx.path("abnormal"), fx.path("death"));
    for name in ["segv", "plain"] {
        fx.ctl(&["entity", name]);
        fx.ctl(&["condition", name, "abn", "abnormaldeath"]);
        fx.ctl(&[
            "action",
            name,
            "abn",
            "mark",
            "execute",
            "--cmd",
            &format!("{PROG} stamp {abn}.{name}"),
        ]);
        fx.ctl(&["condition", name, "any-death", "death"]);
        fx.ctl(&[
            "action",
            name,
            "any-death",
            "mark",
            "execute",
            "--cmd",
            &format!("{PROG} stamp {death}.{name}"),
        ]);
    }
    // SIGABRT (6): a core-dumping signal with no handler in the Rust runtime
    // (which catches SIGSEGV itself to detect stack overflows).
    fx.ctl(&["attach", "segv", "--cmd", &format!("{PROG} crash 6")]);
    fx.ctl(&["attach", "plain", "--cmd", &format!("{PROG} exit 3")]);
    wait_for("both deaths", Duration::from_secs(5), || {
        stamps(&format!("{death}.segv")).len() == 1 && stamps(&format!("{death}.plain")).len() == 1
    });
    wait_for("the abnormal death", Duration::from_secs(5), || {
        stamps(&format!("{abn}.segv")).len() == 1
    });
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        stamps(&format!("{abn}.plain")).is_empty(),
        "exit 3 counted as abnormal"
    );
}

#[test]
fn e7_dead_entity_is_removed_unless_keep_on_death() {
    let fx = Fx::new();
    fx.ctl(&[
        "attach",
        "gone",
        "--cmd",
        &format!("{PROG} up {}", fx.path("g")),
    ]);
    fx.ctl(&[
        "attach",
        "kept",
        "--cmd",
        &format!("{PROG} up {}", fx.path("k")),
        "--keep-on-death",
    ]);
    kill9(fx.pid("gone"));
    kill9(fx.pid("kept"));
    wait_for("the removal", Duration::from_secs(5), || {
        fx.entities() == ["kept"]
    });
    wait_for(
        "the kept entity's pid cleared",
        Duration::from_secs(5),
        || fx.pid("kept") == 0,
    );
}

#[test]
fn k4_restart_condition_triggers_after_the_restart() {
    let fx = Fx::new();
    let (up, mark) = (fx.path("up"), fx.path("mark"));
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
    ]);
    fx.ctl(&["condition", "svc", "again", "restart", "--rearm"]);
    fx.ctl(&[
        "action",
        "svc",
        "again",
        "mark",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
        "--rearm",
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        stamps(&mark).is_empty(),
        "RESTART triggered before any restart"
    );
    kill9(fx.pid("svc"));
    wait_for("the RESTART actions", Duration::from_secs(5), || {
        stamps(&mark).len() == 1
    });
    // The new process reports itself after exec, which may come after the action's stamp.
    wait_for("the restarted process", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    let restarted: u128 = lines(&up)[1].split(' ').nth(2).unwrap().parse().unwrap();
    // The new process was started before the RESTART action ran (its timestamp is
    // taken after exec, so allow it to come slightly after the action's).
    assert!(stamps(&mark)[0] + 50 * MS > restarted);
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

/// Attaches `argv` started by the HAM with a heartbeat promise (sd_notify watchdog).
fn attach_with_heartbeat(
    fx: &Fx,
    name: &str,
    line: &str,
    period_ms: u64,
    hpdl: u32,
    hpdh: u32,
) -> pb::EntityHandle {
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let req = pb::AttachRequest {
            node: None,
            name: name.into(),
            pid: -1,
            command_line: line.into(),
            flags: 0,
            pidfile: String::new(),
            period_ns: period_ms * 1_000_000,
            hpdl,
            hpdh,
        };
        ham.raw().attach(req).await.unwrap().into_inner()
    })
}

fn since_ns(fx: &Fx, name: &str) -> u128 {
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let tree = ham
            .tree(ham_client::NodeSel::Local, name, "", "", false)
            .await
            .unwrap();
        tree.entities[0].stats.as_ref().unwrap().since_ns as u128
    })
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
fn h3_missed_heartbeat_detected_promptly_after_the_boundary() {
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
    fx.ctl(&["action", "wd", "low", "rearm", "healthy"]);
    attach_with_heartbeat(&fx, "wd", &format!("{PROG} watchdog {stop}"), 50, 1, 1);
    std::fs::write(&stop, b"").unwrap();
    wait_for("several detections", Duration::from_secs(5), || {
        stamps(&mark).len() >= 5
    });
    let start = since_ns(&fx, "wd");
    let period = 50 * MS;
    // Each stamp is taken by a process the action started, after the boundary:
    // detection + fork/exec. On a loaded 2-core CI machine allow 25 ms; the
    // benchmark measures the real figure (docs/benchmarks.md).
    for s in stamps(&mark) {
        let late = (s - start) % period;
        assert!(late < 25 * MS, "stamp {} ms after its boundary", late / MS);
    }
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
fn a3_crash_loop_restarts_every_time_without_agent_growth() {
    let fx = Fx::new();
    let up = fx.path("up");
    fx.ctl(&[
        "attach",
        "loop",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
    ]);
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    };
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    // Warm up, then measure over 150 crashes.
    let mut n = 1;
    let crash = |n: &mut usize| {
        let pid: i64 = lines(&up)[*n - 1]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        kill9(pid);
        *n += 1;
        wait_for("a restart", Duration::from_secs(5), || {
            lines(&up).len() == *n
        });
    };
    for _ in 0..50 {
        crash(&mut n);
    }
    let before = rss(fx.ham.pid());
    for _ in 0..150 {
        crash(&mut n);
    }
    wait_for("all outcomes recorded", Duration::from_secs(10), || {
        fx.field("loop", "Num Restarts").as_deref() == Some("200")
    });
    let after = rss(fx.ham.pid());
    assert!(
        after < before + 4096,
        "agent RSS grew from {before} kB to {after} kB over 150 crashes"
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
