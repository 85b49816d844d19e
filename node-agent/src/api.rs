//! The gRPC API: every `ham_*` call (service `ham.v1.Ham`).
//!
//! Generated types stop here: [`convert`] turns them into `ham-core` types,
//! [`crate::status`] turns model errors into gRPC status (from the
//! vocabulary's one table), and [`Calls`]
//! carries each call out against the [`crate::node::Node`].

mod access;
pub(crate) mod attach;
pub mod convert;
mod members;
mod reads;
mod stopstart;
mod streams;
mod tree;
mod writes;

use crate::agent::AgentHandle;
use crate::auth::Access;
use crate::auth::roles::{Rpc, is_write};
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
    access: Access,
}

impl HamService {
    /// A service over `node`; `stop` is notified by a Stop call for this node.
    pub fn new(
        cluster: Cluster,
        agent: AgentHandle,
        stop: Arc<Notify>,
        access: Access,
    ) -> HamService {
        let node = cluster.node().clone();
        HamService {
            calls: Calls {
                node,
                agent,
                cluster,
                stop,
            },
            access,
        }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::ham_server::HamServer<HamService> {
        // Trees of large HAMs exceed tonic's 4 MiB default. Requests are bounded by P7's limit;
        // `server` answers one over it as ENOMEM.
        let max_request = self.access.limits.request_bytes;
        pb::ham_server::HamServer::new(self)
            .max_encoding_message_size(64 << 20)
            .max_decoding_message_size(max_request)
    }

    /// A place for one more open stream of `caller` (P7), or ENOMEM.
    fn stream_slot(
        &self,
        caller: &crate::auth::Caller,
    ) -> ham_core::model::Result<crate::auth::limits::StreamSlot> {
        let max = self.access.limits.streams_per_caller;
        self.access
            .streams
            .open(&caller.principal, max)
            .ok_or_else(|| {
                ham_core::model::HamError::new(
                    ham_core::model::Errno::Enomem,
                    format!(
                        "{} has {max} streams open, its limit (limits.streams_per_caller)",
                        caller.principal
                    ),
                )
            })
    }

    /// Serves one unary call: who calls (P1), whether it may (P2, P3, P7), the call itself
    /// inside the caller's scope (P4 checks read it), and the audit line of a write (P8).
    async fn serve<Q, R, F, Fut>(
        &self,
        rpc: Rpc,
        req: Request<Q>,
        call: F,
    ) -> Result<Response<R>, Status>
    where
        Q: access::Described,
        F: FnOnce(Calls, Q) -> Fut,
        Fut: std::future::Future<Output = ham_core::model::Result<R>>,
    {
        let caller = self.access.caller(access::principal_of(&req));
        let id = request_id(req.metadata());
        let req = req.into_inner();
        let (facts, allowed) = self.calls.authorize(&self.access, rpc, &req, &caller);
        let target = is_write(rpc, facts).then(|| req.subject().to_string());
        let result = match (allowed, id) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(id)) => {
                let run = crate::node::with_request_id(id, call(self.calls.clone(), req));
                crate::auth::with_caller(caller.clone(), run).await
            }
        };
        if let Some(target) = target {
            let outcome = result.as_ref().map(|_| ()).map_err(|e| e.errno);
            crate::auth::audit::record(&caller.principal, rpc, &target, outcome);
        }
        result.map(Response::new).map_err(to_status)
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
    (unary { $($name:ident = $rpc:ident($req:ty) -> $resp:ty;)* } streams { $($stream:item)* }) => {
        #[tonic::async_trait]
        impl pb::ham_server::Ham for HamService {
            $(
                async fn $name(&self, req: Request<$req>) -> Result<Response<$resp>, Status> {
                    self.serve(Rpc::$rpc, req, |calls, r| async move { calls.$name(r).await }).await
                }
            )*
            $($stream)*
        }
    };
}

