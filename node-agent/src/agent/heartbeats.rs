//! Heartbeat trackers of this node's entities and the timer that closes
//! their periods (HAM-CONTRACT H1-H4).
//!
//! Period boundaries do not depend on when heartbeats arrive, so a heartbeat
//! only marks its tracker (one lock, no timer change); one timer task sleeps
//! until the earliest boundary of all entities (no per-entity polling).

use crate::clock::Clock;
use ham_core::model::{
    EntityRef, HeartbeatMiss, HeartbeatSpec, HeartbeatState, HeartbeatTracker, Uid,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc};

/// A threshold crossed by an entity.
#[derive(Debug, Clone)]
pub struct Missed {
    /// The entity.
    pub entity: EntityRef,
    /// Which threshold.
    pub miss: HeartbeatMiss,
}

#[derive(Debug)]
struct Entry {
    tracker: HeartbeatTracker,
    entity: EntityRef,
    pid: u32,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uid, Entry>,
    by_pid: HashMap<u32, Uid>,
    /// (next boundary, uid) of every entry.
    wheel: BTreeSet<(i64, Uid)>,
}

/// All trackers of this node.
#[derive(Debug)]
pub struct Heartbeats {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    wake: Notify,
}

impl Heartbeats {
    /// No trackers yet; time is read from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Heartbeats {
        Heartbeats {
            clock,
            inner: Mutex::default(),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts tracking `entity` (process `pid`); periods count from `start_ns`.
    pub fn add(&self, entity: EntityRef, pid: u32, spec: HeartbeatSpec, start_ns: i64) {
        let Some(uid) = entity.uid else { return };
        let tracker = HeartbeatTracker::new(spec, start_ns);
        let mut g = self.lock();
        if let Some(old) = g.entries.remove(&uid) {
            g.wheel.remove(&(old.tracker.next_boundary(), uid));
            g.by_pid.remove(&old.pid);
        }
        g.wheel.insert((tracker.next_boundary(), uid));
        g.by_pid.insert(pid, uid);
        g.entries.insert(
            uid,
            Entry {
                tracker,
                entity,
                pid,
            },
        );
        drop(g);
        self.wake.notify_one();
    }

    /// Stops tracking an entity.
    pub fn remove(&self, uid: Uid) {
        let mut g = self.lock();
        if let Some(old) = g.entries.remove(&uid) {
            g.wheel.remove(&(old.tracker.next_boundary(), uid));
            g.by_pid.remove(&old.pid);
        }
    }

    /// The entity now runs as `pid` (after a restart or a MAINPID= message).
    pub fn set_pid(&self, uid: Uid, pid: u32) {
        let mut g = self.lock();
        let Some(old) = g
            .entries
            .get_mut(&uid)
            .map(|e| std::mem::replace(&mut e.pid, pid))
        else {
            return;
        };
        g.by_pid.remove(&old);
        g.by_pid.insert(pid, uid);
    }

    /// Whether the entity is tracked.
    pub fn tracks(&self, uid: Uid) -> bool {
        self.lock().entries.contains_key(&uid)
    }

    fn beat_locked(g: &mut Inner, uid: Uid, now: i64) -> Option<Vec<Missed>> {
        let e = g.entries.get_mut(&uid)?;
        let before = e.tracker.next_boundary();
        let missed = e.tracker.beat(now);
        let after = e.tracker.next_boundary();
        let entity = e.entity.clone();
        if before != after {
            // The timer was late: the beat closed periods itself.
            g.wheel.remove(&(before, uid));
            g.wheel.insert((after, uid));
        }
        Some(
            missed
                .into_iter()
                .map(|miss| Missed {
                    entity: entity.clone(),
                    miss,
                })
                .collect(),
        )
    }

    /// A heartbeat of entity `uid`; None if it is not tracked.
    pub fn beat(&self, uid: Uid) -> Option<Vec<Missed>> {
        Self::beat_locked(&mut self.lock(), uid, self.clock.wall_ns())
    }

    /// A heartbeat from process `pid` (the sd_notify socket); None if no entity runs as `pid`.
    pub fn beat_pid(&self, pid: u32) -> Option<Vec<Missed>> {
        let mut g = self.lock();
        let uid = *g.by_pid.get(&pid)?;
        Self::beat_locked(&mut g, uid, self.clock.wall_ns())
    }

    /// A9: back to OK.
    pub fn healthy(&self, uid: Uid) {
        if let Some(e) = self.lock().entries.get_mut(&uid) {
            e.tracker.healthy();
        }
    }

    /// Last heartbeat and state, for the tree view.
    pub fn view(&self, uid: Uid) -> Option<(i64, HeartbeatState)> {
        self.lock()
            .entries
            .get(&uid)
            .map(|e| (e.tracker.last_beat_ns(), e.tracker.state()))
    }

    /// Closes every period that ended by `now`; returns the thresholds crossed.
    fn close_due(&self, now: i64) -> (Vec<Missed>, Option<i64>) {
        let mut g = self.lock();
        let mut out = Vec::new();
        while let Some(&(deadline, uid)) = g.wheel.first() {
            if deadline > now {
                break;
            }
            g.wheel.pop_first();
            let Some(e) = g.entries.get_mut(&uid) else {
                continue;
            };
            let entity = e.entity.clone();
            out.extend(e.tracker.advance(now).into_iter().map(|miss| Missed {
                entity: entity.clone(),
                miss,
            }));
            let next = e.tracker.next_boundary();
            g.wheel.insert((next, uid));
        }
        (out, g.wheel.first().map(|&(d, _)| d))
    }

    /// The timer task: sleeps until the earliest boundary, closes due periods,
    /// sends crossed thresholds to the agent.
    pub async fn run_timer(&self, tx: mpsc::UnboundedSender<Missed>) {
        loop {
            let (missed, next) = self.close_due(self.clock.wall_ns());
            for m in missed {
                if tx.send(m).is_err() {
                    return;
                }
            }
            match next {
                Some(deadline) => {
                    let wait = u64::try_from(deadline - self.clock.wall_ns()).unwrap_or(0);
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_nanos(wait)) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}
