//! Restart pacing (L4): immediate restarts for the burst, then a doubling
//! delay, reset once a process stays up for the window; per-entity settings
//! and the delay in `.info`. Timings are checked against the rule itself
//! (`ham_core::model::next_restart`), from the start times the processes
//! recorded, with room for a loaded machine above the delay and none below.

use super::fixture::*;
use ham_core::model::{Pacing, PacingHistory, PacingPolicy, next_restart};

/// How late a restart may come after its delay on a busy machine.
const LATE: u128 = 250 * MS;

fn policy(burst: u32, window_ms: u64, min_ms: u64, max_ms: u64) -> PacingPolicy {
    PacingPolicy {
        burst,
        window_ns: window_ms * 1_000_000,
        min_delay_ns: min_ms * 1_000_000,
        max_delay_ns: max_ms * 1_000_000,
        off: false,
    }
}

/// Checks each gap between starts against the rule: the process at start i
/// died right after it recorded its start (it was up for ~0), so restart i+1
/// waits what `next_restart` says for a death at that time.
fn check_against_rule(p: &PacingPolicy, starts: &[u128]) -> Vec<u64> {
    let mut h = PacingHistory::default();
    let mut delays = Vec::new();
    for w in starts.windows(2) {
        let at = i64::try_from(w[0]).unwrap();
        let paced = next_restart(p, &h, at, at);
        h = paced.history;
        let delay = match paced.pacing {
            Pacing::Immediate => 0,
            Pacing::After(ns) => ns,
        };
        let gap = w[1] - w[0];
        assert!(
            gap >= u128::from(delay),
            "restart after {} ms, before its {} ms delay (starts {starts:?})",
            gap / MS,
            delay / 1_000_000
        );
        assert!(
            gap <= u128::from(delay) + LATE,
            "restart after {} ms, long after its {} ms delay",
            gap / MS,
            delay / 1_000_000
        );
        delays.push(delay / 1_000_000);
    }
    delays
}

/// Attaches a program that dies at once, restarted whenever it dies, with
/// the pacing flags `pacing`. Its condition and restart action exist before
/// it starts (on a placeholder the attach fills), so its first death is
/// already recovered.
fn attach_restarted(fx: &Fx, name: &str, line: &str, pacing: &[&str]) {
    fx.ctl(&["entity", name]);
    fx.ctl(&["condition", name, "death", "death", "--rearm"]);
    fx.ctl(&[
        "action", name, "death", "restart", "restart", "--cmd", line, "--rearm",
    ]);
    let mut args = vec!["attach", name, "--cmd", line];
    args.extend_from_slice(pacing);
    fx.ctl(&args);
}

#[test]
fn l4_crash_loop_is_immediate_for_the_burst_then_doubles() {
    let fx = Fx::new();
    let out = fx.path("starts");
    let line = format!("{PROG} crashloop {out} 3");
    attach_restarted(&fx, "loop", &line, &[]);
    // 1 start + 5 immediate restarts + 4 paced ones (100 + 200 + 400 + 800 ms).
    wait_for("ten starts", Duration::from_secs(15), || {
        stamps(&out).len() >= 10
    });
    let starts = &stamps(&out)[..10];
    let delays = check_against_rule(&PacingPolicy::default(), starts);
    assert_eq!(
        delays,
        [0, 0, 0, 0, 0, 100, 200, 400, 800],
        "the rule's own curve"
    );
    fx.ctl(&["detach", "loop"]);
}

#[test]
fn l4_delay_resets_after_window_up() {
    let fx = Fx::new();
    let out = fx.path("starts");
    // Three starts die, the fourth stays up.
    let line = format!("{PROG} crash-until {out} 4");
    attach_restarted(
        &fx,
        "svc",
        &line,
        &[
            "--pacing-burst",
            "1",
            "--pacing-window-ms",
            "1000",
            "--pacing-min-delay-ms",
            "500",
            "--pacing-max-delay-ms",
            "4000",
        ],
    );
    wait_for("four starts", Duration::from_secs(10), || {
        lines(&out).len() == 4
    });
    let starts: Vec<u128> = lines(&out)
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    let delays = check_against_rule(&policy(1, 1000, 500, 4000), &starts);
    assert_eq!(delays, [0, 500, 1000]);
    // Up for longer than the window: the delay shown is back to 0 ...
    std::thread::sleep(Duration::from_millis(1_300));
    assert_eq!(fx.field("svc", "Restart Delay").as_deref(), Some("0 ms"));
    // ... and the next death is restarted at once, not after 2000 ms.
    let up: i64 = lines(&out)[3].split(' ').next().unwrap().parse().unwrap();
    let killed = Instant::now();
    kill9(up);
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&out).len() == 5
    });
    let took = killed.elapsed();
    assert!(
        took < Duration::from_millis(400),
        "restart took {took:?} after the delay should have reset"
    );
}

