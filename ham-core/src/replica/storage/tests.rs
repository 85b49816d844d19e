//! Storage semantics: appends replace conflicting suffixes, snapshots replace the log,
//! compaction keeps `term(first_index - 1)`, and everything survives a reopen.

use std::path::Path;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::{GetEntriesContext, Storage, StorageError};
use redb::{Database, ReadableTable};

use super::snapfile::{self, SnapshotFile};
use super::{
    ENTRIES, FORMAT_1, FORMAT_2, FORMAT_3, K_BOOT, K_FORMAT, K_HARD_STATE, K_SNAP_DATA,
    K_SNAP_FILE, K_SNAP_META, K_TRUNCATED, META, RedbStorage, encode, meta_record, unseal,
};
use crate::replica::ReplicaError;
use crate::replica::dedup::Applied;
use crate::replica::snapdata;

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

/// Builds a snapshot of `data` at `index` the way the driver does: file first, then record.
fn save(s: &mut RedbStorage, index: u64, data: &[u8], compact_to: u64) {
    let name = s.new_snapshot_name(index);
    let file = snapfile::write(s.snapshot_dir(), &name, data).unwrap();
    s.save_snapshot(
        index,
        ConfState::from((vec![1], vec![])),
        data.to_vec(),
        file,
        compact_to,
    )
    .unwrap();
}

/// The snapshot files present, by name.
fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(snapfile::DIR))
        .map(|l| {
            l.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
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
    s.sync().unwrap();
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
fn a_commit_index_alone_is_written_with_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let ents: Vec<Entry> = (1..=6).map(|i| entry(i, 1)).collect();
    s.persist_ready(None, &ents[..3], Some(&hs(1, 1)), true)
        .unwrap();
    // Commit-only changes cost no transaction: they are in memory until the next write...
    s.persist_ready(None, &[], Some(&hs(1, 2)), false).unwrap();
    s.persist_commit(3).unwrap();
    assert_eq!(s.hard_state().commit, 3);
    s.persist_ready(None, &ents[3..5], None, true).unwrap();
    drop(s);
    let mut s = open_empty(dir.path());
    assert_eq!(s.hard_state().commit, 3);
    assert_eq!(s.last_index().unwrap(), 5);
    // ... or the next sync.
    s.persist_commit(5).unwrap();
    s.sync().unwrap();
    drop(s);
    let mut s = open_empty(dir.path());
    assert_eq!(s.hard_state().commit, 5);
    // A snapshot above the commit index on disk records the one in memory with it, so the
    // store opens again (a commit below the snapshot is refused as corrupt).
    s.persist_ready(None, &ents[5..], None, true).unwrap();
    s.persist_commit(6).unwrap();
    save(&mut s, 6, b"state", 6);
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!((s.snapshot_index(), s.hard_state().commit), (6, 6));
}

#[test]
fn local_snapshot_compacts_but_keeps_the_boundary_term() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let ents: Vec<Entry> = (1..=20).map(|i| entry(i, 1 + i / 10)).collect();
    s.persist_ready(None, &ents, Some(&hs(3, 20)), true)
        .unwrap();
    save(&mut s, 15, b"state", 12);
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
        let stored = meta.get(K_HARD_STATE).unwrap().unwrap().value().to_vec();
        let bytes = unseal(K_HARD_STATE.as_bytes(), &stored).unwrap();
        let mut hs: HardState = protobuf::Message::parse_from_bytes(bytes).unwrap();
        hs.commit = commit;
        let record = meta_record(K_HARD_STATE, &encode(&hs).unwrap());
        meta.insert(K_HARD_STATE, record.as_slice()).unwrap();
    }
    txn.commit().unwrap();
}

#[test]
fn only_the_current_snapshot_file_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    assert!(
        snapshot_files(dir.path()).is_empty(),
        "a joining store has none"
    );
    let ents: Vec<Entry> = (1..=30).map(|i| entry(i, 1)).collect();
    s.persist_ready(None, &ents, Some(&hs(1, 30)), true)
        .unwrap();
    save(&mut s, 10, b"ten", 5);
    save(&mut s, 20, b"twenty", 15);
    let files = snapshot_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with("snap-00000000000000000020-"),
        "{files:?}"
    );
    // A snapshot not past the stored one is refused and its file removed.
    let name = s.new_snapshot_name(20);
    let stale = snapfile::write(s.snapshot_dir(), &name, b"again").unwrap();
    let conf = ConfState::from((vec![1], vec![]));
    assert!(
        s.save_snapshot(20, conf, b"again".to_vec(), stale, 15)
            .is_err()
    );
    assert_eq!(snapshot_files(dir.path()), files);
    // Left-overs of a crash (a file no record names, a temporary file) go at the next open.
    let snaps = dir.path().join(snapfile::DIR);
    std::fs::write(snaps.join(SnapshotFile::name_for(25, 9)), b"orphan").unwrap();
    std::fs::write(snaps.join("snap-x.bin.tmp"), b"half").unwrap();
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!(snapshot_files(dir.path()), files);
    assert_eq!(&s.snapshot_ref().data[..], b"twenty");
}

