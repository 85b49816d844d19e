//! Opening the store: bootstrap a fresh one, or load an existing one and check it.
//!
//! raft-rs panics on some inconsistent states (e.g. "hs.commit is out of range"), so everything
//! read here is validated first and a damaged store becomes `ReplicaError::Corrupt`.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use redb::{Database, DatabaseError, ReadableDatabase, TableError};

use super::snapfile::{self, SnapshotFile};
use super::{
    ENTRIES, FORMAT, FORMAT_1, FORMAT_2, FORMAT_3, K_BOOT, K_FORMAT, K_HARD_STATE, K_SNAP_DATA,
    K_SNAP_FILE, K_SNAP_META, K_TRUNCATED, META, RedbStorage, blocking, encode, entry_record,
    meta_record, pair, unseal,
};
use crate::replica::dedup::Applied;
use crate::replica::error::ReplicaError;
use crate::replica::snapdata;

/// What an existing store holds.
struct Loaded {
    hard_state: HardState,
    snapshot: Snapshot,
    snapshot_file: Option<SnapshotFile>,
    /// Format 1 or 2: the snapshot holds the state machine's bytes alone (in `meta` for
    /// format 1); the store must be converted.
    legacy: bool,
    /// Format 1 to 3: records carry no checksum yet; the store must be converted.
    unsealed: bool,
    truncated: (u64, u64),
    entries: VecDeque<Entry>,
    boot: u64,
}

pub(super) fn open(
    dir: &Path,
    voters: &[u64],
    initial: impl FnOnce() -> Vec<u8>,
) -> Result<RedbStorage, ReplicaError> {
    let path = dir.join("raft.redb");
    // redb checks some of its own invariants with debug assertions; a damaged file must never
    // take the process down, so a panic while reading it counts as corruption.
    let inner = || blocking(|| open_inner(dir, voters, initial));
    match std::panic::catch_unwind(AssertUnwindSafe(inner)) {
        Ok(result) => result,
        Err(_) => Err(ReplicaError::Corrupt(format!(
            "{}: the database failed an internal check while being read",
            path.display()
        ))),
    }
}

fn open_inner(
    dir: &Path,
    voters: &[u64],
    initial: impl FnOnce() -> Vec<u8>,
) -> Result<RedbStorage, ReplicaError> {
    let path = dir.join("raft.redb");
    let at = |what: &str, e: &dyn std::fmt::Display| format!("{}: {what}: {e}", path.display());
    std::fs::create_dir_all(dir)
        .map_err(|e| ReplicaError::Storage(at("creating the data directory", &e)))?;
    let db = Database::create(&path).map_err(|e| match e {
        DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
            ReplicaError::Corrupt(at("damaged database", &m))
        }
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            ReplicaError::Corrupt(at("not a redb database", &io))
        }
        DatabaseError::UpgradeRequired(v) => {
            ReplicaError::Corrupt(at("unsupported redb file format", &v))
        }
        DatabaseError::DatabaseAlreadyOpen => {
            ReplicaError::Storage(at("open", &"already in use by another replica"))
        }
        e => ReplicaError::Storage(at("open", &e)),
    })?;
    let snap_dir = dir.join(snapfile::DIR);
    let loaded = match read_all(&db, &path, &snap_dir)? {
        Some(l) => l,
        None => bootstrap(&db, &snap_dir, voters, initial)
            .map_err(|e| ReplicaError::Storage(at("bootstrap", &e)))?,
    };
    validate(&loaded).map_err(|m| ReplicaError::Corrupt(format!("{}: {m}", path.display())))?;
    let mut storage = RedbStorage {
        db: Some(db),
        db_failed: false,
        space: std::sync::Arc::new(super::space::DiskSpace::open(dir)),
        path: path.clone(),
        hard_state: loaded.hard_state,
        snapshot: loaded.snapshot,
        snapshot_file: loaded.snapshot_file,
        snap_dir,
        file_seq: AtomicU64::new(0),
        truncated: loaded.truncated,
        entries: loaded.entries,
        snapshot_wanted: AtomicBool::new(false),
        boot: loaded.boot + 1,
    };
    if loaded.unsealed {
        convert_old_format(&mut storage, loaded.legacy)?;
    }
    let boot = storage.boot;
    storage.transact(true, "recording the boot count", |(_, meta)| {
        meta.insert(K_BOOT, meta_record(K_BOOT, &boot.to_le_bytes()).as_slice())?;
        Ok(())
    })?;
    let keep = storage.snapshot_file.as_ref().map(|f| f.name.as_str());
    snapfile::remove_all_but(&storage.snap_dir, keep);
    Ok(storage)
}

