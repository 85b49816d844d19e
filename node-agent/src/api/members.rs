//! Cluster membership calls (Raft conf changes), carried out by the leader.

use super::Calls;
use super::convert::node_sel;
use crate::net::cluster::call;
use ham_core::model::{Command, Errno, HamError, Result, check_name};
use ham_core::replica::{Membership, MembershipChange};
use ham_proto::ham::v1 as pb;

fn reply(m: Membership) -> pb::ClusterReply {
    pb::ClusterReply {
        voters: m.voters,
        learners: m.learners,
    }
}

impl Calls {
    pub async fn add_node(&self, r: pb::AddNodeRequest) -> Result<pb::ClusterReply> {
        let leader = self.cluster.leader()?;
        if leader != self.node.identity.id {
            return call(leader, self.cluster.ham_of(leader)?.add_node(r)).await;
        }
        if r.address.is_empty() || !r.address.contains(':') {
            return Err(HamError::new(
                Errno::Einval,
                format!(
                    "bad address {}: expected HOST:PORT",
                    ham_core::model::quoted(&r.address)
                ),
            ));
        }
        check_name("node", &r.name)?;
        // The name and address first, so that every node can reach the new one
        // by the time it joins the Raft group; EEXIST if the name is taken.
        self.node
            .write(Command::RegisterNode {
                id: r.id,
                name: r.name.clone(),
                address: r.address.clone(),
            })
            .await?;
        let change = if r.learner {
            MembershipChange::AddLearner(r.id)
        } else {
            MembershipChange::AddVoter(r.id)
        };
        tracing::info!(node = r.id, name = %r.name, learner = r.learner, "adding a node");
        Ok(reply(self.node.change_membership(vec![change]).await?))
    }

    pub async fn remove_node(&self, r: pb::RemoveNodeRequest) -> Result<pb::ClusterReply> {
        let id = self.node.resolve(&node_sel(r.node.as_ref()))?;
        let leader = self.cluster.leader()?;
        if leader != self.node.identity.id {
            return call(leader, self.cluster.ham_of(leader)?.remove_node(r)).await;
        }
        tracing::info!(node = id, "removing a node");
        Ok(reply(
            self.node
                .change_membership(vec![MembershipChange::Remove(id)])
                .await?,
        ))
    }
}
