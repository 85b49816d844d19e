//! `hamctrl action ENTITY COND NAME KIND ...`.

use super::kind::{ActionFlags, KindArgs, Params};
use super::{CtlResult, Ctx};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Entity name (`@global` = the node's global entity).
    pub entity: String,
    /// Condition name.
    pub condition: String,
    /// Action name.
    pub name: String,
    #[command(flatten)]
    pub kind: KindArgs,
    #[command(flatten)]
    pub flags: ActionFlags,
}

impl Args {
    pub async fn run(self, ctx: &Ctx) -> CtlResult {
        let params = self.kind.params()?;
        let flags = self.flags.bits() | self.kind.bits();
        let cond = ctx.condition(&self.entity, &self.condition).await?;
        let (ham, name) = (&ctx.ham, self.name.as_str());
        match params {
            Params::Restart(line) => ham.action_restart(&cond, name, &line, flags).await,
            Params::Execute { line, timeout_ms } => {
                ham.action_execute(&cond, name, &line, timeout_ms, flags)
                    .await
            }
            Params::Waitfor { path, delay_ms } => {
                ham.action_waitfor(&cond, name, &path, delay_ms, flags)
                    .await
            }
            Params::Pulse(p) => ham.action_notify_pulse(&cond, name, &p, flags).await,
            Params::Signal(s) => ham.action_notify_signal(&cond, name, &s, flags).await,
            Params::Healthy => ham.action_heartbeat_healthy(&cond, name, flags).await,
            Params::Log {
                message,
                prefix,
                level,
            } => {
                ham.action_log(&cond, name, &message, prefix, level, flags)
                    .await
            }
        }?;
        Ok(())
    }
}
