//! `hamctrl verbose get|set N|incr [N]|decr [N]` (QNX: `=verbose`,
//! `-verbose`, `+verbose`). Prints the verbosity after the operation.

use clap::Subcommand;
use ham_client::VerboseOp;

use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub op: Op,
}

#[derive(Debug, Subcommand)]
pub enum Op {
    /// Show the verbosity.
    Get,
    /// Set the verbosity.
    Set { value: i32 },
    /// Raise the verbosity (by 1 by default).
    Incr {
        #[arg(default_value_t = 1)]
        step: i32,
    },
    /// Lower the verbosity (by 1 by default).
    Decr {
        #[arg(default_value_t = 1)]
        step: i32,
    },
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let (op, value) = match self.op {
            Op::Get => (VerboseOp::Get, 0),
            Op::Set { value } => (VerboseOp::Set, value),
            Op::Incr { step } => (VerboseOp::Incr, step),
            Op::Decr { step } => (VerboseOp::Decr, step),
        };
        let verbosity = ctx.ham.verbose(ctx.node.clone(), op, value).await?;
        println!("{verbosity}");
        Ok(())
    }
}
