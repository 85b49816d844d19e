//! Re-adoption when `ham` starts again on a node (HAM-CONTRACT E11).
//!
//! Runs once, before the node reports ready, on the state as the replica
//! left it after replaying every entry committed before the restart. For
//! each entity the state places on this node it decides, from what `/proc`
//! shows now (see `process::identity`), one of:
//! - the recorded process still runs: watch it again;
//! - it is gone (dead, or its pid names another process now), and no later
//!   process of the entity runs: it died while `ham` was down, so it is
//!   recovered at once as a death (its conditions run);
//! - a process carrying the entity's marker runs that the state does not
//!   name yet (a start or restart in flight when `ham` died): adopt it and
//!   record its pid, never start a second copy;
//! - nothing was ever started (the agent died before the spawn): start it.

use super::lifecycle::{Agent, Watched};
use super::outcomes::commit;
use crate::node::now_ns;
use crate::process::identity::{self, Known};
use ham_core::model::{Command, Entity, EntityKind, EntityRef, ExitInfo, parse_command_line};
use std::collections::HashSet;

/// What re-adoption found, for the log line that reports it.
#[derive(Debug, Default)]
struct Tally {
    watched: usize,
    adopted: usize,
    recovered: usize,
    started: usize,
}

impl Agent {
    /// Watches again, adopts, recovers or starts every process of this node (see the module).
    pub(super) fn reconcile(&mut self) {
        let began = std::time::Instant::now();
        let me = self.ctx.node_id;
        let entities: Vec<Entity> = self.ctx.node.read_now(|s| {
            s.context(me)
                .map(|c| c.entities.values().cloned().collect())
                .unwrap_or_default()
        });
        let mut marked = identity::marked_processes(&self.ctx.agent_id);
        let uids: HashSet<u64> = entities.iter().map(|e| e.uid).collect();
        self.ctx.records.retain(&uids);
        if let Some(cgroups) = &self.ctx.cgroups {
            cgroups.retain(&uids);
        }
        let mut tally = Tally::default();
        for e in entities {
            if matches!(e.kind, EntityKind::Placeholder | EntityKind::Global) {
                continue;
            }
            let entity = EntityRef {
                node: me,
                name: e.name.clone(),
                uid: Some(e.uid),
            };
            if e.stopped {
                // A stopped entity runs nothing until a start call (L5); what a
                // stop cut short by the end of the last ham left is stopped now.
                let left = marked
                    .remove(&e.uid)
                    .and_then(|l| l.last().map(|(p, _)| *p));
                let in_cgroup = self
                    .ctx
                    .cgroups
                    .as_ref()
                    .is_some_and(|c| !c.members(e.uid).is_empty());
                if left.is_some() || in_cgroup {
                    self.watched.insert(
                        e.uid,
                        Watched {
                            entity: entity.clone(),
                            pid: left.unwrap_or(0),
                            started: self.ctx.clock.mono(),
                            child: false,
                            group: left,
                        },
                    );
                    self.stop_entity(entity, e.stop);
                }
                continue;
            }
            // The latest started process that carries the entity's marker.
            let in_flight = marked
                .remove(&e.uid)
                .and_then(|list| list.last().map(|(pid, _)| *pid));
            let recorded = u32::try_from(e.pid).ok().filter(|&p| p > 0);
            match (recorded.map(|p| (p, self.known(e.uid, p))), in_flight) {
                (Some((pid, k @ (Known::Same | Known::Unverified))), _) => {
                    if k == Known::Unverified {
                        tracing::warn!(entity = %e.name, pid, "no record tells whether this is still the process attached; watching it");
                    }
                    self.watch(entity, pid, e.heartbeat, false);
                    tally.watched += 1;
                }
                (_, Some(pid)) => {
                    self.adopt(entity, pid, e.heartbeat);
                    tally.adopted += 1;
                }
                (Some((pid, Known::Gone)), None) => {
                    tracing::info!(entity = %e.name, pid, "died while ham was down");
                    let w = Watched {
                        entity,
                        pid,
                        started: self.ctx.clock.mono(),
                        child: false,
                        group: Some(pid),
                    };
                    self.watched.insert(e.uid, w.clone());
                    self.recover(w, ExitInfo::Unknown);
                    tally.recovered += 1;
                }
                (None, None) if e.kind == EntityKind::Attached && e.stats.last_death_ns == 0 => {
                    let argv = e
                        .command_line
                        .as_deref()
                        .and_then(|l| parse_command_line(l).ok());
                    if let Some(argv) = argv {
                        self.start(
                            entity,
                            &argv,
                            e.stats.instance.max(1),
                            e.heartbeat,
                            &e.options,
                        );
                        tally.started += 1;
                    }
                }
                (None, None) => {}
            }
        }
        // Marked processes of entities the state does not place here yet: an attach whose
        // entry commits only now (its commit index had not reached the disk) finds its
        // process here instead of starting another.
        self.orphans = marked
            .into_iter()
            .filter_map(|(uid, list)| Some((uid, list.last()?.0)))
            .collect();
        tracing::info!(
            watched = tally.watched,
            adopted = tally.adopted,
            recovered = tally.recovered,
            started = tally.started,
            ms = began.elapsed().as_secs_f64() * 1e3,
            "re-adopted this node's processes"
        );
    }

