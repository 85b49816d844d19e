//! Which proposals the log already applied, so that a proposal sent twice is applied once.
//!
//! A follower forwards a proposal to the leader it knows. If that leader dies, the proposal may
//! be lost, or may sit in the new leader's log and commit there: the follower cannot tell. So
//! when the leader changes, it proposes it again under the same request id, and every node skips
//! the copy that comes second. For that, every node keeps the same record of applied
//! `(origin, request)` pairs: it is derived from applied entries only, and travels inside
//! snapshots, so it is identical on every node at a given index.
//!
//! Request ids are `boot << SEQ_BITS | seq` (see `Driver::next_request_id`): per origin and
//! boot, the ids of applied proposals are nearly contiguous (gaps only where a proposal never
//! committed), so they are kept as ranges. Only the two latest boots of each origin are kept: a
//! node retries only its own current requests, and an earlier boot's copies can at most still
//! be in flight when the node restarts. A boot with more than [`MAX_RANGES`] gaps forgets its
//! oldest ranges.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Bits of a request id that count proposals within one boot; the bits above are the boot.
pub(crate) const SEQ_BITS: u32 = 40;
/// Ranges kept per origin and boot.
const MAX_RANGES: usize = 4096;
/// Boots kept per origin.
const BOOTS_KEPT: usize = 2;

/// Applied request ids: origin -> boot -> sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Applied {
    origins: BTreeMap<u64, BTreeMap<u64, Vec<(u64, u64)>>>,
}

impl Applied {
    /// Records `request` of `origin` as applied; false when it already was (a duplicate).
    pub(crate) fn record(&mut self, origin: u64, request: u64) -> bool {
        let (boot, seq) = (request >> SEQ_BITS, request & ((1 << SEQ_BITS) - 1));
        let boots = self.origins.entry(origin).or_default();
        if boots.len() >= BOOTS_KEPT && boots.keys().next().is_some_and(|&b| boot < b) {
            // Older than every boot kept: too old to be a retry of anything we could tell.
            return true;
        }
        let ranges = boots.entry(boot).or_default();
        let fresh = insert(ranges, seq);
        while boots.len() > BOOTS_KEPT {
            boots.pop_first();
        }
        fresh
    }
}

/// Adds `seq` to `ranges`; false if it was there.
fn insert(ranges: &mut Vec<(u64, u64)>, seq: u64) -> bool {
    // First range that ends at or after seq - 1 (the one seq may extend or fall in).
    let i = ranges.partition_point(|&(_, hi)| hi.saturating_add(1) < seq);
    if let Some(&(lo, hi)) = ranges.get(i) {
        if lo <= seq && seq <= hi {
            return false;
        }
        if hi.saturating_add(1) == seq {
            // Extends range i upwards; it may now touch range i + 1.
            ranges[i].1 = seq;
            if ranges.get(i + 1).is_some_and(|&(next, _)| next == seq + 1) {
                ranges[i].1 = ranges[i + 1].1;
                ranges.remove(i + 1);
            }
            return true;
        }
        if seq + 1 == lo {
            ranges[i].0 = seq;
            return true;
        }
    }
    ranges.insert(i, (seq, seq));
    if ranges.len() > MAX_RANGES {
        ranges.remove(0);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(boot: u64, seq: u64) -> u64 {
        (boot << SEQ_BITS) | seq
    }

    #[test]
    fn a_request_is_applied_once_and_ranges_stay_compact() {
        let mut a = Applied::default();
        // Out of order, with a gap that closes later.
        for seq in [1, 2, 3, 5, 6, 9, 8, 7, 4] {
            assert!(a.record(1, id(1, seq)), "first time {seq}");
        }
        for seq in 1..=9 {
            assert!(!a.record(1, id(1, seq)), "again {seq}");
        }
        assert_eq!(a.origins[&1][&1], vec![(1, 9)]);
        assert!(a.record(1, id(1, 11)));
        assert!(a.record(1, id(1, 0)));
        assert_eq!(a.origins[&1][&1], vec![(0, 9), (11, 11)]);
        // Other origins and boots are independent.
        assert!(a.record(2, id(1, 1)));
        assert!(a.record(1, id(2, 1)));
        assert!(!a.record(1, id(2, 1)));
    }

    #[test]
    fn only_the_latest_boots_are_kept() {
        let mut a = Applied::default();
        for boot in 1..=4 {
            assert!(a.record(7, id(boot, 1)));
        }
        assert_eq!(a.origins[&7].keys().copied().collect::<Vec<_>>(), [3, 4]);
        // A request of a forgotten boot is not held back.
        assert!(a.record(7, id(1, 1)));
        assert_eq!(a.origins[&7].len(), 2);
    }

    #[test]
    fn many_gaps_forget_the_oldest_ranges() {
        let mut a = Applied::default();
        for k in 0..(MAX_RANGES as u64 + 10) {
            assert!(a.record(1, id(1, 2 * k)));
        }
        let ranges = &a.origins[&1][&1];
        assert_eq!(ranges.len(), MAX_RANGES);
        assert_eq!(ranges[0], (20, 20));
    }

    #[test]
    fn survives_a_round_trip() {
        let mut a = Applied::default();
        for seq in [1, 2, 4] {
            a.record(3, id(5, seq));
        }
        let bytes = postcard::to_allocvec(&a).unwrap();
        assert_eq!(postcard::from_bytes::<Applied>(&bytes).unwrap(), a);
    }
}
