//! `hamctrl` against a running `ham`: the guide's fs-nfs2 tree, the tree
//! view, refusals with their errno, verbosity and stop.

use ham_integration_tests::HamProcess;
use std::time::Duration;

fn build_fs_nfs2(ham: &HamProcess) {
    let steps: &[&[&str]] = &[
        &[
            "attach",
            "Fs-nfs2",
            "--pid",
            "1",
            "--cmd",
            "/usr/sbin/fs-nfs2",
        ],
        &["condition", "Fs-nfs2", "Death", "death", "--rearm"],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Restart",
            "restart",
            "--cmd",
            "/usr/sbin/fs-nfs2",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Delay1",
            "waitfor",
            "--delay-ms",
            "2000",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "MountDir1",
            "execute",
            "--cmd",
            "/bin/mount -t nfs a.b.c.d:/dir1 /dir1",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Delay2",
            "waitfor",
            "--delay-ms",
            "2000",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "MountDir2",
            "execute",
            "--cmd",
            "/bin/mount -t nfs a.b.c.d:/dir2 /dir2",
            "--rearm",
        ],
    ];
    for step in steps {
        ham.hamctrl_ok(step);
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).collect()
}

#[test]
fn x5_fs_nfs2_tree_in_the_guide_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    build_fs_nfs2(&ham);

    assert_eq!(lines(&ham.hamctrl_ok(&["ls"])), [".info", "Fs-nfs2/"]);
    assert_eq!(
        lines(&ham.hamctrl_ok(&["ls", "Fs-nfs2"])),
        [".info", "Death/"]
    );
    assert_eq!(
        lines(&ham.hamctrl_ok(&["ls", "/ham/Fs-nfs2/Death"])),
        [
            ".info",
            "Restart",
            "Delay1",
            "MountDir1",
            "Delay2",
            "MountDir2"
        ]
    );
    let top = ham.hamctrl_ok(&["cat", ".info"]);
    for want in [
        format!("Ham Pid : {}", ham.pid()),
        "Node : testnode (id 1)".into(),
        "Leader : testnode (id 1)".into(),
        "Num Entities : 1".into(),
        "Num Conditions : 1".into(),
        "Num Actions : 5".into(),
    ] {
        assert!(
            top.lines().any(|l| l.trim_end() == want),
            "missing {want:?} in:\n{top}"
        );
    }
    let entity = ham.hamctrl_ok(&["cat", "Fs-nfs2/.info"]);
    for want in [
        "Path : Fs-nfs2",
        "Entity Pid : 1",
        "Num conditions : 1",
        "Entity type : ATTACHED",
        "Num Restarts : 0",
    ] {
        assert!(
            entity.lines().any(|l| l.trim_end() == want),
            "missing {want:?} in:\n{entity}"
        );
    }
    let cond = ham.hamctrl_ok(&["cat", "Fs-nfs2/Death/.info"]);
    assert_eq!(
        lines(&cond),
        [
            "Path : Fs-nfs2/Death",
            "Entity Pid : 1",
            "Num Actions : 5",
            "Condition ReArm : ON",
            "Condition type : CONDDEATH"
        ]
    );
    let restart = ham.hamctrl_ok(&["cat", "Fs-nfs2/Death/Restart"]);
    assert!(
        restart.contains("Restart Line : /usr/sbin/fs-nfs2"),
        "{restart}"
    );
    assert!(restart.contains("Action ReArm : ON"), "{restart}");
}

#[test]
fn a2_second_restart_and_k7_waitfor_on_nowait_are_refused_with_errno() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    build_fs_nfs2(&ham);
    let out = ham.hamctrl(&[
        "action",
        "Fs-nfs2",
        "Death",
        "Again",
        "restart",
        "--cmd",
        "/usr/sbin/fs-nfs2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EEXIST"),
        "{out:?}"
    );

    ham.hamctrl_ok(&["condition", "Fs-nfs2", "Quick", "death", "--nowait"]);
    let out = ham.hamctrl(&[
        "action",
        "Fs-nfs2",
        "Quick",
        "Wait",
        "waitfor",
        "--delay-ms",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EINVAL"),
        "{out:?}"
    );
    // Nothing was added by the refused calls.
    assert_eq!(lines(&ham.hamctrl_ok(&["ls", "Fs-nfs2/Quick"])), [".info"]);
}

