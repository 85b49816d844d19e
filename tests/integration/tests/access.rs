//! Access control (HAM-CONTRACT P1–P4, P7, P8) with real users: each test creates an
//! unprivileged user (`useradd`, removed with `userdel -r` when the test ends, also when it
//! fails), gives it the socket's group, and runs `hamctrl` or a client as that user
//! (`setpriv`, which execs in place, so the process the daemon sees is the one started).

use ham_client::{Errno, Ham, NodeSel};
use ham_integration_tests::cluster::free_port;
use ham_integration_tests::{HamProcess, bin, lines, run_ham, wait_for};

/// The lines of a command's output.
fn rows(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");
const LIMIT: Duration = Duration::from_secs(20);

/// An unprivileged user for one test, with a group of its own.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
}

fn id_of(flag: &str, name: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, name])
        .output()
        .expect("run id");
    assert!(out.status.success(), "id {flag} {name}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric id")
}

impl TestUser {
    fn create() -> TestUser {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("hamt{}x{n}", std::process::id() % 1_000_000);
        let out = Command::new("useradd")
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", &name])
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd {name}: {out:?}");
        // From here on the guard removes it, whatever happens.
        let mut user = TestUser {
            name,
            uid: 0,
            gid: 0,
        };
        user.uid = id_of("-u", &user.name);
        user.gid = id_of("-g", &user.name);
        assert_ne!(user.uid, 0);
        user
    }

