//! `hamctrl` verbs and rendering against a real `ham`, beyond `hamctrl.rs`
//! (which has the fs-nfs2 tree, the `.info` shapes of entity/condition/
//! restart, the A2/K7 refusals, the QNX verbosity forms, `-stop` and an
//! unknown `-node` name): every write verb, the file of every action kind,
//! filters and the global entity, control output, errors and exit codes,
//! node ids, the stop forms and `attach --restart`.
//!
//! Commands are written as shell lines: words split on white space, `'...'`
//! groups words (see [`words`]).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ham_client::proto::EntityInfo;
use ham_client::{ConditionType, Ham, NodeSel, flags};
use ham_integration_tests::{HamProcess, bin};

/// Longest one hamctrl run may take.
const LIMIT: Duration = Duration::from_secs(30);

/// Splits a command line on white space; `'...'` and `"..."` group words
/// into one and are removed, as in a shell.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (_, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quote in {line:?}");
    out.extend(word);
    out
}

/// What a hamctrl run gave.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs hamctrl against the HAM at `socket`; killed (and the test failed) after [`LIMIT`].
fn hamctrl_at(socket: &Path, args: &[String]) -> Out {
    let mut child = Command::new(bin("hamctrl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hamctrl");
    let start = Instant::now();
    while child.try_wait().expect("wait for hamctrl").is_none() {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hamctrl {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("hamctrl output");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A daemon with its own directory (dropped in this order: daemon, then directory).
struct Node {
    ham: HamProcess,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        Node {
            ham: HamProcess::start(dir.path()),
            _dir: dir,
        }
    }

    fn run(&self, line: &str) -> Out {
        hamctrl_at(&self.ham.socket, &words(line))
    }

    /// Runs hamctrl, asserts exit 0 and an empty stderr, returns stdout.
    #[track_caller]
    fn ok(&self, line: &str) -> String {
        let out = self.run(line);
        assert_eq!(
            (out.code, out.stderr.as_str()),
            (Some(0), ""),
            "{line}: {out:?}"
        );
        out.stdout
    }

    /// Runs each line with [`Node::ok`].
    #[track_caller]
    fn steps(&self, lines: &[&str]) {
        for line in lines {
            self.ok(line);
        }
    }

    /// Runs hamctrl, asserts exit 1, nothing on stdout and one line
    /// `hamctrl: ERRNO: ...` on stderr; returns stderr.
    #[track_caller]
    fn refused(&self, line: &str, errno: &str) -> String {
        let out = self.run(line);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(1), ""),
            "{line}: {out:?}"
        );
        let prefix = format!("hamctrl: {errno}: ");
        assert!(out.stderr.starts_with(&prefix), "{line}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{line}: {out:?}");
        out.stderr
    }

    /// Asserts a usage error: exit 2 and nothing on stdout.
    #[track_caller]
    fn usage_error(&self, line: &str) {
        let out = self.run(line);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(2), ""),
            "{line}: {out:?}"
        );
    }

    /// One entity as the client library reads the tree (bounded).
    fn entity(&self, name: &str) -> EntityInfo {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            tokio::time::timeout(LIMIT, async {
                let ham = Ham::connect_uds(&self.ham.socket).await.unwrap();
                let tree = ham.tree(NodeSel::Local, name, "", "", false).await;
                tree.unwrap().entities.remove(0)
            })
            .await
            .expect("tree answer in time")
        })
    }

    /// Waits (bounded) for the daemon to exit by itself.
    fn exit_code(&mut self) -> Option<i32> {
        self.ham.wait_exit(Duration::from_secs(10))
    }
}

/// A process of our own to attach by pid; killed and reaped on drop.
struct Sleeper(std::process::Child);

