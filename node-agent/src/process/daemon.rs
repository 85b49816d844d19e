//! Following a program that daemonizes (HAM-CONTRACT E8): when the started
//! process exits 0 soon after its start, its surviving descendant has been
//! re-parented to us (we are a child subreaper) and becomes the entity.

use std::collections::HashSet;

/// How long after its start (on the monotonic clock) a clean exit counts as daemonizing.
pub const DAEMONIZE_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

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

/// Reads a pid file: one decimal pid, optionally followed by white space.
pub fn read_pidfile(path: &str) -> Option<u32> {
    parse_pidfile(&std::fs::read_to_string(path).ok()?)
}

/// A pid file's contents: one decimal pid above 1, white space around it allowed.
pub fn parse_pidfile(text: &str) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|&p| p > 1)
}

/// The parent pid of a process, from `/proc/<pid>/stat`.
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
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
        std::fs::write(&f, "1234\n").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), Some(1234));
        std::fs::write(&f, "garbage").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), None);
        std::fs::write(&f, "1").unwrap();
        assert_eq!(read_pidfile(f.to_str().unwrap()), None);
    }
}
