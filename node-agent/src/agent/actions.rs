//! Running one action or action-fail action (HAM-CONTRACT A4-A10).

use super::Ctx;
use super::launch::Launch;
use super::waitpath::wait_for_path;
use crate::process::{signal, spawn};
use ham_core::model::{
    ActionKind, EntityRef, ProcessOptions, flags::HACTIONWAIT, parse_command_line,
};
use ham_proto::ham::raft::v1 as rpb;
use std::path::Path;
use std::time::Duration;

/// Why an action failed, for the activity log.
pub type Failure = String;

/// Runs `kind` for an event on `subject`; `path` names the action in logs;
/// `options` are those of the entity the action belongs to (its execute
/// actions start with them, as its user: L7, P4).
pub async fn run(
    ctx: &Ctx,
    path: &str,
    subject: &EntityRef,
    options: &ProcessOptions,
    kind: &ActionKind,
    flags: u32,
) -> Result<(), Failure> {
    match kind {
        ActionKind::Restart { .. } => Err("a restart runs before the executors, never here".into()),
        ActionKind::Execute {
            command_line,
            timeout_ms,
        } => {
            execute(
                ctx,
                subject,
                options,
                command_line,
                flags & HACTIONWAIT != 0,
                *timeout_ms,
            )
            .await
        }
        ActionKind::Waitfor {
            path: None,
            delay_ms,
        } => {
            tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
            Ok(())
        }
        ActionKind::Waitfor {
            path: Some(p),
            delay_ms,
        } => match wait_for_path(Path::new(p), Duration::from_millis(*delay_ms)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{p} did not appear within {delay_ms} ms")),
            Err(e) => Err(format!("cannot watch for {p}: {e}")),
        },
        ActionKind::NotifySignal {
            node,
            pid,
            signum,
            value,
            ..
        } => {
            if *node != ctx.node_id {
                let notice = rpb::SignalNotice {
                    signum: *signum,
                    value: *value,
                };
                let what = rpb::notify_request::What::Signal(notice);
                return notify_remote(ctx, *node, *pid, what).await;
            }
            signal::queue(*pid, *signum, *value)
                .map_err(|e| format!("signal {signum} to pid {pid}: {e}"))
        }
        ActionKind::NotifyPulse {
            node,
            pid,
            chid,
            code,
            value,
        } => {
            if *node != ctx.node_id {
                let notice = rpb::PulseNotice {
                    chid: *chid,
                    code: *code,
                    value: *value,
                };
                let what = rpb::notify_request::What::Pulse(notice);
                return notify_remote(ctx, *node, *pid, what).await;
            }
            ctx.pulses.send(*pid, *chid, (*code, *value))
        }
        ActionKind::HeartbeatHealthy => {
            if let Some(uid) = subject.uid {
                ctx.heartbeats.healthy(uid);
            }
            Ok(())
        }
        ActionKind::Log {
            message,
            attach_prefix,
            verbosity,
        } => {
            let current = ctx
                .node
                .read_now(|s| s.context(ctx.node_id).map(|c| c.verbosity).unwrap_or(0));
            if current >= *verbosity {
                if *attach_prefix {
                    tracing::info!(target: "ham::activity", "{path}: {message}");
                } else {
                    tracing::info!(target: "ham::activity", "{message}");
                }
            }
            Ok(())
        }
    }
}

/// D4: a notification for a process on another node goes through that
/// node's agent; an unreachable node makes the action fail.
async fn notify_remote(
    ctx: &Ctx,
    node: u64,
    pid: i64,
    what: rpb::notify_request::What,
) -> Result<(), Failure> {
    let mut peer = ctx.cluster.peer_of(node).map_err(|e| e.to_string())?;
    let req = rpb::NotifyRequest {
        pid,
        what: Some(what),
        from: ctx.cluster.node().identity.id,
    };
    crate::cluster::call(node, peer.notify(req))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A4: spawn; with HACTIONWAIT, wait for a zero exit within the timeout.
async fn execute(
    ctx: &Ctx,
    subject: &EntityRef,
    options: &ProcessOptions,
    line: &str,
    wait: bool,
    timeout_ms: u64,
) -> Result<(), Failure> {
    let argv = parse_command_line(line).map_err(|e| e.message)?;
    let launch = Launch::prepare(&ctx.logs, &subject.name, options)
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let spec = launch.spec(&argv, Vec::new());
    if !wait {
        return ctx
            .reaper
            .spawn_detached(|| spawn::spawn(&spec))
            .map(|_| ())
            .map_err(|e| format!("cannot start {}: {e}", argv[0]));
    }
    let (pid, exited) = ctx
        .reaper
        .spawn_watched(|| spawn::spawn(&spec))
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let limit = if timeout_ms == 0 {
        Duration::MAX
    } else {
        Duration::from_millis(timeout_ms)
    };
    match tokio::time::timeout(limit, exited).await {
        Ok(Ok(ham_core::model::ExitInfo::Exited(0))) => Ok(()),
        Ok(Ok(exit)) => Err(format!("{} ended with {exit:?}", argv[0])),
        Ok(Err(_)) => Err(format!("{} was lost by the reaper", argv[0])),
        Err(_) => {
            // The command started its own process group: end all of it.
            let _ = signal::kill_group(pid.into(), libc::SIGKILL);
            Err(format!("{} did not finish within {timeout_ms} ms", argv[0]))
        }
    }
}
