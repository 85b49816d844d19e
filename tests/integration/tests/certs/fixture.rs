//! What the certificate tests share: `ham cert` runs, a TLS cluster of real `ham` daemons on
//! 127.0.0.x, TLS clients of its node services and of its API.

use ham_integration_tests::cluster::{TEST_FLAGS, free_port};
use ham_integration_tests::{HamProcess, bin, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The client identity every fixture certifies.
pub const CLIENT: &str = "ops@example";

/// The nodes' policy: the test clients' identities are `admin` (the refusal tests' good
/// certificate is `urn:test:good`).
const TEST_POLICY: &str = "[[policy.rule]]\nidentity = \"ops@example\"\nrole = \"admin\"\n\n\
                           [[policy.rule]]\nidentity = \"urn:test:good\"\nrole = \"admin\"\n";

/// Runs `ham cert ARGS` in `dir`.
pub fn ham_cert(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin("ham"))
        .current_dir(dir)
        .arg("cert")
        .args(args)
        .output()
        .expect("run ham cert")
}

/// Runs `ham cert ARGS` in `dir` and asserts it succeeded; its standard output.
pub fn ham_cert_ok(dir: &Path, args: &[&str]) -> String {
    let out = ham_cert(dir, args);
    assert!(
        out.status.success(),
        "ham cert {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A certificate and its key.
#[derive(Debug, Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The certificates of a cluster, made by `ham cert` under `dir/certs`.
#[derive(Debug)]
pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub ca_key: PathBuf,
    pub client: Pair,
}

impl Certs {
    /// A CA, one certificate per node (1..=n, address 127.0.0.i) and the [`CLIENT`]'s.
    pub fn make(root: &Path, n: usize) -> Certs {
        ham_cert_ok(root, &["ca", "--dir", "certs"]);
        for i in 1..=n {
            let (id, ip) = (i.to_string(), format!("127.0.0.{i}"));
            ham_cert_ok(
                root,
                &[
                    "node",
                    "--ca",
                    "certs",
                    "--id",
                    &id,
                    "--address",
                    &ip,
                    "--out",
                    "certs",
                ],
            );
        }
        ham_cert_ok(
            root,
            &[
                "client",
                "--ca",
                "certs",
                "--identity",
                CLIENT,
                "--out",
                "certs",
            ],
        );
        let dir = root.join("certs");
        Certs {
            ca: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            client: Pair {
                cert: dir.join(format!("client-{CLIENT}.pem")),
                key: dir.join(format!("client-{CLIENT}.key")),
            },
            dir,
        }
    }

    /// Node `id`'s certificate.
    pub fn node(&self, id: usize) -> Pair {
        Pair {
            cert: self.dir.join(format!("node-{id}.pem")),
            key: self.dir.join(format!("node-{id}.key")),
        }
    }
}

/// A cluster of `ham` daemons speaking mutual TLS on 127.0.0.1..n.
#[derive(Debug)]
pub struct TlsCluster {
    pub nodes: Vec<HamProcess>,
    pub addrs: Vec<String>,
    pub certs: Certs,
    pub dir: tempfile::TempDir,
}

impl TlsCluster {
    pub fn start(n: usize) -> TlsCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = Certs::make(dir.path(), n);
        let addrs: Vec<String> = (1..=n)
            .map(|i| format!("127.0.0.{i}:{}", free_port(&format!("127.0.0.{i}"))))
            .collect();
        let peers: Vec<String> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}=n{}@{a}", i + 1, i + 1))
            .collect();
        // P2: a certificate identity holds a role only when the policy names it; the test
        // clients are administrators.
        let config = dir.path().join("tls.toml");
        std::fs::write(&config, TEST_POLICY).expect("write tls.toml");
        let config = config.to_str().expect("utf-8 temporary path").to_string();
        let mut nodes = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let ndir = dir.path().join(format!("n{}", i + 1));
            std::fs::create_dir_all(&ndir).expect("node dir");
            let node = certs.node(i + 1);
            let id = (i + 1).to_string();
            let (ca, cert, key) = (
                certs.ca.to_str().unwrap(),
                node.cert.to_str().unwrap(),
                node.key.to_str().unwrap(),
            );
            let mut args: Vec<&str> = vec![
                "--node-id",
                &id,
                "--tls-ca",
                ca,
                "--tls-cert",
                cert,
                "--tls-key",
                key,
                "--config",
                &config,
            ];
            for p in &peers {
                args.extend(["--peer", p.as_str()]);
            }
            args.extend(TEST_FLAGS);
            nodes.push(HamProcess::prepare(
                &ndir,
                addr,
                &format!("n{}", i + 1),
                None,
                &args,
            ));
        }
        for node in &mut nodes {
            node.launch_nowait();
        }
        for node in &mut nodes {
            node.wait_until_ready(Duration::from_secs(30));
        }
        TlsCluster {
            nodes,
            addrs,
            certs,
            dir,
        }
    }

    /// Runs `hamctrl` against node `i` (0-based) over TCP with TLS as `who`.
    pub fn hamctrl_tls(&self, i: usize, who: &Pair, args: &[&str]) -> Output {
        Command::new(bin("hamctrl"))
            .args(["--addr", &self.addrs[i]])
            .arg("--tls-ca")
            .arg(&self.certs.ca)
            .arg("--tls-cert")
            .arg(&who.cert)
            .arg("--tls-key")
            .arg(&who.key)
            .args(["--timeout", "5"])
            .args(args)
            .output()
            .expect("run hamctrl")
    }

    /// Waits (bounded) until `hamctrl nodes` through node `i`'s socket shows a leader and every
    /// node up.
    pub fn wait_formed(&self, i: usize) {
        let n = self.nodes.len();
        wait_for("the cluster formed", Duration::from_secs(30), || {
            let out = self.nodes[i].hamctrl(&["nodes"]);
            let text = String::from_utf8_lossy(&out.stdout);
            out.status.success() && nodes_up(&text) >= n && text.lines().any(|l| l.ends_with(" *"))
        });
    }

    /// Waits (bounded) until node `i`'s log holds `text`.
    pub fn wait_log(&self, i: usize, text: &str) {
        wait_for(
            &format!("node {} to log {text:?}", i + 1),
            Duration::from_secs(10),
            || self.nodes[i].log_text().contains(text),
        );
    }
}

/// How many nodes `hamctrl nodes` shows up (`ID NAME STATE ROLE ADDRESS [*]`).
pub fn nodes_up(text: &str) -> usize {
    text.lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("UP"))
        .count()
}

/// A TLS channel to `addr` trusting `ca`, presenting `who` (a client of the node services, as
/// another node or an impostor would be).
pub async fn channel(addr: &str, ca: &Path, who: &Pair) -> Channel {
    let pem = |p: &Path| std::fs::read(p).expect("read PEM");
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pem(ca)))
        .identity(Identity::from_pem(pem(&who.cert), pem(&who.key)))
        .domain_name("ham");
    Endpoint::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .expect("TLS connection")
}

/// Asserts a call was refused as P5 says: PERMISSION_DENIED, errno EACCES, the message
/// containing `says`.
pub fn assert_eacces<T: std::fmt::Debug>(r: Result<T, tonic::Status>, what: &str, says: &str) {
    let st = r.expect_err(what);
    assert_eq!(st.code(), tonic::Code::PermissionDenied, "{what}: {st:?}");
    assert_eq!(
        st.metadata().get("ham-errno").map(|v| v.to_str().unwrap()),
        Some("EACCES"),
        "{what}: {st:?}"
    );
    assert!(st.message().contains(says), "{what}: {st:?}");
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
