//! The suite's cluster and its rounds: a seeded draw of one fault per round, the fault held,
//! healed, a bounded wait until the cluster is healthy again, the checks, and the figures
//! per fault kind at the end.

use super::checks::{self, Outcome, Overlap};
use super::faults::{self, Fault};
use super::witness::{self, Witness, monotonic_ns};
use super::workload::{self, Workload};
use ham_client::{Ham, NodeSel};
use ham_integration_tests::cluster::TestCluster;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");
const MS: i64 = 1_000_000;

/// Nodes of the suite's cluster.
pub const NODES: usize = 3;
/// Workload entities per node.
pub const PER_NODE: usize = 2;
/// Bound of every wait for the cluster to be healthy again after a heal.
const HEAL_LIMIT: Duration = Duration::from_secs(30);

/// A small xorshift64* generator: the rounds are a function of the seed alone.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // xorshift never leaves 0.
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for a test's draws.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The cluster, its workloads, the witness and the writer.
pub struct Suite {
    /// Stopped first when the suite ends (its `Drop` waits for the thread).
    pub writer: Option<super::writer::Writer>,
    pub witness: Witness,
    pub cluster: TestCluster,
    /// Entity names, by index.
    pub names: Vec<String>,
    /// Each entity's node's namespace inode.
    pub home: Vec<u64>,
    /// The overlap tolerance: the largest report delay measured at the start.
    pub tolerance_ns: i64,
}

