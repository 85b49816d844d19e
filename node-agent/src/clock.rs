//! The agent's time source (HAM-CONTRACT H5).
//!
//! Two readings with two uses. The monotonic reading drives every timer,
//! deadline, period boundary and elapsed-time comparison; the wall-clock
//! reading only labels events (the times shown to users: the last
//! heartbeat, the times inside commands). A jump of the wall clock, either
//! way and of any size, moves labels and never a timer.

use std::fmt::Debug;
use tokio::time::Instant;

/// Where the agent reads the time.
pub trait Clock: Send + Sync + Debug {
    /// Wall-clock time in ns since the Unix epoch: a label of an event,
    /// never used to measure time.
    fn wall_ns(&self) -> i64;
    /// The monotonic clock, as tokio's `Instant` (so that tests can pause
    /// and advance it).
    fn mono(&self) -> Instant;
}

/// The real clocks: `CLOCK_REALTIME` and tokio's monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall_ns(&self) -> i64 {
        crate::node::now_ns()
    }

    fn mono(&self) -> Instant {
        Instant::now()
    }
}

/// A clock for tests: monotonic time is tokio's (paused in tests), and the
/// wall clock follows it from a fixed reading, shifted by every
/// [`FakeClock::jump_wall`] so far.
#[cfg(test)]
#[derive(Debug)]
pub struct FakeClock {
    origin: Instant,
    wall_at_origin: i64,
    jumped_ns: std::sync::atomic::AtomicI64,
}

#[cfg(test)]
impl FakeClock {
    /// A clock whose wall reading is `wall_ns` now.
    pub fn new(wall_ns: i64) -> FakeClock {
        FakeClock {
            origin: Instant::now(),
            wall_at_origin: wall_ns,
            jumped_ns: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Sets the wall clock forward (`by_ns > 0`) or back (`by_ns < 0`),
    /// as `date -s` or an NTP step would; the monotonic clock does not move.
    pub fn jump_wall(&self, by_ns: i64) {
        self.jumped_ns
            .fetch_add(by_ns, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
impl Clock for FakeClock {
    fn wall_ns(&self) -> i64 {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        self.wall_at_origin
            + i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
            + self.jumped_ns.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn mono(&self) -> Instant {
        Instant::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn h5_fake_wall_clock_jumps_and_monotonic_time_does_not() {
        let clock = FakeClock::new(1_000);
        let t0 = clock.mono();
        tokio::time::advance(Duration::from_millis(5)).await;
        assert_eq!(clock.wall_ns(), 1_000 + 5_000_000);
        clock.jump_wall(-60_000_000_000);
        assert_eq!(clock.wall_ns(), 1_000 + 5_000_000 - 60_000_000_000);
        assert_eq!(clock.mono() - t0, Duration::from_millis(5));
    }
}
