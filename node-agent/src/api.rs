//! The gRPC API: every `ham_*` call (service `ham.v1.Ham`).
//!
//! Generated types stop here: [`convert`] turns them into `ham-core` types,
//! [`crate::status`] turns model errors into gRPC status (from the
//! vocabulary's one table), and [`Calls`]
//! carries each call out against the [`crate::node::Node`].

mod attach;
pub mod convert;
mod members;
mod reads;
mod stopstart;
mod streams;
mod tree;
mod writes;

use crate::agent::AgentHandle;
use crate::net::cluster::Cluster;
use crate::node::Node;
use crate::status::to_status;
use ham_proto::ham::v1 as pb;
use std::sync::Arc;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// What the calls need: the node, its agent, and the stop switch.
#[derive(Debug, Clone)]
pub struct Calls {
    node: Node,
    agent: AgentHandle,
    cluster: Cluster,
    stop: Arc<Notify>,
}

/// The tonic service.
#[derive(Debug, Clone)]
pub struct HamService {
    calls: Calls,
}

impl HamService {
    /// A service over `node`; `stop` is notified by a Stop call for this node.
    pub fn new(cluster: Cluster, agent: AgentHandle, stop: Arc<Notify>) -> HamService {
        let node = cluster.node().clone();
        HamService {
            calls: Calls {
                node,
                agent,
                cluster,
                stop,
            },
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::ham_server::HamServer<HamService> {
        // Trees of large HAMs exceed tonic's 4 MiB default.
        pb::ham_server::HamServer::new(self).max_encoding_message_size(64 << 20)
    }
}

/// Metadata key of the optional client request id of a write (HAM-CONTRACT M5): 1 to 64
/// printable ASCII bytes. A write retried with the same id is applied at most once and
/// answered with the first outcome.
pub const REQUEST_ID_METADATA: &str = ham_vocab::REQUEST_ID_METADATA_KEY;

/// The client request id of a call, if it has one; EINVAL when it is malformed.
fn request_id(md: &tonic::metadata::MetadataMap) -> ham_core::model::Result<Option<String>> {
    let Some(v) = md.get(REQUEST_ID_METADATA) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|id| ham_core::machine::valid_request_id(id))
        .map(|id| Some(id.to_string()))
        .ok_or_else(|| {
            ham_core::model::einval(format!(
                "{REQUEST_ID_METADATA} must be 1 to {} printable ASCII characters",
                ham_core::machine::REQUEST_ID_MAX
            ))
        })
}

/// Each RPC converts the error of its inherent method in [`Calls`] to a status.
/// The streaming RPCs are written out after the unary ones.
macro_rules! ham_service {
    (unary { $($name:ident($req:ty) -> $resp:ty;)* } streams { $($stream:item)* }) => {
        #[tonic::async_trait]
        impl pb::ham_server::Ham for HamService {
            $(
                async fn $name(&self, req: Request<$req>) -> Result<Response<$resp>, Status> {
                    let id = request_id(req.metadata()).map_err(to_status)?;
                    let call = self.calls.$name(req.into_inner());
                    crate::node::with_request_id(id, call).await.map(Response::new).map_err(to_status)
                }
            )*
            $($stream)*
        }
    };
}

ham_service! {
    unary {
    handshake(pb::ConnectRequest) -> pb::NodeInfo;
    attach(pb::AttachRequest) -> pb::EntityHandle;
    attach_self(pb::AttachSelfRequest) -> pb::EntityHandle;
    detach(pb::DetachRequest) -> pb::Empty;
    entity(pb::EntityRequest) -> pb::EntityHandle;
    condition(pb::ConditionRequest) -> pb::ConditionHandle;
    condition_raise(pb::ConditionRaiseRequest) -> pb::ConditionHandle;
    condition_state(pb::ConditionStateRequest) -> pb::ConditionHandle;
    condition_remove(pb::ConditionHandle) -> pb::Empty;
    action_restart(pb::ActionRestartRequest) -> pb::ActionHandle;
    action_execute(pb::ActionExecuteRequest) -> pb::ActionHandle;
    action_waitfor(pb::ActionWaitforRequest) -> pb::ActionHandle;
    action_notify_pulse(pb::ActionNotifyPulseRequest) -> pb::ActionHandle;
    action_notify_signal(pb::ActionNotifySignalRequest) -> pb::ActionHandle;
    action_heartbeat_healthy(pb::ActionHeartbeatHealthyRequest) -> pb::ActionHandle;
    action_log(pb::ActionLogRequest) -> pb::ActionHandle;
    action_fail_execute(pb::ActionFailExecuteRequest) -> pb::ActionFailRef;
    action_fail_waitfor(pb::ActionFailWaitforRequest) -> pb::ActionFailRef;
    action_fail_notify_pulse(pb::ActionFailNotifyPulseRequest) -> pb::ActionFailRef;
    action_fail_notify_signal(pb::ActionFailNotifySignalRequest) -> pb::ActionFailRef;
    action_fail_log(pb::ActionFailLogRequest) -> pb::ActionFailRef;
    action_remove(pb::ActionHandle) -> pb::Empty;
    action_fail_remove(pb::ActionFailRef) -> pb::Empty;
    entity_control(pb::EntityControlRequest) -> pb::ControlReply;
    condition_control(pb::ConditionControlRequest) -> pb::ControlReply;
    action_control(pb::ActionControlRequest) -> pb::ControlReply;
    entity_condition_raise(pb::EntityConditionRaiseRequest) -> pb::Empty;
    entity_condition_state(pb::EntityConditionStateRequest) -> pb::Empty;
    heartbeat(pb::HeartbeatRequest) -> pb::Empty;
    stop(pb::StopRequest) -> pb::Empty;
    verbose(pb::VerboseRequest) -> pb::VerboseReply;
    entity_handle_lookup(pb::EntityHandleLookupRequest) -> pb::EntityHandle;
    condition_handle_lookup(pb::ConditionHandleLookupRequest) -> pb::ConditionHandle;
    action_handle_lookup(pb::ActionHandleLookupRequest) -> pb::ActionHandle;
    tree(pb::TreeRequest) -> pb::HamTree;
    add_node(pb::AddNodeRequest) -> pb::ClusterReply;
    remove_node(pb::RemoveNodeRequest) -> pb::ClusterReply;
    entity_stop(pb::EntityStopRequest) -> pb::Empty;
    entity_start(pb::EntityStartRequest) -> pb::EntityHandle;
    }
    streams {
        async fn heartbeat_stream(
            &self,
            req: Request<tonic::Streaming<pb::HeartbeatRequest>>,
        ) -> Result<Response<pb::Empty>, Status> {
            self.calls.heartbeat_stream(req.into_inner()).await.map(Response::new).map_err(to_status)
        }

        type PulseChannelStream = streams::PulseStream;

        async fn pulse_channel(
            &self,
            req: Request<pb::PulseChannelRequest>,
        ) -> Result<Response<Self::PulseChannelStream>, Status> {
            self.calls.pulse_channel(req.into_inner()).map(Response::new).map_err(to_status)
        }
    }
}
