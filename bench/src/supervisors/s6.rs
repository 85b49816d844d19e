//! s6: `s6-supervise` on a service directory whose `run` script execs the
//! probe. s6-supervise is the process that notices the death and restarts
//! `./run` (s6-svscan only starts one s6-supervise per directory), so it is
//! run directly.
//!
//! s6-supervise 2.11 waits before every restart: when the service dies it
//! sets its next start to "ready time + 1 s" if the service notified
//! readiness, else to "now + 1 s" (`set_down_and_ready` in
//! src/supervision/s6-supervise.c). So without readiness notification
//! every restart takes 1 s; with it (`notification-fd`, the probe writes a
//! newline) a service that was ready for more than 1 s restarts at once.

use super::{Env, Supervised, launch, require};
use crate::collector::Collector;
use std::process::Command;

/// The fd the probe notifies readiness on.
const READY_FD: u32 = 3;

/// Starts s6-supervise; with `ready`, the service notifies readiness.
pub fn start(env: &Env, collector: &mut Collector, ready: bool) -> anyhow::Result<Supervised> {
    let supervise = require("s6-supervise")?;
    let (name, label, extra) = if ready {
        (
            "s6ready",
            "s6 (readiness notification)",
            format!(" {READY_FD}"),
        )
    } else {
        ("s6", "s6 (s6-supervise)", String::new())
    };
    let dir = env.service_dir(name, name, &extra)?;
    if ready {
        std::fs::write(dir.join("notification-fd"), format!("{READY_FD}\n"))?;
    }
    let mut cmd = Command::new(supervise);
    cmd.arg(&dir);
    let log = env.dir.join(format!("{name}.log"));
    launch(env, collector, label, name, cmd, &log)
}
