//! The failover robustness suite: a 3-node cluster in network namespaces, workload entities
//! that report to a witness outside the cluster every 10 ms, a writer that records every
//! acknowledged write, and seeded rounds that each inject one fault, heal it and check
//! (HAM-CONTRACT D1, D3, D9, E11, M5):
//!
//! - 0 overlaps: no two copies of one entity ever reported inside one interval (the
//!   witness's clock, with no tolerance beyond the report jitter measured at the start; the
//!   copies' own CLOCK_MONOTONIC readings are checked too, with none at all);
//! - 0 acknowledged writes lost (a linearizable read after every heal), 0 entities
//!   duplicated (no name twice in a context, no entity with two live processes);
//! - every entity running again after the heal (bounded wait), on its own node;
//! - the time from the fault to the replacement running, per fault kind.
//!
//! The faults (`robustness/faults.rs`): kill -9 of a node's agent and its processes, of
//! the agent only, SIGSTOP of the agent for longer than the lease, a node cut off, the leader
//! cut off, a one-way cut (inbound or outbound dropped), an orderly restart of a node, a
//! crash storm of the workloads. The workloads are local entities (`robustness/workload.rs`
//! says what the movable and quorum-bound kinds add).
//!
//! The rounds are drawn from a seed, printed first as `ROBUSTNESS_SEED=...`; the same seed
//! draws the same faults. CI runs 10 rounds; the full run is
//!
//! ```sh
//! ROBUSTNESS_ROUNDS=100 cargo test -p ham-integration-tests --test robustness -- --nocapture
//! ```
//!
//! and `ROBUSTNESS_SEED=N` replays a run (with the same `ROBUSTNESS_FAULTS`, a
//! comma-separated list of fault keys that narrows the draw, e.g. `agent-kill,leader-cut`). The figures go to `docs/benchmarks.md`
//! ("Robustness").

#[path = "robustness/checks.rs"]
mod checks;
#[path = "robustness/faults.rs"]
mod faults;
#[path = "robustness/rounds.rs"]
mod rounds;
#[path = "robustness/witness.rs"]
mod witness;
#[path = "robustness/workload.rs"]
mod workload;
#[path = "robustness/writer.rs"]
mod writer;

use std::collections::HashSet;

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

#[test]
fn d1_seeded_fault_rounds_lose_no_write_and_run_no_entity_twice() {
    let seed = env_u64("ROBUSTNESS_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let rounds = env_u64("ROBUSTNESS_ROUNDS").unwrap_or(10) as usize;
    let only = std::env::var("ROBUSTNESS_FAULTS").ok();
    let kinds = faults::Fault::chosen(only.as_deref()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "ROBUSTNESS_SEED={seed} ROBUSTNESS_ROUNDS={rounds}{}",
        only.map_or(String::new(), |o| format!(" ROBUSTNESS_FAULTS={o}"))
    );
    let started = std::time::Instant::now();
    let mut rng = rounds::Rng::new(seed);
    let mut suite = rounds::Suite::start(workload::Workload::Local);
    let mut done = Vec::new();
    let mut seen_overlaps = HashSet::new();
    let mut failure = None;
    for i in 0..rounds {
        match rounds::round(&mut suite, &mut rng, &kinds) {
            Ok(mut r) => {
                // A copy's reports reach into the next round's window: count each pair once.
                r.overlaps
                    .retain(|o| seen_overlaps.insert((o.entity, o.older, o.newer)));
                println!("{}", rounds::line(i, &r));
                let failed = r.failed();
                if failed {
                    failure = Some(format!(
                        "round {i}: {} on n{}: overlaps {:?} (entities {:?}), lost writes {}, \
                         duplicated {:?}, twice alive {:?}, EEXIST on a retry {}",
                        r.fault.name(),
                        r.node + 1,
                        r.overlaps,
                        suite.names,
                        r.lost,
                        r.duplicated,
                        r.twice_alive,
                        r.eexist
                    ));
                }
                done.push(r);
                if failed {
                    break;
                }
            }
            Err(e) => {
                failure = Some(format!("round {i}: {e}"));
                break;
            }
        }
    }
    let writes = suite
        .writer
        .as_ref()
        .map(|w| w.with_log(|l| (l.acked.len(), l.errors.clone())));
    println!(
        "\n{} rounds in {:.0} s, seed {seed}; writes acknowledged and read back: {:?}\n",
        done.len(),
        started.elapsed().as_secs_f64(),
        writes
    );
    println!("{}", rounds::table(&done));
    if let Some(f) = failure {
        panic!("ROBUSTNESS_SEED={seed}: {f}\n{}", suite.log_tails());
    }
}
