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
//! the URI subject alternative name `urn:ham:node:<id>` naming its node (P5), and must be usable
//! both as a server and as a client certificate (no extended key usage, or both `serverAuth`
//! and `clientAuth`). `ham cert node --ca DIR --id N --out DIR` makes one (`crate::cert`); with
//! openssl it would be:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
//!     -subj /CN=ham-ca -keyout ca.key -out ca.pem
//! openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=node1 \
//!     -keyout node1.key -out node1.csr
//! openssl x509 -req -in node1.csr -CA ca.pem -CAkey ca.key -days 825 -out node1.pem -extfile \
//!     <(printf 'subjectAltName=DNS:ham,URI:urn:ham:node:1\nextendedKeyUsage=serverAuth,clientAuth')
//! ```
//!
//! [`TlsSettings::load`] checks all of this at start-up (files readable, PEM parseable, key
//! matching the certificate, certificate valid under the CA for [`PEER_NAME`] both ways, and
//! naming this node: URI SAN `urn:ham:node:<id>`, HAM-CONTRACT P5), so a misconfigured node
//! fails with a message naming the file instead of failing handshakes later. `ham cert node`
//! makes such certificates.
//!
//! **Refusals.** Both sides verify with rustls' WebPKI verifiers wrapped in ours (`verify`),
//! which log one warning per refused certificate saying why: expired, not yet valid, foreign
//! (HAM-CONTRACT P6). The server side does its handshakes itself (`accept`), since tonic's TLS
//! server takes no verifier.

mod accept;
mod verify;

pub use accept::Acceptor;

use crate::auth::caller::Principal;
use crate::net::certid::{NODE_URI_PREFIX, principal_of};
use anyhow::{Context as _, anyhow, bail};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{ClientTlsConfig, Endpoint, Identity};
use verify::{LoggingClientVerifier, LoggingServerVerifier};

/// The name every node certificate carries (DNS subject alternative name) and every client
/// verifies, whatever address it dialled.
pub const PEER_NAME: &str = "ham";

/// Bound on a TLS handshake, on either side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// ALPN of gRPC: tonic's clients insist on HTTP/2 being negotiated.
const ALPN_H2: &[u8] = b"h2";

/// This node's TLS material: the cluster CA, this node's certificate chain and its key (PEM),
/// and the verifiers made from the CA.
#[derive(Clone)]
pub struct TlsSettings {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
    /// WebPKI against the CA, as they are (start-up checks) and wrapped in our logging
    /// verifiers (handshakes).
    client_check: Arc<dyn ClientCertVerifier>,
    server_check: Arc<dyn ServerCertVerifier>,
    client_verifier: Arc<dyn ClientCertVerifier>,
    server_verifier: Arc<dyn ServerCertVerifier>,
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

/// Why a node's own certificate does not name it (None: it does).
fn not_this_node(leaf: &[u8], node_id: u64) -> Option<String> {
    match principal_of(leaf) {
        Ok(Principal::Node { id }) if id == node_id => None,
        Ok(Principal::Node { id }) => Some(format!(
            "names node {id}, not this node's id {node_id} (--node-id)"
        )),
        Ok(other) => Some(format!(
            "is not a node certificate (it names {other}); a node certificate carries the URI \
             {NODE_URI_PREFIX}{node_id} (`ham cert node --id {node_id}`)"
        )),
        Err(e) => Some(format!("names no node: {e}")),
    }
}

impl TlsSettings {
    /// Loads PEM files: `ca` (the cluster CA certificate(s)), `cert` (this node's certificate,
    /// then any intermediates) and `key` (its private key: PKCS#8, PKCS#1 or SEC1). Checks that
    /// the key belongs to the certificate, that the certificate is valid under the CA for
    /// [`PEER_NAME`], as a server and as a client, and that it names node `node_id`. Errors
    /// name the file at fault.
    pub fn load(ca: &Path, cert: &Path, key: &Path, node_id: u64) -> anyhow::Result<TlsSettings> {
        let settings = TlsSettings::unchecked_files(ca, cert, key)?;
        settings.check(ca, cert, key, node_id)?;
        Ok(settings)
    }

