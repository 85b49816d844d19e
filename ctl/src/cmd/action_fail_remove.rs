//! `hamctrl action-fail-remove ENTITY COND ACTION NAME`.

use ham_client::ActionFailRef;

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub condition: String,
    /// Action name.
    pub action: String,
    /// Action-fail action name.
    pub name: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let action = ctx
            .action(&self.entity, &self.condition, &self.action)
            .await?;
        let fail = ActionFailRef {
            action: Some(action),
            name: self.name,
        };
        ctx.ham.action_fail_remove(&fail).await?;
        Ok(())
    }
}
