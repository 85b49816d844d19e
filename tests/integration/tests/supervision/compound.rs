//! Compound restarts: restart, waitfor and execute in order, independent
//! conditions, break-on-fail (K9, K8, A11).

use super::fixture::*;

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
