//! Roles and the role each call needs (HAM-CONTRACT P2, P3).
//!
//! One table, [`required_role`], decides for every RPC of `service Ham` which role its caller
//! must hold; the API asks it once per call, before anything runs. It is a pure function of the
//! call and a few facts about the request, so the whole table is tested row by row against the
//! `.proto` (a new RPC without a row fails the test).

use serde::Deserialize;

/// What a caller may do. Ordered: each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Look-ups, the tree, nodes.
    Reader,
    /// Enable/disable, flags, raise, state, heartbeat, detach and remove; conditions and
    /// actions that run no command line. No new command line, no stop of a HAM, no membership
    /// change.
    Operator,
    /// Every call.
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
            Role::Admin => "admin",
        })
    }
}

/// Every RPC of `ham.v1.Ham`, by its name in the `.proto`.
macro_rules! rpcs {
    ($($v:ident),* $(,)?) => {
        /// One RPC of `service Ham`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rpc { $($v),* }

        impl Rpc {
            /// Every RPC, in the `.proto`'s order.
            #[cfg(test)]
            pub const ALL: &'static [Rpc] = &[$(Rpc::$v),*];

            /// Its name in the `.proto` (`service Ham`), as audit lines show it.
            pub fn name(self) -> &'static str {
                match self { $(Rpc::$v => stringify!($v)),* }
            }
        }
    };
}

rpcs![
    Handshake,
    Attach,
    AttachSelf,
    Detach,
    Entity,
    Condition,
    ConditionRaise,
    ConditionState,
    ConditionRemove,
    ActionRestart,
    ActionExecute,
    ActionWaitfor,
    ActionNotifyPulse,
    ActionNotifySignal,
    ActionHeartbeatHealthy,
    ActionLog,
    ActionFailExecute,
    ActionFailWaitfor,
    ActionFailNotifyPulse,
    ActionFailNotifySignal,
    ActionFailLog,
    ActionRemove,
    ActionFailRemove,
    EntityControl,
    ConditionControl,
    ActionControl,
    EntityConditionRaise,
    EntityConditionState,
    Heartbeat,
    Stop,
    Verbose,
    EntityHandleLookup,
    ConditionHandleLookup,
    ActionHandleLookup,
    Tree,
    AddNode,
    RemoveNode,
    HeartbeatStream,
    PulseChannel,
    EntityStop,
    EntityStart,
];

/// What the table needs to know of one request besides its RPC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// An attach that gives a command line for `ham` to start.
    pub command_line: bool,
    /// A Verbose call that only reads the level.
    pub read_only: bool,
    /// The caller is the process the call is about, on this node (P3): the self-attached
    /// entity's process, or the process whose pulse channel it opens.
    pub own_process: bool,
}

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// At least this role.
    Role(Role),
    /// Nothing: the caller acts on its own process (P3).
    OwnProcess,
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Role(r) => write!(f, "role {r}"),
            Need::OwnProcess => f.write_str("its own process"),
        }
    }
}

/// Whether the call changes the state (each one is audited, P8). Heartbeats never enter the
/// log and come many times a second: they are not audited.
pub fn is_write(rpc: Rpc, facts: Facts) -> bool {
    use Rpc::*;
    match rpc {
        Verbose => !facts.read_only,
        Handshake
        | EntityHandleLookup
        | ConditionHandleLookup
        | ActionHandleLookup
        | Tree
        | PulseChannel
        | Heartbeat
        | HeartbeatStream => false,
        _ => true,
    }
}

