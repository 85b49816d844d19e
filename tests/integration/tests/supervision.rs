//! Local supervision with real processes: the guide's examples (simple and
//! compound restart, notifications, the heartbeating deadlock, a daemonizing
//! program, an sd_notify watchdog program, programs with workers) and the
//! clauses they rest on.
//! program, an sd_notify watchdog program), restart pacing, and the clauses
//! they rest on.
//!
//! One test target, one file per feature; `fixture` holds what they share.

#[path = "supervision/fixture.rs"]
mod fixture;

#[path = "supervision/actions.rs"]
mod actions;
#[path = "supervision/compound.rs"]
mod compound;
#[path = "supervision/daemons.rs"]
mod daemons;
#[path = "supervision/groups.rs"]
mod groups;
#[path = "supervision/heartbeats.rs"]
mod heartbeats;
#[path = "supervision/notify.rs"]
mod notify;
#[path = "supervision/options.rs"]
mod options;
#[path = "supervision/pacing.rs"]
mod pacing;
#[path = "supervision/restart.rs"]
mod restart;
#[path = "supervision/stop.rs"]
mod stop;
