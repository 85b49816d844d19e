//! Entity rules: attach, self-attach, placeholders, detach, published events
//! (HAM-CONTRACT E1-E6, E9, N3, N4, X6).

use super::cmdline::parse_command_line;
use super::command::*;
use super::errno::{Errno, HamError, Result, eexist, einval};
use super::events::{Event, plan_for_event};
use super::flags::{ENTITY_FLAGS, check_flags};
use super::names::{check_name, check_path, quoted};
use super::options::{ProcessOptions, check_options};
use super::pacing::PacingPolicy;
use super::state::HamState;
use super::stopstart::check_stop_policy;
use super::types::*;

fn check_entity_name(node: NodeId, name: &str) -> Result<()> {
    if node == CLUSTER_NODE_ID {
        return Err(einval(
            "entities cannot be attached to the cluster-wide context",
        ));
    }
    if name.is_empty() {
        return Err(einval(
            "the global entity cannot be attached, created or detached",
        ));
    }
    check_name("entity", name)?;
    check_path(&[name])
}

/// How a new process joins: what kind it is and what to do about its process.
struct Joining {
    kind: EntityKind,
    pid: i64,
    command_line: Option<String>,
    argv: Option<Vec<String>>,
    pidfile: Option<String>,
    heartbeat: Option<HeartbeatSpec>,
    flags: u32,
    options: ProcessOptions,
    stop: Option<StopPolicy>,
    pacing: Option<PacingPolicy>,
}

/// What `ham_attach` asks for.
#[derive(Debug)]
pub(crate) struct AttachSpec {
    pub pid: i64,
    pub command_line: Option<String>,
    pub flags: u32,
    pub pidfile: Option<String>,
    pub heartbeat: Option<HeartbeatSpec>,
    pub options: ProcessOptions,
    pub stop: StopPolicy,
    pub pacing: Option<PacingPolicy>,
}

/// E4: a heartbeat promise needs a period of at least HAMHBEATMIN and hpdl <= hpdh;
/// a zero period means no heartbeat.
fn check_heartbeat(hb: HeartbeatSpec) -> Result<Option<HeartbeatSpec>> {
    if hb.period_ns == 0 {
        Ok(None)
    } else if hb.period_ns < HAMHBEATMIN_NS {
        Err(einval(format!(
            "heartbeat period {} ns is below the 10 ms minimum",
            hb.period_ns
        )))
    } else if hb.hpdl > hb.hpdh {
        Err(einval(format!(
            "hpdl {} is above hpdh {}",
            hb.hpdl, hb.hpdh
        )))
    } else {
        Ok(Some(hb))
    }
}

impl HamState {
    pub(crate) fn attach(
        &mut self,
        node: NodeId,
        name: &str,
        how: AttachSpec,
        now_ns: TimeNs,
    ) -> Result<Applied> {
        let AttachSpec {
            pid,
            command_line,
            flags,
            pidfile,
            heartbeat,
            options,
            stop,
            pacing,
        } = how;
        check_entity_name(node, name)?;
        check_flags("an entity", flags, ENTITY_FLAGS)?;
        check_options(&options)?;
        check_stop_policy(&stop)?;
        let command_line = command_line.filter(|l| !l.trim().is_empty());
        let argv = match &command_line {
            Some(line) => Some(parse_command_line(line)?),
            None if pid <= 0 => {
                return Err(einval("attach with no pid needs a command line to start"));
            }
            None => None,
        };
        if let Some(p) = pidfile.as_ref().filter(|p| !p.starts_with('/')) {
            return Err(einval(format!(
                "pid file {} is not an absolute path",
                quoted(p)
            )));
        }
        let argv = if pid > 0 { None } else { argv };
        let heartbeat = heartbeat.map(check_heartbeat).transpose()?.flatten();
        let pacing = pacing.map(PacingPolicy::check).transpose()?;
        let joining = Joining {
            kind: EntityKind::Attached,
            pid: pid.max(0),
            command_line,
            argv,
            pidfile,
            heartbeat,
            flags,
            options,
            stop: Some(stop),
            pacing,
        };
        self.join(node, name, joining, now_ns)
    }

    pub(crate) fn attach_self(
        &mut self,
        node: NodeId,
        name: &str,
        pid: i64,
        hb: HeartbeatSpec,
        flags: u32,
        now_ns: TimeNs,
    ) -> Result<Applied> {
        check_entity_name(node, name)?;
        check_flags("an entity", flags, ENTITY_FLAGS)?;
        if pid <= 0 {
            return Err(einval(format!(
                "self-attach needs the caller's pid, got {pid}"
            )));
        }
        let heartbeat = check_heartbeat(hb)?;
        let joining = Joining {
            kind: EntityKind::AttachedSelf,
            pid,
            command_line: None,
            argv: None,
            pidfile: None,
            heartbeat,
            flags,
            options: ProcessOptions::default(),
            stop: None,
            pacing: None,
        };
        self.join(node, name, joining, now_ns)
    }

