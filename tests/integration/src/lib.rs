//! Harness for tests of the real `ham` and `hamctrl` binaries.
//!
//! Every test gets its own data directory and Unix socket under a temporary
//! directory, and its own TCP port (port 0), so tests run in parallel. A
//! [`HamProcess`] is killed when dropped, so a failing test leaves no daemon
//! behind. Every wait is bounded.
//!
//! The nodes serve plain-text TCP on loopback (`--insecure`), so their TCP callers are
//! anonymous, other nodes forwarding a call included. Unless a test gives its own `--config`,
//! each node gets `harness.toml`, which grants anonymous callers `admin`: that is how an
//! insecure cluster is configured (docs/access.md), and it keeps the suites about other
//! things independent of access control. The `access` suite writes its own policies.

use ham_client::Ham;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Builds `ham` and `hamctrl` once per test process, in the profile the
/// tests were built with. `cargo test` does not rebuild the binaries of other
/// packages, so without this a test could run a stale daemon.
fn build_binaries(profile_dir: &Path) {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "ham-node-agent",
            "-p",
            "hamctrl",
            "--bins",
            // The failpoints of E11's crash tests; absent from every other build.
            "--features",
            "ham-node-agent/failpoints",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building ham and hamctrl failed");
    });
}

/// Where cargo put the binaries of this workspace (next to the test executable's folder).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    build_binaries(dir);
    dir.join(name)
}

pub mod cluster;

/// The harness's configuration: the policy of an insecure cluster, whose nodes reach one
/// another (and whose test clients reach them) as anonymous callers.
pub const INSECURE_CLUSTER_POLICY: &str = "[policy]\nanonymous = \"admin\"\n";

/// A running `ham` daemon owned by a test.
#[derive(Debug)]
pub struct HamProcess {
    child: Option<Child>,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its API socket.
    pub socket: PathBuf,
    /// Where its log goes.
    pub log: PathBuf,
    /// Its API and peer address.
    pub listen: String,
    /// Its node name.
    pub name: String,
    /// The network namespace it runs in, if any.
    pub netns: Option<String>,
    extra: Vec<String>,
    /// Processes it had started when it was killed, with their start times: they outlive it
    /// (that is the point of a supervisor's children), and are killed when the test is over.
    left_behind: Vec<(u32, u64)>,
    /// Its agent id, read once it answers: names its entities' cgroups,
    /// removed at the end (the data directory may be gone by then).
    agent_id: Option<String>,
}

impl HamProcess {
    /// Starts `ham` with its state under `dir` and waits until it answers.
    pub fn start(dir: &Path) -> HamProcess {
        Self::start_with(dir, &[])
    }

    /// Same, with extra command-line arguments.
    pub fn start_with(dir: &Path, extra: &[&str]) -> HamProcess {
        let mut p = HamProcess::prepare(dir, "127.0.0.1:0", "testnode", None, extra);
        p.spawn();
        p
    }

    /// A daemon not started yet: state under `dir`, API on `listen`.
    pub fn prepare(
        dir: &Path,
        listen: &str,
        name: &str,
        netns: Option<&str>,
        extra: &[&str],
    ) -> HamProcess {
        let mut extra: Vec<&str> = extra.to_vec();
        let config = dir.join("harness.toml");
        let config = config.to_str().expect("utf-8 temporary path").to_string();
        if !extra.contains(&"--config") {
            std::fs::create_dir_all(dir).expect("node directory");
            std::fs::write(&config, INSECURE_CLUSTER_POLICY).expect("write harness.toml");
            extra.extend(["--config", config.as_str()]);
        }
        HamProcess {
            child: None,
            data_dir: dir.join("data"),
            socket: dir.join("ham.sock"),
            log: dir.join("ham.log"),
            listen: listen.to_string(),
            name: name.to_string(),
            netns: netns.map(String::from),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            left_behind: Vec::new(),
            agent_id: None,
        }
    }

    /// Starts `ham` with a configuration file of this text (its policy and limits) instead of
    /// the harness's, and waits until it answers.
    pub fn start_with_config(dir: &Path, config: &str, extra: &[&str]) -> HamProcess {
        let path = dir.join("ham.toml");
        std::fs::write(&path, config).expect("write ham.toml");
        let mut args = vec!["--config", path.to_str().expect("utf-8 temporary path")];
        args.extend(extra);
        Self::start_with(dir, &args)
    }

    /// Starts it (waits until its socket answers).
    pub fn launch(&mut self) {
        self.spawn();
    }

    /// Starts it without waiting (a joining node answers only once added).
    pub fn launch_nowait(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        self.child = Some(
            self.command()
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn ham"),
        );
    }

