//! Stopping and starting an entity by a call (HAM-CONTRACT L5), and the
//! stop policy every stop of its processes follows (S2, L1).
//!
//! A stop marks the entity stopped and asks its node's agent to stop its
//! processes (S2: warning signal, grace, SIGKILL); the entity keeps its
//! conditions and actions, and no DEATH recovery runs. A start runs the
//! entity's restart line again as a new instance.
//!
//! Errors, beyond ENOENT for an unknown entity: a stop of an entity already
//! stopped is ESRCH (there is no process to stop), a start of an entity whose
//! process runs is EEXIST (its process exists, as E5 answers an attach of a
//! live entity), and either on a global entity or a placeholder is EINVAL.

use super::cmdline::parse_command_line;
use super::command::*;
use super::errno::{Errno, HamError, Result, eexist, einval};
use super::names::quoted;
use super::state::HamState;
use super::types::*;

/// Whether `signal` is a Linux signal a process can be sent: 1-31, or a
/// realtime signal 34-64 (32 and 33 are glibc's own).
pub fn valid_signal(signal: i32) -> bool {
    (1..=31).contains(&signal) || (34..=64).contains(&signal)
}

/// S2: a warning signal that is a real signal, and a grace of at most [`MAX_GRACE_MS`].
pub fn check_stop_policy(p: &StopPolicy) -> Result<()> {
    if !valid_signal(p.warn_signal) {
        return Err(einval(format!(
            "warning signal {} is not a Linux signal (1-31, 34-64)",
            p.warn_signal
        )));
    }
    if p.grace_ms > MAX_GRACE_MS {
        return Err(einval(format!(
            "stop grace {} ms is above the {MAX_GRACE_MS} ms limit",
            p.grace_ms
        )));
    }
    Ok(())
}

/// The entity `r` names, if it can have a process of its own.
fn with_process(state: &HamState, r: &EntityRef) -> Result<EntityRef> {
    let e = state.entity(r)?;
    match e.kind {
        EntityKind::Global => Err(einval("a global entity has no process to stop or start")),
        EntityKind::Placeholder => Err(einval(format!(
            "entity {} is a placeholder: it has no process yet",
            quoted(&e.name)
        ))),
        EntityKind::Attached | EntityKind::AttachedSelf => Ok(EntityRef {
            uid: Some(e.uid),
            ..r.clone()
        }),
    }
}

impl HamState {
    /// L5: stop an entity's processes; its conditions stay, no DEATH recovery runs.
    pub(crate) fn stop_entity(&mut self, r: &EntityRef) -> Result<Applied> {
        let handle = with_process(self, r)?;
        let e = self.entity_mut(&handle)?;
        if e.stopped {
            return Err(HamError::new(
                Errno::Esrch,
                format!("entity {} is already stopped", quoted(&e.name)),
            ));
        }
        e.stopped = true;
        e.pid = 0;
        let policy = e.stop;
        Ok(Applied {
            response: Response::Done,
            effects: vec![Effect::Stop {
                node: handle.node,
                entity: handle,
                policy,
            }],
        })
    }

    /// L5: start an entity again by its restart line (the restart action's
    /// line, else the line it was attached with), as a new instance (S3).
    pub(crate) fn start_entity(&mut self, r: &EntityRef, now_ns: TimeNs) -> Result<Applied> {
        let handle = with_process(self, r)?;
        let e = self.entity(&handle)?;
        if !e.stopped && e.pid > 0 {
            return Err(eexist(format!(
                "entity {} is running (pid {})",
                quoted(&e.name),
                e.pid
            )));
        }
        let line = match e.restart_action() {
            Some((_, a)) => match &a.kind {
                ActionKind::Restart { command_line } => Some(command_line.clone()),
                _ => None,
            },
            None => None,
        }
        .or_else(|| e.command_line.clone())
        .ok_or_else(|| {
            einval(format!(
                "entity {} has no restart line to start",
                quoted(&e.name)
            ))
        })?;
        let argv = parse_command_line(&line)?;
        let e = self.entity_mut(&handle)?;
        e.stopped = false;
        e.stats.instance = e.stats.instance.saturating_add(1);
        e.stats.since_ns = now_ns;
        let instance = e.stats.instance;
        let options = e.options.clone();
        Ok(Applied {
            response: Response::Entity(handle.clone()),
            effects: vec![Effect::Spawn {
                node: handle.node,
                entity: handle,
                argv,
                instance,
                options,
            }],
        })
    }
}
