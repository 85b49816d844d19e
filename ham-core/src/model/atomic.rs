//! One atomic attach (HAM-CONTRACT L6): an entity together with its
//! conditions, their actions and action-fail lists, as one command. Every
//! part is checked by the same rule as its own call; the first part refused
//! refuses the whole command, which then changes nothing and starts nothing.

use super::command::*;
use super::entities::AttachSpec;
use super::errno::{Errno, HamError, Result};
use super::names::quoted;
use super::state::HamState;
use super::types::*;
use serde::{Deserialize, Serialize};

/// An action-fail action given with an attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionFailSpec {
    /// Unique within its action's fail list.
    pub name: String,
    /// HACTIONWAIT on execute.
    pub flags: u32,
    /// What it does (never Restart or HeartbeatHealthy, A12).
    pub kind: ActionKind,
}

/// An action given with an attach, with its action-fail list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSpec {
    /// Unique within its condition.
    pub name: String,
    /// ACTION_FLAGS (plus HACTIONWAIT on execute).
    pub flags: u32,
    /// What it does.
    pub kind: ActionKind,
    /// What runs, in order, when it fails.
    pub fail: Vec<ActionFailSpec>,
}

/// A condition given with an attach, with its actions in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionSpec {
    /// Unique within the entity.
    pub name: String,
    /// What it listens for.
    #[serde(with = "super::types::condition_type_number")]
    pub ctype: ConditionType,
    /// CONDITION_FLAGS (plus the STATE bits on STATE conditions).
    pub flags: u32,
    /// RAISE and STATE filters.
    pub filter: ConditionFilter,
    /// Its actions.
    pub actions: Vec<ActionSpec>,
}

/// The error of one part, saying which part it is.
fn within(part: &str, e: HamError) -> HamError {
    HamError::new(e.errno, format!("{part}: {}", e.message))
}

fn unexpected(what: &str, r: &Response) -> HamError {
    HamError::new(Errno::Eio, format!("{what} answered {r:?}"))
}

impl HamState {
    /// Attaches the entity and adds every part to it. The parts are applied
    /// to a copy of the state (cheap: entities live in persistent maps),
    /// which replaces the state only once all of them are in, so that the
    /// process the attach starts meets all its conditions from its first
    /// instruction, and a refused part leaves no trace, not even a used uid.
    pub(crate) fn attach_with(
        &mut self,
        node: NodeId,
        name: &str,
        how: AttachSpec,
        conditions: Vec<ConditionSpec>,
        now_ns: TimeNs,
    ) -> Result<Applied> {
        if conditions.is_empty() {
            return self.attach(node, name, how, now_ns);
        }
        let mut next = self.clone();
        let mut applied = next.attach(node, name, how, now_ns)?;
        let Response::Entity(entity) = &applied.response else {
            return Err(unexpected("attach", &applied.response));
        };
        let entity = entity.clone();
        for c in conditions {
            let part = format!("condition {}", quoted(&c.name));
            let added = next
                .add_condition(&entity, &c.name, c.ctype, c.flags, c.filter)
                .map_err(|e| within(&part, e))?;
            let Response::Condition(condition) = added.response else {
                return Err(unexpected("a condition", &added.response));
            };
            for a in c.actions {
                let part = format!("{part}, action {}", quoted(&a.name));
                let added = next
                    .add_action(&condition, &a.name, a.flags, a.kind)
                    .map_err(|e| within(&part, e))?;
                let Response::Action(action) = &added.response else {
                    return Err(unexpected("an action", &added.response));
                };
                let action = action.clone();
                // An execute with HACTIONDONOW runs once now, after the start.
                applied.effects.extend(added.effects);
                for f in a.fail {
                    let part = format!("{part}, action-fail {}", quoted(&f.name));
                    next.add_action_fail(&action, &f.name, f.flags, f.kind)
                        .map_err(|e| within(&part, e))?;
                }
            }
        }
        *self = next;
        Ok(applied)
    }
}
