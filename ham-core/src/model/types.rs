//! The objects of a HAM: entities hold conditions, conditions hold actions,
//! actions hold their action-fail lists.

use super::flags::*;
use super::options::ProcessOptions;
use serde::{Deserialize, Serialize};

/// A node's id in the cluster (>= 1).
pub type NodeId = u64;
/// The id of the cluster-wide context, whose only entity is the cluster-wide global entity.
pub use ham_vocab::CLUSTER_NODE_ID;
/// A unique object id, never reused, so that a stale handle is detected (N5).
pub type Uid = u64;
/// Nanoseconds since the Unix epoch; 0 means never.
pub type TimeNs = i64;

pub use ham_vocab::ConditionType;

/// A condition type is stored as its wire number (`ham_vocab::ConditionType::code`).
pub(crate) mod condition_type_number {
    use super::ConditionType;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(t: &ConditionType, s: S) -> Result<S::Ok, S::Error> {
        t.code().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ConditionType, D::Error> {
        let code = i32::deserialize(d)?;
        ConditionType::from_code(code)
            .ok_or_else(|| D::Error::custom(format!("unknown condition type {code}")))
    }
}

/// How an entity came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityKind {
    /// Attached from outside (by pid or by command line).
    Attached,
    /// Attached by the process itself, usually with a heartbeat.
    AttachedSelf,
    /// Created by `ham_entity` ahead of the process; filled by a later attach.
    Placeholder,
    /// A node's (or the cluster's) global entity: its conditions see every entity's events.
    Global,
}

/// Wildcard for the raise filters and for a single STATE value.
pub const ANY: i64 = -1;

/// What a RAISE condition listens for; each filter is a value or [`ANY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaiseFilter {
    /// Raised type, or ANY.
    pub rtype: i64,
    /// Raised class, or ANY.
    pub rclass: i64,
    /// Raised severity, or ANY.
    pub rseverity: i64,
}

/// One side of a STATE filter (HAM-CONTRACT K6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateMatch {
    /// Any state.
    Any,
    /// Exactly this state.
    Value(i64),
    /// A state in (or, inverted, not in) this bitmap of states 0..63.
    Set {
        /// Bit n set = state n is in the set.
        bits: u64,
        /// Match states outside the set instead.
        invert: bool,
    },
}

impl StateMatch {
    /// Whether `state` passes this filter.
    pub fn matches(self, state: i64) -> bool {
        match self {
            StateMatch::Any => true,
            StateMatch::Value(v) => v == state,
            StateMatch::Set { bits, invert } => {
                let inside = (0..64).contains(&state) && bits & (1u64 << state) != 0;
                inside != invert
            }
        }
    }
}

/// The filter of a condition, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionFilter {
    /// Plain conditions match on their type alone.
    None,
    /// A RAISE condition's filters.
    Raise(RaiseFilter),
    /// A STATE condition's (from, to) filters.
    State {
        /// Filter on the state before the transition.
        from: StateMatch,
        /// Filter on the state after it.
        to: StateMatch,
    },
}

/// What an action does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionKind {
    /// Start the entity again with this line.
    Restart {
        /// The restart line (E3 rules).
        command_line: String,
    },
    /// Spawn a command.
    Execute {
        /// The command line (E3 rules).
        command_line: String,
        /// With HACTIONWAIT: give up (and fail) after this many ms; 0 = no limit.
        timeout_ms: u64,
    },
    /// Wait a delay, or until a path exists (failing when the delay ends first).
    Waitfor {
        /// The path to wait for, if any.
        path: Option<String>,
        /// The delay in ms (> 0).
        delay_ms: u64,
    },
    /// Send a pulse to a channel of a process.
    NotifyPulse {
        /// The node of the receiving process.
        node: NodeId,
        /// The receiving process.
        pid: i64,
        /// Its channel.
        chid: i64,
        /// The pulse code.
        code: i32,
        /// The pulse value.
        value: i64,
    },
    /// Send a (queued) signal with a value to a process.
    NotifySignal {
        /// The node of the receiving process.
        node: NodeId,
        /// The receiving process.
        pid: i64,
        /// The signal number.
        signum: i32,
        /// A code passed along with the value.
        code: i32,
        /// The `si_value` integer.
        value: i64,
    },
    /// Reset the entity's heartbeat state to OK.
    HeartbeatHealthy,
    /// Write a message to the node's activity log.
    Log {
        /// The message.
        message: String,
        /// Prefix it with the entity/condition/action path.
        attach_prefix: bool,
        /// The verbosity at which it is written.
        verbosity: u32,
    },
}

