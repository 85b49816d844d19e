//! Commands that change the state, what they answer, and the effects they ask
//! the node agents to carry out.

use super::atomic::ConditionSpec;
use super::events::Plan;
use super::flags::ControlOp;
use super::options::ProcessOptions;
use super::types::*;
use serde::{Deserialize, Serialize};

/// Names an entity: by node and name, and by uid when it comes from a handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRef {
    /// The node (resolved: >= 1, or CLUSTER_NODE_ID).
    pub node: NodeId,
    /// The entity name; empty = that node's global entity.
    pub name: String,
    /// Set when the reference comes from a handle; a mismatch is ENOENT.
    pub uid: Option<Uid>,
}

/// Names a condition of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionRef {
    /// Its entity.
    pub entity: EntityRef,
    /// The condition name.
    pub name: String,
    /// Set when the reference comes from a handle.
    pub uid: Option<Uid>,
}

/// Names an action of a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRef {
    /// Its condition.
    pub condition: ConditionRef,
    /// The action name.
    pub name: String,
    /// Set when the reference comes from a handle.
    pub uid: Option<Uid>,
}

/// The object a control command applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectRef {
    /// An entity.
    Entity(EntityRef),
    /// A condition.
    Condition(ConditionRef),
    /// An action.
    Action(ActionRef),
}

/// A verbosity request (X4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerboseOp {
    /// Read it.
    Get,
    /// Set it to the value.
    Set,
    /// Raise it by the value (0 counts as 1).
    Incr,
    /// Lower it by the value (0 counts as 1), not below 0.
    Decr,
}

/// The outcome of one action run, reported by the agent that ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The action (with its uid, so a re-created action of the same name is not touched).
    pub action: ActionRef,
    /// Whether it succeeded.
    pub ok: bool,
}

/// A change to the HAM state. Every write of the API is one of these, and so
/// is every outcome an agent reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A node joins the cluster's table (name and API address).
    RegisterNode {
        /// Its id (>= 1).
        id: NodeId,
        /// Its unique name.
        name: String,
        /// Where its API listens.
        address: String,
    },
    /// `ham_attach`: monitor a running pid (E1) or start a command line (E2).
    Attach {
        /// The node.
        node: NodeId,
        /// The entity name.
        name: String,
        /// > 0: a running process; <= 0: start `command_line`.
        pid: i64,
        /// The start/restart line.
        command_line: Option<String>,
        /// ENTITY_FLAGS.
        flags: u32,
        /// A pid file naming the daemon's pid (E8).
        pidfile: Option<String>,
        /// A heartbeat promise (sd_notify `WATCHDOG=1` or the API), if any.
        heartbeat: Option<HeartbeatSpec>,
        /// When.
        now_ns: TimeNs,
        /// How its processes are started and who they run as (L7, P4).
        options: ProcessOptions,
        /// Conditions (with their actions) that exist before the process
        /// starts: all of them or, refused, nothing (L6).
        conditions: Vec<ConditionSpec>,
        /// How its processes are stopped (S2, L1).
        stop: StopPolicy,
        /// How its restarts are paced (L4); None keeps what a placeholder
        /// it fills was given, else the defaults.
        pacing: Option<super::pacing::PacingPolicy>,
    },
    /// `ham_attach_self`.
    AttachSelf {
        /// The node.
        node: NodeId,
        /// The entity name.
        name: String,
        /// The caller's pid.
        pid: i64,
        /// Heartbeat period in ns; 0 = none.
        period_ns: u64,
        /// Low threshold.
        hpdl: u32,
        /// High threshold.
        hpdh: u32,
        /// ENTITY_FLAGS.
        flags: u32,
        /// When.
        now_ns: TimeNs,
    },
    /// `ham_entity`: a placeholder.
    Placeholder {
        /// The node.
        node: NodeId,
        /// The entity name.
        name: String,
        /// ENTITY_FLAGS.
        flags: u32,
        /// When.
        now_ns: TimeNs,
        /// How the restarts of the process that fills it are paced (L4);
        /// None: the defaults.
        pacing: Option<super::pacing::PacingPolicy>,
    },
    /// `ham_detach*`.
    Detach {
        /// The entity.
        entity: EntityRef,
    },
    /// `ham_condition`, `ham_condition_raise`, `ham_condition_state`.
    AddCondition {
        /// The entity.
        entity: EntityRef,
        /// The condition name.
        name: String,
        /// Its type.
        #[serde(with = "super::types::condition_type_number")]
        ctype: ConditionType,
        /// CONDITION_FLAGS (+ STATE bits).
        flags: u32,
        /// Filters for RAISE / STATE.
        filter: ConditionFilter,
    },
    /// `ham_condition_remove`.
    RemoveCondition {
        /// The condition.
        condition: ConditionRef,
    },
    /// `ham_action_*`.
    AddAction {
        /// The condition.
        condition: ConditionRef,
        /// The action name.
        name: String,
        /// ACTION_FLAGS.
        flags: u32,
        /// What it does.
        kind: ActionKind,
    },
    /// `ham_action_remove`.
    RemoveAction {
        /// The action.
        action: ActionRef,
    },
    /// `ham_action_fail_*`.
    AddActionFail {
        /// The action whose fail list grows.
        action: ActionRef,
        /// The action-fail name.
        name: String,
        /// Flags (HACTIONWAIT on execute).
        flags: u32,
        /// What it does.
        kind: ActionKind,
    },
    /// `ham_action_fail_remove`.
    RemoveActionFail {
        /// The action.
        action: ActionRef,
        /// The action-fail name.
        name: String,
    },
    /// `ham_*_control`.
    Control {
        /// The object.
        target: ObjectRef,
        /// What to do.
        op: ControlOp,
        /// Flags for the flag commands; HRECURSE for enable/disable.
        flags: u32,
    },
    /// `ham_entity_condition_raise`.
    Raise {
        /// The entity raising it.
        entity: EntityRef,
        /// Raised type.
        rtype: i64,
        /// Raised class.
        rclass: i64,
        /// Raised severity.
        rseverity: i64,
    },
    /// `ham_entity_condition_state`.
    ReportState {
        /// The entity.
        entity: EntityRef,
        /// Its new state.
        state: i64,
    },
    /// `ham_verbose`.
    Verbose {
        /// The node.
        node: NodeId,
        /// What to do.
        op: VerboseOp,
        /// The value or step.
        value: i64,
    },
    /// Stop the HAM on every node (X3 with the cluster flag).
    StopCluster,
    /// An agent started (or found, for a daemon, E8) the entity's process.
    ProcessStarted {
        /// The entity.
        entity: EntityRef,
        /// Its pid.
        pid: i64,
        /// When.
        now_ns: TimeNs,
    },
    /// An agent handled the death of an entity's process.
    RecoveryOutcome {
        /// The entity (with uid).
        entity: EntityRef,
        /// How it ended.
        exit: ExitInfo,
        /// When it died.
        died_ns: TimeNs,
        /// The new pid and when, if the restart succeeded.
        restarted: Option<(i64, TimeNs)>,
        /// How each action that ran went.
        results: Vec<ActionResult>,
    },
    /// The leader saw a node's lease expire (`up: false`) or renewed again (D5).
    NodeLiveness {
        /// The node.
        node: NodeId,
        /// Whether it is up.
        up: bool,
    },
    /// An agent ran actions for another event (raise, state, heartbeat, ...).
    ActionsRan {
        /// How each went.
        results: Vec<ActionResult>,
    },
    /// Stop an entity (L5): its processes are stopped (S2), it keeps its
    /// conditions and actions, and no DEATH recovery runs.
    StopEntity {
        /// The entity.
        entity: EntityRef,
    },
    /// Start a stopped (or dead and kept) entity again by its restart line (L5).
    StartEntity {
        /// The entity.
        entity: EntityRef,
        /// When.
        now_ns: TimeNs,
    },
}

