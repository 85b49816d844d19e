//! `ham cert` (P6): the CA, node and client certificates it makes, what `ham cert show` says of
//! them, its refusals.

use super::fixture::{CLIENT, ham_cert, ham_cert_ok};
use std::os::unix::fs::PermissionsExt as _;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The value of `field:` in `ham cert show` output.
fn field<'a>(shown: &'a str, name: &str) -> &'a str {
    shown
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} in:\n{shown}"))
}

#[test]
fn p6_ham_cert_makes_a_ca_node_and_client_certificates_that_name_who_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = ham_cert_ok(root, &["ca", "--dir", "certs", "--name", "test-ca"]);
    assert!(
        out.contains("certs/ca.pem") && out.contains("certs/ca.key"),
        "{out}"
    );
    ham_cert_ok(
        root,
        &[
            "node",
            "--ca",
            "certs",
            "--id",
            "2",
            "--address",
            "127.0.0.2",
            "--address",
            "node2.example",
            "--out",
            "certs",
        ],
    );
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
    ham_cert_ok(
        root,
        &[
            "client",
            "--ca",
            "certs",
            "--identity",
            "spiffe://ham/ops",
            "--out",
            "certs",
        ],
    );
    let certs = root.join("certs");
    for key in [
        "ca.key",
        "node-2.key",
        &format!("client-{CLIENT}.key"),
        "client-spiffe___ham_ops.key",
    ] {
        assert_eq!(mode(&certs.join(key)), 0o600, "{key}");
    }

    let ca = ham_cert_ok(root, &["show", "certs/ca.pem"]);
    assert_eq!(field(&ca, "subject"), "CN=test-ca");
    assert_eq!(field(&ca, "ca"), "yes (path length 0)");
    assert_eq!(field(&ca, "valid now"), "yes");

    let node = ham_cert_ok(root, &["show", "certs/node-2.pem"]);
    assert_eq!(field(&node, "principal"), "node 2");
    assert_eq!(field(&node, "issuer"), "CN=test-ca");
    assert_eq!(
        field(&node, "names"),
        "DNS:ham, URI:urn:ham:node:2, IP:127.0.0.2, DNS:node2.example"
    );
    assert_eq!(field(&node, "extended key usage"), "serverAuth, clientAuth");
    assert_eq!(field(&node, "valid now"), "yes");
    assert_eq!(field(&node, "ca"), "no");

    let client = ham_cert_ok(root, &["show", &format!("certs/client-{CLIENT}.pem")]);
    assert_eq!(field(&client, "principal"), format!("client {CLIENT:?}"));
    assert_eq!(field(&client, "extended key usage"), "clientAuth");
    assert_eq!(field(&client, "subject"), format!("CN={CLIENT}"));
    let uri = ham_cert_ok(root, &["show", "certs/client-spiffe___ham_ops.pem"]);
    assert_eq!(field(&uri, "principal"), "client \"spiffe://ham/ops\"");
    assert_eq!(field(&uri, "names"), "URI:spiffe://ham/ops");
}

#[test]
fn p6_ham_cert_refuses_a_node_looking_client_identity_and_overwriting_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ham_cert_ok(root, &["ca", "--dir", "certs"]);
    for identity in ["urn:ham:node:1", "URN:HAM:NODE:7", "two words"] {
        let out = ham_cert(
            root,
            &[
                "client",
                "--ca",
                "certs",
                "--identity",
                identity,
                "--out",
                "certs",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{identity}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("ham cert: EINVAL: "), "{identity}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    assert!(
        std::fs::read_dir(root.join("certs")).unwrap().count() == 2,
        "nothing but the CA was written"
    );

    let key_before = std::fs::read(root.join("certs/ca.key")).unwrap();
    let out = ham_cert(root, &["ca", "--dir", "certs"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("EEXIST") && err.contains("ca.key") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(root.join("certs/ca.key")).unwrap(),
        key_before
    );

    let node = ["node", "--ca", "certs", "--id", "1", "--out", "certs"];
    ham_cert_ok(root, &node);
    let node_key = std::fs::read(root.join("certs/node-1.key")).unwrap();
    assert_eq!(ham_cert(root, &node).status.code(), Some(2));
    assert_eq!(
        std::fs::read(root.join("certs/node-1.key")).unwrap(),
        node_key
    );
    let forced = [&node[..], &["--force"]].concat();
    ham_cert_ok(root, &forced);
    assert_ne!(
        std::fs::read(root.join("certs/node-1.key")).unwrap(),
        node_key
    );
    assert_eq!(mode(&root.join("certs/node-1.key")), 0o600);

    // Bad input is a clear one-line error, never a panic.
    for bad in [
        &["node", "--ca", "nowhere", "--id", "1", "--out", "x"][..],
        &["node", "--ca", "certs", "--id", "0", "--out", "x"],
        &[
            "node",
            "--ca",
            "certs",
            "--id",
            "1",
            "--address",
            "a b",
            "--out",
            "x",
        ],
        &["show", "certs/ca.key"],
        &["show", "missing.pem"],
    ] {
        let out = ham_cert(root, bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{bad:?}: {err}");
    }
}

#[test]
fn p6_a_node_refuses_to_start_with_another_nodes_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ham_cert_ok(root, &["ca", "--dir", "certs"]);
    ham_cert_ok(
        root,
        &["node", "--ca", "certs", "--id", "2", "--out", "certs"],
    );
    let certs = root.join("certs");
    let data = root.join("data");
    let socket = root.join("ham.sock");
    let out = ham_integration_tests::run_ham(
        &[
            "--node-id",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--socket",
            socket.to_str().unwrap(),
            "--tls-ca",
            certs.join("ca.pem").to_str().unwrap(),
            "--tls-cert",
            certs.join("node-2.pem").to_str().unwrap(),
            "--tls-key",
            certs.join("node-2.key").to_str().unwrap(),
        ],
        std::time::Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("node-2.pem") && err.contains("names node 2, not this node's id 1"),
        "{err}"
    );
}
