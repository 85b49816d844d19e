//! ham: a daemon with its own data directory and socket, the probe attached
//! with the three calls `hamctrl attach` + `condition death --rearm` +
//! `action restart --rearm` make, and optionally many idle entities.

use super::{Env, Supervised, first_report};
use crate::collector::Collector;
use crate::config::Config;
use crate::procs;
use anyhow::{Context as _, bail};
use ham_client::flags::HREARMAFTERRESTART;
use ham_client::{ConditionType, EntityHandle, Ham, NodeSel};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

/// A running ham daemon and a connection to it.
#[derive(Debug)]
pub struct HamDaemon {
    /// Connection over its Unix socket.
    pub client: Ham,
    /// The daemon's pid.
    pub pid: i32,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its output.
    pub log: PathBuf,
}

impl HamDaemon {
    /// Starts `ham` on `dir` and waits until its socket answers.
    pub fn start(rt: &Runtime, cfg: &Config, dir: PathBuf) -> anyhow::Result<HamDaemon> {
        std::fs::create_dir_all(&dir)?;
        let socket = dir.join("ham.sock");
        let log = dir.with_extension("log");
        let mut cmd = Command::new(&cfg.ham);
        cmd.arg("--data-dir")
            .arg(&dir)
            .arg("--socket")
            .arg(&socket)
            .args(if cfg.ham_verbose {
                ["-vv", "-t", "absolute"]
            } else {
                ["-t", "none", "-d"]
            })
            .env_remove("HAM_DATA_DIR")
            .env_remove("HAM_LISTEN")
            .env_remove("HAM_SOCKET");
        let mut child = procs::spawn_daemon(cmd, &log)?;
        let pid = i32::try_from(child.id())?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("ham exited with {status}:\n{}", procs::tail(&log));
            }
            let attempt = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), Ham::connect_uds(&socket)).await
            });
            if let Ok(Ok(client)) = attempt {
                return Ok(HamDaemon {
                    client,
                    pid,
                    dir,
                    log,
                });
            }
            if Instant::now() > deadline {
                bail!(
                    "ham did not answer on {}:\n{}",
                    socket.display(),
                    procs::tail(&log)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its sd_notify socket.
    pub fn notify_socket(&self) -> PathBuf {
        self.dir.join("notify.sock")
    }

    /// Attaches the probe (restarted on every death, never paced) and waits
    /// for its first report.
    pub fn supervise_probe(
        &self,
        rt: &Runtime,
        env: &Env,
        collector: &mut Collector,
        label: &str,
        tag: &str,
    ) -> anyhow::Result<Supervised> {
        // Pacing off: (a) kills every 2 s, five per 10 s, the default burst
        // exactly, and (a') kills 50 in a row; both measure the restart path.
        // (f) shows the default pacing.
        let off = ham_client::Pacing {
            off: true,
            ..Default::default()
        };
        rt.block_on(crate::measure::pacing::attach_probe(
            &self.client,
            "probe",
            &env.probe_line(tag),
            Some(off),
        ))
        .context("attaching the probe")?;
        first_report(env, collector, label, tag, self.pid, &self.log)
    }
}

/// Starts `line` as entity `name` and restarts it whenever it dies.
pub async fn attach_restarting(ham: &Ham, name: &str, line: &str) -> anyhow::Result<EntityHandle> {
    let entity = ham.attach(NodeSel::Local, name, -1, line, 0).await?;
    let death = ham
        .condition(&entity, ConditionType::Death, "death", HREARMAFTERRESTART)
        .await?;
    ham.action_restart(&death, "restart", line, HREARMAFTERRESTART)
        .await?;
    Ok(entity)
}

/// Attaches `count` entities `idle-N` running `line`, each restarted on
/// death, with at most `parallel` set-ups in flight.
pub async fn attach_idle(
    ham: &Ham,
    line: &str,
    count: usize,
    parallel: usize,
) -> anyhow::Result<()> {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let (ham, line) = (ham.clone(), line.to_owned());
        tasks.spawn(async move {
            let r = attach_restarting(&ham, &format!("idle-{i:04}"), &line).await;
            drop(permit);
            r
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}