#[test]
fn l4_pacing_off_restarts_at_once() {
    let fx = Fx::new();
    let out = fx.path("starts");
    let line = format!("{PROG} crashloop {out} 3");
    attach_restarted(&fx, "loop", &line, &["--pacing-off"]);
    assert_eq!(fx.field("loop", "Restart Pacing").as_deref(), Some("OFF"));
    // Far past the default burst, every restart comes at once.
    wait_for("fifteen starts", Duration::from_secs(10), || {
        stamps(&out).len() >= 15
    });
    fx.ctl(&["detach", "loop"]);
    let starts = stamps(&out);
    for w in starts.windows(2) {
        assert!(
            w[1] - w[0] < LATE,
            "a restart waited {} ms with pacing off",
            (w[1] - w[0]) / MS
        );
    }
}

fn pacing_of(fx: &Fx, name: &str) -> pb::PacingInfo {
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let tree = ham
            .tree(ham_client::NodeSel::Local, name, "", "", false)
            .await
            .unwrap();
        tree.entities[0].pacing.unwrap()
    })
}

#[test]
fn l4_info_shows_delay_and_next_restart() {
    let fx = Fx::new();
    let out = fx.path("starts");
    let line = format!("{PROG} crashloop {out} 3");
    attach_restarted(
        &fx,
        "loop",
        &line,
        &[
            "--pacing-burst",
            "1",
            "--pacing-min-delay-ms",
            "3000",
            "--pacing-max-delay-ms",
            "3000",
        ],
    );
    // The first death is restarted at once, the second waits 3 s.
    wait_for("two starts", Duration::from_secs(5), || {
        stamps(&out).len() == 2
    });
    wait_for(
        "the pending restart in .info",
        Duration::from_secs(2),
        || fx.field("loop", "Next Restart").is_some(),
    );
    assert_eq!(
        fx.field("loop", "Restart Delay").as_deref(),
        Some("3000 ms")
    );
    let p = pacing_of(&fx, "loop");
    assert_eq!(
        (p.burst, p.min_delay_ms, p.max_delay_ms, p.window_ms),
        (1, 3000, 3000, 10_000)
    );
    let second = stamps(&out)[1];
    let next = u128::try_from(p.next_restart_ns).unwrap();
    assert!(
        next >= second + 3_000 * MS && next <= second + 3_000 * MS + LATE,
        "next restart {next} is not 3 s after the death at {second}"
    );
    wait_for("the paced restart", Duration::from_secs(6), || {
        stamps(&out).len() == 3
    });
    let third = stamps(&out)[2];
    assert!(third >= next, "restarted before the time .info showed");
    // The third death is paced again; detaching cancels its restart.
    wait_for("the next pending restart", Duration::from_secs(2), || {
        pacing_of(&fx, "loop").next_restart_ns > p.next_restart_ns
    });
    fx.ctl(&["detach", "loop"]);
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(stamps(&out).len(), 3, "a detached entity was restarted");
}

#[test]
fn l4_a_crash_loop_stays_paced_across_a_restart_of_ham() {
    let mut fx = Fx::new();
    let out = fx.path("starts");
    let line = format!("{PROG} crashloop {out} 3");
    attach_restarted(
        &fx,
        "loop",
        &line,
        &[
            "--pacing-burst",
            "1",
            "--pacing-min-delay-ms",
            "2000",
            "--pacing-max-delay-ms",
            "2000",
        ],
    );
    // The first death is restarted at once (its outcome commits), the second waits 2 s.
    wait_for("two starts", Duration::from_secs(5), || {
        stamps(&out).len() == 2
    });
    wait_for("the pending restart", Duration::from_secs(2), || {
        fx.field("loop", "Next Restart").is_some()
    });
    // ham dies during the delay; the one that comes back finds the process
    // gone and recovers it as a death (E11), paced from the deaths the
    // replicated state recorded, not at once as a first death would be.
    fx.ham.restart();
    wait_for("the restart after ham's", Duration::from_secs(10), || {
        stamps(&out).len() == 3
    });
    // Only a death this new agent decided sets what `.info` shows: a
    // forgotten history would have restarted at once (delay 0).
    let p = pacing_of(&fx, "loop");
    assert_eq!(p.delay_ms, 2000, "the crash loop's pacing was forgotten");
    fx.ctl(&["detach", "loop"]);
}
