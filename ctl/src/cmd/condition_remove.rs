//! `hamctrl condition-remove ENTITY COND`.

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub condition: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let cond = ctx.condition(&self.entity, &self.condition).await?;
        ctx.ham.condition_remove(&cond).await?;
        Ok(())
    }
}
