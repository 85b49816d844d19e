//! Building the owner task: open the store, restore the latest snapshot, configure raft.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use raft::{RawNode, ReadOnlyOption};
use tokio::sync::watch;

use super::{ConfWaiters, Driver, Pending};
use crate::replica::dedup::Applied;
use crate::replica::snapdata;
use crate::replica::storage::RedbStorage;
use crate::replica::{
    ReplicaConfig, ReplicaError, ReplicaStatus, Role, StateMachine, Transport, logger,
};

impl<S: StateMachine> Driver<S> {
    /// Opens the store, restores the latest snapshot into `sm` and builds the raft node.
    pub(crate) fn open(
        cfg: &ReplicaConfig,
        mut sm: S,
        transport: Arc<dyn Transport>,
    ) -> Result<(Self, watch::Receiver<ReplicaStatus>), ReplicaError> {
        let storage = RedbStorage::open(&cfg.data_dir, &cfg.voters, || {
            snapdata::wrap(&Applied::default(), &sm.snapshot()())
        })?;
        let snap = storage.snapshot_ref();
        let snap_index = snap.get_metadata().index;
        let mut applied_requests = Applied::default();
        if snap_index > 0 {
            let bad = |e: String| {
                ReplicaError::Corrupt(format!(
                    "{}: snapshot at index {snap_index} cannot be restored: {e}",
                    cfg.data_dir.display()
                ))
            };
            let (applied, state) = snapdata::unwrap(&snap.data).map_err(bad)?;
            sm.restore(state).map_err(bad)?;
            applied_requests = applied;
        }
        let conf_state = snap.get_metadata().get_conf_state().clone();
        let replay_until = storage.hard_state().commit;
        let boot = storage.boot();
        let raft_cfg = raft::Config {
            id: cfg.id,
            election_tick: cfg.election_ticks,
            heartbeat_tick: cfg.heartbeat_ticks,
            applied: snap_index,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            check_quorum: true,
            pre_vote: true,
            read_only_option: ReadOnlyOption::Safe,
            ..Default::default()
        };
        raft_cfg
            .validate()
            .map_err(|e| ReplicaError::Config(e.to_string()))?;
        let node = RawNode::new(&raft_cfg, storage, &logger::raft_logger()).map_err(|e| {
            ReplicaError::Corrupt(format!(
                "{}: raft refused the stored state: {e}",
                cfg.data_dir.display()
            ))
        })?;
        let mut status = ReplicaStatus {
            id: cfg.id,
            leader_id: 0,
            term: node.raft.term,
            role: Role::Follower,
            commit: node.raft.raft_log.committed,
            last_index: node.raft.raft_log.last_index(),
            applied: snap_index,
            leader_changes: 0,
            voters: conf_state.voters.clone(),
            learners: conf_state.learners.clone(),
        };
        status.voters.sort_unstable();
        status.learners.sort_unstable();
        let (status_tx, status_rx) = watch::channel(status);
        let driver = Driver {
            id: cfg.id,
            node,
            sm: Arc::new(RwLock::new(sm)),
            transport,
            status: status_tx,
            pending: Pending::default(),
            conf_waiters: ConfWaiters::default(),
            conf_state,
            applied: snap_index,
            replay_until,
            last_snapshot: snap_index,
            tick: cfg.tick,
            ticks: 0,
            election_ticks: cfg.election_ticks as u64,
            read_retry_ticks: (cfg.heartbeat_ticks as u64 * 2).max(2),
            snapshot_every: staggered(cfg.snapshot_every, cfg.id),
            snapshot_build: None,
            snapshot_retry_tick: 0,
            keep_entries: cfg.keep_entries_after_snapshot,
            snapshots_in_flight: HashMap::new(),
            last_leader: 0,
            leader_changes: 0,
            applied_requests,
            repropose_due: false,
            boot,
            seq: 0,
            read_seq: 0,
        };
        Ok((driver, status_rx))
    }
}

/// The snapshot interval of node `id`: up to 3/8 longer on higher ids, so that the nodes of a
/// cluster, which apply the same entries at nearly the same moment, build their snapshots at
/// different moments and never all compete for the CPUs and the disk at once.
fn staggered(every: u64, id: u64) -> u64 {
    every.saturating_add(every.saturating_mul(id.saturating_sub(1) % 4) / 8)
}