impl Sleeper {
    fn start() -> Sleeper {
        let child = Command::new("/bin/sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn /bin/sleep");
        Sleeper(child)
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The values of the lines of `text` that read `key : value`.
fn field<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    let prefix = format!("{key} : ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn words_split_like_a_shell_line() {
    assert_eq!(
        words(r#" a  'b c' d'e f'g '' "it's" "#),
        ["a", "b c", "de fg", "", "it's"].map(String::from)
    );
}

// -- X5: the tree as files ----------------------------------------------------

#[test]
fn x5_the_file_of_every_action_kind() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web death death",
        "action web death restart restart --cmd '/usr/sbin/web -D' --rearm",
        "action web death exec execute --cmd /bin/true --wait --timeout-ms 100",
        "action web death wait waitfor --delay-ms 250 --path /tmp",
        "action web death pulse pulse --pid 10 --chid 2 --code 3 --value -4 --to-node testnode",
        // A target node given by id is shown by name.
        "action web death sig signal --pid 10 --signum SIGUSR1 --value 5 --to-node 1",
        "action web death healthy healthy",
        "action web death log log --message -stop --prefix --level 2",
        "action-fail web death exec f1 execute --cmd /bin/false",
        "action-fail web death exec f2 waitfor --delay-ms 10",
        "action-fail web death exec f3 log --message failed",
    ]);
    assert_eq!(
        n.ok("ls web/death"),
        ".info\nrestart\nexec\nwait\npulse\nsig\nhealthy\nlog\n"
    );
    assert_eq!(n.ok("ls web/death/sig"), "sig\n");
    let files = [
        ("restart", "ON", "Restart Line : /usr/sbin/web -D\n"),
        (
            "exec",
            "OFF",
            "Execute Line : /bin/true\nWait Timeout : 100 ms\n\
             Action Fail : f1 execute /bin/false\nAction Fail : f2 waitfor 10 ms\n\
             Action Fail : f3 log failed\n",
        ),
        ("wait", "OFF", "Delay : 250 ms\nPath : /tmp\n"),
        (
            "pulse",
            "OFF",
            "Pulse : code 3 value -4 chid 2 pid 10 node testnode\n",
        ),
        ("sig", "OFF", "Signal : 10 value 5 pid 10 node testnode\n"),
        ("healthy", "OFF", "Heartbeat Healthy : ON\n"),
        ("log", "OFF", "Log : -stop\n"),
    ];
    for (action, rearm, rest) in files {
        let head = format!("Path : web/death/{action}\nEntity Pid : 0\nAction ReArm : {rearm}\n");
        assert_eq!(n.ok(&format!("cat web/death/{action}")), head + rest);
    }
}

#[test]
fn x5_filters_the_global_entity_and_entity_stats_in_info_files() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web r raise --rtype any --rclass 2 --rseverity 3",
        "condition web s state --from any --to 1,2 --to-set --to-inv",
        "condition web v state --from 1 --to -2",
        "condition @global all CONDANY",
        "action @global all note log --message m",
    ]);
    assert_eq!(
        n.ok("cat web/r/.info"),
        "Path : web/r\nEntity Pid : 0\nNum Actions : 0\nCondition ReArm : OFF\n\
         Condition type : CONDRAISE\nRaise Filter : type ANY class 2 severity 3\n"
    );
    assert_eq!(
        field(&n.ok("cat web/s"), "State Filter"),
        ["from ANY to !{1,2}"]
    );
    assert_eq!(field(&n.ok("cat web/v"), "State Filter"), ["from 1 to -2"]);

    // The node's global entity shows as @global once it holds a condition.
    assert_eq!(n.ok("ls"), ".info\n@global/\nweb/\n");
    assert_eq!(n.ok("ls @global"), ".info\nall/\n");
    assert_eq!(n.ok("ls /ham/@global/all"), ".info\nnote\n");
    let global = n.ok("cat @global/.info");
    assert_eq!(field(&global, "Path"), ["@global"]);
    assert_eq!(field(&global, "Entity type"), ["GLOBAL"]);
    assert_eq!(
        field(&n.ok("cat @global/all"), "Condition type"),
        ["CONDANY"]
    );
    assert_eq!(field(&n.ok("cat @global/all/note"), "Log"), ["m"]);
    n.refused("cat @global/nope", "ENOENT");

    let web = n.ok("cat web");
    assert_eq!(field(&web, "Entity type"), ["PLACEHOLDER"]);
    assert_eq!(field(&web, "Num conditions"), ["3"]);
    assert_eq!(field(&web, "Num Restarts"), ["0"]);
    // Never died, never restarted: no such lines.
    assert!(field(&web, "Last Death").is_empty() && field(&web, "Restarted").is_empty());
    // `YYYY/MM/DD HH:MM:SS:NNNNNNNNN`, UTC.
    let created = field(&web, "Created");
    assert_eq!(created.len(), 1, "{web}");
    let shape: String = created[0]
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999/99/99 99:99:99:999999999", "{web}");
}

