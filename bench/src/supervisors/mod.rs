//! The supervisors under test, each started with one probe under it:
//! the reference floor, ham, runit, s6 and supervisord.

pub mod ham;
pub mod reference;
pub mod runit;
pub mod s6;
pub mod supervisord;

use crate::collector::Collector;
use crate::procs;
use anyhow::bail;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What every supervisor start needs.
#[derive(Debug, Clone)]
pub struct Env {
    /// This benchmark's binary (the probe is one of its modes).
    pub exe: PathBuf,
    /// The run's temporary directory.
    pub dir: PathBuf,
    /// The collector's socket.
    pub report_socket: PathBuf,
    /// How long a supervisor may take to start its first probe.
    pub start_timeout: Duration,
}

impl Env {
    /// The probe's argv for `tag`.
    pub fn probe_argv(&self, tag: &str) -> Vec<String> {
        vec![
            self.exe.display().to_string(),
            "probe".to_owned(),
            self.report_socket.display().to_string(),
            tag.to_owned(),
        ]
    }

    /// The probe's command line for `tag` (no quoting needed: the paths
    /// are the benchmark's own and contain no spaces).
    pub fn probe_line(&self, tag: &str) -> String {
        self.probe_argv(tag).join(" ")
    }

    /// Writes a service directory whose `run` script execs the probe, as
    /// runit and s6 expect.
    /// `extra` is appended to the probe's arguments.
    pub fn service_dir(&self, name: &str, tag: &str, extra: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir.join(name).join("probe");
        std::fs::create_dir_all(&dir)?;
        let run = dir.join("run");
        std::fs::write(
            &run,
            format!("#!/bin/sh\nexec {}{extra}\n", self.probe_line(tag)),
        )?;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755))?;
        Ok(dir)
    }
}

/// A running supervisor with one probe under it.
#[derive(Debug)]
pub struct Supervised {
    /// Row label in the tables.
    pub label: String,
    /// The tag its probe reports with.
    pub tag: String,
    /// The supervisor daemon's pid.
    pub daemon_pid: i32,
    /// The probe's current pid (None after a restart that never came).
    pub probe: Option<i32>,
}

/// Starts a supervisor daemon and waits for its first probe report.
pub fn launch(
    env: &Env,
    collector: &mut Collector,
    label: &str,
    tag: &str,
    cmd: Command,
    log: &Path,
) -> anyhow::Result<Supervised> {
    let child = procs::spawn_daemon(cmd, log)?;
    let daemon_pid = i32::try_from(child.id())?;
    first_report(env, collector, label, tag, daemon_pid, log)
}

/// Waits for the first report of `tag` and returns the supervised probe.
pub fn first_report(
    env: &Env,
    collector: &mut Collector,
    label: &str,
    tag: &str,
    daemon_pid: i32,
    log: &Path,
) -> anyhow::Result<Supervised> {
    let Some(report) = collector.wait_new(tag, None, env.start_timeout)? else {
        bail!(
            "{label} did not start its probe within {:?}; its log ends with:\n{}",
            env.start_timeout,
            procs::tail(log)
        );
    };
    Ok(Supervised {
        label: label.to_owned(),
        tag: tag.to_owned(),
        daemon_pid,
        probe: Some(report.pid),
    })
}

/// The program, or a note that it is not installed.
pub fn require(program: &str) -> anyhow::Result<PathBuf> {
    match procs::find_program(program) {
        Some(p) => Ok(p),
        None => bail!("{program} is not installed (bench/run.sh installs it with apt-get)"),
    }
}