/// Converts a format 1 to 3 store. Formats 1 and 2 (`legacy`): the state machine's bytes get an
/// (empty) applied request record in front and go to a new snapshot file, out of `meta`. All of
/// them: every record is written again with its checksum, in one transaction.
fn convert_old_format(s: &mut RedbStorage, legacy: bool) -> Result<(), ReplicaError> {
    let file = if !legacy {
        s.snapshot_file.clone()
    } else if s.snapshot.get_metadata().index > 0 {
        s.snapshot.data = snapdata::wrap(&Applied::default(), &s.snapshot.data).into();
        let name = s.new_snapshot_name(s.snapshot.get_metadata().index);
        let written = blocking(|| snapfile::write(&s.snap_dir, &name, &s.snapshot.data))
            .map_err(|e| s.storage_err("converting the store: writing the snapshot file", e))?;
        Some(written)
    } else {
        None
    };
    let (hard_state, snap_meta) = (s.hard_state.clone(), s.snapshot.get_metadata().clone());
    let (truncated, entries) = (s.truncated, s.entries.clone());
    s.transact(true, "converting the store", |(log, meta)| {
        meta.remove(K_SNAP_DATA)?;
        if let Some(f) = &file {
            meta.insert(
                K_SNAP_FILE,
                meta_record(K_SNAP_FILE, &f.encode()).as_slice(),
            )?;
        }
        meta.insert(
            K_HARD_STATE,
            meta_record(K_HARD_STATE, &encode(&hard_state)?).as_slice(),
        )?;
        meta.insert(
            K_SNAP_META,
            meta_record(K_SNAP_META, &encode(&snap_meta)?).as_slice(),
        )?;
        meta.insert(
            K_TRUNCATED,
            meta_record(K_TRUNCATED, &pair(truncated.0, truncated.1)).as_slice(),
        )?;
        for e in &entries {
            log.insert(e.index, entry_record(e)?.as_slice())?;
        }
        meta.insert(K_FORMAT, &FORMAT.to_le_bytes()[..])?;
        Ok(())
    })?;
    tracing::info!(store = %s.path.display(), "converted the raft store to format {FORMAT}");
    // The old file, if any, is no longer named and goes with the clean-up that follows.
    s.snapshot_file = file;
    Ok(())
}