#[test]
fn x5_paths_in_every_form_and_missing_objects_are_enoent() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web death death",
        "action web death log log --message m",
    ]);
    let top = n.ok("cat .info");
    for same in ["cat", "cat /ham/.info", "cat /proc/ham/.info"] {
        assert_eq!(n.ok(same), top, "{same}");
    }
    assert_eq!(n.ok("ls /proc/ham"), n.ok("ls"));
    assert_eq!(n.ok("ls /ham/web"), ".info\ndeath/\n");
    assert_eq!(n.ok("cat /ham/web/.info"), n.ok("cat web"));
    assert_eq!(n.ok("cat web/death/"), n.ok("cat web/death/.info"));
    assert_eq!(n.ok("ls web/.info"), ".info\n");

    for path in ["nope", "web/nope", "web/death/nope"] {
        let err = n.refused(&format!("cat {path}"), "ENOENT");
        assert!(err.contains("nope"), "{err}");
        n.refused(&format!("ls {path}"), "ENOENT");
    }
    n.usage_error("ls a/b/c/d");
    n.usage_error("cat a/.info/b");
}

// -- X2: every write verb, control ------------------------------------------------

#[test]
fn x2_every_write_verb_changes_the_tree() {
    // Declared first, dropped last: the daemon is gone before its process is killed.
    let sleeper = Sleeper::start();
    let n = Node::start();
    let pid = sleeper.0.id();
    n.steps(&[
        &format!("attach inetd --pid {pid} --cmd '/usr/sbin/inetd -D'"),
        "condition inetd death death",
        "action inetd death restart restart --cmd '/usr/sbin/inetd -D' --rearm",
        "attach web --cmd /bin/true --keep-on-death",
        "entity later",
        "detach later",
        "condition inetd c CONDDEATH --rearm",
        "condition inetd r raise --rtype -1 --rclass 2",
        "condition inetd s state --from any --to 1,2 --to-set",
        "condition-remove inetd c",
        "action inetd death x execute --cmd /bin/true --wait --timeout-ms 5",
        "action inetd death p pulse --pid 1 --chid 2 --value -3 --to-node testnode",
        "action inetd death s signal --pid 1 --signum SIGUSR1",
        "action inetd death h healthy",
        "action inetd death l log --message -stop --prefix",
        "action-fail inetd death restart f execute --cmd /bin/false",
        "action-fail inetd death restart g log --message m",
        "action-fail-remove inetd death restart f",
        "action-remove inetd death h",
        "raise inetd --rtype 1 --rclass 2 --rseverity 3",
        "state inetd -5",
        "control action inetd/death/restart disable --recurse",
    ]);
    assert_eq!(n.ok("ls"), ".info\ninetd/\nweb/\n");
    assert_eq!(n.ok("ls inetd"), ".info\ndeath/\nr/\ns/\n");
    assert_eq!(n.ok("ls inetd/death"), ".info\nrestart\nx\np\ns\nl\n");
    let restart = n.ok("cat inetd/death/restart");
    assert_eq!(field(&restart, "Action Fail"), ["g log m"]);
    assert_eq!(field(&restart, "Enabled"), ["OFF"]);
    let inetd = n.ok("cat inetd");
    assert_eq!(field(&inetd, "Entity Pid"), [pid.to_string()]);
    assert_eq!(field(&inetd, "Entity type"), ["ATTACHED"]);

    let inetd = n.entity("inetd");
    assert_eq!(inetd.state, -5);
    assert_eq!(inetd.command_line, "/usr/sbin/inetd -D");
    let types: Vec<i32> = inetd.conditions.iter().map(|c| c.condition_type).collect();
    let want = [
        ConditionType::Death,
        ConditionType::Raise,
        ConditionType::State,
    ];
    assert_eq!(types, want.map(|t| t as i32));
    let web = n.entity("web");
    assert_eq!(web.command_line, "/bin/true");
    assert_eq!(web.flags, flags::HENTITYKEEPONDEATH);
}

