//! What a death leads to, as data (DESIGN invariant 7; HAM-CONTRACT E7, K2–K4,
//! K8, A2, A3, A11, A13, S3).
//!
//! [`decide_death`] reads the local replica's state once and returns a
//! [`DeathDecision`]: the restart to try first (with its command line and
//! instance number), the executors to run, and, for each result of the
//! restart, what the outcome does once it is committed (whether the entity
//! stays, what is removed, which conditions stop, whether RESTART conditions
//! run, whether the next death must wait for this outcome). The agent only
//! carries it out. The outcome's application (`outcome.rs`) uses the same
//! rules, so the two cannot drift.

use super::cmdline::parse_command_line;
use super::command::{ActionRef, ActionResult, Command, ConditionRef, EntityRef};
use super::errno::Result;
use super::events::{Event, Plan, PlannedAction, plan_for_event};
use super::outcome::{keeps_failed, pruned_after_restart, ran_on, stays_after_death};
use super::pacing::{Pacing, PacingHistory, next_restart};
use super::state::HamState;
use super::types::*;
use std::collections::BTreeSet;

/// The restart to run before anything else (A3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartStep {
    /// The entity's restart action, as planned.
    pub step: PlannedAction,
    /// Its restart line split into arguments (E3), or why it cannot be.
    pub argv: std::result::Result<Vec<String>, String>,
    /// The instance number the new process gets (S3).
    pub instance: u64,
    /// The entity's heartbeat promise, for the new process's tracker.
    pub heartbeat: Option<HeartbeatSpec>,
    /// When the restart runs (L4): at once, or after a delay.
    pub pacing: Pacing,
}

/// What a death's pacing is decided from, on the agent's clock (L4).
#[derive(Debug, Clone, Copy)]
pub struct DeathClock<'a> {
    /// When the process died.
    pub now_ns: TimeNs,
    /// Since when it had been up.
    pub up_since_ns: TimeNs,
    /// The entity's pacing history before this death.
    pub history: &'a PacingHistory,
}

/// What a death's outcome does, for one result of the restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterDeath {
    /// E7: the entity stays (restarted, or HENTITYKEEPONDEATH); otherwise it
    /// is removed with its conditions and actions.
    pub stays: bool,
    /// Conditions the outcome removes with their actions (A13).
    pub removed_conditions: Vec<ConditionRef>,
    /// Actions the outcome removes from conditions that stay (A13: ran and
    /// not rearmed; A11: failed and not HACTIONKEEPONFAIL).
    pub removed_actions: Vec<ActionRef>,
    /// Conditions whose remaining actions do not run (a failed restart with
    /// HACTIONBREAKONFAIL), by uid.
    pub broken: BTreeSet<Uid>,
    /// K4: the RESTART conditions' plan, run after a successful restart.
    pub restart_plan: Option<Plan>,
    /// Whether the outcome changes the plan of the entity's next death, so
    /// that a next death waits for it to commit (bounded by the agent).
    pub changes_next_plan: bool,
}

/// Everything a death leads to, decided from the state at the death.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeathDecision {
    /// The entity that died, with its uid.
    pub entity: EntityRef,
    /// How its process ended.
    pub exit: ExitInfo,
    /// The restart to run first, if the entity has an enabled one that triggers.
    pub restart: Option<RestartStep>,
    /// The executors of the death's plan (the restart taken out), K8/K9.
    pub plan: Plan,
    /// With a restart step: what follows when it succeeded.
    pub if_restarted: Option<AfterDeath>,
    /// With a restart step: what follows when it failed; without one: what
    /// follows the death.
    pub otherwise: AfterDeath,
    /// The pacing history to keep, this death included.
    pub history: PacingHistory,
}

impl DeathDecision {
    /// What follows for this result of the restart (`false` also when there was none).
    pub fn after(&self, restarted: bool) -> &AfterDeath {
        match (&self.if_restarted, restarted) {
            (Some(a), true) => a,
            _ => &self.otherwise,
        }
    }

    /// The results the outcome reports: the restart action's, if it ran.
    pub fn results(&self, restarted: bool) -> Vec<ActionResult> {
        self.restart
            .iter()
            .map(|r| ActionResult {
                action: r.step.at.clone(),
                ok: restarted,
            })
            .collect()
    }

    /// The outcome to propose once the restart (if any) was tried:
    /// `restarted` holds the new pid and when it started.
    pub fn outcome(&self, died_ns: TimeNs, restarted: Option<(i64, TimeNs)>) -> Command {
        Command::RecoveryOutcome {
            entity: self.entity.clone(),
            exit: self.exit,
            died_ns,
            restarted,
            results: self.results(restarted.is_some()),
        }
    }
}

