//! Three replicas in one process, wired by an in-memory transport that can cut nodes off.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protobuf::Message as _;
use raft::eraftpb::{Message, MessageType};

use super::{Appender, cmd, config, eventually};
use crate::replica::{ReplicaConfig, ReplicaError, ReplicaHandle, Role, Transport};

/// The "network": running handles by id, nodes whose traffic is dropped, and single links
/// on which one kind of message is dropped.
#[derive(Debug, Default)]
pub(super) struct Net {
    pub(super) nodes: Mutex<HashMap<u64, ReplicaHandle<Appender>>>,
    cut: Mutex<HashSet<u64>>,
    /// (from, to, message type) dropped.
    blocked: Mutex<HashSet<(u64, u64, MessageType)>>,
}

/// One node's view of the network. `step` only queues, so sending never blocks.
#[derive(Debug)]
struct NetTransport {
    from: u64,
    net: Arc<Net>,
}

impl Transport for NetTransport {
    fn send(&self, to: u64, message: Vec<u8>) {
        {
            let cut = self.net.cut.lock().unwrap();
            if cut.contains(&self.from) || cut.contains(&to) {
                return;
            }
        }
        let blocked = self.net.blocked.lock().unwrap();
        if !blocked.is_empty() {
            let kind = Message::parse_from_bytes(&message).map(|m| m.get_msg_type());
            if kind.is_ok_and(|k| blocked.contains(&(self.from, to, k))) {
                return;
            }
        }
        drop(blocked);
        let peer = self.net.nodes.lock().unwrap().get(&to).cloned();
        if let Some(peer) = peer {
            peer.step(message);
        }
    }
}

pub(super) struct Cluster {
    pub(super) net: Arc<Net>,
    dirs: Vec<tempfile::TempDir>,
    voters: Vec<u64>,
    tweak: fn(&mut ReplicaConfig),
}

impl Cluster {
    /// Directories for `n` nodes; `voters` is the initial configuration.
    pub(super) fn new(n: u64, voters: &[u64], tweak: fn(&mut ReplicaConfig)) -> Self {
        Cluster {
            net: Arc::default(),
            dirs: (0..n).map(|_| tempfile::tempdir().unwrap()).collect(),
            voters: voters.to_vec(),
            tweak,
        }
    }

    fn dir(&self, id: u64) -> PathBuf {
        self.dirs[(id - 1) as usize].path().to_path_buf()
    }

    pub(super) fn start(&self, id: u64) -> ReplicaHandle<Appender> {
        self.start_with(id, &self.voters)
    }

    /// Starts a node with its own bootstrap voters (empty = join an existing cluster).
    pub(super) fn start_with(&self, id: u64, voters: &[u64]) -> ReplicaHandle<Appender> {
        let mut cfg = config(id, &self.dir(id), voters);
        (self.tweak)(&mut cfg);
        let transport = Arc::new(NetTransport {
            from: id,
            net: Arc::clone(&self.net),
        });
        let h = ReplicaHandle::start(cfg, Appender::default(), transport).unwrap();
        self.net.nodes.lock().unwrap().insert(id, h.clone());
        h
    }

    pub(super) fn node(&self, id: u64) -> ReplicaHandle<Appender> {
        self.net.nodes.lock().unwrap()[&id].clone()
    }

    pub(super) async fn stop(&self, id: u64) {
        let h = self.net.nodes.lock().unwrap().remove(&id);
        if let Some(h) = h {
            h.shutdown().await;
        }
    }

    pub(super) async fn stop_all(&self) {
        let ids: Vec<u64> = self.net.nodes.lock().unwrap().keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }

    pub(super) fn set_cut(&self, id: u64, cut: bool) {
        let mut set = self.net.cut.lock().unwrap();
        if cut {
            set.insert(id);
        } else {
            set.remove(&id);
        }
    }