/// The role a call needs (P2), or none for a process acting on itself (P3).
pub fn required_role(rpc: Rpc, facts: Facts) -> Need {
    use Rpc::*;
    let role = match rpc {
        Handshake | EntityHandleLookup | ConditionHandleLookup | ActionHandleLookup | Tree => {
            Role::Reader
        }
        Verbose if facts.read_only => Role::Reader,
        // P3: a self-attached process heartbeats, raises, publishes state and detaches its own
        // entity whatever its role; it receives its own pulses.
        Heartbeat | HeartbeatStream | EntityConditionRaise | EntityConditionState | Detach
        | PulseChannel
            if facts.own_process =>
        {
            return Need::OwnProcess;
        }
        Heartbeat | HeartbeatStream | EntityConditionRaise | EntityConditionState | Detach => {
            Role::Operator
        }
        EntityControl | ConditionControl | ActionControl => Role::Operator,
        // L5: a stop (S2 on the entity's processes) and a start by the restart line it already
        // has, like enabling and disabling it: no new command line.
        EntityStop | EntityStart => Role::Operator,
        ConditionRemove | ActionRemove | ActionFailRemove => Role::Operator,
        // Conditions and actions that run no command line. A notify-signal action is further
        // bounded by kill(2)'s rule (P4, `auth::signals`).
        Condition | ConditionRaise | ConditionState => Role::Operator,
        ActionWaitfor
        | ActionNotifyPulse
        | ActionNotifySignal
        | ActionHeartbeatHealthy
        | ActionLog => Role::Operator,
        ActionFailWaitfor | ActionFailNotifyPulse | ActionFailNotifySignal | ActionFailLog => {
            Role::Operator
        }
        // An entity with no command line: a placeholder, an existing process (bounded by P4 for
        // the signals a stop sends it), a process attaching itself.
        Entity | AttachSelf => Role::Operator,
        Attach if !facts.command_line => Role::Operator,
        Verbose => Role::Operator,
        // A new command line, a stop of a HAM, a membership change; and another process's
        // pulses, which are not the caller's to take.
        Attach | ActionRestart | ActionExecute | ActionFailExecute => Role::Admin,
        Stop | AddNode | RemoveNode => Role::Admin,
        PulseChannel => Role::Admin,
    };
    Need::Role(role)
}

