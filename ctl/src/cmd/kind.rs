//! The kind and parameters of an action or action-fail action, shared by
//! `hamctrl action` and `hamctrl action-fail`.

use clap::ValueEnum;
use ham_client::{NodeSel, Pulse, Signal, flags};

use super::{CtlError, usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Restart the entity (--cmd).
    Restart,
    /// Run a command (--cmd [--wait --timeout-ms]).
    Execute,
    /// Wait (--delay-ms [--path]).
    Waitfor,
    /// Send a pulse (--pid --chid --code --value [--to-node]).
    Pulse,
    /// Send a signal (--pid --signum --value [--to-node]).
    Signal,
    /// Reset the entity's heartbeat state to OK.
    Healthy,
    /// Write to the activity log (--message [--prefix] [--level]).
    Log,
}

/// Kind and parameters.
#[derive(Debug, clap::Args)]
pub struct KindArgs {
    /// What the action does.
    #[arg(value_enum)]
    pub kind: Kind,
    /// restart, execute: command line (absolute program path).
    #[arg(long, value_name = "LINE", allow_hyphen_values = true)]
    pub cmd: Option<String>,
    /// execute: wait for the command to exit (HACTIONWAIT).
    #[arg(long)]
    pub wait: bool,
    /// execute --wait: fail after this many ms (0 = no limit).
    #[arg(long, default_value_t = 0)]
    pub timeout_ms: u64,
    /// waitfor: delay in ms (> 0).
    #[arg(long)]
    pub delay_ms: Option<i64>,
    /// waitfor: succeed as soon as this path exists.
    #[arg(long)]
    pub path: Option<String>,
    /// pulse, signal: receiving process.
    #[arg(long)]
    pub pid: Option<i64>,
    /// pulse: receiving channel.
    #[arg(long)]
    pub chid: Option<i64>,
    /// pulse, signal: code.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub code: i32,
    /// pulse, signal: value.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub value: i64,
    /// signal: number or name (SIGUSR1, USR1, 10).
    #[arg(long, value_parser = parse_signal)]
    pub signum: Option<i32>,
    /// pulse, signal: node of the receiving process, by name or by id (all
    /// digits); default: the node hamctrl is connected to.
    #[arg(long, value_name = "NAME|ID", value_parser = crate::cli::parse_node)]
    pub to_node: Option<NodeSel>,
    /// log: the message.
    #[arg(long, allow_hyphen_values = true)]
    pub message: Option<String>,
    /// log: prefix the message with the entity/condition/action path.
    #[arg(long)]
    pub prefix: bool,
    /// log: lowest HAM verbosity at which the message is written.
    #[arg(long, default_value_t = 0)]
    pub level: u32,
}

/// What to add, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Params {
    Restart(String),
    Execute {
        line: String,
        timeout_ms: u64,
    },
    Waitfor {
        path: String,
        delay_ms: i64,
    },
    Pulse(Pulse),
    Signal(Signal),
    Healthy,
    Log {
        message: String,
        prefix: bool,
        level: u32,
    },
}

/// Action flags.
#[derive(Debug, clap::Args)]
pub struct ActionFlags {
    /// Keep the action after the entity restarts (HREARMAFTERRESTART).
    #[arg(long)]
    pub rearm: bool,
    /// execute: also run it once now (HACTIONDONOW).
    #[arg(long)]
    pub donow: bool,
    /// When it fails, skip the actions after it (HACTIONBREAKONFAIL).
    #[arg(long)]
    pub break_on_fail: bool,
    /// Keep it after it failed (HACTIONKEEPONFAIL).
    #[arg(long)]
    pub keep_on_fail: bool,
}

