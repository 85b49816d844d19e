//! The command line of `hamctrl` (after [`crate::argv::preprocess`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ham_client::{NodeSel, TlsFiles};

use crate::cmd;

/// Control the High Availability Manager of a node or of the cluster.
///
/// QNX forms are accepted too: `-node NAME|ID`, `-stop`, `-verbose` (raise),
/// `+verbose` (lower), `=verbose` (show).
#[derive(Debug, Parser)]
#[command(name = "hamctrl", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Which HAM to talk to and which node's context to address.
#[derive(Debug, clap::Args)]
pub struct ConnArgs {
    /// Address the HAM context of this node, by name or by id: a value of
    /// only digits is a node id (`2` = node 2, `0` = the node hamctrl is
    /// connected to), so a node whose name is all digits must be addressed
    /// by its id; `*` = the cluster-wide context. Default: the node hamctrl
    /// is connected to.
    #[arg(long, global = true, value_name = "NAME|ID", value_parser = parse_node)]
    pub node: Option<NodeSel>,
    /// Unix socket of the HAM to connect to (default: $HAM_SOCKET or
    /// /run/ham/ham.sock).
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "addr")]
    pub socket: Option<PathBuf>,
    /// TCP address of the HAM to connect to, e.g. http://10.0.0.2:4815
    /// (https://10.0.0.2:4815 or 10.0.0.2:4815 with --tls-*).
    #[arg(long, global = true, value_name = "URI")]
    pub addr: Option<String>,
    /// The cluster's CA certificate (PEM), for mutual TLS over TCP.
    #[arg(long, global = true, value_name = "FILE", env = "HAM_TLS_CA",
          requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// This client's certificate (PEM, `ham cert client`), for mutual TLS over TCP.
    #[arg(long, global = true, value_name = "FILE", env = "HAM_TLS_CERT",
          requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// This client's private key (PEM), for mutual TLS over TCP.
    #[arg(long, global = true, value_name = "FILE", env = "HAM_TLS_KEY",
          requires_all = ["tls_ca", "tls_cert"])]
    pub tls_key: Option<PathBuf>,
    /// Give up when the HAM has not answered within SECS seconds (fractions
    /// allowed), e.g. when its node is stopped or cut off. The default is
    /// twice a node's 5 s write deadline, so that a write without a quorum
    /// still gets its EAGAIN answer.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        env = "HAM_TIMEOUT",
        default_value = "10",
        value_parser = parse_timeout
    )]
    pub timeout: Duration,
}

