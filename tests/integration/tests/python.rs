//! A Python client against a real `ham` (HAM-CONTRACT M2): grpcio over the
//! Unix socket, one call that succeeds and one that fails, and
//! `grpc_status.rpc_status.from_call` finding the `ErrorDetail` with its
//! errno (`tests/integration/python/check.py`).
//!
//! The test sets Python up itself: a venv (`python3 -m venv`) with grpcio,
//! grpcio-status and grpcio-tools from PyPI, cached under the cargo target
//! directory (`target/tmp/python-venv`) so that reruns are fast, and stubs
//! generated from `proto/ham/v1/ham.proto` with `grpc_tools.protoc` on every
//! run. Without PyPI it fails, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ham_integration_tests::HamProcess;

/// What the venv holds; a change makes a new venv.
const PACKAGES: &[&str] = &["grpcio", "grpcio-status", "grpcio-tools"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's python, made once (per target directory) and then reused.
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let venv = root.join("python-venv");
        let marker = venv.join("ham-packages");
        let python = venv.join("bin/python");
        let want = PACKAGES.join(" ");
        if std::fs::read_to_string(&marker).is_ok_and(|have| have == want) {
            return python;
        }
        // Built aside and renamed, so that an interrupted set-up is never reused.
        let building = root.join(format!("python-venv.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        run(
            "python3 -m venv",
            Command::new("python3").arg("-m").arg("venv").arg(&building),
        );
        let out = Command::new(building.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--timeout",
                "30",
            ])
            .args(PACKAGES)
            .output()
            .expect("run pip");
        assert!(
            out.status.success(),
            "pip could not install {want} from PyPI; this test needs PyPI \
             (or a pip configuration that reaches a mirror):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(building.join("ham-packages"), &want).unwrap();
        let _ = std::fs::remove_dir_all(&venv);
        std::fs::rename(&building, &venv).unwrap();
        python
    })
}

/// Generates the stubs of `ham.v1` into `out` with grpc_tools.protoc.
fn stubs(python: &Path, out: &Path) {
    run(
        "grpc_tools.protoc",
        Command::new(python)
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(repo().join("proto"))
            .arg(format!("--python_out={}", out.display()))
            .arg(format!("--grpc_python_out={}", out.display()))
            .arg("ham/v1/ham.proto"),
    );
}

/// Runs check.py against a fresh `ham`, with grpcio's default channel options.
fn check() {
    let start = Instant::now();
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stubs");
    std::fs::create_dir(&out).unwrap();
    stubs(python, &out);
    let ham = HamProcess::start(dir.path());
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/integration/python/check.py"))
        .arg(&ham.socket)
        .arg(&out);
    cmd.env_remove("HAM_PY_AUTHORITY");
    run("check.py", &mut cmd);
    eprintln!("python check took {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(600));
}

/// M2 from Python with grpcio's default options over the Unix socket:
/// `rpc_status.from_call` gives the errno. grpcio sends the percent-encoded
/// socket path as `:authority`, which the unpatched h2 server refused
/// (vendor/README.md).
#[test]
fn m2_python_with_default_grpcio_options_over_the_unix_socket_gets_the_errno() {
    check();
}
