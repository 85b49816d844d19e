//! `hamctrl control (entity|condition|action) PATH COMMAND [FLAGS]`.

use clap::ValueEnum;
use ham_client::{ControlCommand, flags};

use super::{CtlResult, Ctx, tree_path, usage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Level {
    Entity,
    Condition,
    Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cmd {
    Enable,
    Disable,
    AddFlags,
    RemoveFlags,
    SetFlags,
    GetFlags,
}

impl Cmd {
    fn command(self) -> ControlCommand {
        match self {
            Cmd::Enable => ControlCommand::Enable,
            Cmd::Disable => ControlCommand::Disable,
            Cmd::AddFlags => ControlCommand::AddFlags,
            Cmd::RemoveFlags => ControlCommand::RemoveFlags,
            Cmd::SetFlags => ControlCommand::SetFlags,
            Cmd::GetFlags => ControlCommand::GetFlags,
        }
    }

    fn takes_flags(self) -> bool {
        matches!(self, Cmd::AddFlags | Cmd::RemoveFlags | Cmd::SetFlags)
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What PATH names.
    #[arg(value_enum)]
    pub level: Level,
    /// ENTITY, ENTITY/COND or ENTITY/COND/ACTION.
    pub path: String,
    /// The command.
    #[arg(value_enum)]
    pub command: Cmd,
    /// For add-flags, remove-flags, set-flags: names or numbers joined by
    /// `|` (HREARMAFTERRESTART|HCONDNOWAIT, 0x101).
    pub flags: Option<String>,
    /// enable/disable: also everything below (HRECURSE).
    #[arg(long)]
    pub recurse: bool,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let path = tree_path(&self.path)?;
        let want = match self.level {
            Level::Entity => 1,
            Level::Condition => 2,
            Level::Action => 3,
        };
        if path.parts.len() != want || path.info {
            return Err(usage(format!(
                "{:?} path must have {want} component(s): {:?}",
                self.level, self.path
            )));
        }
        let mut bits = match (&self.flags, self.command.takes_flags()) {
            (Some(text), true) => {
                flags::parse(text).ok_or_else(|| usage(format!("bad flags {text:?}")))?
            }
            (None, true) => return Err(usage(format!("{:?} needs FLAGS", self.command))),
            (Some(_), false) => {
                return Err(usage(format!("{:?} takes no FLAGS", self.command)));
            }
            (None, false) => 0,
        };
        if self.recurse {
            bits |= flags::HRECURSE;
        }
        let command = self.command.command();
        let (e, c, a) = (path.part(0), path.part(1), path.part(2));
        let result = match self.level {
            Level::Entity => {
                let h = ctx.entity(e).await?;
                ctx.ham.entity_control(&h, command, bits).await?
            }
            Level::Condition => {
                let h = ctx.condition(e, c).await?;
                ctx.ham.condition_control(&h, command, bits).await?
            }
            Level::Action => {
                let h = ctx.action(e, c, a).await?;
                ctx.ham.action_control(&h, command, bits).await?
            }
        };
        if !matches!(self.command, Cmd::Enable | Cmd::Disable) {
            println!("{result:#010x} {}", flags::describe(result));
        }
        Ok(())
    }
}
