//! Restarts after a death: the new pid, stats and instance number, death
//! by a core signal, removal of dead entities, and crash loops (A3, S3, K2,
//! E7, K4).

use super::fixture::*;

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
fn a3_crash_loop_restarts_every_time_without_agent_growth() {
    let fx = Fx::new();
    let up = fx.path("up");
    fx.ctl(&[
        "attach",
        "loop",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
        // 200 deaths in a row measure the restart path, not pacing (L4).
        "--pacing-off",
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
