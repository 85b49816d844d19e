//! Resolved settings of a node: command-line flags over a TOML config file
//! over built-in defaults.
//!
//! ```toml
//! node_id = 1
//! node_name = "alpha"
//! listen = "127.0.0.1:4815"
//! data_dir = "/var/lib/ham"
//!
//! [[peer]]
//! id = 2
//! name = "beta"
//! address = "127.0.0.2:4815"
//!
//! [timing]
//! tick_ms = 50
//! election_ticks = 10
//! heartbeat_ticks = 2
//! lease_ms = 3000
//!
//! [tls]
//! ca = "/etc/ham/ca.pem"
//! cert = "/etc/ham/node.pem"
//! key = "/etc/ham/node.key"
//!
//! socket_group = "ham"          # owns the Unix socket (mode 0660); default gid 0
//!
//! [policy]                      # who holds which role: auth/policy.rs
//! [limits]                      # request size and counts: auth/limits.rs
//! ```
//!
//! TCP is served only when asked for (`listen`, or peers: a one-node cluster with neither
//! serves the Unix socket alone), and in plain text only with `--insecure` (`insecure = true`).

use crate::auth::limits::Limits;
use crate::auth::policy::{Policy, PolicyFile};
use crate::cli::{Args, DEFAULT_DATA_DIR, DEFAULT_LISTEN, Peer};
use anyhow::{Context as _, bail};
use serde::Deserialize;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    node_id: Option<u64>,
    node_name: Option<String>,
    listen: Option<SocketAddr>,
    advertise: Option<String>,
    data_dir: Option<PathBuf>,
    join: Option<bool>,
    insecure: Option<bool>,
    #[serde(default)]
    peer: Vec<Peer>,
    timing: Option<Timing>,
    tls: Option<TlsFiles>,
    socket_group: Option<GroupName>,
    policy: Option<PolicyFile>,
    limits: Option<Limits>,
}

/// A group by name or number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum GroupName {
    Id(u32),
    Name(String),
}

/// The gid of a group given by number or name.
fn group_id(g: &GroupName) -> anyhow::Result<u32> {
    match g {
        GroupName::Id(id) => Ok(*id),
        GroupName::Name(name) => {
            if let Ok(id) = name.parse() {
                return Ok(id);
            }
            match nix::unistd::Group::from_name(name) {
                Ok(Some(g)) => Ok(g.gid.as_raw()),
                Ok(None) => bail!("socket group {name:?}: no such group"),
                Err(e) => bail!("socket group {name:?}: {e}"),
            }
        }
    }
}

impl FileConfig {
    /// Parses the text of a configuration file.
    pub(crate) fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timing {
    tick_ms: Option<u64>,
    election_ticks: Option<u64>,
    heartbeat_ticks: Option<u64>,
    lease_ms: Option<u64>,
}

/// PEM files for mutual TLS.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The CA that signs every node's (and client's) certificate.
    pub ca: PathBuf,
    /// This node's certificate chain.
    pub cert: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Raft and HAM id.
    pub node_id: u64,
    /// Unique name.
    pub node_name: Option<String>,
    /// API and peer address to bind; none: no TCP at all (a one-node cluster on its socket).
    pub listen: Option<SocketAddr>,
    /// The address the others use, when not the bound one.
    pub advertise: Option<String>,
    /// State directory.
    pub data_dir: PathBuf,
    /// The other initial voters (never this node).
    pub peers: Vec<Peer>,
    /// Start empty and wait to be added.
    pub join: bool,
    /// Raft tick.
    pub tick: Duration,
    /// Election timeout in ticks.
    pub election_ticks: usize,
    /// Leader heartbeat interval in ticks.
    pub heartbeat_ticks: usize,
    /// How long a node's lease lasts.
    pub lease: Duration,
    /// Mutual TLS, if configured.
    pub tls: Option<TlsFiles>,
    /// The group owning the Unix socket.
    pub socket_group: u32,
    /// Who holds which role.
    pub policy: Policy,
    /// Sizes and counts no caller may exceed.
    pub limits: Limits,
}

