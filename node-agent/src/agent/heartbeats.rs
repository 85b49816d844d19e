//! Heartbeat trackers of this node's entities and the timer that closes
//! their periods (HAM-CONTRACT H1-H4).
//!
//! Period boundaries do not depend on when heartbeats arrive, so a heartbeat
//! only marks its tracker (one lock, no timer change); one timer task sleeps
//! until the earliest boundary of all entities (no per-entity polling).
//!
//! All of it runs on the monotonic clock (H5): the trackers count in
//! nanoseconds since an origin fixed when this `Heartbeats` was made, so a
//! jump of the wall clock neither closes periods early nor holds the timer
//! back. The wall clock only labels the last heartbeat, for the tree view.

use crate::clock::Clock;
use ham_core::model::{
    EntityRef, HeartbeatMiss, HeartbeatSpec, HeartbeatState, HeartbeatTracker, Uid,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// A threshold crossed by an entity.
#[derive(Debug, Clone)]
pub struct Missed {
    /// The entity.
    pub entity: EntityRef,
    /// Which threshold.
    pub miss: HeartbeatMiss,
}

/// What the tree shows of one tracked entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatView {
    /// Wall-clock reading taken at the last heartbeat (0 = none yet).
    pub last_beat_ns: i64,
    /// The threshold state.
    pub state: HeartbeatState,
    /// The end of the period in progress, as a wall-clock label: the
    /// monotonic deadline converted at the moment of reading. Periods count
    /// from when this node began watching the process, which is later than
    /// the entity's `since_ns` by the commit and the spawn; this is the
    /// reference a user (or a test) checks detection times against.
    pub next_boundary_ns: i64,
}

#[derive(Debug)]
struct Entry {
    tracker: HeartbeatTracker,
    entity: EntityRef,
    pid: u32,
    /// Wall-clock reading at the last heartbeat (0 = none yet): a label only.
    last_beat_wall_ns: i64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uid, Entry>,
    by_pid: HashMap<u32, Uid>,
    /// (next boundary, uid) of every entry, in monotonic ns since the origin.
    wheel: BTreeSet<(i64, Uid)>,
}

/// All trackers of this node.
#[derive(Debug)]
pub struct Heartbeats {
    clock: Arc<dyn Clock>,
    /// Monotonic time 0 of the trackers.
    origin: Instant,
    inner: Mutex<Inner>,
    wake: Notify,
}