    /// Drops messages of type `kind` from `from` to `to` from now on.
    pub(super) fn block(&self, from: u64, to: u64, kind: MessageType) {
        self.net.blocked.lock().unwrap().insert((from, to, kind));
    }

    /// The leader that the nodes `among` agree on (others may be cut off).
    pub(super) async fn leader_among(&self, among: &[u64]) -> u64 {
        let mut leader = 0;
        eventually(10, "an agreed leader", || {
            let seen: HashSet<u64> = among
                .iter()
                .map(|&id| self.node(id).status().leader_id)
                .collect();
            leader = seen.iter().copied().next().unwrap_or(0);
            seen.len() == 1
                && among.contains(&leader)
                && self.node(leader).status().role == Role::Leader
        })
        .await;
        leader
    }

    /// The leader all running nodes agree on.
    pub(super) async fn leader(&self) -> u64 {
        let mut leader = 0;
        eventually(5, "an agreed leader", || {
            let nodes = self.net.nodes.lock().unwrap();
            let seen: HashSet<u64> = nodes.values().map(|h| h.status().leader_id).collect();
            leader = seen.iter().copied().next().unwrap_or(0);
            seen.len() == 1
                && nodes
                    .get(&leader)
                    .is_some_and(|h| h.status().role == Role::Leader)
        })
        .await;
        leader
    }
}

pub(super) fn values(h: &ReplicaHandle<Appender>) -> Vec<u64> {
    h.read(|sm| sm.values.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_and_fail_over() {
    let c = Cluster::new(3, &[1, 2, 3], |_| {});
    for id in 1..=3 {
        c.start(id);
    }
    // Proposals made before any leader exists wait for one instead of failing.
    for id in 1..=3 {
        assert_eq!(c.node(id).propose(cmd(id)).await.unwrap().0, id);
    }
    for id in 1..=3 {
        let h = c.node(id);
        eventually(5, "replication", || values(&h).len() == 3).await;
        assert_eq!(values(&h), vec![1, 2, 3]);
    }
    let old = c.leader().await;
    let follower = if old == 1 { 2 } else { 1 };
    // A read barrier on a follower sees everything committed before it.
    c.node(follower).read_barrier().await.unwrap();
    assert_eq!(values(&c.node(follower)).len(), 3);

    c.stop(old).await;
    let new = c.leader().await;
    assert_ne!(new, old);
    let survivor = c.node(if new == follower {
        6 - new - old
    } else {
        follower
    });
    assert_eq!(survivor.propose(cmd(4)).await.unwrap(), (4, 4));
    for id in [new, 6 - new - old] {
        let h = c.node(id);
        eventually(5, "replication after failover", || values(&h).len() == 4).await;
        assert!(h.status().leader_changes >= 2, "{:?}", h.status());
    }

    // The old leader comes back as a follower and catches up.
    let back = c.start(old);
    eventually(5, "old leader catches up", || values(&back).len() == 4).await;
    assert_eq!(back.status().leader_id, new);
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_node_catches_up_by_snapshot() {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.snapshot_every = 10;
        cfg.keep_entries_after_snapshot = 5;
    });
    let a = c.start(1);
    c.start(2);
    for i in 0..60 {
        a.propose(cmd(i)).await.unwrap();
    }
    let late = c.start(3);
    eventually(5, "late node catches up", || values(&late).len() == 60).await;
    assert_eq!(values(&late), (0..60).collect::<Vec<_>>());
    let restored = late.read(|sm| sm.restores.clone());
    assert!(
        restored.iter().any(|&n| n > 0),
        "the log was compacted: {restored:?}"
    );
    // And it takes part in new writes.
    assert_eq!(late.propose(cmd(60)).await.unwrap(), (60, 61));
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_off_node_catches_up_after_healing() {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.propose_timeout = std::time::Duration::from_secs(1);
        cfg.snapshot_every = 10;
        cfg.keep_entries_after_snapshot = 5;
    });
    for id in 1..=3 {
        c.start(id);
    }
    let leader = c.leader().await;
    let victim = if leader == 3 { 2 } else { 3 };
    c.set_cut(victim, true);
    for i in 0..40 {
        c.node(leader).propose(cmd(i)).await.unwrap();
    }
    // The cut-off node cannot commit anything on its own.
    let h = c.node(victim);
    assert!(matches!(
        h.read_barrier().await,
        Err(ReplicaError::NoQuorum)
    ));
    c.set_cut(victim, false);
    eventually(5, "healed node catches up", || values(&h).len() == 40).await;
    assert_eq!(values(&h), (0..40).collect::<Vec<_>>());
    c.stop_all().await;
}

