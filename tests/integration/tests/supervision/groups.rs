//! An entity is all its processes (L1): what a killed main process leaves
//! (workers holding its port, a daemon that left the process group) is
//! stopped before the restart; kill mode `process` leaves it running.

use super::fixture::*;

pub const STOPPROG: &str = env!("CARGO_BIN_EXE_ham-stopprog");

/// Whether `pid` runs (a zombie holds nothing and does not count).
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.get(s.rfind(')')? + 2..)?.to_string();
            Some(!rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .unwrap_or(false)
}

/// The numbers of line `n` of a program's output file.
pub fn numbers(path: &str, n: usize) -> Vec<i64> {
    lines(path)[n]
        .split(' ')
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The process group of `pid`.
fn pgid(pid: i64) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(2).unwrap().parse().unwrap()
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether this daemon found a usable cgroup hierarchy (it logs which at start).
fn has_cgroups(fx: &Fx) -> bool {
    !fx.ham.log_text().contains("no usable cgroup hierarchy")
}

#[test]
fn l1_killed_master_takes_its_workers_and_the_new_master_binds() {
    let fx = Fx::new();
    let out = fx.path("out");
    let port = free_port();
    fx.ctl(&[
        "attach",
        "web",
        "--cmd",
        &format!("{STOPPROG} nginx {port} {out}"),
        "--restart",
    ]);
    wait_for(
        "the first master and its workers",
        Duration::from_secs(5),
        || lines(&out).len() == 1,
    );
    for kill in 1..=5 {
        let before = numbers(&out, kill - 1);
        let (master, workers) = (before[0], [before[2], before[3]]);
        assert_eq!(before[1], kill as i64, "instance of start {kill}");
        assert!(workers.iter().all(|&w| alive(w)), "workers run: {before:?}");
        kill9(master);
        wait_for("the next master", Duration::from_secs(10), || {
            lines(&out).len() > kill
        });
        // The new master wrote its line only after binding the port, which the
        // old workers held: they were gone before it ran.
        let after = &lines(&out)[kill];
        assert!(!after.starts_with("bind-failed"), "{after}");
        for w in workers {
            assert!(!alive(w), "worker {w} of the killed master survived");
        }
        wait_for("the restart in the tree", Duration::from_secs(5), || {
            fx.field("web", "Num Restarts") == Some(kill.to_string())
        });
    }
    // Exactly one restart per kill: no extra start came after the last one.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&out).len(), 6, "{:?}", lines(&out));
    assert_eq!(fx.field("web", "Num Restarts").as_deref(), Some("5"));
}

#[test]
fn l1_setsid_escapee_is_stopped_through_the_cgroup() {
    let fx = Fx::new();
    if !has_cgroups(&fx) {
        eprintln!("skipped: this node has no usable cgroup hierarchy (see the ham log)");
        return;
    }
    let out = fx.path("out");
    fx.ctl(&[
        "attach",
        "esc",
        "--cmd",
        &format!("{STOPPROG} forker {out} escape"),
        "--restart",
    ]);
    wait_for("the first start", Duration::from_secs(5), || {
        lines(&out).len() == 1
    });
    let first = numbers(&out, 0);
    let (main, escapee) = (first[0], first[2]);
    assert_ne!(
        pgid(escapee),
        pgid(main),
        "the child left the process group"
    );
    kill9(main);
    wait_for("the restart", Duration::from_secs(10), || {
        lines(&out).len() == 2
    });
    assert!(
        !alive(escapee),
        "the escapee {escapee} outlived its entity's main process"
    );
}

#[test]
fn l1_kill_mode_process_leaves_the_rest_running() {
    let fx = Fx::new();
    let out = fx.path("out");
    fx.ctl(&[
        "attach",
        "solo",
        "--cmd",
        &format!("{STOPPROG} forker {out}"),
        "--restart",
        "--kill-mode",
        "process",
    ]);
    wait_for("the first start", Duration::from_secs(5), || {
        lines(&out).len() == 1
    });
    let first = numbers(&out, 0);
    let (main, child) = (first[0], first[2]);
    assert_eq!(pgid(child), pgid(main), "the child is in the group");
    assert!(fx.info("solo").contains("Kill Mode : process"));
    kill9(main);
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&out).len() == 2
    });
    assert!(alive(child), "kill mode process stopped the child");
    // The daemon's drop kills what is left.
}
