//! The reference floor: `ham-bench floor-supervisor` running the probe.

use super::{Env, Supervised, launch};
use crate::collector::Collector;
use std::process::Command;

/// Starts the floor supervisor.
pub fn start(env: &Env, collector: &mut Collector) -> anyhow::Result<Supervised> {
    let mut cmd = Command::new(&env.exe);
    cmd.arg("floor-supervisor").args(env.probe_argv("floor"));
    let log = env.dir.join("floor.log");
    launch(
        env,
        collector,
        "floor (fork/exec+waitpid)",
        "floor",
        cmd,
        &log,
    )
}