/// Writes the initial state. With voters: a snapshot at (index 1, term 1) of the empty state
/// machine with that ConfState, identical on every initial node. Without (a joining node):
/// nothing, so that raft waits for the leader's snapshot.
fn bootstrap(
    db: &Database,
    snap_dir: &Path,
    voters: &[u64],
    initial: impl FnOnce() -> Vec<u8>,
) -> Result<Loaded, redb::Error> {
    let mut snapshot = Snapshot::default();
    let mut hard_state = HardState::default();
    let mut truncated = (0, 0);
    let mut snapshot_file = None;
    if !voters.is_empty() {
        let mut meta = SnapshotMetadata {
            index: 1,
            term: 1,
            ..Default::default()
        };
        meta.set_conf_state(ConfState::from((voters.to_vec(), vec![])));
        snapshot.set_metadata(meta);
        snapshot.data = initial().into();
        (hard_state.term, hard_state.commit) = (1, 1);
        truncated = (1, 1);
        let name = SnapshotFile::name_for(1, 0);
        snapshot_file =
            Some(snapfile::write(snap_dir, &name, &snapshot.data).map_err(redb::Error::Io)?);
    }
    let txn = db.begin_write()?;
    {
        txn.open_table(ENTRIES)?;
        let mut m = txn.open_table(META)?;
        m.insert(K_FORMAT, &FORMAT.to_le_bytes()[..])?;
        m.insert(
            K_HARD_STATE,
            meta_record(K_HARD_STATE, &encode(&hard_state)?).as_slice(),
        )?;
        m.insert(
            K_SNAP_META,
            meta_record(K_SNAP_META, &encode(snapshot.get_metadata())?).as_slice(),
        )?;
        if let Some(f) = &snapshot_file {
            m.insert(
                K_SNAP_FILE,
                meta_record(K_SNAP_FILE, &f.encode()).as_slice(),
            )?;
        }
        m.insert(
            K_TRUNCATED,
            meta_record(K_TRUNCATED, &pair(truncated.0, truncated.1)).as_slice(),
        )?;
        m.insert(K_BOOT, meta_record(K_BOOT, &0u64.to_le_bytes()).as_slice())?;
    }
    txn.commit()?;
    Ok(Loaded {
        hard_state,
        snapshot,
        snapshot_file,
        legacy: false,
        unsealed: false,
        truncated,
        entries: VecDeque::new(),
        boot: 0,
    })
}