    /// Reads and parses the files, with no check of what the certificate says.
    fn unchecked_files(ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<TlsSettings> {
        let ca_pem = read("CA certificate", ca)?;
        let cert_pem = read("certificate", cert)?;
        let key_pem = read("private key", key)?;
        let provider = provider();
        let mut roots = RootCertStore::empty();
        for der in certificates("CA certificate", ca, &ca_pem)? {
            roots
                .add(der)
                .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        }
        let roots = Arc::new(roots);
        let chain = certificates("certificate", cert, &cert_pem)?;
        let server = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        let client = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| anyhow!("the CA certificate {} is not usable: {e}", ca.display()))?;
        Ok(TlsSettings {
            cert_pem,
            key_pem,
            chain,
            client_check: client.clone(),
            server_check: server.clone(),
            client_verifier: Arc::new(LoggingClientVerifier { inner: client }),
            server_verifier: Arc::new(LoggingServerVerifier { inner: server }),
        })
    }

    fn private_key(&self) -> Result<PrivateKeyDer<'static>, rustls::pki_types::pem::Error> {
        PrivateKeyDer::from_pem_slice(&self.key_pem)
    }

    /// Validates the material (see [`TlsSettings::load`]); the paths only name things in errors.
    fn check(&self, ca: &Path, cert: &Path, key: &Path, node_id: u64) -> anyhow::Result<()> {
        let private = self.private_key().map_err(|e| {
            anyhow!(
                "the private key {} holds no usable PEM key (PKCS#8, PKCS#1 or SEC1): {e}",
                key.display()
            )
        })?;
        CertifiedKey::from_der(self.chain.clone(), private, &provider()).map_err(|e| {
            anyhow!(
                "the private key {} does not go with the certificate {}: {e}",
                key.display(),
                cert.display()
            )
        })?;

        let (leaf, intermediates) = self.chain.split_first().context("empty chain")?;
        let now = UnixTime::now();
        let name = ServerName::try_from(PEER_NAME).context("peer name")?;
        // Not the logging verifiers: a node's own bad certificate is an error at start, not a
        // refusal to log.
        self.server_check
            .verify_server_cert(leaf, intermediates, &name, &[], now)
            .map_err(|e| {
                anyhow!(
                    "the certificate {} is not valid for peer name {PEER_NAME:?} under the CA {}: {e}",
                    cert.display(),
                    ca.display()
                )
            })?;
        self.client_check
            .verify_client_cert(leaf, intermediates, now)
            .map_err(|e| {
                anyhow!(
                    "the certificate {} is not valid as a client certificate under the CA {}: {e}",
                    cert.display(),
                    ca.display()
                )
            })?;
        if let Some(why) = not_this_node(leaf, node_id) {
            bail!("the certificate {} {why}", cert.display());
        }
        Ok(())
    }

