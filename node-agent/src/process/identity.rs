//! Telling a process from a later one that reuses its pid (HAM-CONTRACT E11).
//!
//! A pid alone names a process only while it lives: once it dies the number
//! comes round again. So the agent identifies the processes it watches by
//! more than their pid:
//! - every process it starts carries `HAM_ENTITY_ID=<agent>-<entity uid>` in
//!   its environment, where `<agent>` is a random id of this data directory
//!   (a later `ham` on the same data finds its own processes by it, and tests
//!   running many `ham`s on one machine never take each other's);
//! - a process attached by pid (which the agent did not start) is recorded
//!   with its start time (field 22 of `/proc/PID/stat`) and the kernel's boot
//!   id, in a small file per entity under `<data-dir>/adopted/`.
//!
//! Neither needs an fsync: both describe processes of this boot only, and a
//! power loss that could lose the files also ends every process they name.

use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

/// The environment variable that marks a process started for an entity.
pub const MARKER: &str = "HAM_ENTITY_ID";

/// A live process as `/proc` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its parent.
    pub ppid: u32,
    /// Its process group.
    pub pgid: u32,
    /// Start time in clock ticks after boot (field 22).
    pub start: u64,
}

/// Reads `/proc/PID/stat`; None when the process does not exist or is a zombie.
pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses the text of `/proc/PID/stat` (the command name, in parentheses, may hold anything).
fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) ... starttime(22).
    if fields.first().is_some_and(|s| *s == "Z" || *s == "X") {
        return None;
    }
    Some(ProcStat {
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// This boot of the kernel.
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The marker's value for one entity of this agent.
pub fn marker_value(agent: &str, uid: u64) -> String {
    format!("{agent}-{uid}")
}

/// The entity a marker value names, if it is this agent's.
fn marked_uid(agent: &str, value: &[u8]) -> Option<u64> {
    let value = std::str::from_utf8(value).ok()?;
    value.strip_prefix(agent)?.strip_prefix('-')?.parse().ok()
}

/// Every live process that leads its own process group (an entity's main
/// process, or a daemon it became with `setsid`) and carries this agent's
/// marker, by entity uid. Workers a main process forked inherit its
/// environment but not its group leadership, so they are left out. Where
/// several lead (a launcher and the daemon it left), the latest started
/// comes last.
pub fn marked_processes(agent: &str) -> HashMap<u64, Vec<(u32, ProcStat)>> {
    let mut out: HashMap<u64, Vec<(u32, ProcStat)>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    let key = format!("{MARKER}=");
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(st) = stat(pid).filter(|s| s.pgid == pid) else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let uid = environ
            .split(|&b| b == 0)
            .find_map(|var| var.strip_prefix(key.as_bytes()))
            .and_then(|v| marked_uid(agent, v));
        if let Some(uid) = uid {
            out.entry(uid).or_default().push((pid, st));
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|(_, st)| st.start);
    }
    out
}

/// Whether live process `pid` carries the marker of entity `uid` of this agent.
pub fn carries_marker(pid: u32, agent: &str, uid: u64) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("{MARKER}={}", marker_value(agent, uid));
    environ.split(|&b| b == 0).any(|var| var == want.as_bytes())
}

/// The random id of this data directory's agent, made on first use.
pub fn agent_id(data_dir: &Path) -> io::Result<String> {
    let path = data_dir.join("agent-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(id.to_string());
        }
    }
    let mut bytes = [0u8; 8];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &id)?;
    std::fs::rename(&tmp, &path)?;
    Ok(id)
}

/// Start records of processes attached by pid, one file per entity.
#[derive(Debug, Clone)]
pub struct Records {
    dir: PathBuf,
    boot: String,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    pid: u32,
    start: u64,
    boot: String,
}

impl Record {
    fn parse(text: &str) -> Option<Record> {
        let mut words = text.split_whitespace();
        let rec = Record {
            pid: words.next()?.parse().ok()?,
            start: words.next()?.parse().ok()?,
            boot: words.next()?.to_string(),
        };
        words.next().is_none().then_some(rec)
    }
}

/// What the agent knows about a pid the state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// The recorded process, still running.
    Same,
    /// Dead, or the pid now names another process.
    Gone,
    /// Alive, but nothing says whether it is the same process (no record).
    Unverified,
}

impl Records {
    /// Records under `<data_dir>/adopted`.
    pub fn open(data_dir: &Path) -> io::Result<Records> {
        let dir = data_dir.join("adopted");
        std::fs::create_dir_all(&dir)?;
        Ok(Records {
            dir,
            boot: boot_id(),
        })
    }

    fn path(&self, uid: u64) -> PathBuf {
        self.dir.join(uid.to_string())
    }

