//! Snapshots without stalling Raft: this task freezes the state machine (cheap, see
//! `StateMachine::snapshot`) and a blocking thread serializes it and writes its file; when the
//! file is on disk, this task records it in the store and compacts the log behind it. Entries
//! keep being applied, and messages answered, while a snapshot is built.
//!
//! A snapshot that cannot be built, written or recorded is never fatal: the log it would have
//! compacted is still whole on disk. The failure is logged, its file removed, and a new build
//! tried `RETRY_TICKS` later; a failure for want of space also marks the disk full (see
//! `storage/space.rs`), so that writes are refused until space is free.

use raft::eraftpb::ConfState;
use tokio::sync::oneshot;

use super::Driver;
use crate::replica::storage::snapfile::{self, SnapshotFile};
use crate::replica::storage::space::is_no_space;
use crate::replica::{ReplicaError, StateMachine, snapdata};

/// Ticks to wait after a failed build before trying again.
const RETRY_TICKS: u64 = 100;

/// What a build thread hands back: the bytes and the file holding them, or why not.
type Built = Result<(Vec<u8>, SnapshotFile), String>;

/// A snapshot being built.
#[derive(Debug)]
pub(super) struct Build {
    index: u64,
    conf_state: ConfState,
    done: oneshot::Receiver<Built>,
}

/// Waits for the build in `slot` to end (forever when there is none) and empties the slot.
pub(super) async fn built(slot: &mut Option<Build>) -> (u64, ConfState, Built) {
    let Some(build) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let result = (&mut build.done)
        .await
        .unwrap_or_else(|_| Err("the snapshot thread ended without an answer".into()));
    let build = slot.take().expect("checked above");
    (build.index, build.conf_state, result)
}

impl<S: StateMachine> Driver<S> {
    /// Starts a build every `snapshot_every` applied entries, or when raft needs a newer
    /// snapshot for a slow follower.
    pub(super) fn maybe_snapshot(&mut self) {
        if self.snapshot_build.is_some() || self.ticks < self.snapshot_retry_tick {
            return;
        }
        let wanted = self.node.store().take_snapshot_wanted();
        let due = self.applied.saturating_sub(self.last_snapshot) >= self.snapshot_every;
        if self.applied <= self.last_snapshot || !(due || wanted) {
            return;
        }
        let job = self
            .sm
            .read()
            .map_or_else(|p| p.into_inner().snapshot(), |sm| sm.snapshot());
        let index = self.applied;
        let applied = self.applied_requests.clone();
        let store = self.node.store();
        let (dir, name) = (
            store.snapshot_dir().to_path_buf(),
            store.new_snapshot_name(index),
        );
        let space = store.disk_space();
        let (tx, done) = oneshot::channel();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let data = snapdata::wrap(&applied, &job());
            let result = match snapfile::write(&dir, &name, &data) {
                Ok(file) => Ok((data, file)),
                Err(e) => {
                    if is_no_space(&e) {
                        space.mark_full();
                    }
                    Err(format!("writing {}: {e}", dir.join(&name).display()))
                }
            };
            if let Err(Ok((_, file))) = tx.send(result) {
                // Nobody waits any more (the replica stopped): the file is not recorded.
                snapfile::remove(&dir, &file.name);
            }
        });
        self.snapshot_build = Some(Build {
            index,
            conf_state: self.conf_state.clone(),
            done,
        });
    }

    /// Records a finished build, unless a snapshot from the leader superseded it meanwhile.
    pub(super) fn snapshot_built(
        &mut self,
        (index, conf_state, result): (u64, ConfState, Built),
    ) -> Result<(), ReplicaError> {
        let (data, file) = match result {
            Ok(ok) => ok,
            Err(e) => {
                tracing::error!(index, error = %e, "snapshot failed; will retry");
                self.snapshot_retry_tick = self.ticks + RETRY_TICKS;
                return Ok(());
            }
        };
        let store = self.node.mut_store();
        if index <= store.snapshot_index() {
            snapfile::remove(store.snapshot_dir(), &file.name);
            return Ok(());
        }
        // Keep a few entries behind the snapshot so that nearly caught-up followers still get
        // plain appends rather than the whole state.
        let compact_to = index.saturating_sub(self.keep_entries);
        // On error the store removed the file and changed nothing else.
        if let Err(e) = store.save_snapshot(index, conf_state, data, file, compact_to) {
            tracing::error!(index, error = %e, "recording a snapshot failed; will retry");
            self.snapshot_retry_tick = self.ticks + RETRY_TICKS;
            return Ok(());
        }
        tracing::debug!(index, "snapshot taken");
        self.last_snapshot = index;
        Ok(())
    }

    /// On the way out: lets a build in progress finish and records it, so that a clean stop
    /// does not throw the work away.
    pub(super) async fn finish_snapshot_build(&mut self) {
        if self.snapshot_build.is_none() {
            return;
        }
        let built = built(&mut self.snapshot_build).await;
        if let Err(e) = self.snapshot_built(built) {
            tracing::error!(error = %e, "recording the last snapshot");
        }
    }
}
