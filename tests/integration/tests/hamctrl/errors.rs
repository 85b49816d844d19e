//! Reaching the HAM (M1): no HAM is EBADF, a frozen one ETIMEDOUT, a socket
//! no one serves fails fast.

use super::fixture::*;

#[test]
fn m1_no_ham_is_ebadf() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none.sock");
    let out = hamctrl_at(&sock, &words("ls"));
    assert_eq!((out.code, out.stdout.as_str()), (Some(1), ""));
    let want = format!(
        "hamctrl: EBADF: cannot reach the HAM at unix:{}",
        sock.display()
    );
    assert!(out.stderr.starts_with(&want), "{}", out.stderr);
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
