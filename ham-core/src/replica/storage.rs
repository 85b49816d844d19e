//! The raft log on disk: a redb database behind raft-rs's `Storage` trait.
//!
//! Layout of `data_dir/raft.redb`:
//! - table `entries`: u64 index -> protobuf `Entry`, contiguous from `truncated.index + 1`.
//! - table `meta` (str -> bytes): `format` (u32 LE), `hard_state` (protobuf `HardState`),
//!   `snapshot_meta` (protobuf `SnapshotMetadata`: index, term and ConfState of the latest
//!   snapshot; a bootstrapped store starts with one at index 1, a joining node with none),
//!   `snapshot_file` (the file under `snapshots/` holding the state machine's bytes, with its
//!   length and CRC-32; absent while there is no snapshot), `truncated` (index and term of the
//!   entry just before the first stored one, u64 LE each), `boot_count` (u64 LE, bumped at
//!   every open).
//!
//! Every value but `format` is sealed (HAM-CONTRACT M3): a CRC-32 (LE) in front of the bytes,
//! computed over the record's key and the bytes, so that a damaged value, or one found under
//! another key, fails its check when the store is opened instead of being applied. Entries are
//! read from redb only then (raft is served from the verified copy in memory), and so is the
//! snapshot file, whose own CRC-32 its record holds.
//!
//! Snapshot bytes are the replica's (`snapdata.rs`: the applied-request record, then the state
//! machine's bytes). Format 1 kept the state machine's bytes alone in `meta` itself
//! (`snapshot_data`), format 2 kept them alone in the file; format 3 had no checksums on its
//! records. Such stores are converted when they are opened (see `snapfile.rs` for why the bytes
//! moved out of redb); the checksums of a format 1 to 3 store are computed from what is read at
//! that moment, which is trusted like every conversion.
//!
//! Disk is the truth. A copy of the log (bounded by compaction) and of the metadata is kept in
//! memory to serve raft's reads; it is changed only after the write transaction committed.

mod load;
pub(crate) mod snapfile;
pub(crate) mod space;
mod write;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use raft::eraftpb::{Entry, HardState, Snapshot};
use raft::{GetEntriesContext, RaftState, StorageError};
use redb::{Database, TableDefinition};

use super::error::ReplicaError;
use snapfile::SnapshotFile;
use space::DiskSpace;

/// Log entries by index.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Everything else, by key.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const K_FORMAT: &str = "format";
const K_HARD_STATE: &str = "hard_state";
const K_SNAP_META: &str = "snapshot_meta";
/// Format 1 only: the snapshot bytes.
const K_SNAP_DATA: &str = "snapshot_data";
const K_SNAP_FILE: &str = "snapshot_file";
const K_TRUNCATED: &str = "truncated";
const K_BOOT: &str = "boot_count";
/// Current value of the `format` key.
const FORMAT: u32 = 4;
/// The format that kept the state machine's bytes in `meta`; converted at open.
const FORMAT_1: u32 = 1;
/// The format whose snapshot files held the state machine's bytes alone; converted at open.
const FORMAT_2: u32 = 2;
/// The format whose records carried no checksum; converted at open.
const FORMAT_3: u32 = 3;

/// The open store plus its in-memory mirror.
pub(crate) struct RedbStorage {
    /// None only between closing a database that failed a write and opening it again.
    db: Option<Database>,
    /// A write failed with an IO error: redb refuses every later one (`PreviousIo`) until the
    /// database is closed and opened again, which the next write does first.
    db_failed: bool,
    /// Whether the disk is full; shared with the handles, which refuse proposals meanwhile.
    space: Arc<DiskSpace>,
    path: PathBuf,
    hard_state: HardState,
    /// Latest snapshot (metadata and data); index 0 = none yet (a node that joins).
    snapshot: Snapshot,
    /// The file holding `snapshot.data` (None while there is no snapshot).
    snapshot_file: Option<SnapshotFile>,
    /// Where snapshot files live.
    snap_dir: PathBuf,
    /// Makes snapshot file names unique: `boot << 32 | counter`.
    file_seq: AtomicU64,
    /// (index, term) of the entry just before `entries[0]`; raft needs `term(first_index - 1)`.
    truncated: (u64, u64),
    entries: VecDeque<Entry>,
    /// Set when raft asked for a snapshot the stored one cannot serve (older than requested,
    /// or its ConfState does not name the receiver); the driver then takes a fresh one.
    snapshot_wanted: AtomicBool,
    boot: u64,
}

impl std::fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStorage")
            .field("path", &self.path)
            .field("first_index", &self.first())
            .field("last_index", &self.last())
            .field("snapshot_index", &self.snapshot_index())
            .finish_non_exhaustive()
    }
}

/// Runs blocking disk work without stalling other tasks of a multi-threaded runtime.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn encode<M: protobuf::Message>(m: &M) -> Result<Vec<u8>, redb::Error> {
    m.write_to_bytes()
        .map_err(|e| redb::Error::Corrupted(format!("protobuf encode: {e}")))
}

