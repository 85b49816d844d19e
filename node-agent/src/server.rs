//! Serving: the public API on a Unix socket (local clients) and on TCP
//! (clients and other nodes, with the Raft transport and the Peer service;
//! mutual TLS when configured).

use crate::api::HamService;
use crate::peer::PeerService;
use crate::tls::TlsSettings;
use anyhow::{Context as _, bail};
use ham_proto::ham::raft::v1::raft_transport_server::{RaftTransport, RaftTransportServer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Notify, watch};
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};

/// Both listeners, bound up front so that "address in use" is reported at start.
pub struct Listeners {
    tcp: TcpListener,
    unix: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("tcp", &self.tcp.local_addr().ok())
            .finish()
    }
}

impl Listeners {
    /// Binds the TCP address and the Unix socket, if any.
    pub async fn bind(addr: SocketAddr, socket: Option<&Path>) -> anyhow::Result<Listeners> {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let unix = match socket {
            Some(socket) => {
                if let Some(dir) = socket.parent() {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("cannot create socket directory {}", dir.display())
                    })?;
                }
                // A socket file left by a killed ham is stale; one with a live server answers.
                if socket.exists() {
                    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                        bail!("another ham is serving {}", socket.display());
                    }
                    std::fs::remove_file(socket).with_context(|| {
                        format!("cannot remove stale socket {}", socket.display())
                    })?;
                }
                // Bound later, once the node serves: a client that can connect finds it ready.
                Some(socket.to_path_buf())
            }
            None => None,
        };
        Ok(Listeners { tcp, unix })
    }

    /// The TCP address actually bound (port 0 picks one).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// The TCP listener, and the Unix socket path to bind when ready.
    pub fn split(self) -> (TcpListener, Option<std::path::PathBuf>) {
        (self.tcp, self.unix)
    }
}

/// Serves the API, the Raft transport and the Peer service on TCP until `stop`.
pub async fn serve_tcp<T: RaftTransport>(
    tcp: TcpListener,
    ham: HamService,
    raft: RaftTransportServer<T>,
    peer: PeerService,
    tls: Option<Arc<TlsSettings>>,
    stop: Shutdown,
) -> anyhow::Result<()> {
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &tls {
        builder = builder
            .tls_config(tls.server_config())
            .context("bad TLS configuration")?;
    }
    let server = builder
        .add_service(ham.into_server())
        .add_service(raft)
        .add_service(peer.into_server())
        .serve_with_incoming_shutdown(TcpListenerStream::new(tcp), stop.clone().requested());
    bounded(server, stop).await.context("tcp server failed")
}

/// Serves the API on the Unix socket (if any) until `stop`.
pub async fn serve_unix(
    socket: Option<std::path::PathBuf>,
    ham: HamService,
    stop: Shutdown,
) -> anyhow::Result<()> {
    match socket {
        Some(path) => {
            let unix = UnixListener::bind(&path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            let server = tonic::transport::Server::builder()
                .add_service(ham.into_server())
                .serve_with_incoming_shutdown(
                    UnixListenerStream::new(unix),
                    stop.clone().requested(),
                );
            bounded(server, stop)
                .await
                .context("unix socket server failed")
        }
        None => {
            stop.requested().await;
            Ok(())
        }
    }
}

/// How long in-flight calls may finish after a stop. Other nodes' Raft
/// streams never end on their own, so graceful shutdown must be bounded.
const GRACE: Duration = Duration::from_millis(500);

/// The stop signal, seen by every server (a `Notify` wakes only one waiter).
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Turns the first notification of `stop` into a signal everyone sees.
    pub fn new(stop: Arc<Notify>) -> Shutdown {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            stop.notified().await;
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    /// Resolves once the stop was asked for.
    pub async fn requested(mut self) {
        // An error means the sender is gone, which only happens after a stop.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

/// Runs a server until it ends by itself or `GRACE` after the stop.
async fn bounded(
    server: impl std::future::Future<Output = Result<(), tonic::transport::Error>>,
    stop: Shutdown,
) -> Result<(), tonic::transport::Error> {
    tokio::pin!(server);
    tokio::select! {
        r = &mut server => r,
        _ = async { stop.requested().await; tokio::time::sleep(GRACE).await } => Ok(()),
    }
}
