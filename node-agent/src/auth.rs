//! Access control (HAM-CONTRACT P1–P4, P7, P8): who a caller is, what it may do.
//!
//! `caller` is the identity every call carries, whatever edge it came through; `roles` the one
//! table of the role each RPC needs; `policy` who holds which role; `proc` what `/proc` says of
//! a local process (its groups, and kill(2)'s rule for the signals it may have sent); `limits`
//! the sizes and counts no caller may exceed; `audit` the line every write leaves.
//!
//! The API edge decides once per call ([`Access::caller`], `roles::required_role`) and serves
//! the call inside [`with_caller`], so the few checks that need the request's resolved content
//! (the target of a signal, P4) ask [`check_signal_target`] where that content is known.

pub mod audit;
pub mod caller;
pub mod limits;
pub mod policy;
pub mod proc;
pub mod roles;

use caller::Principal;
use ham_core::model::{Errno, HamError, Result};
use limits::{Limits, Streams};
use policy::Policy;
use roles::Role;
use std::sync::Arc;

/// Everything the API needs to authorize calls.
#[derive(Debug, Clone)]
pub struct Access {
    pub policy: Arc<Policy>,
    pub limits: Limits,
    pub streams: Streams,
}

/// The caller of the call being served, and the role the policy gives it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub role: Option<Role>,
}

impl Caller {
    /// The pid of a local caller.
    pub fn pid(&self) -> Option<i64> {
        match self.principal {
            Principal::Local { pid, .. } if pid > 0 => Some(pid.into()),
            _ => None,
        }
    }
}

impl Access {
    /// Access with `policy` and `limits`.
    pub fn new(policy: Policy, limits: Limits) -> Access {
        Access {
            policy: Arc::new(policy),
            limits,
            streams: Streams::default(),
        }
    }

    /// Who `principal` is for the policy: its role, from its groups when a rule names a group.
    pub fn caller(&self, principal: Principal) -> Caller {
        let groups = match &principal {
            Principal::Local { uid, gid, pid } if self.policy.has_group_rules() => {
                local_groups(*uid, *gid, *pid)
            }
            _ => Vec::new(),
        };
        let role = self.policy.role_of(&principal, &groups);
        Caller { principal, role }
    }
}

/// A local caller's groups: those of its process as `/proc` shows them, else (the process is
/// gone, or hides its `/proc`) its user's from the group database.
fn local_groups(uid: u32, gid: u32, pid: i32) -> Vec<u32> {
    if let Some(ids) = proc::ids_of(pid.into())
        && ids.uids[1] == uid
    {
        let mut g = ids.groups;
        g.extend(ids.gids);
        return g;
    }
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .and_then(|u| std::ffi::CString::new(u.name).ok());
    let mut groups = vec![gid];
    if let Some(name) = name
        && let Ok(list) = nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
    {
        groups.extend(list.into_iter().map(|g| g.as_raw()));
    }
    groups
}

tokio::task_local! {
    static CALLER: Caller;
}

/// Runs `f` as a call of `caller`.
pub async fn with_caller<F: std::future::Future>(caller: Caller, f: F) -> F::Output {
    CALLER.scope(caller, f).await
}

/// EACCES, naming what the call needed.
pub fn refused(what: impl std::fmt::Display) -> HamError {
    HamError::new(Errno::Eacces, format!("permission denied: {what}"))
}

/// P4: whether the caller being served may have `ham` signal process `pid`, on this node
/// (`local`) or another. An admin may; anyone else only a process of this node that kill(2)
/// would let it signal itself. Outside of a call (the daemon's own work) nothing is checked.
pub fn check_signal_target(local: bool, pid: i64) -> Result<()> {
    let Ok(caller) = CALLER.try_with(Caller::clone) else {
        return Ok(());
    };
    if caller.role >= Some(Role::Admin) {
        return Ok(());
    }
    let Principal::Local { uid, .. } = caller.principal else {
        return Err(refused(format!(
            "{} may not have ham signal a process (needs role admin)",
            caller.principal
        )));
    };
    if !local {
        return Err(refused(format!(
            "signalling a process of another node needs role admin (caller {})",
            caller.principal
        )));
    }
    match proc::ids_of(pid) {
        Some(ids) if proc::may_signal(uid, &ids) => Ok(()),
        Some(_) => Err(refused(format!(
            "uid {uid} may not signal process {pid}, which belongs to another user (needs role admin)"
        ))),
        None => Err(refused(format!(
            "no process {pid} that uid {uid} may signal (needs role admin)"
        ))),
    }
}

