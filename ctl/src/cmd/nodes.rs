//! `hamctrl nodes`: the cluster members (`ID NAME STATE ADDRESS`, the
//! leader marked `*`).

use super::{CtlResult, Ctx};
use crate::paths::TreePath;
use crate::render;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let tree = ctx.tree(&TreePath::default(), false).await?;
        print!("{}", render::nodes(&tree.info.unwrap_or_default()));
        Ok(())
    }
}
