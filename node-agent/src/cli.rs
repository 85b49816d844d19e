//! Command-line options of `ham`. The QNX options keep their meaning:
//! `-d` (no verbose output), `-f FILE` (log to a file), `-t` (timestamps),
//! `-v` (repeatable) and `-Vn` (verbosity level n).

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default API address (loopback only: plain text is allowed only there).
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
    /// Directory holding the replicated log and snapshots.
    #[arg(long, env = "HAM_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// TCP address of the gRPC API.
    #[arg(long, env = "HAM_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Unix socket of the gRPC API.
    #[arg(long, env = "HAM_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Serve no Unix socket (TCP only).
    #[arg(long)]
    pub no_socket: bool,
    /// This node's id in the cluster (>= 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..u64::MAX))]
    pub node_id: u64,
    /// This node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Allow plain-text gRPC on a non-loopback address.
    #[arg(long)]
    pub insecure: bool,
    /// Print the version and exit.
    #[arg(long, action = clap::ArgAction::Version)]
    pub version: Option<bool>,
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
