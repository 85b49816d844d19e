//! `ham`: the High Availability Manager daemon of one node, as a library so that
//! fuzz targets and benchmarks reach its parsers; `src/main.rs` only calls [`main`].
//!
//! Exit codes: 0 stopped on request; 1 failed while running; 2 bad
//! command-line flags; 3 the data directory or the log on disk is unusable;
//! 4 an API address or socket could not be bound. `ham cert` has its own (see `cert`).

mod agent;
mod api;
mod auth;
mod cert;
mod cli;
mod clock;
mod failpoint;
// Public only for the fuzz targets (`fuzz/`); not part of the daemon.
#[doc(hidden)]
pub mod fuzzing;
mod logging;
mod net;
mod node;
mod process;
mod server;
mod settings;
mod status;

// The agent reaches other nodes through `crate::cluster`; the path stays
// while the agent's own files are being reworked.
use net::cluster;
use net::{leases, peer, tls, transport};

use anyhow::Context as _;
use clap::Parser as _;
use cli::Args;
use ham_core::machine::HamMachine;
use ham_core::model::{Command, Errno, HamState, VerboseOp};
use ham_core::replica::{ReplicaConfig, ReplicaHandle};
use net::cluster::Cluster;
use node::{Identity, Node};
use settings::Settings;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{Instrument as _, info_span};

/// A start-up or run-time failure and the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn fail(code: u8) -> impl FnOnce(anyhow::Error) -> Failure {
    move |error| Failure { code, error }
}

/// Creates the data directory if needed and proves it is writable.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let probe = dir.join(".ham-write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn host_name(id: u64) -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains('/'))
        .unwrap_or_else(|| format!("node{id}"))
}

async fn run(args: Args) -> Result<(), Failure> {
    #[cfg(feature = "failpoints")]
    failpoint::arm(args.failpoint.clone());
    let settings = Settings::resolve(&args).map_err(fail(2))?;
    prepare_data_dir(&settings.data_dir).map_err(fail(3))?;
    let tls = match &settings.tls {
        Some(f) => Some(Arc::new(
            tls::TlsSettings::load(&f.ca, &f.cert, &f.key, settings.node_id).map_err(fail(2))?,
        )),
        None => None,
    };
    let listeners = server::Listeners::bind(settings.listen, args.socket())
        .await
        .map_err(fail(4))?;
    let bound = listeners
        .tcp_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let address = settings.advertise.clone().unwrap_or(bound);
    let id = settings.node_id;
    let identity = Identity {
        id,
        name: settings.node_name.clone().unwrap_or_else(|| host_name(id)),
        address,
    };

    // The reaper must exist before any process is started (it makes us a subreaper).
    let reaper = process::reaper::Reaper::start()
        .context("cannot become a child subreaper")
        .map_err(fail(1))?;
    let transport = transport::PeerTransport::new(id, tls.clone());
    for p in &settings.peers {
        transport.set_peer(p.id, p.address.clone());
    }
    let (agent_tx, agent_rx) = agent::channel();
    let machine = HamMachine::new(
        HamState::default(),
        agent::effect_sink(id, agent_tx.clone()),
    );
    let config = ReplicaConfig {
        id,
        data_dir: settings.data_dir.join("raft"),
        voters: settings.voters(),
        tick: settings.tick,
        election_ticks: settings.election_ticks,
        heartbeat_ticks: settings.heartbeat_ticks,
        ..ReplicaConfig::default()
    };
    let replica = ReplicaHandle::start(config, machine, transport.clone())
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the log in {}: {e}",
                settings.data_dir.display()
            )
        })
        .map_err(fail(3))?;
    transport.attach(replica.clone());
    let replica_ended = replica.clone();
    let node = Node::new(identity.clone(), replica);
    // Addresses of nodes added at run time, as the restored state knows them.
    for (peer, meta) in node.read_now(|s| s.nodes.clone()) {
        if peer != id {
            transport.set_peer(peer, meta.address);
        }
    }
    let cluster = Cluster::new(node.clone(), transport.clone());

    let stop = Arc::new(Notify::new());
    // A replica that stops by itself cannot serve writes any more: stop in order and exit 1,
    // for a supervisor to restart us, rather than answer "stopping" forever.
    let died = Arc::new(std::sync::Mutex::new(None));
    tokio::spawn({
        let (died, stop) = (died.clone(), stop.clone());
        async move {
            let e = replica_ended.stopped().await;
            tracing::error!(error = %e, "the replica stopped by itself; stopping");
            *died.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            stop.notify_one();
        }
    });
    let (agent, readopted) = agent::start(
        cluster.clone(),
        &settings.data_dir,
        reaper,
        agent_tx,
        agent_rx,
        stop.clone(),
    )
    .map_err(fail(3))?;
    let leases = Arc::new(leases::Leases::new(settings.lease));
    let access = auth::Access::new(settings.policy.clone(), settings.limits);
    let ham = api::HamService::new(cluster.clone(), agent.clone(), stop.clone(), access);
    let peer = peer::PeerService::new(node.clone(), agent, leases.clone());
    // Other nodes must reach this one before it can register (or elect anyone).
    let (tcp, unix) = listeners.split();
    let shutdown = server::Shutdown::new(stop.clone());
    let tcp_span = info_span!("server", listener = "tcp", address = %identity.address);
    let tcp_task = tokio::spawn(
        server::serve_tcp(
            tcp,
            ham.clone(),
            transport.service(),
            peer,
            tls,
            shutdown.clone(),
            settings.limits,
        )
        .instrument(tcp_span),
    );
    register(&node, &args, shutdown.clone()).await?;
    // E11: every process of this node is watched again before the node reports ready.
    if readopted.await.is_err() {
        return Err(fail(1)(anyhow::anyhow!(
            "the agent stopped during re-adoption"
        )));
    }
    tokio::spawn(
        leases::renew_forever(cluster.clone(), leases.clone())
            .instrument(info_span!("lease_renew", node = id)),
    );
    tokio::spawn(
        leases::check_forever(cluster, leases).instrument(info_span!("lease_check", node = id)),
    );
    spawn_signal_handler(stop.clone()).map_err(fail(1))?;
    tracing::info!(
        node = identity.id,
        name = %identity.name,
        listen = %identity.address,
        socket = ?args.socket(),
        peers = settings.peers.len(),
        "ham ready"
    );
    // The local socket opens last: a client that reaches it finds the node registered.
    let unix_span = info_span!("server", listener = "unix", socket = ?unix);
    let served = server::serve_unix(unix, ham, shutdown, settings.socket_group, settings.limits)
        .instrument(unix_span)
        .await;
    // Peers' Raft streams into this node end now, so the TCP server drains
    // at once; outbound links stop too. Nothing after this needs Raft.
    transport.close();
    let tcp_served = tcp_task
        .await
        .map_err(|e| anyhow::anyhow!("tcp server task: {e}"));
    node.shutdown().await;
    if let Some(socket) = args.socket() {
        let _ = std::fs::remove_file(socket);
    }
    tracing::info!("ham stopped");
    if let Some(e) = died.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(fail(1)(anyhow::anyhow!("the replica stopped: {e}")));
    }
    served.and(tcp_served.and_then(|r| r)).map_err(fail(1))
}

