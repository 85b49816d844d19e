//! Failover: kill -9 the leader, then measure until the first write
//! committed after the kill answers on a surviving node.
//!
//! Before the kill, one connection is opened to each survivor. From the kill
//! on, a new write attempt starts every `PROBE_EVERY` (alternating between
//! the survivors, each with a fresh name) without waiting for the earlier
//! ones (a write started before a new leader is known waits for one, so the
//! first answer comes from whichever write reaches the new leader first).
//! The figure is the time from just before
//! kill() to the first successful answer. Then the killed node is started
//! again, and the next trial waits for a leader every node agrees on.

use crate::cluster::{HamCluster, connect, leader_seen_by};
use crate::procs::monotonic_ns;
use crate::stats::Summary;
use anyhow::{Context, Result, bail};
use ham_client::{Errno, NodeSel};
use std::time::Duration;
use tokio::task::JoinSet;

/// A new write attempt starts this often after the kill.
const PROBE_EVERY: Duration = Duration::from_millis(5);
/// A trial with no committed write after this long fails the benchmark.
const TRIAL_LIMIT: Duration = Duration::from_secs(15);
/// In this many trials, one more write is sent right after the kill and
/// waited for, however long it takes: what a client that does not retry sees
/// (a follower that forwarded it to the dead leader proposes it again to the
/// new one).
const SINGLE_TRIALS: usize = 5;
/// Bound for that write (beyond ham's propose timeout of 5 s).
const SINGLE_LIMIT: Duration = Duration::from_secs(8);
/// How long to wait for a leader every node agrees on between trials.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// One trial's outcome.
#[derive(Debug, Clone)]
pub struct Trial {
    /// Kill to first committed write, ns.
    pub ns: u64,
    /// Ids of the old and new leader.
    pub old: u64,
    pub new: u64,
    /// Attempts started before the first success; and the no-quorum answers among them.
    pub attempts: u64,
    pub eagain: u64,
}

/// The result of all trials.
#[derive(Debug, Clone)]
pub struct Failover {
    pub summary: Summary,
    /// The single writes sent at the kill: time to their answer, and the
    /// errno when it was not a success.
    pub single: Vec<(u64, Option<Errno>)>,
}

/// One attempt's answer: Ok(done time) or the errno.
type Attempt = Result<u64, Errno>;

/// Runs `trials` failovers on `cluster` (nodes restarted in between).
pub async fn run(cluster: &mut HamCluster, trials: usize, verbose: bool) -> Result<Failover> {
    let mut out = Vec::with_capacity(trials);
    let mut single = Vec::new();
    for t in 0..trials {
        let leader = cluster.stable_leader(SETTLE_LIMIT, 4).await?;
        let survivors: Vec<usize> = (0..cluster.nodes.len()).filter(|&i| i != leader).collect();
        let mut hams = Vec::new();
        for &s in &survivors {
            hams.push(connect(&cluster.nodes[s].socket).await?);
        }
        let killed_at = cluster.kill9(leader)?;
        let first = (t < SINGLE_TRIALS).then(|| {
            let ham = hams[0].clone();
            let name = format!("failover-{t}-single");
            tokio::spawn(async move {
                let r =
                    tokio::time::timeout(SINGLE_LIMIT, ham.entity(NodeSel::Local, &name, 0)).await;
                let errno = match r {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.errno),
                    Err(_) => Some(Errno::Etimedout),
                };
                (monotonic_ns(), errno)
            })
        });
        let mut attempts = JoinSet::new();
        let mut next = tokio::time::Instant::now();
        let mut started = 0u64;
        let mut eagain = 0u64;
        let deadline = tokio::time::Instant::now() + TRIAL_LIMIT;
        let done_at = loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    let ham = hams[usize::try_from(started).unwrap_or(0) % hams.len()].clone();
                    let name = format!("failover-{t}-{started}");
                    started += 1;
                    attempts.spawn(async move {
                        match ham.entity(NodeSel::Local, &name, 0).await {
                            Ok(_) => Attempt::Ok(monotonic_ns()),
                            Err(e) => Attempt::Err(e.errno),
                        }
                    });
                    next += PROBE_EVERY;
                }
                Some(res) = attempts.join_next() => match res.context("an attempt task panicked")? {
                    Ok(at) => break at,
                    Err(Errno::Eagain) => eagain += 1,
                    // The connection to a survivor never breaks; anything else is worth knowing.
                    Err(e) => bail!("failover trial {t}: a write answered {e:?}"),
                },
                _ = tokio::time::sleep_until(deadline) => {
                    bail!("failover trial {t}: no committed write {TRIAL_LIMIT:?} after killing n{}", leader + 1)
                }
            }
        };
        attempts.abort_all();
        let ns = done_at.saturating_sub(killed_at);
        let mut note = String::new();
        if let Some(first) = first {
            let (at, errno) = first.await.context("the single write's task panicked")?;
            let waited = at.saturating_sub(killed_at);
            note = format!(
                "; a single write sent at the kill answered {} after {:.0} ms",
                errno.map_or("OK".to_owned(), |e| format!("{e:?}")),
                crate::stats::ms(waited)
            );
            single.push((waited, errno));
        }
        let new = leader_seen_by(&cluster.nodes[survivors[0]].socket)
            .await
            .unwrap_or(0);
        cluster.restart(leader).await?;
        let trial = Trial {
            ns,
            old: leader as u64 + 1,
            new,
            attempts: started,
            eagain,
        };
        if verbose {
            eprintln!(
                "  failover {t}: n{} killed, n{} leads, first write after {:.0} ms ({} attempts, {} EAGAIN){note}",
                trial.old,
                trial.new,
                crate::stats::ms(ns),
                trial.attempts,
                trial.eagain
            );
        }
        out.push(trial);
    }
    let summary = Summary::of(out.iter().map(|t| t.ns).collect());
    Ok(Failover { summary, single })
}
