//! `hamctrl raise ENTITY --rtype T --rclass C --rseverity S`.

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition type.
    #[arg(long, allow_negative_numbers = true)]
    pub rtype: i32,
    /// Condition class.
    #[arg(long, allow_negative_numbers = true)]
    pub rclass: i32,
    /// Severity.
    #[arg(long, allow_negative_numbers = true)]
    pub rseverity: i32,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let entity = ctx.entity(&self.entity).await?;
        ctx.ham
            .entity_condition_raise(&entity, self.rtype, self.rclass, self.rseverity, 0)
            .await?;
        Ok(())
    }
}
