//! `hamctrl detach NAME`.

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name.
    pub name: String,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        ctx.ham.detach_name(ctx.node.clone(), &self.name, 0).await?;
        Ok(())
    }
}
