//! Writes: one redb transaction each, fsynced unless raft says it may wait; the in-memory
//! mirror changes only after the commit succeeded.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use redb::{Database, Durability};

use super::snapfile::{self, SnapshotFile};
use super::space::is_no_space;
use super::{
    ENTRIES, K_HARD_STATE, K_SNAP_FILE, K_SNAP_META, K_TRUNCATED, META, RedbStorage, Tables,
    blocking, encode, entry_record, meta_record, pair,
};
use crate::replica::error::ReplicaError;

impl RedbStorage {
    /// One write transaction; `durable` = fsync before returning. A failure for want of space
    /// marks the disk full (releasing the reserve) and, if that freed anything, the
    /// transaction is tried once more at once; if not, the error is `NoSpace`.
    pub(super) fn transact(
        &mut self,
        durable: bool,
        what: &str,
        body: impl Fn(&mut Tables<'_>) -> Result<(), redb::Error>,
    ) -> Result<(), ReplicaError> {
        match self.transact_once(durable, &body) {
            Err(e) if is_full(&e) && self.space.mark_full() => {
                tracing::warn!(error = %e, "{what}: retrying with the disk space reserve released");
                self.transact_once(durable, &body)
            }
            other => other,
        }
        .map_err(|e| {
            let message = format!("{}: {what}: {e}", self.path.display());
            if is_full(&e) {
                ReplicaError::NoSpace(message)
            } else {
                ReplicaError::Storage(message)
            }
        })
    }

    /// Reopens the database if an earlier write failed, then runs one transaction.
    fn transact_once(
        &mut self,
        durable: bool,
        body: &dyn Fn(&mut Tables<'_>) -> Result<(), redb::Error>,
    ) -> Result<(), redb::Error> {
        if self.db_failed || self.db.is_none() {
            // Close first: redb refuses a second handle on the same file. Opening a database
            // that failed a write repairs it back to its last commit, which is what the
            // in-memory mirror holds (it changes only after a commit succeeded); a commit
            // index that was written without fsync may be older, and is written again below.
            self.db = None;
            let path = self.path.clone();
            self.db = Some(blocking(|| Database::create(&path)).map_err(redb::Error::from)?);
            self.db_failed = false;
            tracing::info!(store = %self.path.display(), "reopened the raft store after a failed write");
        }
        let db = self.db.as_ref().ok_or(redb::Error::DatabaseClosed)?;
        let run = || -> Result<(), redb::Error> {
            let mut txn = db.begin_write()?;
            // A non-durable commit becomes durable with the next durable one, in order.
            txn.set_durability(if durable {
                Durability::Immediate
            } else {
                Durability::None
            })?;
            {
                let mut tables = (txn.open_table(ENTRIES)?, txn.open_table(META)?);
                body(&mut tables)?;
            }
            txn.commit()?;
            Ok(())
        };
        let result = blocking(run);
        if matches!(result, Err(redb::Error::Io(_) | redb::Error::PreviousIo)) {
            self.db_failed = true;
        }
        result
    }

    /// Persists one Ready atomically: an incoming snapshot (replacing the whole log), new entries
    /// (replacing any conflicting suffix) and the hard state.
    pub(crate) fn persist_ready(
        &mut self,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
        hs: Option<&HardState>,
        durable: bool,
    ) -> Result<(), ReplicaError> {
        let mut hard_state = hs.cloned().unwrap_or_else(|| self.hard_state.clone());
        let (mut truncated, mut kept) = (self.truncated, self.entries.len() as u64);
        if let Some(s) = snapshot {
            let m = s.get_metadata();
            truncated = (m.index, m.term);
            kept = 0;
            // Raft sets commit = snapshot index itself; never persist a commit below it.
            hard_state.commit = hard_state.commit.max(m.index);
            hard_state.term = hard_state.term.max(m.term);
        }
        if let Some(first) = entries.first() {
            let (lo, hi) = (truncated.0 + 1, truncated.0 + kept + 1);
            let contiguous = entries.windows(2).all(|w| w[1].index == w[0].index + 1);
            if first.index < lo || first.index > hi || !contiguous {
                return Err(ReplicaError::Corrupt(format!(
                    "{}: refusing to append entries {}..={} to a log covering {lo}..{hi}",
                    self.path.display(),
                    first.index,
                    entries[entries.len() - 1].index,
                )));
            }
        }
        if snapshot.is_none() && entries.is_empty() && hs.is_none() {
            return Ok(());
        }
        if !durable && snapshot.is_none() && entries.is_empty() {
            // Only the commit index moved (raft asks no fsync for that). A transaction of its
            // own would cost a redb commit per Raft write on every node and survive no crash
            // anyway (redb keeps a non-durable commit in this process until the next durable
            // one). The new index rides with the next write instead: every transaction below
            // writes the whole in-memory hard state. A commit index that lags on disk is one
            // raft allows (it is learnt again from the leader); replay after a restart covers
            // what the stored one covers.
            self.hard_state = hard_state;
            return Ok(());
        }
        // A received snapshot's bytes reach their file before any record names it.
        let file = match snapshot {
            Some(s) => Some(self.write_snapshot_file(s.get_metadata().index, &s.data)?),
            None => None,
        };
        let written = self.transact(durable, "persisting raft state", |(log, meta)| {
            if let (Some(s), Some(f)) = (snapshot, &file) {
                meta.insert(
                    K_SNAP_META,
                    meta_record(K_SNAP_META, &encode(s.get_metadata())?).as_slice(),
                )?;
                meta.insert(
                    K_SNAP_FILE,
                    meta_record(K_SNAP_FILE, &f.encode()).as_slice(),
                )?;
                meta.insert(
                    K_TRUNCATED,
                    meta_record(K_TRUNCATED, &pair(truncated.0, truncated.1)).as_slice(),
                )?;
                log.retain(|_, _| false)?;
            }
            if let Some(first) = entries.first() {
                log.retain_in(first.index.., |_, _| false)?;
                for e in entries {
                    log.insert(e.index, entry_record(e)?.as_slice())?;
                }
            }
            meta.insert(
                K_HARD_STATE,
                meta_record(K_HARD_STATE, &encode(&hard_state)?).as_slice(),
            )?;
            Ok(())
        });
        if let Err(e) = written {
            if let Some(f) = &file {
                snapfile::remove(&self.snap_dir, &f.name);
            }
            return Err(e);
        }
        if let (Some(s), Some(f)) = (snapshot, file) {
            self.snapshot = s.clone();
            self.replace_snapshot_file(f);
            self.entries.clear();
            self.truncated = truncated;
        }
        if let Some(first) = entries.first() {
            let keep = (first.index - self.first()) as usize;
            self.entries.truncate(keep);
            self.entries.extend(entries.iter().cloned());
        }
        self.hard_state = hard_state;
        Ok(())
    }

    /// Records a commit index that advanced without anything else changing. Not written at once
    /// (raft recovers commit from the leader): the next write or `sync` carries it.
    pub(crate) fn persist_commit(&mut self, commit: u64) -> Result<(), ReplicaError> {
        let mut hs = self.hard_state.clone();
        hs.commit = commit;
        self.persist_ready(None, &[], Some(&hs), false)
    }

    /// Forces every earlier non-durable commit to disk.
    pub(crate) fn sync(&mut self) -> Result<(), ReplicaError> {
        let hs = self.hard_state.clone();
        self.persist_ready(None, &[], Some(&hs), true)
    }

    /// Writes a snapshot file on this thread (for snapshots that arrive whole, from a leader).
    fn write_snapshot_file(&self, index: u64, data: &[u8]) -> Result<SnapshotFile, ReplicaError> {
        let name = self.new_snapshot_name(index);
        let write = || blocking(|| snapfile::write(&self.snap_dir, &name, data));
        match write() {
            Err(e) if is_no_space(&e) && self.space.mark_full() => write(),
            other => other,
        }
        .map_err(|e| {
            let message = format!("{}: writing a snapshot file: {e}", self.path.display());
            if is_no_space(&e) {
                ReplicaError::NoSpace(message)
            } else {
                ReplicaError::Storage(message)
            }
        })
    }

    /// Makes `f` the current snapshot file and deletes the previous one.
    fn replace_snapshot_file(&mut self, f: SnapshotFile) {
        // Names are unique per store (see `new_snapshot_name`), so the old one is never `f`.
        if let Some(old) = self.snapshot_file.replace(f) {
            snapfile::remove(&self.snap_dir, &old.name);
        }
    }

    /// Records a snapshot of the applied state at `index`, whose bytes `data` were already
    /// written to `file` (see `snapfile::write`), and drops log entries up to `compact_to`
    /// (clamped to the snapshot index, never past what is applied). On error the file is
    /// removed.
    pub(crate) fn save_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
        file: SnapshotFile,
        compact_to: u64,
    ) -> Result<(), ReplicaError> {
        let result = self.record_snapshot(index, conf_state, data, &file, compact_to);
        match result {
            Ok(()) => self.replace_snapshot_file(file),
            Err(_) => snapfile::remove(&self.snap_dir, &file.name),
        }
        result
    }

    fn record_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
        file: &SnapshotFile,
        compact_to: u64,
    ) -> Result<(), ReplicaError> {
        if index <= self.snapshot_index() {
            return Err(self.storage_err(
                "saving snapshot",
                format!(
                    "index {index} is not past the stored snapshot at {}",
                    self.snapshot_index()
                ),
            ));
        }
        let term =
            raft::Storage::term(self, index).map_err(|e| self.storage_err("snapshot term", e))?;
        let compact_to = compact_to.min(index);
        let truncated = if compact_to > self.truncated.0 {
            let t = raft::Storage::term(self, compact_to)
                .map_err(|e| self.storage_err("compaction term", e))?;
            (compact_to, t)
        } else {
            self.truncated
        };
        let mut snap = Snapshot::default();
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(conf_state);
        snap.set_metadata(meta);
        snap.data = data.into();
        // With the hard state as it is in memory: its commit index covers the snapshot (a commit
        // index only in memory so far would otherwise be below the snapshot on disk).
        let hard_state = self.hard_state.clone();
        self.transact(true, "saving snapshot", |(log, meta)| {
            meta.insert(
                K_HARD_STATE,
                meta_record(K_HARD_STATE, &encode(&hard_state)?).as_slice(),
            )?;
            meta.insert(
                K_SNAP_META,
                meta_record(K_SNAP_META, &encode(snap.get_metadata())?).as_slice(),
            )?;
            meta.insert(
                K_SNAP_FILE,
                meta_record(K_SNAP_FILE, &file.encode()).as_slice(),
            )?;
            meta.insert(
                K_TRUNCATED,
                meta_record(K_TRUNCATED, &pair(truncated.0, truncated.1)).as_slice(),
            )?;
            log.retain_in(..=truncated.0, |_, _| false)?;
            Ok(())
        })?;
        let drop_n = (truncated.0 - self.truncated.0) as usize;
        self.entries.drain(..drop_n);
        self.truncated = truncated;
        self.snapshot = snap;
        Ok(())
    }
}

/// Whether a redb error is the disk (or the quota) being full.
fn is_full(e: &redb::Error) -> bool {
    matches!(e, redb::Error::Io(io) if is_no_space(io))
}
