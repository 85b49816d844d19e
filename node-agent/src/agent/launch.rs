//! What an entity's process options (HAM-CONTRACT L7, P4) make of one
//! start: the output, opened by the agent, and the credentials, resolved
//! before the spawn so that the child only makes system calls.

use super::logs::LogDir;
use crate::process::spawn::{Credentials, Output, SpawnSpec};
use ham_core::model::{OutputMode, ProcessOptions};
use std::fs::File;

/// One start being prepared.
#[derive(Debug)]
pub struct Launch<'a> {
    options: &'a ProcessOptions,
    log: Option<File>,
    credentials: Option<Credentials>,
}

impl<'a> Launch<'a> {
    /// Opens the entity's log (in `log` mode) and resolves its user's
    /// groups. A user whose groups cannot be read is a failed start: running
    /// it with fewer (or the agent's) groups would be wrong either way.
    pub fn prepare(
        logs: &LogDir,
        entity: &str,
        options: &'a ProcessOptions,
    ) -> std::io::Result<Launch<'a>> {
        let log = match options.output {
            OutputMode::Log => logs.open(entity),
            OutputMode::Inherit | OutputMode::Discard => None,
        };
        let credentials = Credentials::of(&options.run_as)?;
        Ok(Launch {
            options,
            log,
            credentials,
        })
    }

    /// The spawn of `argv` with the agent's environment `env`.
    pub fn spec(&'a self, argv: &'a [String], env: Vec<(&'static str, String)>) -> SpawnSpec<'a> {
        let output = match (self.options.output, &self.log) {
            (OutputMode::Inherit, _) => Output::Inherit,
            (OutputMode::Log, Some(file)) => Output::File(file),
            // A log that cannot be opened is not worth failing a restart for.
            (OutputMode::Log, None) | (OutputMode::Discard, _) => Output::Discard,
        };
        SpawnSpec {
            argv,
            env,
            extra_env: &self.options.env,
            cwd: self.options.cwd.as_deref(),
            output,
            limits: &self.options.limits,
            credentials: self.credentials.clone(),
        }
    }
}
