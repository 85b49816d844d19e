//! One module per `hamctrl` verb, and what they share.

pub mod action;
pub mod action_fail;
pub mod action_fail_remove;
pub mod action_remove;
pub mod attach;
pub mod cat;
pub mod condition;
pub mod condition_remove;
pub mod control;
pub mod detach;
pub mod entity;
mod kind;
pub mod ls;
pub mod node;
pub mod nodes;
pub mod raise;
pub mod start_entity;
pub mod state;
pub mod stop;
pub mod stop_entity;
pub mod verbose;

use ham_client::proto::{EntityInfo, HamTree};
use ham_client::{ActionHandle, ConditionHandle, EntityHandle, Ham, HamError, NodeSel};

use crate::cli::Command;
use crate::paths::{TreePath, entity_name};

/// What every verb gets: the connection and the node addressed.
#[derive(Debug)]
pub struct Ctx {
    pub ham: Ham,
    pub node: NodeSel,
}

/// Why a verb failed.
#[derive(Debug)]
pub enum CtlError {
    /// The HAM answered with an error (exit 1).
    Ham(HamError),
    /// The arguments do not make sense together (exit 2).
    Usage(String),
}

impl From<HamError> for CtlError {
    fn from(e: HamError) -> CtlError {
        CtlError::Ham(e)
    }
}

pub type CtlResult = Result<(), CtlError>;

/// A usage error.
pub fn usage(msg: impl Into<String>) -> CtlError {
    CtlError::Usage(msg.into())
}

impl Ctx {
    pub async fn entity(&self, entity: &str) -> Result<EntityHandle, HamError> {
        self.ham
            .entity_handle(self.node.clone(), entity_name(entity))
            .await
    }

    pub async fn condition(&self, entity: &str, cond: &str) -> Result<ConditionHandle, HamError> {
        self.ham
            .condition_handle(self.node.clone(), entity_name(entity), cond)
            .await
    }

    pub async fn action(
        &self,
        entity: &str,
        cond: &str,
        action: &str,
    ) -> Result<ActionHandle, HamError> {
        self.ham
            .action_handle(self.node.clone(), entity_name(entity), cond, action)
            .await
    }

    /// The tree narrowed to `path` (the whole tree for the top). The global
    /// entity's name is "", which the Tree call reads as "every entity", so
    /// below the global entity the whole tree is asked for and the caller
    /// picks the objects from it.
    /// `linearizable` asks the node for a read that sees every write
    /// acknowledged before it (through the Raft leader), not its local copy.
    pub async fn tree(&self, path: &TreePath, linearizable: bool) -> Result<HamTree, HamError> {
        let (condition, action) = if path.part(0).is_empty() {
            ("", "")
        } else {
            (path.part(1), path.part(2))
        };
        self.ham
            .tree(
                self.node.clone(),
                path.part(0),
                condition,
                action,
                linearizable,
            )
            .await
    }
}

/// Finds the entity of `path` in a tree answer (ENOENT when absent).
pub fn find_entity<'t>(tree: &'t HamTree, name: &str) -> Result<&'t EntityInfo, HamError> {
    tree.entities
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            HamError::new(
                ham_client::Errno::Enoent,
                format!("no entity named {}", crate::paths::show_entity(name)),
            )
        })
}

/// Parses a tree path argument, or a usage error.
pub fn tree_path(text: &str) -> Result<TreePath, CtlError> {
    TreePath::parse(text).ok_or_else(|| usage(format!("bad path {text:?}")))
}

pub async fn dispatch(command: Command, ctx: &Ctx) -> CtlResult {
    match command {
        Command::Attach(a) => a.run(ctx).await,
        Command::Entity(a) => a.run(ctx).await,
        Command::Detach(a) => a.run(ctx).await,
        Command::Condition(a) => a.run(ctx).await,
        Command::ConditionRemove(a) => a.run(ctx).await,
        Command::Action(a) => a.run(ctx).await,
        Command::ActionFail(a) => a.run(ctx).await,
        Command::ActionRemove(a) => a.run(ctx).await,
        Command::ActionFailRemove(a) => a.run(ctx).await,
        Command::Control(a) => a.run(ctx).await,
        Command::Raise(a) => a.run(ctx).await,
        Command::State(a) => a.run(ctx).await,
        Command::Verbose(a) => a.run(ctx).await,
        Command::Stop(a) => a.run(ctx).await,
        Command::StopEntity(a) => a.run(ctx).await,
        Command::StartEntity(a) => a.run(ctx).await,
        Command::Ls(a) => a.run(ctx).await,
        Command::Cat(a) => a.run(ctx).await,
        Command::Nodes(a) => a.run(ctx).await,
        Command::Node(a) => a.run(ctx).await,
    }
}
