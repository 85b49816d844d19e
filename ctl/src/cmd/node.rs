//! `hamctrl node add ID NAME HOST:PORT [--learner]` and
//! `hamctrl node remove NAME|ID`: cluster membership (Raft conf changes,
//! carried out by the leader whichever node hamctrl talks to).

use super::{CtlResult, Ctx};
use crate::cli::parse_node;
use ham_client::proto as pb;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Add a node (a voter; or a learner that can be promoted later by adding it again).
    Add {
        /// Its Raft id (never reuse the id of a node whose disk was wiped).
        id: u64,
        /// Its unique name.
        name: String,
        /// Its address, HOST:PORT.
        address: String,
        /// Join as a non-voting learner.
        #[arg(long)]
        learner: bool,
    },
    /// Remove a node from the Raft group (its HAM context stays in the state).
    Remove {
        /// Its name or id.
        target: String,
    },
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let mut raw = ctx.ham.raw();
        let reply = match self.what {
            What::Add {
                id,
                name,
                address,
                learner,
            } => {
                let req = pb::AddNodeRequest {
                    id,
                    name,
                    address,
                    learner,
                };
                raw.add_node(req)
                    .await
                    .map_err(ham_client::HamError::from)?
            }
            What::Remove { target } => {
                let sel = parse_node(&target).map_err(super::usage)?;
                let req = pb::RemoveNodeRequest {
                    node: sel.to_proto(),
                };
                raw.remove_node(req)
                    .await
                    .map_err(ham_client::HamError::from)?
            }
        }
        .into_inner();
        println!("voters: {:?}", reply.voters);
        println!("learners: {:?}", reply.learners);
        Ok(())
    }
}
