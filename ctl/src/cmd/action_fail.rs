//! `hamctrl action-fail ENTITY COND ACTION NAME KIND ...`.

use super::kind::{ActionFlags, KindArgs, Params};
use super::{CtlResult, Ctx, usage};

const NOT_FAIL_KIND: &str = "an action-fail action is execute, waitfor, pulse, signal or log";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub condition: String,
    /// Action whose failure runs this one.
    pub action: String,
    /// Action-fail action name.
    pub name: String,
    /// execute, waitfor, pulse, signal or log.
    #[command(flatten)]
    pub kind: KindArgs,
    #[command(flatten)]
    pub flags: ActionFlags,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let params = self.kind.params()?;
        if matches!(params, Params::Restart(_) | Params::Healthy) {
            return Err(usage(NOT_FAIL_KIND));
        }
        let flags = self.flags.bits() | self.kind.bits();
        let action = ctx
            .action(&self.entity, &self.condition, &self.action)
            .await?;
        let (ham, name) = (&ctx.ham, self.name.as_str());
        match params {
            Params::Execute { line, timeout_ms } => {
                ham.action_fail_execute(&action, name, &line, timeout_ms, flags)
                    .await
            }
            Params::Waitfor { path, delay_ms } => {
                ham.action_fail_waitfor(&action, name, &path, delay_ms, flags)
                    .await
            }
            Params::Pulse(p) => ham.action_fail_notify_pulse(&action, name, &p, flags).await,
            Params::Signal(s) => {
                ham.action_fail_notify_signal(&action, name, &s, flags)
                    .await
            }
            Params::Log {
                message,
                prefix,
                level,
            } => {
                ham.action_fail_log(&action, name, &message, prefix, level, flags)
                    .await
            }
            Params::Restart(_) | Params::Healthy => return Err(usage(NOT_FAIL_KIND)),
        }?;
        Ok(())
    }
}
