//! `hamctrl attach NAME (--pid PID | --cmd LINE) [--restart]`.

use ham_client::{ConditionType, HamError, flags};

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

/// Name of the DEATH condition `--restart` adds.
pub const DEATH_CONDITION: &str = "death";
/// Name of the restart action `--restart` adds.
pub const RESTART_ACTION: &str = "restart";

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["pid", "cmd"])))]
pub struct Args {
    /// Entity name.
    pub name: String,
    /// Monitor this running process (--cmd then is its restart line).
    #[arg(long)]
    pub pid: Option<i64>,
    /// Command line to start (absolute program path; quotes group words).
    #[arg(long, value_name = "LINE")]
    pub cmd: Option<String>,
    /// Keep the entity after a death that is not restarted.
    #[arg(long)]
    pub keep_on_death: bool,
    /// Pidfile naming the daemon's pid after a daemonizing start.
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<String>,
    /// Also restart it whenever it dies: adds the DEATH condition `death`
    /// and in it the restart action `restart` running the --cmd line, both
    /// kept across restarts (HREARMAFTERRESTART). If a step fails, the error
    /// says what was created before it.
    #[arg(long, requires = "cmd")]
    pub restart: bool,
    /// Promise one heartbeat per this many ms (sd_notify `WATCHDOG=1` from the
    /// process, which gets WATCHDOG_USEC and NOTIFY_SOCKET, or the API).
    #[arg(long, value_name = "MS")]
    pub heartbeat_ms: Option<u64>,
    /// Missed periods in a row before HBEATMISSEDLOW (with --heartbeat-ms).
    #[arg(long, requires = "heartbeat_ms", default_value_t = 1)]
    pub hpdl: u32,
    /// Missed periods in a row before HBEATMISSEDHIGH (with --heartbeat-ms).
    #[arg(long, requires = "heartbeat_ms", default_value_t = 3)]
    pub hpdh: u32,
    /// The warning signal a stop sends first (number or name; default SIGTERM).
    #[arg(long, value_name = "SIGNAL", value_parser = super::kind::parse_signal)]
    pub warn_signal: Option<i32>,
    /// How long a stop waits after the warning before SIGKILL (default 10000).
    #[arg(long, value_name = "MS")]
    pub grace_ms: Option<u64>,
    /// What a stop reaches: every process of the entity (`group`, the
    /// default) or its main process alone (`process`).
    #[arg(long, value_name = "MODE", value_parser = ["group", "process"])]
    pub kill_mode: Option<String>,
}

impl Args {
    /// The restart line when `--restart` was given.
    pub fn restart_line(&self) -> Option<&str> {
        self.cmd.as_deref().filter(|_| self.restart)
    }

    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let flags = if self.keep_on_death {
            flags::HENTITYKEEPONDEATH
        } else {
            0
        };
        let stop = ham_client::StopPolicy {
            warn_signal: self.warn_signal.unwrap_or(0),
            grace: self.grace_ms.map(std::time::Duration::from_millis),
            kill_mode: match self.kill_mode.as_deref() {
                Some("process") => ham_client::KillMode::Process,
                _ => ham_client::KillMode::Group,
            },
        };
        let entity = ctx
            .ham
            .attach_with_stop(
                ctx.node.clone(),
                entity_name(&self.name),
                self.pid.unwrap_or(0),
                self.cmd.as_deref().unwrap_or(""),
                self.pidfile.as_deref().unwrap_or(""),
                ham_client::Heartbeat {
                    period: std::time::Duration::from_millis(self.heartbeat_ms.unwrap_or(0)),
                    hpdl: self.hpdl,
                    hpdh: self.hpdh,
                },
                flags,
                stop,
            )
            .await?;
        let Some(line) = self.restart_line() else {
            return Ok(());
        };
        let rearm = flags::HREARMAFTERRESTART;
        let name = &self.name;
        let death = ctx
            .ham
            .condition(&entity, ConditionType::Death, DEATH_CONDITION, rearm)
            .await
            .map_err(|e| {
                half_built(
                    e,
                    &format!("entity {name} is attached, without condition {DEATH_CONDITION}"),
                )
            })?;
        ctx.ham
            .action_restart(&death, RESTART_ACTION, line, rearm)
            .await
            .map_err(|e| {
                half_built(
                    e,
                    &format!(
                        "entity {name} is attached with condition {DEATH_CONDITION}, \
                         without action {RESTART_ACTION}"
                    ),
                )
            })?;
        Ok(())
    }
}

/// The error of a later step of `--restart`, saying what exists already.
fn half_built(err: HamError, exists: &str) -> HamError {
    HamError::new(err.errno, format!("{} ({exists})", err.message))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use clap::error::ErrorKind;

    use super::*;
    use crate::cli::{Cli, Command};

    fn attach(args: &[&str]) -> Result<Args, ErrorKind> {
        let argv = ["hamctrl", "attach"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).map_err(|e| e.kind())?.command {
            Command::Attach(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn a2_restart_takes_the_cmd_line() {
        let a = attach(&["web", "--cmd", "/bin/web -p 80", "--restart"]).unwrap();
        assert_eq!((a.name.as_str(), a.pid), ("web", None));
        assert_eq!(a.restart_line(), Some("/bin/web -p 80"));
        // The option may come first, and --pid keeps --cmd as the restart line.
        let a = attach(&["--restart", "--pid", "42", "db", "--cmd", "/bin/db"]).unwrap();
        assert_eq!((a.pid, a.restart_line()), (Some(42), Some("/bin/db")));
    }

    #[test]
    fn a2_restart_needs_a_cmd_line() {
        assert_eq!(
            attach(&["web", "--pid", "42", "--restart"]).unwrap_err(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            attach(&["web", "--restart"]).unwrap_err(),
            ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn s2_stop_options_parse() {
        let a = attach(&[
            "web",
            "--cmd",
            "/bin/web",
            "--warn-signal",
            "SIGUSR1",
            "--grace-ms",
            "250",
            "--kill-mode",
            "process",
        ])
        .unwrap();
        assert_eq!(a.warn_signal, Some(10));
        assert_eq!(a.grace_ms, Some(250));
        assert_eq!(a.kill_mode.as_deref(), Some("process"));
        assert_eq!(
            attach(&["web", "--cmd", "/bin/web", "--kill-mode", "all"]).unwrap_err(),
            ErrorKind::InvalidValue
        );
    }

    #[test]
    fn a2_without_restart_nothing_more_is_added() {
        let a = attach(&["web", "--cmd", "/bin/web"]).unwrap();
        assert_eq!(a.restart_line(), None);
    }

    #[test]
    fn half_built_keeps_the_errno_and_says_what_exists() {
        let e = half_built(
            HamError::new(ham_client::Errno::Eexist, "condition exists"),
            "entity web is attached",
        );
        assert_eq!(e.errno, ham_client::Errno::Eexist);
        assert_eq!(e.message, "condition exists (entity web is attached)");
    }
}
