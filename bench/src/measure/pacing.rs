//! (f) and (g): restart pacing (HAM-CONTRACT L4) as a user meets it.
//!
//! (f) a crash loop under the default pacing: each instance is killed as
//! soon as it reports; every restart's kill-to-running latency is shown next
//! to the delay the rule (`ham_core::model::next_restart`) gives for it, so
//! the first `burst` restarts show the floor and the rest the doubling curve.
//!
//! (g) a death storm: 100 entities killed at once, time until all 100
//! replacements run, side by side with a bare loop that starts 100 probes
//! itself in the same run (the floor for "100 starts"). Each entity dies
//! once per round, so the storm stays within the burst: it measures the
//! restart path under a burst of deaths, not pacing.

use crate::clock;
use crate::collector::Collector;
use crate::procs;
use crate::supervisors::Env;
use crate::supervisors::ham::HamDaemon;
use anyhow::{Context as _, bail};
use ham_client::{Ham, NodeSel, Pacing as ClientPacing};
use ham_core::model::{Pacing, PacingHistory, PacingPolicy, next_restart};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::runtime::Runtime;

/// One restart of the paced crash loop.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Kill-to-running latency in ms (infinite: none within the limit).
    pub ms: f64,
    /// The delay the rule gives this restart, in ms.
    pub rule_ms: f64,
}

/// Runs (f): `n` kills in a row of a probe attached with the default pacing.
pub fn curve(
    rt: &Runtime,
    ham: &HamDaemon,
    env: &Env,
    collector: &mut Collector,
    n: usize,
) -> anyhow::Result<Vec<Step>> {
    let tag = "hampaced";
    rt.block_on(attach_probe(
        &ham.client,
        "paced",
        &env.probe_line(tag),
        None,
    ))
    .context("attaching the paced probe")?;
    let policy = PacingPolicy::default();
    // The longest wait: the largest delay, plus room for a slow start.
    let limit = Duration::from_nanos(policy.max_delay_ns) + Duration::from_secs(5);
    let Some(mut current) = collector.wait_new(tag, None, env.start_timeout)? else {
        bail!("ham did not start the paced probe");
    };
    let mut history = PacingHistory::default();
    let mut steps = Vec::with_capacity(n);
    for _ in 0..n {
        let killed_ns = clock::monotonic_ns();
        kill(Pid::from_raw(current.pid), Signal::SIGKILL)?;
        // The process was up since it reported and died at the kill: what the rule says.
        let paced = next_restart(&policy, &history, killed_ns, current.mono_ns);
        history = paced.history;
        let rule_ms = match paced.pacing {
            Pacing::Immediate => 0.0,
            Pacing::After(ns) => ns as f64 / 1e6,
        };
        match collector.wait_new(tag, Some(current.pid), limit)? {
            Some(r) => {
                steps.push(Step {
                    ms: clock::ms(r.mono_ns - killed_ns),
                    rule_ms,
                });
                current = r;
            }
            None => {
                steps.push(Step {
                    ms: f64::INFINITY,
                    rule_ms,
                });
                break;
            }
        }
    }
    rt.block_on(ham.client.detach_name(NodeSel::Local, "paced", 0))?;
    let _ = kill(Pid::from_raw(current.pid), Signal::SIGKILL);
    Ok(steps)
}

/// Attaches `line` as `name`, restarted on every death, with `pacing`
/// (None: the defaults). The condition and restart action come after the
/// attach: the probe does not die on its own.
pub async fn attach_probe(
    ham: &Ham,
    name: &str,
    line: &str,
    pacing: Option<ClientPacing>,
) -> anyhow::Result<()> {
    use ham_client::ConditionType;
    use ham_client::flags::HREARMAFTERRESTART;
    let entity = ham
        .attach_paced(
            NodeSel::Local,
            name,
            -1,
            line,
            "",
            ham_client::Heartbeat::default(),
            0,
            pacing.unwrap_or_default(),
        )
        .await?;
    let death = ham
        .condition(&entity, ConditionType::Death, "death", HREARMAFTERRESTART)
        .await?;
    ham.action_restart(&death, "restart", line, HREARMAFTERRESTART)
        .await?;
    Ok(())
}

