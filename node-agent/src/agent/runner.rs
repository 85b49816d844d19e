//! Running a plan's executors (HAM-CONTRACT K8, K9, A11, A12): executors run
//! in parallel, each runs its steps in order; a failed action runs its
//! action-fail list, and when it breaks on failure (A11) the rest of its
//! condition is skipped.

use super::{Ctx, actions};
use ham_core::model::{
    ActionFail, ActionResult, EntityRef, ExecutorPlan, PlannedAction, ProcessOptions, Uid,
};
use std::collections::HashSet;
use std::sync::Arc;

/// Runs an action-fail list in order; their own failures are only logged.
/// `options` are those of the entity the action belongs to.
pub async fn run_fail_list(
    ctx: &Ctx,
    path: &str,
    subject: &EntityRef,
    options: &ProcessOptions,
    list: &[ActionFail],
) {
    for f in list {
        let fpath = format!("{path}/{}", f.name);
        let run = actions::run(ctx, &fpath, subject, options, &f.kind, f.flags);
        if let Err(why) = run.await {
            tracing::warn!(action = %fpath, error = %why, "action-fail action failed");
        }
    }
}

/// Runs one step; on failure runs its fail list. Returns whether it succeeded.
pub async fn run_step(ctx: &Ctx, subject: &EntityRef, step: &PlannedAction) -> bool {
    let a = &step.action;
    match actions::run(ctx, &step.path, subject, &step.options, &a.kind, a.flags).await {
        Ok(()) => {
            tracing::debug!(action = %step.path, "action done");
            true
        }
        Err(why) => {
            tracing::warn!(action = %step.path, error = %why, "action failed");
            run_fail_list(ctx, &step.path, subject, &step.options, &a.fail).await;
            false
        }
    }
}

async fn run_executor(
    ctx: Arc<Ctx>,
    subject: EntityRef,
    x: ExecutorPlan,
    mut broken: HashSet<Uid>,
) -> Vec<ActionResult> {
    let mut results = Vec::with_capacity(x.steps.len());
    for step in &x.steps {
        let cond = step.condition().uid.unwrap_or(0);
        if broken.contains(&cond) {
            continue;
        }
        let ok = run_step(&ctx, &subject, step).await;
        if !ok && step.breaks_on_fail() {
            broken.insert(cond);
        }
        results.push(ActionResult {
            action: step.at.clone(),
            ok,
        });
    }
    results
}

/// Runs all executors at once and gathers their results. Conditions in
/// `broken` (a failed restart with BREAKONFAIL) run no further action.
pub async fn run_executors(
    ctx: Arc<Ctx>,
    subject: EntityRef,
    executors: Vec<ExecutorPlan>,
    broken: HashSet<Uid>,
) -> Vec<ActionResult> {
    let tasks: Vec<_> = executors
        .into_iter()
        .map(|x| {
            tokio::spawn(run_executor(
                ctx.clone(),
                subject.clone(),
                x,
                broken.clone(),
            ))
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        match t.await {
            Ok(r) => results.extend(r),
            Err(e) => tracing::error!(error = %e, "an executor task failed"),
        }
    }
    results
}