impl Suite {
    /// A namespaced cluster of [`NODES`], [`PER_NODE`] entities of `kind` on each, every
    /// entity reporting, the jitter measured, the writer writing.
    pub fn start(kind: Workload) -> Suite {
        // The harness builds `ham` and `hamctrl` on first use: apart from the set-up's time.
        let built = Instant::now();
        let _ = ham_integration_tests::bin("ham");
        println!(
            "binaries checked (and built if needed) in {:.1} s",
            built.elapsed().as_secs_f64()
        );
        let began = Instant::now();
        let cluster = TestCluster::namespaced(NODES);
        cluster.wait_leader(0, None, Duration::from_secs(20));
        let cluster_up = began.elapsed();
        let mut names = Vec::new();
        let mut node_of = Vec::new();
        for node in 0..NODES {
            for k in 0..PER_NODE {
                names.push(format!("r{}-{k}", node + 1));
                node_of.push(node);
            }
        }
        let netns = cluster.netns.as_ref().expect("namespaces");
        let home: Vec<u64> = node_of.iter().map(|&n| netns.inode(n)).collect();
        let witness = Witness::start(cluster.dir.path(), names.clone());
        let socket = witness.socket().display().to_string();
        rt().block_on(async {
            for (name, &node) in names.iter().zip(&node_of) {
                let ham = cluster.nodes[node].client().await;
                let line = format!("{PROG} report {socket} {name}");
                workload::attach(&ham, kind, node as u64 + 1, name, &line)
                    .await
                    .unwrap_or_else(|e| panic!("attach {name}: {e}"));
            }
        });
        let since = monotonic_ns();
        wait("every workload reporting", Duration::from_secs(20), || {
            checks::not_running(&witness.since(since), &home, since).is_empty()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "set-up: {NODES} nodes with a leader in {:.1} s, {} workloads reporting {:.1} s later",
            cluster_up.as_secs_f64(),
            names.len(),
            (began.elapsed() - cluster_up).as_secs_f64()
        );
        // The report jitter, on the running cluster before any fault.
        let from = monotonic_ns();
        std::thread::sleep(Duration::from_secs(1));
        let (delay, gap) = witness::jitter(&witness.since(from));
        println!(
            "report jitter over 1 s: largest delay send -> witness {:.3} ms, largest gap between \
             two reports of one copy {:.3} ms (period 10 ms); overlap tolerance = {:.3} ms",
            delay as f64 / 1e6,
            gap as f64 / 1e6,
            delay as f64 / 1e6
        );
        let writer =
            super::writer::Writer::start(cluster.nodes.iter().map(|n| n.socket.clone()).collect());
        let suite = Suite {
            writer: Some(writer),
            witness,
            cluster,
            names,
            home,
            tolerance_ns: delay,
        };
        let t = monotonic_ns();
        wait("the writer's first writes", Duration::from_secs(20), || {
            suite.writer().with_log(|l| l.last_ack_ns > t)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        suite
    }

    fn writer(&self) -> &super::writer::Writer {
        self.writer.as_ref().expect("writing")
    }

    /// Waits (bounded) until every node agrees on a leader, every entity reports from its
    /// node, and a write was acknowledged, all after `healed_ns`; returns when the nodes
    /// agreed on a leader (ns after `healed_ns`).
    fn wait_healthy(&self, healed_ns: i64) -> Result<i64, String> {
        let c = &self.cluster;
        wait("every node to agree on a leader", HEAL_LIMIT, || {
            let seen: Vec<Option<usize>> = (0..NODES).map(|i| c.leader_seen_by(i)).collect();
            seen[0].is_some() && seen.iter().all(|l| *l == seen[0])
        })?;
        let leader_ns = monotonic_ns() - healed_ns;
        wait("every entity running on its node", HEAL_LIMIT, || {
            checks::not_running(&self.witness.since(healed_ns), &self.home, healed_ns).is_empty()
        })?;
        wait("a write acknowledged", HEAL_LIMIT, || {
            self.writer().with_log(|l| l.last_ack_ns > healed_ns)
        })?;
        Ok(leader_ns)
    }

    /// The names in every node's context, by a linearizable read through the first node
    /// that answers.
    fn read_back(&self) -> Result<Vec<String>, String> {
        rt().block_on(async {
            let mut last = String::new();
            for node in &self.cluster.nodes {
                let Ok(Ok(ham)) =
                    tokio::time::timeout(Duration::from_secs(2), Ham::connect_uds(&node.socket))
                        .await
                else {
                    continue;
                };
                let mut names = Vec::new();
                let mut ok = true;
                for id in 1..=NODES as u64 {
                    match tokio::time::timeout(
                        Duration::from_secs(10),
                        ham.tree(NodeSel::Id(id), "", "", "", true),
                    )
                    .await
                    {
                        Ok(Ok(tree)) => names.extend(tree.entities.into_iter().map(|e| e.name)),
                        Ok(Err(e)) => {
                            last = format!("{}: {e}", node.name);
                            ok = false;
                            break;
                        }
                        Err(_) => {
                            last = format!("{}: no answer in 10 s", node.name);
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    return Ok(names);
                }
            }
            Err(format!("no node answered a linearizable read ({last})"))
        })
    }

    /// Live `report` processes per entity: more than one is a duplicate, whatever the
    /// witness saw.
    fn live_copies(&self) -> Vec<usize> {
        let socket = self.witness.socket().display().to_string();
        let mut count = vec![0; self.names.len()];
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return count;
        };
        for pid in entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|&b| b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            });
            if args.len() >= 4
                && args[1] == "report"
                && args[2] == socket
                && !zombie
                && let Some(e) = self.names.iter().position(|n| *n == args[3])
            {
                count[e] += 1;
            }
        }
        count
    }

    /// The last lines of every node's log, for a failure message.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for n in &self.cluster.nodes {
            let text = n.log_text();
            let lines: Vec<&str> = text.lines().collect();
            out += &format!("--- {} ({}), last 40 lines:\n", n.name, n.log.display());
            for l in &lines[lines.len().saturating_sub(40)..] {
                out += l;
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        self.writer.take();
        // Workloads re-adopted by a restarted agent are no descendants of any agent the
        // harness started: kill everything in the namespaces before they go.
        for n in &mut self.cluster.nodes {
            n.kill_all();
        }
        if let Some(netns) = &self.cluster.netns {
            for i in 0..NODES {
                netns.kill_inside(i);
            }
        }
    }
}

/// Waits (bounded) for `f`, polling every 20 ms.
fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("timed out after {limit:?} waiting for {what}"))
}

/// What one round saw.
#[derive(Debug, Clone)]
pub struct Round {
    pub fault: Fault,
    pub node: usize,
    pub hold: Duration,
    /// For a held fault: whether another node showed the faulty one DOWN (its lease ran
    /// out) before the heal, which tells that the fault took effect.
    pub marked_down: Option<bool>,
    pub outcomes: Vec<Outcome>,
    pub overlaps: Vec<Overlap>,
    /// Acknowledged writes missing from the read-back so far (all rounds).
    pub lost: usize,
    /// Names twice in one read-back (writes or workload entities).
    pub duplicated: Vec<String>,
    /// Entities with more than one live process at the check.
    pub twice_alive: Vec<usize>,
    /// Retries with the same request id answered EEXIST so far.
    pub eexist: usize,
    /// From the heal to healthy again.
    pub heal_ns: i64,
    /// From the heal to every node naming the same leader (part of `heal_ns`).
    pub leader_ns: i64,
}

