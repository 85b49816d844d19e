//! `hamctrl detach NAME`.

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global`, the node's global entity, is refused).
    pub name: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        ctx.ham
            .detach_name(ctx.node.clone(), entity_name(&self.name), 0)
            .await?;
        Ok(())
    }
}
