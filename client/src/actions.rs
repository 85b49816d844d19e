//! Actions and action-fail actions.

use ham_proto::ham::v1::{
    self as pb, ActionFailRef, ActionHandle, ConditionHandle, ExecuteAction, LogAction,
    NotifyPulseAction, NotifySignalAction, WaitforAction,
};

use crate::ham::{Ham, HamResult};
use crate::node::NodeSel;

/// Where and what a pulse notification delivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulse {
    /// Node of the receiving process.
    pub node: NodeSel,
    /// Receiving process.
    pub pid: i64,
    /// Its pulse channel.
    pub chid: i64,
    /// Pulse code.
    pub code: i32,
    /// Pulse value.
    pub value: i64,
}

impl Pulse {
    fn to_proto(&self) -> NotifyPulseAction {
        NotifyPulseAction {
            target_node: self.node.to_proto(),
            pid: self.pid,
            chid: self.chid,
            code: self.code,
            value: self.value,
        }
    }
}

/// Where and what a signal notification delivers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signal {
    /// Node of the receiving process.
    pub node: NodeSel,
    /// Receiving process.
    pub pid: i64,
    /// Signal number.
    pub signum: i32,
    /// Kept for QNX compatibility.
    pub code: i32,
    /// Delivered as si_value.
    pub value: i64,
}

impl Signal {
    fn to_proto(&self) -> NotifySignalAction {
        NotifySignalAction {
            target_node: self.node.to_proto(),
            pid: self.pid,
            signum: self.signum,
            code: self.code,
            value: self.value,
        }
    }
}

fn execute(command_line: &str, timeout_ms: u64) -> ExecuteAction {
    ExecuteAction {
        command_line: command_line.to_owned(),
        timeout_ms,
    }
}

fn waitfor(path: &str, delay_ms: i64) -> WaitforAction {
    WaitforAction {
        path: path.to_owned(),
        delay_ms,
    }
}

fn log(message: &str, attach_prefix: bool, verbosity: u32) -> LogAction {
    LogAction {
        message: message.to_owned(),
        attach_prefix,
        verbosity,
    }
}

