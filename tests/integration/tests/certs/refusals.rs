//! Expired, not-yet-valid and foreign certificates (P6) are refused at the handshake, and the
//! node logs one line saying which: clients' certificates on its listener, and other nodes'
//! when it dials them. `ham cert` makes none of them, so rcgen does here.

use super::fixture::{Pair, TlsCluster};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType, date_time_ymd,
};
use std::path::Path;

/// A client certificate for `identity`, valid from `from` to `until` (years), signed by
/// `issuer`, written as `dir/name.pem` and `.key`.
fn client_cert(
    dir: &Path,
    name: &str,
    issuer: &Issuer<'_, KeyPair>,
    (from, until): (i32, i32),
) -> Pair {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![SanType::URI(format!("urn:test:{name}").try_into().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(until, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

/// The cluster's CA, read back from the files `ham cert ca` wrote.
fn cluster_ca(c: &TlsCluster) -> Issuer<'static, KeyPair> {
    let pem = std::fs::read_to_string(&c.certs.ca).unwrap();
    let key = KeyPair::from_pem(&std::fs::read_to_string(&c.certs.ca_key).unwrap()).unwrap();
    Issuer::from_ca_cert_pem(&pem, key).unwrap()
}

/// Another CA with the same name as the cluster's (`ham-ca`): only its key differs.
fn foreign_ca() -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "ham-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2090, 1, 1);
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap();
    Issuer::new(params, key)
}

#[test]
fn p6_expired_not_yet_valid_and_foreign_certificates_are_refused_with_a_log_line_naming_which() {
    let c = TlsCluster::start(1);
    c.wait_formed(0);
    let dir = c.dir.path();
    let ca = cluster_ca(&c);
    let cases = [
        (client_cert(dir, "expired", &ca, (2020, 2021)), "expired"),
        (
            client_cert(dir, "early", &ca, (2090, 2091)),
            "not yet valid",
        ),
        (
            client_cert(dir, "stranger", &foreign_ca(), (2020, 2090)),
            "foreign (not signed by this cluster's CA)",
        ),
    ];
    for (pair, reason) in &cases {
        let out = c.hamctrl_tls(0, pair, &["nodes"]);
        assert!(
            !out.status.success(),
            "{reason}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let name = pair.cert.file_stem().unwrap().to_str().unwrap();
        let line = format!("client certificate refused: {reason}");
        ham_integration_tests::wait_for(
            &format!("the refusal of {name} logged"),
            std::time::Duration::from_secs(10),
            || {
                c.nodes[0]
                    .log_text()
                    .lines()
                    .any(|l| l.contains(&line) && l.contains(&format!("CN={name}")))
            },
        );
    }
    // A good certificate of the same CA still gets through.
    let good = client_cert(dir, "good", &ca, (2020, 2090));
    let out = c.hamctrl_tls(0, &good, &["nodes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A certificate of node `id` (DNS SAN `ham`, serverAuth) valid from `from` to `until`.
fn server_cert(
    dir: &Path,
    name: &str,
    id: u64,
    issuer: &Issuer<'_, KeyPair>,
    (from, until): (i32, i32),
) -> Pair {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![
        SanType::DnsName("ham".try_into().unwrap()),
        SanType::URI(format!("urn:ham:node:{id}").try_into().unwrap()),
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(until, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    let pair = Pair {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

/// A TLS server on `addr` presenting `pair`, serving nothing: only its handshake matters.
fn impostor(runtime: &tokio::runtime::Runtime, addr: &str, pair: &Pair) {
    use tonic::transport::{Identity, Server, ServerTlsConfig};
    let identity = Identity::from_pem(
        std::fs::read(&pair.cert).unwrap(),
        std::fs::read(&pair.key).unwrap(),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .expect("bind the impostor's address");
    let mut server = Server::builder()
        .tls_config(ServerTlsConfig::new().identity(identity))
        .unwrap();
    let router = server.add_routes(tonic::service::Routes::default());
    runtime.spawn(
        router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
}

#[test]
fn p6_a_node_refuses_peers_serving_foreign_or_expired_certificates_with_a_log_line() {
    let c = TlsCluster::start(1);
    let dir = c.dir.path();
    let ca = cluster_ca(&c);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let port = |ip: &str| ham_integration_tests::cluster::free_port(ip);
    let foreign_at = format!("127.0.0.2:{}", port("127.0.0.2"));
    let expired_at = format!("127.0.0.3:{}", port("127.0.0.3"));
    impostor(
        &runtime,
        &foreign_at,
        &server_cert(dir, "stranger", 2, &foreign_ca(), (2020, 2090)),
    );
    impostor(
        &runtime,
        &expired_at,
        &server_cert(dir, "old", 3, &ca, (2020, 2021)),
    );
    // Node 1 learns of two more nodes, at the impostors' addresses, and dials them.
    for (id, name, addr) in [("2", "n2", &foreign_at), ("3", "n3", &expired_at)] {
        c.nodes[0].hamctrl_ok(&["node", "add", id, name, addr, "--learner"]);
    }
    for (reason, subject) in [
        ("foreign (not signed by this cluster's CA)", "CN=stranger"),
        ("expired", "CN=old"),
    ] {
        let line = format!("server certificate refused: {reason}");
        ham_integration_tests::wait_for(
            &format!("node 1 to log {line:?}"),
            std::time::Duration::from_secs(15),
            || {
                c.nodes[0]
                    .log_text()
                    .lines()
                    .any(|l| l.contains(&line) && l.contains(subject))
            },
        );
    }
}
