//! `hamctrl attach NAME (--pid PID | --cmd LINE) [--restart] [--pacing-* ...]`.

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
    /// Restart pacing: deaths within the window restarted at once (default 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub pacing_burst: Option<u32>,
    /// Restart pacing: the window deaths are counted in, and how long a
    /// process must stay up to reset the delay (default 10000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub pacing_window_ms: Option<u64>,
    /// Restart pacing: the first delay once the burst is spent (default 100).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub pacing_min_delay_ms: Option<u64>,
    /// Restart pacing: the delay doubles up to this (default 30000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub pacing_max_delay_ms: Option<u64>,
    /// No restart pacing: every restart at once.
    #[arg(long, conflicts_with_all = ["pacing_burst", "pacing_window_ms", "pacing_min_delay_ms", "pacing_max_delay_ms"])]
    pub pacing_off: bool,
}

impl Args {
    /// The pacing options (zero: the HAM's default).
    pub fn pacing(&self) -> ham_client::Pacing {
        let ms = |v: Option<u64>| std::time::Duration::from_millis(v.unwrap_or(0));
        ham_client::Pacing {
            burst: self.pacing_burst.unwrap_or(0),
            window: ms(self.pacing_window_ms),
            min_delay: ms(self.pacing_min_delay_ms),
            max_delay: ms(self.pacing_max_delay_ms),
            off: self.pacing_off,
        }
    }

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
        let entity = ctx
            .ham
            .attach_paced(
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
                self.pacing(),
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
    fn l4_pacing_flags() {
        let a = attach(&["web", "--cmd", "/bin/web"]).unwrap();
        assert_eq!(a.pacing(), ham_client::Pacing::default());
        let a = attach(&[
            "web",
            "--cmd",
            "/bin/web",
            "--pacing-burst",
            "3",
            "--pacing-window-ms",
            "2000",
            "--pacing-min-delay-ms",
            "50",
            "--pacing-max-delay-ms",
            "800",
        ])
        .unwrap();
        let p = a.pacing();
        assert_eq!((p.burst, p.off), (3, false));
        assert_eq!(p.window, std::time::Duration::from_millis(2000));
        assert_eq!(p.min_delay, std::time::Duration::from_millis(50));
        assert_eq!(p.max_delay, std::time::Duration::from_millis(800));
        assert!(
            attach(&["web", "--cmd", "/bin/web", "--pacing-off"])
                .unwrap()
                .pacing()
                .off
        );
        assert_eq!(
            attach(&[
                "web",
                "--cmd",
                "/bin/web",
                "--pacing-off",
                "--pacing-burst",
                "2"
            ])
            .unwrap_err(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            attach(&["web", "--cmd", "/bin/web", "--pacing-burst", "0"]).unwrap_err(),
            ErrorKind::ValueValidation
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