#[tokio::test]
async fn no_quorum_times_out() {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.propose_timeout = std::time::Duration::from_millis(300)
    });
    let lonely = c.start(1);
    assert!(matches!(
        lonely.propose(cmd(1)).await,
        Err(ReplicaError::NoQuorum)
    ));
    assert!(matches!(
        lonely.read_barrier().await,
        Err(ReplicaError::NoQuorum)
    ));
    assert_eq!(lonely.status().leader_id, 0);
    c.stop_all().await;
}

/// Nodes other than `a` and `b`, among 1..=3.
fn third(a: u64, b: u64) -> u64 {
    6 - a - b
}

/// Three nodes whose proposals time out far beyond a failover, a first write committed, the
/// leader and a follower.
async fn three_nodes_patient() -> (Cluster, u64, u64) {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.propose_timeout = std::time::Duration::from_secs(60)
    });
    for id in 1..=3 {
        c.start(id);
    }
    let leader = c.leader().await;
    let follower = if leader == 1 { 2 } else { 1 };
    assert_eq!(c.node(follower).propose(cmd(1)).await.unwrap(), (1, 1));
    (c, leader, follower)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_a_write_forwarded_to_a_dying_leader_commits_under_the_next_one() {
    let (c, leader, follower) = three_nodes_patient().await;
    // The leader is gone, but the follower does not know yet: it forwards the write to it.
    c.set_cut(leader, true);
    let f = c.node(follower);
    let write = f.propose(cmd(2));
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), write)
        .await
        .expect("the write is answered once a new leader is elected");
    assert_eq!(answer.unwrap(), (2, 2));
    let new = c.leader_among(&[follower, third(leader, follower)]).await;
    assert_ne!(new, leader);
    for id in [follower, third(leader, follower)] {
        let h = c.node(id);
        eventually(5, "replication", || values(&h).len() == 2).await;
        assert_eq!(values(&h), vec![1, 2]);
    }
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_proposed_again_after_a_leader_change_is_applied_once() {
    let (c, leader, follower) = three_nodes_patient().await;
    let other = third(leader, follower);
    // Every node holds the same log before the write.
    let before = c.node(leader).status().last_index;
    eventually(5, "the first write everywhere", || {
        (1..=3).all(|id| {
            let st = c.node(id).status();
            st.last_index == before && st.commit == before
        })
    })
    .await;
    // The leader will append the write and replicate it to the follower only, and never hear
    // that the follower has it: it cannot commit it.
    c.block(leader, other, MessageType::MsgAppend);
    c.block(follower, leader, MessageType::MsgAppendResponse);
    let write = {
        let h = c.node(follower);
        tokio::spawn(async move { h.propose(cmd(2)).await })
    };
    let (f, o) = (c.node(follower), c.node(other));
    eventually(
        5,
        "the follower holds the write, the third node does not",
        || f.status().last_index == before + 1 && o.status().last_index == before,
    )
    .await;
    // The leader dies. The follower, whose log is the longest, becomes leader, commits the
    // first copy from the old term and, having proposed the write again, a second copy.
    c.set_cut(leader, true);
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), write)
        .await
        .expect("the write is answered")
        .unwrap();
    assert_eq!(answer.unwrap(), (2, 2));
    assert_eq!(c.leader_among(&[follower, other]).await, follower);
    // One more write after both copies: every node applied the write once.
    assert_eq!(c.node(other).propose(cmd(3)).await.unwrap(), (3, 3));
    for id in [follower, other] {
        let h = c.node(id);
        eventually(5, "replication", || values(&h).len() == 3).await;
        assert_eq!(values(&h), vec![1, 2, 3]);
    }
    c.stop_all().await;
}

