//! The transport over real sockets on 127.0.0.1: replicas elect and commit through it, over
//! plain text and mutual TLS, past a peer that goes down and comes back.

use super::*;
use crate::net::tls::testing::{TestCa, unchecked};
use ham_core::machine::encode_command;
use ham_core::model::{Command, HamState};
use ham_core::replica::ReplicaConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;

const VOTERS: [u64; 3] = [1, 2, 3];

/// Polls `f` every 20 ms until it holds; fails the test after `secs`.
async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A tonic server of one transport's service.
struct Server {
    stop: Arc<Notify>,
    task: JoinHandle<()>,
}

fn serve(
    listener: TcpListener,
    transport: &Arc<PeerTransport>,
    tls: Option<&TlsSettings>,
) -> Server {
    let router = tonic::transport::Server::builder().add_service(transport.service());
    let stop = Arc::new(Notify::new());
    let signal = Arc::clone(&stop);
    let incoming = TcpListenerStream::new(listener);
    let task = match tls {
        Some(tls) => {
            let incoming = tls.acceptor().unwrap().accept_all(incoming);
            tokio::spawn(async move {
                router
                    .serve_with_incoming_shutdown(incoming, signal.notified())
                    .await
                    .unwrap();
            })
        }
        None => tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming, signal.notified())
                .await
                .unwrap();
        }),
    };
    Server { stop, task }
}

async fn listen() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Binds `addr` again (a restarted node keeps its address).
async fn listen_again(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("rebinding {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot bind {addr} again: {e}"),
        }
    }
}

struct TestNode {
    transport: Arc<PeerTransport>,
    replica: ReplicaHandle<HamMachine>,
    server: Server,
}

fn config(id: u64, dir: &Path) -> ReplicaConfig {
    ReplicaConfig {
        id,
        data_dir: dir.to_path_buf(),
        voters: VOTERS.to_vec(),
        tick: Duration::from_millis(20),
        // Small, so that a node coming back after a few entries needs a snapshot.
        snapshot_every: 8,
        keep_entries_after_snapshot: 2,
        ..Default::default()
    }
}

impl TestNode {
    fn start(
        id: u64,
        addrs: &BTreeMap<u64, SocketAddr>,
        listener: TcpListener,
        dir: &Path,
        tls: Option<Arc<TlsSettings>>,
    ) -> TestNode {
        let transport = PeerTransport::new(id, tls.clone());
        for (&peer, addr) in addrs {
            transport.set_peer(peer, addr.to_string()); // its own id is ignored
        }
        let machine = HamMachine::new(HamState::default(), Box::new(|_| {}));
        let replica = ReplicaHandle::start(config(id, dir), machine, transport.clone()).unwrap();
        transport.attach(replica.clone());
        let server = serve(listener, &transport, tls.as_deref());
        TestNode {
            transport,
            replica,
            server,
        }
    }

    /// Stops like the daemon does: transport, then server (graceful), then replica.
    async fn stop(self) {
        self.transport.close();
        self.server.stop.notify_one();
        tokio::time::timeout(Duration::from_secs(5), self.server.task)
            .await
            .expect("the server stops although peers' streams were open")
            .unwrap();
        self.replica.shutdown().await;
    }

    fn has(&self, registered: u64) -> bool {
        self.replica
            .read(|m| m.state().nodes.contains_key(&registered))
    }

    async fn register(&self, id: u64) {
        let cmd = encode_command(&Command::RegisterNode {
            id,
            name: format!("n{id}"),
            address: String::new(),
        });
        self.replica
            .propose(cmd)
            .await
            .expect("committed")
            .expect("applied");
    }
}

struct Cluster {
    nodes: BTreeMap<u64, TestNode>,
    addrs: BTreeMap<u64, SocketAddr>,
    dirs: BTreeMap<u64, tempfile::TempDir>,
}

