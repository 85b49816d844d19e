//! Serving the API on a Unix socket and on a TCP address.

use crate::api::HamService;
use anyhow::{Context as _, bail};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Notify;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};

/// Binds both listeners up front, so that "address in use" is reported at start.
pub struct Listeners {
    tcp: TcpListener,
    unix: Option<UnixListener>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("tcp", &self.tcp.local_addr().ok())
            .finish()
    }
}

/// Refuses plain text on a routable address unless the operator says so.
pub fn check_plaintext(addr: SocketAddr, insecure: bool) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() && !insecure {
        bail!(
            "refusing plain-text gRPC on {addr}: not a loopback address (pass --insecure to allow it)"
        );
    }
    Ok(())
}

impl Listeners {
    /// Binds the TCP address and the Unix socket, if any.
    pub async fn bind(addr: SocketAddr, socket: Option<&Path>) -> anyhow::Result<Listeners> {
        let tcp = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let unix = if let Some(socket) = socket {
            if let Some(dir) = socket.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create socket directory {}", dir.display()))?;
            }
            // A socket file left by a killed ham is stale; one with a live server answers.
            if socket.exists() {
                if std::os::unix::net::UnixStream::connect(socket).is_ok() {
                    bail!("another ham is serving {}", socket.display());
                }
                std::fs::remove_file(socket)
                    .with_context(|| format!("cannot remove stale socket {}", socket.display()))?;
            }
            Some(
                UnixListener::bind(socket)
                    .with_context(|| format!("cannot listen on {}", socket.display()))?,
            )
        } else {
            None
        };
        Ok(Listeners { tcp, unix })
    }

    /// The TCP address actually bound (port 0 picks one).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.local_addr().ok()
    }

    /// Serves until `stop` is notified; in-flight calls finish first.
    pub async fn serve(self, service: HamService, stop: Arc<Notify>) -> anyhow::Result<()> {
        let shutdown = Arc::new(Notify::new());
        let relay = shutdown.clone();
        tokio::spawn(async move {
            stop.notified().await;
            relay.notify_waiters();
        });
        let tcp = {
            let service = service.clone();
            let shutdown = shutdown.clone();
            let incoming = TcpListenerStream::new(self.tcp);
            tokio::spawn(async move {
                tonic::transport::Server::builder()
                    .add_service(service.into_server())
                    .serve_with_incoming_shutdown(incoming, shutdown.notified())
                    .await
            })
        };
        if let Some(unix) = self.unix {
            let incoming = UnixListenerStream::new(unix);
            tonic::transport::Server::builder()
                .add_service(service.into_server())
                .serve_with_incoming_shutdown(incoming, shutdown.notified())
                .await
                .context("unix socket server failed")?;
        }
        tcp.await
            .context("tcp server task failed")?
            .context("tcp server failed")?;
        Ok(())
    }
}