/// Three nodes whose proposals time out after 500 ms, a first write committed, the leader and
/// a follower.
async fn three_nodes_quick() -> (Cluster, u64, u64) {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.propose_timeout = std::time::Duration::from_millis(500)
    });
    for id in 1..=3 {
        c.start(id);
    }
    let leader = c.leader().await;
    let follower = if leader == 1 { 2 } else { 1 };
    assert_eq!(c.node(follower).propose(cmd(1)).await.unwrap(), (1, 1));
    (c, leader, follower)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_a_write_forwarded_then_cut_off_answers_outcome_unknown_not_no_quorum() {
    let (c, leader, follower) = three_nodes_quick().await;
    let f = c.node(follower);
    assert_eq!(f.status().leader_id, leader);
    // The follower still knows the leader: it forwards the write, which the network loses
    // (or holds: the leader could still commit it).
    c.set_cut(follower, true);
    let started = tokio::time::Instant::now();
    let answer = f.propose(cmd(2)).await;
    assert!(
        matches!(answer, Err(ReplicaError::OutcomeUnknown)),
        "a write handed to raft is not known to have failed: {answer:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(450) && took < std::time::Duration::from_secs(2),
        "answered by the owner task's deadline, not the handle's safety net: {took:?}"
    );
    c.set_cut(follower, false);
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_a_write_on_a_node_that_never_knew_a_leader_is_refused_and_never_commits() {
    let c = Cluster::new(3, &[1, 2, 3], |cfg| {
        cfg.propose_timeout = std::time::Duration::from_millis(500)
    });
    c.set_cut(3, true);
    for id in 1..=3 {
        c.start(id);
    }
    let leader = c.leader_among(&[1, 2]).await;
    let lonely = c.node(3);
    assert_eq!(lonely.status().leader_id, 0);
    let answer = lonely.propose(cmd(7)).await;
    assert!(
        matches!(answer, Err(ReplicaError::NoQuorum)),
        "never handed to raft: {answer:?}"
    );
    // Healed, the node learns the leader at once; the refused write must not go out then.
    c.set_cut(3, false);
    eventually(5, "node 3 knows the leader", || {
        lonely.status().leader_id == leader
    })
    .await;
    assert_eq!(c.node(leader).propose(cmd(8)).await.unwrap().0, 8);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for id in 1..=3 {
        let h = c.node(id);
        eventually(5, "replication", || values(&h).contains(&8)).await;
        assert_eq!(
            values(&h),
            vec![8],
            "node {id}: the refused write committed"
        );
    }
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_h5_a_leader_applies_a_forwarded_proposal_whatever_deadline_it_carries() {
    use raft::eraftpb::Entry;
    let (c, leader, follower) = three_nodes_quick().await;
    // An envelope as older nodes wrote them, with a wall-clock deadline long past (as a
    // leader whose clock runs far ahead of the proposer's would see it).
    let mut data = vec![2u8];
    for word in [follower, 1u64 << 40 | 999, 1_000] {
        data.extend_from_slice(&word.to_le_bytes());
    }
    data.extend_from_slice(&cmd(5));
    let m = Message {
        msg_type: MessageType::MsgPropose,
        from: follower,
        to: leader,
        entries: vec![Entry {
            data: data.into(),
            ..Default::default()
        }]
        .into(),
        ..Default::default()
    };
    c.node(leader).step(m.write_to_bytes().unwrap());
    for id in 1..=3 {
        let h = c.node(id);
        eventually(5, "the forwarded proposal applied", || {
            values(&h) == vec![1, 5]
        })
        .await;
    }
    c.stop_all().await;
}