impl Cluster {
    async fn start(tls: impl Fn(u64) -> Option<Arc<TlsSettings>>) -> Cluster {
        let mut listeners = BTreeMap::new();
        for id in VOTERS {
            listeners.insert(id, listen().await);
        }
        let addrs: BTreeMap<u64, SocketAddr> = listeners
            .iter()
            .map(|(&id, l)| (id, l.local_addr().unwrap()))
            .collect();
        let dirs: BTreeMap<u64, tempfile::TempDir> = VOTERS
            .iter()
            .map(|&id| (id, tempfile::tempdir().unwrap()))
            .collect();
        let nodes = listeners
            .into_iter()
            .map(|(id, l)| {
                (
                    id,
                    TestNode::start(id, &addrs, l, dirs[&id].path(), tls(id)),
                )
            })
            .collect();
        Cluster { nodes, addrs, dirs }
    }

    fn node(&self, id: u64) -> &TestNode {
        &self.nodes[&id]
    }

    /// Waits until the given nodes agree on one leader among them.
    async fn leader(&self, among: &[u64]) -> u64 {
        let mut leader = 0;
        eventually(5, "a leader known to all", || {
            let seen: Vec<u64> = among
                .iter()
                .map(|id| self.node(*id).replica.status().leader_id)
                .collect();
            leader = seen[0];
            leader != 0 && among.contains(&leader) && seen.iter().all(|&l| l == leader)
        })
        .await;
        leader
    }

