//! Starting a process: its own process group, a clean environment, standard
//! output and error to a log file.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

/// The PATH a started process gets (the HAM itself never searches it: E3).
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec<'a> {
    /// argv; argv[0] is an absolute path.
    pub argv: &'a [String],
    /// Extra environment on top of PATH.
    pub env: Vec<(&'static str, String)>,
    /// Where standard output and error go (None: /dev/null).
    pub log: Option<&'a File>,
}

/// Starts the process and returns its pid. The process is not waited for
/// here: the reaper collects its exit status.
///
/// `std` uses `posix_spawn` for this combination of options (no `pre_exec`,
/// no uid change), which does not copy the agent's page tables: starting a
/// process costs the same whatever the agent's size.
pub fn spawn(spec: &SpawnSpec<'_>) -> io::Result<u32> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", CHILD_PATH)
        .envs(spec.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .process_group(0);
    match spec.log {
        Some(file) => {
            cmd.stdout(file.try_clone()?).stderr(file.try_clone()?);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    let child = cmd.spawn()?;
    // Dropping `Child` neither kills nor waits: the reaper owns the exit status.
    Ok(child.id())
}
