//! runit: `runsv` on a service directory whose `run` script execs the
//! probe. runsv is the process that notices the death and restarts `./run`
//! (runsvdir only starts one runsv per directory and rescans every 5 s), so
//! it is run directly.

use super::{Env, Supervised, launch, require};
use crate::collector::Collector;
use std::process::Command;

/// Starts runsv.
pub fn start(env: &Env, collector: &mut Collector) -> anyhow::Result<Supervised> {
    let runsv = require("runsv")?;
    let dir = env.service_dir("runit", "runit", "")?;
    let mut cmd = Command::new(runsv);
    cmd.arg(&dir);
    let log = env.dir.join("runit.log");
    launch(env, collector, "runit (runsv)", "runit", cmd, &log)
}