    /// Waits (bounded) until its socket answers.
    pub fn wait_until_ready(&mut self, limit: Duration) {
        self.wait_ready(limit);
    }

    /// Whether the process is running (not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGTERM: an orderly stop.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.as_ref()?.id();
        let _ = Command::new("/bin/kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        self.wait_exit(Duration::from_secs(10))
    }

    /// The command that starts this daemon (without spawning it).
    pub fn command(&self) -> Command {
        let mut cmd = match &self.netns {
            // `ip netns exec` execs ham in place: the child's pid is ham's.
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin("ham"));
                c
            }
            None => Command::new(bin("ham")),
        };
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(&self.socket)
            .args([
                "--listen",
                &self.listen,
                "--node-name",
                &self.name,
                "-t",
                "none",
                // Plain-text TCP on loopback: the suites' clients and nodes speak no TLS.
                "--insecure",
            ])
            .args(&self.extra);
        cmd
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ham");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20));
    }

    fn wait_ready(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "ham exited during start-up with {status}:\n{}",
                    self.log_text()
                );
            }
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                self.agent_id = std::fs::read_to_string(self.data_dir.join("agent-id"))
                    .ok()
                    .map(|s| s.trim().to_string());
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ham did not answer within {limit:?}:\n{}", self.log_text());
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let family = descendants(child.id());
            self.left_behind
                .extend(family.into_iter().filter_map(|p| Some((p, start_time(p)?))));
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the daemon and every process it started, also those of earlier runs.
    pub fn kill_all(&mut self) {
        self.kill9();
        for (pid, started) in std::mem::take(&mut self.left_behind) {
            // Only if the pid still names the same process.
            if start_time(pid) == Some(started) {
                let _ = Command::new("/bin/kill")
                    .args(["-KILL", &pid.to_string()])
                    .output();
            }
        }
    }

    /// Starts it again on the same data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Waits (bounded) for the daemon to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// A client connected over the Unix socket.
    pub async fn client(&self) -> Ham {
        Ham::connect_uds(&self.socket)
            .await
            .expect("connect to ham")
    }

    /// Runs `hamctrl` against this daemon.
    pub fn hamctrl(&self, args: &[&str]) -> Output {
        Command::new(bin("hamctrl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run hamctrl")
    }

    /// Runs `hamctrl`, asserts success, returns its standard output.
    pub fn hamctrl_ok(&self, args: &[&str]) -> String {
        let out = self.hamctrl(args);
        assert!(
            out.status.success(),
            "hamctrl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A process's descendants, from `/proc/PID/task/*/children`, deepest last.
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in text
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                out.push(child);
                todo.push(child);
            }
        }
    }
    out
}

/// When `pid` started (field 22 of `/proc/PID/stat`), to tell it from a later process
/// that reuses the number.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..]
        .split(' ')
        .nth(19)?
        .parse()
        .ok()
}

impl Drop for HamProcess {
    /// Kills the daemon and the processes it started: they run in their own
    /// process groups and would otherwise outlive the test.
    fn drop(&mut self) {
        self.kill_all();
        if let Some(id) = &self.agent_id {
            remove_cgroups(id);
        }
    }
}

/// Removes the (now empty) cgroups a daemon with agent id `id` made for its
/// entities, `ham.<agent id>` under its cgroup in each hierarchy: a killed
/// daemon cannot, and every test run would leave its own behind.
fn remove_cgroups(id: &str) {
    let name = format!("ham.{id}");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mounts.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if !right.starts_with("cgroup") {
            continue;
        }
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        // The daemon is a child of the test, in the same cgroups: look under
        // each path of ours that this mount may hold, and at its top.
        let mut dirs = vec![Path::new(point).join(&name)];
        for path in own.lines().filter_map(|l| l.splitn(3, ':').nth(2)) {
            dirs.push(
                Path::new(point)
                    .join(path.trim_start_matches('/'))
                    .join(&name),
            );
        }
        for dir in dirs {
            if let Ok(children) = std::fs::read_dir(&dir) {
                for c in children.flatten().filter(|c| c.path().is_dir()) {
                    // Processes killed a moment ago may still be exiting (EBUSY).
                    for _ in 0..100 {
                        match std::fs::remove_dir(c.path()) {
                            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                                std::thread::sleep(Duration::from_millis(10));
                            }
                            _ => break,
                        }
                    }
                }
                let _ = std::fs::remove_dir(&dir);
            }
        }
    }
}

/// Waits (bounded) for `f` to hold; panics saying what did not happen.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// The lines of a file (none if it does not exist yet).
pub fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// Runs `ham` to completion with these arguments (for start-up failures); bounded.
pub fn run_ham(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin("ham"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ham");
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "ham {args:?} did not exit within {limit:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
