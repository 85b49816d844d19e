//! One cgroup per entity (HAM-CONTRACT L1): every process an entity's main
//! process starts stays findable, also one that left the process group
//! (a `setsid` daemon), so a stop reaches it.
//!
//! At start-up the agent looks for a hierarchy it can use, in this order:
//! cgroup v2 (the unified hierarchy, mounted alone or as `unified` beside v1
//! controllers), whose `cgroup.kill` ends a whole cgroup at once, fork-safe;
//! then v1 `freezer`, which can freeze a cgroup so that nothing forks while
//! it is killed; then v1 `pids`, which only tracks. It makes one parent,
//! `ham.<agent id>`, under its own cgroup in that hierarchy (so a `ham` run
//! by systemd with `Delegate=yes` stays inside its delegated sub-tree; the
//! agent id is per data directory, so that a restarted `ham` finds its
//! entities' cgroups again and two `ham`s on one machine never share one),
//! and one child per entity uid. Where none is usable or writable it says so
//! in one log line and entities are tracked by their process groups alone.
//!
//! Placement: with cgroup v2 a started process is born in its entity's
//! cgroup (`clone3` with `CLONE_INTO_CGROUP`, given [`Cgroups::start_dir`];
//! see `clone3.rs`), so no process is ever moved: a move (a write to
//! `cgroup.procs`) takes the kernel's cgroup threadgroup rwsem for writing
//! and an RCU grace period, and holds up every fork on the machine meanwhile.
//! With v1 (freezer, pids), or a kernel that refuses the clone, the agent
//! moves the process by writing its pid to `cgroup.procs` right after the
//! spawn returns ([`Cgroups::place`]); `posix_spawn` returns once the child
//! has exec'd, so the child has barely run, and anything it forks before the
//! write stays in the entity's process group, which a stop signals as well.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// Which kind of hierarchy the cgroups live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// cgroup v2: `cgroup.kill` ends every member at once.
    V2,
    /// cgroup v1 `freezer`: frozen while killed, so nothing forks meanwhile.
    Freezer,
    /// cgroup v1 `pids`: tracking only; members are killed one by one.
    Pids,
}

/// The entities' cgroups of this agent.
#[derive(Debug, Clone)]
pub struct Cgroups {
    flavor: Flavor,
    parent: PathBuf,
}

/// A mounted cgroup hierarchy: where, and which flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    flavor: Flavor,
    point: PathBuf,
    /// The root of the mount inside the hierarchy (field 4 of mountinfo).
    root: String,
}

/// The cgroup hierarchies in `/proc/self/mountinfo` text, best first.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // Fields: id parent major:minor root point options [optional...] - fstype source super.
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (left.get(3), left.get(4), right.first())
        else {
            continue;
        };
        let supers = right.get(2).copied().unwrap_or("");
        let flavor = match *fstype {
            "cgroup2" => Flavor::V2,
            "cgroup" if supers.split(',').any(|o| o == "freezer") => Flavor::Freezer,
            "cgroup" if supers.split(',').any(|o| o == "pids") => Flavor::Pids,
            _ => continue,
        };
        out.push(Mount {
            flavor,
            point: PathBuf::from(unescape(point)),
            root: unescape(root),
        });
    }
    out.sort_by_key(|m| m.flavor as u8);
    out
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// This process's cgroup path in a hierarchy, from `/proc/self/cgroup` text:
/// the `0::` line for v2, the line naming the controller for v1.
fn own_path(proc_cgroup: &str, flavor: Flavor) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match flavor {
            Flavor::V2 => controllers.is_empty(),
            Flavor::Freezer => controllers.split(',').any(|c| c == "freezer"),
            Flavor::Pids => controllers.split(',').any(|c| c == "pids"),
        };
        wanted.then(|| path.to_string())
    })
}

/// Where the agent's own cgroup is on the file system.
fn own_dir(m: &Mount, path: &str) -> PathBuf {
    // A mount of a sub-tree (a container's cgroup namespace shows "/") starts at `root`.
    let inside = path.strip_prefix(m.root.as_str()).unwrap_or(path);
    let mut dir = m.point.clone();
    dir.extend(inside.split('/').filter(|p| !p.is_empty()));
    dir
}

