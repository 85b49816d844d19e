//! Node identity bound to the certificate (P5), on a real TLS cluster: the node services take a
//! call only as the node the caller's certificate names, and never from a client certificate,
//! which still reaches the API (P1's TLS client side).

use super::fixture::{CLIENT, Pair, TlsCluster, assert_eacces, channel, nodes_up, rt};
use ham_proto::ham::raft::v1::peer_client::PeerClient;
use ham_proto::ham::raft::v1::raft_transport_client::RaftTransportClient;
use ham_proto::ham::raft::v1::{
    LeaseRequest, NotifyRequest, RaftBatch, SignalNotice, notify_request,
};
use std::time::Duration;

fn batch(from: u64) -> RaftBatch {
    RaftBatch {
        from,
        messages: vec![],
    }
}

/// A notification claiming to come from node `from`, for a pid that does not exist (had the
/// check let it through, the answer would be NOT_FOUND, not PERMISSION_DENIED).
fn notify(from: u64) -> NotifyRequest {
    NotifyRequest {
        pid: 999_999_999,
        what: Some(notify_request::What::Signal(SignalNotice {
            signum: 0,
            value: 0,
        })),
        from,
    }
}

/// The three node-to-node calls made to `addr` as `who`, each claiming to come from `claimed`;
/// each must be refused with a message containing `says`.
fn all_refused(c: &TlsCluster, addr: &str, who: &Pair, claimed: u64, says: &str) {
    rt().block_on(async {
        let ch = channel(addr, &c.certs.ca, who).await;
        let mut raft = RaftTransportClient::new(ch.clone());
        assert_eacces(
            raft.send(tokio_stream::iter(vec![batch(claimed)])).await,
            "RaftTransport.Send",
            says,
        );
        let mut peer = PeerClient::new(ch);
        assert_eacces(
            peer.renew_lease(LeaseRequest { node_id: claimed }).await,
            "Peer.RenewLease",
            says,
        );
        assert_eacces(peer.notify(notify(claimed)).await, "Peer.Notify", says);
    });
}

#[test]
fn p5_a_node_presenting_another_nodes_certificate_is_refused_and_the_cluster_keeps_working() {
    let c = TlsCluster::start(2);
    c.wait_formed(0);
    let node2 = c.certs.node(2);
    // Node 2's certificate, speaking for node 3 (or for node 1, to node 1).
    all_refused(&c, &c.addrs[0], &node2, 3, "names node 2");
    all_refused(&c, &c.addrs[0], &node2, 1, "claims to come from node 1");
    c.wait_log(
        0,
        "node service call refused: the certificate names node 2, but the call claims to come from node 3",
    );
    for service in ["RaftTransport.Send", "Peer.RenewLease", "Peer.Notify"] {
        c.wait_log(0, service);
    }
    // Every batch of a stream is checked: a stream that starts as node 2 and then claims node
    // 3 is cut at that batch.
    rt().block_on(async {
        let ch = channel(&c.addrs[0], &c.certs.ca, &node2).await;
        let mut raft = RaftTransportClient::new(ch);
        assert_eacces(
            raft.send(tokio_stream::iter(vec![batch(2), batch(3)]))
                .await,
            "a stream switching to node 3",
            "node 3",
        );
    });

    // The cluster keeps working: a write through each node, and both nodes still up after more
    // than a lease.
    c.nodes[0].hamctrl_ok(&["--node", "1", "entity", "after1"]);
    c.nodes[1].hamctrl_ok(&["--node", "2", "entity", "after2"]);
    std::thread::sleep(Duration::from_millis(1500));
    let nodes = c.nodes[1].hamctrl_ok(&["nodes"]);
    assert_eq!(nodes_up(&nodes), 2, "{nodes}");
}

#[test]
fn p5_a_client_certificate_is_refused_on_the_node_services_and_reaches_the_api() {
    let c = TlsCluster::start(1);
    c.wait_formed(0);
    let client = c.certs.client.clone();
    all_refused(&c, &c.addrs[0], &client, 1, "a client certificate");
    c.wait_log(
        0,
        &format!("node service call refused: a client certificate (cert={CLIENT}) may not call the node services"),
    );
    // The same certificate is a client of the API, through hamctrl's --tls-* flags.
    let out = c.hamctrl_tls(0, &client, &["nodes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(nodes_up(&text), 1, "{text}");
    let out = c.hamctrl_tls(0, &client, &["--node", "1", "entity", "by-cert"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = c.nodes[0].hamctrl_ok(&["--node", "1", "ls"]);
    assert!(ls.contains("by-cert"), "{ls}");
    // The same files through HAM_TLS_CA, HAM_TLS_CERT and HAM_TLS_KEY.
    let out = std::process::Command::new(ham_integration_tests::bin("hamctrl"))
        .args(["--addr", &c.addrs[0], "--timeout", "5", "nodes"])
        .env("HAM_TLS_CA", &c.certs.ca)
        .env("HAM_TLS_CERT", &client.cert)
        .env("HAM_TLS_KEY", &client.key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(nodes_up(&String::from_utf8_lossy(&out.stdout)), 1);
}
