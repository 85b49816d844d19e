//! The whole HAM state of a cluster and the lookups every rule uses.

use super::command::*;
use super::entities::AttachSpec;
use super::errno::{Errno, HamError, Result, einval, enoent};
use super::names::{check_name, quoted};
use super::types::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Verbosity a node starts with.
pub const DEFAULT_VERBOSITY: u32 = 1;

/// A node of the cluster, as the state knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// Unique name (the `_node` form of addressing).
    pub name: String,
    /// Where its API listens.
    pub address: String,
    /// Marked down after its lease expired (D5); up again once it renews.
    pub down: bool,
}

/// One node's HAM context: its global entity, its entities, its verbosity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// The activity log level (X4).
    pub verbosity: u32,
    /// The node's global entity (N4).
    pub global: Entity,
    /// Entities by name. A persistent map: cloning the state is O(1), so a snapshot can be
    /// serialized from a frozen copy off the Raft task while entries keep being applied.
    #[serde(deserialize_with = "entity_map")]
    pub entities: imbl::OrdMap<String, Entity>,
}

/// Reads an entity map entry by entry. imbl's own `Deserialize` reserves as many entries as
/// the length in front of the map says, so a damaged or hostile snapshot claiming 2^60
/// entities aborted the process on that allocation (HAM-CONTRACT P9); a map that is not
/// really there now runs out of bytes and is refused as undecodable.
fn entity_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<imbl::OrdMap<String, Entity>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = imbl::OrdMap<String, Entity>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map of entities by name")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut entries: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut map = imbl::OrdMap::new();
            while let Some((name, entity)) = entries.next_entry::<String, Entity>()? {
                map.insert(name, entity);
            }
            Ok(map)
        }
    }
    d.deserialize_map(Entries)
}

/// The replicated state: every node's HAM context and the cluster-wide global entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HamState {
    /// Nodes by id.
    pub nodes: BTreeMap<NodeId, NodeMeta>,
    /// HAM contexts by node id.
    pub contexts: BTreeMap<NodeId, Context>,
    /// The cluster-wide global entity (node `*`).
    pub cluster_global: Entity,
    next_uid: Uid,
}

impl Default for HamState {
    fn default() -> Self {
        HamState {
            nodes: BTreeMap::new(),
            contexts: BTreeMap::new(),
            cluster_global: Entity::new("", 1, EntityKind::Global, 0),
            next_uid: 2,
        }
    }
}

fn ehostunreach(node: NodeId) -> HamError {
    HamError::new(Errno::Ehostunreach, format!("no node with id {node}"))
}

fn stale(what: &str, name: &str) -> HamError {
    enoent(format!(
        "{what} {} was removed (stale handle)",
        quoted(name)
    ))
}

impl HamState {
    /// Allocates a fresh object id.
    pub(crate) fn uid(&mut self) -> Uid {
        let uid = self.next_uid;
        self.next_uid += 1;
        uid
    }

    /// Applies one command: either the whole change happens, or none of it.
    pub fn apply(&mut self, cmd: Command) -> Result<Applied> {
        match cmd {
            Command::RegisterNode { id, name, address } => self.register_node(id, name, address),
            Command::Attach {
                node,
                name,
                pid,
                command_line,
                flags,
                pidfile,
                heartbeat,
                now_ns,
                options,
                conditions,
                stop,
                pacing,
            } => {
                let how = AttachSpec {
                    pid,
                    command_line,
                    flags,
                    pidfile,
                    heartbeat,
                    options,
                    stop,
                    pacing,
                };
                self.attach_with(node, &name, how, conditions, now_ns)
            }
            Command::AttachSelf {
                node,
                name,
                pid,
                period_ns,
                hpdl,
                hpdh,
                flags,
                now_ns,
            } => {
                let hb = HeartbeatSpec {
                    period_ns,
                    hpdl,
                    hpdh,
                };
                self.attach_self(node, &name, pid, hb, flags, now_ns)
            }
            Command::Placeholder {
                node,
                name,
                flags,
                now_ns,
                pacing,
            } => self.placeholder(node, &name, flags, now_ns, pacing),
            Command::Detach { entity } => self.detach(&entity),
            Command::AddCondition {
                entity,
                name,
                ctype,
                flags,
                filter,
            } => self.add_condition(&entity, &name, ctype, flags, filter),
            Command::RemoveCondition { condition } => self.remove_condition(&condition),
            Command::AddAction {
                condition,
                name,
                flags,
                kind,
            } => self.add_action(&condition, &name, flags, kind),
            Command::RemoveAction { action } => self.remove_action(&action),
            Command::AddActionFail {
                action,
                name,
                flags,
                kind,
            } => self.add_action_fail(&action, &name, flags, kind),
            Command::RemoveActionFail { action, name } => self.remove_action_fail(&action, &name),
            Command::Control { target, op, flags } => self.control(&target, op, flags),
            Command::Raise {
                entity,
                rtype,
                rclass,
                rseverity,
            } => self.raise(&entity, rtype, rclass, rseverity),
            Command::ReportState { entity, state } => self.report_state(&entity, state),
            Command::Verbose { node, op, value } => self.verbose(node, op, value),
            Command::StopCluster => Ok(Applied {
                response: Response::Done,
                effects: self
                    .nodes
                    .keys()
                    .map(|&node| Effect::StopNode { node })
                    .collect(),
            }),
            Command::ProcessStarted {
                entity,
                pid,
                now_ns,
            } => self.process_started(&entity, pid, now_ns),
            Command::RecoveryOutcome {
                entity,
                exit,
                died_ns,
                restarted,
                results,
            } => self.recovery_outcome(&entity, exit, died_ns, restarted, &results),
            Command::NodeLiveness { node, up } => self.node_liveness(node, up),
            Command::ActionsRan { results } => {
                self.record_results(&results);
                Ok(Applied::just(Response::Done))
            }
            Command::StopEntity { entity } => self.stop_entity(&entity),
            Command::StartEntity { entity, now_ns } => self.start_entity(&entity, now_ns),
        }
    }

