//! `hamctrl action-remove ENTITY COND ACTION`.

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub condition: String,
    /// Action name.
    pub action: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let action = ctx
            .action(&self.entity, &self.condition, &self.action)
            .await?;
        ctx.ham.action_remove(&action).await?;
        Ok(())
    }
}