    /// Records that entity `uid` watches `pid` (now running); best effort.
    pub fn remember(&self, uid: u64, pid: u32) {
        let Some(st) = stat(pid) else { return };
        self.write(uid, pid, st);
    }

    /// Records that entity `uid` watches `pid`, a process just started whose
    /// pidfd is `pidfd`. The start time read from `/proc` is this process's
    /// only if the pidfd still shows it running after the read: otherwise it
    /// may have died, been reaped and its pid been reused in between (it is
    /// not recorded then; its death is on its way).
    pub fn remember_started(&self, uid: u64, pid: u32, pidfd: BorrowedFd<'_>) {
        let Some(st) = stat(pid) else { return };
        if super::pidfd::running(pidfd) {
            self.write(uid, pid, st);
        }
    }

    fn write(&self, uid: u64, pid: u32, st: ProcStat) {
        let text = format!("{pid} {} {}\n", st.start, self.boot);
        // Watching a process again (after a restart of ham) finds its record as written.
        if std::fs::read_to_string(self.path(uid)).is_ok_and(|t| t == text) {
            return;
        }
        let tmp = self.dir.join(format!(".{uid}.tmp"));
        let written =
            std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, self.path(uid)));
        if let Err(e) = written {
            tracing::warn!(uid, pid, error = %e, "cannot record an attached process");
        }
    }

    /// Drops the record of entity `uid`, if any.
    pub fn forget(&self, uid: u64) {
        let _ = std::fs::remove_file(self.path(uid));
    }

    /// Whether `pid`, which the state says entity `uid` runs as, is still that process.
    pub fn check(&self, uid: u64, pid: u32) -> Known {
        let Some(st) = stat(pid) else {
            return Known::Gone;
        };
        let rec = std::fs::read_to_string(self.path(uid))
            .ok()
            .and_then(|t| Record::parse(&t));
        match rec {
            Some(r) if r.pid == pid && r.boot == self.boot && r.start == st.start => Known::Same,
            Some(r) if r.pid == pid => Known::Gone,
            // A record of another pid says nothing about this one.
            _ => Known::Unverified,
        }
    }

    /// Removes the records of entities not in `keep` (entities removed while ham was down).
    pub fn retain(&self, keep: &std::collections::HashSet<u64>) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let uid = name.to_str().and_then(|s| s.parse::<u64>().ok());
            if uid.is_none_or(|u| !keep.contains(&u)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e11_stat_parsing_handles_odd_names_and_zombies() {
        let line = "42 (a) b) (c) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1000 100";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                ppid: 7,
                pgid: 42,
                start: 12345
            })
        );
        assert_eq!(parse_stat(&line.replace(" S ", " Z ")), None);
        assert_eq!(parse_stat("42 (x"), None);
        assert_eq!(parse_stat("42 (x) S 1"), None);
        let me = stat(std::process::id()).unwrap();
        assert_eq!(me.ppid, std::os::unix::process::parent_id());
    }

    #[test]
    fn e11_marker_values_name_only_this_agents_entities() {
        assert_eq!(
            marked_uid("ab12", marker_value("ab12", 7).as_bytes()),
            Some(7)
        );
        assert_eq!(marked_uid("ab12", b"ab123-7"), None);
        assert_eq!(marked_uid("ab12", b"ff00-7"), None);
        assert_eq!(marked_uid("ab12", b"ab12-x"), None);
    }

    #[test]
    fn e11_records_tell_the_same_process_from_a_reused_pid() {
        let dir = tempfile::tempdir().unwrap();
        let records = Records::open(dir.path()).unwrap();
        let me = std::process::id();
        assert_eq!(records.check(1, me), Known::Unverified, "no record yet");
        records.remember(1, me);
        assert_eq!(records.check(1, me), Known::Same);
        // Same pid, another start time: a reused pid.
        let st = stat(me).unwrap();
        let forged = format!("{me} {} {}\n", st.start + 1, boot_id());
        std::fs::write(dir.path().join("adopted/1"), forged).unwrap();
        assert_eq!(records.check(1, me), Known::Gone);
        // Recorded in another boot.
        std::fs::write(
            dir.path().join("adopted/1"),
            format!("{me} {} other\n", st.start),
        )
        .unwrap();
        assert_eq!(records.check(1, me), Known::Gone);
        records.retain(&[2].into_iter().collect());
        assert_eq!(records.check(1, me), Known::Unverified, "removed");
        assert_eq!(records.check(1, u32::MAX), Known::Gone);
    }

    #[test]
    fn e11_agent_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = agent_id(dir.path()).unwrap();
        assert_eq!(a.len(), 16);
        assert_eq!(agent_id(dir.path()).unwrap(), a);
    }
}