/// Registers this node's name and address in the state (retrying while the
/// cluster has no leader yet), then applies the verbosity asked for.
async fn register(node: &Node, args: &Args, stop: server::Shutdown) -> Result<(), Failure> {
    let mut wait = std::pin::pin!(stop.requested());
    loop {
        match node.register().await {
            Ok(()) => break,
            Err(e) if e.errno == ham_core::model::Errno::Eagain => {
                tracing::info!("waiting for a cluster leader to register this node");
                tokio::select! {
                    _ = &mut wait => return Err(fail(1)(anyhow::anyhow!("stopped before joining the cluster"))),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
                }
            }
            Err(e) => {
                return Err(fail(1)(anyhow::anyhow!(
                    "cannot register node {}: {e}",
                    node.identity.id
                )));
            }
        }
    }
    if let Some(level) = args.verbosity() {
        let cmd = Command::Verbose {
            node: node.identity.id,
            op: VerboseOp::Set,
            value: level.into(),
        };
        // Setting a level is idempotent: an answer that the outcome is unknown (M5), or no
        // quorum yet, is simply tried again, as registering is.
        loop {
            match node.write(cmd.clone()).await {
                Ok(_) => break,
                Err(e) if matches!(e.errno, Errno::Eagain | Errno::Etimedout) => {
                    tokio::select! {
                        _ = &mut wait => return Err(fail(1)(anyhow::anyhow!("stopped before setting the verbosity"))),
                        _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
                    }
                }
                Err(e) => return Err(fail(1)(anyhow::anyhow!("cannot set verbosity: {e}"))),
            }
        }
    }
    Ok(())
}

/// SIGTERM and SIGINT stop the HAM in order, like `hamctrl -stop`.
fn spawn_signal_handler(stop: Arc<Notify>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signal received, stopping");
        stop.notify_one();
    });
    Ok(())
}

/// The whole daemon: parses the command line, runs until stopped, and returns the exit code.
pub fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Some(cli::Tool::Cert(command)) = args.tool {
        return cert::main(command);
    }
    if let Err(e) = logging::init(&args) {
        eprintln!("ham: {e:#}");
        return ExitCode::from(2);
    }
    // M4: the soft fd limit up to the hard one, before any thread or socket exists.
    server::raise_fd_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ham: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, error }) => {
            tracing::error!("{error:#}");
            eprintln!("ham: {error:#}");
            ExitCode::from(code)
        }
    }
}
