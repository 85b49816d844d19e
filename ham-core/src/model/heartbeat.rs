//! Heartbeat accounting as a pure function of heartbeat times and `now`
//! (HAM-CONTRACT H1, H2, A9).
//!
//! Periods are counted from the moment the watcher began tracking the
//! entity: period k covers `[start + k*period, start + (k+1)*period)`.
//! Times are nanoseconds on one clock that never jumps; the agent passes
//! its monotonic clock (H5), so every time here, `last_beat_ns` included,
//! is in that time base and is no wall-clock label. At each period boundary the
//! tracker asks whether the closing period saw at least one heartbeat
//! (several count as one). Missed periods in a row are counted; reaching
//! `hpdl` fires HBEATMISSEDLOW once, reaching `hpdh` fires HBEATMISSEDHIGH
//! once, and neither fires again until [`HeartbeatTracker::healthy`] (or a
//! restart, which makes a new tracker).

use super::types::{HeartbeatSpec, TimeNs};
use serde::{Deserialize, Serialize};

/// The heartbeat state shown in `.info` (E9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeartbeatState {
    /// No threshold reached.
    Ok,
    /// HBEATMISSEDLOW fired.
    MissedLow,
    /// HBEATMISSEDHIGH fired.
    MissedHigh,
}

/// A threshold crossed at a period boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeartbeatMiss {
    /// `hpdl` periods in a row without a heartbeat.
    Low,
    /// `hpdh` periods in a row without a heartbeat.
    High,
}

/// Tracks one entity's heartbeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatTracker {
    spec: HeartbeatSpec,
    start_ns: TimeNs,
    /// Index of the period in progress.
    period: u64,
    beat_in_period: bool,
    missed_in_row: u32,
    low_fired: bool,
    high_fired: bool,
    last_beat_ns: TimeNs,
}

impl HeartbeatTracker {
    /// Starts counting periods at `start_ns`.
    pub fn new(spec: HeartbeatSpec, start_ns: TimeNs) -> HeartbeatTracker {
        HeartbeatTracker {
            spec,
            start_ns,
            period: 0,
            beat_in_period: false,
            missed_in_row: 0,
            low_fired: false,
            high_fired: false,
            last_beat_ns: 0,
        }
    }

    fn period_ns(&self) -> i64 {
        i64::try_from(self.spec.period_ns).unwrap_or(i64::MAX)
    }

    /// The end of the period in progress: when the agent's timer must call [`Self::advance`].
    pub fn next_boundary(&self) -> TimeNs {
        let k = i64::try_from(self.period + 1).unwrap_or(i64::MAX);
        self.start_ns
            .saturating_add(k.saturating_mul(self.period_ns()))
    }

    /// Closes every period that ended at or before `now`; returns the thresholds crossed.
    pub fn advance(&mut self, now: TimeNs) -> Vec<HeartbeatMiss> {
        let mut fired = Vec::new();
        while self.next_boundary() <= now {
            if self.beat_in_period {
                self.missed_in_row = 0;
            } else {
                self.missed_in_row = self.missed_in_row.saturating_add(1);
                if self.missed_in_row >= self.spec.hpdl && !self.low_fired {
                    self.low_fired = true;
                    fired.push(HeartbeatMiss::Low);
                }
                if self.missed_in_row >= self.spec.hpdh && !self.high_fired {
                    self.high_fired = true;
                    fired.push(HeartbeatMiss::High);
                }
            }
            self.beat_in_period = false;
            self.period += 1;
            if fired.is_empty() && self.missed_in_row > self.spec.hpdh && self.high_fired {
                // Nothing more can fire until a heartbeat or a reset: skip to `now`.
                let behind = (now - self.next_boundary()) / self.period_ns().max(1);
                self.period += u64::try_from(behind.max(0)).unwrap_or(0);
            }
        }
        fired
    }

    /// A heartbeat arrived at `now`. Boundaries up to `now` are closed first,
    /// so a late timer never credits the beat to an older period.
    pub fn beat(&mut self, now: TimeNs) -> Vec<HeartbeatMiss> {
        let fired = self.advance(now);
        self.beat_in_period = true;
        self.last_beat_ns = now;
        fired
    }

    /// A9: back to OK; the thresholds can fire again.
    pub fn healthy(&mut self) {
        self.missed_in_row = 0;
        self.low_fired = false;
        self.high_fired = false;
    }

    /// The state for `.info`.
    pub fn state(&self) -> HeartbeatState {
        if self.high_fired {
            HeartbeatState::MissedHigh
        } else if self.low_fired {
            HeartbeatState::MissedLow
        } else {
            HeartbeatState::Ok
        }
    }

    /// When the last heartbeat arrived, in the caller's time base (0 = never).
    pub fn last_beat_ns(&self) -> TimeNs {
        self.last_beat_ns
    }

    /// The promise being tracked.
    pub fn spec(&self) -> HeartbeatSpec {
        self.spec
    }
}
