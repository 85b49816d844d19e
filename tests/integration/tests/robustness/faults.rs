//! The faults a round injects, one at a time, and how each is healed.

use super::witness::{Copy, Witness, monotonic_ns};
use ham_integration_tests::cluster::{Direction, TestCluster};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL of a node's agent and of every process in its namespace; started again at
    /// the heal.
    NodeLoss,
    /// SIGKILL of the agent alone (its processes go on); started again at the heal, when it
    /// re-adopts them (E11).
    AgentKill,
    /// SIGSTOP of the agent for longer than the lease, then SIGCONT.
    AgentFreeze,
    /// A node cut off from the others (its link down).
    NodeCut,
    /// The leader cut off from the others.
    LeaderCut,
    /// One direction of a node's traffic dropped.
    OneWayCut(Direction),
    /// An orderly restart of a node's agent (SIGTERM, then started again at once).
    NodeRestart,
    /// Every workload's process SIGKILLed, [`STORM_WAVES`] times in a row, each wave as soon
    /// as every entity runs again.
    CrashStorm,
}

/// Waves of a crash storm.
pub const STORM_WAVES: usize = 3;

impl Fault {
    /// Every kind, drawn with equal chances.
    pub const ALL: [Fault; 9] = [
        Fault::NodeLoss,
        Fault::AgentKill,
        Fault::AgentFreeze,
        Fault::NodeCut,
        Fault::LeaderCut,
        Fault::OneWayCut(Direction::Inbound),
        Fault::OneWayCut(Direction::Outbound),
        Fault::NodeRestart,
        Fault::CrashStorm,
    ];

    /// Its name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Fault::NodeLoss => "node loss (kill -9 agent + processes)",
            Fault::AgentKill => "kill -9 agent only",
            Fault::AgentFreeze => "SIGSTOP agent > lease",
            Fault::NodeCut => "node cut off",
            Fault::LeaderCut => "leader cut off",
            Fault::OneWayCut(Direction::Inbound) => "one-way cut (inbound dropped)",
            Fault::OneWayCut(Direction::Outbound) => "one-way cut (outbound dropped)",
            Fault::NodeRestart => "node restart (SIGTERM + start)",
            Fault::CrashStorm => "crash storm of the workloads",
        }
    }

    /// Its name in `ROBUSTNESS_FAULTS`.
    pub fn key(self) -> &'static str {
        match self {
            Fault::NodeLoss => "node-loss",
            Fault::AgentKill => "agent-kill",
            Fault::AgentFreeze => "agent-freeze",
            Fault::NodeCut => "node-cut",
            Fault::LeaderCut => "leader-cut",
            Fault::OneWayCut(Direction::Inbound) => "inbound-cut",
            Fault::OneWayCut(Direction::Outbound) => "outbound-cut",
            Fault::NodeRestart => "node-restart",
            Fault::CrashStorm => "crash-storm",
        }
    }

    /// The kinds named in `list` (comma-separated keys), or every kind for `None`.
    pub fn chosen(list: Option<&str>) -> Result<Vec<Fault>, String> {
        let Some(list) = list else {
            return Ok(Fault::ALL.to_vec());
        };
        list.split(',')
            .map(|k| {
                Fault::ALL
                    .into_iter()
                    .find(|f| f.key() == k.trim())
                    .ok_or_else(|| {
                        let keys: Vec<&str> = Fault::ALL.iter().map(|f| f.key()).collect();
                        format!("unknown fault {k:?} (known: {})", keys.join(", "))
                    })
            })
            .collect()
    }

    /// Whether the fault lasts (`hold`) before it is healed.
    pub fn holds(self) -> bool {
        !matches!(self, Fault::NodeRestart | Fault::CrashStorm)
    }
}

/// One fault as injected: on which node, and when (CLOCK_MONOTONIC ns; for a storm, its last
/// wave).
#[derive(Debug, Clone, Copy)]
pub struct Injected {
    pub fault: Fault,
    pub node: usize,
    pub at_ns: i64,
}

/// The copy of each entity that reported last. The window is wide: on a loaded machine the
/// witness's thread may not run for 100 ms and more, and an entity missing from it would be
/// spared by the wave.
fn current_copies(witness: &Witness) -> Vec<Copy> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in witness
        .since(monotonic_ns() - 2_000_000_000)
        .into_iter()
        .rev()
    {
        if seen.insert(r.entity) {
            out.push(r.copy);
        }
    }
    out
}

/// One wave of a storm: kills every entity's current copy, then waits (bounded) until every
/// one of the `entities` reports from another copy.
fn storm_wave(witness: &Witness, entities: usize) -> Result<i64, String> {
    let victims = current_copies(witness);
    if victims.len() != entities {
        return Err(format!(
            "crash storm: only {} of {entities} entities reported in the last 2 s",
            victims.len()
        ));
    }
    let at_ns = monotonic_ns();
    for &(pid, _) in &victims {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    // Restart pacing (L4) may delay the later waves of storms close together, up to its
    // doubling delays: the bound allows for it.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(40) {
        let back: HashSet<usize> = witness
            .since(at_ns)
            .into_iter()
            .filter(|r| !victims.contains(&r.copy))
            .map(|r| r.entity)
            .collect();
        if back.len() == entities {
            return Ok(at_ns);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "crash storm: not every entity ran again within 40 s of a wave (victims {victims:?})"
    ))
}

/// Injects `fault` on `node` (the leader for [`Fault::LeaderCut`]).
pub fn inject(
    c: &mut TestCluster,
    witness: &Witness,
    entities: usize,
    fault: Fault,
    node: usize,
) -> Result<Injected, String> {
    let node = match fault {
        Fault::LeaderCut => c.leader_seen_by((node + 1) % c.nodes.len()).unwrap_or(node),
        _ => node,
    };
    let at_ns = monotonic_ns();
    let netns = c.netns.as_ref().expect("namespaces");
    match fault {
        Fault::NodeLoss => c.kill_node(node),
        Fault::AgentKill => c.nodes[node].kill9(),
        Fault::AgentFreeze => c.set_frozen(node, true),
        Fault::NodeCut | Fault::LeaderCut => netns.set_connected(node, false),
        Fault::OneWayCut(d) => netns.set_dropped(node, d, true),
        Fault::NodeRestart => {
            if c.nodes[node].terminate() != Some(0) {
                return Err(format!(
                    "node {} did not stop in order on SIGTERM",
                    node + 1
                ));
            }
            c.nodes[node].launch();
        }
        Fault::CrashStorm => {
            let mut last = at_ns;
            for _ in 0..STORM_WAVES {
                last = storm_wave(witness, entities)?;
            }
            return Ok(Injected {
                fault,
                node,
                at_ns: last,
            });
        }
    }
    Ok(Injected { fault, node, at_ns })
}

/// Ends the fault: the node started again, thawed or connected again.
pub fn heal(c: &mut TestCluster, f: Injected) {
    let netns = c.netns.as_ref().expect("namespaces");
    match f.fault {
        Fault::NodeLoss | Fault::AgentKill => c.nodes[f.node].launch(),
        Fault::AgentFreeze => c.set_frozen(f.node, false),
        Fault::NodeCut | Fault::LeaderCut => netns.set_connected(f.node, true),
        Fault::OneWayCut(d) => netns.set_dropped(f.node, d, false),
        Fault::NodeRestart | Fault::CrashStorm => {}
    }
}