#[test]
fn m1_damaged_or_missing_snapshot_file_is_corruption_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    drop(RedbStorage::open(dir.path(), &[1], || b"initial state".to_vec()).unwrap());
    let files = snapshot_files(dir.path());
    let path = dir.path().join(snapfile::DIR).join(&files[0]);
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    bad[3] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let err = RedbStorage::open(dir.path(), &[1], Vec::new).unwrap_err();
    assert!(
        matches!(&err, ReplicaError::Corrupt(m) if m.contains("damaged")),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bad,
        "the damaged file is left in place"
    );
    std::fs::remove_file(&path).unwrap();
    let err = RedbStorage::open(dir.path(), &[1], Vec::new).unwrap_err();
    assert!(matches!(err, ReplicaError::Corrupt(_)), "{err}");
    std::fs::write(&path, &good).unwrap();
    assert_eq!(
        &RedbStorage::open(dir.path(), &[1], Vec::new)
            .unwrap()
            .snapshot_ref()
            .data[..],
        b"initial state"
    );
}

#[test]
fn m1_snapshot_record_naming_a_path_outside_the_directory_is_refused() {
    let record = SnapshotFile {
        name: "../../etc/passwd".into(),
        len: 1,
        crc: 0,
    }
    .encode();
    assert!(SnapshotFile::decode(&record).is_err());
    assert!(SnapshotFile::decode(&record[..5]).is_err());
}

/// A closed store with entries 1..=12 and a snapshot of `data` at 10, compacted to 8.
fn store_with_snapshot(dir: &Path, data: &[u8]) {
    let mut s = open_empty(dir);
    let ents: Vec<Entry> = (1..=12).map(|i| entry(i, 1)).collect();
    s.persist_ready(None, &ents, Some(&hs(1, 12)), true)
        .unwrap();
    save(&mut s, 10, data, 8);
}

