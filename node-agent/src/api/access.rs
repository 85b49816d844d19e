//! The authorization hook of every call (HAM-CONTRACT P1–P3, P7, P8): who the caller is, what
//! the request is about, whether the role table lets it through, whether it stays inside the
//! limits, and the audit line of a write.

use super::Calls;
use super::convert::{self as cv, node_sel};
use crate::auth::caller::Principal;
use crate::auth::limits::Limits;
use crate::auth::roles::{Facts, Need, Rpc, allows, required_role};
use crate::auth::{Access, Caller, refused};
use ham_core::model::{Errno, HamError, Result};
use ham_proto::ham::v1 as pb;
use tonic::Request;
use tonic::transport::server::UdsConnectInfo;

/// Who sent `req` (P1): a Unix socket peer by its `SO_PEERCRED`, a TLS peer by its certificate,
/// anyone else (plain-text TCP, `--insecure`) anonymous.
pub fn principal_of<T>(req: &Request<T>) -> Principal {
    if let Some(uds) = req.extensions().get::<UdsConnectInfo>() {
        return match uds.peer_cred {
            Some(c) => Principal::Local {
                uid: c.uid(),
                gid: c.gid(),
                pid: c.pid().unwrap_or(0),
            },
            None => Principal::Anonymous,
        };
    }
    let Some(der) = req.peer_certs().and_then(|c| c.first().cloned()) else {
        return Principal::Anonymous;
    };
    // The chain was verified by rustls; a certificate naming nobody usable is no identity.
    crate::net::certid::principal_of(&der).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a verified client certificate names no identity");
        Principal::Anonymous
    })
}

