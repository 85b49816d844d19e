//! The two clocks the benchmark compares against: CLOCK_MONOTONIC (kill and
//! probe timestamps, comparable across processes of one boot) and
//! CLOCK_REALTIME (ham's heartbeat boundaries and `last_beat_ns` are
//! wall-clock nanoseconds since the epoch).

use nix::time::{ClockId, clock_gettime};

fn read(clock: ClockId) -> i64 {
    // clock_gettime cannot fail for these two clocks on Linux.
    let ts = clock_gettime(clock).expect("clock_gettime");
    ts.tv_sec() * 1_000_000_000 + ts.tv_nsec()
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn monotonic_ns() -> i64 {
    read(ClockId::CLOCK_MONOTONIC)
}

/// CLOCK_REALTIME in nanoseconds since the epoch.
pub fn realtime_ns() -> i64 {
    read(ClockId::CLOCK_REALTIME)
}

/// Nanoseconds to milliseconds.
pub fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}
