//! Serving: the public API on a Unix socket (local clients, mode 0660, its group configured)
//! and, when asked for, on TCP (clients and other nodes, with the Raft transport and the Peer
//! service; mutual TLS, or plain text with `--insecure`).

use crate::api::HamService;
use crate::auth::limits::Limits;
use crate::net::peer::PeerService;
use crate::net::tls::TlsSettings;
use anyhow::{Context as _, bail};
use ham_proto::ham::raft::v1::raft_transport_server::{RaftTransport, RaftTransportServer};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tracing::Instrument as _;

/// Both listeners, bound up front so that "address in use" is reported at start.
pub struct Listeners {
    tcp: Option<TcpListener>,
    unix: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("tcp", &self.tcp_addr())
            .finish()
    }
}

impl Listeners {
    /// Binds the TCP address and the Unix socket, if any.
    pub async fn bind(
        addr: Option<SocketAddr>,
        socket: Option<&Path>,
    ) -> anyhow::Result<Listeners> {
        let tcp = match addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            ),
            None => None,
        };
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
        self.tcp.as_ref().and_then(|t| t.local_addr().ok())
    }

    /// The TCP listener, and the Unix socket path to bind when ready.
    pub fn split(self) -> (Option<TcpListener>, Option<std::path::PathBuf>) {
        (self.tcp, self.unix)
    }
}

/// Serves the API, the Raft transport and the Peer service on TCP (if any) until `stop`.
pub async fn serve_tcp<T: RaftTransport>(
    tcp: Option<TcpListener>,
    ham: HamService,
    raft: RaftTransportServer<T>,
    peer: PeerService,
    tls: Option<Arc<TlsSettings>>,
    stop: Shutdown,
    limits: Limits,
) -> anyhow::Result<()> {
    let Some(tcp) = tcp else {
        stop.requested().await;
        return Ok(());
    };
    let conns = ConnLimits::get();
    let incoming = accept_loop(tcp, "tcp", conns.tcp, stop.clone());
    let router = keepalive(tonic::transport::Server::builder(), &limits)
        .layer(tower::util::MapResponseLayer::new(
            oversized_as_enomem as Mapper,
        ))
        .add_service(ham.into_server())
        .add_service(raft)
        .add_service(peer.into_server());
    // TLS handshakes are ours (`TlsSettings::acceptor`): tonic's TLS server takes no verifier,
    // and ours logs why it refuses a certificate (P6).
    let result = match &tls {
        Some(tls) => {
            let acceptor = tls.acceptor().context("bad TLS configuration")?;
            let incoming = acceptor.accept_all(incoming);
            let server = router.serve_with_incoming_shutdown(incoming, stop.clone().requested());
            bounded(server, stop).await
        }
        None => {
            let server = router.serve_with_incoming_shutdown(incoming, stop.clone().requested());
            bounded(server, stop).await
        }
    };
    result.context("tcp server failed")
}