/// One round of (g): ms from the first kill (or spawn) to the median and the
/// last replacement running.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// Median replacement.
    pub p50_ms: f64,
    /// Last replacement.
    pub last_ms: f64,
}

/// What (g) measured.
#[derive(Debug, Clone, Default)]
pub struct Storm {
    /// Entities (and bare starts) per round.
    pub n: usize,
    /// ham: 100 entities killed at once.
    pub ham: Vec<Round>,
    /// The benchmark starting 100 probes itself, one after the other.
    pub bare: Vec<Round>,
}

fn round(start_ns: i64, mut at: Vec<i64>) -> Round {
    at.sort_unstable();
    let p50 = at[at.len() / 2];
    let last = *at.last().unwrap_or(&start_ns);
    Round {
        p50_ms: clock::ms(p50 - start_ns),
        last_ms: clock::ms(last - start_ns),
    }
}

/// Waits for `n` reports of `tag` from pids not in `old`; their times.
fn collect(
    collector: &mut Collector,
    tag: &str,
    old: &HashSet<i32>,
    n: usize,
    limit: Duration,
) -> anyhow::Result<Vec<(i32, i64)>> {
    let mut got = Vec::with_capacity(n);
    let mut seen = HashSet::new();
    while got.len() < n {
        let Some(r) = collector.wait_new(tag, None, limit)? else {
            bail!(
                "only {} of {n} {tag} probes reported within {limit:?}",
                got.len()
            );
        };
        if !old.contains(&r.pid) && seen.insert(r.pid) {
            got.push((r.pid, r.mono_ns));
        }
    }
    Ok(got)
}

/// Runs (g): `n` entities on their own ham, `rounds` storms, each followed
/// by a bare loop of `n` starts.
pub fn storm(
    rt: &Runtime,
    ham: &HamDaemon,
    env: &Env,
    collector: &mut Collector,
    n: usize,
    rounds: usize,
) -> anyhow::Result<Storm> {
    let limit = Duration::from_secs(20);
    let line = env.probe_line("storm");
    rt.block_on(async {
        for i in 0..n {
            attach_probe(&ham.client, &format!("storm-{i:03}"), &line, None).await?;
        }
        anyhow::Ok(())
    })
    .context("attaching the storm's entities")?;
    let mut pids: Vec<i32> = collect(collector, "storm", &HashSet::new(), n, limit)?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let mut out = Storm {
        n,
        ..Storm::default()
    };
    for _ in 0..rounds {
        // Let the restarts' outcomes commit and the machine settle.
        std::thread::sleep(Duration::from_millis(500));
        let old: HashSet<i32> = pids.iter().copied().collect();
        let start = clock::monotonic_ns();
        for p in &pids {
            kill(Pid::from_raw(*p), Signal::SIGKILL)?;
        }
        let got = collect(collector, "storm", &old, n, limit)?;
        pids = got.iter().map(|(p, _)| *p).collect();
        out.ham
            .push(round(start, got.iter().map(|(_, t)| *t).collect()));

        std::thread::sleep(Duration::from_millis(500));
        let start = clock::monotonic_ns();
        let mut children: Vec<Child> = Vec::with_capacity(n);
        for _ in 0..n {
            let argv = env.probe_argv("bare");
            let child = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()?;
            children.push(child);
        }
        let got = collect(collector, "bare", &HashSet::new(), n, limit)?;
        out.bare
            .push(round(start, got.iter().map(|(_, t)| *t).collect()));
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
    if !procs::alive(ham.pid) {
        bail!("the storm's ham died:\n{}", procs::tail(&ham.log));
    }
    Ok(out)
}
