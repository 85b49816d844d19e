//! Stop and start calls (HAM-CONTRACT L5): one command each through the
//! log; the entity's node carries it out (S2 for a stop, the restart line
//! for a start).

use super::Calls;
use super::convert::{self as cv, node_sel};
use crate::node::now_ns;
use ham_core::model::{self as m, Command, Response, Result, einval};
use ham_proto::ham::v1 as pb;
use std::time::Duration;

/// How long a stop call waits beyond its entity's grace for SIGKILL to end
/// what remains (the stop sequence's rounds of SIGKILL, with some slack).
const KILL_SLACK: Duration = Duration::from_secs(25);
/// How long a start call waits for the new pid to be committed.
const START_WAIT: Duration = Duration::from_secs(5);

type Target = Option<pb::entity_stop_request::Target>;

impl Calls {
    /// The entity a stop or start call names, by handle or by node and name.
    fn named(
        &self,
        handle: Option<pb::EntityHandle>,
        by_name: Option<pb::NamedEntity>,
    ) -> Result<m::EntityRef> {
        match (handle, by_name) {
            (Some(h), _) => cv::entity_ref(Some(&h), self.node.identity.id),
            (None, Some(n)) => Ok(m::EntityRef {
                node: self.node.resolve(&node_sel(n.node.as_ref()))?,
                name: n.name,
                uid: None,
            }),
            (None, None) => Err(einval("name the entity by handle or by node and name")),
        }
    }

    /// The entity's uid and grace as this node's replica knows them, when it runs here.
    fn local_entity(&self, r: &m::EntityRef) -> Option<(u64, u64)> {
        if r.node != self.node.identity.id {
            return None;
        }
        self.node
            .read_now(|s| s.entity(r).map(|e| (e.uid, e.stop.grace_ms)).ok())
    }

    pub async fn entity_stop(&self, r: pb::EntityStopRequest) -> Result<pb::Empty> {
        let (handle, by_name) = split(r.target);
        let entity = self.named(handle, by_name)?;
        // Registered before the write, so that a stop the agent finishes at
        // once is still seen.
        let wait = self
            .local_entity(&entity)
            .map(|(uid, grace)| (self.agent.expect_stopped(uid), grace));
        self.node.write(Command::StopEntity { entity }).await?;
        if let Some((done, grace_ms)) = wait {
            // Answer once its processes are gone.
            let limit = Duration::from_millis(grace_ms) + KILL_SLACK;
            let _ = tokio::time::timeout(limit, done).await;
        }
        Ok(pb::Empty {})
    }

    pub async fn entity_start(&self, r: pb::EntityStartRequest) -> Result<pb::EntityHandle> {
        let target = r.target.map(|t| match t {
            pb::entity_start_request::Target::Handle(h) => {
                pb::entity_stop_request::Target::Handle(h)
            }
            pb::entity_start_request::Target::ByName(n) => {
                pb::entity_stop_request::Target::ByName(n)
            }
        });
        let (handle, by_name) = split(target);
        let entity = self.named(handle, by_name)?;
        let local = self.local_entity(&entity);
        if let Some((uid, _)) = local {
            self.agent.expect_start(uid);
        }
        let cmd = Command::StartEntity {
            entity,
            now_ns: now_ns(),
        };
        let handle = match self.node.write(cmd).await? {
            Response::Entity(e) => cv::entity_handle(&e),
            other => {
                return Err(m::HamError::new(
                    m::Errno::Eio,
                    format!("unexpected answer {other:?}"),
                ));
            }
        };
        if handle.node_id == self.node.identity.id {
            // Answer once the new process's pid is in the state.
            self.agent.wait_started(handle.uid, START_WAIT).await;
        }
        Ok(handle)
    }
}

fn split(t: Target) -> (Option<pb::EntityHandle>, Option<pb::NamedEntity>) {
    match t {
        Some(pb::entity_stop_request::Target::Handle(h)) => (Some(h), None),
        Some(pb::entity_stop_request::Target::ByName(n)) => (None, Some(n)),
        None => (None, None),
    }
}
