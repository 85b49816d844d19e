//! Starting a process: its own process group, a clean environment, standard
//! output and error to a log file (or inherited, or discarded), and the
//! entity's process options (HAM-CONTRACT L7) and user (P4).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use ham_core::model::{Limit, LimitResource, RunAs};

/// The PATH a started process gets (the HAM itself never searches it: E3).
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where standard output and error go.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    /// Appended to this (log) file.
    File(&'a File),
    /// The agent's own standard output and error.
    Inherit,
    /// `/dev/null`.
    Discard,
}

/// The uid, gid and supplementary groups a process runs as, resolved
/// before the spawn so that the child only makes system calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The uid to switch to (None: keep the agent's).
    pub uid: Option<u32>,
    /// The gid to switch to.
    pub gid: u32,
    /// The supplementary groups (initgroups(3): the user's groups and `gid`).
    pub groups: Vec<u32>,
}

impl Credentials {
    /// Resolves who an entity's processes run as (None: as the agent). The
    /// user's supplementary groups are read now, at each start, on the node
    /// that starts the process, by the user's name (getgrouplist(3)).
    pub fn of(run_as: &RunAs) -> io::Result<Option<Credentials>> {
        let Some(gid) = run_as.gid() else {
            return Ok(None);
        };
        // An agent that is not root may not change groups at all; asked for
        // the user and group it already runs as, it has nothing to change.
        let (euid, egid) = (nix::unistd::geteuid(), nix::unistd::getegid());
        if !euid.is_root()
            && run_as.uid().is_none_or(|u| u == euid.as_raw())
            && gid == egid.as_raw()
        {
            return Ok(None);
        }
        let groups = match &run_as.user {
            Some(user) => {
                let name = CString::new(user.name.as_bytes())
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
                    .map_err(io::Error::from)?
                    .into_iter()
                    .map(|g| g.as_raw())
                    .collect()
            }
            // A group alone: that group only, not the agent's own groups.
            None => vec![gid],
        };
        Ok(Some(Credentials {
            uid: run_as.uid(),
            gid,
            groups,
        }))
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct SpawnSpec<'a> {
    /// argv; argv[0] is an absolute path.
    pub argv: &'a [String],
    /// What the agent sets (instance, identity marker, notify socket).
    pub env: Vec<(&'static str, String)>,
    /// The entity's extra environment (names the agent sets are refused
    /// before they get here; the agent's are applied last all the same).
    pub extra_env: &'a [(String, String)],
    /// Working directory (None: the agent's own).
    pub cwd: Option<&'a str>,
    /// Where standard output and error go.
    pub output: Output<'a>,
    /// Resource limits.
    pub limits: &'a [Limit],
    /// Who it runs as (None: as the agent).
    pub credentials: Option<Credentials>,
}

fn resource_number(r: LimitResource) -> libc::__rlimit_resource_t {
    match r {
        LimitResource::Nofile => libc::RLIMIT_NOFILE,
        LimitResource::Core => libc::RLIMIT_CORE,
        LimitResource::Nproc => libc::RLIMIT_NPROC,
        LimitResource::Memlock => libc::RLIMIT_MEMLOCK,
        LimitResource::As => libc::RLIMIT_AS,
        LimitResource::Fsize => libc::RLIMIT_FSIZE,
        LimitResource::Stack => libc::RLIMIT_STACK,
        LimitResource::Cpu => libc::RLIMIT_CPU,
        LimitResource::Data => libc::RLIMIT_DATA,
    }
}

/// Everything the child does between fork and exec, built (allocated)
/// in the agent before the fork: the child only reads it.
struct ChildSetup {
    limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    credentials: Option<(Option<libc::uid_t>, libc::gid_t, Vec<libc::gid_t>)>,
    cwd: Option<CString>,
}

impl ChildSetup {
    /// Runs in the child. Limits come first, while the child still has the
    /// agent's privileges (raising a hard limit needs CAP_SYS_RESOURCE);
    /// then groups, gid and uid, in the order that keeps the right to
    /// change each; the working directory last, as the new user, so that a
    /// process never runs in a directory its user could not enter.
    fn run(&self) -> io::Result<()> {
        for (resource, limit) in &self.limits {
            // SAFETY: setrlimit(2) is a plain system call wrapper (no lock, no
            // allocation: async-signal-safe) reading a `rlimit` that lives in
            // memory the child owns (its copy of this closure's captures).
            if unsafe { libc::setrlimit(*resource, limit) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some((uid, gid, groups)) = &self.credentials {
            // Raw system calls rather than glibc's wrappers: glibc's setuid,
            // setgid and setgroups broadcast to every thread of a threaded
            // process through a signal and locks (the "setxid" machinery),
            // which must not run between fork and exec. The child has one
            // thread, so the per-thread system call changes the whole process.
            // SAFETY: each call is one system call on integers and on a
            // pointer to `groups.len()` gids the child owns; no allocation.
            unsafe {
                if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::syscall(libc::SYS_setresgid, *gid, *gid, *gid) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if let Some(uid) = uid
                    && libc::syscall(libc::SYS_setresuid, *uid, *uid, *uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        if let Some(cwd) = &self.cwd {
            // SAFETY: chdir(2) is async-signal-safe; `cwd` is a NUL-terminated
            // string the child owns.
            if unsafe { libc::chdir(cwd.as_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

fn stdio(output: Output<'_>) -> io::Result<(Stdio, Stdio)> {
    Ok(match output {
        Output::File(file) => (file.try_clone()?.into(), file.try_clone()?.into()),
        Output::Inherit => (Stdio::inherit(), Stdio::inherit()),
        Output::Discard => (Stdio::null(), Stdio::null()),
    })
}

/// Starts the process and returns its pid. The process is not waited for
/// here: the reaper collects its exit status.
///
/// With no limits and no other user, `std` uses `posix_spawn` (a working
/// directory goes through `posix_spawn_file_actions_addchdir_np`), which does
/// not copy the agent's page tables: starting a process costs the same
/// whatever the agent's size. Limits and credentials need the child to make
/// system calls before exec, which only the fork path allows; they are set
/// there by one `pre_exec` closure that allocates nothing.
pub fn spawn(spec: &SpawnSpec<'_>) -> io::Result<u32> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    let mut cmd = Command::new(program);
    let (out, err) = stdio(spec.output)?;
    cmd.args(args)
        .env_clear()
        .envs(spec.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", CHILD_PATH)
        .envs(spec.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let needs_child = !spec.limits.is_empty() || spec.credentials.is_some();
    if needs_child {
        let cwd = spec
            .cwd
            .map(CString::new)
            .transpose()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in cwd"))?;
        let setup = ChildSetup {
            limits: spec
                .limits
                .iter()
                .map(|l| {
                    let limit = libc::rlimit {
                        rlim_cur: l.soft,
                        rlim_max: l.hard,
                    };
                    (resource_number(l.resource), limit)
                })
                .collect(),
            credentials: spec
                .credentials
                .as_ref()
                .map(|c| (c.uid, c.gid, c.groups.clone())),
            cwd,
        };
        // SAFETY: the closure only calls `ChildSetup::run`, which makes
        // async-signal-safe system calls on data allocated before the fork,
        // and builds errors from errno (no allocation either).
        unsafe {
            cmd.pre_exec(move || setup.run());
        }
    } else if let Some(cwd) = spec.cwd {
        cmd.current_dir(cwd);
    }
    let child = cmd.spawn()?;
    // Dropping `Child` neither kills nor waits: the reaper owns the exit status.
    Ok(child.id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ham_core::model::{Group, User};

    #[test]
    fn p4_credentials_take_the_users_groups_or_the_group_alone() {
        assert_eq!(Credentials::of(&RunAs::default()).unwrap(), None);
        let root = RunAs {
            user: Some(User {
                name: "root".into(),
                uid: 0,
                gid: 0,
            }),
            group: None,
        };
        let c = Credentials::of(&root).unwrap().unwrap();
        assert_eq!((c.uid, c.gid), (Some(0), 0));
        assert!(c.groups.contains(&0), "{c:?}");
        let group = RunAs {
            user: None,
            group: Some(Group {
                name: "g".into(),
                gid: 4242,
            }),
        };
        let c = Credentials::of(&group).unwrap().unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (None, 4242, vec![4242]));
    }
}
