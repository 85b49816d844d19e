//! `hamctrl cat PATH`: an `.info` file or an action file, as
//! `cat /proc/ham/PATH`. A folder path shows its `.info`.

use super::ls::absent;
use super::{CtlResult, Ctx, find_entity, tree_path};
use crate::render;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `.info`, ENTITY[/.info], ENTITY/COND[/.info] or ENTITY/COND/ACTION
    /// (a leading /ham is accepted).
    #[arg(default_value = ".info")]
    pub path: String,
    /// Read through the Raft leader: see every write acknowledged before
    /// this call, on any node (default: this node's copy, which may lag).
    #[arg(long)]
    pub linearizable: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let path = tree_path(&self.path)?;
        let tree = ctx.tree(&path, self.linearizable).await?;
        if path.parts.is_empty() {
            print!("{}", render::root_info(&tree.info.unwrap_or_default()));
            return Ok(());
        }
        let entity = find_entity(&tree, path.part(0))?;
        let Some(cond_name) = path.parts.get(1) else {
            print!("{}", render::entity_info(entity));
            return Ok(());
        };
        let cond = entity
            .conditions
            .iter()
            .find(|c| &c.name == cond_name)
            .ok_or_else(|| absent("condition", cond_name))?;
        let Some(action_name) = path.parts.get(2) else {
            print!("{}", render::condition_info(entity, cond));
            return Ok(());
        };
        let action = cond
            .actions
            .iter()
            .find(|a| &a.name == action_name)
            .ok_or_else(|| absent("action", action_name))?;
        print!("{}", render::action_file(entity, cond, action));
        Ok(())
    }
}