#[test]
fn x2_control_prints_the_flags_after_the_command() {
    let n = Node::start();
    n.steps(&[
        "entity web --keep-on-death",
        "condition web death death --rearm",
        "action web death log log --message m",
    ]);
    let flag_changes = [
        ("entity web get-flags", "0x00000010 HENTITYKEEPONDEATH"),
        (
            "condition /ham/web/death add-flags condnowait",
            "0x00000101 HREARMAFTERRESTART|HCONDNOWAIT",
        ),
        (
            "condition web/death remove-flags HCONDNOWAIT",
            "0x00000001 HREARMAFTERRESTART",
        ),
        (
            "action web/death/log set-flags 0x40000",
            "0x00040000 HACTIONKEEPONFAIL",
        ),
        ("action web/death/log set-flags 0", "0x00000000 0"),
    ];
    for (args, printed) in flag_changes {
        assert_eq!(n.ok(&format!("control {args}")), format!("{printed}\n"));
    }
    // Enable and disable print nothing; --recurse reaches everything below.
    assert_eq!(n.ok("control entity web disable --recurse"), "");
    for path in ["web", "web/death", "web/death/log"] {
        let file = n.ok(&format!("cat {path}"));
        assert_eq!(field(&file, "Enabled"), ["OFF"], "{path}");
    }
    assert_eq!(n.ok("control entity web enable"), "");
    assert!(field(&n.ok("cat web"), "Enabled").is_empty());
    assert_eq!(field(&n.ok("cat web/death"), "Enabled"), ["OFF"]);

    // A flag the object does not take is the HAM's refusal (exit 1) ...
    n.refused("control entity web add-flags HCONDNOWAIT", "EINVAL");
    n.refused(
        "control action web/death/log add-flags HACTIONWAIT",
        "EINVAL",
    );
    n.refused("control entity nope get-flags", "ENOENT");
    // ... a command line that makes no sense is hamctrl's (exit 2).
    for line in [
        "control entity web/death enable",
        "control condition web enable",
        "control entity web set-flags",
        "control entity web get-flags 0x1",
        "control entity web add-flags HBOGUS",
    ] {
        n.usage_error(line);
    }
    assert_eq!(
        n.ok("control entity web get-flags"),
        "0x00000010 HENTITYKEEPONDEATH\n"
    );
}

#[test]
fn x2_refusals_exit_1_with_the_errno_and_usage_errors_exit_2() {
    let n = Node::start();
    n.steps(&[
        "attach inetd --pid 1",
        "condition inetd death death",
        "action inetd death restart restart --cmd /bin/true",
    ]);
    let err = n.refused("attach inetd --pid 1", "EEXIST");
    assert!(err.contains("inetd"), "{err}");
    let err = n.refused("condition nope c death", "ENOENT");
    assert!(err.contains("nope"), "{err}");
    let refusals = [
        ("action inetd death w waitfor --delay-ms 0", "EINVAL"),
        ("attach web --cmd 'sleep 1'", "EINVAL"),
        ("attach web --cmd \"/bin/echo 'open\"", "EINVAL"),
        ("condition inetd n/a death", "EINVAL"),
        ("state nope 1", "ENOENT"),
        ("raise nope --rtype 1 --rclass 1 --rseverity 1", "ENOENT"),
        ("detach nope", "ENOENT"),
        // The node's global entity is never detached, attached or created (N4).
        ("detach @global", "EINVAL"),
        ("attach @global --pid 1", "EINVAL"),
        ("entity @global", "EINVAL"),
        ("action-remove inetd death nope", "ENOENT"),
        ("action-fail-remove inetd death restart nope", "ENOENT"),
    ];
    for (line, errno) in refusals {
        n.refused(line, errno);
    }
    n.refused(&format!("entity {}", "x".repeat(256)), "ENAMETOOLONG");

    for line in [
        "action inetd death r restart",
        "action-fail inetd death restart f healthy",
        "action-fail inetd death restart f restart --cmd /bin/x",
        "condition inetd c death --rtype 1",
        "condition inetd c raise --from 1",
        "condition inetd c nonsense",
        "action inetd death w waitfor --wait --delay-ms 5",
        "action inetd death s signal --pid 1 --signum SIGNOPE",
        "attach x",
        "state inetd many",
        "bogus",
    ] {
        n.usage_error(line);
    }
    // None of that changed anything.
    assert_eq!(n.ok("ls"), ".info\ninetd/\n");
    assert_eq!(n.ok("ls inetd"), ".info\ndeath/\n");
    assert_eq!(n.ok("ls inetd/death"), ".info\nrestart\n");
}

// -- X4, X3, N6: verbosity, stop, nodes ----------------------------------------------

#[test]
fn x4_verbose_verbs_print_the_verbosity_after_the_operation() {
    let n = Node::start();
    let steps = [
        ("verbose get", "1"),
        ("verbose set 4", "4"),
        ("verbose incr 3", "7"),
        // A step of 0 counts as 1.
        ("verbose decr 0", "6"),
        ("verbose decr", "5"),
        ("-node 1 =verbose", "5"),
        ("-node testnode -verbose", "6"),
    ];
    for (line, printed) in steps {
        assert_eq!(n.ok(line), format!("{printed}\n"), "{line}");
    }
    assert_eq!(field(&n.ok("cat .info"), "Verbosity"), ["6"]);
    n.refused("-node nowhere =verbose", "EHOSTUNREACH");
}