/// The checksum of a record: CRC-32 of its key, then its bytes.
fn checksum(key: &[u8], bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(key);
    h.update(bytes);
    h.finalize()
}

/// A record as stored: its checksum (u32 LE), then its bytes.
fn seal(key: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&checksum(key, bytes).to_le_bytes());
    out.extend_from_slice(bytes);
    out
}

/// The bytes of a stored record, if its checksum holds.
fn unseal<'a>(key: &[u8], stored: &'a [u8]) -> Option<&'a [u8]> {
    let (sum, bytes) = stored.split_at_checked(4)?;
    (u32::from_le_bytes(sum.try_into().ok()?) == checksum(key, bytes)).then_some(bytes)
}

/// A `meta` value as stored.
fn meta_record(key: &str, bytes: &[u8]) -> Vec<u8> {
    seal(key.as_bytes(), bytes)
}

/// A log entry as stored, sealed under its index.
fn entry_record(e: &Entry) -> Result<Vec<u8>, redb::Error> {
    Ok(seal(&e.index.to_le_bytes(), &encode(e)?))
}

fn pair(a: u64, b: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_le_bytes());
    out[8..].copy_from_slice(&b.to_le_bytes());
    out
}

type Tables<'t> = (
    redb::Table<'t, u64, &'static [u8]>,
    redb::Table<'t, &'static str, &'static [u8]>,
);

impl RedbStorage {
    /// Opens `dir/raft.redb`. A fresh store with `voters` is bootstrapped with a snapshot at
    /// index 1, term 1 holding that ConfState and `initial()` (the empty state machine): every
    /// initial node starts identical, and a node joining later (fresh, no voters, log empty)
    /// is necessarily brought up by a snapshot, which carries the configuration.
    pub(crate) fn open(
        dir: &Path,
        voters: &[u64],
        initial: impl FnOnce() -> Vec<u8>,
    ) -> Result<Self, ReplicaError> {
        load::open(dir, voters, initial)
    }

    fn first(&self) -> u64 {
        self.truncated.0 + 1
    }

    fn last(&self) -> u64 {
        self.truncated.0 + self.entries.len() as u64
    }

    fn storage_err(&self, what: &str, e: impl std::fmt::Display) -> ReplicaError {
        ReplicaError::Storage(format!("{}: {what}: {e}", self.path.display()))
    }

    /// The counter bumped at each open; makes request ids unique across restarts.
    pub(crate) fn boot(&self) -> u64 {
        self.boot
    }

    /// Hard state as last persisted.
    pub(crate) fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    /// Index of the latest snapshot (0 = none).
    pub(crate) fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    /// The latest snapshot (metadata and data).
    pub(crate) fn snapshot_ref(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Where snapshot files are written.
    pub(crate) fn snapshot_dir(&self) -> &Path {
        &self.snap_dir
    }

    /// A file name no other snapshot of this store uses.
    pub(crate) fn new_snapshot_name(&self, index: u64) -> String {
        let n = self.file_seq.fetch_add(1, Ordering::Relaxed);
        SnapshotFile::name_for(index, (self.boot << 32) | (n & 0xffff_ffff))
    }

    /// The disk space state, for handles to refuse proposals while the disk is full.
    pub(crate) fn disk_space(&self) -> Arc<DiskSpace> {
        Arc::clone(&self.space)
    }

    /// Whether raft asked for a snapshot newer than the stored one (clears the flag).
    pub(crate) fn take_snapshot_wanted(&self) -> bool {
        self.snapshot_wanted.swap(false, Ordering::Relaxed)
    }
}

impl raft::Storage for RedbStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        // The ConfState as of the snapshot: entries after it (conf changes included) are
        // re-applied after a restart, exactly like every other entry.
        Ok(RaftState::new(
            self.hard_state.clone(),
            self.snapshot.get_metadata().get_conf_state().clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _ctx: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > self.last() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let from = (low - self.first()) as usize;
        let to = (high - self.first()) as usize;
        let mut out: Vec<Entry> = self.entries.range(from..to).cloned().collect();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.truncated.0 {
            return Ok(self.truncated.1);
        }
        if idx < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - self.first()) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        let meta = self.snapshot.get_metadata();
        let cs = meta.get_conf_state();
        // raft-rs ignores a snapshot whose ConfState does not name the receiver (a node added
        // after the snapshot was taken), and treats index 0 as fatal: in both cases, and when
        // raft needs something newer, ask the driver for a fresh snapshot; raft retries.
        let names_receiver = [
            &cs.voters,
            &cs.learners,
            &cs.voters_outgoing,
            &cs.learners_next,
        ]
        .iter()
        .any(|ids| ids.contains(&to));
        if meta.index == 0 || meta.index < request_index || !names_receiver {
            self.snapshot_wanted.store(true, Ordering::Relaxed);
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        Ok(self.snapshot.clone())
    }
}

#[cfg(test)]
pub(crate) mod tests;
