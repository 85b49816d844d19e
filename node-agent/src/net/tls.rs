//! Mutual TLS between `ham` daemons (rustls, ring provider).
//!
//! Every node holds the cluster's CA certificate, its own certificate chain and its private key,
//! all PEM. A node's server demands a client certificate signed by the CA, and a node's client
//! presents its own certificate and accepts a server certificate signed by the CA.
//!
//! **Names.** Clients verify the server certificate against the fixed name [`PEER_NAME`]
//! (`"ham"`), not against the host they dial: peers are usually addressed by IP, and addresses
//! change, while the trust decision is "signed by this cluster's CA" anyway. Every node
//! certificate must therefore carry the DNS subject alternative name `ham` (it may carry more),
//! and must be usable both as a server and as a client certificate (no extended key usage, or
//! both `serverAuth` and `clientAuth`). For example, with openssl:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
//!     -subj /CN=ham-ca -keyout ca.key -out ca.pem
//! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=node1 \
//!     -keyout node1.key -out node1.csr
//! openssl x509 -req -in node1.csr -CA ca.pem -CAkey ca.key -days 825 -out node1.pem \
//!     -extfile <(printf 'subjectAltName=DNS:ham\nextendedKeyUsage=serverAuth,clientAuth')
//! ```
//!
//! [`TlsSettings::load`] checks all of this at start-up (files readable, PEM parseable, key
//! matching the certificate, certificate valid under the CA for [`PEER_NAME`] both ways), so a
//! misconfigured node fails with a message naming the file instead of failing handshakes later.

use anyhow::{Context as _, anyhow, bail};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The name every node certificate carries (DNS subject alternative name) and every client
/// verifies, whatever address it dialled.
pub const PEER_NAME: &str = "ham";

/// Bound on a TLS handshake, on either side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// This node's TLS material: the cluster CA, this node's certificate chain and its key (PEM).
#[derive(Clone)]
pub struct TlsSettings {
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsSettings {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("peer_name", &PEER_NAME)
            .finish_non_exhaustive()
    }
}

