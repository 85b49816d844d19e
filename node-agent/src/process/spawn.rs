//! Starting a process: its own process group, a clean environment, standard
//! output and error to a log file (or inherited, or discarded), and the
//! entity's process options (HAM-CONTRACT L7) and user (P4).
//!
//! An entity's process is started in its cgroup where the node can
//! ([`spawn_in`]: `clone3` into a cgroup v2 directory); anything else goes
//! through std ([`spawn`]: `posix_spawn`, or fork with one `pre_exec` hook)
//! and is moved into its cgroup afterwards by the caller.

use super::clone3::{self, Failure, Memory};
use std::collections::BTreeMap;
use std::ffi::{CString, c_char};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd as _, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

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
#[derive(Debug)]
pub(super) struct ChildSetup {
    limits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    credentials: Option<(Option<libc::uid_t>, libc::gid_t, Vec<libc::gid_t>)>,
    cwd: Option<CString>,
}

impl ChildSetup {
    /// The limits, credentials and working directory of `spec`, ready for the child.
    fn of(spec: &SpawnSpec<'_>) -> io::Result<ChildSetup> {
        let cwd = spec
            .cwd
            .map(CString::new)
            .transpose()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in cwd"))?;
        Ok(ChildSetup {
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
        })
    }

    /// Runs in the child. Limits come first, while the child still has the
    /// agent's privileges (raising a hard limit needs CAP_SYS_RESOURCE);
    /// then groups, gid and uid, in the order that keeps the right to
    /// change each; the working directory last, as the new user, so that a
    /// process never runs in a directory its user could not enter.
    pub(super) fn run(&self) -> io::Result<()> {
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
        let setup = ChildSetup::of(spec)?;
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

/// A process started for an entity.
#[derive(Debug)]
pub struct Started {
    /// Its pid.
    pub pid: u32,
    /// Its pidfd, where the start gave one (`clone3`).
    pub pidfd: Option<OwnedFd>,
    /// Whether it was born in its cgroup (nothing left to move).
    pub placed: bool,
}

/// Set once `clone3` into a cgroup turned out not to work on this node.
static NO_CLONE3: AtomicBool = AtomicBool::new(false);

/// Starts the process in the cgroup open at `cgroup` when one is given and
/// the kernel can (`clone3` with `CLONE_INTO_CGROUP`); otherwise, or if the
/// kernel refuses (an old kernel, a v1 hierarchy: logged once), as
/// [`spawn`] does, and the caller moves it into its cgroup. A program that
/// cannot be run fails the same way on either path (the same errno).
pub fn spawn_in(spec: &SpawnSpec<'_>, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Started> {
    // A program without a slash would be searched for in PATH by std; the
    // agent never asks for that (E3), but such a spec keeps std's meaning.
    let direct = spec.argv.first().is_some_and(|p| p.contains('/'));
    if let Some(cgroup) = cgroup
        && direct
        && !NO_CLONE3.load(Ordering::Relaxed)
    {
        match start_in(spec, cgroup, Memory::CHOSEN) {
            Ok(child) => {
                return Ok(Started {
                    pid: child.pid,
                    pidfd: Some(child.pidfd),
                    placed: true,
                });
            }
            Err(Failure::Exec(e)) => return Err(e),
            Err(Failure::Unsupported(e)) => {
                if !NO_CLONE3.swap(true, Ordering::Relaxed) {
                    tracing::debug!(error = %e, "clone3 into a cgroup is not available: started processes are moved into their cgroups");
                }
            }
            Err(Failure::Clone(e)) => {
                tracing::debug!(error = %e, "clone3 failed: this process is spawned and then moved");
            }
        }
    }
    spawn(spec).map(|pid| Started {
        pid,
        pidfd: None,
        placed: false,
    })
}

fn nul_error<E>(_: E) -> Failure {
    // std's wording for the same mistake.
    Failure::Exec(io::Error::new(
        io::ErrorKind::InvalidInput,
        "nul byte found in provided data",
    ))
}

/// Prepares everything the child reads (argv, environment as std would
/// build it, descriptors, limits and credentials) and starts it in `cgroup`.
fn start_in(
    spec: &SpawnSpec<'_>,
    cgroup: BorrowedFd<'_>,
    memory: Memory,
) -> Result<clone3::Child, Failure> {
    let args: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(nul_error)?;
    let Some(path) = args.first() else {
        return Err(Failure::Exec(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty command line",
        )));
    };
    // The same environment `spawn` gives: sorted by name, the last value
    // set for a name wins (std's Command keeps a map).
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in spec.extra_env {
        env.insert(k, v);
    }
    env.insert("PATH", CHILD_PATH);
    for (k, v) in &spec.env {
        env.insert(k, v);
    }
    let vars: Vec<CString> = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")))
        .collect::<Result<_, _>>()
        .map_err(nul_error)?;
    let argv: Vec<*const c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const c_char> = vars
        .iter()
        .map(|v| v.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(Failure::Clone)?;
    let (stdout, stderr) = match spec.output {
        Output::File(file) => (Some(file.as_raw_fd()), Some(file.as_raw_fd())),
        Output::Inherit => (None, None),
        Output::Discard => (Some(null.as_raw_fd()), Some(null.as_raw_fd())),
    };
    let setup = ChildSetup::of(spec).map_err(Failure::Exec)?;
    let exec = clone3::Exec {
        path,
        argv: &argv,
        envp: &envp,
        stdin: null.as_raw_fd(),
        stdout,
        stderr,
        setup: &setup,
    };
    clone3::start(&exec, cgroup, memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::cgroup::Cgroups;
    use ham_core::model::{Group, User};
    use std::os::fd::{AsFd as _, FromRawFd as _};

    /// Cgroups of a test's own, removed at the end (members killed first).
    struct TestCgroups(Cgroups, u64);

    impl TestCgroups {
        /// None where the machine has no usable hierarchy.
        fn new(name: &str) -> Option<TestCgroups> {
            let id = format!("test{}{name}", std::process::id());
            Some(TestCgroups(Cgroups::setup(&id)?, 7))
        }
    }

    impl Drop for TestCgroups {
        fn drop(&mut self) {
            self.0.signal(self.1, libc::SIGKILL);
            for _ in 0..200 {
                if self.0.members(self.1).is_empty() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            self.0.remove_all();
        }
    }

    fn pidfd_of(pid: u32) -> OwnedFd {
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor (or -1), which nothing else owns.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "{}", io::Error::last_os_error());
        // SAFETY: just made, ours alone.
        unsafe { OwnedFd::from_raw_fd(i32::try_from(fd).unwrap()) }
    }

    /// Waits (at most 10 s, on the pidfd) for child `pid` to end, reaps it
    /// and returns its wait status.
    // This test process has no reaper of its own: it reaps what it started.
    #[allow(clippy::disallowed_methods)]
    fn reap(pid: u32, pidfd: BorrowedFd<'_>) -> i32 {
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll reads and writes the one pollfd on this frame.
        let rc = unsafe { libc::poll(&mut pfd, 1, 10_000) };
        assert_eq!(rc, 1, "child {pid} still running after 10 s");
        let mut status = 0;
        // SAFETY: waitpid writes the status into `status`; the child has exited.
        let got = unsafe { libc::waitpid(i32::try_from(pid).unwrap(), &mut status, 0) };
        assert_eq!(got, i32::try_from(pid).unwrap());
        status
    }

    fn spec_of<'a>(argv: &'a [String], out: Output<'a>, limits: &'a [Limit]) -> SpawnSpec<'a> {
        SpawnSpec {
            argv,
            env: vec![("HAM_INSTANCE", "3".into())],
            extra_env: &[],
            cwd: Some("/tmp"),
            output: out,
            limits,
            credentials: None,
        }
    }

    fn script(text: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), text.into()]
    }

    /// One start in each way the child can be made: born in its cgroup,
    /// with the entity's options and the state std would give it.
    #[test]
    fn l1_a_start_is_born_in_its_cgroup() {
        let Some(cg) = TestCgroups::new("born") else {
            return;
        };
        let Some(dir) = cg.0.start_dir(cg.1) else {
            // A v1 hierarchy: starts go through `spawn` and a move.
            return;
        };
        let memories = [
            #[cfg(target_arch = "x86_64")]
            Memory::Shared,
            Memory::Copied,
        ];
        for memory in memories {
            let log = tempfile::NamedTempFile::new().unwrap();
            let argv = script(
                "grep ^0:: /proc/self/cgroup; pwd; echo \"$HAM_INSTANCE $PATH\"; ulimit -n; \
                 grep -E '^Sig(Blk|Ign)' /proc/self/status; ps -o pgid= -p $$; echo err >&2",
            );
            let limits = [Limit {
                resource: LimitResource::Nofile,
                soft: 77,
                hard: 78,
            }];
            let spec = spec_of(&argv, Output::File(log.as_file()), &limits);
            let child = start_in(&spec, dir.as_fd(), memory).unwrap();
            assert!(
                cg.0.members(cg.1).contains(&child.pid)
                    || !super::super::pidfd::running(child.pidfd.as_fd()),
                "{memory:?}: a member from the start"
            );
            let status = reap(child.pid, child.pidfd.as_fd());
            assert_eq!(status, 0, "{memory:?}");
            let text = std::fs::read_to_string(log.path()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            let want = format!("0::{}", cgroup_path_of(&dir));
            assert_eq!(lines.first(), Some(&want.as_str()), "{memory:?}: {text}");
            assert_eq!(
                &lines[1..4],
                ["/tmp", &format!("3 {CHILD_PATH}"), "77"],
                "{memory:?}: {text}"
            );
            // std gives a program an empty signal mask and SIGPIPE back to
            // default; what else the agent ignores stays ignored, as with std.
            assert_eq!(lines[4], "SigBlk:\t0000000000000000", "{memory:?}");
            let sigpipe = 1u64 << (libc::SIGPIPE - 1);
            assert_eq!(
                lines[5],
                format!("SigIgn:\t{:016x}", ignored_here() & !sigpipe),
                "{memory:?}"
            );
            assert_eq!(
                lines[6].trim(),
                child.pid.to_string(),
                "{memory:?}: its own group"
            );
            assert_eq!(lines[7], "err", "{memory:?}: standard error to the log");
        }
    }

    /// The signals this process ignores (`SigIgn` of /proc/self/status).
    fn ignored_here() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .unwrap();
        u64::from_str_radix(hex.trim(), 16).unwrap()
    }

    /// The cgroup path (as /proc/PID/cgroup shows it) of an open v2 directory.
    fn cgroup_path_of(dir: &File) -> String {
        let path = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).unwrap();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let point = mountinfo
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                right
                    .starts_with("cgroup2 ")
                    .then(|| left.split(' ').nth(4))?
            })
            .find(|p| path.starts_with(p))
            .unwrap();
        format!("/{}", path.strip_prefix(point).unwrap().display())
    }

    /// A program that cannot be run, or a working directory that does not
    /// exist, fails the start with the errno std's spawn gives.
    #[test]
    fn l7_a_start_in_a_cgroup_fails_like_a_spawn() {
        let Some(cg) = TestCgroups::new("fail") else {
            return;
        };
        let Some(dir) = cg.0.start_dir(cg.1) else {
            return;
        };
        let file = tempfile::NamedTempFile::new().unwrap();
        let not_exec = vec![file.path().display().to_string()];
        let missing = vec!["/nonexistent/program".to_string()];
        let sh = script("exit 0");
        let cases: [(&[String], Option<&str>, i32); 3] = [
            (&missing, None, libc::ENOENT),
            (&not_exec, None, libc::EACCES),
            (&sh, Some("/nonexistent/dir"), libc::ENOENT),
        ];
        for (argv, cwd, errno) in cases {
            let mut spec = spec_of(argv, Output::Discard, &[]);
            spec.cwd = cwd;
            let std_err = spawn(&spec).unwrap_err();
            assert_eq!(std_err.raw_os_error(), Some(errno), "{argv:?}");
            let ours = spawn_in(&spec, Some(dir.as_fd())).unwrap_err();
            assert_eq!(ours.raw_os_error(), Some(errno), "{argv:?} {cwd:?}");
            assert_eq!(ours.kind(), std_err.kind());
        }
        let nul = vec!["/bin/e\0cho".to_string()];
        let ours = spawn_in(&spec_of(&nul, Output::Discard, &[]), Some(dir.as_fd())).unwrap_err();
        assert_eq!(ours.kind(), io::ErrorKind::InvalidInput);
    }

    /// A descriptor that is no cgroup makes `clone3` refuse this start
    /// (EBADF): the process is spawned the other way and left to be moved.
    #[test]
    fn l1_a_start_the_kernel_refuses_falls_back_to_spawn() {
        let not_cgroup = File::open("/tmp").unwrap();
        let argv = script("exit 3");
        let started = spawn_in(
            &spec_of(&argv, Output::Discard, &[]),
            Some(not_cgroup.as_fd()),
        )
        .unwrap();
        assert!(!started.placed);
        assert!(started.pidfd.is_none());
        let status = reap(started.pid, pidfd_of(started.pid).as_fd());
        assert_eq!(status, 3 << 8);
        assert!(
            !NO_CLONE3.load(Ordering::Relaxed),
            "one refused start says nothing of the kernel"
        );
    }

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