impl Heartbeats {
    /// No trackers yet; time is read from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Heartbeats {
        Heartbeats {
            origin: clock.mono(),
            clock,
            inner: Mutex::default(),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Monotonic ns since the origin: the time base of the trackers.
    fn mono_ns(&self) -> i64 {
        let since = self.clock.mono().saturating_duration_since(self.origin);
        i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
    }

    /// The instant `ns` (in the trackers' time base) stands for.
    fn instant_at(&self, ns: i64) -> Instant {
        let after = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
        // Beyond what an Instant holds: wake in a year and look again.
        self.origin
            .checked_add(after)
            .unwrap_or_else(|| self.clock.mono() + Duration::from_secs(365 * 86_400))
    }

    /// Starts tracking `entity` (process `pid`); periods count from now.
    ///
    /// Now, on this agent's monotonic clock: the moment this agent started
    /// (or restarted) the process, or began watching one it did not start
    /// (an attached pid, a followed daemon, a process found again after the
    /// agent restarted). The state's `since_ns` is a wall-clock reading,
    /// possibly taken on another node (the one that served the attach):
    /// converting it would carry that clock's offset, or a jump between the
    /// two readings, into the first boundary (a boundary already in the past
    /// fires at once; one in the future delays detection). The local start
    /// is what this watcher can measure, and it gives the first period its
    /// full length. `since_ns` stays the label shown to users.
    pub fn add(&self, entity: EntityRef, pid: u32, spec: HeartbeatSpec) {
        let Some(uid) = entity.uid else { return };
        let tracker = HeartbeatTracker::new(spec, self.mono_ns());
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
                last_beat_wall_ns: 0,
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

    /// A heartbeat at monotonic `now`, labelled with the wall reading `wall_ns`.
    fn beat_locked(g: &mut Inner, uid: Uid, now: i64, wall_ns: i64) -> Option<Vec<Missed>> {
        let e = g.entries.get_mut(&uid)?;
        let before = e.tracker.next_boundary();
        let missed = e.tracker.beat(now);
        e.last_beat_wall_ns = wall_ns;
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
        let (now, wall) = (self.mono_ns(), self.clock.wall_ns());
        Self::beat_locked(&mut self.lock(), uid, now, wall)
    }

    /// A heartbeat from process `pid` (the sd_notify socket); None if no entity runs as `pid`.
    pub fn beat_pid(&self, pid: u32) -> Option<Vec<Missed>> {
        let (now, wall) = (self.mono_ns(), self.clock.wall_ns());
        let mut g = self.lock();
        let uid = *g.by_pid.get(&pid)?;
        Self::beat_locked(&mut g, uid, now, wall)
    }

    /// A9: back to OK.
    pub fn healthy(&self, uid: Uid) {
        if let Some(e) = self.lock().entries.get_mut(&uid) {
            e.tracker.healthy();
        }
    }

    /// The tree's view of entity `uid`, if it is tracked here.
    pub fn view(&self, uid: Uid) -> Option<HeartbeatView> {
        let (mono, wall) = (self.mono_ns(), self.clock.wall_ns());
        self.lock().entries.get(&uid).map(|e| HeartbeatView {
            last_beat_ns: e.last_beat_wall_ns,
            state: e.tracker.state(),
            next_boundary_ns: wall.saturating_add(e.tracker.next_boundary().saturating_sub(mono)),
        })
    }

    /// Closes every period that ended by monotonic `now`; returns the
    /// thresholds crossed and the next boundary.
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
            let (missed, next) = self.close_due(self.mono_ns());
            for m in missed {
                if tx.send(m).is_err() {
                    return;
                }
            }
            match next {
                Some(deadline) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(self.instant_at(deadline)) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use std::time::Duration;
    use tokio::time::{Instant, sleep};

    const MS: u64 = 1_000_000;
    const JUMP_NS: i64 = 60_000_000_000;
    /// A wall-clock reading of 2025, far from 0 so that labels are recognisable.
    const WALL_START: i64 = 1_750_000_000_000_000_000;

    fn entity() -> EntityRef {
        EntityRef {
            node: 1,
            name: "wd".into(),
            uid: Some(7),
        }
    }

    fn spec(hpdl: u32, hpdh: u32) -> HeartbeatSpec {
        HeartbeatSpec {
            period_ns: 100 * MS,
            hpdl,
            hpdh,
        }
    }

    /// Trackers on a fake clock, with their timer running.
    fn start(clock: &Arc<FakeClock>) -> (Arc<Heartbeats>, mpsc::UnboundedReceiver<Missed>) {
        let hb = Arc::new(Heartbeats::new(clock.clone()));
        let (tx, rx) = mpsc::unbounded_channel();
        let timer = hb.clone();
        tokio::spawn(async move { timer.run_timer(tx).await });
        (hb, rx)
    }

    #[tokio::test(start_paused = true)]
    async fn h5_wall_clock_jumps_do_not_fire_missed_heartbeats_of_a_healthy_entity() {
        let clock = Arc::new(FakeClock::new(WALL_START));
        let (hb, mut rx) = start(&clock);
        hb.add(entity(), 42, spec(1, 2));
        // One beat in the middle of each 100 ms period, for 3 s; the wall
        // clock jumps forward, back, and back again on the way.
        for k in 1..=30 {
            sleep(Duration::from_millis(if k == 1 { 50 } else { 100 })).await;
            match k {
                10 => clock.jump_wall(JUMP_NS),
                20 | 25 => clock.jump_wall(-JUMP_NS),
                _ => {}
            }
            let wall = clock.wall_ns();
            assert!(
                hb.beat_pid(42).unwrap().is_empty(),
                "beat {k} closed a missed period"
            );
            // The last heartbeat shown is the wall-clock reading at the beat.
            let view = hb.view(7).unwrap();
            assert_eq!((view.last_beat_ns, view.state), (wall, HeartbeatState::Ok));
        }
        sleep(Duration::from_millis(60)).await;
        assert!(
            rx.try_recv().is_err(),
            "a healthy entity was reported missed"
        );
        assert_eq!(hb.view(7).unwrap().state, HeartbeatState::Ok);
    }

    /// When (after the tracker starts) the timer reports each threshold of
    /// an entity that beats once at 50 ms and then stops; `jump` is applied to
    /// the wall clock at 150 ms, between the last boundary that saw a beat and
    /// the first missed one.
    async fn detections(jump: i64) -> Vec<(HeartbeatMiss, Duration)> {
        let clock = Arc::new(FakeClock::new(WALL_START));
        let (hb, mut rx) = start(&clock);
        let t0 = Instant::now();
        hb.add(entity(), 42, spec(2, 3));
        sleep(Duration::from_millis(50)).await;
        assert!(hb.beat(7).unwrap().is_empty());
        sleep(Duration::from_millis(100)).await;
        clock.jump_wall(jump);
        let mut out = Vec::new();
        for _ in 0..2 {
            // Paused time: the runtime sleeps straight to the timer's next deadline.
            let m = tokio::time::timeout(Duration::from_secs(120), rx.recv())
                .await
                .expect("no missed-heartbeat report within 120 s")
                .unwrap();
            out.push((m.miss, Instant::now() - t0));
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn h5_stopped_heartbeat_is_detected_at_its_monotonic_boundaries_despite_wall_jumps() {
        // Periods [0,100) [100,200) [200,300) [300,400) ms: the first has the
        // beat, hpdl = 2 missed periods end at 300 ms, hpdh = 3 at 400 ms.
        let expected = vec![
            (HeartbeatMiss::Low, Duration::from_millis(300)),
            (HeartbeatMiss::High, Duration::from_millis(400)),
        ];
        assert_eq!(detections(0).await, expected, "without a jump");
        assert_eq!(
            detections(-JUMP_NS).await,
            expected,
            "wall clock set back 60 s"
        );
        assert_eq!(
            detections(JUMP_NS).await,
            expected,
            "wall clock set forward 60 s"
        );
    }
}
