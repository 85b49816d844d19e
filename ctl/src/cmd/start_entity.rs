//! `hamctrl start-entity NAME` (HAM-CONTRACT L5): starts a stopped entity
//! again by its restart line.

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
            .entity_start_name(ctx.node.clone(), entity_name(&self.name))
            .await?;
        Ok(())
    }
}
