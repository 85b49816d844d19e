//! The measurements: restart latency (a, a', b), missed-heartbeat latency
//! (c), idle cost (d), heartbeat throughput (e), restart pacing (f) and a
//! death storm (g).

pub mod heartbeat;
pub mod idle;
pub mod notify;
pub mod pacing;
pub mod restart;
