//! What a round checks, as pure functions of what the witness received and what the writer
//! was told: overlaps (two copies of one entity running at once), lost acknowledged writes,
//! duplicated entities, entities not running after the heal, and how long each entity was
//! without a running copy.

use super::witness::{Copy, Report};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Two copies of one entity that ran at the same time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The entity's index.
    pub entity: usize,
    /// The older copy (first reported first).
    pub older: Copy,
    /// The newer copy.
    pub newer: Copy,
    /// How long, by the witness's clock, the older copy went on reporting after the newer
    /// one's first report (more than the tolerance).
    pub witness_ns: i64,
    /// How long after the newer copy's start reading the older one still read the clock
    /// (> 0: the copies' own readings prove they ran together); 0 if they do not.
    pub senders_ns: i64,
}

/// The span of one copy in the reports: first and last receipt, last send reading.
#[derive(Debug, Clone, Copy)]
struct Span {
    first_recv: i64,
    last_recv: i64,
    last_sent: i64,
}

fn spans(reports: &[Report]) -> BTreeMap<usize, Vec<(Copy, Span)>> {
    let mut by: HashMap<(usize, Copy), Span> = HashMap::new();
    for r in reports {
        by.entry((r.entity, r.copy))
            .and_modify(|s| {
                s.first_recv = s.first_recv.min(r.recv_ns);
                s.last_recv = s.last_recv.max(r.recv_ns);
                s.last_sent = s.last_sent.max(r.sent_ns);
            })
            .or_insert(Span {
                first_recv: r.recv_ns,
                last_recv: r.recv_ns,
                last_sent: r.sent_ns,
            });
    }
    let mut out: BTreeMap<usize, Vec<(Copy, Span)>> = BTreeMap::new();
    for ((entity, copy), span) in by {
        out.entry(entity).or_default().push((copy, span));
    }
    for copies in out.values_mut() {
        copies.sort_by_key(|(copy, s)| (s.first_recv, *copy));
    }
    out
}

/// Every pair of copies of one entity that reported inside one interval: the older copy
/// received later than `tolerance_ns` (the measured report jitter) after the newer one's
/// first report, by the witness's clock. The copies' own clock readings (the same clock) are
/// given too: they tell whether the older one really ran after the newer one started, with no
/// tolerance at all, and so whether a witness overlap is a report delayed past the jitter.
pub fn overlaps(reports: &[Report], tolerance_ns: i64) -> Vec<Overlap> {
    let mut out = Vec::new();
    for (entity, copies) in spans(reports) {
        for (i, (older, a)) in copies.iter().enumerate() {
            for (newer, b) in &copies[i + 1..] {
                let witness_ns = a.last_recv - b.first_recv;
                let senders_ns = (a.last_sent - newer.1).max(0);
                if witness_ns > tolerance_ns || senders_ns > 0 {
                    out.push(Overlap {
                        entity,
                        older: *older,
                        newer: *newer,
                        witness_ns,
                        senders_ns,
                    });
                }
            }
        }
    }
    out
}

/// How an entity went through a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The copy running at the fault kept running; the longest gap between two of its
    /// reports from the fault on.
    Survived { max_gap_ns: i64 },
    /// Another copy replaced it: the time from the fault to its first report.
    Replaced { after_ns: i64 },
    /// No copy reported after the fault.
    NotRunning,
}

/// For each of `entities` entities, how it went through a fault at `fault_ns`, from the
/// reports of the round (which start before the fault).
pub fn outcomes(reports: &[Report], entities: usize, fault_ns: i64) -> Vec<Outcome> {
    (0..entities)
        .map(|e| {
            let mine: Vec<&Report> = reports.iter().filter(|r| r.entity == e).collect();
            let before = mine
                .iter()
                .rev()
                .find(|r| r.recv_ns < fault_ns)
                .map(|r| r.copy);
            let after: Vec<&&Report> = mine.iter().filter(|r| r.recv_ns >= fault_ns).collect();
            if let Some(other) = after.iter().find(|r| Some(r.copy) != before) {
                return Outcome::Replaced {
                    after_ns: other.recv_ns - fault_ns,
                };
            }
            if after.is_empty() {
                return Outcome::NotRunning;
            }
            let mut last = fault_ns;
            let mut max_gap_ns = 0;
            for r in &after {
                max_gap_ns = max_gap_ns.max(r.recv_ns - last);
                last = r.recv_ns;
            }
            Outcome::Survived { max_gap_ns }
        })
        .collect()
}

/// The entities (by index) with no report received at or after `since_ns`, or whose last
/// report came from another network namespace than `home` says (a local entity runs on its
/// node, always).
pub fn not_running(reports: &[Report], home: &[u64], since_ns: i64) -> Vec<usize> {
    (0..home.len())
        .filter(|&e| {
            let last = reports
                .iter()
                .rev()
                .find(|r| r.entity == e && r.recv_ns >= since_ns);
            last.is_none_or(|r| r.netns != home[e])
        })
        .collect()
}