/// Serves the API on the Unix socket (if any) until `stop`. The socket is mode 0660, owned by
/// `group`: its members and the daemon's user can connect (P1); what they may do is the
/// policy's (P2).
pub async fn serve_unix(
    socket: Option<std::path::PathBuf>,
    ham: HamService,
    stop: Shutdown,
    group: u32,
    limits: Limits,
) -> anyhow::Result<()> {
    match socket {
        Some(path) => {
            let unix = UnixListener::bind(&path)
                .with_context(|| format!("cannot listen on {}", path.display()))?;
            restrict_socket(&path, group)?;
            let conns = ConnLimits::get();
            let incoming = accept_loop(unix, "unix", conns.unix, stop.clone());
            let server = keepalive(tonic::transport::Server::builder(), &limits)
                .layer(tower::util::MapResponseLayer::new(
                    oversized_as_enomem as Mapper,
                ))
                .add_service(ham.into_server())
                .serve_with_incoming_shutdown(incoming, stop.clone().requested());
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

// -- connection floods (HAM-CONTRACT M4) ---------------------------------------

/// How long a connection may stay without sending a byte before it is
/// closed. Every live HTTP/2 peer sends bytes at least this often: it
/// answers the server's keep-alive pings (every [`PING_EVERY`]), and Raft
/// streams carry heartbeats many times a second. What stays silent this long
/// is a dead peer or a socket that is not speaking HTTP/2 at all.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A new connection must start talking (the HTTP/2 preface) within this.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 keep-alive pings from the server, and how long the answer may take.
pub const PING_EVERY: Duration = Duration::from_secs(20);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the accept loop pauses when the process or system is out of descriptors.
pub const FD_BACKOFF: Duration = Duration::from_millis(100);
/// At most one warning line per this interval for each kind of refusal.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Most concurrent TCP connections (clients and other nodes), whatever the fd limit.
pub const MAX_TCP_CONNECTIONS: usize = 4096;
/// Most concurrent connections on the local Unix socket.
pub const MAX_UNIX_CONNECTIONS: usize = 1024;

/// Keep-alive pings, and at most `streams_per_caller` concurrent HTTP/2 streams per
/// connection (P7; the per-caller count of open streaming calls is the API's).
fn keepalive(builder: tonic::transport::Server, limits: &Limits) -> tonic::transport::Server {
    let streams = u32::try_from(limits.streams_per_caller).unwrap_or(u32::MAX);
    builder
        .http2_keepalive_interval(Some(PING_EVERY))
        .http2_keepalive_timeout(Some(PING_TIMEOUT))
        .max_concurrent_streams(Some(streams))
}

/// Mode 0660 and group `group` on the socket file, before anyone can have connected through
/// a wider mode: the listener is bound under the process umask (0022 or narrower gives no
/// one else write permission, which connecting needs).
fn restrict_socket(path: &Path, group: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::os::unix::fs::chown(path, None, Some(group))
        .with_context(|| format!("cannot give {} to group {group}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

type Response = tonic::codegen::http::Response<tonic::body::Body>;
type Mapper = fn(Response) -> Response;

/// P7: a request over the size limit is refused by tonic's decoder as OUT_OF_RANGE before any
/// handler sees it; it is answered as the vocabulary says a limit is, RESOURCE_EXHAUSTED with
/// errno ENOMEM.
fn oversized_as_enomem(resp: Response) -> Response {
    let h = resp.headers();
    let out_of_range = h
        .get("grpc-status")
        .is_some_and(|v| v == (tonic::Code::OutOfRange as i32).to_string().as_str());
    let too_large = h
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .is_some_and(|m| m.contains("too%20large") || m.contains("too large"));
    if !(out_of_range && too_large) {
        return resp;
    }
    let message = h
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default()
        .replace("%20", " ")
        .replace("%3A", ":")
        .replace("%2C", ",");
    let err = ham_core::model::HamError::new(
        ham_core::model::Errno::Enomem,
        format!("request over the size limit (limits.request_bytes): {message}"),
    );
    crate::status::to_status(err).into_http()
}

/// Connection caps, derived from the soft descriptor limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// TCP connections served at once.
    pub tcp: usize,
    /// Unix socket connections served at once.
    pub unix: usize,
}

impl ConnLimits {
    /// From a soft limit of `nofile` descriptors. A quarter of them (at least
    /// 256) stays for the agent's own: watched processes' pidfds and pipes,
    /// log files, the Raft log and snapshots, links to other nodes. Of the
    /// rest, three quarters go to TCP and one quarter to the Unix socket,
    /// so a flood on one still leaves room to connect on the other.
    pub fn for_nofile(nofile: u64) -> ConnLimits {
        let nofile = usize::try_from(nofile).unwrap_or(usize::MAX);
        let reserve = (nofile / 4).max(256);
        let budget = nofile.saturating_sub(reserve).max(64);
        ConnLimits {
            tcp: (budget / 4 * 3).clamp(16, MAX_TCP_CONNECTIONS),
            unix: (budget / 4).clamp(16, MAX_UNIX_CONNECTIONS),
        }
    }

    /// For this process's current soft limit.
    pub fn get() -> ConnLimits {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024);
        ConnLimits::for_nofile(soft)
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, as systemd does for
/// services, and logs the result. Returns the soft limit in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        tracing::warn!("cannot read the descriptor limit");
        return 1024;
    };
    let soft = if soft < hard {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(e) => {
                tracing::warn!(soft, hard, error = %e, "cannot raise the descriptor limit");
                soft
            }
        }
    } else {
        soft
    };
    let limits = ConnLimits::for_nofile(soft);
    tracing::info!(
        nofile = soft,
        hard,
        max_tcp_connections = limits.tcp,
        max_unix_connections = limits.unix,
        "descriptor limit"
    );
    soft
}

/// A listener whose accepted connections are served.
trait Listen: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static;
    fn accept(&self) -> impl std::future::Future<Output = io::Result<Self::Io>> + Send;
}

impl Listen for TcpListener {
    type Io = TcpStream;
    async fn accept(&self) -> io::Result<TcpStream> {
        let (s, _) = TcpListener::accept(self).await?;
        // Small frames (a client's answer, HTTP/2 window updates and pings on a peer's Raft
        // stream) go out at once, not after the previous segment's ACK (Nagle).
        if let Err(e) = s.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
        Ok(s)
    }
}

impl Listen for UnixListener {
    type Io = UnixStream;
    async fn accept(&self) -> io::Result<UnixStream> {
        UnixListener::accept(self).await.map(|(s, _)| s)
    }
}

/// Whether an accept error means "out of descriptors or memory": the pending
/// connection stays in the backlog, so accepting again at once would spin.
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One warning per episode: the first event logs, the ones after it are
/// counted and summed up once the episode ends or every [`WARN_EVERY`].
#[derive(Debug, Default)]
struct Episode {
    started: Option<Instant>,
    last_warn: Option<Instant>,
    count: u64,
}

impl Episode {
    /// Counts one event; true when a line should be logged now.
    fn hit(&mut self) -> bool {
        let now = Instant::now();
        self.count += 1;
        self.started.get_or_insert(now);
        match self.last_warn {
            Some(t) if now.duration_since(t) < WARN_EVERY => false,
            _ => {
                self.last_warn = Some(now);
                true
            }
        }
    }

    /// Ends the episode: how many events and for how long, if there was one.
    fn end(&mut self) -> Option<(u64, Duration)> {
        let started = self.started.take()?;
        let n = std::mem::take(&mut self.count);
        self.last_warn = None;
        Some((n, started.elapsed()))
    }
}

/// Accepts connections on `listener` until `stop`, as a stream for tonic.
/// Out of descriptors, it pauses [`FD_BACKOFF`] instead of spinning; with
/// `cap` connections open, it accepts and closes new ones at once; every
/// connection it hands on is closed after [`IDLE_TIMEOUT`] of silence.
fn accept_loop<L: Listen>(
    listener: L,
    what: &'static str,
    cap: usize,
    stop: Shutdown,
) -> ReceiverStream<io::Result<Guarded<L::Io>>> {
    let (tx, rx) = mpsc::channel(16);
    let open = Arc::new(AtomicUsize::new(0));
    let accept = async move {
        let mut exhausted = Episode::default();
        let mut over_cap = Episode::default();
        let stopped = stop.requested();
        tokio::pin!(stopped);
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                () = &mut stopped => return,
            };
            let io = match accepted {
                Ok(io) => io,
                Err(e) if is_exhaustion(&e) => {
                    if exhausted.hit() {
                        tracing::warn!(
                            listener = what,
                            error = %e,
                            open = open.load(Ordering::Relaxed),
                            pause_ms = FD_BACKOFF.as_millis() as u64,
                            "cannot accept connections: out of descriptors or memory"
                        );
                    }
                    tokio::time::sleep(FD_BACKOFF).await;
                    continue;
                }
                Err(e) => {
                    // ECONNABORTED and the like: that one connection is gone.
                    tracing::debug!(listener = what, error = %e, "accept failed");
                    continue;
                }
            };
            if let Some((refused, lasted)) = exhausted.end() {
                tracing::info!(
                    listener = what,
                    failed_accepts = refused,
                    lasted_ms = lasted.as_millis() as u64,
                    "accepting connections again"
                );
            }
            if open.load(Ordering::Relaxed) >= cap {
                // Closed at once: the client sees a reset, not a hang.
                drop(io);
                if over_cap.hit() {
                    tracing::warn!(
                        listener = what,
                        cap,
                        refused = over_cap.count,
                        "too many connections: closing new ones"
                    );
                }
                continue;
            }
            if let Some((refused, lasted)) = over_cap.end() {
                tracing::info!(
                    listener = what,
                    cap,
                    refused,
                    lasted_ms = lasted.as_millis() as u64,
                    "below the connection cap again"
                );
            }
            let io = Guarded::new(io, open.clone());
            if tx.send(Ok(io)).await.is_err() {
                return; // The server is gone.
            }
        }
    };
    // In the span of the server it feeds.
    tokio::spawn(accept.in_current_span());
    ReceiverStream::new(rx)
}