ham_service! {
    unary {
    handshake = Handshake(pb::ConnectRequest) -> pb::NodeInfo;
    attach = Attach(pb::AttachRequest) -> pb::EntityHandle;
    attach_self = AttachSelf(pb::AttachSelfRequest) -> pb::EntityHandle;
    detach = Detach(pb::DetachRequest) -> pb::Empty;
    entity = Entity(pb::EntityRequest) -> pb::EntityHandle;
    condition = Condition(pb::ConditionRequest) -> pb::ConditionHandle;
    condition_raise = ConditionRaise(pb::ConditionRaiseRequest) -> pb::ConditionHandle;
    condition_state = ConditionState(pb::ConditionStateRequest) -> pb::ConditionHandle;
    condition_remove = ConditionRemove(pb::ConditionHandle) -> pb::Empty;
    action_restart = ActionRestart(pb::ActionRestartRequest) -> pb::ActionHandle;
    action_execute = ActionExecute(pb::ActionExecuteRequest) -> pb::ActionHandle;
    action_waitfor = ActionWaitfor(pb::ActionWaitforRequest) -> pb::ActionHandle;
    action_notify_pulse = ActionNotifyPulse(pb::ActionNotifyPulseRequest) -> pb::ActionHandle;
    action_notify_signal = ActionNotifySignal(pb::ActionNotifySignalRequest) -> pb::ActionHandle;
    action_heartbeat_healthy = ActionHeartbeatHealthy(pb::ActionHeartbeatHealthyRequest) -> pb::ActionHandle;
    action_log = ActionLog(pb::ActionLogRequest) -> pb::ActionHandle;
    action_fail_execute = ActionFailExecute(pb::ActionFailExecuteRequest) -> pb::ActionFailRef;
    action_fail_waitfor = ActionFailWaitfor(pb::ActionFailWaitforRequest) -> pb::ActionFailRef;
    action_fail_notify_pulse = ActionFailNotifyPulse(pb::ActionFailNotifyPulseRequest) -> pb::ActionFailRef;
    action_fail_notify_signal = ActionFailNotifySignal(pb::ActionFailNotifySignalRequest) -> pb::ActionFailRef;
    action_fail_log = ActionFailLog(pb::ActionFailLogRequest) -> pb::ActionFailRef;
    action_remove = ActionRemove(pb::ActionHandle) -> pb::Empty;
    action_fail_remove = ActionFailRemove(pb::ActionFailRef) -> pb::Empty;
    entity_control = EntityControl(pb::EntityControlRequest) -> pb::ControlReply;
    condition_control = ConditionControl(pb::ConditionControlRequest) -> pb::ControlReply;
    action_control = ActionControl(pb::ActionControlRequest) -> pb::ControlReply;
    entity_condition_raise = EntityConditionRaise(pb::EntityConditionRaiseRequest) -> pb::Empty;
    entity_condition_state = EntityConditionState(pb::EntityConditionStateRequest) -> pb::Empty;
    heartbeat = Heartbeat(pb::HeartbeatRequest) -> pb::Empty;
    stop = Stop(pb::StopRequest) -> pb::Empty;
    verbose = Verbose(pb::VerboseRequest) -> pb::VerboseReply;
    entity_handle_lookup = EntityHandleLookup(pb::EntityHandleLookupRequest) -> pb::EntityHandle;
    condition_handle_lookup = ConditionHandleLookup(pb::ConditionHandleLookupRequest) -> pb::ConditionHandle;
    action_handle_lookup = ActionHandleLookup(pb::ActionHandleLookupRequest) -> pb::ActionHandle;
    tree = Tree(pb::TreeRequest) -> pb::HamTree;
    add_node = AddNode(pb::AddNodeRequest) -> pb::ClusterReply;
    remove_node = RemoveNode(pb::RemoveNodeRequest) -> pb::ClusterReply;
    entity_stop = EntityStop(pb::EntityStopRequest) -> pb::Empty;
    entity_start = EntityStart(pb::EntityStartRequest) -> pb::EntityHandle;
    }
    streams {
        async fn heartbeat_stream(
            &self,
            req: Request<tonic::Streaming<pb::HeartbeatRequest>>,
        ) -> Result<Response<pb::Empty>, Status> {
            let caller = self.access.caller(access::principal_of(&req));
            let _slot = self.stream_slot(&caller).map_err(to_status)?;
            // Each heartbeat is authorized as it comes: the entity is named by the messages.
            let may = |msg: &pb::HeartbeatRequest| {
                self.calls.authorize(&self.access, Rpc::HeartbeatStream, msg, &caller).1
            };
            self.calls.heartbeat_stream(req.into_inner(), may).await.map(Response::new).map_err(to_status)
        }

        type PulseChannelStream = streams::PulseStream;

        async fn pulse_channel(
            &self,
            req: Request<pb::PulseChannelRequest>,
        ) -> Result<Response<Self::PulseChannelStream>, Status> {
            let caller = self.access.caller(access::principal_of(&req));
            let req = req.into_inner();
            let (_, allowed) = self.calls.authorize(&self.access, Rpc::PulseChannel, &req, &caller);
            allowed.map_err(to_status)?;
            let slot = self.stream_slot(&caller).map_err(to_status)?;
            self.calls.pulse_channel(req, slot).map(Response::new).map_err(to_status)
        }
    }
}
