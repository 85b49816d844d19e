//! Storage semantics: appends replace conflicting suffixes, snapshots replace the log,
//! compaction keeps `term(first_index - 1)`, and everything survives a reopen.

use std::path::Path;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, Storage, StorageError};
use redb::{Database, ReadableTable};

use super::{K_HARD_STATE, META, RedbStorage, encode};

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        data: vec![index as u8; 10].into(),
        ..Default::default()
    }
}

fn hs(term: u64, commit: u64) -> HardState {
    HardState {
        term,
        commit,
        ..Default::default()
    }
}

fn terms(s: &RedbStorage) -> Vec<u64> {
    let (lo, hi) = (s.first_index().unwrap(), s.last_index().unwrap());
    s.entries(lo, hi + 1, None, GetEntriesContext::empty(false))
        .unwrap()
        .iter()
        .map(|e| e.term)
        .collect()
}

/// A store without bootstrap snapshot (as a joining node has), so the log starts at index 1.
fn open_empty(dir: &std::path::Path) -> RedbStorage {
    RedbStorage::open(dir, &[], Vec::new).unwrap()
}

#[test]
fn fresh_store_is_bootstrapped_with_the_voters() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStorage::open(dir.path(), &[1, 2, 3], || b"init".to_vec()).unwrap();
    let st = s.initial_state().unwrap();
    assert_eq!(st.conf_state.voters, vec![1, 2, 3]);
    assert_eq!((st.hard_state.term, st.hard_state.commit), (1, 1));
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (2, 1));
    assert_eq!(s.term(1).unwrap(), 1);
    assert_eq!(s.boot(), 1);
    let snap = s.snapshot(0, 2).unwrap();
    assert_eq!(
        (snap.get_metadata().index, &snap.data[..]),
        (1, &b"init"[..])
    );
    drop(s);
    // The bootstrap voters only count for a fresh store.
    let s = RedbStorage::open(dir.path(), &[9], || unreachable!()).unwrap();
    assert_eq!(s.initial_state().unwrap().conf_state.voters, vec![1, 2, 3]);
    assert_eq!(s.boot(), 2);
}

#[test]
fn joining_store_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_empty(dir.path());
    assert!(!s.initial_state().unwrap().initialized());
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (1, 0));
    assert_eq!(s.term(0).unwrap(), 0);
    // There is no snapshot to send: raft must be told to wait, not handed index 0.
    assert_eq!(
        s.snapshot(0, 2).unwrap_err(),
        raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable)
    );
}

#[test]
fn appends_replace_conflicts_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let ents: Vec<Entry> = (1..=5).map(|i| entry(i, 1)).collect();
    s.persist_ready(None, &ents, Some(&hs(1, 2)), true).unwrap();
    s.persist_ready(
        None,
        &[entry(4, 2), entry(5, 2), entry(6, 2)],
        Some(&hs(2, 3)),
        true,
    )
    .unwrap();
    assert_eq!(terms(&s), vec![1, 1, 1, 2, 2, 2]);
    // A gap is refused rather than written.
    assert!(s.persist_ready(None, &[entry(9, 2)], None, true).is_err());
    s.persist_commit(5).unwrap();
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!(terms(&s), vec![1, 1, 1, 2, 2, 2]);
    assert_eq!(s.hard_state().commit, 5);
    assert_eq!(s.hard_state().term, 2);
    // max_size still returns at least one entry.
    let one = s
        .entries(1, 7, Some(1), GetEntriesContext::empty(false))
        .unwrap();
    assert_eq!(one.len(), 1);
}

#[test]
fn local_snapshot_compacts_but_keeps_the_boundary_term() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let ents: Vec<Entry> = (1..=20).map(|i| entry(i, 1 + i / 10)).collect();
    s.persist_ready(None, &ents, Some(&hs(3, 20)), true)
        .unwrap();
    s.save_snapshot(
        15,
        ConfState::from((vec![1], vec![])),
        b"state".to_vec(),
        12,
    )
    .unwrap();
    assert_eq!(s.first_index().unwrap(), 13);
    assert_eq!(s.term(12).unwrap(), 2);
    assert_eq!(
        s.term(11).unwrap_err(),
        raft::Error::Store(StorageError::Compacted)
    );
    let snap = s.snapshot(0, 1).unwrap();
    assert_eq!(
        (snap.get_metadata().index, snap.get_metadata().term),
        (15, 2)
    );
    assert_eq!(&snap.data[..], b"state");
    // A request for something newer makes the driver produce one.
    assert!(s.snapshot(16, 1).is_err());
    assert!(s.take_snapshot_wanted());
    // So does a receiver the snapshot's configuration does not know (added later).
    assert!(s.snapshot(0, 4).is_err());
    assert!(s.take_snapshot_wanted());
    assert!(!s.take_snapshot_wanted());
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!(
        (s.first_index().unwrap(), s.last_index().unwrap()),
        (13, 20)
    );
    assert_eq!(s.snapshot_index(), 15);
}

#[test]
fn incoming_snapshot_replaces_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let ents: Vec<Entry> = (1..=3).map(|i| entry(i, 1)).collect();
    s.persist_ready(None, &ents, Some(&hs(1, 3)), true).unwrap();
    let mut snap = Snapshot::default();
    snap.mut_metadata().index = 50;
    snap.mut_metadata().term = 4;
    snap.mut_metadata()
        .set_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
    snap.data = b"leader state".to_vec().into();
    s.persist_ready(Some(&snap), &[entry(51, 4)], Some(&hs(4, 50)), true)
        .unwrap();
    assert_eq!(
        (s.first_index().unwrap(), s.last_index().unwrap()),
        (51, 51)
    );
    assert_eq!(s.term(50).unwrap(), 4);
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!(s.snapshot_index(), 50);
    assert_eq!(s.hard_state().commit, 50);
    assert_eq!(&s.snapshot_ref().data[..], b"leader state");
}

/// Rewrites the persisted commit index of a closed store (for corruption tests).
pub(crate) fn set_commit(dir: &Path, commit: u64) {
    let db = Database::create(dir.join("raft.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn.open_table(META).unwrap();
        let bytes = meta.get(K_HARD_STATE).unwrap().unwrap().value().to_vec();
        let mut hs: HardState = protobuf::Message::parse_from_bytes(&bytes).unwrap();
        hs.commit = commit;
        meta.insert(K_HARD_STATE, encode(&hs).unwrap().as_slice())
            .unwrap();
    }
    txn.commit().unwrap();
}