#[test]
fn x4_verbosity_forms_of_hamctrl() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start_with(dir.path(), &["-V2"]);
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('2'));
    ham.hamctrl_ok(&["-verbose"]); // QNX: "-verbose" raises
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('3'));
    ham.hamctrl_ok(&["+verbose"]); // "+verbose" lowers
    ham.hamctrl_ok(&["+verbose"]);
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('1'));
    let out = ham.hamctrl(&["verbose", "set", "-3"]);
    assert!(!out.status.success());
}

#[test]
fn x3_stop_ends_the_daemon_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::start(dir.path());
    ham.hamctrl_ok(&["attach", "keeper", "--pid", "1"]);
    ham.hamctrl_ok(&["-stop"]);
    assert_eq!(
        ham.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        ham.log_text()
    );
    // The state survives a clean stop.
    ham.restart();
    assert_eq!(lines(&ham.hamctrl_ok(&["ls"])), [".info", "keeper/"]);
}

#[test]
fn n6_unknown_node_name_is_ehostunreach() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    let out = ham.hamctrl(&["-node", "nowhere", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EHOSTUNREACH"),
        "{out:?}"
    );
    ham.hamctrl_ok(&["-node", "testnode", "ls"]);
}

/// Runs `hamctrl` with `args` (and `env`), killed after 10 s; its output and how long it took.
fn hamctrl_bounded(args: &[&str], env: &[(&str, &str)]) -> (std::process::Output, Duration) {
    use std::process::{Command, Stdio};
    // Found (and built, once per test process) before the clock starts.
    let hamctrl = ham_integration_tests::bin("hamctrl");
    let start = std::time::Instant::now();
    let mut child = Command::new(hamctrl)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("HAM_SOCKET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hamctrl");
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("hamctrl output");
    (out, start.elapsed())
}

/// Sends SIGCONT to a process stopped by the test, whatever happens to the test.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        let _ = std::process::Command::new("/bin/kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[test]
fn hamctrl_gives_up_on_a_frozen_ham_with_etimedout() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    let socket = ham.socket.to_str().unwrap().to_string();
    ham.hamctrl_ok(&["ls"]);
    let stopped = std::process::Command::new("/bin/kill")
        .args(["-STOP", &ham.pid().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let _resume = Resume(ham.pid());

    // The kernel still accepts connections on its socket; nothing answers.
    let (out, took) = hamctrl_bounded(&["--socket", &socket, "--timeout", "1", "ls"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err} after {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        err.trim(),
        format!("hamctrl: ETIMEDOUT: no answer from {socket} within 1 s")
    );
    // Fractions, $HAM_TIMEOUT, a verb with a node and the QNX form.
    let (out, took) = hamctrl_bounded(
        &["--socket", &socket, "-node", "n2", "cat", ".info"],
        &[("HAM_TIMEOUT", "0.5")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(
        err.contains(&format!(
            "ETIMEDOUT: no answer from {socket} for node n2 within 0.5 s"
        )),
        "{err}"
    );
    let (out, took) = hamctrl_bounded(&["--socket", &socket, "--timeout", "0.3", "-stop"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn hamctrl_fails_fast_on_a_socket_no_one_serves() {
    let dir = tempfile::tempdir().unwrap();
    // A socket file left by a dead server, and a path with nothing at all.
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let missing = dir.path().join("missing.sock");
    for socket in [&stale, &missing] {
        let socket = socket.to_str().unwrap();
        let (out, took) = hamctrl_bounded(&["--socket", socket, "ls"], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(err.starts_with("hamctrl: EBADF: "), "{err}");
        assert!(err.contains(socket), "{err}");
    }
}

#[test]
fn x5_ls_and_cat_take_linearizable_reads() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    ham.hamctrl_ok(&["entity", "web"]);
    assert_eq!(
        ham.hamctrl_ok(&["ls", "--linearizable"]),
        ham.hamctrl_ok(&["ls"])
    );
    assert!(ham.hamctrl_ok(&["ls", "--linearizable"]).contains("web"));
    let info = ham.hamctrl_ok(&["cat", ".info", "--linearizable"]);
    assert!(info.contains("Ham Pid"), "{info}");
    let web = ham.hamctrl_ok(&["cat", "web", "--linearizable"]);
    assert_eq!(web, ham.hamctrl_ok(&["cat", "web"]));
}