    fn register_node(&mut self, id: NodeId, name: String, address: String) -> Result<Applied> {
        if id == 0 || id == CLUSTER_NODE_ID {
            return Err(einval(format!("node id {id} is reserved")));
        }
        check_name("node", &name)?;
        if name == "*" {
            return Err(einval("node name \"*\" means the whole cluster"));
        }
        if let Some((&other, _)) = self.nodes.iter().find(|(i, m)| m.name == name && **i != id) {
            return Err(HamError::new(
                Errno::Eexist,
                format!("node name {} is taken by node {other}", quoted(&name)),
            ));
        }
        if !self.contexts.contains_key(&id) {
            let global_uid = self.uid();
            self.contexts.insert(
                id,
                Context {
                    verbosity: DEFAULT_VERBOSITY,
                    global: Entity::new("", global_uid, EntityKind::Global, 0),
                    entities: imbl::OrdMap::new(),
                },
            );
        }
        let down = self.nodes.get(&id).is_some_and(|m| m.down);
        self.nodes.insert(
            id,
            NodeMeta {
                name,
                address: address.clone(),
                down,
            },
        );
        // Every node's transport learns the address (also while replaying).
        Ok(Applied {
            response: Response::Done,
            effects: vec![Effect::PeerAddress { id, address }],
        })
    }

    /// D5: a node's lease expired (down) or was renewed again (up). Going
    /// down triggers NODEDOWN on the cluster-wide global entity.
    fn node_liveness(&mut self, node: NodeId, up: bool) -> Result<Applied> {
        let meta = self
            .nodes
            .get_mut(&node)
            .ok_or_else(|| ehostunreach(node))?;
        let was_down = std::mem::replace(&mut meta.down, !up);
        if up || was_down {
            return Ok(Applied::just(Response::Done));
        }
        let cluster = EntityRef {
            node: CLUSTER_NODE_ID,
            name: String::new(),
            uid: None,
        };
        let plan =
            super::events::plan_for_event(self, &cluster, super::events::Event::NodeDown { node })?;
        let effects = if plan.is_empty() {
            Vec::new()
        } else {
            vec![Effect::Run(Box::new(plan))]
        };
        Ok(Applied {
            response: Response::Done,
            effects,
        })
    }

