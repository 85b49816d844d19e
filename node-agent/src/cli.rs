//! Command-line options of `ham`. The QNX options keep their meaning:
//! `-d` (no verbose output), `-f FILE` (log to a file), `-t` (timestamps),
//! `-v` (repeatable) and `-Vn` (verbosity level n).

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// API address of a node that serves TCP (it has peers) without saying where.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4815";
/// Default Unix socket of the API.
pub const DEFAULT_SOCKET: &str = "/run/ham/ham.sock";
/// Default data directory (the Raft log, snapshots, entity logs).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/ham";

/// How log lines are stamped (`-t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Timestamps {
    /// No timestamp.
    None,
    /// Seconds since `ham` started (the default).
    Relative,
    /// Full wall-clock date and time (UTC, RFC 3339).
    Absolute,
    /// Wall-clock time of day only.
    Shortabs,
}

/// The High Availability Manager daemon: one per node.
#[derive(Debug, Parser)]
#[command(name = "ham", version, disable_version_flag = true)]
pub struct Args {
    /// Disable verbose output (only warnings and errors are logged).
    #[arg(short = 'd')]
    pub quiet: bool,
    /// Write the log to FILE instead of standard error.
    #[arg(short = 'f', value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Timestamp style of log lines.
    #[arg(short = 't', value_enum, default_value = "relative")]
    pub timestamps: Timestamps,
    /// Raise the verbosity by one (repeatable).
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Set the verbosity level (for example -V3).
    #[arg(short = 'V', value_name = "N")]
    pub level: Option<u32>,
    /// Directory holding the replicated log and snapshots [default: /var/lib/ham].
    #[arg(long, env = "HAM_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TCP address of the gRPC API, also used by the other nodes [default: none for a
    /// one-node cluster (the Unix socket only), 127.0.0.1:4815 with peers].
    #[arg(long, env = "HAM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Unix socket of the gRPC API.
    #[arg(long, env = "HAM_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Serve no Unix socket (TCP only).
    #[arg(long)]
    pub no_socket: bool,
    /// This node's id in the cluster (>= 1) [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..u64::MAX))]
    pub node_id: Option<u64>,
    /// This node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Serve TCP without TLS: every TCP caller is then anonymous (HAM-CONTRACT P1). Needed for
    /// any plain-text TCP, loopback included.
    #[arg(long)]
    pub insecure: bool,
    /// Group (name or gid) owning the Unix socket, mode 0660, so its members can connect
    /// [default: 0].
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// Test builds only: die at this named point (for example abort-after-spawn).
    #[cfg(feature = "failpoints")]
    #[arg(long, value_name = "NAME", hide = true)]
    pub failpoint: Vec<String>,
    /// The address other nodes and clients use to reach this one (HOST:PORT),
    /// when it differs from --listen (e.g. listening on 0.0.0.0).
    #[arg(long, value_name = "HOST:PORT")]
    pub advertise: Option<String>,
    /// A TOML configuration file (flags given on the command line win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Another initial voter of the cluster, as ID=NAME@HOST:PORT (repeatable).
    #[arg(long = "peer", value_name = "ID=NAME@HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<Peer>,
    /// Start empty and wait to be added to a running cluster (AddNode); give
    /// the current nodes with --peer so this node can answer them.
    #[arg(long)]
    pub join: bool,
    /// Raft tick in ms [default: 50].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub tick_ms: Option<u64>,
    /// Ticks without a leader before an election [default: 10].
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=1000))]
    pub election_ticks: Option<u64>,
    /// Ticks between the leader's heartbeats [default: 2].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub heartbeat_ticks: Option<u64>,
    /// A node that has not renewed its lease for this long is marked down, in ms [default: 3000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub lease_ms: Option<u64>,
    /// CA certificate (PEM) for mutual TLS between nodes and clients.
    #[arg(long, value_name = "FILE", requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// This node's certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_cert"])]
    pub tls_key: Option<PathBuf>,
    /// Print the version and exit.
    #[arg(long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
    /// A tool instead of the daemon.
    #[command(subcommand)]
    pub tool: Option<Tool>,
}

