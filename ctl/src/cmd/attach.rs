//! `hamctrl attach NAME (--pid PID | --cmd LINE) [--restart] [process options]`:
//! one atomic attach (HAM-CONTRACT L6) with the process options of L7, the
//! user of P4, the stop policy of S2 and the restart pacing of L4.

use ham_client::attach::{self as parts, Attach, Output, ProcessOptions, UNLIMITED};
use ham_client::proto::LimitResource;
use ham_client::{ConditionType, flags};

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

/// Name of the DEATH condition `--restart` adds.
pub const DEATH_CONDITION: &str = "death";
/// Name of the restart action `--restart` adds.
pub const RESTART_ACTION: &str = "restart";

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputArg {
    /// The entity's log file under the data directory, rotated.
    Log,
    /// The daemon's own standard output and error.
    Inherit,
    /// Discarded (/dev/null).
    Discard,
}

/// `--limit RESOURCE=SOFT[:HARD]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitArg {
    pub resource: LimitResource,
    pub soft: u64,
    pub hard: u64,
}

fn limit_value(s: &str) -> Result<u64, String> {
    match s {
        "unlimited" | "infinity" => Ok(UNLIMITED),
        _ => s
            .parse()
            .map_err(|_| format!("{s:?} is not a number or \"unlimited\"")),
    }
}

/// Parses `nofile=1024`, `core=0:unlimited`, ... (the resources of setrlimit(2)
/// without `RLIMIT_`, lower case); a lone value is both soft and hard.
pub fn parse_limit(text: &str) -> Result<LimitArg, String> {
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not RESOURCE=SOFT[:HARD]"))?;
    let resource = (!name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase()))
        .then(|| LimitResource::from_str_name(&format!("LIMIT_RESOURCE_{}", name.to_uppercase())))
        .flatten()
        .filter(|r| *r != LimitResource::Unspecified)
        .ok_or_else(|| {
            format!("unknown resource {name:?} (nofile, core, nproc, memlock, as, fsize, stack, cpu, data)")
        })?;
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (limit_value(soft)?, limit_value(hard)?),
        None => {
            let v = limit_value(values)?;
            (v, v)
        }
    };
    Ok(LimitArg {
        resource,
        soft,
        hard,
    })
}

