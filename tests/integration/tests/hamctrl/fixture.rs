//! What every `hamctrl` test shares: a daemon with its own directory,
//! hamctrl runs that are bounded in time, shell-like command lines (see
//! [`words`]), and the guide's fs-nfs2 tree.

pub use ham_client::proto::EntityInfo;
pub use ham_client::{ConditionType, Ham, NodeSel, flags};
pub use ham_integration_tests::{HamProcess, bin};
pub use std::path::Path;
pub use std::process::{Command, Stdio};
pub use std::time::{Duration, Instant};

/// Longest one hamctrl run may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Splits a command line on white space; `'...'` and `"..."` group words
/// into one and are removed, as in a shell.
pub fn words(line: &str) -> Vec<String> {
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
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs hamctrl against the HAM at `socket`; killed (and the test failed) after [`LIMIT`].
pub fn hamctrl_at(socket: &Path, args: &[String]) -> Out {
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
pub struct Node {
    pub ham: HamProcess,
    pub _dir: tempfile::TempDir,
}

impl Node {
    pub fn start() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        Node {
            ham: HamProcess::start(dir.path()),
            _dir: dir,
        }
    }

    pub fn run(&self, line: &str) -> Out {
        hamctrl_at(&self.ham.socket, &words(line))
    }

    /// Runs hamctrl, asserts exit 0 and an empty stderr, returns stdout.
    #[track_caller]
    pub fn ok(&self, line: &str) -> String {
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
    pub fn steps(&self, lines: &[&str]) {
        for line in lines {
            self.ok(line);
        }
    }

    /// Runs hamctrl, asserts exit 1, nothing on stdout and one line
    /// `hamctrl: ERRNO: ...` on stderr; returns stderr.
    #[track_caller]
    pub fn refused(&self, line: &str, errno: &str) -> String {
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
    pub fn usage_error(&self, line: &str) {
        let out = self.run(line);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(2), ""),
            "{line}: {out:?}"
        );
    }

    /// One entity as the client library reads the tree (bounded).
    pub fn entity(&self, name: &str) -> EntityInfo {
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
    pub fn exit_code(&mut self) -> Option<i32> {
        self.ham.wait_exit(Duration::from_secs(10))
    }
}

/// A process of our own to attach by pid; killed and reaped on drop.
pub struct Sleeper(pub std::process::Child);

impl Sleeper {
    pub fn start() -> Sleeper {
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
pub fn field<'t>(text: &'t str, key: &str) -> Vec<&'t str> {
    let prefix = format!("{key} : ");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

pub fn build_fs_nfs2(ham: &HamProcess) {
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

pub fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).collect()
}

#[test]
fn words_split_like_a_shell_line() {
    assert_eq!(
        words(r#" a  'b c' d'e f'g '' "it's" "#),
        ["a", "b c", "de fg", "", "it's"].map(String::from)
    );
}