/// What a request is about: its audit target, and the entity a self-attached process may act on.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    None,
    Node(Option<&'a pb::NodeRef>),
    Named(Option<&'a pb::NodeRef>, &'a str),
    Entity(Option<&'a pb::EntityHandle>),
    Condition(Option<&'a pb::ConditionHandle>),
    Action(Option<&'a pb::ActionHandle>),
    ActionFail(Option<&'a pb::ActionHandle>, &'a str),
    Pid(i64),
    Cluster,
    NewNode(u64, &'a str),
}

fn node_text(n: Option<&pb::NodeRef>) -> String {
    match n.and_then(|n| n.node.as_ref()) {
        Some(pb::node_ref::Node::Id(id)) => format!("node={id}"),
        Some(pb::node_ref::Node::Name(name)) => format!("node={name:?}"),
        None => "node=local".into(),
    }
}

fn entity_text(h: Option<&pb::EntityHandle>) -> String {
    match h {
        Some(h) => format!("node={} entity={:?} uid={}", h.node_id, h.entity, h.uid),
        None => "entity=none".into(),
    }
}

fn condition_text(h: Option<&pb::ConditionHandle>) -> String {
    match h {
        Some(h) => format!(
            "{} condition={:?} uid={}",
            entity_text(h.entity.as_ref()),
            h.condition,
            h.uid
        ),
        None => "condition=none".into(),
    }
}

fn action_text(h: Option<&pb::ActionHandle>) -> String {
    match h {
        Some(h) => format!(
            "{} action={:?} uid={}",
            condition_text(h.condition.as_ref()),
            h.action,
            h.uid
        ),
        None => "action=none".into(),
    }
}

impl std::fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match *self {
            Subject::None => String::new(),
            Subject::Node(n) => node_text(n),
            Subject::Named(n, name) => format!("{} entity={name:?}", node_text(n)),
            Subject::Entity(h) => entity_text(h),
            Subject::Condition(h) => condition_text(h),
            Subject::Action(h) => action_text(h),
            Subject::ActionFail(h, name) => format!("{} fail={name:?}", action_text(h)),
            Subject::Pid(pid) => format!("pid={pid}"),
            Subject::Cluster => "node=*".into(),
            Subject::NewNode(id, name) => format!("node={id} name={name:?}"),
        };
        f.write_str(&text)
    }
}

/// A request, as authorization sees it.
pub trait Described {
    fn subject(&self) -> Subject<'_>;
    /// An attach that gives a command line.
    fn command_line(&self) -> bool {
        false
    }
    /// A call that only reads.
    fn read_only(&self) -> bool {
        false
    }
}

macro_rules! described {
    ($($t:ty => |$r:ident| $e:expr;)*) => {
        $(impl Described for $t {
            fn subject(&self) -> Subject<'_> {
                let $r = self;
                $e
            }
        })*
    };
}

described! {
    pb::ConnectRequest => |r| Subject::Node(r.node.as_ref());
    pb::AttachSelfRequest => |r| Subject::Named(r.node.as_ref(), &r.name);
    pb::EntityRequest => |r| Subject::Named(r.node.as_ref(), &r.name);
    pb::DetachRequest => |r| match &r.target {
        Some(pb::detach_request::Target::Handle(h)) => Subject::Entity(Some(h)),
        Some(pb::detach_request::Target::ByName(n)) => Subject::Named(n.node.as_ref(), &n.name),
        None => Subject::None,
    };
    pb::ConditionRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::ConditionRaiseRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::ConditionStateRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::ConditionHandle => |r| Subject::Condition(Some(r));
    pb::ActionRestartRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionExecuteRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionWaitforRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionNotifyPulseRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionNotifySignalRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionHeartbeatHealthyRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionLogRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionFailExecuteRequest => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::ActionFailWaitforRequest => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::ActionFailNotifyPulseRequest => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::ActionFailNotifySignalRequest => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::ActionFailLogRequest => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::ActionHandle => |r| Subject::Action(Some(r));
    pb::ActionFailRef => |r| Subject::ActionFail(r.action.as_ref(), &r.name);
    pb::EntityControlRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::ConditionControlRequest => |r| Subject::Condition(r.condition.as_ref());
    pb::ActionControlRequest => |r| Subject::Action(r.action.as_ref());
    pb::EntityConditionRaiseRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::EntityConditionStateRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::HeartbeatRequest => |r| Subject::Entity(r.entity.as_ref());
    pb::StopRequest => |r| if r.cluster { Subject::Cluster } else { Subject::Node(r.node.as_ref()) };
    pb::EntityHandleLookupRequest => |r| Subject::Named(r.node.as_ref(), &r.entity);
    pb::ConditionHandleLookupRequest => |r| Subject::Named(r.node.as_ref(), &r.entity);
    pb::ActionHandleLookupRequest => |r| Subject::Named(r.node.as_ref(), &r.entity);
    pb::TreeRequest => |r| Subject::Node(r.node.as_ref());
    pb::AddNodeRequest => |r| Subject::NewNode(r.id, &r.name);
    pb::RemoveNodeRequest => |r| Subject::Node(r.node.as_ref());
    pb::PulseChannelRequest => |r| Subject::Pid(r.pid);
    pb::EntityStopRequest => |r| match &r.target {
        Some(pb::entity_stop_request::Target::Handle(h)) => Subject::Entity(Some(h)),
        Some(pb::entity_stop_request::Target::ByName(n)) => Subject::Named(n.node.as_ref(), &n.name),
        None => Subject::None,
    };
    pb::EntityStartRequest => |r| match &r.target {
        Some(pb::entity_start_request::Target::Handle(h)) => Subject::Entity(Some(h)),
        Some(pb::entity_start_request::Target::ByName(n)) => Subject::Named(n.node.as_ref(), &n.name),
        None => Subject::None,
    };
}

impl Described for pb::AttachRequest {
    fn subject(&self) -> Subject<'_> {
        Subject::Named(self.node.as_ref(), &self.name)
    }
    /// A line to start, or (L6) a restart or execute action among its parts: each is a command
    /// line `ham` runs.
    fn command_line(&self) -> bool {
        use pb::attach_action::Kind as A;
        use pb::attach_action_fail::Kind as F;
        !self.command_line.is_empty()
            || self.conditions.iter().flat_map(|c| &c.actions).any(|a| {
                matches!(a.kind, Some(A::Restart(_) | A::Execute(_)))
                    || a.fail_actions
                        .iter()
                        .any(|f| matches!(f.kind, Some(F::Execute(_))))
            })
    }
}

impl Described for pb::VerboseRequest {
    fn subject(&self) -> Subject<'_> {
        Subject::Node(self.node.as_ref())
    }
    fn read_only(&self) -> bool {
        self.op == pb::VerboseOp::Get as i32
    }
}

fn enomem(what: String) -> HamError {
    HamError::new(Errno::Enomem, what)
}