/// The process-wide rustls provider: ring, the one tonic is built with (`tls-ring`).
fn provider() -> Arc<CryptoProvider> {
    if let Some(p) = CryptoProvider::get_default() {
        return Arc::clone(p);
    }
    // Losing the race to another thread installing the same provider is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .map(Arc::clone)
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

fn read(what: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

fn certificates(
    what: &str,
    path: &Path,
    pem: &[u8],
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the {what} {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        bail!(
            "the {what} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(certs)
}

impl TlsSettings {
    /// Loads PEM files: `ca` (the cluster CA certificate(s)), `cert` (this node's certificate,
    /// then any intermediates) and `key` (its private key: PKCS#8, PKCS#1 or SEC1). Checks that
    /// the key belongs to the certificate and that the certificate is valid under the CA for
    /// [`PEER_NAME`], as a server and as a client. Errors name the file at fault.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<TlsSettings> {
        let settings = TlsSettings {
            ca_pem: read("CA certificate", ca)?,
            cert_pem: read("certificate", cert)?,
            key_pem: read("private key", key)?,
        };
        settings.check(ca, cert, key)?;
        Ok(settings)
    }

    /// Validates the material (see [`TlsSettings::load`]); the paths only name things in errors.
    fn check(&self, ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<()> {
        let provider = provider();
        let mut roots = RootCertStore::empty();
        for der in certificates("CA certificate", ca, &self.ca_pem)? {
            roots
                .add(der)
                .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        }
        let roots = Arc::new(roots);
        let chain = certificates("certificate", cert, &self.cert_pem)?;
        let private = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| {
            anyhow!(
                "the private key {} holds no usable PEM key (PKCS#8, PKCS#1 or SEC1): {e}",
                key.display()
            )
        })?;
        CertifiedKey::from_der(chain.clone(), private, &provider).map_err(|e| {
            anyhow!(
                "the private key {} does not go with the certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })?;

        let (leaf, intermediates) = chain.split_first().context("empty chain")?;
        let now = UnixTime::now();
        let server = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        let name = ServerName::try_from(PEER_NAME).context("peer name")?;
        server
            .verify_server_cert(leaf, intermediates, &name, &[], now)
            .map_err(|e| {
                anyhow!(
                    "the certificate {} is not valid for peer name {PEER_NAME:?} under the CA {}: {e}",
                    cert.display(),
                    ca.display()
                )
            })?;
        let client = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        client
            .verify_client_cert(leaf, intermediates, now)
            .map_err(|e| {
                anyhow!(
                    "the certificate {} is not valid as a client certificate under the CA {}: {e}",
                    cert.display(),
                    ca.display()
                )
            })?;
        Ok(())
    }

    /// Server config requiring client certificates signed by the CA (mutual TLS).
    pub fn server_config(&self) -> ServerTlsConfig {
        // Make sure the process-wide provider exists before tonic builds a rustls ServerConfig.
        provider();
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .client_ca_root(Certificate::from_pem(&self.ca_pem))
            .timeout(HANDSHAKE_TIMEOUT)
    }

    /// Client config trusting the CA and presenting this node's certificate; the server's
    /// certificate is verified against [`PEER_NAME`], whatever address was dialled.
    pub fn client_config(&self) -> ClientTlsConfig {
        provider();
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(PEER_NAME)
            .timeout(HANDSHAKE_TIMEOUT)
    }
}

/// Certificates made on the fly for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::PEER_NAME;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::path::{Path, PathBuf};

    /// Settings from files as they are, without [`TlsSettings::load`]'s checks (to play a node
    /// holding a certificate of another CA).
    pub(crate) fn unchecked(ca: &Path, cert: &Path, key: &Path) -> super::TlsSettings {
        super::TlsSettings {
            ca_pem: std::fs::read(ca).unwrap(),
            cert_pem: std::fs::read(cert).unwrap(),
            key_pem: std::fs::read(key).unwrap(),
        }
    }

    /// A throw-away certificate authority.
    pub(crate) struct TestCa {
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    /// PEM file paths of one node.
    #[derive(Debug, Clone)]
    pub(crate) struct NodeFiles {
        pub(crate) ca: PathBuf,
        pub(crate) cert: PathBuf,
        pub(crate) key: PathBuf,
    }

    impl TestCa {
        pub(crate) fn new(name: &str) -> TestCa {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().unwrap();
            let pem = params.self_signed(&key).unwrap().pem();
            TestCa {
                pem,
                issuer: Issuer::new(params, key),
            }
        }

        /// Writes `ca.pem`, `<name>.pem` and `<name>.key` (a cert for `sans`) under `dir`.
        pub(crate) fn node_files_for(&self, dir: &Path, name: &str, sans: &[&str]) -> NodeFiles {
            let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
            let mut params = CertificateParams::new(sans).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            let files = NodeFiles {
                ca: dir.join(format!("{name}-ca.pem")),
                cert: dir.join(format!("{name}.pem")),
                key: dir.join(format!("{name}.key")),
            };
            std::fs::write(&files.ca, &self.pem).unwrap();
            std::fs::write(&files.cert, cert.pem()).unwrap();
            std::fs::write(&files.key, key.serialize_pem()).unwrap();
            files
        }

        /// A node certificate with the SAN every peer verifies.
        pub(crate) fn node_files(&self, dir: &Path, name: &str) -> NodeFiles {
            self.node_files_for(dir, name, &[PEER_NAME])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::TestCa;
    use super::*;

    fn message(r: anyhow::Result<TlsSettings>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn tls_loads_good_material_and_debug_hides_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = TestCa::new("ca").node_files(dir.path(), "n1");
        let s = TlsSettings::load(&f.ca, &f.cert, &f.key).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        // Both configs build into real rustls configs.
        tonic::transport::Server::builder()
            .tls_config(s.server_config())
            .unwrap();
        tonic::transport::Endpoint::from_static("https://127.0.0.1:1")
            .tls_config(s.client_config())
            .unwrap();
    }

    #[test]
    fn tls_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let f = ca.node_files(dir.path(), "n1");
        let g = ca.node_files(dir.path(), "n2");
        let missing = dir.path().join("missing.pem");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n").unwrap();

        let e = message(TlsSettings::load(&missing, &f.cert, &f.key));
        assert!(
            e.contains("CA certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &missing, &f.key));
        assert!(
            e.contains("certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &f.cert, &missing));
        assert!(
            e.contains("private key") && e.contains("missing.pem"),
            "{e}"
        );

        let e = message(TlsSettings::load(&garbage, &f.cert, &f.key));
        assert!(
            e.contains("no PEM certificate") && e.contains("garbage.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &garbage, &f.key));
        assert!(
            e.contains("no PEM certificate") && e.contains("garbage.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &f.cert, &garbage));
        assert!(
            e.contains("no usable PEM key") && e.contains("garbage.pem"),
            "{e}"
        );
        // A certificate where the key should be.
        let e = message(TlsSettings::load(&f.ca, &f.cert, &f.cert));
        assert!(e.contains("n1.pem"), "{e}");

        // Someone else's key.
        let e = message(TlsSettings::load(&f.ca, &f.cert, &g.key));
        assert!(
            e.contains("does not go with") && e.contains("n2.key"),
            "{e}"
        );

        // Signed by another CA.
        let other = TestCa::new("other").node_files(dir.path(), "rogue");
        let e = message(TlsSettings::load(&f.ca, &other.cert, &other.key));
        assert!(e.contains("not valid") && e.contains("rogue.pem"), "{e}");

        // Without the peer name.
        let h = ca.node_files_for(dir.path(), "n3", &["node3.example"]);
        let e = message(TlsSettings::load(&h.ca, &h.cert, &h.key));
        assert!(e.contains("\"ham\"") && e.contains("n3.pem"), "{e}");
    }
}
