//! The README's secure cluster (P6: no tool but `ham cert`), run exactly as written: the
//! commands between its `secure-cluster` markers, in an empty directory.

use super::fixture::nodes_up;
use ham_integration_tests::bin;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One step of the README section.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A command run to completion.
    Run(Vec<String>),
    /// A daemon started in the background (`... &`).
    Spawn(Vec<String>),
    /// A file written with this text (the section's TOML block, `ham.toml`).
    File(String),
}

/// The steps of the section between the markers: shell blocks (comments dropped, `\`
/// continuations joined) and the one TOML block.
fn steps(readme: &str) -> Vec<Step> {
    let begin = readme
        .find("<!-- secure-cluster:begin -->")
        .expect("begin marker");
    let end = readme
        .find("<!-- secure-cluster:end -->")
        .expect("end marker");
    let mut steps = Vec::new();
    let mut lines = readme[begin..end].lines();
    while let Some(line) = lines.next() {
        let lang = match line.strip_prefix("```") {
            Some(lang) if !lang.is_empty() => lang.to_string(),
            _ => continue,
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        if lang == "toml" {
            steps.push(Step::File(body.join("\n") + "\n"));
            continue;
        }
        assert_eq!(lang, "sh", "only sh and toml blocks");
        let mut joined = String::new();
        for l in body {
            let l = l.split(" #").next().unwrap_or(l).trim_end();
            match l.strip_suffix('\\') {
                Some(part) => joined.push_str(part),
                None => {
                    joined.push_str(l);
                    let words: Vec<String> = joined.split_whitespace().map(String::from).collect();
                    joined.clear();
                    match words.split_last() {
                        None => {}
                        Some((last, rest)) if last == "&" => steps.push(Step::Spawn(rest.to_vec())),
                        Some(_) => steps.push(Step::Run(words)),
                    }
                }
            }
        }
    }
    steps
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).expect("read README.md")
}

fn command(dir: &Path, words: &[String]) -> Command {
    let (program, args) = words.split_first().expect("a command");
    assert!(
        program == "ham" || program == "hamctrl",
        "the README runs only ham and hamctrl: {words:?}"
    );
    let mut cmd = Command::new(bin(program));
    cmd.current_dir(dir).args(args);
    cmd
}

fn run(dir: &Path, words: &[String]) -> Output {
    command(dir, words).output().expect("run a README command")
}

/// The daemons the README starts, killed (by their pids) when the test ends.
struct Daemons(Vec<(Child, PathBuf)>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Daemons {
    fn logs(&self) -> String {
        self.0
            .iter()
            .map(|(_, log)| std::fs::read_to_string(log).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    }
}

#[test]
fn p6_readme_section_parses_into_its_commands() {
    let steps = steps(&readme());
    let runs = steps.iter().filter(|s| matches!(s, Step::Run(_))).count();
    let spawns = steps.iter().filter(|s| matches!(s, Step::Spawn(_))).count();
    let files = steps.iter().filter(|s| matches!(s, Step::File(_))).count();
    assert_eq!((spawns, files), (3, 1), "{steps:#?}");
    assert!(runs >= 7, "{steps:#?}");
    assert_eq!(
        steps[0],
        Step::Run(
            ["ham", "cert", "ca", "--dir", "certs"]
                .map(String::from)
                .to_vec()
        )
    );
}

#[test]
fn p6_readme_certificates_are_made_by_exactly_its_commands() {
    let dir = tempfile::tempdir().unwrap();
    for step in steps(&readme()) {
        let Step::Run(words) = step else { continue };
        if words[..2] != ["ham", "cert"] {
            continue;
        }
        let out = run(dir.path(), &words);
        assert!(
            out.status.success(),
            "{words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if words[2] == "show" {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("principal:") && text.contains("client \"ops@example\""),
                "{text}"
            );
        }
    }
    let certs = dir.path().join("certs");
    for f in [
        "ca.pem",
        "ca.key",
        "node-1.pem",
        "node-2.key",
        "node-3.pem",
        "client-ops@example.key",
    ] {
        assert!(certs.join(f).exists(), "{f}");
    }
}

#[test]
fn p6_readme_secure_cluster_runs_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut daemons = Daemons(Vec::new());
    for step in steps(&readme()) {
        match step {
            Step::File(text) => std::fs::write(root.join("ham.toml"), text).unwrap(),
            Step::Spawn(words) => {
                let log = root.join(format!("daemon{}.log", daemons.0.len() + 1));
                let child = command(root, &words)
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(&log).unwrap())
                    .spawn()
                    .expect("start a README daemon");
                daemons.0.push((child, log));
            }
            Step::Run(words) if words[0] == "ham" => {
                let out = run(root, &words);
                assert!(
                    out.status.success(),
                    "{words:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Step::Run(words) => {
                // The cluster may still be electing its first leader: bounded retries.
                let is_nodes = words.last().map(String::as_str) == Some("nodes");
                let start = Instant::now();
                let out = loop {
                    let out = run(root, &words);
                    let done = out.status.success()
                        && (!is_nodes || nodes_up(&String::from_utf8_lossy(&out.stdout)) == 3);
                    if done || start.elapsed() > Duration::from_secs(30) {
                        break out;
                    }
                    for (child, _) in &mut daemons.0 {
                        if let Ok(Some(status)) = child.try_wait() {
                            panic!("a README daemon exited with {status}:\n{}", daemons.logs());
                        }
                    }
                    std::thread::sleep(Duration::from_millis(200));
                };
                assert!(
                    out.status.success(),
                    "{words:?}: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    daemons.logs()
                );
                if is_nodes {
                    let text = String::from_utf8_lossy(&out.stdout);
                    assert_eq!(nodes_up(&text), 3, "{text}");
                }
            }
        }
    }
    // The write went to node 3's context through node 2. Node 1's Unix socket opens once it
    // is ready (after re-adoption), which on a loaded machine can come after its TCP port.
    let socket = root.join("data/n1/ham.sock");
    ham_integration_tests::wait_for("node 1's socket", Duration::from_secs(20), || {
        socket.exists()
    });
    let ls = Command::new(bin("hamctrl"))
        .arg("--socket")
        .arg(root.join("data/n1/ham.sock"))
        .args(["--node", "n3", "ls"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains("web"),
        "{ls:?}"
    );
}