impl ActionKind {
    /// A short name of the kind, for logs and the tree view.
    pub fn label(&self) -> &'static str {
        match self {
            ActionKind::Restart { .. } => "restart",
            ActionKind::Execute { .. } => "execute",
            ActionKind::Waitfor { .. } => "waitfor",
            ActionKind::NotifyPulse { .. } => "notify_pulse",
            ActionKind::NotifySignal { .. } => "notify_signal",
            ActionKind::HeartbeatHealthy => "heartbeat_healthy",
            ActionKind::Log { .. } => "log",
        }
    }
}

/// One action of an action's fail list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFail {
    /// Unique within the action's fail list.
    pub name: String,
    /// Never Restart or HeartbeatHealthy (A12).
    pub kind: ActionKind,
    /// Flags as given (kept for the tree view).
    pub flags: u32,
}

/// An action of a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// Unique within its condition.
    pub name: String,
    /// Never reused.
    pub uid: Uid,
    /// ACTION_FLAGS (plus HACTIONWAIT on execute).
    pub flags: u32,
    /// A disabled action is skipped.
    pub enabled: bool,
    /// What it does.
    pub kind: ActionKind,
    /// What runs, in order, when it fails.
    pub fail: Vec<ActionFail>,
    /// How many times it ran.
    pub runs: u32,
    /// How many of those runs failed.
    pub failures: u32,
}

impl Action {
    /// Whether the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// A condition of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Unique within its entity.
    pub name: String,
    /// Never reused.
    pub uid: Uid,
    /// What it listens for.
    #[serde(with = "condition_type_number")]
    pub ctype: ConditionType,
    /// CONDITION_FLAGS (plus the STATE bits on STATE conditions).
    pub flags: u32,
    /// A disabled condition never triggers.
    pub enabled: bool,
    /// RAISE and STATE filters.
    pub filter: ConditionFilter,
    /// Run in this order (K9).
    pub actions: Vec<Action>,
}

impl Condition {
    /// Whether the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Looks an action up by name.
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitInfo {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Whether a core dump was written.
        core_dumped: bool,
    },
    /// It is gone but its status could not be read (not our child, old kernel).
    Unknown,
}

/// Signals whose default action dumps core (HAM-CONTRACT K2), as Linux numbers:
/// SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS.
pub const CORE_SIGNALS: [i32; 10] = [3, 4, 5, 6, 7, 8, 11, 24, 25, 31];

impl ExitInfo {
    /// Killed by a core-dumping signal (whether or not a core was written).
    pub fn is_abnormal(self) -> bool {
        matches!(self, ExitInfo::Signaled { signal, .. } if CORE_SIGNALS.contains(&signal))
    }
}

/// Statistics of an entity (E9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityStats {
    /// When the entity was created.
    pub created_ns: TimeNs,
    /// When its process last died.
    pub last_death_ns: TimeNs,
    /// When it was last restarted.
    pub restarted_ns: TimeNs,
    /// How many times it was restarted.
    pub restarts: u32,
    /// How its process last ended.
    pub last_exit: Option<ExitInfo>,
    /// Instance number: 1 for the first start, +1 per restart (S3); 0 before any start.
    pub instance: u64,
    /// When the current process was attached or (re)started: heartbeat
    /// periods count from here (a placeholder may be much older).
    pub since_ns: TimeNs,
}

/// The heartbeat promise of a self-attached entity (E4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatSpec {
    /// One heartbeat per period, in ns (>= HAMHBEATMIN).
    pub period_ns: u64,
    /// Missed periods in a row before HBEATMISSEDLOW.
    pub hpdl: u32,
    /// Missed periods in a row before HBEATMISSEDHIGH.
    pub hpdh: u32,
}

/// Shortest heartbeat period: 10 ms.
pub const HAMHBEATMIN_NS: u64 = ham_vocab::flags::HAMHBEATMIN;

/// Which of an entity's processes a stop reaches (HAM-CONTRACT L1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KillMode {
    /// Every process of the entity: its process group and, where the node
    /// has one, its cgroup (systemd's `KillMode=control-group`).
    #[default]
    Group,
    /// The main process alone; the rest keeps running (`KillMode=process`).
    Process,
}

