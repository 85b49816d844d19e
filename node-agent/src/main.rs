//! `ham`: the High Availability Manager daemon of one node.
//!
//! Exit codes: 0 stopped on request; 1 failed while running; 2 bad
//! command-line flags; 3 the data directory or the log on disk is unusable;
//! 4 an API address or socket could not be bound.

mod agent;
mod api;
mod cli;
mod logging;
mod node;
mod process;
mod server;
mod transport;

use anyhow::Context as _;
use clap::Parser as _;
use cli::Args;
use ham_core::machine::HamMachine;
use ham_core::model::{Command, HamState, VerboseOp};
use ham_core::replica::{ReplicaConfig, ReplicaHandle};
use node::{Identity, Node};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Notify;

/// A start-up or run-time failure and the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn fail(code: u8) -> impl FnOnce(anyhow::Error) -> Failure {
    move |error| Failure { code, error }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = logging::init(&args) {
        eprintln!("ham: {e:#}");
        return ExitCode::from(2);
    }
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
    server::check_plaintext(args.listen, args.insecure).map_err(fail(2))?;
    prepare_data_dir(&args.data_dir).map_err(fail(3))?;
    let listeners = server::Listeners::bind(args.listen, args.socket())
        .await
        .map_err(fail(4))?;
    let address = listeners
        .tcp_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let identity = Identity {
        id: args.node_id,
        name: args
            .node_name
            .clone()
            .unwrap_or_else(|| host_name(args.node_id)),
        address,
    };

    // The reaper must exist before any process is started (it makes us a subreaper).
    let reaper = process::reaper::Reaper::start()
        .context("cannot become a child subreaper")
        .map_err(fail(1))?;
    let (agent_tx, agent_rx) = agent::channel();
    let machine = HamMachine::new(
        HamState::default(),
        agent::effect_sink(identity.id, agent_tx.clone()),
    );
    let config = ReplicaConfig {
        id: identity.id,
        data_dir: args.data_dir.join("raft"),
        voters: vec![identity.id],
        ..ReplicaConfig::default()
    };
    let replica = ReplicaHandle::start(config, machine, Arc::new(transport::NoPeers))
        .map_err(|e| anyhow::anyhow!("cannot open the log in {}: {e}", args.data_dir.display()))
        .map_err(fail(3))?;
    let node = Node::new(identity.clone(), replica);
    node.register()
        .await
        .map_err(|e| anyhow::anyhow!("cannot register node {}: {e}", identity.id))
        .map_err(fail(1))?;
    if let Some(level) = args.verbosity() {
        let cmd = Command::Verbose {
            node: identity.id,
            op: VerboseOp::Set,
            value: level.into(),
        };
        node.write(cmd)
            .await
            .map_err(|e| anyhow::anyhow!("cannot set verbosity: {e}"))
            .map_err(fail(1))?;
    }

    let stop = Arc::new(Notify::new());
    let agent = agent::start(
        node.clone(),
        &args.data_dir,
        reaper,
        agent_tx,
        agent_rx,
        stop.clone(),
    )
    .map_err(fail(3))?;
    spawn_signal_handler(stop.clone()).map_err(fail(1))?;
    tracing::info!(
        node = identity.id,
        name = %identity.name,
        listen = %identity.address,
        socket = ?args.socket(),
        "ham ready"
    );
    let service = api::HamService::new(node.clone(), agent, stop.clone());
    let served = listeners.serve(service, stop).await;
    node.shutdown().await;
    if let Some(socket) = args.socket() {
        let _ = std::fs::remove_file(socket);
    }
    tracing::info!("ham stopped");
    served.map_err(fail(1))
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
