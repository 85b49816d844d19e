//! Control commands, condition types and action types, with their wire numbers.

macro_rules! numbered {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in number order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire number (the same as the `.proto` enum's).
            pub const fn code(self) -> i32 {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            /// The value of a wire number (None for 0 = unspecified, and
            /// unknown numbers).
            pub fn from_code(code: i32) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The QNX name (`HENABLE`, `CONDDEATH`, `restart`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }
    };
}

numbered! {
    /// A control command (`ham_*_control`, HAM-CONTRACT X1, X2).
    ControlCommand {
        /// Enable the object (and, with HRECURSE, everything below).
        Enable = 1, "HENABLE";
        /// Disable the object (and, with HRECURSE, everything below).
        Disable = 2, "HDISABLE";
        /// OR the given flags in.
        AddFlags = 3, "HADDFLAGS";
        /// Clear the given flags.
        RemoveFlags = 4, "HREMOVEFLAGS";
        /// Replace the flags.
        SetFlags = 5, "HSETFLAGS";
        /// Read the flags.
        GetFlags = 6, "HGETFLAGS";
    }
}

numbered! {
    /// What happened to an entity; conditions of the matching type trigger
    /// (HAM-CONTRACT K1, S, W).
    ConditionType {
        /// The process died, however.
        Death = 1, "CONDDEATH";
        /// The process was killed by a core-dumping signal.
        AbnormalDeath = 2, "CONDABNORMALDEATH";
        /// The entity is being detached.
        Detach = 3, "CONDDETACH";
        /// A placeholder was filled by an attach.
        Attach = 4, "CONDATTACH";
        /// `hpdl` heartbeats in a row were missed.
        HbeatMissedLow = 5, "CONDHBEATMISSEDLOW";
        /// `hpdh` heartbeats in a row were missed.
        HbeatMissedHigh = 6, "CONDHBEATMISSEDHIGH";
        /// The entity was restarted by a restart action.
        Restart = 7, "CONDRESTART";
        /// The entity raised a condition (type, class, severity).
        Raise = 8, "CONDRAISE";
        /// The entity reported a state transition.
        State = 9, "CONDSTATE";
        /// Any of the above.
        Any = 10, "CONDANY";
        /// A node of the cluster went down (cluster-wide global entity only).
        NodeDown = 11, "CONDNODEDOWN";
        /// The entity was restarted too often in a window (service watching escalation).
        Escalate = 12, "CONDESCALATE";
    }
}

numbered! {
    /// The kind of an action (HAM-CONTRACT A1); the `_node` forms are the same
    /// kinds with a target node.
    ActionType {
        /// Start the entity again.
        Restart = 1, "restart";
        /// Spawn a command.
        Execute = 2, "execute";
        /// Wait a delay, or until a path exists.
        Waitfor = 3, "waitfor";
        /// Send a pulse to a channel of a process.
        NotifyPulse = 4, "notify_pulse";
        /// Send a queued signal with a value to a process.
        NotifySignal = 5, "notify_signal";
        /// Reset the entity's heartbeat state to OK.
        HeartbeatHealthy = 6, "heartbeat_healthy";
        /// Write a message to the node's activity log.
        Log = 7, "log";
    }
}

/// Control command numbers as QNX spells them (`ham_entity_control(..., HENABLE, ...)`).
pub const HENABLE: i32 = ControlCommand::Enable.code();
/// See [`ControlCommand::Disable`].
pub const HDISABLE: i32 = ControlCommand::Disable.code();
/// See [`ControlCommand::AddFlags`].
pub const HADDFLAGS: i32 = ControlCommand::AddFlags.code();
/// See [`ControlCommand::RemoveFlags`].
pub const HREMOVEFLAGS: i32 = ControlCommand::RemoveFlags.code();
/// See [`ControlCommand::SetFlags`].
pub const HSETFLAGS: i32 = ControlCommand::SetFlags.code();
/// See [`ControlCommand::GetFlags`].
pub const HGETFLAGS: i32 = ControlCommand::GetFlags.code();

impl ControlCommand {
    /// The new flag word after this command, or None for enable/disable/get.
    pub fn new_flags(self, current: u32, given: u32) -> Option<u32> {
        match self {
            ControlCommand::AddFlags => Some(current | given),
            ControlCommand::RemoveFlags => Some(current & !given),
            ControlCommand::SetFlags => Some(given),
            ControlCommand::Enable | ControlCommand::Disable | ControlCommand::GetFlags => None,
        }
    }
}

impl ConditionType {
    /// The QNX-style name shown in `.info` files (`CONDDEATH`).
    pub fn info_name(self) -> &'static str {
        self.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_zero_is_unspecified() {
        for c in ControlCommand::ALL {
            assert_eq!(ControlCommand::from_code(c.code()), Some(*c));
        }
        for t in ConditionType::ALL {
            assert_eq!(ConditionType::from_code(t.code()), Some(*t));
        }
        for a in ActionType::ALL {
            assert_eq!(ActionType::from_code(a.code()), Some(*a));
        }
        for code in [0, 7, -1, 100] {
            assert_eq!(ControlCommand::from_code(code), None);
        }
        assert_eq!(ConditionType::from_code(0), None);
        assert_eq!(ActionType::from_code(0), None);
        assert_eq!(ControlCommand::from_code(6), Some(ControlCommand::GetFlags));
    }
}
