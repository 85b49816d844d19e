//! One atomic attach (HAM-CONTRACT L6): an entity, its process options
//! (L7) and user (P4), and its conditions with their actions and
//! action-fail lists, created by one write before its process starts.

use ham_proto::ham::v1::{self as pb, ConditionType, EntityHandle};

use crate::ham::{Ham, HamResult, Heartbeat, Pacing, millis};
use crate::node::NodeSel;
use crate::stopping::StopPolicy;

/// Where a started process's standard output and error go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Output {
    /// The entity's log file under the data directory, rotated (the default).
    #[default]
    Log,
    /// The daemon's own standard output and error.
    Inherit,
    /// `/dev/null`.
    Discard,
}

/// No limit, for [`ProcessOptions::limits`].
pub const UNLIMITED: u64 = u64::MAX;

/// How an entity's processes (start, restart, its execute actions) are
/// started, and who they run as. The defaults are the daemon's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessOptions {
    /// Absolute working directory.
    pub cwd: Option<String>,
    /// Extra environment variables (not HAM_*, PATH, NOTIFY_SOCKET, WATCHDOG_USEC).
    pub env: Vec<(String, String)>,
    /// Output mode.
    pub output: Output,
    /// Resource limits: (resource, soft, hard), [`UNLIMITED`] for none.
    pub limits: Vec<(pb::LimitResource, u64, u64)>,
    /// User name or numeric uid (its primary group and supplementary groups follow).
    pub user: Option<String>,
    /// Group name or numeric gid, instead of the user's primary group.
    pub group: Option<String>,
}

impl ProcessOptions {
    /// The wire form.
    pub fn to_proto(&self) -> pb::ProcessOptions {
        let output = match self.output {
            Output::Log => pb::OutputMode::Log,
            Output::Inherit => pb::OutputMode::Inherit,
            Output::Discard => pb::OutputMode::Discard,
        };
        pb::ProcessOptions {
            cwd: self.cwd.clone().unwrap_or_default(),
            env: self
                .env
                .iter()
                .map(|(name, value)| pb::EnvVar {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            output: output.into(),
            limits: self
                .limits
                .iter()
                .map(|&(resource, soft, hard)| pb::ResourceLimit {
                    resource: resource.into(),
                    soft,
                    hard,
                })
                .collect(),
            user: self.user.clone().unwrap_or_default(),
            group: self.group.clone().unwrap_or_default(),
            uid: 0,
            gid: 0,
        }
    }
}

/// Everything one attach carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attach {
    /// > 0: monitor this running process; <= 0: start `command_line`.
    pub pid: i64,
    /// The start (pid <= 0) or restart (pid > 0) line.
    pub command_line: String,
    /// A pid file naming the daemon's pid after a daemonizing start ("" = none).
    pub pidfile: String,
    /// A heartbeat promise (zero period: none).
    pub heartbeat: Heartbeat,
    /// ENTITY_FLAGS.
    pub flags: u32,
    /// Process options and user.
    pub process: ProcessOptions,
    /// Conditions created with the entity, before its process starts.
    pub conditions: Vec<pb::AttachCondition>,
    /// How its processes are stopped (S2, L1).
    pub stop: StopPolicy,
    /// How its restarts are paced (L4); the default is the contract's.
    pub pacing: Pacing,
}

impl Attach {
    /// Starts `command_line`.
    pub fn start(command_line: &str) -> Attach {
        Attach {
            pid: -1,
            command_line: command_line.to_owned(),
            ..Attach::default()
        }
    }

    /// Adds a condition.
    pub fn with(mut self, condition: pb::AttachCondition) -> Attach {
        self.conditions.push(condition);
        self
    }

    /// The request for entity `name` on `node`.
    pub fn to_proto(&self, node: NodeSel, name: &str) -> pb::AttachRequest {
        pb::AttachRequest {
            node: node.to_proto(),
            name: name.to_owned(),
            pid: self.pid,
            command_line: self.command_line.clone(),
            flags: self.flags,
            pidfile: self.pidfile.clone(),
            period_ns: u64::try_from(self.heartbeat.period.as_nanos()).unwrap_or(u64::MAX),
            hpdl: self.heartbeat.hpdl,
            hpdh: self.heartbeat.hpdh,
            process: (self.process != ProcessOptions::default()).then(|| self.process.to_proto()),
            conditions: self.conditions.clone(),
            warn_signal: self.stop.warn_signal,
            grace_ms: self
                .stop
                .grace
                .map(|g| u64::try_from(g.as_millis()).unwrap_or(u64::MAX)),
            kill_mode: self.stop.kill_mode.into(),
            pacing_burst: self.pacing.burst,
            pacing_window_ms: millis(self.pacing.window),
            pacing_min_delay_ms: millis(self.pacing.min_delay),
            pacing_max_delay_ms: millis(self.pacing.max_delay),
            pacing_off: self.pacing.off,
        }
    }
}

/// A condition for [`Attach::with`], without actions yet.
pub fn condition(name: &str, ctype: ConditionType, flags: u32) -> pb::AttachCondition {
    pb::AttachCondition {
        name: name.to_owned(),
        condition_type: ctype.into(),
        flags,
        ..Default::default()
    }
}

/// A restart action for a DEATH or ABNORMALDEATH condition.
pub fn restart(name: &str, command_line: &str, flags: u32) -> pb::AttachAction {
    action(
        name,
        flags,
        pb::attach_action::Kind::Restart(pb::RestartAction {
            command_line: command_line.to_owned(),
        }),
    )
}

/// An execute action (`timeout_ms` with HACTIONWAIT; 0 = no limit).
pub fn execute(name: &str, command_line: &str, timeout_ms: u64, flags: u32) -> pb::AttachAction {
    action(
        name,
        flags,
        pb::attach_action::Kind::Execute(pb::ExecuteAction {
            command_line: command_line.to_owned(),
            timeout_ms,
        }),
    )
}

/// An action of any kind.
pub fn action(name: &str, flags: u32, kind: pb::attach_action::Kind) -> pb::AttachAction {
    pb::AttachAction {
        name: name.to_owned(),
        flags,
        kind: Some(kind),
        fail_actions: Vec::new(),
    }
}

impl Ham {
    /// Attaches entity `name` on `node` with everything `spec` carries, as
    /// one atomic write (HAM-CONTRACT L6): if any part is refused, nothing
    /// is created and nothing started, and the error names the part.
    pub async fn attach_with(
        &self,
        node: impl Into<NodeSel>,
        name: &str,
        spec: &Attach,
    ) -> HamResult<EntityHandle> {
        let req = spec.to_proto(node.into(), name);
        self.write(req, |mut c, r| async move { c.attach(r).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l6_the_request_carries_options_and_parts_only_when_given() {
        let plain = Attach::start("/bin/true").to_proto(NodeSel::Local, "t");
        assert_eq!(
            (plain.pid, plain.process, plain.conditions.len()),
            (-1, None, 0)
        );
        let mut spec = Attach::start("/bin/true").with(pb::AttachCondition {
            actions: vec![restart("restart", "/bin/true", 1)],
            ..condition("death", ConditionType::Death, 1)
        });
        spec.process.user = Some("nobody".into());
        spec.process.limits = vec![(pb::LimitResource::Core, 0, UNLIMITED)];
        let req = spec.to_proto(NodeSel::Local, "t");
        let p = req.process.unwrap();
        assert_eq!(p.user, "nobody");
        assert_eq!(p.limits[0].hard, u64::MAX);
        assert_eq!(req.conditions[0].actions[0].name, "restart");
    }
}
