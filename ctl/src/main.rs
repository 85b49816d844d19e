//! `hamctrl`: command-line control of HAM nodes.
#![forbid(unsafe_code)]

mod argv;
mod cli;
mod cmd;
mod paths;
mod render;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use ham_client::{Errno, Ham, HamAddress, HamError, NodeSel, UNREACHABLE};

use crate::cli::{Cli, ConnArgs};
use crate::cmd::{CtlError, Ctx};

fn main() -> ExitCode {
    let cli = Cli::parse_from(argv::preprocess(std::env::args()));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hamctrl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = address(&cli.conn);
    match runtime.block_on(run(cli, &addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CtlError::Ham(e)) => {
            let message = match e.message.strip_prefix(UNREACHABLE) {
                Some(rest) => format!("{UNREACHABLE} at {addr}{rest}"),
                None => e.message,
            };
            eprintln!("hamctrl: {}: {message}", e.errno);
            ExitCode::FAILURE
        }
        Err(CtlError::Usage(msg)) => Cli::command()
            .error(clap::error::ErrorKind::InvalidValue, msg)
            .exit(),
    }
}

async fn run(cli: Cli, addr: &HamAddress) -> Result<(), CtlError> {
    let ctx = Ctx {
        ham: Ham::lazy(addr)?,
        node: cli.conn.node.clone().unwrap_or_default(),
    };
    let limit = cli.conn.timeout;
    // One bound for the whole verb, connection included: a stopped or cut
    // off node accepts connections (the kernel does) and never answers.
    match tokio::time::timeout(limit, cmd::dispatch(cli.command, &ctx)).await {
        Ok(done) => done,
        Err(_) => {
            let node = match &ctx.node {
                NodeSel::Local => String::new(),
                NodeSel::Id(id) => format!(" for node {id}"),
                NodeSel::Name(name) => format!(" for node {name}"),
                NodeSel::Cluster => " for node *".to_owned(),
            };
            Err(CtlError::Ham(HamError::new(
                Errno::Etimedout,
                format!(
                    "no answer from {}{node} within {} s",
                    shown(addr),
                    limit.as_secs_f64()
                ),
            )))
        }
    }
}

/// An address as the user gave it: a socket path, or a URI.
fn shown(addr: &HamAddress) -> String {
    match addr {
        HamAddress::Unix(path) => path.display().to_string(),
        HamAddress::Tcp(uri) | HamAddress::Tls { uri, .. } => uri.clone(),
    }
}

/// The HAM to talk to: --socket, --addr, else the local one; over TCP with
/// TLS when --tls-* (or $HAM_TLS_*) are given.
fn address(conn: &ConnArgs) -> HamAddress {
    match (&conn.socket, &conn.addr) {
        (Some(path), _) => HamAddress::Unix(path.clone()),
        (None, Some(uri)) => HamAddress::tcp(uri.clone(), conn.tls()),
        (None, None) => match HamAddress::local() {
            HamAddress::Tcp(uri) => HamAddress::tcp(uri, conn.tls()),
            local => local,
        },
    }
}