/// A served connection: counted while open, closed (reads fail with
/// `TimedOut`) after [`HELLO_TIMEOUT`] without a first byte or
/// [`IDLE_TIMEOUT`] without any byte.
#[derive(Debug)]
pub struct Guarded<T> {
    io: T,
    open: Arc<AtomicUsize>,
    last_read: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<T> Guarded<T> {
    fn new(io: T, open: Arc<AtomicUsize>) -> Guarded<T> {
        open.fetch_add(1, Ordering::Relaxed);
        Guarded {
            io,
            open,
            last_read: None,
            timer: Box::pin(tokio::time::sleep(HELLO_TIMEOUT)),
        }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T: Connected> Connected for Guarded<T> {
    type ConnectInfo = T::ConnectInfo;
    fn connect_info(&self) -> T::ConnectInfo {
        self.io.connect_info()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    // The timer is moved lazily, when it fires.
                    this.last_read = Some(Instant::now());
                }
                Poll::Ready(r)
            }
            Poll::Pending => loop {
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let deadline = match this.last_read {
                    Some(t) => t + IDLE_TIMEOUT,
                    None => return Poll::Ready(Err(silent("no request", HELLO_TIMEOUT))),
                };
                if deadline <= Instant::now() {
                    return Poll::Ready(Err(silent("idle", IDLE_TIMEOUT)));
                }
                this.timer.as_mut().reset(deadline);
            },
        }
    }
}

fn silent(what: &str, after: Duration) -> io::Error {
    tracing::debug!(
        after_s = after.as_secs(),
        reason = what,
        "closing a connection"
    );
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} for {}s", after.as_secs()),
    )
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m4_connection_caps_leave_room_for_the_agents_own_descriptors() {
        let l = ConnLimits::for_nofile(1024);
        assert_eq!((l.tcp, l.unix), (576, 192));
        assert!(l.tcp + l.unix <= 1024 - 256);
        let l = ConnLimits::for_nofile(65536);
        assert_eq!((l.tcp, l.unix), (MAX_TCP_CONNECTIONS, MAX_UNIX_CONNECTIONS));
        let l = ConnLimits::for_nofile(64);
        assert_eq!((l.tcp, l.unix), (48, 16));
    }

    #[test]
    fn m4_one_warning_per_episode() {
        let mut e = Episode::default();
        assert!(e.hit());
        assert!(!e.hit());
        assert!(!e.hit());
        assert_eq!(e.end().map(|(n, _)| n), Some(3));
        assert_eq!(e.end(), None);
        assert!(e.hit());
    }
}