/// The acknowledged writes missing from what a linearizable read returned.
pub fn lost<'a>(acked: &'a [String], present: &HashSet<String>) -> Vec<&'a String> {
    acked.iter().filter(|n| !present.contains(*n)).collect()
}

/// The names that occur more than once.
pub fn duplicated(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut twice: Vec<String> = names
        .iter()
        .filter(|n| !seen.insert(n.as_str()))
        .cloned()
        .collect();
    twice.sort();
    twice.dedup();
    twice
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// Reports of `copy` of entity 0 every 10 ms from `from` to `to` (ms), received `delay` ms
    /// after they were sent.
    fn run(copy: Copy, from: i64, to: i64, delay: i64) -> Vec<Report> {
        (from..=to)
            .step_by(10)
            .map(|t| Report {
                entity: 0,
                generation: 0,
                netns: 1,
                copy,
                sent_ns: t * MS,
                recv_ns: (t + delay) * MS,
            })
            .collect()
    }

    fn merged(mut parts: Vec<Vec<Report>>) -> Vec<Report> {
        let mut all: Vec<Report> = parts.drain(..).flatten().collect();
        all.sort_by_key(|r| r.recv_ns);
        all
    }

    #[test]
    fn a_replacement_after_the_old_copy_stopped_is_no_overlap() {
        // The old copy's last report at 100 ms, the new one started at 102 ms: a restart
        // faster than the report interval is still one copy at a time.
        let r = merged(vec![
            run((1, 0), 0, 100, 1),
            run((2, 102 * MS), 102, 200, 1),
        ]);
        assert_eq!(overlaps(&r, 2 * MS), vec![]);
        assert_eq!(
            outcomes(&r, 1, 101 * MS),
            vec![Outcome::Replaced { after_ns: 2 * MS }]
        );
    }

    #[test]
    fn two_copies_reporting_in_one_interval_overlap() {
        let r = merged(vec![
            run((1, 0), 0, 150, 1),
            run((2, 100 * MS), 100, 200, 1),
        ]);
        let o = overlaps(&r, 2 * MS);
        assert_eq!(o.len(), 1, "{o:?}");
        assert_eq!((o[0].older, o[0].newer), ((1, 0), (2, 100 * MS)));
        assert_eq!(o[0].witness_ns, 50 * MS);
        assert_eq!(o[0].senders_ns, 50 * MS);
    }

    #[test]
    fn a_report_late_within_the_jitter_is_no_overlap_and_past_it_one_for_the_witness_alone() {
        // The old copy's last report, sent at 100 ms before the new copy started at 101 ms,
        // arrives 3 ms late, after the new copy's first: within a 4 ms jitter the witness
        // sees no overlap, and neither do the copies' own readings.
        let mut old = run((1, 0), 0, 100, 1);
        old.last_mut().unwrap().recv_ns = 103 * MS;
        let r = merged(vec![old, run((2, 101 * MS), 101, 200, 0)]);
        assert_eq!(overlaps(&r, 4 * MS), vec![]);
        // With a 1 ms jitter it is an overlap for the witness, and only for it.
        let o = overlaps(&r, MS);
        assert_eq!(o.len(), 1);
        assert_eq!((o[0].witness_ns, o[0].senders_ns), (2 * MS, 0));
    }

    #[test]
    fn a_copy_that_keeps_running_survives_with_its_longest_gap() {
        let mut r = run((1, 0), 0, 100, 1);
        r.extend(run((1, 0), 300, 400, 1));
        assert_eq!(
            outcomes(&r, 1, 50 * MS),
            vec![Outcome::Survived {
                max_gap_ns: 200 * MS
            }]
        );
        assert_eq!(outcomes(&r, 2, 50 * MS)[1], Outcome::NotRunning);
    }

    #[test]
    fn running_after_the_heal_means_a_report_from_its_own_node() {
        let r = run((1, 0), 0, 100, 1);
        assert_eq!(not_running(&r, &[1], 50 * MS), Vec::<usize>::new());
        assert_eq!(not_running(&r, &[1], 200 * MS), vec![0], "no report since");
        assert_eq!(not_running(&r, &[2], 50 * MS), vec![0], "another node");
    }

    #[test]
    fn lost_writes_and_duplicates_are_named() {
        let acked: Vec<String> = ["w0", "w1", "w2"].map(String::from).to_vec();
        let present: HashSet<String> = ["w0", "w2", "x"].map(String::from).into();
        assert_eq!(lost(&acked, &present), vec!["w1"]);
        let names: Vec<String> = ["a", "b", "a", "c", "b", "a"].map(String::from).to_vec();
        assert_eq!(duplicated(&names), vec!["a", "b"]);
    }
}
