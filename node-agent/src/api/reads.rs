//! Calls served from the local replica (and the local agent): handshakes,
//! handle look-ups, heartbeats, the tree view.

use super::Calls;
use super::convert::{self as cv, node_sel};
use super::tree::build_tree;
use super::writes::id_ref;
use crate::net::cluster::call;
use ham_core::model::Result;
use ham_proto::ham::v1 as pb;

impl Calls {
    pub async fn handshake(&self, r: pb::ConnectRequest) -> Result<pb::NodeInfo> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        if node != self.node.identity.id && node != ham_core::model::CLUSTER_NODE_ID {
            let req = pb::ConnectRequest {
                node: Some(id_ref(node)),
            };
            return call(node, self.cluster.ham_of(node)?.handshake(req)).await;
        }
        let status = self.node.status();
        let leader_name = self.node.read_now(|s| {
            s.nodes
                .get(&status.leader_id)
                .map(|m| m.name.clone())
                .unwrap_or_default()
        });
        Ok(pb::NodeInfo {
            node_id: self.node.identity.id,
            node_name: self.node.identity.name.clone(),
            ham_pid: std::process::id().into(),
            leader_id: status.leader_id,
            leader_name,
            version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    pub async fn heartbeat(&self, r: pb::HeartbeatRequest) -> Result<pb::Empty> {
        let entity = cv::entity_ref(r.entity.as_ref(), self.node.identity.id)?;
        let node = self.node.resolve(&cv::NodeSel::Id(entity.node))?;
        if node != self.node.identity.id {
            // The heartbeat goes to the agent of the entity's node.
            return call(node, self.cluster.ham_of(node)?.heartbeat(r)).await;
        }
        // The entity must exist in the state; the heartbeat itself never enters the log.
        let uid = self.node.read_now(|s| s.entity(&entity).map(|e| e.uid))?;
        self.agent.heartbeat(uid)?;
        Ok(pb::Empty {})
    }

    pub async fn entity_handle_lookup(
        &self,
        r: pb::EntityHandleLookupRequest,
    ) -> Result<pb::EntityHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        let h = self
            .node
            .read(false, |s| s.entity_handle(node, &r.entity))
            .await??;
        Ok(cv::entity_handle(&h))
    }

    pub async fn condition_handle_lookup(
        &self,
        r: pb::ConditionHandleLookupRequest,
    ) -> Result<pb::ConditionHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        let h = self
            .node
            .read(false, |s| s.condition_handle(node, &r.entity, &r.condition))
            .await??;
        Ok(cv::condition_handle(&h))
    }

    pub async fn action_handle_lookup(
        &self,
        r: pb::ActionHandleLookupRequest,
    ) -> Result<pb::ActionHandle> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        let h = self
            .node
            .read(false, |s| {
                s.action_handle(node, &r.entity, &r.condition, &r.action)
            })
            .await??;
        Ok(cv::action_handle(&h))
    }

    pub async fn tree(&self, r: pb::TreeRequest) -> Result<pb::HamTree> {
        let node = self.node.resolve(&node_sel(r.node.as_ref()))?;
        if node != self.node.identity.id && node != ham_core::model::CLUSTER_NODE_ID {
            // The owning node knows its processes' heartbeats and its HAM's pid;
            // when it cannot be reached, the replicated state still answers.
            let req = pb::TreeRequest {
                node: Some(id_ref(node)),
                ..r.clone()
            };
            match self.cluster.ham_of(node) {
                Ok(mut ham) => match call(node, ham.tree(req)).await {
                    Ok(tree) => return Ok(tree),
                    Err(e) if e.errno != ham_core::model::Errno::Ebadf => return Err(e),
                    Err(_) => {}
                },
                Err(e) if e.errno != ham_core::model::Errno::Ebadf => return Err(e),
                Err(_) => {}
            }
        }
        let status = self.node.status();
        let agent = self.agent.clone();
        self.node
            .read(r.linearizable, |s| build_tree(s, node, &status, &agent, &r))
            .await?
    }
}
