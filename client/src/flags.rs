//! Flag bits, control commands and wildcards (docs/vocabulary.md).
//!
//! All flags share one namespace; each object accepts only its own bits and
//! answers EINVAL for the others.

/// Condition or action: keep it after the entity restarts.
pub const HREARMAFTERRESTART: u32 = 0x0000_0001;
/// Entity: keep it (with its conditions) after a death that is not restarted.
pub const HENTITYKEEPONDEATH: u32 = 0x0000_0010;
/// Condition: runs on the shared no-wait executor; may hold no waitfor.
pub const HCONDNOWAIT: u32 = 0x0000_0100;
/// Condition: runs on its own executor.
pub const HCONDINDEPENDENT: u32 = 0x0000_0200;
/// STATE condition: the from filter is a bitmap of states 0..63.
pub const HCONDSTATEFROMSET: u32 = 0x0000_0400;
/// STATE condition: the to filter is a bitmap of states 0..63.
pub const HCONDSTATETOSET: u32 = 0x0000_0800;
/// STATE condition: invert the match of the from filter.
pub const HCONDSTATEFROMINV: u32 = 0x0000_1000;
/// STATE condition: invert the match of the to filter.
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

/// Flags valid on an entity.
pub const ENTITY_FLAGS: u32 = HENTITYKEEPONDEATH;
/// Flags valid on a condition (the state bits only on STATE conditions).
pub const CONDITION_FLAGS: u32 = HREARMAFTERRESTART
    | HCONDNOWAIT
    | HCONDINDEPENDENT
    | HCONDSTATEFROMSET
    | HCONDSTATETOSET
    | HCONDSTATEFROMINV
    | HCONDSTATETOINV;
/// Flags valid on an action (HACTIONWAIT only on execute actions).
pub const ACTION_FLAGS: u32 =
    HREARMAFTERRESTART | HACTIONDONOW | HACTIONBREAKONFAIL | HACTIONKEEPONFAIL | HACTIONWAIT;

/// Control command: enable the object.
pub const HENABLE: i32 = 1;
/// Control command: disable the object.
pub const HDISABLE: i32 = 2;
/// Control command: add flags.
pub const HADDFLAGS: i32 = 3;
/// Control command: remove flags.
pub const HREMOVEFLAGS: i32 = 4;
/// Control command: set the flags.
pub const HSETFLAGS: i32 = 5;
/// Control command: read the flags.
pub const HGETFLAGS: i32 = 6;

/// RAISE filter wildcard for the type.
pub const CONDRAISETYPEANY: i32 = -1;
/// RAISE filter wildcard for the class.
pub const CONDRAISECLASSANY: i32 = -1;
/// RAISE filter wildcard for the severity.
pub const CONDRAISESEVERITYANY: i32 = -1;
/// STATE filter wildcard (when the filter is a value, not a set).
pub const CONDSTATEANY: i64 = -1;

/// Smallest heartbeat period, in nanoseconds (10 ms).
pub const HAMHBEATMIN: u64 = 10_000_000;

/// The names of every flag, in bit order, for parsing and printing.
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

/// A state set (bitmap of states 0..63) as the `i64` the API carries.
pub fn state_set(states: &[u8]) -> i64 {
    let bits = states
        .iter()
        .filter(|s| **s < 64)
        .fold(0u64, |acc, s| acc | (1u64 << s));
    i64::from_ne_bytes(bits.to_ne_bytes())
}

/// Names the bits of `flags`, joined by `|` (`0` when none; unknown bits in
/// hexadecimal).
pub fn describe(flags: u32) -> String {
    let mut parts: Vec<String> = NAMES
        .iter()
        .filter(|(_, bit)| flags & bit != 0)
        .map(|(name, _)| (*name).to_owned())
        .collect();
    let known = NAMES.iter().fold(0, |acc, (_, bit)| acc | bit);
    if flags & !known != 0 {
        parts.push(format!("{:#x}", flags & !known));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

/// Parses flags written as names and numbers joined by `|` or `,`
/// (`HREARMAFTERRESTART|0x10`). The leading `H` of a name may be left out
/// and case does not matter.
pub fn parse(text: &str) -> Option<u32> {
    let mut flags = 0;
    for word in text
        .split(['|', ','])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let upper = word.to_ascii_uppercase();
        let bit = if let Some(hex) = upper.strip_prefix("0X") {
            u32::from_str_radix(hex, 16).ok()?
        } else if let Ok(n) = upper.parse::<u32>() {
            n
        } else {
            NAMES
                .iter()
                .find(|(name, _)| *name == upper || name[1..] == upper)
                .map(|(_, bit)| *bit)?
        };
        flags |= bit;
    }
    Some(flags)
}

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
    fn state_sets_are_bitmaps() {
        assert_eq!(state_set(&[0, 2]), 0b101);
        assert_eq!(state_set(&[63]), i64::MIN);
        assert_eq!(state_set(&[64]), 0);
    }

    #[test]
    fn parse_and_describe() {
        assert_eq!(parse("HREARMAFTERRESTART|0x10"), Some(0x11));
        assert_eq!(parse("condnowait, rearmafterrestart"), Some(0x101));
        assert_eq!(parse("16"), Some(16));
        assert_eq!(parse(""), Some(0));
        assert_eq!(parse("nonsense"), None);
        assert_eq!(describe(0), "0");
        assert_eq!(describe(0x101), "HREARMAFTERRESTART|HCONDNOWAIT");
        assert_eq!(describe(0x8000_0001), "HREARMAFTERRESTART|0x80000000");
    }
}
