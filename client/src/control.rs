//! Control commands, publishing and heartbeats.

use std::time::Duration;

use ham_proto::ham::v1::{self as pb, ActionHandle, ConditionHandle, ControlCommand, EntityHandle};
use tokio::task::JoinHandle;

use crate::error::Errno;
use crate::ham::{Ham, HamResult};

impl Ham {
    /// Enables, disables, or changes/reads the flags of an entity
    /// (ham_entity_control). Returns the flags after the command.
    pub async fn entity_control(
        &self,
        entity: &EntityHandle,
        command: ControlCommand,
        flags: u32,
    ) -> HamResult<u32> {
        let req = pb::EntityControlRequest {
            entity: Some(entity.clone()),
            command: command.into(),
            flags,
        };
        Ok(self
            .write(req, |mut c, r| async move { c.entity_control(r).await })
            .await?
            .flags)
    }

    /// Same as [`Ham::entity_control`] for a condition (ham_condition_control).
    pub async fn condition_control(
        &self,
        condition: &ConditionHandle,
        command: ControlCommand,
        flags: u32,
    ) -> HamResult<u32> {
        let req = pb::ConditionControlRequest {
            condition: Some(condition.clone()),
            command: command.into(),
            flags,
        };
        Ok(self
            .write(req, |mut c, r| async move { c.condition_control(r).await })
            .await?
            .flags)
    }

    /// Same as [`Ham::entity_control`] for an action (ham_action_control).
    pub async fn action_control(
        &self,
        action: &ActionHandle,
        command: ControlCommand,
        flags: u32,
    ) -> HamResult<u32> {
        let req = pb::ActionControlRequest {
            action: Some(action.clone()),
            command: command.into(),
            flags,
        };
        Ok(self
            .write(req, |mut c, r| async move { c.action_control(r).await })
            .await?
            .flags)
    }

    /// Publishes a raised condition on an entity (ham_entity_condition_raise).
    pub async fn entity_condition_raise(
        &self,
        entity: &EntityHandle,
        rtype: i32,
        rclass: i32,
        rseverity: i32,
        flags: u32,
    ) -> HamResult<()> {
        let req = pb::EntityConditionRaiseRequest {
            entity: Some(entity.clone()),
            rtype,
            rclass,
            rseverity,
            flags,
        };
        self.write(
            req,
            |mut c, r| async move { c.entity_condition_raise(r).await },
        )
        .await?;
        Ok(())
    }

    /// Publishes a new state of an entity (ham_entity_condition_state).
    pub async fn entity_condition_state(
        &self,
        entity: &EntityHandle,
        state: i64,
        flags: u32,
    ) -> HamResult<()> {
        let req = pb::EntityConditionStateRequest {
            entity: Some(entity.clone()),
            state,
            flags,
        };
        self.write(
            req,
            |mut c, r| async move { c.entity_condition_state(r).await },
        )
        .await?;
        Ok(())
    }

    /// Sends one heartbeat for a self-attached entity (ham_heartbeat).
    pub async fn heartbeat(&self, entity: &EntityHandle) -> HamResult<()> {
        let req = pb::HeartbeatRequest {
            entity: Some(entity.clone()),
        };
        self.c().heartbeat(req).await?;
        Ok(())
    }

    /// Sends a heartbeat every `period` from a background task until the
    /// entity is gone (ENOENT) or the task is aborted. Other errors (a HAM
    /// briefly unreachable) are retried at the next period.
    pub fn spawn_heartbeat(&self, entity: EntityHandle, period: Duration) -> JoinHandle<()> {
        let ham = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period.max(Duration::from_millis(1)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = ham.heartbeat(&entity).await
                    && e.errno == Errno::Enoent
                {
                    return;
                }
            }
        })
    }
}
