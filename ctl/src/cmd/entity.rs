//! `hamctrl entity NAME`: a placeholder entity.

use ham_client::flags;

use super::{CtlResult, Ctx};
use crate::paths::entity_name;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name.
    pub name: String,
    /// Keep the entity after a death that is not restarted.
    #[arg(long)]
    pub keep_on_death: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let flags = if self.keep_on_death {
            flags::HENTITYKEEPONDEATH
        } else {
            0
        };
        ctx.ham
            .entity(ctx.node.clone(), entity_name(&self.name), flags)
            .await?;
        Ok(())
    }
}
