//! The server side of TLS on the TCP listener: a handshake per accepted connection, each in its
//! own task (a slow or silent client holds up nobody else), bounded in time.
//!
//! tonic's own TLS server takes no certificate verifier, so the listener's connections are
//! handed to tonic already wrapped; tonic still sees the client's certificates
//! (`Request::peer_certs`) and address (`Request::remote_addr`) through `Connected`.

use super::HANDSHAKE_TIMEOUT;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tracing::Instrument as _;

/// Performs the TLS handshakes of a listener.
#[derive(Clone)]
pub struct Acceptor {
    pub(super) inner: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor").finish_non_exhaustive()
    }
}

impl Acceptor {
    /// The connections of `incoming` that complete a handshake in time, as a stream for
    /// tonic's `serve_with_incoming*`. Failed handshakes are dropped with a debug line (a
    /// refused certificate has already been logged, with its reason, by the verifier). The
    /// stream ends when `incoming` does.
    pub fn accept_all<S, IO>(self, incoming: S) -> ReceiverStream<io::Result<TlsStream<IO>>>
    where
        S: Stream<Item = io::Result<IO>> + Send + 'static,
        IO: AsyncRead
            + AsyncWrite
            + Connected<ConnectInfo = TcpConnectInfo>
            + Unpin
            + Send
            + 'static,
    {
        let (tx, rx) = mpsc::channel(16);
        let acceptor = Arc::new(self.inner);
        let accept = async move {
            tokio::pin!(incoming);
            while let Some(next) = incoming.next().await {
                if tx.is_closed() {
                    return; // The server is gone.
                }
                let io = match next {
                    Ok(io) => io,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        continue;
                    }
                };
                let remote = io
                    .connect_info()
                    .remote_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default();
                let (acceptor, tx) = (Arc::clone(&acceptor), tx.clone());
                let handshake = async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
                        Ok(Ok(tls)) => {
                            // The server is gone when this fails: nothing to hand it to.
                            let _ = tx.send(Ok(tls)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(
                            after_s = HANDSHAKE_TIMEOUT.as_secs(),
                            "TLS handshake timed out"
                        ),
                    }
                };
                tokio::spawn(handshake.instrument(tracing::info_span!("tls_handshake", remote)));
            }
        };
        tokio::spawn(accept.in_current_span());
        ReceiverStream::new(rx)
    }
}
