//! Outcomes reported by agents after they ran a plan: statistics, pruning
//! (HAM-CONTRACT A3, A11, A13) and removal of dead entities (E7).

use super::command::*;
use super::errno::Result;
use super::flags::{HACTIONKEEPONFAIL, HENTITYKEEPONDEATH, HREARMAFTERRESTART};
use super::pacing::next_restart;
use super::state::HamState;
use super::types::*;

impl HamState {
    /// Counts runs and failures; a failed action goes unless HACTIONKEEPONFAIL (A11).
    /// Actions removed meanwhile are skipped: the outcome of a plan can commit
    /// after a user changed the tree.
    pub(crate) fn record_results(&mut self, results: &[ActionResult]) {
        for r in results {
            let Ok(a) = self.action_mut(&r.action) else {
                continue;
            };
            a.runs = a.runs.saturating_add(1);
            if r.ok {
                continue;
            }
            a.failures = a.failures.saturating_add(1);
            if !keeps_failed(a)
                && let Ok(c) = self.condition_mut(&r.action.condition)
            {
                c.actions.retain(|x| x.name != r.action.name);
            }
        }
    }

    pub(crate) fn recovery_outcome(
        &mut self,
        r: &EntityRef,
        exit: ExitInfo,
        died_ns: TimeNs,
        restarted: Option<(i64, TimeNs)>,
        results: &[ActionResult],
    ) -> Result<Applied> {
        // An agent retries an outcome until it commits; one that was already
        // recorded (same death) is applied once.
        if died_ns != 0 && self.entity(r)?.stats.last_death_ns == died_ns {
            return Ok(Applied::just(Response::Done));
        }
        // All or nothing: an entity that does not stay is removed from its node's context,
        // so that context must exist before anything is recorded (the cluster-wide global
        // entity has none, and its refused outcome used to leave its exit recorded).
        if restarted.is_none() && !stays_after_death(self.entity(r)?, false) {
            self.context(r.node)?;
        }
        // Pruning needs to know what ran before failed actions are removed.
        let ran = ran_on(r, results);
        self.record_results(results);
        let e = self.entity_mut(r)?;
        // The same rule the agent paces by, on the outcomes' times (L4).
        e.deaths = next_restart(&e.pacing, &e.deaths, died_ns, e.stats.since_ns).history;
        e.stats.last_death_ns = died_ns;
        e.stats.last_exit = Some(exit);
        match restarted {
            Some((pid, at)) => {
                // A stop call (L5) that came after the restart ends the new process.
                e.pid = if e.stopped { 0 } else { pid };
                e.stats.restarted_ns = at;
                e.stats.since_ns = at;
                e.stats.restarts = e.stats.restarts.saturating_add(1);
                e.stats.instance = e.stats.instance.saturating_add(1);
                let pruned = pruned_after_restart(e, &ran);
                pruned.apply(e);
                Ok(Applied::just(Response::Done))
            }
            // A stopped entity keeps its conditions (L5), also when a death
            // raced with the stop call.
            None if stays_after_death(e, false) || e.stopped => {
                e.pid = 0;
                Ok(Applied::just(Response::Done))
            }
            None => {
                self.context_mut(r.node)?.entities.remove(&r.name);
                Ok(Applied::just(Response::Done))
            }
        }
    }
}

/// E7: whether an entity stays after its death, restarted or not.
pub(crate) fn stays_after_death(e: &Entity, restarted: bool) -> bool {
    restarted || e.has(HENTITYKEEPONDEATH)
}

/// A11: whether a failed action is kept.
pub(crate) fn keeps_failed(a: &Action) -> bool {
    a.has(HACTIONKEEPONFAIL)
}

/// The (condition, action) uids of the entity `r`'s own actions among `results`:
/// what "ran" means for A13 pruning.
pub(crate) fn ran_on(r: &EntityRef, results: &[ActionResult]) -> Vec<(Uid, Uid)> {
    results
        .iter()
        .filter(|x| x.action.condition.entity.name == r.name)
        .filter_map(|x| Some((x.action.condition.uid?, x.action.uid?)))
        .collect()
}

/// What A13 pruning removes from an entity after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// Conditions removed with their actions.
    pub(crate) conditions: Vec<Uid>,
    /// Actions removed from the conditions that stay, as (condition, action).
    pub(crate) actions: Vec<(Uid, Uid)>,
}

/// A13: conditions without HREARMAFTERRESTART go with their actions; in the
/// kept ones, actions without it go once they have run (`ran`).
pub(crate) fn pruned_after_restart(e: &Entity, ran: &[(Uid, Uid)]) -> Pruned {
    let mut pruned = Pruned::default();
    for c in &e.conditions {
        if !c.has(HREARMAFTERRESTART) {
            pruned.conditions.push(c.uid);
            continue;
        }
        for a in &c.actions {
            if !a.has(HREARMAFTERRESTART) && ran.contains(&(c.uid, a.uid)) {
                pruned.actions.push((c.uid, a.uid));
            }
        }
    }
    pruned
}

impl Pruned {
    /// Removes what was found.
    fn apply(&self, e: &mut Entity) {
        e.conditions.retain(|c| !self.conditions.contains(&c.uid));
        for c in &mut e.conditions {
            let cuid = c.uid;
            c.actions.retain(|a| !self.actions.contains(&(cuid, a.uid)));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::machine::decode_command;
    use crate::model::{Command, HamState};

    /// P9 (found by the `log_entry` fuzz target): a recovery outcome for the cluster-wide
    /// global entity, which has no context to be removed from, was refused only after it had
    /// recorded the death, so a refused command changed the state.
    #[test]
    fn p9_a_refused_recovery_outcome_changes_nothing() {
        let bytes =
            include_bytes!("../../../fuzz/corpus/log_entry/p9-outcome-for-the-cluster-global");
        let cmd = decode_command(bytes).unwrap();
        assert!(matches!(cmd, Command::RecoveryOutcome { .. }), "{cmd:?}");
        let mut state = HamState::default();
        let before = state.clone();
        assert!(state.apply(cmd).is_err());
        assert_eq!(state, before);
    }
}