fn decode<M: protobuf::Message>(bytes: &[u8], what: &str) -> Result<M, String> {
    M::parse_from_bytes(bytes).map_err(|e| format!("cannot decode {what}: {e}"))
}

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Reads the whole store; `None` when it is fresh (no tables yet).
fn read_all(db: &Database, path: &Path, snap_dir: &Path) -> Result<Option<Loaded>, ReplicaError> {
    let io = |e: &dyn std::fmt::Display| {
        ReplicaError::Storage(format!("{}: reading: {e}", path.display()))
    };
    let bad = |m: String| ReplicaError::Corrupt(format!("{}: {m}", path.display()));
    let txn = db.begin_read().map_err(|e| io(&e))?;
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => {
            return match txn.open_table(ENTRIES) {
                Err(TableError::TableDoesNotExist(_)) => Ok(None),
                _ => Err(bad("log entries present but no metadata table".into())),
            };
        }
        Err(e) => return Err(bad(format!("metadata table: {e}"))),
    };
    let raw = |key: &str| -> Result<Option<Vec<u8>>, ReplicaError> {
        Ok(meta
            .get(key)
            .map_err(|e| io(&e))?
            .map(|v| v.value().to_vec()))
    };
    let format = raw(K_FORMAT)?.ok_or_else(|| bad("metadata key `format` is missing".into()))?;
    let legacy = format == FORMAT_1.to_le_bytes() || format == FORMAT_2.to_le_bytes();
    let unsealed = legacy || format == FORMAT_3.to_le_bytes();
    if format != FORMAT.to_le_bytes() && !unsealed {
        return Err(bad(format!("unknown store format {format:?}")));
    }
    let get_opt = |key: &str| -> Result<Option<Vec<u8>>, ReplicaError> {
        match raw(key)? {
            Some(stored) if !unsealed => unseal(key.as_bytes(), &stored)
                .map(|b| Some(b.to_vec()))
                .ok_or_else(|| bad(format!("metadata record `{key}` fails its checksum"))),
            other => Ok(other),
        }
    };
    let get = |key: &str| -> Result<Vec<u8>, ReplicaError> {
        get_opt(key)?.ok_or_else(|| bad(format!("metadata key `{key}` is missing")))
    };
    let hard_state: HardState = decode(&get(K_HARD_STATE)?, "hard state").map_err(bad)?;
    let mut snapshot = Snapshot::default();
    snapshot.set_metadata(decode(&get(K_SNAP_META)?, "snapshot metadata").map_err(bad)?);
    let mut snapshot_file = None;
    if format == FORMAT_1.to_le_bytes() {
        snapshot.data = get(K_SNAP_DATA)?.into();
    } else if let Some(record) = get_opt(K_SNAP_FILE)? {
        let f = SnapshotFile::decode(&record).map_err(bad)?;
        snapshot.data = snapfile::read(snap_dir, &f).map_err(bad)?.into();
        snapshot_file = Some(f);
    } else if snapshot.get_metadata().index > 0 {
        return Err(bad(format!(
            "the snapshot at index {} has no file",
            snapshot.get_metadata().index
        )));
    }
    let (trunc, boot) = (get(K_TRUNCATED)?, get(K_BOOT)?);
    if trunc.len() != 16 || boot.len() != 8 {
        return Err(bad(
            "truncated-index or boot-count record has the wrong size".into(),
        ));
    }
    let truncated = (word(&trunc, 0), word(&trunc, 8));
    let log = txn
        .open_table(ENTRIES)
        .map_err(|e| bad(format!("entries table: {e}")))?;
    let mut entries = VecDeque::new();
    for item in log.range::<u64>(..).map_err(|e| io(&e))? {
        let (key, value) = item.map_err(|e| io(&e))?;
        let key = key.value();
        let expected = truncated.0 + 1 + entries.len() as u64;
        if key != expected {
            return Err(bad(format!(
                "log gap: expected entry {expected}, found {key}"
            )));
        }
        let bytes = if unsealed {
            value.value()
        } else {
            unseal(&key.to_le_bytes(), value.value())
                .ok_or_else(|| bad(format!("log entry {key} fails its checksum")))?
        };
        let e: Entry = decode(bytes, &format!("entry {key}")).map_err(bad)?;
        if e.index != key {
            return Err(bad(format!("entry stored at {key} says index {}", e.index)));
        }
        entries.push_back(e);
    }
    Ok(Some(Loaded {
        hard_state,
        snapshot,
        snapshot_file,
        legacy,
        unsealed,
        truncated,
        entries,
        boot: word(&boot, 0),
    }))
}

/// Checks what raft-rs would otherwise panic on.
fn validate(l: &Loaded) -> Result<(), String> {
    let last = l.truncated.0 + l.entries.len() as u64;
    let snap = l.snapshot.get_metadata();
    if l.truncated.0 > snap.index {
        return Err(format!(
            "log compacted to {} past the snapshot at {}",
            l.truncated.0, snap.index
        ));
    }
    if snap.index > last {
        return Err(format!(
            "snapshot at {} is beyond the last entry {last}",
            snap.index
        ));
    }
    let term_at = |i: u64| {
        if i == l.truncated.0 {
            l.truncated.1
        } else {
            l.entries[(i - l.truncated.0 - 1) as usize].term
        }
    };
    if snap.index > 0 && term_at(snap.index) != snap.term {
        return Err(format!(
            "snapshot at {} has term {} but the log says {}",
            snap.index,
            snap.term,
            term_at(snap.index)
        ));
    }
    let mut prev = l.truncated.1;
    for e in &l.entries {
        if e.term < prev {
            return Err(format!(
                "entry {} has term {} below {prev}",
                e.index, e.term
            ));
        }
        prev = e.term;
    }
    let hs = &l.hard_state;
    if prev > hs.term {
        return Err(format!(
            "last log term {prev} is above the hard state term {}",
            hs.term
        ));
    }
    if hs.commit < snap.index || hs.commit > last {
        return Err(format!(
            "hard state commit {} is outside [snapshot {}, last entry {last}]",
            hs.commit, snap.index
        ));
    }
    Ok(())
}
