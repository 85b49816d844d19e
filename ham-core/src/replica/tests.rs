//! Tests of the replica: a single node on disk here, a three-node cluster in `cluster.rs`,
//! membership changes in `membership.rs`.

mod cluster;
mod membership;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::storage::RedbStorage;
use super::*;

/// Test state machine: appends u64 commands and records how each entry was applied.
#[derive(Debug, Default)]
pub(super) struct Appender {
    /// The replicated state.
    pub values: Vec<u64>,
    /// (index, replaying) of every apply since start (not part of the replicated state).
    pub applied: Vec<(u64, bool)>,
    /// Number of values in each snapshot restored since start.
    pub restores: Vec<usize>,
    /// When set, snapshot jobs of a non-empty state wait for it to open.
    pub gate: Option<Arc<Gate>>,
}

/// Holds snapshot jobs back: (opened, jobs that started waiting).
#[derive(Debug, Default)]
pub(super) struct Gate {
    state: std::sync::Mutex<(bool, usize)>,
    changed: std::sync::Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        st.1 += 1;
        self.changed.notify_all();
        while !st.0 {
            st = self.changed.wait(st).unwrap();
        }
    }

    fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }

    fn waiting(&self) -> usize {
        self.state.lock().unwrap().1
    }
}

impl StateMachine for Appender {
    /// (the value, the number of values after applying it)
    type Output = (u64, usize);

    fn apply(&mut self, ctx: ApplyContext, command: &[u8]) -> Self::Output {
        let v = <[u8; 8]>::try_from(command).map_or(u64::MAX, u64::from_le_bytes);
        self.values.push(v);
        self.applied.push((ctx.index, ctx.replaying));
        (v, self.values.len())
    }

    fn snapshot(&self) -> SnapshotJob {
        let values = self.values.clone();
        let gate = self.gate.clone();
        Box::new(move || {
            // (the bootstrap snapshot of the empty state is not held back)
            if let Some(g) = gate.filter(|_| !values.is_empty()) {
                g.pass();
            }
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        })
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        if !data.len().is_multiple_of(8) {
            return Err(format!("bad snapshot length {}", data.len()));
        }
        self.values = data
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect();
        self.restores.push(self.values.len());
        Ok(())
    }
}

/// A transport for a cluster of one: there is nobody to talk to.
#[derive(Debug)]
pub(super) struct NoPeers;

impl Transport for NoPeers {
    fn send(&self, _to: u64, _message: Vec<u8>) {}
}

pub(super) fn cmd(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

pub(super) fn config(id: u64, dir: &Path, voters: &[u64]) -> ReplicaConfig {
    ReplicaConfig {
        id,
        data_dir: dir.to_path_buf(),
        voters: voters.to_vec(),
        tick: Duration::from_millis(10),
        election_ticks: 10,
        heartbeat_ticks: 2,
        snapshot_every: 5000,
        keep_entries_after_snapshot: 1000,
        propose_timeout: Duration::from_secs(3),
    }
}

/// Polls `f` every 10 ms until it holds; panics after `secs` seconds.
pub(super) async fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn start(cfg: ReplicaConfig) -> ReplicaHandle<Appender> {
    ReplicaHandle::start(cfg, Appender::default(), Arc::new(NoPeers)).expect("start")
}

#[tokio::test]
async fn one_node_applies_proposals_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    for i in 0..100u64 {
        assert_eq!(r.propose(cmd(i)).await.unwrap(), (i, i as usize + 1));
    }
    r.read_barrier().await.unwrap();
    assert_eq!(r.read(|sm| sm.values.clone()), (0..100).collect::<Vec<_>>());
    let st = r.status();
    assert_eq!(
        (st.leader_id, st.role, st.voters.clone()),
        (1, Role::Leader, vec![1])
    );
    assert!(st.applied >= 101 && st.commit >= st.applied, "{st:?}");
    assert_eq!(st.leader_changes, 1);
    r.shutdown().await;
    assert!(matches!(
        r.propose(cmd(1)).await,
        Err(ReplicaError::Stopped)
    ));
    assert!(matches!(r.read_barrier().await, Err(ReplicaError::Stopped)));
    r.shutdown().await; // twice is fine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_all_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    let tasks: Vec<_> = (0..200u64)
        .map(|i| {
            let r = r.clone();
            tokio::spawn(async move { r.propose(cmd(i)).await.unwrap() })
        })
        .collect();
    let mut positions = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (v, pos) = t.await.unwrap();
        assert_eq!(v, i as u64);
        positions.push(pos);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=200).collect::<Vec<_>>());
    r.shutdown().await;
}

