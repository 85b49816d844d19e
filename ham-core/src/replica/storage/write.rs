//! Writes: one redb transaction each, fsynced unless raft says it may wait; the in-memory
//! mirror changes only after the commit succeeded.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use redb::Durability;

use super::{
    ENTRIES, K_HARD_STATE, K_SNAP_DATA, K_SNAP_META, K_TRUNCATED, META, RedbStorage, Tables,
    blocking, encode, pair,
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
        self.transact(durable, "persisting raft state", |(log, meta)| {
            if let Some(s) = snapshot {
                meta.insert(K_SNAP_META, encode(s.get_metadata())?.as_slice())?;
                meta.insert(K_SNAP_DATA, &s.data[..])?;
                meta.insert(K_TRUNCATED, &pair(truncated.0, truncated.1)[..])?;
                log.retain(|_, _| false)?;
            }
            if let Some(first) = entries.first() {
                log.retain_in(first.index.., |_, _| false)?;
                for e in entries {
                    log.insert(e.index, encode(e)?.as_slice())?;
                }
            }
            meta.insert(K_HARD_STATE, encode(&hard_state)?.as_slice())?;
            Ok(())
        })?;
        if let Some(s) = snapshot {
            self.snapshot = s.clone();
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

    /// Stores a snapshot of the applied state at `index` and drops log entries up to
    /// `compact_to` (clamped to the snapshot index, never past what is applied).
    pub(crate) fn save_snapshot(
        &mut self,
        index: u64,
        conf_state: ConfState,
        data: Vec<u8>,
        compact_to: u64,
    ) -> Result<(), ReplicaError> {
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
            meta.insert(K_SNAP_META, encode(snap.get_metadata())?.as_slice())?;
            meta.insert(K_SNAP_DATA, &snap.data[..])?;
            meta.insert(K_TRUNCATED, &pair(truncated.0, truncated.1)[..])?;
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
