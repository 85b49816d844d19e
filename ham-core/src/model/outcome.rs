//! Outcomes reported by agents after they ran a plan: statistics, pruning
//! (HAM-CONTRACT A3, A11, A13) and removal of dead entities (E7).

use super::command::*;
use super::errno::Result;
use super::flags::{HACTIONKEEPONFAIL, HENTITYKEEPONDEATH, HREARMAFTERRESTART};
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
            if a.flags & HACTIONKEEPONFAIL == 0
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
        // Pruning needs to know what ran before failed actions are removed.
        let ran: Vec<(Uid, Uid)> = results
            .iter()
            .filter(|x| x.action.condition.entity.name == r.name)
            .filter_map(|x| Some((x.action.condition.uid?, x.action.uid?)))
            .collect();
        self.record_results(results);
        let e = self.entity_mut(r)?;
        e.stats.last_death_ns = died_ns;
        e.stats.last_exit = Some(exit);
        match restarted {
            Some((pid, at)) => {
                e.pid = pid;
                e.stats.restarted_ns = at;
                e.stats.since_ns = at;
                e.stats.restarts = e.stats.restarts.saturating_add(1);
                e.stats.instance = e.stats.instance.saturating_add(1);
                prune_after_restart(e, &ran);
                Ok(Applied::just(Response::Done))
            }
            None if e.has(HENTITYKEEPONDEATH) => {
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

/// A13: conditions without HREARMAFTERRESTART go with their actions; in the
/// kept ones, actions without it go once they have run.
fn prune_after_restart(e: &mut Entity, ran: &[(Uid, Uid)]) {
    e.conditions.retain(|c| c.flags & HREARMAFTERRESTART != 0);
    for c in &mut e.conditions {
        let cuid = c.uid;
        c.actions
            .retain(|a| a.flags & HREARMAFTERRESTART != 0 || !ran.contains(&(cuid, a.uid)));
    }
}