impl ConnArgs {
    /// The TLS files given, if all three are.
    pub fn tls(&self) -> Option<TlsFiles> {
        Some(TlsFiles {
            ca: self.tls_ca.clone()?,
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach a running process (--pid) or start and attach one (--cmd);
    /// --restart also restarts it whenever it dies.
    Attach(cmd::attach::Args),
    /// Create a placeholder entity (no process yet).
    Entity(cmd::entity::Args),
    /// Detach an entity; its process keeps running.
    Detach(cmd::detach::Args),
    /// Add a condition to an entity.
    Condition(cmd::condition::Args),
    /// Remove a condition with its actions.
    ConditionRemove(cmd::condition_remove::Args),
    /// Add an action to a condition.
    Action(cmd::action::Args),
    /// Add an action-fail action to an action.
    ActionFail(cmd::action_fail::Args),
    /// Remove an action.
    ActionRemove(cmd::action_remove::Args),
    /// Remove an action-fail action.
    ActionFailRemove(cmd::action_fail_remove::Args),
    /// Enable, disable, or change the flags of an entity, condition or action.
    Control(cmd::control::Args),
    /// Raise a condition (type, class, severity) on an entity.
    Raise(cmd::raise::Args),
    /// Report a new state of an entity.
    State(cmd::state::Args),
    /// Show or change the HAM's verbosity.
    Verbose(cmd::verbose::Args),
    /// Stop the HAM of a node (its processes keep running).
    Stop(cmd::stop::Args),
    /// Stop an entity's processes (warning signal, grace, SIGKILL); it keeps
    /// its conditions and no recovery runs, until start-entity.
    StopEntity(cmd::stop_entity::Args),
    /// Start a stopped entity again by its restart line.
    StartEntity(cmd::start_entity::Args),
    /// List a level of the HAM tree.
    Ls(cmd::ls::Args),
    /// Show an `.info` file or an action of the HAM tree.
    Cat(cmd::cat::Args),
    /// List the nodes of the cluster.
    Nodes(cmd::nodes::Args),
    /// Add or remove a node of the cluster.
    Node(cmd::node::Args),
}

/// Parses a node given on the command line (HAM-CONTRACT N6): all digits is a
/// node id (the `_nd` form, 0 = the local node), `*` the cluster-wide
/// context, "" the local node, anything else a node name (the `_node` form).
///
/// A name made only of digits is therefore read as an id: node names and ids
/// share one argument, as in `hamctrl -node 2`, and an id is what a script
/// most often has at hand.
pub fn parse_node(text: &str) -> Result<NodeSel, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(NodeSel::from)
            .map_err(|_| format!("node id {text} is too large"));
    }
    Ok(NodeSel::from(text))
}

/// Parses `--timeout`: positive seconds, fractions allowed.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("the timeout must be above 0 s, got {text}"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("timeout {text} s is too large"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::argv::preprocess;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("hamctrl")
            .chain(args.iter().copied())
            .map(String::from);
        Cli::try_parse_from(preprocess(argv))
    }

    #[test]
    fn n6_node_ids_and_names() {
        assert_eq!(parse_node("2"), Ok(NodeSel::Id(2)));
        assert_eq!(parse_node("002"), Ok(NodeSel::Id(2)));
        assert_eq!(parse_node("0"), Ok(NodeSel::Local));
        assert_eq!(parse_node(""), Ok(NodeSel::Local));
        assert_eq!(parse_node("*"), Ok(NodeSel::Cluster));
        assert_eq!(parse_node("n2"), Ok(NodeSel::Name("n2".into())));
        assert_eq!(parse_node("2a"), Ok(NodeSel::Name("2a".into())));
        assert_eq!(parse_node("-1"), Ok(NodeSel::Name("-1".into())));
        assert_eq!(
            parse_node(&u64::MAX.to_string()),
            Ok(NodeSel::Cluster),
            "the cluster's reserved id"
        );
        assert!(parse_node("18446744073709551616").is_err());
    }

    #[test]
    fn n6_node_option_in_every_form() {
        let node = |args: &[&str]| parse(args).map(|c| c.conn.node).ok();
        assert_eq!(node(&["-node", "2", "ls"]), Some(Some(NodeSel::Id(2))));
        assert_eq!(node(&["--node", "2", "ls"]), Some(Some(NodeSel::Id(2))));
        assert_eq!(node(&["-node=7", "-stop"]), Some(Some(NodeSel::Id(7))));
        assert_eq!(
            node(&["ls", "--node", "web1"]),
            Some(Some(NodeSel::Name("web1".into())))
        );
        assert_eq!(node(&["ls"]), Some(None));
        let err = parse(&["-node", "99999999999999999999", "ls"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn timeout_flag_takes_fractions_and_defaults_to_10_s() {
        let timeout = |args: &[&str]| parse(args).map(|c| c.conn.timeout).ok();
        assert_eq!(timeout(&["ls"]), Some(Duration::from_secs(10)));
        assert_eq!(
            timeout(&["--timeout", "1", "ls"]),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            timeout(&["ls", "--timeout", "0.25"]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            timeout(&["--timeout", "2", "-stop"]),
            Some(Duration::from_secs(2))
        );
        for bad in ["0", "-1", "x", "nan", "1e30"] {
            assert_eq!(timeout(&["--timeout", bad, "ls"]), None, "{bad}");
        }
    }

    #[test]
    fn p1_tls_needs_all_three_files() {
        let c = parse(&[
            "--addr",
            "127.0.0.1:4815",
            "--tls-ca",
            "ca.pem",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "c.key",
            "ls",
        ])
        .unwrap();
        let tls = c.conn.tls().unwrap();
        assert_eq!(
            (tls.ca.to_str(), tls.cert.to_str(), tls.key.to_str()),
            (Some("ca.pem"), Some("c.pem"), Some("c.key"))
        );
        assert!(parse(&["--tls-ca", "ca.pem", "ls"]).is_err());
        assert!(parse(&["ls"]).unwrap().conn.tls().is_none());
    }

    #[test]
    fn n6_help_explains_that_digits_are_an_id() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("a value of only digits is a node id"),
            "{help}"
        );
        assert!(help.contains("-node NAME|ID"), "{help}");
    }
}