#[tokio::test]
async fn restart_replays_the_log_then_continues() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    for i in 0..10 {
        r.propose(cmd(i)).await.unwrap();
    }
    let before: Vec<u64> = r.read(|sm| sm.applied.iter().map(|a| a.0).collect());
    r.shutdown().await;

    let r = start(config(1, dir.path(), &[1]));
    eventually(5, "replay", || r.read(|sm| sm.values.len()) == 10).await;
    assert_eq!(r.read(|sm| sm.values.clone()), (0..10).collect::<Vec<_>>());
    // Only the (empty) bootstrap snapshot exists.
    assert_eq!(r.read(|sm| sm.restores.clone()), vec![0]);
    assert_eq!(r.propose(cmd(10)).await.unwrap(), (10, 11));
    let after = r.read(|sm| sm.applied.clone());
    let replayed: Vec<u64> = after.iter().filter(|a| a.1).map(|a| a.0).collect();
    assert_eq!(replayed, before, "exactly the old entries are replays");
    assert!(!after.last().unwrap().1, "the new entry is not a replay");
    r.shutdown().await;
}

#[tokio::test]
async fn restart_restores_snapshot_and_replays_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1, dir.path(), &[1]);
    cfg.snapshot_every = 7;
    let r = start(cfg.clone());
    for i in 0..10 {
        r.propose(cmd(i)).await.unwrap();
    }
    let last_index = r.read(|sm| sm.applied.last().unwrap().0);
    r.shutdown().await;

    let r = start(cfg.clone());
    let restored = r.read(|sm| sm.restores.clone());
    assert!(
        matches!(restored[..], [n] if n >= 6),
        "restored before start returns: {restored:?}"
    );
    eventually(5, "replay", || r.read(|sm| sm.values.len()) == 10).await;
    assert_eq!(r.read(|sm| sm.values.clone()), (0..10).collect::<Vec<_>>());
    let replayed = r.read(|sm| sm.applied.clone());
    assert!(
        !replayed.is_empty() && replayed.iter().all(|a| a.1),
        "{replayed:?}"
    );
    assert_eq!(replayed.last().unwrap().0, last_index);
    assert_eq!(r.propose(cmd(10)).await.unwrap(), (10, 11));
    assert!(!r.read(|sm| sm.applied.last().unwrap().1));
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_keep_committing_while_a_snapshot_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1, dir.path(), &[1]);
    cfg.snapshot_every = 5;
    let gate = Arc::new(Gate::default());
    let sm = Appender {
        gate: Some(gate.clone()),
        ..Appender::default()
    };
    let r = ReplicaHandle::start(cfg.clone(), sm, Arc::new(NoPeers)).unwrap();
    for i in 0..6 {
        r.propose(cmd(i)).await.unwrap();
    }
    eventually(10, "a snapshot job to start", || gate.waiting() == 1).await;
    // The job is stuck; were it run on the Raft task, nothing below could commit.
    let more = async {
        for i in 6..56 {
            r.propose(cmd(i)).await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(10), more)
        .await
        .expect("proposals commit while the snapshot is being built");
    assert_eq!(gate.waiting(), 1, "one build at a time");
    gate.open();
    r.shutdown().await;
    let store = RedbStorage::open(dir.path(), &[1], Vec::new).unwrap();
    let index = store.snapshot_index();
    let (_, state) = crate::replica::snapdata::unwrap(&store.snapshot_ref().data).unwrap();
    let values = state.len() / 8;
    // Index 1 is the bootstrap snapshot, 2 the leader's empty entry, values from 3 on.
    assert!(index >= 6, "snapshot at {index}");
    assert_eq!(
        values as u64,
        index - 2,
        "the snapshot holds the state at its index"
    );
    drop(store);
    let r = start(cfg);
    eventually(5, "replay", || r.read(|sm| sm.values.len()) == 56).await;
    assert_eq!(r.read(|sm| sm.values.clone()), (0..56).collect::<Vec<_>>());
    r.shutdown().await;
}

