//! What every supervision test shares: a daemon in its own directory with
//! file helpers, helper processes, and attaching with a heartbeat promise.

pub use ham_client::proto as pb;
pub use ham_integration_tests::{HamProcess, lines, wait_for};
pub use std::path::PathBuf;
pub use std::process::{Child, Command};
pub use std::time::{Duration, Instant};

pub const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");
pub const MS: u128 = 1_000_000;

/// A daemon in its own temporary directory, plus file helpers.
pub struct Fx {
    pub dir: tempfile::TempDir,
    pub ham: HamProcess,
}

impl Fx {
    pub fn new() -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let ham = HamProcess::start(dir.path());
        Fx { dir, ham }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        self.ham.hamctrl_ok(args)
    }

    pub fn info(&self, path: &str) -> String {
        self.ctl(&["cat", &format!("{path}/.info")])
    }

    pub fn field(&self, path: &str, name: &str) -> Option<String> {
        let info = self.info(path);
        info.lines().find_map(|l| {
            l.split_once(" : ")
                .filter(|(k, _)| k.trim() == name)
                .map(|(_, v)| v.trim().to_string())
        })
    }

    pub fn pid(&self, entity: &str) -> i64 {
        self.field(entity, "Entity Pid")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    pub fn entities(&self) -> Vec<String> {
        self.ctl(&["ls"])
            .lines()
            .filter(|l| l.ends_with('/'))
            .map(|l| l.trim_end_matches('/').to_string())
            .collect()
    }

    pub fn notify_socket(&self) -> PathBuf {
        self.ham.data_dir.join("notify.sock")
    }

    pub fn rt(&self) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

pub fn stamps(path: &str) -> Vec<u128> {
    lines(path).iter().filter_map(|l| l.parse().ok()).collect()
}

pub fn kill9(pid: i64) {
    let status = Command::new("/bin/kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

/// A child process of the test, killed when dropped.
pub struct Helper(pub Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn helper(args: &[&str]) -> Helper {
    Helper(Command::new(PROG).args(args).spawn().unwrap())
}

/// Attaches `argv` started by the HAM with a heartbeat promise (sd_notify watchdog).
pub fn attach_with_heartbeat(
    fx: &Fx,
    name: &str,
    line: &str,
    period_ms: u64,
    hpdl: u32,
    hpdh: u32,
) -> pb::EntityHandle {
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let req = pb::AttachRequest {
            node: None,
            name: name.into(),
            pid: -1,
            command_line: line.into(),
            flags: 0,
            pidfile: String::new(),
            period_ns: period_ms * 1_000_000,
            hpdl,
            hpdh,
            ..Default::default()
        };
        ham.raw().attach(req).await.unwrap().into_inner()
    })
}

/// The end of entity `name`'s heartbeat period in progress (wall clock, ns).
pub fn next_boundary_ns(fx: &Fx, name: &str) -> i128 {
    fx.rt().block_on(async {
        let ham = fx.ham.client().await;
        let tree = ham
            .tree(ham_client::NodeSel::Local, name, "", "", false)
            .await
            .unwrap();
        let hb = tree.entities[0].heartbeat.as_ref().unwrap();
        assert_ne!(hb.next_boundary_ns, 0, "{name} is not watched here");
        i128::from(hb.next_boundary_ns)
    })
}
