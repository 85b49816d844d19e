//! `hamctrl stop [--cluster]` (QNX: `hamctrl [-node NAME] -stop`).

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop the HAM of every node of the cluster.
    #[arg(long)]
    pub cluster: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        ctx.ham.stop(ctx.node.clone(), self.cluster).await?;
        Ok(())
    }
}
