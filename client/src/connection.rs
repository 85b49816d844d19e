//! Where a HAM listens, and how a gRPC channel to it is opened.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::{Errno, HamError};
use crate::tls::TlsFiles;

/// Environment variable naming the Unix socket of the local HAM.
pub const SOCKET_ENV: &str = "HAM_SOCKET";
/// Environment variable naming the TCP address (URI) of the local HAM.
pub const ADDR_ENV: &str = "HAM_ADDR";
/// Default Unix socket of the local HAM.
pub const DEFAULT_SOCKET: &str = "/run/ham/ham.sock";
/// Default TCP address of the local HAM, used when the socket is missing.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:4815";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The address of a HAM daemon's API.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HamAddress {
    /// A Unix domain socket.
    Unix(PathBuf),
    /// A TCP URI such as `http://127.0.0.1:4815`.
    Tcp(String),
    /// A TCP address (`host:port`, or `https://host:port`) with mutual TLS: the server is
    /// verified against the CA, this client presents its certificate.
    Tls {
        /// Where the HAM listens.
        uri: String,
        /// The CA, the client certificate and its key.
        files: TlsFiles,
    },
}

impl HamAddress {
    /// The address of the local HAM: `$HAM_SOCKET`, else `/run/ham/ham.sock`
    /// when that socket exists, else `$HAM_ADDR` (with TLS when `$HAM_TLS_CA`,
    /// `$HAM_TLS_CERT` and `$HAM_TLS_KEY` are set), else
    /// `http://127.0.0.1:4815`.
    pub fn local() -> HamAddress {
        if let Some(path) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            if path.exists() {
                return HamAddress::Unix(path);
            }
        } else if Path::new(DEFAULT_SOCKET).exists() {
            return HamAddress::Unix(DEFAULT_SOCKET.into());
        }
        match std::env::var(ADDR_ENV) {
            Ok(addr) if !addr.is_empty() => HamAddress::tcp(addr, TlsFiles::from_env()),
            _ => HamAddress::Tcp(DEFAULT_ADDR.to_owned()),
        }
    }

    /// A TCP address, with TLS when `tls` is given.
    pub fn tcp(uri: impl Into<String>, tls: Option<TlsFiles>) -> HamAddress {
        match tls {
            Some(files) => HamAddress::Tls {
                uri: uri.into(),
                files,
            },
            None => HamAddress::Tcp(uri.into()),
        }
    }

    /// Opens a gRPC channel to this address (EBADF when it cannot be
    /// reached, EINVAL for a malformed URI).
    pub async fn channel(&self) -> Result<Channel, HamError> {
        match self {
            HamAddress::Unix(path) => unix_channel(path).await,
            HamAddress::Tcp(uri) => tcp_endpoint(uri)?.connect().await.map_err(HamError::from),
            HamAddress::Tls { uri, files } => tls_endpoint(uri, files)?
                .connect()
                .await
                .map_err(HamError::from),
        }
    }

    /// A channel that connects on first use (never fails here for a Unix
    /// socket; EINVAL for a malformed URI).
    pub fn lazy_channel(&self) -> Result<Channel, HamError> {
        match self {
            HamAddress::Unix(path) => {
                let path = Arc::new(path.clone());
                Ok(placeholder_endpoint().connect_with_connector_lazy(UnixConnector(path)))
            }
            HamAddress::Tcp(uri) => Ok(tcp_endpoint(uri)?.connect_lazy()),
            HamAddress::Tls { uri, files } => Ok(tls_endpoint(uri, files)?.connect_lazy()),
        }
    }
}

impl fmt::Display for HamAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HamAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            HamAddress::Tcp(uri) => f.write_str(uri),
            HamAddress::Tls { uri, .. } => f.write_str(&https(uri)),
        }
    }
}

fn tcp_endpoint(uri: &str) -> Result<Endpoint, HamError> {
    let uri = if uri.contains("://") {
        uri.to_owned()
    } else {
        format!("http://{uri}")
    };
    Endpoint::from_shared(uri.clone())
        .map(|e| e.connect_timeout(CONNECT_TIMEOUT))
        .map_err(|e| HamError::new(Errno::Einval, format!("bad HAM address {uri}: {e}")))
}

/// `uri` with the `https` scheme (tonic only speaks TLS to `https://` URIs).
fn https(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    format!("https://{rest}")
}

fn tls_endpoint(uri: &str, files: &TlsFiles) -> Result<Endpoint, HamError> {
    files.apply(tcp_endpoint(&https(uri))?)
}

/// The URI is required by tonic but ignored by the Unix connector.
fn placeholder_endpoint() -> Endpoint {
    Endpoint::from_static("http://[::]:50051").connect_timeout(CONNECT_TIMEOUT)
}

/// Opens a new Unix stream to the socket for each connection tonic makes.
#[derive(Debug, Clone)]
struct UnixConnector(Arc<PathBuf>);

impl tower::Service<Uri> for UnixConnector {
    type Response = TokioIo<UnixStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let path = Arc::clone(&self.0);
        Box::pin(async move { Ok(TokioIo::new(UnixStream::connect(&*path).await?)) })
    }
}

async fn unix_channel(path: &Path) -> Result<Channel, HamError> {
    let connector = UnixConnector(Arc::new(path.to_owned()));
    placeholder_endpoint()
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            let mut err = HamError::from(e);
            err.message = format!("{} (socket {})", err.message, path.display());
            err
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_bad_uri() {
        assert_eq!(
            HamAddress::Unix("/run/ham/ham.sock".into()).to_string(),
            "unix:/run/ham/ham.sock"
        );
        assert!(tcp_endpoint("127.0.0.1:4815").is_ok());
        let err = tcp_endpoint("http://bad host:1").unwrap_err();
        assert_eq!(err.errno, Errno::Einval);
        assert_eq!(https("http://10.0.0.1:4815"), "https://10.0.0.1:4815");
        assert_eq!(https("10.0.0.1:4815"), "https://10.0.0.1:4815");
        let tls = HamAddress::tcp(
            "10.0.0.1:4815",
            Some(TlsFiles {
                ca: "ca.pem".into(),
                cert: "c.pem".into(),
                key: "c.key".into(),
            }),
        );
        assert_eq!(tls.to_string(), "https://10.0.0.1:4815");
        assert_eq!(
            HamAddress::tcp("10.0.0.1:4815", None),
            HamAddress::Tcp("10.0.0.1:4815".into())
        );
    }

    #[tokio::test]
    async fn missing_socket_is_ebadf() {
        let dir = std::env::temp_dir().join(format!("ham-client-test-{}", std::process::id()));
        let addr = HamAddress::Unix(dir.join("nope.sock"));
        let err = addr.channel().await.unwrap_err();
        assert_eq!(err.errno, Errno::Ebadf);
        assert!(addr.lazy_channel().is_ok());
    }
}
