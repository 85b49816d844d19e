//! Flag bits, the masks of each kind of object, wildcards (HAM-CONTRACT X2, K6, K7, A11).
//!
//! All flags share one bit space so that a flag given to the wrong kind of
//! object is caught (EINVAL), never silently reinterpreted.

/// Condition or action: keep it after the entity restarts.
pub const HREARMAFTERRESTART: u32 = 0x0000_0001;
/// Entity: keep it (with its conditions) after a death that is not restarted.
pub const HENTITYKEEPONDEATH: u32 = 0x0000_0010;
/// Condition: runs on the shared no-wait executor; may hold no waitfor.
pub const HCONDNOWAIT: u32 = 0x0000_0100;
/// Condition: runs on an executor of its own.
pub const HCONDINDEPENDENT: u32 = 0x0000_0200;
/// STATE condition: the from filter is a bitmap of states 0..63.
pub const HCONDSTATEFROMSET: u32 = 0x0000_0400;
/// STATE condition: the to filter is a bitmap of states 0..63.
pub const HCONDSTATETOSET: u32 = 0x0000_0800;
/// STATE condition: invert the match of the from set.
pub const HCONDSTATEFROMINV: u32 = 0x0000_1000;
/// STATE condition: invert the match of the to set.
pub const HCONDSTATETOINV: u32 = 0x0000_2000;
/// Execute action: also run it once when it is added (ignored on waitfor).
pub const HACTIONDONOW: u32 = 0x0001_0000;
/// Action: when it fails, the actions after it in the condition do not run.
pub const HACTIONBREAKONFAIL: u32 = 0x0002_0000;
/// Action: keep it after it failed (by default it is removed).
pub const HACTIONKEEPONFAIL: u32 = 0x0004_0000;
/// Execute action: wait for the command to exit; fail on non-zero or timeout.
pub const HACTIONWAIT: u32 = 0x0008_0000;
/// Control commands only: enable/disable apply to everything below.
pub const HRECURSE: u32 = 0x0100_0000;

/// Flags an entity may carry.
pub const ENTITY_FLAGS: u32 = HENTITYKEEPONDEATH;
/// Flags any condition may carry.
pub const CONDITION_FLAGS: u32 = HREARMAFTERRESTART | HCONDNOWAIT | HCONDINDEPENDENT;
/// Flags only a STATE condition may carry, on top of [`CONDITION_FLAGS`].
pub const STATE_CONDITION_FLAGS: u32 =
    HCONDSTATEFROMSET | HCONDSTATETOSET | HCONDSTATEFROMINV | HCONDSTATETOINV;
/// Flags any action may carry.
pub const ACTION_FLAGS: u32 =
    HREARMAFTERRESTART | HACTIONDONOW | HACTIONBREAKONFAIL | HACTIONKEEPONFAIL;
/// Flags only an execute action may carry, on top of [`ACTION_FLAGS`].
pub const EXECUTE_ACTION_FLAGS: u32 = HACTIONWAIT;
/// Flags a control command takes besides the object's own.
pub const CONTROL_FLAGS: u32 = HRECURSE;

/// The name of every flag, in bit order.
pub const NAMES: &[(&str, u32)] = &[
    ("HREARMAFTERRESTART", HREARMAFTERRESTART),
    ("HENTITYKEEPONDEATH", HENTITYKEEPONDEATH),
    ("HCONDNOWAIT", HCONDNOWAIT),
    ("HCONDINDEPENDENT", HCONDINDEPENDENT),
    ("HCONDSTATEFROMSET", HCONDSTATEFROMSET),
    ("HCONDSTATETOSET", HCONDSTATETOSET),
    ("HCONDSTATEFROMINV", HCONDSTATEFROMINV),
    ("HCONDSTATETOINV", HCONDSTATETOINV),
    ("HACTIONDONOW", HACTIONDONOW),
    ("HACTIONBREAKONFAIL", HACTIONBREAKONFAIL),
    ("HACTIONKEEPONFAIL", HACTIONKEEPONFAIL),
    ("HACTIONWAIT", HACTIONWAIT),
    ("HRECURSE", HRECURSE),
];

/// RAISE filter wildcard for the type.
pub const CONDRAISETYPEANY: i32 = -1;
/// RAISE filter wildcard for the class.
pub const CONDRAISECLASSANY: i32 = -1;
/// RAISE filter wildcard for the severity.
pub const CONDRAISESEVERITYANY: i32 = -1;
/// STATE filter wildcard (when the filter is a value, not a set).
pub const CONDSTATEANY: i64 = -1;

/// Smallest heartbeat period, in nanoseconds (10 ms, HAM-CONTRACT E4).
pub const HAMHBEATMIN: u64 = 10_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_the_vocabulary() {
        assert_eq!(HREARMAFTERRESTART, 0x1);
        assert_eq!(HENTITYKEEPONDEATH, 0x10);
        assert_eq!(HCONDSTATETOINV, 0x2000);
        assert_eq!(HACTIONWAIT, 0x8_0000);
        assert_eq!(HRECURSE, 0x100_0000);
        assert_eq!(ENTITY_FLAGS & CONDITION_FLAGS, 0);
        assert_eq!(CONDITION_FLAGS & ACTION_FLAGS, HREARMAFTERRESTART);
    }

    #[test]
    fn bits_are_single_and_distinct_and_every_bit_has_a_home() {
        let mut seen = 0;
        for (name, bit) in NAMES {
            assert_eq!(bit.count_ones(), 1, "{name}");
            assert_eq!(seen & bit, 0, "{name}");
            seen |= bit;
        }
        let homes = ENTITY_FLAGS
            | CONDITION_FLAGS
            | STATE_CONDITION_FLAGS
            | ACTION_FLAGS
            | EXECUTE_ACTION_FLAGS
            | CONTROL_FLAGS;
        assert_eq!(homes, seen);
    }
}
