//! Restart pacing (HAM-CONTRACT L4), as a pure rule of times passed in.
//!
//! An entity that dies is restarted at once while it has died fewer than
//! `burst` times within `window`. Beyond that each restart waits a delay
//! that starts at `min_delay` and doubles on every further death, up to
//! `max_delay`. Once paced, an entity stays paced (the delay keeps doubling)
//! until one of its processes stays up for `window`; only then does the
//! history reset and restarts become immediate again. Without that rule a
//! delay longer than the window would empty the window and make the next
//! `burst` restarts immediate again, so a crash loop would never settle.
//!
//! The rule never gives up: giving up is an escalation the user configures.
//! Times are nanoseconds on any one clock (the agent passes its monotonic
//! clock; the replicated record uses the wall-clock times of the outcomes),
//! so the rule itself reads no clock.

use super::errno::{Result, einval};
use super::types::TimeNs;
use serde::{Deserialize, Serialize};

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;

/// Longest window or delay a policy may name: a day.
pub const PACING_MAX_NS: u64 = 86_400 * SEC;
/// Largest burst: the history keeps one time per allowed death, so it is bounded.
pub const PACING_MAX_BURST: u32 = 1_000;

/// An entity's pacing settings (defaults: 5 deaths in 10 s, then 100 ms doubling to 30 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacingPolicy {
    /// Deaths within `window_ns` that are restarted at once.
    pub burst: u32,
    /// The window deaths are counted in, and how long a process must stay up to reset the delay.
    pub window_ns: u64,
    /// The first delay once the burst is spent.
    pub min_delay_ns: u64,
    /// The delay stops doubling here.
    pub max_delay_ns: u64,
    /// Pacing off: every restart is immediate.
    pub off: bool,
}

impl Default for PacingPolicy {
    fn default() -> Self {
        PacingPolicy {
            burst: 5,
            window_ns: 10 * SEC,
            min_delay_ns: 100 * MS,
            max_delay_ns: 30 * SEC,
            off: false,
        }
    }
}

impl PacingPolicy {
    /// Checks a policy given by a user: EINVAL for a zero window or delay, a
    /// first delay above the last, or anything above its bound.
    pub fn check(self) -> Result<PacingPolicy> {
        if self.burst > PACING_MAX_BURST {
            return Err(einval(format!(
                "pacing burst {} is above {PACING_MAX_BURST}",
                self.burst
            )));
        }
        for (what, v) in [
            ("window", self.window_ns),
            ("minimum delay", self.min_delay_ns),
            ("maximum delay", self.max_delay_ns),
        ] {
            if v == 0 || v > PACING_MAX_NS {
                return Err(einval(format!(
                    "pacing {what} of {} ms is not between 1 ms and a day",
                    v / MS
                )));
            }
        }
        if self.min_delay_ns > self.max_delay_ns {
            return Err(einval(format!(
                "pacing minimum delay {} ms is above the maximum {} ms",
                self.min_delay_ns / MS,
                self.max_delay_ns / MS
            )));
        }
        Ok(self)
    }
}

/// What pacing remembers of an entity: its recent deaths and the current delay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacingHistory {
    /// Death times within the window, oldest first, at most `burst` of them.
    pub deaths: Vec<TimeNs>,
    /// The delay the latest restart waited; 0 while restarts are immediate.
    pub delay_ns: u64,
}

impl PacingHistory {
    /// The delay to show at `now_ns` for a process up since `up_since_ns`:
    /// the current one, or 0 once the process has stayed up for the window.
    pub fn current_delay(&self, policy: &PacingPolicy, now_ns: TimeNs, up_since_ns: TimeNs) -> u64 {
        if policy.off || elapsed(up_since_ns, now_ns) >= policy.window_ns {
            0
        } else {
            self.delay_ns
        }
    }
}

/// When the restart after a death may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Now, on the fast path.
    Immediate,
    /// After this many nanoseconds.
    After(u64),
}

/// A death's pacing: when its restart runs, and the history to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paced {
    /// When the restart runs.
    pub pacing: Pacing,
    /// The history including this death.
    pub history: PacingHistory,
}

fn elapsed(from: TimeNs, to: TimeNs) -> u64 {
    u64::try_from(to.saturating_sub(from)).unwrap_or(0)
}

/// The pacing of a death at `now_ns` of a process that had been up since
/// `up_since_ns`, given the entity's `history` before it.
pub fn next_restart(
    policy: &PacingPolicy,
    history: &PacingHistory,
    now_ns: TimeNs,
    up_since_ns: TimeNs,
) -> Paced {
    if policy.off {
        return Paced {
            pacing: Pacing::Immediate,
            history: PacingHistory::default(),
        };
    }
    let mut h = if elapsed(up_since_ns, now_ns) >= policy.window_ns {
        // It stayed up for the window: whatever came before is forgiven.
        PacingHistory::default()
    } else {
        history.clone()
    };
    h.deaths.retain(|&t| elapsed(t, now_ns) < policy.window_ns);
    let before = h.deaths.len();
    h.deaths.push(now_ns);
    let keep = usize::try_from(policy.burst.max(1)).unwrap_or(usize::MAX);
    if h.deaths.len() > keep {
        let extra = h.deaths.len() - keep;
        h.deaths.drain(..extra);
    }
    let delay = if h.delay_ns > 0 {
        h.delay_ns.saturating_mul(2).min(policy.max_delay_ns)
    } else if before >= usize::try_from(policy.burst).unwrap_or(usize::MAX) {
        policy.min_delay_ns.min(policy.max_delay_ns)
    } else {
        0
    };
    h.delay_ns = delay;
    Paced {
        pacing: if delay == 0 {
            Pacing::Immediate
        } else {
            Pacing::After(delay)
        },
        history: h,
    }
}

#[cfg(test)]
mod datadriven;