/// Parses `NAME=VALUE` (the value may hold `=`).
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

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
    /// kept across restarts (HREARMAFTERRESTART), in the same call as the
    /// attach: they exist before the process starts, and if any part is
    /// refused nothing is created.
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
    /// Working directory of its processes (absolute).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// An extra environment variable (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Where standard output and error go.
    #[arg(long, value_enum, default_value_t = OutputArg::Log)]
    pub output: OutputArg,
    /// A resource limit, e.g. nofile=1024:4096 or core=0 (repeatable).
    #[arg(long = "limit", value_name = "RESOURCE=SOFT[:HARD]", value_parser = parse_limit)]
    pub limits: Vec<LimitArg>,
    /// Run its processes (start, restarts, execute actions) as this user
    /// (name or uid), with its primary group and supplementary groups.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Run them with this group (name or gid) instead of the user's primary one.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
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

    /// The one attach call these arguments make.
    pub fn spec(&self) -> Attach {
        let flags = if self.keep_on_death {
            flags::HENTITYKEEPONDEATH
        } else {
            0
        };
        let process = ProcessOptions {
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            output: match self.output {
                OutputArg::Log => Output::Log,
                OutputArg::Inherit => Output::Inherit,
                OutputArg::Discard => Output::Discard,
            },
            limits: self
                .limits
                .iter()
                .map(|l| (l.resource, l.soft, l.hard))
                .collect(),
            user: self.user.clone(),
            group: self.group.clone(),
        };
        let stop = ham_client::StopPolicy {
            warn_signal: self.warn_signal.unwrap_or(0),
            grace: self.grace_ms.map(std::time::Duration::from_millis),
            kill_mode: match self.kill_mode.as_deref() {
                Some("process") => ham_client::KillMode::Process,
                _ => ham_client::KillMode::Group,
            },
        };
        let mut spec = Attach {
            pid: self.pid.unwrap_or(0),
            command_line: self.cmd.clone().unwrap_or_default(),
            pidfile: self.pidfile.clone().unwrap_or_default(),
            heartbeat: ham_client::Heartbeat {
                period: std::time::Duration::from_millis(self.heartbeat_ms.unwrap_or(0)),
                hpdl: self.hpdl,
                hpdh: self.hpdh,
            },
            flags,
            process,
            conditions: Vec::new(),
            stop,
            pacing: self.pacing(),
        };
        if let Some(line) = self.restart_line() {
            let rearm = flags::HREARMAFTERRESTART;
            let mut death = parts::condition(DEATH_CONDITION, ConditionType::Death, rearm);
            death
                .actions
                .push(parts::restart(RESTART_ACTION, line, rearm));
            spec = spec.with(death);
        }
        spec
    }

    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        ctx.ham
            .attach_with(ctx.node.clone(), entity_name(&self.name), &self.spec())
            .await?;
        Ok(())
    }
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
    fn l6_restart_is_part_of_the_one_attach() {
        let spec = attach(&["web", "--cmd", "/bin/web", "--restart"])
            .unwrap()
            .spec();
        assert_eq!(spec.conditions.len(), 1);
        let death = &spec.conditions[0];
        assert_eq!(death.name, DEATH_CONDITION);
        assert_eq!(death.condition_type, ConditionType::Death as i32);
        assert_eq!(death.actions[0].name, RESTART_ACTION);
        let plain = attach(&["web", "--cmd", "/bin/web"]).unwrap().spec();
        assert!(plain.conditions.is_empty());
    }

    #[test]
    fn l7_process_options_parse() {
        let a = attach(&[
            "web",
            "--cmd",
            "/bin/web",
            "--cwd",
            "/srv",
            "--env",
            "A=1",
            "--env",
            "B=x=y",
            "--output",
            "discard",
            "--limit",
            "nofile=100:200",
            "--limit",
            "core=unlimited",
            "--user",
            "nobody",
            "--group",
            "nogroup",
        ])
        .unwrap();
        let p = a.spec().process;
        assert_eq!(p.cwd.as_deref(), Some("/srv"));
        assert_eq!(
            p.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(p.output, Output::Discard);
        assert_eq!(
            p.limits,
            vec![
                (LimitResource::Nofile, 100, 200),
                (LimitResource::Core, UNLIMITED, UNLIMITED)
            ]
        );
        assert_eq!(
            (p.user.as_deref(), p.group.as_deref()),
            (Some("nobody"), Some("nogroup"))
        );
        assert_eq!(
            attach(&["web", "--cmd", "/bin/web"])
                .unwrap()
                .spec()
                .process,
            ProcessOptions::default()
        );
    }

    #[test]
    fn l7_bad_process_options_are_usage_errors() {
        for bad in [
            &["--env", "=x"][..],
            &["--env", "NOEQUALS"],
            &["--limit", "nofile"],
            &["--limit", "files=1"],
            &["--limit", "NOFILE=1"],
            &["--limit", "unspecified=1"],
            &["--limit", "core=-1"],
            &["--limit", "core=1:x"],
        ] {
            let args: Vec<&str> = ["web", "--cmd", "/bin/web"]
                .iter()
                .chain(bad)
                .copied()
                .collect();
            assert_eq!(
                attach(&args).unwrap_err(),
                ErrorKind::ValueValidation,
                "{bad:?}"
            );
        }
        let args = ["web", "--cmd", "/bin/web", "--output", "syslog"];
        assert_eq!(attach(&args).unwrap_err(), ErrorKind::InvalidValue);
    }
}
