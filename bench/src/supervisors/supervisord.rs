//! supervisord with one `[program]`, `autorestart=true`. Two settings of
//! `startsecs`: 0 (the process counts as started at once, so every death
//! is a restart) and the default 1 (a process that dies within 1 s is a
//! failed start: supervisord backs off 1, 2, 3 s and gives up after
//! `startretries=3`).

use super::{Env, Supervised, launch, require};
use crate::collector::Collector;
use std::process::Command;

/// Which `startsecs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartSecs {
    /// `startsecs=0`.
    Zero,
    /// The default, `startsecs=1`.
    Default,
}

/// Starts supervisord in the foreground.
pub fn start(
    env: &Env,
    collector: &mut Collector,
    startsecs: StartSecs,
) -> anyhow::Result<Supervised> {
    let supervisord = require("supervisord")?;
    let (name, label, setting) = match startsecs {
        StartSecs::Zero => ("supervisord", "supervisord (startsecs=0)", "startsecs=0\n"),
        StartSecs::Default => (
            "supervisord-default",
            "supervisord (default startsecs=1)",
            "",
        ),
    };
    let dir = env.dir.join(name);
    std::fs::create_dir_all(&dir)?;
    let conf = dir.join("supervisord.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\n\
             pidfile={d}/supervisord.pid\nchildlogdir={d}\n\n\
             [program:probe]\ncommand={}\nautorestart=true\n{setting}\
             stdout_logfile=NONE\nstderr_logfile=NONE\n",
            env.probe_line(name)
        ),
    )?;
    let mut cmd = Command::new(supervisord);
    cmd.arg("-n").arg("-c").arg(&conf);
    let log = dir.join("stdout.log");
    launch(env, collector, label, name, cmd, &log)
}