/// The warning signal a stop sends first, unless the entity names another: SIGTERM.
pub const DEFAULT_WARN_SIGNAL: i32 = 15;
/// How long a stop waits after the warning before SIGKILL, unless the entity says: 10 s.
pub const DEFAULT_GRACE_MS: u64 = 10_000;
/// The longest grace an entity may ask for: 5 minutes. A stop holds up the
/// restart of a dead entity's leftovers (L1) and the answer of a stop call
/// (L5) for this long, so an unbounded value would let one entity stall its
/// recovery for ever; systemd's default `TimeoutStopSec=` is 90 s.
pub const MAX_GRACE_MS: u64 = 300_000;

/// How an entity's processes are stopped (HAM-CONTRACT S2): the warning
/// signal, the grace after it, then SIGKILL of what remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopPolicy {
    /// The warning signal (a Linux signal number).
    pub warn_signal: i32,
    /// Milliseconds between the warning and SIGKILL (0: SIGKILL at once).
    pub grace_ms: u64,
    /// Which processes a stop reaches.
    pub kill_mode: KillMode,
}

impl Default for StopPolicy {
    fn default() -> Self {
        StopPolicy {
            warn_signal: DEFAULT_WARN_SIGNAL,
            grace_ms: DEFAULT_GRACE_MS,
            kill_mode: KillMode::Group,
        }
    }
}

/// An entity: a process (or a placeholder, or a global entity) and its conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Unique within the node; empty for a global entity.
    pub name: String,
    /// Never reused.
    pub uid: Uid,
    /// How it came to be.
    pub kind: EntityKind,
    /// The process id (0 while not running).
    pub pid: i64,
    /// The line it is (re)started with, if any.
    pub command_line: Option<String>,
    /// A pid file naming a daemon's pid (E8).
    pub pidfile: Option<String>,
    /// ENTITY_FLAGS.
    pub flags: u32,
    /// A disabled entity reacts to no event.
    pub enabled: bool,
    /// Conditions in the order they were added.
    pub conditions: Vec<Condition>,
    /// Statistics.
    pub stats: EntityStats,
    /// Heartbeat promise, for self-attached entities.
    pub heartbeat: Option<HeartbeatSpec>,
    /// The current reported state (K6), initially 0.
    pub state: i64,
    /// How its processes are started (L7) and who they run as (P4).
    pub options: ProcessOptions,
    /// How its processes are stopped (S2, L1).
    pub stop: StopPolicy,
    /// Stopped by a stop call (L5): no process runs and none is started
    /// until a start call.
    pub stopped: bool,
    /// How its restarts are paced (L4).
    pub pacing: super::pacing::PacingPolicy,
    /// Its recent deaths as the committed outcomes tell them (wall-clock
    /// times), so that an agent started again paces a crash loop it did not see.
    pub deaths: super::pacing::PacingHistory,
}

impl Entity {
    /// A fresh entity with no conditions.
    pub fn new(name: &str, uid: Uid, kind: EntityKind, now_ns: TimeNs) -> Entity {
        Entity {
            name: name.to_string(),
            uid,
            kind,
            pid: 0,
            command_line: None,
            pidfile: None,
            flags: 0,
            enabled: true,
            conditions: Vec::new(),
            stats: EntityStats {
                created_ns: now_ns,
                ..EntityStats::default()
            },
            heartbeat: None,
            state: 0,
            options: ProcessOptions::default(),
            stop: StopPolicy::default(),
            stopped: false,
            pacing: super::pacing::PacingPolicy::default(),
            deaths: super::pacing::PacingHistory::default(),
        }
    }

    /// Whether the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Looks a condition up by name.
    pub fn condition(&self, name: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.name == name)
    }

    /// The entity's restart action, if any (there is at most one, A2).
    pub fn restart_action(&self) -> Option<(&Condition, &Action)> {
        self.conditions.iter().find_map(|c| {
            c.actions
                .iter()
                .find(|a| matches!(a.kind, ActionKind::Restart { .. }))
                .map(|a| (c, a))
        })
    }

    /// Number of actions across all conditions.
    pub fn action_count(&self) -> usize {
        self.conditions.iter().map(|c| c.actions.len()).sum()
    }
}

/// Whether a condition keeps across a restart.
pub fn rearms(flags: u32) -> bool {
    flags & HREARMAFTERRESTART != 0
}
