//! The parts of an attach beyond QNX's: process options with the user and
//! group resolved (HAM-CONTRACT L7, P4), and the conditions, actions and
//! action-fail lists of one atomic attach (L6), from the wire to the model.
//!
//! A user or group name is resolved here, in the account database of the
//! node serving the call (the state keeps the numbers and the names); each
//! part's error names the part.

use super::Calls;
use super::convert as cv;
use super::writes::Params;
use ham_core::model::flags::*;
use ham_core::model::{self as m, Errno, HamError, Result, einval, quoted};
use ham_proto::ham::v1 as pb;

fn lookup_failed(what: &str, text: &str, e: nix::Error) -> HamError {
    HamError::new(
        Errno::Eio,
        format!("cannot look {what} {} up: {e}", quoted(text)),
    )
}

/// A user by name or numeric uid, as the account database knows it.
pub fn resolve_user(text: &str) -> Result<m::User> {
    use nix::unistd::{Uid, User};
    let found = match text.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(text),
    }
    .map_err(|e| lookup_failed("user", text, e))?;
    let user = found.ok_or_else(|| einval(format!("no user {}", quoted(text))))?;
    Ok(m::User {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

/// A group by name or numeric gid, as the account database knows it.
pub fn resolve_group(text: &str) -> Result<m::Group> {
    use nix::unistd::{Gid, Group};
    let found = match text.parse::<u32>() {
        Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
        Err(_) => Group::from_name(text),
    }
    .map_err(|e| lookup_failed("group", text, e))?;
    let group = found.ok_or_else(|| einval(format!("no group {}", quoted(text))))?;
    Ok(m::Group {
        name: group.name,
        gid: group.gid.as_raw(),
    })
}

fn output_mode(code: i32) -> Result<m::OutputMode> {
    use pb::OutputMode as P;
    match P::try_from(code) {
        Ok(P::Unspecified | P::Log) => Ok(m::OutputMode::Log),
        Ok(P::Inherit) => Ok(m::OutputMode::Inherit),
        Ok(P::Discard) => Ok(m::OutputMode::Discard),
        Err(_) => Err(einval(format!("unknown output mode {code}"))),
    }
}

fn limit_resource(code: i32) -> Result<m::LimitResource> {
    use m::LimitResource as R;
    use pb::LimitResource as P;
    match P::try_from(code) {
        Ok(P::Nofile) => Ok(R::Nofile),
        Ok(P::Core) => Ok(R::Core),
        Ok(P::Nproc) => Ok(R::Nproc),
        Ok(P::Memlock) => Ok(R::Memlock),
        Ok(P::As) => Ok(R::As),
        Ok(P::Fsize) => Ok(R::Fsize),
        Ok(P::Stack) => Ok(R::Stack),
        Ok(P::Cpu) => Ok(R::Cpu),
        Ok(P::Data) => Ok(R::Data),
        Ok(P::Unspecified) | Err(_) => Err(einval(format!("unknown limit resource {code}"))),
    }
}

fn limit_resource_pb(r: m::LimitResource) -> pb::LimitResource {
    use m::LimitResource as R;
    use pb::LimitResource as P;
    match r {
        R::Nofile => P::Nofile,
        R::Core => P::Core,
        R::Nproc => P::Nproc,
        R::Memlock => P::Memlock,
        R::As => P::As,
        R::Fsize => P::Fsize,
        R::Stack => P::Stack,
        R::Cpu => P::Cpu,
        R::Data => P::Data,
    }
}

/// The run-as part of the options: names or ids resolved, nothing chosen
/// means the daemon's own user and group.
fn run_as(p: &pb::ProcessOptions) -> Result<m::RunAs> {
    let user = (!p.user.is_empty())
        .then(|| resolve_user(&p.user))
        .transpose()?;
    let group = (!p.group.is_empty())
        .then(|| resolve_group(&p.group))
        .transpose()?;
    Ok(m::RunAs { user, group })
}

/// Process options from the wire (absent: the defaults). The model checks
/// them again when the command is applied (`check_options`); checking here
/// too answers before anything is proposed.
pub fn process_options(p: Option<&pb::ProcessOptions>) -> Result<m::ProcessOptions> {
    let Some(p) = p else {
        return Ok(m::ProcessOptions::default());
    };
    let limits = p
        .limits
        .iter()
        .map(|l| {
            Ok(m::Limit {
                resource: limit_resource(l.resource)?,
                soft: l.soft,
                hard: l.hard,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let options = m::ProcessOptions {
        cwd: (!p.cwd.is_empty()).then(|| p.cwd.clone()),
        env: p
            .env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        output: output_mode(p.output)?,
        limits,
        run_as: run_as(p)?,
    };
    m::check_options(&options)?;
    Ok(options)
}

/// The wire form of stored options, for the tree (None: all defaults).
pub fn process_options_pb(o: &m::ProcessOptions) -> Option<pb::ProcessOptions> {
    if *o == m::ProcessOptions::default() {
        return None;
    }
    let output = match o.output {
        m::OutputMode::Log => pb::OutputMode::Log,
        m::OutputMode::Inherit => pb::OutputMode::Inherit,
        m::OutputMode::Discard => pb::OutputMode::Discard,
    };
    Some(pb::ProcessOptions {
        cwd: o.cwd.clone().unwrap_or_default(),
        env: o
            .env
            .iter()
            .map(|(name, value)| pb::EnvVar {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        output: output.into(),
        limits: o
            .limits
            .iter()
            .map(|l| pb::ResourceLimit {
                resource: limit_resource_pb(l.resource).into(),
                soft: l.soft,
                hard: l.hard,
            })
            .collect(),
        user: o
            .run_as
            .user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        group: o
            .run_as
            .group
            .as_ref()
            .map(|g| g.name.clone())
            .unwrap_or_default(),
        uid: o.run_as.uid().unwrap_or(0),
        gid: o.run_as.gid().unwrap_or(0),
    })
}

/// The error of one part, saying which part it is.
fn within(part: &str, e: HamError) -> HamError {
    HamError::new(e.errno, format!("{part}: {}", e.message))
}

/// A condition's filter, by its type and flags (as ConditionRaise and
/// ConditionState build theirs); a filter given to a type that has none is refused.
fn filter(c: &pb::AttachCondition, ctype: m::ConditionType) -> Result<m::ConditionFilter> {
    match ctype {
        m::ConditionType::Raise => {
            if c.state_filter.is_some() {
                return Err(einval("a RAISE condition takes no state filter"));
            }
            let f = c.raise_filter.unwrap_or(pb::RaiseFilter {
                rtype: -1,
                rclass: -1,
                rseverity: -1,
            });
            Ok(m::ConditionFilter::Raise(m::RaiseFilter {
                rtype: f.rtype.into(),
                rclass: f.rclass.into(),
                rseverity: f.rseverity.into(),
            }))
        }
        m::ConditionType::State => {
            if c.raise_filter.is_some() {
                return Err(einval("a STATE condition takes no raise filter"));
            }
            let f = c.state_filter.unwrap_or(pb::StateFilter {
                from_state: m::ANY,
                to_state: m::ANY,
            });
            let flags = c.flags;
            let from = cv::state_match(
                f.from_state,
                flags & HCONDSTATEFROMSET != 0,
                flags & HCONDSTATEFROMINV != 0,
            )?;
            let to = cv::state_match(
                f.to_state,
                flags & HCONDSTATETOSET != 0,
                flags & HCONDSTATETOINV != 0,
            )?;
            Ok(m::ConditionFilter::State { from, to })
        }
        _ if c.raise_filter.is_some() || c.state_filter.is_some() => {
            Err(einval("only RAISE and STATE conditions take a filter"))
        }
        _ => Ok(m::ConditionFilter::None),
    }
}

impl Calls {
    fn action_kind(
        &self,
        node: u64,
        kind: Option<&pb::attach_action::Kind>,
    ) -> Result<m::ActionKind> {
        use pb::attach_action::Kind as K;
        match kind.ok_or_else(|| einval("the action has no kind"))? {
            K::Restart(p) => Ok(m::ActionKind::Restart {
                command_line: p.command_line.clone(),
            }),
            K::Execute(p) => Params::kind(self, Some(p), node),
            K::Waitfor(p) => Params::kind(self, Some(p), node),
            K::NotifyPulse(p) => Params::kind(self, Some(p), node),
            K::NotifySignal(p) => Params::kind(self, Some(p), node),
            K::HeartbeatHealthy(_) => Ok(m::ActionKind::HeartbeatHealthy),
            K::Log(p) => Params::kind(self, Some(p), node),
        }
    }

    fn action_fail_kind(
        &self,
        node: u64,
        kind: Option<&pb::attach_action_fail::Kind>,
    ) -> Result<m::ActionKind> {
        use pb::attach_action_fail::Kind as K;
        match kind.ok_or_else(|| einval("the action-fail has no kind"))? {
            K::Execute(p) => Params::kind(self, Some(p), node),
            K::Waitfor(p) => Params::kind(self, Some(p), node),
            K::NotifyPulse(p) => Params::kind(self, Some(p), node),
            K::NotifySignal(p) => Params::kind(self, Some(p), node),
            K::Log(p) => Params::kind(self, Some(p), node),
        }
    }

    fn action_spec(&self, node: u64, part: &str, a: &pb::AttachAction) -> Result<m::ActionSpec> {
        let part = format!("{part}, action {}", quoted(&a.name));
        let kind = self
            .action_kind(node, a.kind.as_ref())
            .map_err(|e| within(&part, e))?;
        let fail = a
            .fail_actions
            .iter()
            .map(|f| {
                let part = format!("{part}, action-fail {}", quoted(&f.name));
                Ok(m::ActionFailSpec {
                    name: f.name.clone(),
                    flags: f.flags,
                    kind: self
                        .action_fail_kind(node, f.kind.as_ref())
                        .map_err(|e| within(&part, e))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(m::ActionSpec {
            name: a.name.clone(),
            flags: a.flags,
            kind,
            fail,
        })
    }

    /// The conditions of an atomic attach to an entity of `node`: each
    /// converted as its own call would, so a bad part is refused here,
    /// named, before anything is proposed.
    pub(super) fn attach_conditions(
        &self,
        node: u64,
        conditions: &[pb::AttachCondition],
    ) -> Result<Vec<m::ConditionSpec>> {
        conditions
            .iter()
            .map(|c| {
                let part = format!("condition {}", quoted(&c.name));
                let ctype = cv::condition_type(c.condition_type).map_err(|e| within(&part, e))?;
                let filter = filter(c, ctype).map_err(|e| within(&part, e))?;
                let actions = c
                    .actions
                    .iter()
                    .map(|a| self.action_spec(node, &part, a))
                    .collect::<Result<Vec<_>>>()?;
                Ok(m::ConditionSpec {
                    name: c.name.clone(),
                    ctype,
                    flags: c.flags,
                    filter,
                    actions,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p4_root_resolves_by_name_and_by_id_and_unknown_is_einval() {
        let by_name = resolve_user("root").unwrap();
        assert_eq!((by_name.uid, by_name.gid), (0, 0));
        assert_eq!(resolve_user("0").unwrap(), by_name);
        let g = resolve_group("0").unwrap();
        assert_eq!(g.gid, 0);
        assert_eq!(resolve_group(&g.name).unwrap(), g);
        for bad in ["no-such-user-ham-test", "4294967294"] {
            assert_eq!(resolve_user(bad).unwrap_err().errno, Errno::Einval, "{bad}");
            assert_eq!(
                resolve_group(bad).unwrap_err().errno,
                Errno::Einval,
                "{bad}"
            );
        }
    }

    #[test]
    fn l7_options_convert_and_come_back_for_the_tree() {
        let p = pb::ProcessOptions {
            cwd: "/tmp".into(),
            env: vec![pb::EnvVar {
                name: "LANG".into(),
                value: "C".into(),
            }],
            output: pb::OutputMode::Discard.into(),
            limits: vec![pb::ResourceLimit {
                resource: pb::LimitResource::Nofile.into(),
                soft: 100,
                hard: 200,
            }],
            user: "0".into(),
            group: String::new(),
            uid: 0,
            gid: 0,
        };
        let o = process_options(Some(&p)).unwrap();
        assert_eq!(o.cwd.as_deref(), Some("/tmp"));
        assert_eq!(o.output, m::OutputMode::Discard);
        assert_eq!(o.run_as.uid(), Some(0));
        let back = process_options_pb(&o).unwrap();
        assert_eq!(back.user, "root");
        assert_eq!((back.cwd.as_str(), back.limits.len()), ("/tmp", 1));
        assert_eq!(process_options_pb(&m::ProcessOptions::default()), None);
        assert_eq!(process_options(None).unwrap(), m::ProcessOptions::default());
    }

    #[test]
    fn l7_wire_resources_and_output_modes_match_the_models_names() {
        for r in m::LimitResource::ALL {
            let wire = limit_resource_pb(r);
            assert_eq!(limit_resource(wire.into()).unwrap(), r);
            // hamctrl finds a resource by the model's name in the wire enum.
            let name = format!("LIMIT_RESOURCE_{}", r.name().to_uppercase());
            assert_eq!(wire.as_str_name(), name);
        }
        for mode in [m::OutputMode::Inherit, m::OutputMode::Discard] {
            let wire = pb::OutputMode::from_str_name(&format!(
                "OUTPUT_MODE_{}",
                mode.name().to_uppercase()
            ))
            .unwrap();
            assert_eq!(output_mode(wire.into()).unwrap(), mode);
        }
        assert_eq!(output_mode(0).unwrap(), m::OutputMode::Log);
    }

    #[test]
    fn l7_unknown_enums_and_bad_values_are_einval() {
        let bad = [
            pb::ProcessOptions {
                output: 99,
                ..Default::default()
            },
            pb::ProcessOptions {
                limits: vec![pb::ResourceLimit {
                    resource: 0,
                    soft: 1,
                    hard: 1,
                }],
                ..Default::default()
            },
            pb::ProcessOptions {
                limits: vec![pb::ResourceLimit {
                    resource: pb::LimitResource::Core.into(),
                    soft: 2,
                    hard: 1,
                }],
                ..Default::default()
            },
            pb::ProcessOptions {
                cwd: "relative".into(),
                ..Default::default()
            },
        ];
        for p in bad {
            assert_eq!(
                process_options(Some(&p)).unwrap_err().errno,
                Errno::Einval,
                "{p:?}"
            );
        }
    }
}
