//! The HAM model: pure data and rules, no clock, no IO, no randomness.

mod atomic;
mod cmdline;
mod command;
mod decide;
mod entities;
mod errno;
mod events;
pub mod flags;
mod heartbeat;
mod names;
mod objects;
mod options;
mod outcome;
mod pacing;
mod state;
mod stopstart;
mod types;

#[cfg(test)]
mod tests;

pub use atomic::{ActionFailSpec, ActionSpec, ConditionSpec};
pub use cmdline::{LINE_MAX, parse_command_line};
pub use command::*;
pub use decide::{AfterDeath, DeathClock, DeathDecision, RestartStep, decide_death};
pub use errno::{Errno, HamError, Result, StatusClass, eexist, einval, enoent};
pub use events::{
    Event, ExecutorKind, ExecutorPlan, Plan, PlannedAction, condition_matches, plan_for_event,
};
pub use heartbeat::{HeartbeatMiss, HeartbeatState, HeartbeatTracker};
pub use names::{
    NAME_MAX, PATH_MAX, QUOTE_MAX, Quoted, check_name, check_path, display_path, quoted,
};
pub use options::{
    ACCOUNT_NAME_MAX, CWD_MAX, ENV_BYTES_MAX, ENV_MAX, Group, Limit, LimitResource, OutputMode,
    ProcessOptions, RunAs, UNLIMITED, User, check_options, parse_limit_values,
};
pub use pacing::{
    PACING_MAX_BURST, PACING_MAX_NS, Paced, Pacing, PacingHistory, PacingPolicy, next_restart,
};
pub use state::{Context, DEFAULT_VERBOSITY, HamState, NodeMeta};
pub use stopstart::{check_stop_policy, valid_signal};
pub use types::*;