    /// The TLS acceptor of the TCP listener: demands a client certificate signed by the CA
    /// (mutual TLS), presents this node's certificate, speaks HTTP/2.
    pub fn acceptor(&self) -> anyhow::Result<Acceptor> {
        let key = self.private_key().context("the private key")?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_client_cert_verifier(Arc::clone(&self.client_verifier))
            .with_single_cert(self.chain.clone(), key)
            .context("this node's certificate and key")?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Acceptor {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// `endpoint` (an `https://` URI) with TLS: this node's certificate presented, the
    /// server's verified against the CA and [`PEER_NAME`], whatever address was dialled.
    pub fn endpoint(&self, endpoint: Endpoint) -> Result<Endpoint, tonic::transport::Error> {
        provider();
        let config = ClientTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .domain_name(PEER_NAME)
            .timeout(HANDSHAKE_TIMEOUT);
        endpoint.tls_config_with_verifier(config, Arc::clone(&self.server_verifier))
    }
}

/// Certificates made on the fly for tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::PEER_NAME;
    use crate::net::certid::NODE_URI_PREFIX;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
    use std::path::{Path, PathBuf};

    /// Settings from files as they are, without [`TlsSettings::load`]'s checks (to play a node
    /// holding a certificate of another CA, or another node's).
    pub(crate) fn unchecked(ca: &Path, cert: &Path, key: &Path) -> super::TlsSettings {
        super::TlsSettings::unchecked_files(ca, cert, key).unwrap()
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

    fn dns(s: &str) -> SanType {
        SanType::DnsName(s.try_into().unwrap())
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
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

        /// Writes `<name>-ca.pem`, `<name>.pem` and `<name>.key` (a cert for `sans`) under
        /// `dir`.
        pub(crate) fn node_files_for(
            &self,
            dir: &Path,
            name: &str,
            sans: Vec<SanType>,
        ) -> NodeFiles {
            let mut params = CertificateParams::default();
            params.subject_alt_names = sans;
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

        /// A certificate of node `id`: the SAN every peer verifies and the node's URI.
        pub(crate) fn node_files(&self, dir: &Path, name: &str, id: u64) -> NodeFiles {
            self.node_files_for(
                dir,
                name,
                vec![dns(PEER_NAME), uri(&format!("{NODE_URI_PREFIX}{id}"))],
            )
        }

        /// A client certificate naming `identity` (URI SAN), that also carries the peer name:
        /// valid for TLS both ways, yet no node.
        pub(crate) fn client_files(&self, dir: &Path, name: &str, identity: &str) -> NodeFiles {
            self.node_files_for(dir, name, vec![dns(PEER_NAME), uri(identity)])
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
        let f = TestCa::new("ca").node_files(dir.path(), "n1", 1);
        let s = TlsSettings::load(&f.ca, &f.cert, &f.key, 1).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        // Both sides build into real rustls configs.
        s.acceptor().unwrap();
        s.endpoint(tonic::transport::Endpoint::from_static(
            "https://127.0.0.1:1",
        ))
        .unwrap();
    }

    #[test]
    fn tls_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let f = ca.node_files(dir.path(), "n1", 1);
        let g = ca.node_files(dir.path(), "n2", 2);
        let missing = dir.path().join("missing.pem");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "hello\n").unwrap();

        let e = message(TlsSettings::load(&missing, &f.cert, &f.key, 1));
        assert!(
            e.contains("CA certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &missing, &f.key, 1));
        assert!(
            e.contains("certificate") && e.contains("missing.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &f.cert, &missing, 1));
        assert!(
            e.contains("private key") && e.contains("missing.pem"),
            "{e}"
        );

        let e = message(TlsSettings::load(&garbage, &f.cert, &f.key, 1));
        assert!(
            e.contains("no PEM certificate") && e.contains("garbage.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &garbage, &f.key, 1));
        assert!(
            e.contains("no PEM certificate") && e.contains("garbage.pem"),
            "{e}"
        );
        let e = message(TlsSettings::load(&f.ca, &f.cert, &garbage, 1));
        assert!(
            e.contains("no usable PEM key") && e.contains("garbage.pem"),
            "{e}"
        );
        // A certificate where the key should be.
        let e = message(TlsSettings::load(&f.ca, &f.cert, &f.cert, 1));
        assert!(e.contains("n1.pem"), "{e}");

        // Someone else's key.
        let e = message(TlsSettings::load(&f.ca, &f.cert, &g.key, 1));
        assert!(
            e.contains("does not go with") && e.contains("n2.key"),
            "{e}"
        );

        // Signed by another CA.
        let other = TestCa::new("other").node_files(dir.path(), "rogue", 1);
        let e = message(TlsSettings::load(&f.ca, &other.cert, &other.key, 1));
        assert!(e.contains("not valid") && e.contains("rogue.pem"), "{e}");

        // Without the peer name.
        let h = ca.node_files_for(
            dir.path(),
            "n3",
            vec![rcgen::SanType::DnsName("node3.example".try_into().unwrap())],
        );
        let e = message(TlsSettings::load(&h.ca, &h.cert, &h.key, 3));
        assert!(e.contains("\"ham\"") && e.contains("n3.pem"), "{e}");
    }

    #[test]
    fn p5_a_node_loads_only_a_certificate_that_names_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("ca");
        let two = ca.node_files(dir.path(), "n2", 2);
        TlsSettings::load(&two.ca, &two.cert, &two.key, 2).unwrap();
        let e = message(TlsSettings::load(&two.ca, &two.cert, &two.key, 1));
        assert!(
            e.contains("n2.pem") && e.contains("names node 2, not this node's id 1"),
            "{e}"
        );
        let client = ca.client_files(dir.path(), "ops", "spiffe://ham/ops");
        let e = message(TlsSettings::load(&client.ca, &client.cert, &client.key, 1));
        assert!(
            e.contains("ops.pem")
                && e.contains("not a node certificate")
                && e.contains("cert=spiffe://ham/ops")
                && e.contains("urn:ham:node:1"),
            "{e}"
        );
    }
}
