//! Start-up failures of `ham` are clear errors with documented exit codes, never panics.

use ham_integration_tests::{HamProcess, run_ham};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_flags_exit_2_with_usage() {
    for args in [
        &["--bogus"][..],
        &["-t", "sometimes"],
        &["-Vx"],
        &["--node-id", "0"],
    ] {
        let out = run_ham(args, LIMIT);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
}

#[test]
fn plain_text_on_a_routable_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = run_ham(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--no-socket",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--insecure"), "{}", stderr(&out));
}

#[test]
fn unusable_data_directory_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let sock = dir.path().join("s.sock");
    let out = run_ham(
        &[
            "--data-dir",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--insecure",
            "--socket",
            sock.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("data directory"), "{}", stderr(&out));
}

#[test]
fn address_in_use_exits_4() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = run_ham(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            &addr,
            "--insecure",
            "--no-socket",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains(&addr), "{}", stderr(&out));
}

#[test]
fn corrupt_log_exits_3_and_is_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::start(dir.path());
    ham.hamctrl_ok(&["entity", "precious"]);
    ham.kill9();
    let log = ham.data_dir.join("raft").join("raft.redb");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    std::fs::write(&log, vec![0xA5u8; len.max(4096)]).unwrap();
    let out = ham.command().output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("log"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    // Nothing was deleted: an operator can still look at (or restore) the file.
    assert!(log.exists());
}
