//! Process control: starting processes, reaping them, watching pids we did
//! not start, and signalling. This is the only module of the project with
//! `unsafe` code; every block says why it is sound.
//!
//! One reaper per process: the agent is a child subreaper and reaps every
//! child itself on SIGCHLD ([`reaper::Reaper`]). Nothing else may call
//! `wait*` (so `tokio::process` and `std::process::Child::wait` are never
//! used), or exit statuses would be stolen.
#![allow(unsafe_code)]

pub mod asyncfd;
pub mod cgroup;
mod clone3;
pub mod daemon;
pub mod identity;
pub mod pidfd;
pub mod reaper;
pub mod signal;
pub mod spawn;