    /// Resolves a node name to its id (`*` = the cluster-wide context).
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        if name == "*" {
            return Some(CLUSTER_NODE_ID);
        }
        self.nodes
            .iter()
            .find(|(_, m)| m.name == name)
            .map(|(&id, _)| id)
    }

    /// The context of a node (EHOSTUNREACH if unknown).
    pub fn context(&self, node: NodeId) -> Result<&Context> {
        self.contexts.get(&node).ok_or_else(|| ehostunreach(node))
    }

    pub(crate) fn context_mut(&mut self, node: NodeId) -> Result<&mut Context> {
        self.contexts
            .get_mut(&node)
            .ok_or_else(|| ehostunreach(node))
    }

    /// Finds an entity; the empty name is the node's (or the cluster's) global entity.
    pub fn entity(&self, r: &EntityRef) -> Result<&Entity> {
        let e = if r.node == CLUSTER_NODE_ID {
            if !r.name.is_empty() {
                return Err(einval(
                    "the cluster-wide context holds only its global entity",
                ));
            }
            &self.cluster_global
        } else {
            let ctx = self.context(r.node)?;
            if r.name.is_empty() {
                &ctx.global
            } else {
                ctx.entities
                    .get(&r.name)
                    .ok_or_else(|| enoent(format!("no entity {}", quoted(&r.name))))?
            }
        };
        match r.uid {
            Some(uid) if uid != e.uid => Err(stale("entity", &r.name)),
            _ => Ok(e),
        }
    }

    pub(crate) fn entity_mut(&mut self, r: &EntityRef) -> Result<&mut Entity> {
        self.entity(r)?; // one place for the lookup rules and their errors
        let e = if r.node == CLUSTER_NODE_ID {
            &mut self.cluster_global
        } else {
            let ctx = self.contexts.get_mut(&r.node).expect("checked above");
            if r.name.is_empty() {
                &mut ctx.global
            } else {
                ctx.entities.get_mut(&r.name).expect("checked above")
            }
        };
        Ok(e)
    }

    /// Finds a condition.
    pub fn condition(&self, r: &ConditionRef) -> Result<(&Entity, &Condition)> {
        let e = self.entity(&r.entity)?;
        let c = e.condition(&r.name).ok_or_else(|| {
            enoent(format!(
                "no condition {} in entity {}",
                quoted(&r.name),
                quoted(&e.name)
            ))
        })?;
        match r.uid {
            Some(uid) if uid != c.uid => Err(stale("condition", &r.name)),
            _ => Ok((e, c)),
        }
    }

    pub(crate) fn condition_mut(&mut self, r: &ConditionRef) -> Result<&mut Condition> {
        self.condition(r)?;
        let e = self.entity_mut(&r.entity)?;
        Ok(e.conditions
            .iter_mut()
            .find(|c| c.name == r.name)
            .expect("checked above"))
    }

    /// Finds an action.
    pub fn action(&self, r: &ActionRef) -> Result<(&Entity, &Condition, &Action)> {
        let (e, c) = self.condition(&r.condition)?;
        let a = c.action(&r.name).ok_or_else(|| {
            enoent(format!(
                "no action {} in condition {}",
                quoted(&r.name),
                quoted(&c.name)
            ))
        })?;
        match r.uid {
            Some(uid) if uid != a.uid => Err(stale("action", &r.name)),
            _ => Ok((e, c, a)),
        }
    }

    pub(crate) fn action_mut(&mut self, r: &ActionRef) -> Result<&mut Action> {
        self.action(r)?;
        let c = self.condition_mut(&r.condition)?;
        Ok(c.actions
            .iter_mut()
            .find(|a| a.name == r.name)
            .expect("checked above"))
    }

    /// A handle (reference with uid) to an existing entity.
    pub fn entity_handle(&self, node: NodeId, name: &str) -> Result<EntityRef> {
        let r = EntityRef {
            node,
            name: name.to_string(),
            uid: None,
        };
        let uid = self.entity(&r)?.uid;
        Ok(EntityRef {
            uid: Some(uid),
            ..r
        })
    }

    /// A handle to an existing condition.
    pub fn condition_handle(&self, node: NodeId, entity: &str, name: &str) -> Result<ConditionRef> {
        let entity = self.entity_handle(node, entity)?;
        let r = ConditionRef {
            entity,
            name: name.to_string(),
            uid: None,
        };
        let uid = self.condition(&r)?.1.uid;
        Ok(ConditionRef {
            uid: Some(uid),
            ..r
        })
    }

    /// A handle to an existing action.
    pub fn action_handle(
        &self,
        node: NodeId,
        entity: &str,
        condition: &str,
        name: &str,
    ) -> Result<ActionRef> {
        let condition = self.condition_handle(node, entity, condition)?;
        let r = ActionRef {
            condition,
            name: name.to_string(),
            uid: None,
        };
        let uid = self.action(&r)?.2.uid;
        Ok(ActionRef {
            uid: Some(uid),
            ..r
        })
    }

    /// Totals for the top `.info`: (entities, conditions, actions) of a node.
    pub fn counts(&self, node: NodeId) -> (usize, usize, usize) {
        let Some(ctx) = self.contexts.get(&node) else {
            return (0, 0, 0);
        };
        let all = std::iter::once(&ctx.global).chain(ctx.entities.values());
        all.fold((ctx.entities.len(), 0, 0), |(e, c, a), ent| {
            (e, c + ent.conditions.len(), a + ent.action_count())
        })
    }

    fn verbose(&mut self, node: NodeId, op: VerboseOp, value: i64) -> Result<Applied> {
        if value < 0 {
            return Err(einval(format!("verbosity value {value} is negative")));
        }
        let value = u32::try_from(value).map_err(|_| einval("verbosity value too large"))?;
        let ctx = self.context_mut(node)?;
        let step = value.max(1);
        ctx.verbosity = match op {
            VerboseOp::Get => ctx.verbosity,
            VerboseOp::Set => value,
            VerboseOp::Incr => ctx.verbosity.saturating_add(step),
            VerboseOp::Decr => ctx.verbosity.saturating_sub(step),
        };
        Ok(Applied::just(Response::Verbosity(ctx.verbosity)))
    }
}