impl Ham {
    /// Adds a restart action (ham_action_restart).
    pub async fn action_restart(
        &self,
        condition: &ConditionHandle,
        name: &str,
        command_line: &str,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionRestartRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(pb::RestartAction {
                command_line: command_line.to_owned(),
            }),
        };
        self.write(req, |mut c, r| async move { c.action_restart(r).await })
            .await
    }

    /// Adds an execute action (ham_action_execute). `timeout_ms` applies with
    /// HACTIONWAIT (0 = no limit).
    pub async fn action_execute(
        &self,
        condition: &ConditionHandle,
        name: &str,
        command_line: &str,
        timeout_ms: u64,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionExecuteRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(execute(command_line, timeout_ms)),
        };
        self.write(req, |mut c, r| async move { c.action_execute(r).await })
            .await
    }

    /// Adds a waitfor action (ham_action_waitfor); `path` "" = just wait.
    pub async fn action_waitfor(
        &self,
        condition: &ConditionHandle,
        name: &str,
        path: &str,
        delay_ms: i64,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionWaitforRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(waitfor(path, delay_ms)),
        };
        self.write(req, |mut c, r| async move { c.action_waitfor(r).await })
            .await
    }

    /// Adds a pulse notification (ham_action_notify_pulse / _node).
    pub async fn action_notify_pulse(
        &self,
        condition: &ConditionHandle,
        name: &str,
        pulse: &Pulse,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionNotifyPulseRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(pulse.to_proto()),
        };
        self.write(
            req,
            |mut c, r| async move { c.action_notify_pulse(r).await },
        )
        .await
    }

    /// Adds a signal notification (ham_action_notify_signal / _node).
    pub async fn action_notify_signal(
        &self,
        condition: &ConditionHandle,
        name: &str,
        signal: &Signal,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionNotifySignalRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(signal.to_proto()),
        };
        self.write(
            req,
            |mut c, r| async move { c.action_notify_signal(r).await },
        )
        .await
    }

    /// Adds a heartbeat_healthy action (ham_action_heartbeat_healthy).
    pub async fn action_heartbeat_healthy(
        &self,
        condition: &ConditionHandle,
        name: &str,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionHeartbeatHealthyRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(pb::HeartbeatHealthyAction {}),
        };
        self.write(req, |mut c, r| async move {
            c.action_heartbeat_healthy(r).await
        })
        .await
    }

    /// Adds a log action (ham_action_log).
    pub async fn action_log(
        &self,
        condition: &ConditionHandle,
        name: &str,
        message: &str,
        attach_prefix: bool,
        verbosity: u32,
        flags: u32,
    ) -> HamResult<ActionHandle> {
        let req = pb::ActionLogRequest {
            condition: Some(condition.clone()),
            name: name.to_owned(),
            flags,
            params: Some(log(message, attach_prefix, verbosity)),
        };
        self.write(req, |mut c, r| async move { c.action_log(r).await })
            .await
    }

    /// Removes an action (ham_action_remove).
    pub async fn action_remove(&self, action: &ActionHandle) -> HamResult<()> {
        self.write(action.clone(), |mut c, r| async move {
            c.action_remove(r).await
        })
        .await?;
        Ok(())
    }

    /// Adds an execute action-fail action (ham_action_fail_execute).
    pub async fn action_fail_execute(
        &self,
        action: &ActionHandle,
        name: &str,
        command_line: &str,
        timeout_ms: u64,
        flags: u32,
    ) -> HamResult<ActionFailRef> {
        let req = pb::ActionFailExecuteRequest {
            action: Some(action.clone()),
            name: name.to_owned(),
            flags,
            params: Some(execute(command_line, timeout_ms)),
        };
        self.write(
            req,
            |mut c, r| async move { c.action_fail_execute(r).await },
        )
        .await
    }

    /// Adds a waitfor action-fail action (ham_action_fail_waitfor).
    pub async fn action_fail_waitfor(
        &self,
        action: &ActionHandle,
        name: &str,
        path: &str,
        delay_ms: i64,
        flags: u32,
    ) -> HamResult<ActionFailRef> {
        let req = pb::ActionFailWaitforRequest {
            action: Some(action.clone()),
            name: name.to_owned(),
            flags,
            params: Some(waitfor(path, delay_ms)),
        };
        self.write(
            req,
            |mut c, r| async move { c.action_fail_waitfor(r).await },
        )
        .await
    }

    /// Adds a pulse action-fail action (ham_action_fail_notify_pulse / _node).
    pub async fn action_fail_notify_pulse(
        &self,
        action: &ActionHandle,
        name: &str,
        pulse: &Pulse,
        flags: u32,
    ) -> HamResult<ActionFailRef> {
        let req = pb::ActionFailNotifyPulseRequest {
            action: Some(action.clone()),
            name: name.to_owned(),
            flags,
            params: Some(pulse.to_proto()),
        };
        self.write(req, |mut c, r| async move {
            c.action_fail_notify_pulse(r).await
        })
        .await
    }

    /// Adds a signal action-fail action (ham_action_fail_notify_signal /
    /// _node).
    pub async fn action_fail_notify_signal(
        &self,
        action: &ActionHandle,
        name: &str,
        signal: &Signal,
        flags: u32,
    ) -> HamResult<ActionFailRef> {
        let req = pb::ActionFailNotifySignalRequest {
            action: Some(action.clone()),
            name: name.to_owned(),
            flags,
            params: Some(signal.to_proto()),
        };
        self.write(req, |mut c, r| async move {
            c.action_fail_notify_signal(r).await
        })
        .await
    }

    /// Adds a log action-fail action (ham_action_fail_log).
    pub async fn action_fail_log(
        &self,
        action: &ActionHandle,
        name: &str,
        message: &str,
        attach_prefix: bool,
        verbosity: u32,
        flags: u32,
    ) -> HamResult<ActionFailRef> {
        let req = pb::ActionFailLogRequest {
            action: Some(action.clone()),
            name: name.to_owned(),
            flags,
            params: Some(log(message, attach_prefix, verbosity)),
        };
        self.write(req, |mut c, r| async move { c.action_fail_log(r).await })
            .await
    }

    /// Removes one action-fail action by name.
    pub async fn action_fail_remove(&self, fail: &ActionFailRef) -> HamResult<()> {
        self.write(fail.clone(), |mut c, r| async move {
            c.action_fail_remove(r).await
        })
        .await?;
        Ok(())
    }
}
