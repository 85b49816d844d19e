//! Mutual TLS to a HAM over TCP (HAM-CONTRACT P1): the cluster's CA, a client certificate and
//! its key, as `ham cert ca` and `ham cert client` make them.
//!
//! The server's certificate is verified against the CA and the name [`SERVER_NAME`], whatever
//! address was dialled, as nodes verify each other: every node certificate carries it.

use std::path::{Path, PathBuf};

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::error::{Errno, HamError};

/// Environment variable naming the CA certificate (PEM) for TLS connections.
pub const TLS_CA_ENV: &str = "HAM_TLS_CA";
/// Environment variable naming the client certificate (PEM).
pub const TLS_CERT_ENV: &str = "HAM_TLS_CERT";
/// Environment variable naming the client certificate's private key (PEM).
pub const TLS_KEY_ENV: &str = "HAM_TLS_KEY";

/// The name every HAM node's certificate carries (DNS subject alternative name).
pub const SERVER_NAME: &str = "ham";

/// The files of a TLS client identity, read when a connection is made.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsFiles {
    /// The cluster's CA certificate.
    pub ca: PathBuf,
    /// This client's certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// From `$HAM_TLS_CA`, `$HAM_TLS_CERT` and `$HAM_TLS_KEY`, when all three are set.
    pub fn from_env() -> Option<TlsFiles> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Some(TlsFiles {
            ca: var(TLS_CA_ENV)?,
            cert: var(TLS_CERT_ENV)?,
            key: var(TLS_KEY_ENV)?,
        })
    }

    /// `endpoint` with TLS from these files. A file that cannot be read or holds no PEM of its
    /// kind is an error naming it (ENOENT, EACCES, EINVAL).
    pub(crate) fn apply(&self, endpoint: Endpoint) -> Result<Endpoint, HamError> {
        let ca = read("CA certificate", &self.ca, "CERTIFICATE-----")?;
        let cert = read("client certificate", &self.cert, "CERTIFICATE-----")?;
        let key = read("private key", &self.key, "PRIVATE KEY-----")?;
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca))
            .identity(Identity::from_pem(cert, key))
            .domain_name(SERVER_NAME);
        endpoint
            .tls_config(config)
            .map_err(|e| HamError::new(Errno::Einval, format!("bad TLS material: {e}")))
    }
}

fn read(what: &str, path: &Path, marker: &str) -> Result<Vec<u8>, HamError> {
    let bytes = std::fs::read(path).map_err(|e| {
        let errno = e
            .raw_os_error()
            .map(Errno::from_code)
            .filter(|e| matches!(e, Errno::Enoent | Errno::Eacces))
            .unwrap_or(Errno::Einval);
        HamError::new(
            errno,
            format!("cannot read the {what} {}: {e}", path.display()),
        )
    })?;
    if !String::from_utf8_lossy(&bytes).contains(marker) {
        return Err(HamError::new(
            Errno::Einval,
            format!("the {what} {} holds no PEM {marker}", path.display()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p1_tls_files_that_are_missing_or_not_pem_are_named() {
        let dir = std::env::temp_dir().join(format!("ham-client-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let files = TlsFiles {
            ca: dir.join("missing.pem"),
            cert: junk.clone(),
            key: junk.clone(),
        };
        let endpoint = || Endpoint::from_static("https://127.0.0.1:1");
        let e = files.apply(endpoint()).unwrap_err();
        assert_eq!(e.errno, Errno::Enoent);
        assert!(e.message.contains("CA certificate") && e.message.contains("missing.pem"));
        let files = TlsFiles {
            ca: junk.clone(),
            ..files
        };
        let e = files.apply(endpoint()).unwrap_err();
        assert_eq!(e.errno, Errno::Einval);
        assert!(
            e.message.contains("junk.pem") && e.message.contains("no PEM"),
            "{e:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
