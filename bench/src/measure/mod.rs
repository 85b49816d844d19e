//! The measurements: restart latency (a, a', b), missed-heartbeat latency
//! (c), idle cost (d) and heartbeat throughput (e).

pub mod heartbeat;
pub mod idle;
pub mod notify;
pub mod restart;
