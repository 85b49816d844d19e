//! `ham-bench floor-supervisor PROGRAM ARGS...`: the reference supervisor,
//! the floor every other one is compared with. It starts the program, waits
//! for it, and starts it again at once: nothing else (no throttle, no
//! state, no logging).
//!
//! The start is `std::process::Command::spawn`, which uses `posix_spawn`
//! (`clone(CLONE_VM|CLONE_VFORK)` + exec, returning once exec is done):
//! the same primitive ham uses, so the floor measures the kernel's cost of
//! noticing a death and starting a program, not a slower fork path.

use anyhow::{Context as _, bail};
use std::process::Command;

/// Runs the loop; returns only on error.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let Some((program, rest)) = args.split_first() else {
        bail!("usage: ham-bench floor-supervisor PROGRAM ARGS...");
    };
    loop {
        let mut child = Command::new(program)
            .args(rest)
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        child.wait().context("waitpid")?;
    }
}