/// Changes the `meta` table of a closed store.
fn edit_meta(dir: &Path, f: impl FnOnce(&mut redb::Table<'_, &'static str, &'static [u8]>)) {
    let db = Database::create(dir.join("raft.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    f(&mut txn.open_table(META).unwrap());
    txn.commit().unwrap();
}

/// Rewrites a closed store the way format 3 stored it: no checksums on any record.
fn strip_checksums(dir: &Path) {
    let db = Database::create(dir.join("raft.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn.open_table(META).unwrap();
        for key in [K_HARD_STATE, K_SNAP_META, K_SNAP_FILE, K_TRUNCATED, K_BOOT] {
            let Some(stored) = meta.get(key).unwrap().map(|v| v.value().to_vec()) else {
                continue;
            };
            let bytes = unseal(key.as_bytes(), &stored).unwrap().to_vec();
            meta.insert(key, bytes.as_slice()).unwrap();
        }
        meta.insert(K_FORMAT, &FORMAT_3.to_le_bytes()[..]).unwrap();
        let mut log = txn.open_table(ENTRIES).unwrap();
        let all: Vec<(u64, Vec<u8>)> = log
            .range::<u64>(..)
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value(), v.value().to_vec())
            })
            .collect();
        for (k, v) in all {
            let bytes = unseal(&k.to_le_bytes(), &v).unwrap().to_vec();
            log.insert(k, bytes.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

/// Changes `at` bytes of `marker` (every copy of it) in a closed store's file, as a damaged
/// disk would, bypassing redb.
fn damage_file(path: &Path, marker: &[u8], at: usize) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let mut copies = 0;
    let mut i = 0;
    while i + marker.len() <= bytes.len() {
        if &bytes[i..i + marker.len()] == marker {
            bytes[i + at] ^= 0x01;
            copies += 1;
            i += marker.len();
        } else {
            i += 1;
        }
    }
    std::fs::write(path, &bytes).unwrap();
    copies
}

#[test]
fn m3_a_damaged_log_entry_is_corruption_naming_the_file_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open_empty(dir.path());
    let mut ents: Vec<Entry> = (1..=8).map(|i| entry(i, 1)).collect();
    ents[4].data = b"payload-MARKER-m3-entry-five".to_vec().into();
    s.persist_ready(None, &ents, Some(&hs(1, 8)), true).unwrap();
    drop(s);
    let path = dir.path().join("raft.redb");
    assert!(damage_file(&path, b"MARKER-m3-entry-five", 3) >= 1);
    let err = RedbStorage::open(dir.path(), &[], Vec::new).unwrap_err();
    let ReplicaError::Corrupt(m) = &err else {
        panic!("not corruption: {err}")
    };
    assert!(m.contains(&path.display().to_string()), "{m}");
    assert!(m.contains("log entry 5 fails its checksum"), "{m}");
}

#[test]
fn m3_a_damaged_metadata_record_is_corruption() {
    for key in [K_HARD_STATE, K_SNAP_META, K_TRUNCATED, K_SNAP_FILE] {
        let dir = tempfile::tempdir().unwrap();
        store_with_snapshot(dir.path(), b"state");
        // One bit of the record changed, its checksum left as it was.
        edit_meta(dir.path(), |meta| {
            let mut stored = meta.get(key).unwrap().unwrap().value().to_vec();
            let last = stored.len() - 1;
            stored[last] ^= 0x01;
            meta.insert(key, stored.as_slice()).unwrap();
        });
        let err = RedbStorage::open(dir.path(), &[], Vec::new).unwrap_err();
        assert!(
            matches!(&err, ReplicaError::Corrupt(m)
                if m.contains("raft.redb") && m.contains(&format!("`{key}` fails its checksum"))),
            "{key}: {err}"
        );
    }
}

#[test]
fn m3_format_3_store_gets_checksums_and_keeps_its_log() {
    let dir = tempfile::tempdir().unwrap();
    store_with_snapshot(dir.path(), b"format three");
    strip_checksums(dir.path());
    let s = open_empty(dir.path());
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (9, 12));
    assert_eq!(s.hard_state().commit, 12);
    assert_eq!(&s.snapshot_ref().data[..], b"format three");
    drop(s);
    // Every record now has its checksum: stripping them again works (it unseals each one).
    let db = Database::create(dir.path().join("raft.redb")).unwrap();
    {
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        let meta = txn.open_table(META).unwrap();
        assert_eq!(
            meta.get(K_FORMAT).unwrap().unwrap().value(),
            &super::FORMAT.to_le_bytes()[..]
        );
        for key in [K_HARD_STATE, K_SNAP_META, K_SNAP_FILE, K_TRUNCATED, K_BOOT] {
            let stored = meta.get(key).unwrap().unwrap().value().to_vec();
            assert!(unseal(key.as_bytes(), &stored).is_some(), "{key}");
        }
        let log = txn.open_table(ENTRIES).unwrap();
        for r in log.range::<u64>(..).unwrap() {
            let (k, v) = r.unwrap();
            assert!(unseal(&k.value().to_le_bytes(), v.value()).is_some());
        }
    }
    drop(db);
    let s = open_empty(dir.path());
    assert_eq!(terms(&s), vec![1, 1, 1, 1]);
}

#[test]
fn format_1_store_is_converted_and_keeps_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    store_with_snapshot(dir.path(), b"old layout");
    strip_checksums(dir.path());
    // Rewrite it the way format 1 stored it: the bytes in `meta`, no file.
    edit_meta(dir.path(), |meta| {
        meta.remove(K_SNAP_FILE).unwrap();
        meta.insert(K_SNAP_DATA, &b"old layout"[..]).unwrap();
        meta.insert(K_FORMAT, &FORMAT_1.to_le_bytes()[..]).unwrap();
    });
    std::fs::remove_dir_all(dir.path().join(snapfile::DIR)).unwrap();
    let s = open_empty(dir.path());
    assert_eq!(s.snapshot_index(), 10);
    let (applied, state) = snapdata::unwrap(&s.snapshot_ref().data).unwrap();
    assert_eq!((applied, state), (Applied::default(), &b"old layout"[..]));
    assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (9, 12));
    assert_eq!(snapshot_files(dir.path()).len(), 1);
    drop(s);
    let db = Database::create(dir.path().join("raft.redb")).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta = txn.open_table(META).unwrap();
    assert!(meta.get(K_SNAP_DATA).unwrap().is_none());
    assert_eq!(
        meta.get(K_FORMAT).unwrap().unwrap().value(),
        &super::FORMAT.to_le_bytes()[..]
    );
}

#[test]
fn format_2_store_is_converted_and_keeps_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // Format 2 stored the state machine's bytes alone in the file.
    store_with_snapshot(dir.path(), b"state alone");
    strip_checksums(dir.path());
    edit_meta(dir.path(), |meta| {
        meta.insert(K_FORMAT, &FORMAT_2.to_le_bytes()[..]).unwrap();
    });
    let old_files = snapshot_files(dir.path());
    let s = open_empty(dir.path());
    let (applied, state) = snapdata::unwrap(&s.snapshot_ref().data).unwrap();
    assert_eq!((applied, state), (Applied::default(), &b"state alone"[..]));
    let files = snapshot_files(dir.path());
    assert_eq!(files.len(), 1);
    assert_ne!(files, old_files, "a new file replaced the old one");
    drop(s);
    let s = open_empty(dir.path());
    assert_eq!(
        snapdata::unwrap(&s.snapshot_ref().data).unwrap().1,
        b"state alone"
    );
}
