//! Writes: one redb transaction each, fsynced unless raft says it may wait; the in-memory
//! mirror changes only after the commit succeeded.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use redb::Durability;

use super::snapfile::{self, SnapshotFile};
use super::{
    ENTRIES, K_HARD_STATE, K_SNAP_FILE, K_SNAP_META, K_TRUNCATED, META, RedbStorage, Tables,
    blocking, encode, entry_record, meta_record, pair,
};
use crate::replica::error::ReplicaError;

impl RedbStorage {
    /// One write transaction; `durable` = fsync before returning.
    pub(super) fn transact(
        &self,
        durable: bool,
        what: &str,
        body: impl FnOnce(&mut Tables<'_>) -> Result<(), redb::Error>,
    ) -> Result<(), ReplicaError> {
        let run = || -> Result<(), redb::Error> {
            let mut txn = self.db.begin_write()?;
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
        blocking(run).map_err(|e| self.storage_err(what, e))
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

    /// Records a commit index that advanced without anything else changing. Not fsynced (raft
    /// recovers commit from the leader); redb makes it durable with the next durable commit.
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
        blocking(|| snapfile::write(&self.snap_dir, &name, data))
            .map_err(|e| self.storage_err("writing a snapshot file", e))
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
        self.transact(true, "saving snapshot", |(log, meta)| {
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