impl Cgroups {
    /// Finds a usable hierarchy and makes the parent cgroup of agent
    /// `agent_id`; None (with one log line) where there is none.
    pub fn setup(agent_id: &str) -> Option<Cgroups> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut why = String::from("no cgroup v2, v1 freezer or v1 pids hierarchy is mounted");
        for m in mounts(&mountinfo) {
            let Some(own) = own_path(&proc_cgroup, m.flavor) else {
                continue;
            };
            let parent = own_dir(&m, &own).join(format!("ham.{agent_id}"));
            if m.flavor == Flavor::V2 && !m.point.join("cgroup.procs").exists() {
                continue;
            }
            match std::fs::create_dir_all(&parent) {
                Ok(()) => {
                    tracing::info!(flavor = ?m.flavor, parent = %parent.display(), "entities get their own cgroups");
                    return Some(Cgroups {
                        flavor: m.flavor,
                        parent,
                    });
                }
                Err(e) => why = format!("cannot create {}: {e}", parent.display()),
            }
        }
        tracing::warn!(reason = %why, "no usable cgroup hierarchy; entities are tracked by their process groups alone");
        None
    }

    fn dir(&self, uid: u64) -> PathBuf {
        self.parent.join(uid.to_string())
    }

    /// The directory of entity `uid`'s cgroup, open (made on first use), for
    /// a start inside it; None with v1, which cannot start a process in a
    /// cgroup, or where it cannot be opened (the start then moves the process).
    pub fn start_dir(&self, uid: u64) -> Option<File> {
        if self.flavor != Flavor::V2 {
            return None;
        }
        let dir = self.dir(uid);
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&dir)
        };
        let opened = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => make_dir(&dir).and_then(|()| open()),
            other => other,
        };
        opened
            .inspect_err(|e| tracing::debug!(uid, error = %e, "cannot open the cgroup to start in"))
            .ok()
    }

    /// Moves `pid` into the cgroup of entity `uid`, made on first use.
    pub fn place(&self, uid: u64, pid: u32) -> io::Result<()> {
        let dir = self.dir(uid);
        match std::fs::write(dir.join("cgroup.procs"), pid.to_string()) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                make_dir(&dir)?;
                std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            }
            other => other,
        }
    }

    /// The live members of entity `uid`'s cgroup (none if it has no cgroup).
    pub fn members(&self, uid: u64) -> Vec<u32> {
        read_pids(&self.dir(uid).join("cgroup.procs"))
    }

    /// Sends `signal` to every member of entity `uid`'s cgroup. SIGKILL
    /// leaves nothing a member forks meanwhile: v2 kills the cgroup as one
    /// (`cgroup.kill`), v1 freezer freezes it first.
    pub fn signal(&self, uid: u64, signal: i32) {
        let dir = self.dir(uid);
        if signal == libc::SIGKILL && self.flavor == Flavor::V2 {
            match std::fs::write(dir.join("cgroup.kill"), "1") {
                Ok(()) => return,
                // Kernels before 5.14 have no cgroup.kill: one by one below.
                Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => return,
                Err(_) => {}
            }
        }
        let freeze = signal == libc::SIGKILL && self.flavor == Flavor::Freezer;
        let state = dir.join("freezer.state");
        if freeze {
            let _ = std::fs::write(&state, "FROZEN");
        }
        for pid in read_pids(&dir.join("cgroup.procs")) {
            let _ = super::signal::kill_pid(pid, signal);
        }
        if freeze {
            // A frozen process does not act on SIGKILL until thawed.
            let _ = std::fs::write(&state, "THAWED");
        }
    }

    /// Removes entity `uid`'s cgroup if it is empty (a live one stays).
    pub fn remove(&self, uid: u64) {
        let _ = std::fs::remove_dir(self.dir(uid));
    }

    /// Removes every (empty) cgroup of this agent and its parent: the end of a test.
    #[cfg(test)]
    pub(crate) fn remove_all(&self) {
        self.retain(&HashSet::new());
        let _ = std::fs::remove_dir(&self.parent);
    }

    /// Removes the empty cgroups of entities not in `keep` (removed while
    /// `ham` was down); cgroups with live processes stay for re-adoption.
    pub fn retain(&self, keep: &HashSet<u64>) {
        let Ok(dir) = std::fs::read_dir(&self.parent) else {
            return;
        };
        for entry in dir.flatten() {
            let uid = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok());
            if entry.path().is_dir() && uid.is_none_or(|u| !keep.contains(&u)) {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// Makes a cgroup directory; one made meanwhile is as good.
fn make_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

fn read_pids(path: &Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn l1_hierarchies_are_found_best_first() {
        let found = mounts(HYBRID);
        let flavors: Vec<Flavor> = found.iter().map(|m| m.flavor).collect();
        assert_eq!(flavors, [Flavor::V2, Flavor::Freezer, Flavor::Pids]);
        assert_eq!(found[0].point, PathBuf::from("/sys/fs/cgroup/unified"));
        let v1_only = "37 31 0:34 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        assert_eq!(mounts(v1_only)[0].flavor, Flavor::Pids);
        assert!(mounts("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n").is_empty());
        let spaced = "41 31 0:38 / /mnt/a\\040b rw - cgroup2 cgroup2 rw\n";
        assert_eq!(mounts(spaced)[0].point, PathBuf::from("/mnt/a b"));
    }

    #[test]
    fn l1_own_cgroup_is_read_per_hierarchy() {
        let text = "9:name=systemd:/\n8:pids:/a\n6:freezer:/b/c\n0::/system.slice/ham.service\n";
        assert_eq!(
            own_path(text, Flavor::V2).as_deref(),
            Some("/system.slice/ham.service")
        );
        assert_eq!(own_path(text, Flavor::Freezer).as_deref(), Some("/b/c"));
        assert_eq!(own_path(text, Flavor::Pids).as_deref(), Some("/a"));
        assert_eq!(own_path("6:freezer:/b\n", Flavor::V2), None);
        let m = Mount {
            flavor: Flavor::V2,
            point: PathBuf::from("/sys/fs/cgroup"),
            root: "/".into(),
        };
        assert_eq!(
            own_dir(&m, "/system.slice/ham.service"),
            PathBuf::from("/sys/fs/cgroup/system.slice/ham.service")
        );
        assert_eq!(own_dir(&m, "/"), PathBuf::from("/sys/fs/cgroup"));
    }
}