/// What a command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Nothing to say.
    Done,
    /// An entity handle.
    Entity(EntityRef),
    /// A condition handle.
    Condition(ConditionRef),
    /// An action handle.
    Action(ActionRef),
    /// An action-fail, by its action and name.
    ActionFail(ActionRef, String),
    /// The flags after a control command.
    Flags(u32),
    /// The verbosity after a verbose command.
    Verbosity(u32),
}

/// Something a node agent must do because a command was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Start the entity's process (E2).
    Spawn {
        /// The node that starts it.
        node: NodeId,
        /// The entity (with uid).
        entity: EntityRef,
        /// The parsed command line.
        argv: Vec<String>,
        /// Its instance number (S3).
        instance: u64,
        /// How it is started and who it runs as (L7, P4).
        options: ProcessOptions,
    },
    /// Watch this running process (E1, self-attach).
    Monitor {
        /// The node that watches it.
        node: NodeId,
        /// The entity (with uid).
        entity: EntityRef,
        /// The pid.
        pid: i64,
    },
    /// Stop watching the entity's process; it keeps running.
    Unmonitor {
        /// The node that watched it.
        node: NodeId,
        /// The entity (with uid).
        entity: EntityRef,
    },
    /// Run these actions (ATTACH, DETACH, RAISE, STATE, HACTIONDONOW).
    Run(Box<Plan>),
    /// Stop the HAM of this node (monitoring ends, processes keep running).
    StopNode {
        /// The node.
        node: NodeId,
    },
    /// A node's address is known or changed: every node's transport uses it.
    PeerAddress {
        /// The node.
        id: NodeId,
        /// Its address.
        address: String,
    },
    /// Stop the entity's processes (S2) and stop watching them, with no
    /// DEATH recovery (L5).
    Stop {
        /// The node that runs them.
        node: NodeId,
        /// The entity (with uid).
        entity: EntityRef,
        /// How.
        policy: StopPolicy,
    },
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The answer to the caller.
    pub response: Response,
    /// What node agents must do.
    pub effects: Vec<Effect>,
}

impl Applied {
    /// An answer with no effects.
    pub fn just(response: Response) -> Applied {
        Applied {
            response,
            effects: Vec::new(),
        }
    }
}