impl ActionFlags {
    pub fn bits(&self) -> u32 {
        [
            (self.rearm, flags::HREARMAFTERRESTART),
            (self.donow, flags::HACTIONDONOW),
            (self.break_on_fail, flags::HACTIONBREAKONFAIL),
            (self.keep_on_fail, flags::HACTIONKEEPONFAIL),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("WINCH", 28),
    ("SYS", 31),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// Parses a Linux signal number or name (`SIGUSR1`, `usr1`, `RTMIN+2`).
pub fn parse_signal(text: &str) -> Result<i32, String> {
    if let Ok(n) = text.parse::<i32>() {
        return Ok(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let (base, offset) = match name.split_once('+') {
        Some((b, o)) => (
            b,
            o.parse::<i32>()
                .map_err(|_| format!("bad signal {text:?}"))?,
        ),
        None => (name, 0),
    };
    SIGNALS
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, v)| v + offset)
        .ok_or_else(|| format!("unknown signal {text:?}"))
}

impl KindArgs {
    /// Checks that the options fit the kind, and builds the parameters.
    pub fn params(&self) -> Result<Params, CtlError> {
        let kind = format!("{:?}", self.kind).to_lowercase();
        let need = |what: &str| usage(format!("{kind} needs {what}"));
        let node = self.to_node.clone().unwrap_or_default();
        if self.wait && self.kind != Kind::Execute {
            return Err(usage("--wait only applies to execute"));
        }
        Ok(match self.kind {
            Kind::Restart => Params::Restart(self.cmd.clone().ok_or_else(|| need("--cmd"))?),
            Kind::Execute => Params::Execute {
                line: self.cmd.clone().ok_or_else(|| need("--cmd"))?,
                timeout_ms: self.timeout_ms,
            },
            Kind::Waitfor => Params::Waitfor {
                path: self.path.clone().unwrap_or_default(),
                delay_ms: self.delay_ms.ok_or_else(|| need("--delay-ms"))?,
            },
            Kind::Pulse => Params::Pulse(Pulse {
                node,
                pid: self.pid.ok_or_else(|| need("--pid"))?,
                chid: self.chid.ok_or_else(|| need("--chid"))?,
                code: self.code,
                value: self.value,
            }),
            Kind::Signal => Params::Signal(Signal {
                node,
                pid: self.pid.ok_or_else(|| need("--pid"))?,
                signum: self.signum.ok_or_else(|| need("--signum"))?,
                code: self.code,
                value: self.value,
            }),
            Kind::Healthy => Params::Healthy,
            Kind::Log => Params::Log {
                message: self.message.clone().ok_or_else(|| need("--message"))?,
                prefix: self.prefix,
                level: self.level,
            },
        })
    }

    /// Extra flag bits implied by the options.
    pub fn bits(&self) -> u32 {
        if self.wait { flags::HACTIONWAIT } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kind: Kind) -> KindArgs {
        KindArgs {
            kind,
            cmd: None,
            wait: false,
            timeout_ms: 0,
            delay_ms: None,
            path: None,
            pid: None,
            chid: None,
            code: 0,
            value: 0,
            signum: None,
            to_node: None,
            message: None,
            prefix: false,
            level: 0,
        }
    }

    #[test]
    fn a8_signal_names() {
        assert_eq!(parse_signal("10"), Ok(10));
        assert_eq!(parse_signal("SIGUSR1"), Ok(10));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("SIGRTMIN+2"), Ok(36));
        assert!(parse_signal("SIGNOPE").is_err());
    }

    #[test]
    fn a1_kind_needs_its_options() {
        assert!(matches!(
            args(Kind::Restart).params(),
            Err(CtlError::Usage(_))
        ));
        let mut restart = args(Kind::Restart);
        restart.cmd = Some("/bin/x".into());
        assert_eq!(
            restart.params().ok(),
            Some(Params::Restart("/bin/x".into()))
        );
        assert_eq!(args(Kind::Healthy).params().ok(), Some(Params::Healthy));
        let mut signal = args(Kind::Signal);
        signal.pid = Some(5);
        assert!(signal.params().is_err());
        signal.signum = Some(10);
        signal.to_node = Some(NodeSel::Name("n2".into()));
        let Ok(Params::Signal(s)) = signal.params() else {
            panic!("signal params");
        };
        assert_eq!(s.node, NodeSel::Name("n2".into()));
        let mut wait = args(Kind::Waitfor);
        wait.wait = true;
        wait.delay_ms = Some(5);
        assert!(wait.params().is_err());
    }
}
