//! The audit trail (HAM-CONTRACT P8): one structured line, target `audit`, per write call,
//! accepted or refused, naming the caller, the call, its target and the result.

use super::caller::Principal;
use super::roles::Rpc;
use ham_core::model::Errno;

/// Logs one write call's outcome.
pub fn record(caller: &Principal, rpc: Rpc, target: &str, result: Result<(), Errno>) {
    let result = match result {
        Ok(()) => "ok",
        Err(e) => e.name(),
    };
    tracing::info!(
        target: "audit",
        caller = %caller,
        call = rpc.name(),
        target = target,
        result,
        "audit"
    );
}