/// Defaults chosen so that a new leader takes writes within 2 s of the old
/// one's death (HAM-CONTRACT D2): elections time out after 0.5-1 s.
pub const DEFAULT_TICK_MS: u64 = 50;
/// Election timeout in ticks (randomised by Raft in [n, 2n)).
pub const DEFAULT_ELECTION_TICKS: u64 = 10;
/// Heartbeat interval in ticks.
pub const DEFAULT_HEARTBEAT_TICKS: u64 = 2;
/// Lease length.
pub const DEFAULT_LEASE_MS: u64 = 3000;

impl Settings {
    /// Resolves the settings; errors name the file or flag at fault.
    pub fn resolve(args: &Args) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                FileConfig::parse(&text)
                    .with_context(|| format!("bad config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        Settings::from_parts(args, file)
    }

    /// Resolves the settings from the flags and a configuration file already read.
    pub(crate) fn from_parts(args: &Args, file: FileConfig) -> anyhow::Result<Settings> {
        // The file's peers obey the rules of `--peer` (checked when the flag is parsed).
        for p in &file.peer {
            p.check()
                .map_err(|e| anyhow::anyhow!("bad [[peer]] with id {}: {e}", p.id))?;
        }
        let timing = file.timing.unwrap_or_default();
        let node_id = args.node_id.or(file.node_id).unwrap_or(1);
        if node_id == 0 || node_id == u64::MAX {
            bail!("node id {node_id} is reserved");
        }
        let mut peers = if args.peers.is_empty() {
            file.peer
        } else {
            args.peers.clone()
        };
        // The same peer list may be given to every node: this node's own entry
        // supplies its name and address when they are not given otherwise.
        let own = peers.iter().find(|p| p.id == node_id).cloned();
        peers.retain(|p| p.id != node_id);
        let own_listen = own.as_ref().and_then(|p| p.address.parse().ok());
        let join = args.join || file.join.unwrap_or(false);
        // A one-node cluster asked for no address serves its Unix socket alone.
        let listen = args.listen.or(file.listen).or(own_listen).or_else(|| {
            (!peers.is_empty() || join)
                .then(|| DEFAULT_LISTEN.parse().expect("default address parses"))
        });
        let node_name = args
            .node_name
            .clone()
            .or(file.node_name)
            .or(own.map(|p| p.name));
        let mut ids = HashSet::new();
        let mut names: HashSet<&str> = node_name.iter().map(String::as_str).collect();
        for p in &peers {
            if !ids.insert(p.id) {
                bail!("peer id {} is given twice", p.id);
            }
            if !names.insert(&p.name) {
                bail!("node name {:?} is given twice", p.name);
            }
        }
        let tls = match (&args.tls_ca, &args.tls_cert, &args.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Some(TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => file.tls,
        };
        if listen.is_none() && args.no_socket {
            bail!("--no-socket with no --listen (and no peers) would serve nothing");
        }
        let insecure = args.insecure || file.insecure.unwrap_or(false);
        if let Some(listen) = listen
            && tls.is_none()
            && !insecure
        {
            // P1: plain text makes every TCP caller anonymous, and the other nodes' traffic
            // readable by anyone on the path; it is served only when asked for by name.
            bail!(
                "refusing plain-text gRPC on {listen} (also on loopback): configure TLS, or pass --insecure"
            );
        }
        let election_ticks = args
            .election_ticks
            .or(timing.election_ticks)
            .unwrap_or(DEFAULT_ELECTION_TICKS);
        let heartbeat_ticks = args
            .heartbeat_ticks
            .or(timing.heartbeat_ticks)
            .unwrap_or(DEFAULT_HEARTBEAT_TICKS);
        if heartbeat_ticks >= election_ticks {
            bail!(
                "heartbeat ticks ({heartbeat_ticks}) must be fewer than election ticks ({election_ticks})"
            );
        }
        if join && peers.is_empty() {
            // The new node must answer the leader before it has any state
            // (and so any address) of its own.
            bail!(
                "--join needs the addresses of the cluster's current nodes (--peer ID=NAME@HOST:PORT)"
            );
        }
        let advertise = args.advertise.clone().or(file.advertise);
        if let Some(listen) = listen
            && listen.ip().is_unspecified()
            && advertise.is_none()
        {
            bail!(
                "listening on {listen} needs --advertise HOST:PORT: the other nodes cannot dial a wildcard address"
            );
        }
        let socket_group = match (&args.socket_group, &file.socket_group) {
            (Some(flag), _) => group_id(&GroupName::Name(flag.clone()))?,
            (None, Some(g)) => group_id(g)?,
            (None, None) => 0,
        };
        let own_uid = nix::unistd::geteuid().as_raw();
        let policy = match file.policy {
            Some(p) => Policy::from_file(p, own_uid).context("bad [policy]")?,
            None => Policy::default_for(own_uid),
        };
        let limits = file.limits.unwrap_or_default();
        limits.validate()?;
        Ok(Settings {
            node_id,
            node_name,
            listen,
            advertise,
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            peers,
            join,
            tick: Duration::from_millis(args.tick_ms.or(timing.tick_ms).unwrap_or(DEFAULT_TICK_MS)),
            election_ticks: usize::try_from(election_ticks)?,
            heartbeat_ticks: usize::try_from(heartbeat_ticks)?,
            lease: Duration::from_millis(
                args.lease_ms
                    .or(timing.lease_ms)
                    .unwrap_or(DEFAULT_LEASE_MS),
            ),
            tls,
            socket_group,
            policy,
            limits,
        })
    }

    /// The initial voters: this node and its peers; none for a joining node.
    pub fn voters(&self) -> Vec<u64> {
        if self.join {
            return Vec::new();
        }
        std::iter::once(self.node_id)
            .chain(self.peers.iter().map(|p| p.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn settings(args: &[&str]) -> anyhow::Result<Settings> {
        Settings::resolve(&Args::try_parse_from(
            std::iter::once("ham").chain(args.iter().copied()),
        )?)
    }

    #[test]
    fn p1_defaults_make_a_one_node_cluster_on_its_socket_alone() {
        let s = settings(&[]).unwrap();
        assert_eq!((s.node_id, s.voters(), s.listen), (1, vec![1], None));
        assert_eq!(s.tick, Duration::from_millis(50));
        assert_eq!(s.socket_group, 0);
        assert_eq!(s.limits, Limits::default());
        let s = settings(&["--peer", "2=b@127.0.0.2:1", "--insecure"]).unwrap();
        assert_eq!(s.listen, Some(DEFAULT_LISTEN.parse().unwrap()));
    }

    #[test]
    fn the_example_configuration_resolves() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/ham.toml");
        let s = settings(&["--config", path]).unwrap();
        assert_eq!(s.peers.len(), 2);
        assert!(s.tls.is_some());
        assert_eq!(s.limits, Limits::default());
    }

    #[test]
    fn p1_plain_text_tcp_needs_insecure_also_on_loopback() {
        let err = settings(&["--listen", "127.0.0.1:4815"]).unwrap_err();
        assert!(format!("{err:#}").contains("--insecure"), "{err:#}");
        assert!(settings(&["--peer", "2=b@127.0.0.2:1"]).is_err());
        assert!(settings(&["--listen", "127.0.0.1:4815", "--insecure"]).is_ok());
        assert!(settings(&["--no-socket"]).is_err(), "nothing to serve");
    }

    #[test]
    fn p2_p7_policy_limits_and_socket_group_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ham.toml");
        std::fs::write(
            &path,
            "socket_group = 27\n[policy]\nanonymous = \"reader\"\n[[policy.rule]]\nuid = 1000\nrole = \"operator\"\n[limits]\nentities_per_node = 5\n",
        )
        .unwrap();
        let s = settings(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(s.socket_group, 27);
        assert_eq!(s.limits.entities_per_node, 5);
        assert_eq!(s.policy.anonymous, Some(crate::auth::roles::Role::Reader));
        let s = settings(&["--config", path.to_str().unwrap(), "--socket-group", "0"]).unwrap();
        assert_eq!(s.socket_group, 0, "the flag wins");
        assert!(settings(&["--socket-group", "no-such-group-here"]).is_err());
        std::fs::write(&path, "[limits]\nrequest_bytes = 0\n").unwrap();
        assert!(settings(&["--config", path.to_str().unwrap()]).is_err());
        std::fs::write(&path, "[[policy.rule]]\nrole = \"admin\"\n").unwrap();
        assert!(settings(&["--config", path.to_str().unwrap()]).is_err());
    }

    #[test]
    fn one_peer_list_serves_every_node() {
        let peers = [
            "--peer",
            "1=a@127.0.0.1:7001",
            "--peer",
            "2=b@127.0.0.2:7001",
            "--peer",
            "3=c@127.0.0.3:7001",
        ];
        let mut args = vec!["--node-id", "2", "--insecure"];
        args.extend(peers);
        let s = settings(&args).unwrap();
        assert_eq!(s.node_name.as_deref(), Some("b"));
        assert_eq!(s.listen, Some("127.0.0.2:7001".parse().unwrap()));
        assert_eq!(s.voters(), vec![2, 1, 3]);
        args.push("--join");
        assert!(settings(&args).unwrap().voters().is_empty());
        assert!(
            settings(&["--join"]).is_err(),
            "a joining node needs its peers' addresses"
        );
    }

    #[test]
    fn config_file_is_read_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ham.toml");
        std::fs::write(
            &path,
            "node_id = 3\nnode_name = \"c\"\nlisten = \"127.0.0.3:7001\"\n[[peer]]\nid = 1\nname = \"a\"\naddress = \"127.0.0.1:7001\"\n[timing]\nlease_ms = 900\n",
        )
        .unwrap();
        let s = settings(&[
            "--config",
            path.to_str().unwrap(),
            "--node-name",
            "cc",
            "--insecure",
        ])
        .unwrap();
        assert_eq!(
            (s.node_id, s.node_name.as_deref(), s.lease),
            (3, Some("cc"), Duration::from_millis(900))
        );
        assert_eq!(s.voters(), vec![3, 1]);
        std::fs::write(&path, "node_id = 3\nsurprise = 1\n").unwrap();
        let err = settings(&["--config", path.to_str().unwrap()]).unwrap_err();
        assert!(format!("{err:#}").contains("ham.toml"), "{err:#}");
    }

    /// P9 (found by the `config` fuzz target): a `[[peer]]` of the file was taken as it was,
    /// so a reserved id, a name `--peer` refuses, or an address without a port got through.
    #[test]
    fn p9_config_file_peers_are_checked_like_peer_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ham.toml");
        let peer = |id: &str, name: &str, address: &str| {
            format!("[[peer]]\nid = {id}\nname = \"{name}\"\naddress = \"{address}\"\n")
        };
        for bad in [
            peer("0", "b", "127.0.0.2:1"),
            peer("18446744073709551615", "b", "127.0.0.2:1"),
            peer("2", "", "127.0.0.2:1"),
            peer("2", "*", "127.0.0.2:1"),
            peer("2", "a/b", "127.0.0.2:1"),
            peer("2", "b", "10.1.cert4815"),
            // This node's own entry too: it supplies the node's name.
            peer("1", "a/b", "127.0.0.1:1"),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let err = settings(&["--config", path.to_str().unwrap()]).unwrap_err();
            assert!(format!("{err:#}").contains("[[peer]]"), "{bad}: {err:#}");
        }
        std::fs::write(&path, peer("2", "b", "127.0.0.2:1")).unwrap();
        let s = settings(&["--config", path.to_str().unwrap(), "--insecure"]).unwrap();
        assert_eq!(s.voters(), vec![1, 2]);
    }

    #[test]
    fn plain_text_off_loopback_and_bad_lists_are_refused() {
        assert!(settings(&["--listen", "0.0.0.0:1"]).is_err());
        assert!(
            settings(&["--listen", "0.0.0.0:1", "--insecure"]).is_err(),
            "no advertise address"
        );
        assert!(
            settings(&[
                "--listen",
                "0.0.0.0:1",
                "--insecure",
                "--advertise",
                "192.0.2.1:1"
            ])
            .is_ok()
        );
        assert!(settings(&["--peer", "2=b@192.0.2.7:1"]).is_err());
        let i = "--insecure";
        assert!(settings(&[i, "--peer", "2=b@127.0.0.2:1", "--peer", "2=c@127.0.0.3:1"]).is_err());
        assert!(settings(&[i, "--peer", "2=b@127.0.0.2:1", "--peer", "3=b@127.0.0.3:1"]).is_err());
        assert!(settings(&["--heartbeat-ticks", "10", "--election-ticks", "10"]).is_err());
    }
}