impl Round {
    /// Whether the round broke a promise.
    pub fn failed(&self) -> bool {
        !self.overlaps.is_empty()
            || self.lost > 0
            || !self.duplicated.is_empty()
            || !self.twice_alive.is_empty()
            || self.eexist > 0
    }

    /// Its slowest replacement, if any entity was replaced.
    pub fn replacement_ns(&self) -> Option<i64> {
        self.outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Replaced { after_ns } => Some(*after_ns),
                _ => None,
            })
            .max()
    }

    /// The longest gap of a copy that survived the fault.
    pub fn survivor_gap_ns(&self) -> Option<i64> {
        self.outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Survived { max_gap_ns } => Some(*max_gap_ns),
                _ => None,
            })
            .max()
    }
}

/// Runs one round: draws the fault, injects it, holds it, heals it, waits until healthy,
/// checks.
pub fn round(s: &mut Suite, rng: &mut Rng, kinds: &[Fault]) -> Result<Round, String> {
    let fault = kinds[rng.below(kinds.len())];
    let node = rng.below(NODES);
    // Longer than the test lease (1 s), also after an election (0.5-1 s) when the faulty
    // node led: the others can mark it down while it lasts.
    let hold = Duration::from_millis(2000 + rng.below(1500) as u64);
    let start_ns = monotonic_ns();
    // Reports of every entity before the fault, to tell which copy ran at the fault.
    std::thread::sleep(Duration::from_millis(200));
    let injected = faults::inject(&mut s.cluster, &s.witness, s.names.len(), fault, node)?;
    let marked_down = fault
        .holds()
        .then(|| held_until_marked_down(&s.cluster, injected.node, hold));
    faults::heal(&mut s.cluster, injected);
    let healed_ns = monotonic_ns();
    let leader_ns = s.wait_healthy(healed_ns).map_err(|e| {
        format!(
            "{} on n{}: {e}; witness's last reports per entity: {:?}",
            fault.name(),
            injected.node + 1,
            last_reports(s)
        )
    })?;
    let heal_ns = monotonic_ns() - healed_ns;
    // A copy lives across rounds: take the tail of the round before too.
    let reports = s.witness.since(start_ns - 1000 * MS);
    let overlaps = checks::overlaps(&reports, s.tolerance_ns);
    let outcomes = checks::outcomes(&reports, s.names.len(), injected.at_ns);
    let (acked, eexist) = s.writer().with_log(|l| (l.acked.clone(), l.eexist.len()));
    let names = s.read_back()?;
    let present: HashSet<String> = names.iter().cloned().collect();
    let lost = checks::lost(&acked, &present).len();
    let duplicated = checks::duplicated(&names);
    let twice_alive = s
        .live_copies()
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 1)
        .map(|(e, _)| e)
        .collect();
    s.witness.forget_before(start_ns - 1000 * MS);
    Ok(Round {
        fault,
        node: injected.node,
        hold: if fault.holds() { hold } else { Duration::ZERO },
        marked_down,
        outcomes,
        overlaps,
        lost,
        duplicated,
        twice_alive,
        eexist,
        heal_ns,
        leader_ns,
    })
}

/// Holds a fault for `hold`, watching whether the nodes other than `node` show it DOWN
/// (`hamctrl nodes`) meanwhile.
fn held_until_marked_down(c: &TestCluster, node: usize, hold: Duration) -> bool {
    let start = Instant::now();
    let name = &c.nodes[node].name;
    let mut down = false;
    while start.elapsed() < hold {
        for other in (0..NODES).filter(|&o| o != node) {
            let out = c.nodes[other].hamctrl(&["nodes"]);
            // "2 n2 DOWN voter 10.77.0.2:7001"
            down |= String::from_utf8_lossy(&out.stdout).lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() >= 3 && f[1] == name.as_str() && f[2] == "DOWN"
            });
        }
        std::thread::sleep(Duration::from_millis(100).min(hold.saturating_sub(start.elapsed())));
    }
    down
}

