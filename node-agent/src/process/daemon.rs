//! Following a program that daemonizes (HAM-CONTRACT E8, L2, L3): when the
//! started process (the launcher) exits 0 soon after its start, the daemon
//! it left has been re-parented to us (we are a child subreaper) and becomes
//! the entity.
//!
//! Only the launcher's own processes count (L3): a process belongs to a
//! launch when it lives in the agent's subtree and is in the launcher's
//! process group, or carries the entity's marker and started after the
//! launcher ([`belongs`]). Other children of the agent (re-parented orphans
//! of actions, anything else) never count. A pid file counts only once it
//! was rewritten after the start and names such a process (L2, [`fresh_pid`]).

use super::identity::{self, ProcStat};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How long after its start (on the monotonic clock) a clean exit counts as
/// daemonizing, and how long a pid file may take to become valid (E8, L2).
pub const DAEMONIZE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// A pid file is read up to this size: one pid and a newline are a few bytes.
const PIDFILE_MAX: u64 = 64;

/// The pids of our current children, from `/proc/self/task/*/children`.
pub fn children_of_self() -> HashSet<u32> {
    let mut out = HashSet::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// Parses a pid file: one decimal pid above 1, optionally surrounded by white space.
pub fn parse_pidfile(bytes: &[u8]) -> Option<u32> {
    std::str::from_utf8(bytes)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|&p| p > 1)
}

/// Reads at most [`PIDFILE_MAX`] bytes of a file (a pid file is never
/// larger; anything that is cannot name a pid and must not cost memory).
fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(PIDFILE_MAX + 1)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The parent pid of a process, from `/proc/<pid>/stat`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// What a pid file looked like just before a start: a later rewrite is what
/// makes it fresh (L2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSeen {
    mtime: Option<SystemTime>,
    content: Option<Vec<u8>>,
}

impl FileSeen {
    /// Looks at `path` now (a missing file is remembered as missing).
    pub fn now(path: &Path) -> FileSeen {
        FileSeen {
            mtime: std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            content: read_small(path),
        }
    }
}

/// A start of an entity's process, as needed to tell what belongs to it.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The launcher's pid, which is also its process group (started with its own group).
    pub pid: u32,
    /// Boot-time clock ticks read just before the spawn: nothing of this
    /// launch started earlier.
    pub since_ticks: u64,
    /// The marker value the launcher (and what it starts) carries.
    pub agent: String,
    /// The entity.
    pub uid: u64,
    /// The pid file and how it looked before the start, if the entity names one.
    pub pidfile: Option<(PathBuf, FileSeen)>,
}

/// Clock ticks since boot now (the unit of `/proc/PID/stat`'s start time),
/// rounded down, so that every process started after this reads at least as much.
pub fn boot_ticks_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &raw mut ts) };
    // SAFETY: sysconf takes a constant and reads no memory of ours.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if rc != 0 || hz <= 0 {
        return 0; // no lower bound: the marker alone decides
    }
    let (secs, nanos, hz) = (
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u64::try_from(ts.tv_nsec).unwrap_or(0),
        hz.cast_unsigned(),
    );
    secs * hz + nanos * hz / 1_000_000_000
}

/// Whether `pid` is in the agent's subtree: its ancestors reach this process
/// (the launcher's descendants are re-parented here when it exits).
fn in_our_subtree(pid: u32) -> bool {
    let me = std::process::id();
    let mut at = pid;
    // Bounded: a process tree deeper than this is not a daemon's.
    for _ in 0..64 {
        match parent_of(at) {
            Some(p) if p == me => return true,
            Some(p) if p > 1 => at = p,
            _ => return false,
        }
    }
    false
}

/// Whether a process is in the entity's group: today its process group
/// `pgid` (the launcher's). This is where membership of the entity's cgroup
/// joins the check, so that daemons that leave the group with `setsid` are
/// still seen as the entity's.
pub fn in_entity_group(st: &ProcStat, pgid: u32) -> bool {
    st.pgid == pgid
}

/// Whether live process `pid` belongs to `launch` (L2, L3): in our subtree,
/// and in the launcher's group, or marked as the entity's and started no
/// earlier than the launcher (so an older instance's leftover never counts).
pub fn belongs(pid: u32, launch: &Launch) -> bool {
    let Some(st) = identity::stat(pid) else {
        return false; // gone, or a zombie
    };
    if pid == launch.pid || !in_our_subtree(pid) {
        return false;
    }
    in_entity_group(&st, launch.pid)
        || (st.start >= launch.since_ticks
            && identity::carries_marker(pid, &launch.agent, launch.uid))
}

/// The launcher's processes that are our children now, except `known` ones
/// (processes we started or watch for something else): the candidates for
/// its daemon when no pid file names it (E8, L3).
pub fn candidates(launch: &Launch, known: &HashSet<u32>) -> Vec<u32> {
    let mut out: Vec<u32> = children_of_self()
        .into_iter()
        .filter(|p| !known.contains(p) && belongs(*p, launch))
        .collect();
    out.sort_unstable();
    out
}

/// The daemon the launch's pid file names, if the file is fresh (rewritten
/// since the start: its mtime or its content changed, or it is new) and
/// names a live process of the launch (L2). A file rewritten within the
/// same clock tick as the snapshot, with the same content, is taken as not
/// rewritten: it names the same pid as before, which then must still pass
/// [`belongs`] anyway.
pub fn fresh_pid(launch: &Launch) -> Option<u32> {
    let (path, before) = launch.pidfile.as_ref()?;
    let now = FileSeen::now(path);
    let content = now.content.as_deref()?;
    if &now == before {
        return None;
    }
    parse_pidfile(content).filter(|&p| belongs(p, launch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_parent_of_self_and_pidfile_parsing() {
        let me = std::process::id();
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.pid");
        let read_pidfile = |p: &str| parse_pidfile(&read_small(Path::new(p))?);
        std::fs::write(&f, "1234\n").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), Some(1234));
        std::fs::write(&f, "garbage").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), None);
        std::fs::write(&f, "1").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), None);
        // A huge file is not read whole and names nothing.
        std::fs::write(&f, "7".repeat(1 << 20)).unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), None);
    }

    fn launch(pidfile: Option<(PathBuf, FileSeen)>) -> Launch {
        Launch {
            pid: 1,
            since_ticks: boot_ticks_now(),
            agent: "test".into(),
            uid: 1,
            pidfile,
        }
    }

    #[test]
    fn l2_a_pid_file_not_rewritten_since_the_start_is_not_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.pid");
        // The file names this test process: alive, but not the launch's.
        std::fs::write(&f, format!("{}\n", std::process::id())).unwrap();
        let l = launch(Some((f.clone(), FileSeen::now(&f))));
        assert_eq!(fresh_pid(&l), None, "unchanged since the start");
        std::fs::write(&f, "4194303\n").unwrap();
        assert_eq!(
            fresh_pid(&l),
            None,
            "rewritten, but names no live process of the launch"
        );
    }

    #[test]
    fn l3_this_process_is_not_a_launch_of_its_own_agent() {
        // The test runner's process is not in our subtree: never a candidate.
        assert!(!belongs(std::os::unix::process::parent_id(), &launch(None)));
        assert!(!belongs(std::process::id(), &launch(None)));
        assert!(boot_ticks_now() > 0);
    }
}
