//! One atomic attach (HAM-CONTRACT L6): the entity, its options and its
//! conditions with their actions exist before its process starts, or
//! nothing does.

use super::*;
use ham_client::attach::{self as parts, Attach};

/// A line that fails at once on its first start and stays up from its
/// second: a process that dies before any later call could reach the HAM.
fn fails_first(file: &str) -> String {
    format!(
        "/bin/sh -c 'echo $HAM_INSTANCE >> {file}; [ $HAM_INSTANCE -ge 2 ] && exec /bin/sleep 30; exit 1'"
    )
}

fn instances(file: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

async fn wait_until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if f().await {
            return;
        }
        tokio::time::sleep(ms(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn restart_on_death(line: &str) -> pb::AttachCondition {
    pb::AttachCondition {
        actions: vec![parts::restart("restart", line, REARM)],
        ..parts::condition("death", ConditionType::Death, REARM)
    }
}

#[tokio::test]
async fn l6_process_that_exits_at_once_is_restarted_by_its_conditions() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let file = n.dir.path().join("starts");
        let line = fails_first(&file.display().to_string());
        let spec = Attach::start(&line).with(restart_on_death(&line));
        let h = c.attach_with(L, "quick", &spec).await.unwrap();
        assert_eq!(h.entity, "quick");
        wait_until("the restart after the first exit", async || {
            instances(&file) == ["1", "2"]
        })
        .await;
        wait_until("the outcome in the tree", async || {
            entity(&c, "quick").await.stats.unwrap().restarts == 1
        })
        .await;
        let e = entity(&c, "quick").await;
        assert!(e.pid > 0);
        assert_eq!(e.stats.unwrap().last_exit_code, 1);
    })
    .await;
}

#[tokio::test]
async fn l6_invalid_part_refuses_the_whole_call_and_starts_nothing() {
    let n = node();
    within(async {
        let c = n.ham.client().await;
        let marker = n.dir.path().join("started");
        let line = format!(
            "/bin/sh -c 'echo x >> {}; exec /bin/sleep 30'",
            marker.display()
        );
        let good = || Attach::start(&line).with(restart_on_death(&line));

        let mut bad_action = good();
        bad_action.conditions[0]
            .actions
            .push(parts::execute("alarm", "relative/alarm", 0, 0));
        let mut bad_fail = good();
        bad_fail.conditions[0].actions[0]
            .fail_actions
            .push(pb::AttachActionFail {
                name: "again".into(),
                flags: 0,
                kind: None,
            });
        let bad_condition = good().with(parts::condition("", ConditionType::Detach, 0));
        let twice = good().with(restart_on_death(&line));
        let mut bad_type = good();
        bad_type.conditions[0].condition_type = 0;
        let mut bad_option = good();
        bad_option.process.cwd = Some("relative".into());
        let mut bad_user = good();
        bad_user.process.user = Some("no-such-user-of-ham-tests".into());
        for (spec, want, names) in [
            (
                bad_action,
                Errno::Einval,
                "condition \"death\", action \"alarm\": ",
            ),
            (
                bad_fail,
                Errno::Einval,
                "condition \"death\", action \"restart\", action-fail \"again\": ",
            ),
            (bad_condition, Errno::Einval, "condition \"\": "),
            (twice, Errno::Eexist, "condition \"death\": "),
            (bad_type, Errno::Einval, "condition \"death\": "),
            (bad_option, Errno::Einval, "working directory"),
            (bad_user, Errno::Einval, "no user"),
        ] {
            let e = errno(c.attach_with(L, "svc", &spec).await, want);
            assert!(e.message.contains(names), "{e}");
            // Nothing was created.
            errno(c.entity_handle(L, "svc").await, Errno::Enoent);
        }
        // Nothing was started either: a good call starts its process at once
        // and answers after it started, so by then a refused one would have too.
        c.attach_with(L, "svc", &good()).await.unwrap();
        wait_until("the good call's start", async || {
            instances(&marker).len() == 1
        })
        .await;
        tokio::time::sleep(ms(200)).await;
        assert_eq!(
            instances(&marker).len(),
            1,
            "a refused attach started its process"
        );
    })
    .await;
}

#[test]
fn l6_hamctrl_attach_restart_is_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    // Several entities, each exiting at once: with a condition added by a
    // later call, the death would come first and remove the entity.
    let files: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("starts{i}")))
        .collect();
    for (i, file) in files.iter().enumerate() {
        let line = fails_first(&file.display().to_string());
        let out = ham.hamctrl(&["attach", &format!("quick{i}"), "--cmd", &line, "--restart"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let start = Instant::now();
    while files.iter().any(|f| instances(f) != ["1", "2"]) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not all restarted: {:?}",
            files.iter().map(|f| instances(f)).collect::<Vec<_>>()
        );
        std::thread::sleep(ms(10));
    }
    let ls = String::from_utf8_lossy(&ham.hamctrl(&["ls"]).stdout).into_owned();
    for i in 0..3 {
        assert!(ls.contains(&format!("quick{i}/")), "{ls}");
    }
}