fn last_reports(s: &Suite) -> Vec<String> {
    let reports = s.witness.since(monotonic_ns() - 2000 * MS);
    let now = monotonic_ns();
    s.names
        .iter()
        .enumerate()
        .map(
            |(e, name)| match reports.iter().rev().find(|r| r.entity == e) {
                Some(r) => format!(
                    "{name}: pid {} {:.0} ms ago",
                    r.copy.0,
                    (now - r.recv_ns) as f64 / 1e6
                ),
                None => format!("{name}: none in 2 s"),
            },
        )
        .collect()
}

fn ms(ns: i64) -> String {
    format!("{:.1}", ns as f64 / 1e6)
}

/// The `p`-th percentile (0..=100) of sorted values, nearest rank.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The figures per fault kind, as a Markdown table.
pub fn table(rounds: &[Round]) -> String {
    let mut by: BTreeMap<Fault, Vec<&Round>> = BTreeMap::new();
    for r in rounds {
        by.entry(r.fault).or_default().push(r);
    }
    let mut out = String::from(
        "| fault | rounds | entities replaced | p50 ms to replacement | max ms to replacement \
         | max gap of surviving copies ms | marked DOWN during the fault | max ms heal -> healthy \
         | overlaps | lost writes |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (fault, rs) in by {
        let mut times: Vec<i64> = rs
            .iter()
            .flat_map(|r| {
                r.outcomes.iter().filter_map(|o| match o {
                    Outcome::Replaced { after_ns } => Some(*after_ns),
                    _ => None,
                })
            })
            .collect();
        times.sort_unstable();
        let gap = rs.iter().filter_map(|r| r.survivor_gap_ns()).max();
        let heal = rs.iter().map(|r| r.heal_ns).max().unwrap_or(0);
        let overlaps: usize = rs.iter().map(|r| r.overlaps.len()).sum();
        let lost = rs.iter().map(|r| r.lost).max().unwrap_or(0);
        let down = rs.iter().filter(|r| r.marked_down == Some(true)).count();
        let down = if rs.iter().any(|r| r.marked_down.is_some()) {
            format!("{down} of {}", rs.len())
        } else {
            "-".to_string()
        };
        let (p50, max) = if times.is_empty() {
            ("-".to_string(), "-".to_string())
        } else {
            (ms(percentile(&times, 50)), ms(*times.last().unwrap()))
        };
        out += &format!(
            "| {} | {} | {} | {p50} | {max} | {} | {down} | {} | {overlaps} | {lost} |\n",
            fault.name(),
            rs.len(),
            times.len(),
            gap.map_or("-".into(), ms),
            ms(heal),
        );
    }
    out
}

/// One line per round, for the log of the run.
pub fn line(i: usize, r: &Round) -> String {
    format!(
        "round {i:3}: {:<38} n{} hold {:>4} ms{} | replaced {} (max {} ms) | survivors' max gap {} \
         ms | heal->healthy {} ms (one leader after {} ms) | overlaps {} lost {} dup {} twice-alive {} eexist {}",
        r.fault.name(),
        r.node + 1,
        r.hold.as_millis(),
        match r.marked_down {
            Some(true) => ", marked DOWN",
            Some(false) => ", not marked DOWN",
            None => "",
        },
        r.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Replaced { .. }))
            .count(),
        r.replacement_ns().map_or("-".into(), ms),
        r.survivor_gap_ns().map_or("-".into(), ms),
        ms(r.heal_ns),
        ms(r.leader_ns),
        r.overlaps.len(),
        r.lost,
        r.duplicated.len(),
        r.twice_alive.len(),
        r.eexist,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draws_are_a_function_of_the_seed() {
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..20).map(|_| r.below(9)).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42));
        assert_ne!(draw(42), draw(43));
        assert!(
            draw(0).iter().any(|&d| d != draw(0)[0]),
            "seed 0 still moves"
        );
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [10, 20, 30, 40];
        assert_eq!(percentile(&v, 50), 20);
        assert_eq!(percentile(&v, 100), 40);
        assert_eq!(percentile(&[], 50), 0);
    }
}
