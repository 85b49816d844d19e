//! Stopping and starting entities (HAM-CONTRACT L5) and the stop policy an
//! attach gives them (S2, L1).

use ham_proto::ham::v1::{self as pb, EntityHandle};
use std::time::Duration;

use crate::attach::Attach;
use crate::ham::{Ham, HamResult, Heartbeat};
use crate::node::NodeSel;

pub use ham_proto::ham::v1::KillMode;

/// How an entity's processes are stopped: the warning signal (0 = SIGTERM),
/// the grace before SIGKILL (None = 10 s), and which processes a stop reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopPolicy {
    /// The warning signal, a Linux signal number; 0 is SIGTERM.
    pub warn_signal: i32,
    /// The grace between the warning and SIGKILL; None is 10 s.
    pub grace: Option<Duration>,
    /// Its process group and cgroup (the default), or its main process alone.
    pub kill_mode: KillMode,
}

impl Ham {
    /// An attach with a stop policy and nothing else of [`Attach`] (HAM-CONTRACT S2, L1).
    #[allow(clippy::too_many_arguments)] // one parameter per part of the call
    pub async fn attach_with_stop(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        pid: i64,
        command_line: &str,
        pidfile: &str,
        heartbeat: Heartbeat,
        flags: u32,
        stop: StopPolicy,
    ) -> HamResult<EntityHandle> {
        let spec = Attach {
            pid,
            command_line: command_line.to_owned(),
            pidfile: pidfile.to_owned(),
            heartbeat,
            flags,
            stop,
            ..Attach::default()
        };
        self.attach_with(node, name, &spec).await
    }

    /// Stops an entity by handle (L5): its processes get the S2 sequence, it
    /// keeps its conditions and actions, no DEATH recovery runs. Answers once
    /// its processes are gone. ESRCH when it is stopped already.
    pub async fn entity_stop(&self, entity: &EntityHandle) -> HamResult<()> {
        let target = pb::entity_stop_request::Target::Handle(entity.clone());
        self.stop_request(target).await
    }

    /// [`Ham::entity_stop`] by node and name.
    pub async fn entity_stop_name(&self, node: impl Into<NodeSel>, name: &str) -> HamResult<()> {
        let target = pb::entity_stop_request::Target::ByName(pb::NamedEntity {
            node: node.into().to_proto(),
            name: name.to_owned(),
        });
        self.stop_request(target).await
    }

    async fn stop_request(&self, target: pb::entity_stop_request::Target) -> HamResult<()> {
        let req = pb::EntityStopRequest {
            target: Some(target),
        };
        self.write(req, |mut c, r| async move { c.entity_stop(r).await })
            .await?;
        Ok(())
    }

    /// Starts a stopped entity again by its restart line (L5); answers with
    /// its handle once the new pid is known. EEXIST when it runs.
    pub async fn entity_start(&self, entity: &EntityHandle) -> HamResult<EntityHandle> {
        let target = pb::entity_start_request::Target::Handle(entity.clone());
        self.start_request(target).await
    }

    /// [`Ham::entity_start`] by node and name.
    pub async fn entity_start_name(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
    ) -> HamResult<EntityHandle> {
        let target = pb::entity_start_request::Target::ByName(pb::NamedEntity {
            node: node.into().to_proto(),
            name: name.to_owned(),
        });
        self.start_request(target).await
    }

    async fn start_request(
        &self,
        target: pb::entity_start_request::Target,
    ) -> HamResult<EntityHandle> {
        let req = pb::EntityStartRequest {
            target: Some(target),
        };
        self.write(req, |mut c, r| async move { c.entity_start(r).await })
            .await
    }
}
