//! A 3-node `ham` cluster on 127.0.0.1..3: start, kill -9, restart, and
//! "who leads" as every node sees it.

use crate::procs::{Proc, free_port, poll_until, tail};
use anyhow::{Context, Result, bail};
use ham_client::{Ham, NodeSel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long a node may take to come up (it answers on its socket only once
/// the cluster has a leader and it is registered).
const START_LIMIT: Duration = Duration::from_secs(30);
/// Bound of every single API call made to check the cluster.
const CALL_LIMIT: Duration = Duration::from_secs(2);

/// One `ham` daemon.
#[derive(Debug)]
pub struct HamNode {
    /// Its name, `n<id>`.
    pub name: String,
    /// Its API socket.
    pub socket: PathBuf,
    log: PathBuf,
    args: Vec<String>,
    proc: Option<Proc>,
}

impl HamNode {
    fn launch(&mut self, bin: &Path) -> Result<()> {
        let mut cmd = Command::new(bin);
        cmd.args(&self.args);
        self.proc = Some(Proc::spawn(&self.name, cmd, &self.log)?);
        Ok(())
    }

    /// Whether the daemon runs.
    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::is_running)
    }
}

/// Three (or `n`) `ham` nodes sharing one directory.
#[derive(Debug)]
pub struct HamCluster {
    bin: PathBuf,
    /// The nodes, id i+1 at index i.
    pub nodes: Vec<HamNode>,
}

/// A connection to a node's socket with the handshake done, bounded.
pub async fn connect(socket: &Path) -> Result<Ham> {
    match tokio::time::timeout(CALL_LIMIT, Ham::connect_uds(socket)).await {
        Ok(Ok(ham)) => Ok(ham),
        Ok(Err(e)) => bail!("{}: {e}", socket.display()),
        Err(_) => bail!("{}: no answer within {CALL_LIMIT:?}", socket.display()),
    }
}

/// The leader id a node reports (0 = none known), or `None` when it does not answer.
pub async fn leader_seen_by(socket: &Path) -> Option<u64> {
    if !socket.exists() {
        return None;
    }
    let ham = connect(socket).await.ok()?;
    let info = tokio::time::timeout(CALL_LIMIT, ham.handshake(NodeSel::Local))
        .await
        .ok()?
        .ok()?;
    Some(info.leader_id)
}

impl HamCluster {
    /// Starts `n` nodes under `dir` (node i on 127.0.0.i) and waits until
    /// every one answers. `extra` goes to every node's command line.
    pub async fn start(ham_bin: &Path, dir: &Path, n: u64, extra: &[String]) -> Result<HamCluster> {
        let addrs: Vec<String> = (1..=n)
            .map(|i| {
                let ip = format!("127.0.0.{i}");
                free_port(&ip).map(|p| format!("{ip}:{p}"))
            })
            .collect::<Result<_>>()?;
        let peers: Vec<String> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("--peer={}=n{}@{a}", i + 1, i + 1))
            .collect();
        // Plain text on loopback (--insecure): calls one node forwards to another arrive
        // anonymous, so the policy of such a cluster grants anonymous callers admin.
        let policy = dir.join("insecure-cluster.toml");
        std::fs::write(&policy, "[policy]\nanonymous = \"admin\"\n")?;
        let mut nodes = Vec::new();
        for id in 1..=n {
            let data = dir.join(format!("n{id}"));
            std::fs::create_dir_all(&data)?;
            let socket = dir.join(format!("n{id}.sock"));
            let mut args = vec![
                "--node-id".to_owned(),
                id.to_string(),
                "--data-dir".to_owned(),
                data.display().to_string(),
                "--socket".to_owned(),
                socket.display().to_string(),
                "-d".to_owned(),
                "--insecure".to_owned(),
            ];
            if !extra
                .iter()
                .any(|a| a == "--config" || a.starts_with("--config="))
            {
                args.extend(["--config".to_owned(), policy.display().to_string()]);
            }
            // No timestamps in the log, unless the caller asks for a style.
            if !extra.iter().any(|a| a.starts_with("-t")) {
                args.extend(["-t".to_owned(), "none".to_owned()]);
            }
            args.extend(peers.iter().cloned());
            args.extend(extra.iter().cloned());
            nodes.push(HamNode {
                name: format!("n{id}"),
                socket,
                log: dir.join(format!("n{id}.log")),
                args,
                proc: None,
            });
        }
        let mut cluster = HamCluster {
            bin: ham_bin.to_owned(),
            nodes,
        };
        for i in 0..cluster.nodes.len() {
            cluster.nodes[i].launch(&cluster.bin)?;
        }
        for i in 0..cluster.nodes.len() {
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// Pids of the running daemons.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|n| n.proc.as_ref().map(Proc::pid))
            .collect()
    }

    /// Waits (bounded) until node `i` answers on its socket and knows a leader.
    pub async fn wait_ready(&mut self, i: usize) -> Result<()> {
        let socket = self.nodes[i].socket.clone();
        let res = poll_until(
            &format!("{} to answer", self.nodes[i].name),
            START_LIMIT,
            Duration::from_millis(20),
            || async { leader_seen_by(&socket).await.filter(|&l| l != 0) },
        )
        .await;
        if let Err(e) = res {
            let node = &mut self.nodes[i];
            let state = if node.is_running() {
                "running"
            } else {
                "exited"
            };
            bail!("{e} ({} {state}; log:\n{})", node.name, tail(&node.log, 20));
        }
        Ok(())
    }

    /// SIGKILL to node `i`; returns the CLOCK_MONOTONIC time just before kill().
    pub fn kill9(&mut self, i: usize) -> Result<u64> {
        let node = &mut self.nodes[i];
        let proc = node
            .proc
            .as_mut()
            .with_context(|| format!("{} is not running", node.name))?;
        let at = proc.kill9()?;
        node.proc = None;
        Ok(at)
    }

    /// Starts node `i` again with the same command line and data, and waits
    /// until it answers.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        let bin = self.bin.clone();
        self.nodes[i].launch(&bin)?;
        self.wait_ready(i).await
    }

    /// Waits (bounded by `limit`) until every node reports the same leader
    /// in `rounds` polls in a row, 50 ms apart; returns its index.
    pub async fn stable_leader(&self, limit: Duration, rounds: u32) -> Result<usize> {
        let start = std::time::Instant::now();
        let (mut same, mut last) = (0, 0);
        while start.elapsed() < limit {
            let mut seen = Vec::new();
            for n in &self.nodes {
                seen.push(leader_seen_by(&n.socket).await.unwrap_or(0));
            }
            let l = seen[0];
            if l != 0 && seen.iter().all(|&x| x == l) {
                same = if last == l { same + 1 } else { 1 };
                last = l;
                if same >= rounds {
                    return Ok(usize::try_from(l - 1)?);
                }
            } else {
                (same, last) = (0, 0);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("no leader every node agrees on within {limit:?}")
    }
}

impl Drop for HamCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.proc = None;
        }
    }
}