impl Calls {
    /// P3: whether the caller is the process the request is about, on this node: the process
    /// of the entity it names, or the process whose pulses it asks for.
    fn own_process(&self, subject: Subject<'_>, caller: &Caller) -> bool {
        let Some(pid) = caller.pid() else {
            return false;
        };
        let local = self.node.identity.id;
        let entity = match subject {
            Subject::Pid(p) => return p == pid,
            Subject::Entity(h) => cv::entity_ref(h, local).ok(),
            Subject::Named(n, name) => {
                self.node
                    .resolve(&node_sel(n))
                    .ok()
                    .map(|node| ham_core::model::EntityRef {
                        node,
                        name: name.to_string(),
                        uid: None,
                    })
            }
            _ => None,
        };
        entity.is_some_and(|r| {
            r.node == local
                && !r.name.is_empty()
                && self
                    .node
                    .read_now(|s| s.entity(&r).map(|e| e.pid))
                    .is_ok_and(|p| p == pid)
        })
    }

    /// P7: the counts that depend on the state, from the local replica. Only a request that
    /// adds one more object is checked; a name it cannot resolve is left to the call itself.
    fn within_limits(&self, rpc: Rpc, subject: Subject<'_>, limits: &Limits) -> Result<()> {
        use Rpc::*;
        let local = self.node.identity.id;
        match (rpc, subject) {
            (Attach | AttachSelf | Entity, Subject::Named(n, _)) => {
                let Ok(node) = self.node.resolve(&node_sel(n)) else {
                    return Ok(());
                };
                let count = self
                    .node
                    .read_now(|s| s.context(node).map(|c| c.entities.len()).unwrap_or(0));
                if count >= limits.entities_per_node {
                    return Err(enomem(format!(
                        "node {node} holds {count} entities, its limit (limits.entities_per_node)"
                    )));
                }
            }
            (Condition | ConditionRaise | ConditionState, Subject::Entity(h)) => {
                let Ok(r) = cv::entity_ref(h, local) else {
                    return Ok(());
                };
                let count = self
                    .node
                    .read_now(|s| s.entity(&r).map(|e| e.conditions.len()).unwrap_or(0));
                if count >= limits.conditions_per_entity {
                    return Err(enomem(format!(
                        "entity {:?} holds {count} conditions, its limit (limits.conditions_per_entity)",
                        r.name
                    )));
                }
            }
            (_, Subject::Condition(h)) if is_action_add(rpc) => {
                let Ok(r) = cv::condition_ref(h, local) else {
                    return Ok(());
                };
                self.actions_below(&r, limits)?;
            }
            (_, Subject::ActionFail(h, _)) if is_action_add(rpc) => {
                let Ok(r) = cv::action_ref(h, local) else {
                    return Ok(());
                };
                self.actions_below(&r.condition, limits)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A condition's actions and action-fails together stay within `actions_per_condition`.
    fn actions_below(&self, r: &ham_core::model::ConditionRef, limits: &Limits) -> Result<()> {
        let count = self.node.read_now(|s| {
            s.condition(r)
                .map(|(_, c)| c.actions.iter().map(|a| 1 + a.fail.len()).sum::<usize>())
                .unwrap_or(0)
        });
        if count >= limits.actions_per_condition {
            return Err(enomem(format!(
                "condition {:?} holds {count} actions and action-fails, its limit (limits.actions_per_condition)",
                r.name
            )));
        }
        Ok(())
    }

    /// Decides whether `caller` may make this call: its facts, the role it needs, the limits.
    pub fn authorize<Q: Described>(
        &self,
        access: &Access,
        rpc: Rpc,
        req: &Q,
        caller: &Caller,
    ) -> (Facts, Result<()>) {
        let subject = req.subject();
        let facts = Facts {
            command_line: req.command_line(),
            read_only: req.read_only(),
            own_process: self.own_process(subject, caller),
        };
        let need = required_role(rpc, facts);
        if let Need::Role(role) = need
            && !allows(caller.role, need)
        {
            let has = caller
                .role
                .map_or_else(|| "no role".to_string(), |r| format!("role {r}"));
            let why = format!(
                "{} needs role {role}; {} has {has}",
                rpc.name(),
                caller.principal
            );
            return (facts, Err(refused(why)));
        }
        (facts, self.within_limits(rpc, subject, &access.limits))
    }
}

fn is_action_add(rpc: Rpc) -> bool {
    use Rpc::*;
    matches!(
        rpc,
        ActionRestart
            | ActionExecute
            | ActionWaitfor
            | ActionNotifyPulse
            | ActionNotifySignal
            | ActionHeartbeatHealthy
            | ActionLog
            | ActionFailExecute
            | ActionFailWaitfor
            | ActionFailNotifyPulse
            | ActionFailNotifySignal
            | ActionFailLog
    )
}