/// Whether a caller holding `granted` (None: no role at all) may make a call that needs `need`.
pub fn allows(granted: Option<Role>, need: Need) -> bool {
    match need {
        Need::OwnProcess => true,
        Need::Role(r) => granted.is_some_and(|g| g >= r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = include_str!("../../../proto/ham/v1/ham.proto");

    /// The RPC names of `service Ham` in the `.proto`.
    fn proto_rpcs() -> Vec<String> {
        let service = PROTO
            .split("service Ham {")
            .nth(1)
            .expect("service Ham in ham.proto");
        let body = &service[..service.find("\n}").expect("end of service Ham")];
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .map(|l| l.split(['(', ' ']).next().unwrap_or_default().to_string())
            .collect()
    }

    /// (RPC, command line, read-only, own process, what it needs). Every RPC of the `.proto`
    /// has at least one row; its first row is with no facts set.
    const ROWS: &[(&str, bool, bool, bool, Option<Role>)] = {
        use Role::*;
        const O: Option<Role> = Some(Operator);
        const A: Option<Role> = Some(Admin);
        const R: Option<Role> = Some(Reader);
        const SELF: Option<Role> = None;
        &[
            ("Handshake", false, false, false, R),
            ("Attach", false, false, false, O),
            ("Attach", true, false, false, A),
            ("Attach", true, false, true, A),
            ("AttachSelf", false, false, false, O),
            ("AttachSelf", false, false, true, O),
            ("Detach", false, false, false, O),
            ("Detach", false, false, true, SELF),
            ("Entity", false, false, false, O),
            ("Condition", false, false, false, O),
            ("ConditionRaise", false, false, false, O),
            ("ConditionState", false, false, false, O),
            ("ConditionRemove", false, false, false, O),
            ("ActionRestart", false, false, false, A),
            ("ActionRestart", false, false, true, A),
            ("ActionExecute", false, false, false, A),
            ("ActionWaitfor", false, false, false, O),
            ("ActionNotifyPulse", false, false, false, O),
            ("ActionNotifySignal", false, false, false, O),
            ("ActionHeartbeatHealthy", false, false, false, O),
            ("ActionLog", false, false, false, O),
            ("ActionFailExecute", false, false, false, A),
            ("ActionFailWaitfor", false, false, false, O),
            ("ActionFailNotifyPulse", false, false, false, O),
            ("ActionFailNotifySignal", false, false, false, O),
            ("ActionFailLog", false, false, false, O),
            ("ActionRemove", false, false, false, O),
            ("ActionFailRemove", false, false, false, O),
            ("EntityControl", false, false, false, O),
            ("EntityControl", false, false, true, O),
            ("ConditionControl", false, false, false, O),
            ("ActionControl", false, false, false, O),
            ("EntityConditionRaise", false, false, false, O),
            ("EntityConditionRaise", false, false, true, SELF),
            ("EntityConditionState", false, false, false, O),
            ("EntityConditionState", false, false, true, SELF),
            ("Heartbeat", false, false, false, O),
            ("Heartbeat", false, false, true, SELF),
            ("Stop", false, false, false, A),
            ("Stop", false, false, true, A),
            ("Verbose", false, false, false, O),
            ("Verbose", false, true, false, R),
            ("EntityHandleLookup", false, false, false, R),
            ("ConditionHandleLookup", false, false, false, R),
            ("ActionHandleLookup", false, false, false, R),
            ("Tree", false, false, false, R),
            ("AddNode", false, false, false, A),
            ("RemoveNode", false, false, false, A),
            ("HeartbeatStream", false, false, false, O),
            ("HeartbeatStream", false, false, true, SELF),
            ("PulseChannel", false, false, false, A),
            ("PulseChannel", false, false, true, SELF),
            ("EntityStop", false, false, false, O),
            ("EntityStart", false, false, false, O),
        ]
    };

    fn rpc(name: &str) -> Rpc {
        *Rpc::ALL
            .iter()
            .find(|r| r.name() == name)
            .unwrap_or_else(|| {
                panic!("ham.proto's rpc {name} has no Rpc (and no row in the role table)")
            })
    }

    #[test]
    fn p2_every_rpc_of_the_proto_has_a_row_in_the_role_table() {
        let proto = proto_rpcs();
        assert!(proto.len() >= 39, "{proto:?}");
        for name in &proto {
            rpc(name);
            assert!(
                ROWS.iter().any(|row| row.0 == name),
                "rpc {name} has no row in the role table's test"
            );
        }
        for r in Rpc::ALL {
            assert!(
                proto.iter().any(|n| n == r.name()),
                "{} is not an rpc of service Ham",
                r.name()
            );
        }
    }

    #[test]
    fn p2_p3_role_table() {
        for &(name, command_line, read_only, own_process, want) in ROWS {
            let facts = Facts {
                command_line,
                read_only,
                own_process,
            };
            let want = want.map_or(Need::OwnProcess, Need::Role);
            assert_eq!(required_role(rpc(name), facts), want, "{name} {facts:?}");
        }
    }

    #[test]
    fn p2_roles_include_the_ones_below() {
        let admin = Need::Role(Role::Admin);
        let operator = Need::Role(Role::Operator);
        let reader = Need::Role(Role::Reader);
        assert!(allows(Some(Role::Admin), operator));
        assert!(allows(Some(Role::Operator), reader));
        assert!(!allows(Some(Role::Operator), admin));
        assert!(!allows(Some(Role::Reader), operator));
        assert!(!allows(None, reader));
        assert!(allows(None, Need::OwnProcess));
    }

    #[test]
    fn p8_what_a_reader_may_call_is_no_write() {
        for r in Rpc::ALL {
            for read_only in [false, true] {
                let facts = Facts {
                    read_only,
                    ..Facts::default()
                };
                if required_role(*r, facts) == Need::Role(Role::Reader) {
                    assert!(!is_write(*r, facts), "{r:?}");
                }
            }
        }
        let none = Facts::default();
        assert!(is_write(Rpc::Attach, none) && is_write(Rpc::Verbose, none));
        assert!(!is_write(Rpc::Heartbeat, none) && !is_write(Rpc::Tree, none));
    }
}