    async fn stop(mut self) {
        for (_, node) in std::mem::take(&mut self.nodes) {
            node.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_three_replicas_elect_and_commit() {
    let c = Cluster::start(|_| None).await;
    let leader = c.leader(&VOTERS).await;
    // Through a follower too: the replica forwards the proposal over the transport.
    let follower = VOTERS.iter().copied().find(|&id| id != leader).unwrap();
    c.node(leader).register(101).await;
    c.node(follower).register(102).await;
    eventually(5, "both entries applied on all nodes", || {
        VOTERS
            .iter()
            .all(|&id| c.node(id).has(101) && c.node(id).has(102))
    })
    .await;
    for id in VOTERS {
        let stats = c.node(id).transport.stats();
        assert!(
            stats.sent_messages > 0 && stats.sent_batches > 0,
            "{id}: {stats:?}"
        );
        assert!(stats.sent_batches <= stats.sent_messages, "{id}: {stats:?}");
        // The leader heard from both followers, each follower from the leader, under their
        // ids. A follower may also have heard a vote request from the other one: on a loaded
        // machine two nodes can campaign before one wins.
        let from: Vec<u64> = stats.received_from.keys().copied().collect();
        let others: Vec<u64> = VOTERS.iter().copied().filter(|&o| o != id).collect();
        assert!(from.iter().all(|f| others.contains(f)), "{id}: {stats:?}");
        if id == leader {
            assert_eq!(from, others, "{id}: {stats:?}");
        } else {
            assert!(from.contains(&leader), "{id}: {stats:?}");
        }
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_three_replicas_over_mutual_tls() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("ham-ca");
    let tls: BTreeMap<u64, Arc<TlsSettings>> = VOTERS
        .iter()
        .map(|&id| {
            let f = ca.node_files(certs.path(), &format!("n{id}"), id);
            (
                id,
                Arc::new(TlsSettings::load(&f.ca, &f.cert, &f.key, id).unwrap()),
            )
        })
        .collect();
    let c = Cluster::start(|id| Some(Arc::clone(&tls[&id]))).await;
    let leader = c.leader(&VOTERS).await;
    c.node(leader).register(101).await;
    eventually(5, "the entry applied on all nodes", || {
        VOTERS.iter().all(|&id| c.node(id).has(101))
    })
    .await;
    // The cached channel of other services speaks TLS to a peer too.
    let peer = VOTERS.iter().copied().find(|&id| id != leader).unwrap();
    let channel = c
        .node(leader)
        .transport
        .channel(&c.addrs[&peer].to_string())
        .unwrap();
    let mut client =
        ham_proto::ham::raft::v1::raft_transport_client::RaftTransportClient::new(channel);
    let batch = ham_proto::ham::raft::v1::RaftBatch {
        from: leader,
        messages: vec![],
    };
    client
        .send(tokio_stream::iter(vec![batch]))
        .await
        .expect("an empty batch over the cached TLS channel");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_refuses_a_node_with_a_certificate_of_another_ca() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("ham-ca");
    let other = TestCa::new("rogue-ca");
    let good = |id: u64| {
        let f = ca.node_files(certs.path(), &format!("n{id}"), id);
        Arc::new(TlsSettings::load(&f.ca, &f.cert, &f.key, id).unwrap())
    };
    let (one, two) = (good(1), good(2));
    // Node 3 trusts the cluster's CA but holds a certificate of another one.
    let theirs = ca.node_files(certs.path(), "trust", 3);
    let mine = other.node_files(certs.path(), "rogue", 3);
    let rogue = Arc::new(unchecked(&theirs.ca, &mine.cert, &mine.key));
    let c = Cluster::start(|id| match id {
        1 => Some(Arc::clone(&one)),
        2 => Some(Arc::clone(&two)),
        _ => Some(Arc::clone(&rogue)),
    })
    .await;
    let leader = c.leader(&[1, 2]).await;
    c.node(leader).register(101).await;
    eventually(5, "the entry applied on nodes 1 and 2", || {
        c.node(1).has(101) && c.node(2).has(101)
    })
    .await;
    // Give node 3 time to try (and its peers time to try it) a few times.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!c.node(3).has(101));
    let stats3 = c.node(3).transport.stats();
    assert_eq!(stats3.received_messages, 0, "{stats3:?}");
    // (Its own streams may take a batch or two before the server's refusal arrives: with TLS
    // 1.3 a client learns that its certificate was refused after the handshake.)
    for id in [1, 2] {
        let stats = c.node(id).transport.stats();
        assert!(!stats.received_from.contains_key(&3), "{id}: {stats:?}");
    }
    // The leader's heartbeats to node 3 never got through.
    let stats = c.node(leader).transport.stats();
    assert!(stats.dropped_messages > 0, "{stats:?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_peer_down_then_back_catches_up() {
    let mut c = Cluster::start(|_| None).await;
    let leader = c.leader(&VOTERS).await;
    c.node(leader).register(101).await;
    eventually(5, "the first entry everywhere", || {
        VOTERS.iter().all(|&id| c.node(id).has(101))
    })
    .await;

    let victim = VOTERS.iter().copied().find(|&id| id != leader).unwrap();
    let live: Vec<u64> = VOTERS.iter().copied().filter(|&id| id != victim).collect();
    c.nodes.remove(&victim).unwrap().stop().await;
    let dropped_before = c.node(leader).transport.stats().dropped_messages;
    // More than snapshot_every entries: the victim will need a snapshot to catch up.
    for k in 0..12 {
        c.node(leader).register(200 + k).await;
    }
    eventually(5, "entries committed by the two live nodes", || {
        live.iter().all(|&id| c.node(id).has(211))
    })
    .await;
    eventually(3, "messages to the down peer dropped", || {
        c.node(leader).transport.stats().dropped_messages > dropped_before
    })
    .await;

    // Back on the same address, with the same log.
    let listener = listen_again(c.addrs[&victim]).await;
    let back = TestNode::start(victim, &c.addrs, listener, c.dirs[&victim].path(), None);
    c.nodes.insert(victim, back);
    eventually(8, "the returning node catches up", || {
        (200..212).all(|k| c.node(victim).has(k))
    })
    .await;
    c.node(victim).register(300).await;
    eventually(5, "a write through the returned node everywhere", || {
        VOTERS.iter().all(|&id| c.node(id).has(300))
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_drops_and_counts_for_unknown_and_unreachable_peers() {
    let t = PeerTransport::new(1, None);
    t.send(9, vec![1, 2, 3]);
    assert_eq!(t.stats().dropped_messages, 1);
    t.set_peer(1, "127.0.0.1:1".into()); // itself: ignored
    t.send(1, vec![1]);
    assert_eq!(t.stats().dropped_messages, 2);

    // A port nobody listens on.
    let dead = listen().await.local_addr().unwrap();
    t.set_peer(2, dead.to_string());
    let n = QUEUE_MESSAGES as u64 + 100;
    for _ in 0..n {
        t.send(2, vec![0; 16]);
    }
    eventually(5, "every message to the dead peer dropped", || {
        t.stats().dropped_messages == 2 + n
    })
    .await;
    assert_eq!(t.stats().sent_messages, 0);

    t.remove_peer(2);
    t.send(2, vec![0; 16]);
    assert_eq!(t.stats().dropped_messages, 3 + n);
    t.set_peer(3, "not an address".into());
    t.send(3, vec![0; 16]);
    eventually(2, "a bad address drops", || {
        t.stats().dropped_messages == 4 + n
    })
    .await;
    t.close();
    t.set_peer(4, dead.to_string());
    t.send(4, vec![0; 16]);
    assert_eq!(t.stats().dropped_messages, 5 + n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_batches_and_carries_messages_beyond_tonic_default_limit() {
    let b = PeerTransport::new(2, None);
    let listener = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, &b, None);
    let a = PeerTransport::new(1, None);
    a.set_peer(2, addr.to_string());
    let big = 6 << 20; // over tonic's 4 MiB default
    for i in 0..1000u32 {
        a.send(2, i.to_le_bytes().to_vec());
    }
    a.send(2, vec![0; big]);
    a.send(2, vec![1]);
    eventually(5, "all messages received", || {
        b.stats().received_messages == 1002
    })
    .await;
    let sent = a.stats();
    assert_eq!(sent.sent_messages, 1002, "{sent:?}");
    assert!(sent.sent_batches < 100, "batched: {sent:?}");
    assert_eq!(b.stats().received_from.get(&1), Some(&1002));
    assert_eq!(sent.dropped_messages, 0);

    a.close();
    b.close();
    server.stop.notify_one();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_link_reconnects_at_once_when_the_peer_comes_back() {
    let a = PeerTransport::new(1, None);
    let a_listener = listen().await;
    let a_addr = a_listener.local_addr().unwrap();
    let a_server = serve(a_listener, &a, None);
    // Nobody listens on B's address yet: A's link fails and backs off, up to BACKOFF_MAX.
    let b_addr = listen().await.local_addr().unwrap();
    a.set_peer(2, b_addr.to_string());
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        a.send(2, vec![0]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.stats().backoffs_cut_short, 0);

    // B comes back and talks to A first: A must not leave it waiting for its backoff.
    let b = PeerTransport::new(2, None);
    let b_server = serve(listen_again(b_addr).await, &b, None);
    b.set_peer(1, a_addr.to_string());
    b.send(1, vec![1]);
    eventually(2, "B's stream reached A", || {
        a.stats().received_from.get(&2) == Some(&1)
    })
    .await;
    let back = Instant::now();
    a.send(2, vec![2]);
    eventually(2, "A's link to B reconnected", || {
        b.stats().received_messages > 0
    })
    .await;
    let took = back.elapsed();
    assert_eq!(a.stats().backoffs_cut_short, 1, "the wait was cut short");
    assert!(took < Duration::from_secs(1), "delivered after {took:?}");

    for t in [&a, &b] {
        t.close();
    }
    for s in [a_server, b_server] {
        s.stop.notify_one();
        tokio::time::timeout(Duration::from_secs(5), s.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Sends `batches` on one stream to `addr` with `tls`; the server's answer.
async fn send_as(
    tls: Arc<TlsSettings>,
    addr: SocketAddr,
    batches: Vec<ham_proto::ham::raft::v1::RaftBatch>,
) -> Result<(), tonic::Status> {
    let dialer = PeerTransport::new(99, Some(tls));
    let channel = dialer.channel(&addr.to_string()).unwrap();
    let mut client =
        ham_proto::ham::raft::v1::raft_transport_client::RaftTransportClient::new(channel);
    let r = client.send(tokio_stream::iter(batches)).await.map(|_| ());
    dialer.close();
    r
}

fn batch(from: u64) -> ham_proto::ham::raft::v1::RaftBatch {
    ham_proto::ham::raft::v1::RaftBatch {
        from,
        messages: vec![vec![0]],
    }
}

fn assert_eacces(r: Result<(), tonic::Status>, what: &str, says: &str) {
    let st = r.expect_err(what);
    assert_eq!(st.code(), tonic::Code::PermissionDenied, "{what}: {st:?}");
    assert_eq!(
        st.metadata()
            .get(crate::status::ERRNO_METADATA)
            .map(|v| v.to_str().unwrap()),
        Some("EACCES"),
        "{what}: {st:?}"
    );
    assert!(st.message().contains(says), "{what}: {st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_raft_batches_are_taken_only_from_the_node_the_certificate_names() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("ham-ca");
    let load = |f: &crate::net::tls::testing::NodeFiles, id| {
        Arc::new(TlsSettings::load(&f.ca, &f.cert, &f.key, id).unwrap())
    };
    let server_tls = load(&ca.node_files(certs.path(), "n2", 2), 2);
    let node1 = load(&ca.node_files(certs.path(), "n1", 1), 1);
    let client = ca.client_files(certs.path(), "ops", "spiffe://ham/ops");
    let client = Arc::new(unchecked(&client.ca, &client.cert, &client.key));

    let b = PeerTransport::new(2, Some(Arc::clone(&server_tls)));
    let listener = listen().await;
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, &b, Some(&server_tls));

    send_as(Arc::clone(&node1), addr, vec![batch(1), batch(1)])
        .await
        .expect("node 1 speaking as node 1");
    assert_eq!(b.stats().received_from.get(&1), Some(&2));

    assert_eacces(
        send_as(Arc::clone(&node1), addr, vec![batch(3)]).await,
        "node 1 claiming node 3",
        "names node 1",
    );
    // Every batch is checked, not only a stream's first.
    assert_eacces(
        send_as(Arc::clone(&node1), addr, vec![batch(1), batch(3), batch(1)]).await,
        "node 1 claiming node 3 in its second batch",
        "node 3",
    );
    assert_eacces(
        send_as(client, addr, vec![batch(1)]).await,
        "a client certificate",
        "client certificate",
    );
    let stats = b.stats();
    assert!(!stats.received_from.contains_key(&3), "{stats:?}");
    // The two good batches and the first of the mixed stream; none after the refusal.
    assert_eq!(stats.received_from.get(&1), Some(&3), "{stats:?}");

    b.close();
    server.stop.notify_one();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_a_node_holding_another_nodes_certificate_is_refused_and_the_cluster_works() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("ham-ca");
    let files: BTreeMap<u64, _> = VOTERS
        .iter()
        .map(|&id| (id, ca.node_files(certs.path(), &format!("n{id}"), id)))
        .collect();
    let good = |id: u64| {
        let f = &files[&id];
        Arc::new(TlsSettings::load(&f.ca, &f.cert, &f.key, id).unwrap())
    };
    let (one, two) = (good(1), good(2));
    // Node 3 dials with node 2's certificate (a copied certificate, or a compromised node 2
    // trying to speak for node 3).
    let stolen = Arc::new(unchecked(&files[&2].ca, &files[&2].cert, &files[&2].key));
    let c = Cluster::start(|id| match id {
        1 => Some(Arc::clone(&one)),
        2 => Some(Arc::clone(&two)),
        _ => Some(Arc::clone(&stolen)),
    })
    .await;
    let leader = c.leader(&[1, 2]).await;
    c.node(leader).register(101).await;
    eventually(5, "the entry applied on nodes 1 and 2", || {
        c.node(1).has(101) && c.node(2).has(101)
    })
    .await;
    // Give node 3 time to try a few times.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for id in [1, 2] {
        let stats = c.node(id).transport.stats();
        assert!(!stats.received_from.contains_key(&3), "{id}: {stats:?}");
    }
    c.node(leader).register(102).await;
    eventually(5, "a second entry on nodes 1 and 2", || {
        c.node(1).has(102) && c.node(2).has(102)
    })
    .await;
    c.stop().await;
}
