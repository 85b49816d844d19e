//! `hamctrl state ENTITY VALUE`.

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// The entity's new state.
    #[arg(allow_negative_numbers = true)]
    pub value: i64,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let entity = ctx.entity(&self.entity).await?;
        ctx.ham
            .entity_condition_state(&entity, self.value, 0)
            .await?;
        Ok(())
    }
}
