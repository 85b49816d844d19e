//! The HAM model and its replicated state machine.
//!
//! `ham-core` holds everything a HAM node decides, as pure functions of data:
//! the tree of entities, conditions and actions ([`model::HamState`]), the
//! commands that change it ([`model::Command`]), the plan of actions an event
//! triggers ([`model::plan_for_event`]) and heartbeat accounting
//! ([`model::HeartbeatTracker`]). Nothing in [`model`] reads a clock, does IO or
//! draws random numbers: time enters as a value, so that applying the same log
//! gives the same state on every node.
//!
//! [`replica`] replicates that state with Raft (a `raft::RawNode` owned by one
//! task, its log on disk) behind a [`replica::Transport`] trait, and
//! [`machine::HamMachine`] glues the two together.
//!
//! ```
//! use ham_core::model::{Command, HamState, Response};
//! let mut state = HamState::default();
//! state.apply(Command::RegisterNode { id: 1, name: "n1".into(), address: String::new() }).unwrap();
//! let out = state
//!     .apply(Command::Placeholder { node: 1, name: "inetd".into(), flags: 0, now_ns: 0, pacing: None })
//!     .unwrap();
//! assert!(matches!(out.response, Response::Entity(_)));
//! ```
#![forbid(unsafe_code)]

pub mod machine;
pub mod model;
// The replica reads the monotonic clock (its tick timer, proposal deadlines,
// disk-space rechecks): the one part of this crate that may (clippy.toml).
#[allow(clippy::disallowed_methods)]
pub mod replica;