#[tokio::test]
async fn snapshots_compact_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(1, dir.path(), &[1]);
    cfg.snapshot_every = 10;
    cfg.keep_entries_after_snapshot = 5;
    let r = start(cfg.clone());
    for i in 0..100 {
        r.propose(cmd(i)).await.unwrap();
    }
    r.shutdown().await;
    {
        let store = RedbStorage::open(dir.path(), &[1], Vec::new).unwrap();
        let first = raft::Storage::first_index(&store).unwrap();
        let last = raft::Storage::last_index(&store).unwrap();
        assert!(
            store.snapshot_index() >= 91,
            "snapshot at {}",
            store.snapshot_index()
        );
        assert!(
            first > 80 && first <= store.snapshot_index() + 1,
            "first_index {first}"
        );
        assert_eq!(last, 102);
    }
    let r = start(cfg);
    eventually(5, "replay", || r.read(|sm| sm.values.len()) == 100).await;
    assert_eq!(r.read(|sm| sm.values.clone()), (0..100).collect::<Vec<_>>());
    assert_eq!(r.propose(cmd(100)).await.unwrap(), (100, 101));
    r.shutdown().await;
}

#[tokio::test]
async fn garbage_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("raft.redb"), junk).unwrap();
    let err = ReplicaHandle::start(
        config(1, dir.path(), &[1]),
        Appender::default(),
        Arc::new(NoPeers),
    )
    .unwrap_err();
    assert!(matches!(err, ReplicaError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("raft.redb"), "{err}");
}

#[tokio::test]
async fn truncated_store_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    for i in 0..20 {
        r.propose(cmd(i)).await.unwrap();
    }
    r.shutdown().await;
    let path = dir.path().join("raft.redb");
    let len = std::fs::metadata(&path).unwrap().len();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..(len / 3) as usize]).unwrap();
    let res = ReplicaHandle::start(
        config(1, dir.path(), &[1]),
        Appender::default(),
        Arc::new(NoPeers),
    );
    assert!(matches!(res, Err(ReplicaError::Corrupt(_))), "{res:?}");
}

#[tokio::test]
async fn inconsistent_store_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    r.propose(cmd(1)).await.unwrap();
    r.shutdown().await;
    // Claim a commit index far beyond the log: raft-rs would panic on this.
    storage::tests::set_commit(dir.path(), 1000);
    let err = ReplicaHandle::start(
        config(1, dir.path(), &[1]),
        Appender::default(),
        Arc::new(NoPeers),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ReplicaError::Corrupt(m) if m.contains("commit 1000")),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_config_and_bad_peer_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(0, dir.path(), &[1]);
    let start_err = |cfg: ReplicaConfig| {
        ReplicaHandle::start(cfg, Appender::default(), Arc::new(NoPeers)).unwrap_err()
    };
    assert!(matches!(start_err(cfg.clone()), ReplicaError::Config(_)));
    cfg.id = 1;
    cfg.heartbeat_ticks = 10;
    assert!(matches!(start_err(cfg.clone()), ReplicaError::Config(_)));
    cfg.heartbeat_ticks = 2;
    cfg.voters = vec![1, 2, 1];
    assert!(matches!(start_err(cfg.clone()), ReplicaError::Config(_)));
    cfg.voters = vec![1];
    let r = start(cfg);
    r.step(vec![0xff; 32]);
    r.step(Vec::new()); // decodes to an empty message addressed to nobody: dropped
    r.report_unreachable(7);
    r.report_snapshot(7, false);
    assert_eq!(r.propose(cmd(5)).await.unwrap(), (5, 1));
    r.shutdown().await;
}

#[tokio::test]
async fn same_directory_cannot_be_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(config(1, dir.path(), &[1]));
    let err = ReplicaHandle::start(
        config(1, dir.path(), &[1]),
        Appender::default(),
        Arc::new(NoPeers),
    )
    .unwrap_err();
    assert!(matches!(err, ReplicaError::Storage(_)), "{err:?}");
    r.shutdown().await;
    // After shutdown the directory is free again.
    start(config(1, dir.path(), &[1])).shutdown().await;
}

#[test]
fn start_outside_a_runtime_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let res = ReplicaHandle::start(
        config(1, dir.path(), &[1]),
        Appender::default(),
        Arc::new(NoPeers),
    );
    assert!(matches!(res, Err(ReplicaError::Config(_))), "{res:?}");
}
