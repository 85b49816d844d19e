//! The stop sequence (HAM-CONTRACT S2), the one way the agent stops
//! processes: the warning signal to every process the stop reaches, the
//! grace (monotonic clock), SIGKILL of whatever remains, and a wait until
//! all of it is gone. Used for what a dead main process leaves behind
//! before its restart (L1) and by stop calls (L5).
//!
//! Every process is held by a pidfd from the moment it is found, so a
//! signal never reaches a later process that reuses its pid, and its exit
//! is awaited on the pidfd (no polling). Processes found are the main
//! process, and with kill mode `group` the members of the entity's process
//! group and of its cgroup, which also holds those that left the group
//! (`setsid`). SIGKILL goes to the cgroup as a whole first (fork-safe), so a
//! process forked during the grace is not missed; the group and cgroup are
//! looked at again after each round until nothing is left.

use crate::clock::Clock;
use crate::process::cgroup::Cgroups;
use crate::process::{identity, pidfd::PidFd, signal};
use ham_core::model::{KillMode, StopPolicy, Uid};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long SIGKILL may take to end what it was sent to before the stop
/// gives up on it (a process in uninterruptible sleep, for example).
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Rounds of "look again, SIGKILL what is found" before the stop gives up:
/// each round catches what forked before the previous SIGKILL landed.
const KILL_ROUNDS: usize = 4;

/// The processes one stop reaches.
#[derive(Debug, Clone)]
pub struct Target {
    /// The main process, if it may still run.
    pub main: Option<u32>,
    /// The process group the agent made for it (its first process's pid).
    pub group: Option<u32>,
    /// The entity whose cgroup holds its processes, where the node has cgroups.
    pub uid: Uid,
    /// Which of them the stop reaches.
    pub mode: KillMode,
}

/// What a stop did, for the log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Processes sent the warning signal.
    pub warned: usize,
    /// Processes that needed SIGKILL.
    pub killed: usize,
    /// Processes still there when the stop gave up.
    pub left: usize,
}

impl Target {
    /// Whether anything of the target runs: one `kill(-pgid, 0)`, one read
    /// of `cgroup.procs` and one `kill(main, 0)` at most, so a restart after
    /// a death that left nothing costs what it did without this check (L1).
    pub fn anything_left(&self, cgroups: Option<&Cgroups>) -> bool {
        if self.main.is_some_and(|p| signal::exists(p.into())) {
            return true;
        }
        if self.mode == KillMode::Process {
            return false;
        }
        self.group.is_some_and(signal::group_alive)
            || cgroups.is_some_and(|c| !c.members(self.uid).is_empty())
    }

    /// Every live process of the target now, by pid.
    fn find(&self, cgroups: Option<&Cgroups>) -> Vec<u32> {
        let mut pids: Vec<u32> = self.main.into_iter().collect();
        if self.mode == KillMode::Group {
            if let Some(g) = self.group.filter(|&g| signal::group_alive(g)) {
                pids.extend(signal::group_members(g));
            }
            if let Some(c) = cgroups {
                pids.extend(c.members(self.uid));
            }
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Whether `pid`, found a moment ago, still belongs to the target:
    /// checked once its pidfd is open, so the pidfd holds that process.
    fn holds(&self, pid: u32, cgroups: Option<&Cgroups>) -> bool {
        if Some(pid) == self.main {
            return true;
        }
        let in_group = self
            .group
            .is_some_and(|g| identity::stat(pid).is_some_and(|s| s.pgid == g));
        in_group || cgroups.is_some_and(|c| c.members(self.uid).contains(&pid))
    }
}

/// Opens pidfds for the target's live processes not yet held in `held`.
fn hold_new(target: &Target, cgroups: Option<&Cgroups>, held: &mut HashMap<u32, PidFd>) {
    for pid in target.find(cgroups) {
        if held.contains_key(&pid) || pid == std::process::id() {
            continue;
        }
        // A process gone meanwhile has nothing left to stop.
        if let Ok(fd) = PidFd::open(pid)
            && target.holds(pid, cgroups)
            && !fd.has_exited()
        {
            held.insert(pid, fd);
        }
    }
}

/// Waits until every held process has exited, or until `deadline`;
/// returns those still running.
async fn wait_gone(held: HashMap<u32, PidFd>, deadline: Instant) -> HashMap<u32, PidFd> {
    let mut left = HashMap::new();
    for (pid, fd) in held {
        let gone = tokio::time::timeout_at(deadline, fd.exited()).await;
        if !matches!(gone, Ok(Ok(()))) {
            left.insert(pid, fd);
        }
    }
    left
}

/// Runs the stop sequence on `target` with `policy`; returns once all of
/// it is gone, or SIGKILL could not end it within [`KILL_WAIT`] per round.
pub async fn stop(
    target: Target,
    policy: StopPolicy,
    cgroups: Option<Cgroups>,
    clock: Arc<dyn Clock>,
) -> Report {
    let cg = cgroups.as_ref();
    let mut report = Report::default();
    let mut held = HashMap::new();
    hold_new(&target, cg, &mut held);
    if held.is_empty() {
        return report;
    }
    report.warned = held.len();
    for fd in held.values() {
        // ESRCH: it exited since it was found.
        let _ = fd.send_signal(policy.warn_signal);
    }
    let grace_end = clock.mono() + Duration::from_millis(policy.grace_ms);
    let mut left = wait_gone(held, grace_end).await;
    for _ in 0..KILL_ROUNDS {
        // What forked during the grace, or escaped the group, is found again here.
        hold_new(&target, cg, &mut left);
        if left.is_empty() {
            return report;
        }
        report.killed += left.len();
        if target.mode == KillMode::Group
            && let Some(c) = cg
        {
            c.signal(target.uid, libc::SIGKILL);
        }
        for fd in left.values() {
            let _ = fd.send_signal(libc::SIGKILL);
        }
        left = wait_gone(left, clock.mono() + KILL_WAIT).await;
    }
    report.left = left.len();
    report
}
