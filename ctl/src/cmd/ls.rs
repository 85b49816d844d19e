//! `hamctrl ls [PATH]`: one level of the HAM tree, as `ls /proc/ham/PATH`.

use ham_client::{Errno, HamError};

use super::{CtlResult, Ctx, find_entity, tree_path};
use crate::render;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// ENTITY, ENTITY/COND or ENTITY/COND/ACTION (a leading /ham is
    /// accepted); the top when absent.
    #[arg(default_value = "")]
    pub path: String,
    /// Read through the Raft leader: see every write acknowledged before
    /// this call, on any node (default: this node's copy, which may lag).
    #[arg(long)]
    pub linearizable: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let path = tree_path(&self.path)?;
        if path.info {
            println!("{}", render::INFO);
            return Ok(());
        }
        let tree = ctx.tree(&path, self.linearizable).await?;
        if path.parts.is_empty() {
            print!("{}", render::ls_root(&tree.entities));
            return Ok(());
        }
        let entity = find_entity(&tree, path.part(0))?;
        let Some(cond_name) = path.parts.get(1) else {
            print!("{}", render::ls_entity(entity));
            return Ok(());
        };
        let cond = entity
            .conditions
            .iter()
            .find(|c| &c.name == cond_name)
            .ok_or_else(|| absent("condition", cond_name))?;
        match path.parts.get(2) {
            None => print!("{}", render::ls_condition(cond)),
            Some(action) => {
                if !cond.actions.iter().any(|a| &a.name == action) {
                    return Err(absent("action", action).into());
                }
                println!("{action}");
            }
        }
        Ok(())
    }
}

/// ENOENT for a missing object.
pub fn absent(what: &str, name: &str) -> HamError {
    HamError::new(Errno::Enoent, format!("no {what} named {name}"))
}
