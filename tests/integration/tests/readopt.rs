//! E11: a `ham` that starts again (after a crash or a kill) watches every
//! process the state says runs on its node, by pid and start time; recovers
//! the ones that died while it was down; and adopts, never duplicates, a
//! start that was in flight when it died.

use ham_integration_tests::{HamProcess, lines, wait_for};
use std::process::Command;
use std::time::Duration;

const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");

struct Fx {
    dir: tempfile::TempDir,
    ham: HamProcess,
}

impl Fx {
    fn new() -> Fx {
        Fx::with(&[])
    }

    fn with(extra: &[&str]) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let ham = HamProcess::start_with(dir.path(), extra);
        Fx { dir, ham }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn ctl(&self, args: &[&str]) -> String {
        self.ham.hamctrl_ok(args)
    }

    fn field(&self, entity: &str, name: &str) -> Option<String> {
        let info = self.ctl(&["cat", &format!("{entity}/.info")]);
        info.lines().find_map(|l| {
            l.split_once(" : ")
                .filter(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        })
    }

    fn pid(&self, entity: &str) -> u32 {
        self.field(entity, "Entity Pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Attaches `name` running `up FILE` with a restart action; waits for its first start.
    fn attach_up(&self, name: &str) -> String {
        let up = self.path(name);
        self.ctl(&[
            "attach",
            name,
            "--cmd",
            &format!("{PROG} up {up}"),
            "--restart",
        ]);
        wait_for("the first start", Duration::from_secs(5), || {
            lines(&up).len() == 1
        });
        wait_for("the pid in the tree", Duration::from_secs(5), || {
            self.pid(name) > 0
        });
        up
    }
}

fn kill9(pid: u32) {
    let _ = Command::new("/bin/kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The pids of every live process running `up FILE` (by its command line).
fn running_up(file: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.len() >= 3 && args[1] == b"up" && args[2] == file.as_bytes() && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Kills, when the test ends, every process still running `up FILE` for these files: a
/// process adopted by a later `ham` is no descendant of it.
struct Reap(Vec<String>);

impl Drop for Reap {
    fn drop(&mut self) {
        for file in &self.0 {
            running_up(file).into_iter().for_each(kill9);
        }
    }
}

#[test]
fn e11_restarted_ham_watches_its_processes_again() {
    let mut fx = Fx::new();
    let _reap = Reap(["s1", "s2", "s3"].iter().map(|n| fx.path(n)).collect());
    let ups: Vec<(String, String)> = ["s1", "s2", "s3"]
        .iter()
        .map(|n| (n.to_string(), fx.attach_up(n)))
        .collect();
    fx.ham.restart();
    // The same processes, watched again: nothing was restarted by the restart of ham.
    for (name, up) in &ups {
        assert_eq!(lines(up).len(), 1, "{name} was not started again");
        assert_eq!(fx.field(name, "Num Restarts").as_deref(), Some("0"));
    }
    for (name, up) in &ups {
        let pid = fx.pid(name);
        kill9(pid);
        wait_for(
            &format!("{name} restarted after the restart of ham"),
            Duration::from_secs(5),
            || lines(up).len() == 2,
        );
        wait_for("the outcome in the tree", Duration::from_secs(5), || {
            fx.field(name, "Num Restarts").as_deref() == Some("1")
        });
        assert_ne!(fx.pid(name), pid);
        assert_eq!(running_up(up).len(), 1, "one copy of {name}");
    }
}

#[test]
fn e11_process_killed_while_ham_was_down_is_restarted_when_it_returns() {
    let mut fx = Fx::new();
    let _reap = Reap(vec![fx.path("svc")]);
    let up = fx.attach_up("svc");
    let pid = fx.pid("svc");
    fx.ham.kill9();
    kill9(pid);
    wait_for("the process gone", Duration::from_secs(5), || !alive(pid));
    fx.ham.launch();
    // Recovered as a death at once: its restart ran before ham reported ready, or just after.
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    wait_for("the outcome in the tree", Duration::from_secs(5), || {
        fx.field("svc", "Num Restarts").as_deref() == Some("1")
    });
    let new_pid = fx.pid("svc");
    assert_ne!(new_pid, pid);
    assert_eq!(running_up(&up), vec![new_pid]);
}

/// Makes the next process on the machine get `pid`, through `ns_last_pid`
/// (other processes may take it first: retried, bounded). Returns the child.
fn spawn_with_pid(pid: u32) -> Option<std::process::Child> {
    // Until its parent (init, once ham is gone) has reaped it, the number is taken.
    let gone = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        if gone.elapsed() > Duration::from_secs(5) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..50 {
        if std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).is_err() {
            return None;
        }
        let child = Command::new("/bin/sleep").arg("1000").spawn().ok()?;
        if child.id() == pid {
            return Some(child);
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[test]
fn e11_a_reused_pid_is_not_taken_for_the_old_process() {
    let mut fx = Fx::new();
    let _reap = Reap(vec![fx.path("svc")]);
    let up = fx.attach_up("svc");
    let pid = fx.pid("svc");
    fx.ham.kill9();
    kill9(pid);
    wait_for("the process gone", Duration::from_secs(5), || !alive(pid));
    let Some(mut impostor) = spawn_with_pid(pid) else {
        eprintln!("skipped: could not make a process reuse pid {pid} (ns_last_pid)");
        return;
    };
    fx.ham.launch();
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    wait_for("the new pid in the tree", Duration::from_secs(5), || {
        let p = fx.pid("svc");
        p != 0 && p != pid
    });
    // The impostor is not watched: killing it is no death of the entity.
    let _ = impostor.kill();
    let _ = impostor.wait();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&up).len(), 2, "no restart for the impostor's death");
    assert_eq!(fx.field("svc", "Num Restarts").as_deref(), Some("1"));
}

#[test]
fn e11_crash_between_spawn_and_commit_leaves_exactly_one_process() {
    // The failpoint makes ham abort right after it spawned the first process of
    // an entity, before the pid is proposed.
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::prepare(
        dir.path(),
        "127.0.0.1:0",
        "testnode",
        None,
        &["--failpoint", "abort-after-spawn"],
    );
    ham.launch();
    let up = dir.path().join("svc").display().to_string();
    let _reap = Reap(vec![up.clone()]);
    // Its recovery exists before the process does (a placeholder filled by the attach, E5).
    let cmd = format!("{PROG} up {up}");
    ham.hamctrl_ok(&["entity", "svc"]);
    ham.hamctrl_ok(&["condition", "svc", "death", "death", "--rearm"]);
    ham.hamctrl_ok(&[
        "action", "svc", "death", "restart", "restart", "--cmd", &cmd, "--rearm",
    ]);
    let _ = ham.hamctrl(&["attach", "svc", "--cmd", &cmd]);
    // Killed by SIGABRT: no exit code.
    wait_for("the failpoint to stop ham", Duration::from_secs(10), || {
        !ham.is_running()
    });
    wait_for("the first start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    let first: u32 = lines(&up)[0].split(' ').next().unwrap().parse().unwrap();
    // Same data, no failpoint.
    let mut again = HamProcess::prepare(dir.path(), "127.0.0.1:0", "testnode", None, &[]);
    again.launch();
    let pid_in_tree = || -> u32 {
        let info = again.hamctrl_ok(&["cat", "svc/.info"]);
        info.lines()
            .find_map(|l| l.strip_prefix("Entity Pid"))
            .and_then(|v| v.trim_start_matches([' ', ':']).trim().parse().ok())
            .unwrap_or(0)
    };
    wait_for(
        "the adopted pid in the tree",
        Duration::from_secs(5),
        || pid_in_tree() == first,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&up).len(), 1, "not started a second time");
    assert_eq!(running_up(&up), vec![first]);
    // And it is watched: its death is recovered.
    kill9(first);
    wait_for("the restart", Duration::from_secs(5), || {
        lines(&up).len() == 2
    });
    assert_eq!(running_up(&up).len(), 1);
    // The process the aborted ham had started is killed with the test.
    drop(ham);
}