/// P4: whether the caller being served may have an entity's processes run as `uid` / `gid`
/// (None: the daemon's own). An admin may choose anyone; anyone else only its own uid, and a
/// group it is in (its primary group or a supplementary one, as `/proc` shows its process).
/// Outside of a call (the daemon's own work) nothing is checked.
pub fn check_run_as(uid: Option<u32>, gid: Option<u32>) -> Result<()> {
    let Ok(caller) = CALLER.try_with(Caller::clone) else {
        return Ok(());
    };
    if caller.role >= Some(Role::Admin) || (uid.is_none() && gid.is_none()) {
        return Ok(());
    }
    let Principal::Local {
        uid: own_uid,
        gid: own_gid,
        pid,
    } = caller.principal
    else {
        return Err(refused(format!(
            "{} may not choose the user processes run as (needs role admin)",
            caller.principal
        )));
    };
    if let Some(uid) = uid
        && uid != own_uid
    {
        return Err(refused(format!(
            "uid {own_uid} may not have processes run as uid {uid} (needs role admin)"
        )));
    }
    if let Some(gid) = gid
        && gid != own_gid
        && !local_groups(own_uid, own_gid, pid).contains(&gid)
    {
        return Err(refused(format!(
            "uid {own_uid} is not in group {gid} and may not have processes run with it \
             (needs role admin)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_as_by(
        principal: Principal,
        role: Role,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Option<Errno> {
        let caller = Caller {
            principal,
            role: Some(role),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(with_caller(caller, async { check_run_as(uid, gid) }))
            .err()
            .map(|e| e.errno)
    }

    #[test]
    fn p4_only_an_admin_chooses_another_user() {
        let me = nix::unistd::getuid().as_raw();
        let my_gid = nix::unistd::getgid().as_raw();
        let pid = i32::try_from(std::process::id()).unwrap();
        let local = |uid, gid| Principal::Local { uid, gid, pid };
        let op = Role::Operator;
        // Its own user and group, or the daemon's (nothing chosen): allowed.
        assert_eq!(
            run_as_by(local(me, my_gid), op, Some(me), Some(my_gid)),
            None
        );
        assert_eq!(run_as_by(local(me, my_gid), op, None, None), None);
        // Another user, a group it is not in: refused.
        assert_eq!(
            run_as_by(local(me, my_gid), op, Some(me + 4242), None),
            Some(Errno::Eacces)
        );
        assert_eq!(
            run_as_by(local(me, my_gid), op, None, Some(0x3fff_0000)),
            Some(Errno::Eacces)
        );
        // No local uid: refused; an admin: anyone; outside a call: not checked.
        let client = Principal::Client {
            identity: "ops".into(),
        };
        assert_eq!(run_as_by(client, op, Some(me), None), Some(Errno::Eacces));
        assert_eq!(
            run_as_by(local(me + 1, 0), Role::Admin, Some(0), Some(0)),
            None
        );
        assert_eq!(check_run_as(Some(0), Some(0)).err().map(|e| e.errno), None);
    }

    fn as_caller(principal: Principal, role: Role, local: bool, pid: i64) -> Result<()> {
        let caller = Caller {
            principal,
            role: Some(role),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(with_caller(caller, async {
            check_signal_target(local, pid)
        }))
    }

    fn errno(r: Result<()>) -> Option<Errno> {
        r.err().map(|e| e.errno)
    }

    #[test]
    fn p4_signals_only_where_kill_would_let_the_caller() {
        let me = i64::from(std::process::id());
        let uid = nix::unistd::getuid().as_raw();
        let local = |uid| Principal::Local {
            uid,
            gid: 0,
            pid: 1,
        };
        let op = Role::Operator;
        // Its own process, on this node.
        assert_eq!(errno(as_caller(local(uid), op, true, me)), None);
        // Another node's process, another user's, a process that does not exist.
        assert_eq!(
            errno(as_caller(local(uid), op, false, me)),
            Some(Errno::Eacces)
        );
        assert_eq!(
            errno(as_caller(local(uid + 4242), op, true, me)),
            Some(Errno::Eacces)
        );
        assert_eq!(
            errno(as_caller(local(uid), op, true, 0x3fff_fff0)),
            Some(Errno::Eacces)
        );
        // No local uid to compare: remote and anonymous callers.
        let client = Principal::Client {
            identity: "ops".into(),
        };
        assert_eq!(errno(as_caller(client, op, true, me)), Some(Errno::Eacces));
        assert_eq!(
            errno(as_caller(Principal::Anonymous, op, true, me)),
            Some(Errno::Eacces)
        );
        // An admin may signal anything, anywhere.
        assert_eq!(
            errno(as_caller(local(uid + 4242), Role::Admin, false, me)),
            None
        );
        // Outside of a call: the daemon's own work.
        assert_eq!(errno(check_signal_target(false, me)), None);
    }
}