    /// Watches a process started for `entity` before the restart and records its pid.
    fn adopt(&mut self, entity: EntityRef, pid: u32, hb: Option<ham_core::model::HeartbeatSpec>) {
        tracing::info!(entity = %entity.name, pid, "adopting a process started before the restart");
        self.watch(entity.clone(), pid, hb, false);
        let (node, shared) = (self.ctx.node.clone(), self.shared.clone());
        let uid = entity.uid;
        let cmd = Command::ProcessStarted {
            entity,
            pid: pid.into(),
            now_ns: now_ns(),
        };
        tokio::spawn(async move {
            commit(&node, cmd, "an adopted process").await;
            if let Some(uid) = uid {
                shared.mark_started(uid);
            }
        });
    }

    /// A start the state asks for now: true when a process started for it before the
    /// restart runs, which is then adopted instead.
    pub(super) fn adopt_orphan(&mut self, entity: &EntityRef) -> bool {
        let Some(uid) = entity.uid else { return false };
        match self.orphans.remove(&uid) {
            Some(pid) if identity::carries_marker(pid, &self.ctx.agent_id, uid) => {
                let hb = self.heartbeat_of(entity);
                self.adopt(entity.clone(), pid, hb);
                true
            }
            _ => false,
        }
    }

    /// Waits (bounded) until this replica has applied what the leader has committed, so
    /// that re-adoption decides from the whole state. Entries committed just before a
    /// crash may not be known committed here yet (their commit index had not reached the
    /// disk). Without a quorum it gives up after `limit` and decides from what it has:
    /// local recovery never waits for consensus (D3).
    pub(super) async fn catch_up(&self, limit: std::time::Duration) {
        let began = std::time::Instant::now();
        match tokio::time::timeout(limit, self.ctx.node.read(true, |_| ())).await {
            Ok(Ok(())) => tracing::debug!(
                ms = began.elapsed().as_secs_f64() * 1e3,
                "caught up with the leader"
            ),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "re-adopting from the local state: no read barrier")
            }
            Err(_) => tracing::warn!(
                ?limit,
                "re-adopting from the local state: no leader answered"
            ),
        }
    }

    /// Whether `pid`, which the state names for entity `uid`, is still that process.
    fn known(&self, uid: u64, pid: u32) -> Known {
        if identity::stat(pid).is_none() {
            return Known::Gone;
        }
        if identity::carries_marker(pid, &self.ctx.agent_id, uid) {
            return Known::Same;
        }
        self.ctx.records.check(uid, pid)
    }
}
