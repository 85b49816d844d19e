//! Flag bits, control commands and wildcards: the vocabulary's
//! (`ham_vocab::flags`, re-exported), with helpers to build state sets and
//! to parse and print flag words.
//!
//! All flags share one namespace; each object accepts only its own bits and
//! answers EINVAL for the others.

pub use ham_vocab::flags::*;
pub use ham_vocab::{HADDFLAGS, HDISABLE, HENABLE, HGETFLAGS, HREMOVEFLAGS, HSETFLAGS};

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