    /// Creates the entity, or fills its placeholder and triggers ATTACH (E5).
    fn join(&mut self, node: NodeId, name: &str, j: Joining, now_ns: TimeNs) -> Result<Applied> {
        let ctx = self.context(node)?;
        let filling = match ctx.entities.get(name) {
            Some(e) if e.kind == EntityKind::Placeholder => true,
            Some(_) => return Err(eexist(format!("entity {} already exists", quoted(name)))),
            None => false,
        };
        if !filling {
            let uid = self.uid();
            let ctx = self.context_mut(node)?;
            ctx.entities
                .insert(name.to_string(), Entity::new(name, uid, j.kind, now_ns));
        }
        let r = EntityRef {
            node,
            name: name.to_string(),
            uid: None,
        };
        let e = self.entity_mut(&r)?;
        e.kind = j.kind;
        e.pid = j.pid;
        e.command_line = j.command_line;
        e.pidfile = j.pidfile;
        e.heartbeat = j.heartbeat;
        e.flags |= j.flags;
        e.options = j.options;
        if let Some(stop) = j.stop {
            e.stop = stop;
        }
        e.stopped = false;
        if let Some(p) = j.pacing {
            e.pacing = p;
        }
        e.stats.instance = 1;
        e.stats.since_ns = now_ns;
        let handle = EntityRef {
            uid: Some(e.uid),
            ..r
        };
        let options = e.options.clone();
        let mut effects = vec![match j.argv {
            Some(argv) => Effect::Spawn {
                node,
                entity: handle.clone(),
                argv,
                instance: 1,
                options,
            },
            None => Effect::Monitor {
                node,
                entity: handle.clone(),
                pid: j.pid,
            },
        }];
        if filling {
            let plan = plan_for_event(self, &handle, Event::Attach)?;
            if !plan.is_empty() {
                effects.push(Effect::Run(Box::new(plan)));
            }
        }
        Ok(Applied {
            response: Response::Entity(handle),
            effects,
        })
    }

    pub(crate) fn placeholder(
        &mut self,
        node: NodeId,
        name: &str,
        flags: u32,
        now_ns: TimeNs,
        pacing: Option<PacingPolicy>,
    ) -> Result<Applied> {
        check_entity_name(node, name)?;
        check_flags("an entity", flags, ENTITY_FLAGS)?;
        let pacing = pacing.map(PacingPolicy::check).transpose()?;
        if self.context(node)?.entities.contains_key(name) {
            return Err(eexist(format!("entity {} already exists", quoted(name))));
        }
        let uid = self.uid();
        let mut e = Entity::new(name, uid, EntityKind::Placeholder, now_ns);
        e.flags = flags;
        e.pacing = pacing.unwrap_or_default();
        self.context_mut(node)?.entities.insert(name.to_string(), e);
        let handle = EntityRef {
            node,
            name: name.to_string(),
            uid: Some(uid),
        };
        Ok(Applied::just(Response::Entity(handle)))
    }

    /// E6: DETACH conditions trigger, then the entity goes; its process keeps running.
    pub(crate) fn detach(&mut self, r: &EntityRef) -> Result<Applied> {
        if r.name.is_empty() {
            return Err(einval("the global entity cannot be detached"));
        }
        let uid = self.entity(r)?.uid;
        let handle = EntityRef {
            uid: Some(uid),
            ..r.clone()
        };
        let plan = plan_for_event(self, &handle, Event::Detach)?;
        self.context_mut(r.node)?.entities.remove(&r.name);
        let mut effects = vec![Effect::Unmonitor {
            node: r.node,
            entity: handle,
        }];
        if !plan.is_empty() {
            effects.push(Effect::Run(Box::new(plan)));
        }
        Ok(Applied {
            response: Response::Done,
            effects,
        })
    }

    /// X6 + K5: an entity raises a condition.
    pub(crate) fn raise(
        &mut self,
        r: &EntityRef,
        rtype: i64,
        rclass: i64,
        rsev: i64,
    ) -> Result<Applied> {
        let event = Event::Raise {
            rtype,
            rclass,
            rseverity: rsev,
        };
        let plan = plan_for_event(self, r, event)?;
        Ok(run_plan(plan))
    }

    /// X6 + K6: an entity reports its new state; the HAM remembers it.
    pub(crate) fn report_state(&mut self, r: &EntityRef, to: i64) -> Result<Applied> {
        let from = self.entity(r)?.state;
        let plan = plan_for_event(self, r, Event::State { from, to })?;
        self.entity_mut(r)?.state = to;
        Ok(run_plan(plan))
    }

    /// An agent started the entity's process, or followed a daemon to its new pid (E2, E8).
    pub(crate) fn process_started(
        &mut self,
        r: &EntityRef,
        pid: i64,
        _now: TimeNs,
    ) -> Result<Applied> {
        if pid <= 0 {
            return Err(einval(format!("pid {pid} is not a process")));
        }
        let e = self.entity_mut(r)?;
        if e.kind == EntityKind::Global || e.kind == EntityKind::Placeholder {
            return Err(HamError::new(Errno::Einval, "this entity has no process"));
        }
        // A start reported after a stop call (L5) names a process the stop ends.
        if e.stopped {
            return Ok(Applied::just(Response::Done));
        }
        e.pid = pid;
        Ok(Applied::just(Response::Done))
    }
}

fn run_plan(plan: super::events::Plan) -> Applied {
    let effects = if plan.is_empty() {
        Vec::new()
    } else {
        vec![Effect::Run(Box::new(plan))]
    };
    Applied {
        response: Response::Done,
        effects,
    }
}
