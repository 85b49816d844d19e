//! `hamctrl stop-entity NAME` (HAM-CONTRACT L5): stops an entity's
//! processes (warning signal, grace, SIGKILL of what remains) and keeps it,
//! with its conditions, until `hamctrl start-entity NAME`. Not `-stop`,
//! which stops the HAM itself.

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name.
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