/// Decides what the death of `target`'s process (ended as `exit`) leads to,
/// and when its restart runs (L4, from the times in `clock`).
/// Errors when the entity is gone (the agent then forgets it).
pub fn decide_death(
    state: &HamState,
    target: &EntityRef,
    exit: ExitInfo,
    clock: DeathClock<'_>,
) -> Result<DeathDecision> {
    let mut plan = plan_for_event(state, target, Event::Death(exit))?;
    let entity = state.entity(target)?;
    let paced = next_restart(
        &entity.pacing,
        clock.history,
        clock.now_ns,
        clock.up_since_ns,
    );
    let restart = plan.restart.take().map(|step| {
        let argv = match &step.action.kind {
            ActionKind::Restart { command_line } => {
                parse_command_line(command_line).map_err(|e| e.message)
            }
            _ => Err("not a restart action".to_string()),
        };
        RestartStep {
            step,
            argv,
            instance: entity.stats.instance + 1,
            heartbeat: entity.heartbeat,
            pacing: paced.pacing,
        }
    });
    let eref = plan.entity.clone();
    let if_restarted = match &restart {
        Some(r) => {
            let restart_plan = plan_for_event(state, target, Event::Restart)?;
            let restart_plan = (!restart_plan.executors.is_empty()).then_some(restart_plan);
            Some(branch(entity, &eref, r, true, restart_plan))
        }
        None => None,
    };
    let otherwise = match &restart {
        Some(r) => branch(entity, &eref, r, false, None),
        None => no_restart(entity),
    };
    Ok(DeathDecision {
        entity: eref,
        exit,
        restart,
        plan,
        if_restarted,
        otherwise,
        history: paced.history,
    })
}

/// The branch with a restart step that succeeded (`ok`) or failed.
fn branch(
    e: &Entity,
    eref: &EntityRef,
    r: &RestartStep,
    ok: bool,
    restart_plan: Option<Plan>,
) -> AfterDeath {
    let stays = stays_after_death(e, ok);
    let mut removed_conditions = Vec::new();
    let mut removed_actions = Vec::new();
    let mut broken = BTreeSet::new();
    let restart_action = e
        .conditions
        .iter()
        .find(|c| Some(c.uid) == r.step.at.condition.uid)
        .and_then(|c| Some((c, c.actions.iter().find(|a| Some(a.uid) == r.step.at.uid)?)));
    if ok {
        let results = [ActionResult {
            action: r.step.at.clone(),
            ok: true,
        }];
        let pruned = pruned_after_restart(e, &ran_on(eref, &results));
        for c in e.conditions.iter() {
            if pruned.conditions.contains(&c.uid) {
                removed_conditions.push(cond_ref(eref, c));
            }
            for a in &c.actions {
                if pruned.actions.contains(&(c.uid, a.uid)) {
                    removed_actions.push(action_ref(eref, c, a));
                }
            }
        }
    } else {
        if r.step.breaks_on_fail() {
            broken.insert(r.step.condition().uid.unwrap_or(0));
        }
        if let Some((c, a)) = restart_action
            && !keeps_failed(a)
            && stays
        {
            removed_actions.push(action_ref(eref, c, a));
        }
    }
    let changes_next_plan = !stays || !removed_conditions.is_empty() || !removed_actions.is_empty();
    AfterDeath {
        stays,
        removed_conditions,
        removed_actions,
        broken,
        restart_plan,
        changes_next_plan,
    }
}

/// The branch of a death with no restart to try.
fn no_restart(e: &Entity) -> AfterDeath {
    let stays = stays_after_death(e, false);
    AfterDeath {
        stays,
        removed_conditions: Vec::new(),
        removed_actions: Vec::new(),
        broken: BTreeSet::new(),
        restart_plan: None,
        changes_next_plan: !stays,
    }
}

fn cond_ref(eref: &EntityRef, c: &Condition) -> ConditionRef {
    ConditionRef {
        entity: eref.clone(),
        name: c.name.clone(),
        uid: Some(c.uid),
    }
}

fn action_ref(eref: &EntityRef, c: &Condition, a: &Action) -> ActionRef {
    ActionRef {
        condition: cond_ref(eref, c),
        name: a.name.clone(),
        uid: Some(a.uid),
    }
}

#[cfg(test)]
mod datadriven;
