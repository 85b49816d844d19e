//! `hamctrl stop-entity NAME` (HAM-CONTRACT L5): stops an entity's
//! processes (warning signal, grace, SIGKILL of what remains) and keeps it,
//! with its conditions, until `hamctrl start-entity NAME`. Not `-stop`,
//! which stops the HAM itself. The call answers once the processes are
//! gone, which can take the entity's whole grace (10 s by default, as
//! hamctrl's own `--timeout`): give a longer `--timeout` for a longer grace;
//! a timed-out call leaves the stop running.

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name. The call waits until its processes are gone: up to its
    /// grace, so a grace near --timeout needs a longer --timeout.
    pub name: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        ctx.ham
            .entity_stop_name(ctx.node.clone(), entity_name(&self.name))
            .await?;
        Ok(())
    }
}