/// What `ham` runs instead of the daemon.
#[derive(Debug, clap::Subcommand)]
pub enum Tool {
    /// Make and show the certificates of a secure cluster (CA, nodes, clients).
    #[command(subcommand)]
    Cert(crate::cert::Command),
}

/// Another node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Peer {
    /// Its Raft id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its address (host:port).
    pub address: String,
}

/// Parses `ID=NAME@HOST:PORT`.
pub fn parse_peer(text: &str) -> Result<Peer, String> {
    let (id, rest) = text.split_once('=').ok_or("expected ID=NAME@HOST:PORT")?;
    let (name, address) = rest.split_once('@').ok_or("expected ID=NAME@HOST:PORT")?;
    let id: u64 = id.parse().map_err(|_| format!("bad node id {id:?}"))?;
    let peer = Peer {
        id,
        name: name.into(),
        address: address.into(),
    };
    peer.check()?;
    Ok(peer)
}

impl Peer {
    /// The rules of a peer, however it is given (`--peer` or a `[[peer]]` of the file).
    pub fn check(&self) -> Result<(), String> {
        let Peer { id, name, address } = self;
        if *id == 0 || *id == u64::MAX {
            return Err(format!("node id {id} is reserved"));
        }
        if name.is_empty() || name.contains('/') || name == "*" {
            return Err(format!("bad node name {name:?}"));
        }
        if address.parse::<SocketAddr>().is_err() && !address.contains(':') {
            return Err(format!("bad address {address:?}: expected HOST:PORT"));
        }
        Ok(())
    }
}

impl Args {
    /// The Unix socket to serve, if any.
    pub fn socket(&self) -> Option<&std::path::Path> {
        (!self.no_socket).then_some(self.socket.as_path())
    }

    /// The verbosity asked for on the command line, if any (`-Vn` wins over `-v`).
    pub fn verbosity(&self) -> Option<u32> {
        if self.quiet {
            return Some(0);
        }
        self.level
            .or((self.verbose > 0).then_some(u32::from(self.verbose)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("ham").chain(args.iter().copied()))
    }

    #[test]
    fn qnx_options_keep_their_meaning() {
        let a = parse(&["-vvv"]).unwrap();
        assert_eq!(a.verbosity(), Some(3));
        let a = parse(&["-V5", "-v"]).unwrap();
        assert_eq!(a.verbosity(), Some(5));
        let a = parse(&["-d", "-V5"]).unwrap();
        assert_eq!(a.verbosity(), Some(0));
        let a = parse(&["-t", "shortabs", "-f", "/tmp/ham.log"]).unwrap();
        assert_eq!(a.timestamps, Timestamps::Shortabs);
        assert_eq!(
            a.log_file.as_deref(),
            Some(std::path::Path::new("/tmp/ham.log"))
        );
        assert_eq!(parse(&[]).unwrap().verbosity(), None);
    }

    #[test]
    fn peers_parse_and_bad_ones_are_refused() {
        let a = parse(&[
            "--peer",
            "2=beta@127.0.0.2:4815",
            "--peer",
            "3=gamma@127.0.0.3:4815",
        ])
        .unwrap();
        assert_eq!(
            a.peers[1],
            Peer {
                id: 3,
                name: "gamma".into(),
                address: "127.0.0.3:4815".into()
            }
        );
        for bad in [
            "2beta@x:1",
            "0=a@127.0.0.1:1",
            "x=a@127.0.0.1:1",
            "2=@127.0.0.1:1",
            "2=*@127.0.0.1:1",
            "2=a@nowhere",
        ] {
            assert!(parse(&["--peer", bad]).is_err(), "{bad}");
        }
        assert!(
            parse(&["--tls-ca", "/x"]).is_err(),
            "TLS needs all three files"
        );
    }

    #[test]
    fn bad_flags_are_errors_not_panics() {
        for bad in [
            &["-t", "sometimes"][..],
            &["-Vx"],
            &["--node-id", "0"],
            &["--listen", "nowhere"],
            &["-q"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