#[test]
fn n6_node_ids_address_nodes_in_hamctrl() {
    let n = Node::start();
    n.ok("-node 1 entity by-id");
    n.ok("-node 0 entity local");
    n.ok("--node testnode entity by-name");
    let listing = ".info\nby-id/\nby-name/\nlocal/\n";
    for line in [
        "-node 1 ls",
        "-node 0 ls",
        "-node testnode ls",
        "ls --node 1",
    ] {
        assert_eq!(n.ok(line), listing, "{line}");
    }
    assert_eq!(
        field(&n.ok("-node 1 cat .info"), "Node"),
        ["testnode (id 1)"]
    );
    assert_eq!(n.ok("nodes --node 1").lines().count(), 1);
    let err = n.refused("-node 2 ls", "EHOSTUNREACH");
    assert!(err.contains('2'), "{err}");
    n.refused("-node 2 entity x", "EHOSTUNREACH");
    n.ok("condition by-id c death");
    n.refused(
        "action by-id c s signal --pid 1 --signum 10 --to-node 2",
        "EHOSTUNREACH",
    );
    // Too large for a node id: a usage error, not a name.
    n.usage_error("-node 99999999999999999999 ls");
    let help = n.ok("--help");
    assert!(
        help.contains("a value of only digits is a node id"),
        "{help}"
    );
    assert!(help.contains("-node NAME|ID"), "{help}");
}

#[test]
fn x3_stop_forms_with_a_node() {
    let mut n = Node::start();
    n.refused("-node nowhere -stop", "EHOSTUNREACH");
    n.refused("-node 2 -stop", "EHOSTUNREACH");
    // Stopping every node needs --cluster.
    assert_eq!(n.run("--node * stop").code, Some(1));
    assert_eq!(n.ok("ls"), ".info\n", "still serving");
    n.ok("-node testnode -stop");
    assert_eq!(n.exit_code(), Some(0), "{}", n.ham.log_text());
}

#[test]
fn x3_cluster_stop_with_the_cluster_flag() {
    let mut n = Node::start();
    n.ok("--node * stop --cluster");
    assert_eq!(n.exit_code(), Some(0), "{}", n.ham.log_text());
}

// -- A2: attach --restart ---------------------------------------------------------------

/// A line that ends by itself soon, so that nothing it starts outlives the test for long.
const LINE: &str = "/bin/sleep 5";

#[test]
fn a2_attach_restart_adds_the_death_condition_and_the_restart_action() {
    let n = Node::start();
    n.ok(&format!("attach web --cmd '{LINE}' --restart"));
    assert_eq!(n.ok("ls web"), ".info\ndeath/\n");
    assert_eq!(n.ok("ls web/death"), ".info\nrestart\n");
    let death = n.ok("cat web/death");
    assert_eq!(field(&death, "Condition type"), ["CONDDEATH"]);
    assert_eq!(field(&death, "Condition ReArm"), ["ON"]);
    let restart = n.ok("cat web/death/restart");
    assert_eq!(field(&restart, "Restart Line"), [LINE]);
    assert_eq!(field(&restart, "Action ReArm"), ["ON"]);
    let web = n.entity("web");
    assert_eq!(web.command_line, LINE);
    assert_eq!(web.conditions[0].flags, flags::HREARMAFTERRESTART);
    assert_eq!(
        web.conditions[0].actions[0].flags,
        flags::HREARMAFTERRESTART
    );
    // Without --cmd there is no line to restart with.
    n.usage_error("attach db --pid 1 --restart");
}

#[test]
fn a2_attach_restart_says_what_exists_when_a_later_step_fails() {
    let n = Node::start();
    // A placeholder that already has a condition named `death`.
    n.steps(&["entity web", "condition web death detach"]);
    let err = n.refused(&format!("attach web --cmd '{LINE}' --restart"), "EEXIST");
    assert!(
        err.ends_with("(entity web is attached, without condition death)\n"),
        "{err}"
    );
    assert_eq!(field(&n.ok("cat web"), "Entity type"), ["ATTACHED"]);
    assert_eq!(
        field(&n.ok("cat web/death"), "Condition type"),
        ["CONDDETACH"]
    );

    // A placeholder whose restart action sits in another death condition (A2).
    n.steps(&[
        "entity db",
        "condition db crash abnormaldeath",
        &format!("action db crash again restart --cmd '{LINE}'"),
    ]);
    let err = n.refused(&format!("attach db --cmd '{LINE}' --restart"), "EEXIST");
    assert!(
        err.ends_with("(entity db is attached with condition death, without action restart)\n"),
        "{err}"
    );
    assert_eq!(n.ok("ls db"), ".info\ncrash/\ndeath/\n");
    assert_eq!(n.ok("ls db/death"), ".info\n");
}

// -- M1 ------------------------------------------------------------------------------------

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