    /// `program args` as this user (in place: its pid is the child's).
    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    }

    /// `hamctrl args` as this user against `ham`.
    fn hamctrl(&self, ham: &HamProcess, args: &[&str]) -> Output {
        self.command(&bin("hamctrl"))
            .arg("--socket")
            .arg(&ham.socket)
            .args(args)
            .output()
            .expect("run hamctrl as the test user")
    }

    fn ok(&self, ham: &HamProcess, args: &[&str]) -> String {
        let out = self.hamctrl(ham, args);
        assert!(out.status.success(), "{} {args:?}: {out:?}", self.name);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The call fails with `errno`, and the message names `needs` (a role, or a limit).
    fn refused(&self, ham: &HamProcess, args: &[&str], errno: &str, needs: &str) {
        let out = self.hamctrl(ham, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(err.contains(errno), "{args:?}: {err}");
        assert!(err.contains(needs), "{args:?}: {err}");
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .args(["-r", "-f", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A child process killed when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary directory other users may pass through to the socket inside.
fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// A `ham` whose socket `user` may connect to, with `policy` (TOML) in its configuration.
fn ham_for(dir: &Path, user: &TestUser, policy: &str) -> HamProcess {
    let config = format!("socket_group = {}\n{policy}", user.gid);
    HamProcess::start_with_config(dir, &config, &[])
}

/// `hamctrl` as root, failing the test on error.
fn root_ok(ham: &HamProcess, args: &[&str]) -> String {
    ham.hamctrl_ok(args)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The socket inodes of the TCP sockets `pid` listens on.
fn tcp_listeners_of(pid: u32) -> Vec<String> {
    let mut inodes = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                inodes.push(inode.to_string());
            }
        }
    }
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // st 0A is LISTEN; column 9 is the inode.
            if cols.len() > 9 && cols[3] == "0A" && inodes.iter().any(|i| i == cols[9]) {
                listening.push(cols[1].to_string());
            }
        }
    }
    listening
}

#[test]
fn p1_default_ham_serves_its_socket_alone_mode_0660() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ham.sock");
    let log = std::fs::File::create(dir.path().join("ham.log")).unwrap();
    let child = Command::new(bin("ham"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--socket")
        .arg(&socket)
        .args(["-t", "none"])
        .env_remove("HAM_LISTEN")
        .env_remove("HAM_SOCKET")
        .env_remove("HAM_DATA_DIR")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn ham");
    let mut ham = Reaped(child);
    wait_for("the socket to answer", LIMIT, || {
        assert!(
            ham.0.try_wait().unwrap().is_none(),
            "ham exited: {}",
            std::fs::read_to_string(dir.path().join("ham.log")).unwrap_or_default()
        );
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o660, "socket mode");
    assert_eq!(meta.gid(), 0, "socket group");
    assert_eq!(tcp_listeners_of(ham.0.id()), Vec::<String>::new());
    let out = Command::new(bin("hamctrl"))
        .arg("--socket")
        .arg(&socket)
        .args(["cat", ".info"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _ = ham.0.kill();
}

#[test]
fn p1_plain_text_tcp_needs_insecure_even_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = run_ham(
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--no-socket",
        ],
        LIMIT,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--insecure"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn p2_by_default_a_local_user_may_only_read() {
    let user = TestUser::create();
    let dir = open_dir();
    let ham = ham_for(dir.path(), &user, "");
    root_ok(&ham, &["entity", "web"]);
    root_ok(&ham, &["condition", "web", "dead", "death"]);
    let before = root_ok(&ham, &["cat", "web/.info"]);
    // Reads.
    assert_eq!(rows(&user.ok(&ham, &["ls"])), [".info", "web/"]);
    user.ok(&ham, &["cat", "web/.info"]);
    user.ok(&ham, &["=verbose"]);
    // Every class of write is refused, naming the role it needs.
    let refused: &[(&[&str], &str)] = &[
        (&["entity", "mine"], "role operator"),
        (&["control", "entity", "web", "disable"], "role operator"),
        (
            &[
                "raise",
                "web",
                "--rtype",
                "1",
                "--rclass",
                "1",
                "--rseverity",
                "1",
            ],
            "role operator",
        ),
        (&["state", "web", "3"], "role operator"),
        (&["condition", "web", "more", "death"], "role operator"),
        (&["condition-remove", "web", "dead"], "role operator"),
        (&["detach", "web"], "role operator"),
        (&["-verbose"], "role operator"),
        (&["attach", "job", "--cmd", "/bin/sleep 100"], "role admin"),
        (
            &[
                "action",
                "web",
                "dead",
                "again",
                "restart",
                "--cmd",
                "/bin/true",
            ],
            "role admin",
        ),
        (
            &[
                "action",
                "web",
                "dead",
                "run",
                "execute",
                "--cmd",
                "/bin/true",
            ],
            "role admin",
        ),
        (&["-stop"], "role admin"),
        (&["node", "remove", "1"], "role admin"),
    ];
    for (args, needs) in refused {
        user.refused(&ham, args, "EACCES", needs);
    }
    // Nothing changed.
    assert_eq!(rows(&root_ok(&ham, &["ls"])), [".info", "web/"]);
    assert_eq!(rows(&root_ok(&ham, &["ls", "web"])), [".info", "dead/"]);
    assert_eq!(root_ok(&ham, &["cat", "web/.info"]), before);
}

#[test]
fn p2_a_policy_grants_operator_by_uid_and_admin_by_uid_or_gid() {
    let user = TestUser::create();
    let dir = open_dir();
    let policy = format!(
        "[policy]\n[[policy.rule]]\nuid = {}\nrole = \"operator\"\n",
        user.uid
    );
    let ham = ham_for(dir.path(), &user, &policy);
    user.ok(&ham, &["entity", "mine"]);
    user.ok(&ham, &["condition", "mine", "dead", "death"]);
    user.ok(&ham, &["control", "entity", "mine", "disable"]);
    user.ok(
        &ham,
        &["action", "mine", "dead", "note", "log", "--message", "gone"],
    );
    user.refused(
        &ham,
        &["attach", "job", "--cmd", "/bin/sleep 100"],
        "EACCES",
        "role admin",
    );
    user.refused(&ham, &["-stop"], "EACCES", "role admin");
    user.ok(&ham, &["condition-remove", "mine", "dead"]);
    user.ok(&ham, &["detach", "mine"]);
    assert_eq!(rows(&root_ok(&ham, &["ls"])), [".info"]);
    drop(ham);

    for rule in [format!("uid = {}", user.uid), format!("gid = {}", user.gid)] {
        let dir = open_dir();
        let policy = format!("[policy]\n[[policy.rule]]\n{rule}\nrole = \"admin\"\n");
        let ham = ham_for(dir.path(), &user, &policy);
        user.ok(&ham, &["attach", "job", "--cmd", "/bin/sleep 100"]);
        user.ok(&ham, &["condition", "job", "dead", "death"]);
        user.ok(
            &ham,
            &[
                "action",
                "job",
                "dead",
                "again",
                "restart",
                "--cmd",
                "/bin/sleep 100",
            ],
        );
        assert!(root_ok(&ham, &["ls"]).contains("job/"), "{rule}");
        user.ok(&ham, &["detach", "job"]);
    }
}

#[test]
fn p2_anonymous_callers_over_insecure_tcp_get_nothing_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    std::fs::write(dir.path().join("ham.toml"), "").unwrap();
    let config = dir.path().join("ham.toml");
    let mut ham = HamProcess::prepare(
        dir.path(),
        &listen,
        "testnode",
        None,
        &["--config", config.to_str().unwrap()],
    );
    ham.launch();
    rt().block_on(async {
        let refused = match Ham::connect_tcp(format!("http://{listen}")).await {
            Ok(c) => c.handshake(NodeSel::Local).await.map(|_| ()),
            Err(e) => Err(e),
        };
        let e = refused.expect_err("an anonymous handshake is refused");
        assert_eq!(e.errno, Errno::Eacces, "{e:?}");
        assert!(e.message.contains("anonymous"), "{e:?}");
        let c = Ham::lazy(&ham_client::HamAddress::Tcp(format!("http://{listen}"))).unwrap();
        let e = c.entity(NodeSel::Local, "sneaky", 0).await.unwrap_err();
        assert_eq!(e.errno, Errno::Eacces, "{e:?}");
    });
    assert_eq!(rows(&ham.hamctrl_ok(&["ls"])), [".info"]);
}

#[test]
fn p3_a_self_attached_process_acts_on_its_own_entity() {
    let user = TestUser::create();
    let dir = open_dir();
    let ham = ham_for(dir.path(), &user, "");
    let out = dir.path().join("selfcalls.out");
    std::fs::write(&out, "").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o666)).unwrap();
    let child = user
        .command(Path::new(PROG))
        .arg("selfcalls")
        .arg(&ham.socket)
        .arg("me")
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the self-calling process");
    let mut me = Reaped(child);
    let pid = me.0.id().to_string();
    root_ok(
        &ham,
        &["attach", "me", "--pid", &pid, "--heartbeat-ms", "60000"],
    );
    // Another process of the same user is not the entity's.
    user.refused(
        &ham,
        &[
            "raise",
            "me",
            "--rtype",
            "1",
            "--rclass",
            "1",
            "--rseverity",
            "1",
        ],
        "EACCES",
        "role operator",
    );
    user.refused(&ham, &["detach", "me"], "EACCES", "role operator");
    use std::io::Write as _;
    writeln!(me.0.stdin.as_mut().unwrap(), "go").unwrap();
    let text = || std::fs::read_to_string(&out).unwrap_or_default();
    wait_for("the self calls", LIMIT, || text().contains("done"));
    assert_eq!(
        lines(out.to_str().unwrap()),
        ["heartbeat ok", "raise ok", "state ok", "detach ok", "done"]
    );
    assert_eq!(rows(&root_ok(&ham, &["ls"])), [".info"]);
}

#[test]
fn p4_a_non_admin_may_not_have_ham_signal_a_process_it_could_not_signal() {
    let user = TestUser::create();
    let dir = open_dir();
    let policy = format!(
        "[policy]\n[[policy.rule]]\nuid = {}\nrole = \"operator\"\n",
        user.uid
    );
    let ham = ham_for(dir.path(), &user, &policy);
    user.ok(&ham, &["entity", "mine"]);
    user.ok(&ham, &["condition", "mine", "dead", "death"]);
    // A root process: the daemon itself.
    let root_pid = ham.pid().to_string();
    let signal = |name: &str, pid: &str| -> Vec<String> {
        [
            "action", "mine", "dead", name, "signal", "--pid", pid, "--signum", "USR1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = signal("poke", &root_pid);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    user.refused(&ham, &args, "EACCES", "another user");
    user.refused(
        &ham,
        &["attach", "theirs", "--pid", &root_pid],
        "EACCES",
        "another user",
    );
    // Its own process it may.
    let own = Reaped(
        user.command(Path::new("/bin/sleep"))
            .arg("100")
            .spawn()
            .expect("start sleep as the user"),
    );
    let own_pid = own.0.id().to_string();
    let args = signal("nudge", &own_pid);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    user.ok(&ham, &args);
    user.ok(&ham, &["attach", "ours", "--pid", &own_pid]);
    assert_eq!(
        rows(&root_ok(&ham, &["ls", "mine/dead"])),
        [".info", "nudge"]
    );
    // An admin may signal anyone.
    root_ok(
        &ham,
        &[
            "action", "mine", "dead", "poke", "signal", "--pid", &root_pid, "--signum", "USR1",
        ],
    );
}

#[test]
fn p4_a_non_admin_may_not_choose_another_user() {
    let user = TestUser::create();
    let dir = open_dir();
    let policy = format!(
        "[policy]\n[[policy.rule]]\nuid = {}\nrole = \"operator\"\n",
        user.uid
    );
    let ham = ham_for(dir.path(), &user, &policy);
    let own = Reaped(
        user.command(Path::new("/bin/sleep"))
            .arg("100")
            .spawn()
            .expect("start sleep as the user"),
    );
    let own_pid = own.0.id().to_string();
    // Its own process, to run (restart, execute actions) as root: refused, nothing made.
    user.refused(
        &ham,
        &["attach", "as-root", "--pid", &own_pid, "--user", "root"],
        "EACCES",
        "run as uid 0",
    );
    assert!(
        !rows(&root_ok(&ham, &["ls"])).contains(&"as-root".to_string()),
        "a refused attach makes nothing"
    );
    // A line to start as root: a command line needs admin whatever the user.
    user.refused(
        &ham,
        &[
            "attach",
            "started",
            "--cmd",
            "/bin/sleep 100",
            "--user",
            "root",
        ],
        "EACCES",
        "admin",
    );
    // As itself it may.
    user.ok(
        &ham,
        &["attach", "as-me", "--pid", &own_pid, "--user", &user.name],
    );
    // An admin may choose anyone.
    root_ok(
        &ham,
        &[
            "attach",
            "by-admin",
            "--cmd",
            "/bin/sleep 100",
            "--user",
            &user.name,
        ],
    );
}

#[test]
fn p7_a_caller_at_its_limit_gets_enomem_while_another_still_attaches() {
    let user = TestUser::create();
    let dir = open_dir();
    let policy = format!(
        "[policy]\n[[policy.rule]]\nuid = {}\nrole = \"operator\"\n[limits]\nentities_per_node = 4\nconditions_per_entity = 2\nactions_per_condition = 1\n",
        user.uid
    );
    let ham = ham_for(dir.path(), &user, &policy);
    for name in ["u1", "u2", "u3"] {
        user.ok(&ham, &["entity", name]);
    }
    user.ok(&ham, &["condition", "u1", "c1", "death"]);
    user.ok(&ham, &["condition", "u1", "c2", "death"]);
    user.refused(
        &ham,
        &["condition", "u1", "c3", "death"],
        "ENOMEM",
        "conditions_per_entity",
    );
    user.ok(
        &ham,
        &["action", "u1", "c1", "note", "log", "--message", "x"],
    );
    user.refused(
        &ham,
        &["action", "u1", "c1", "more", "log", "--message", "y"],
        "ENOMEM",
        "actions_per_condition",
    );
    // The other caller is not disturbed: it attaches, and adds conditions to its entity.
    let sleeper = Reaped(Command::new("/bin/sleep").arg("100").spawn().unwrap());
    root_ok(
        &ham,
        &["attach", "r1", "--pid", &sleeper.0.id().to_string()],
    );
    root_ok(&ham, &["condition", "r1", "c1", "death"]);
    // The node's context is full now, for everyone; reads still work.
    user.refused(&ham, &["entity", "u4"], "ENOMEM", "entities_per_node");
    let out = ham.hamctrl(&["entity", "r2"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ENOMEM"),
        "{out:?}"
    );
    assert_eq!(
        rows(&user.ok(&ham, &["ls"])),
        [".info", "r1/", "u1/", "u2/", "u3/"]
    );
}

#[test]
fn p7_a_request_over_the_size_limit_is_enomem() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start_with_config(dir.path(), "[limits]\nrequest_bytes = 2048\n", &[]);
    let socket: PathBuf = ham.socket.clone();
    rt().block_on(async {
        let c = Ham::connect_uds(&socket).await.unwrap();
        let e = c
            .entity(NodeSel::Local, &"x".repeat(4096), 0)
            .await
            .unwrap_err();
        assert_eq!(e.errno, Errno::Enomem, "{e:?}");
        assert!(e.message.contains("request_bytes"), "{e:?}");
        // The same connection still serves calls within the limit.
        c.entity(NodeSel::Local, "small", 0).await.unwrap();
    });
}

#[test]
fn p8_every_write_leaves_an_audit_line_accepted_or_refused() {
    let user = TestUser::create();
    let dir = open_dir();
    let ham = ham_for(dir.path(), &user, "");
    root_ok(&ham, &["entity", "audited"]);
    user.refused(&ham, &["entity", "refused"], "EACCES", "role operator");
    let audit = |needle: &[&str]| {
        ham.log_text()
            .lines()
            .any(|l| l.contains("audit") && needle.iter().all(|n| l.contains(n)))
    };
    let uid = format!("caller=uid={} ", user.uid);
    wait_for("both audit lines", LIMIT, || {
        audit(&["caller=uid=0 ", "Entity", "audited", "ok"])
            && audit(&[uid.as_str(), "Entity", "refused", "EACCES"])
    });
    // Reads leave none.
    user.ok(&ham, &["ls"]);
    assert!(!audit(&["Tree"]), "{}", ham.log_text());
}

/// A `key : value` field of an entity's `.info`.
fn info_field(ham: &HamProcess, entity: &str, key: &str) -> Option<String> {
    let text = ham.hamctrl_ok(&["cat", &format!("{entity}/.info")]);
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(" : ")?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

#[test]
fn p3_an_sd_notify_heartbeat_counts_only_from_a_process_of_its_entity() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    let never = dir.path().join("never");
    let never = never.to_str().unwrap();
    // The entity's own shell does not beat; its child, in the entity's process group, does.
    let grouped = format!("/bin/sh -c \"{PROG} watchdog {never}; sleep 1000\"");
    let heartbeat = ["--heartbeat-ms", "100", "--hpdl", "2", "--hpdh", "3"];
    let mut args = vec!["attach", "grouped", "--cmd", &grouped];
    args.extend(heartbeat);
    ham.hamctrl_ok(&args);
    let mut args = vec!["attach", "lonely", "--cmd", "/bin/sleep 1000"];
    args.extend(heartbeat);
    ham.hamctrl_ok(&args);
    // A process of no entity beats on the same socket.
    let stranger = Reaped(
        Command::new(PROG)
            .args(["watchdog", never])
            .env("NOTIFY_SOCKET", ham.data_dir.join("notify.sock"))
            .env("WATCHDOG_USEC", "100000")
            .spawn()
            .unwrap(),
    );
    let state = |e: &str| info_field(&ham, e, "HeartBeat State");
    wait_for("the lonely entity to miss its heartbeats", LIMIT, || {
        state("lonely").as_deref() == Some("MISSEDHIGH")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(state("grouped").as_deref(), Some("OK"));
    assert_eq!(state("lonely").as_deref(), Some("MISSEDHIGH"));
    let pid = format!("pid={}", stranger.0.id());
    let ignored = ham
        .log_text()
        .lines()
        .filter(|l| l.contains("ignored") && l.contains(&pid))
        .count();
    assert_eq!(ignored, 1, "{}", ham.log_text());
}

#[test]
fn p7_a_caller_at_its_stream_limit_gets_enomem_and_others_still_open_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start_with_config(dir.path(), "[limits]\nstreams_per_caller = 2\n", &[]);
    let socket = ham.socket.clone();
    let me = i64::from(std::process::id());
    rt().block_on(async {
        // One connection per stream: HTTP/2 caps the streams of one connection at the same
        // number, and a client waits for a free one rather than being refused.
        let connect = || Ham::connect_uds(&socket);
        let (c1, c2, c3) = (
            connect().await.unwrap(),
            connect().await.unwrap(),
            connect().await.unwrap(),
        );
        let one = c1.pulse_channel(me, 1).await.unwrap();
        let two = c2.pulse_channel(me, 2).await.unwrap();
        let Err(e) = c3.pulse_channel(me, 3).await else {
            panic!("a third stream over the limit was opened");
        };
        assert_eq!(e.errno, Errno::Enomem, "{e:?}");
        assert!(e.message.contains("streams_per_caller"), "{e:?}");
        // Unary calls of the same caller are no streams.
        c3.entity(NodeSel::Local, "still", 0).await.unwrap();
        // A closed stream gives its place back (the server sees the end a moment later).
        drop(one);
        let start = std::time::Instant::now();
        let three = loop {
            match c3.pulse_channel(me, 3).await {
                Ok(ch) => break ch,
                Err(e) if e.errno == Errno::Enomem && start.elapsed() < LIMIT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e:?}"),
            }
        };
        drop((two, three));
    });
    // Another caller (another process) is not disturbed.
    let out = Command::new(PROG)
        .args(["pulses", ham.socket.to_str().unwrap(), "1"])
        .arg(dir.path().join("pulses.out"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _other = Reaped(out);
    let text = || std::fs::read_to_string(dir.path().join("pulses.out")).unwrap_or_default();
    wait_for("the other caller's channel", LIMIT, || {
        text().contains("ready")
    });
}
