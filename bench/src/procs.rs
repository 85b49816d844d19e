//! Processes: starting daemons in their own process groups, finding
//! programs, reading /proc, and cleaning every descendant up at the end.
//!
//! The benchmark makes itself a child subreaper, so the children of a
//! supervisor that is killed (or dies) are re-parented to it; the cleanup
//! then finds every process started during the run as a descendant of the
//! benchmark and kills it, whatever order things die in.

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// The temporary directory to remove at cleanup.
static TEMP_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Makes the benchmark the reaper of its orphaned descendants and records
/// the directory the cleanup removes (None: keep it).
pub fn init(temp_dir: Option<&Path>) -> anyhow::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).context("cannot become a child subreaper")?;
    *TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()) = temp_dir.map(Path::to_owned);
    Ok(())
}

/// Kills every descendant of the benchmark (repeating, as killed daemons
/// hand their children to us), reaps them, and removes the temporary
/// directory. Safe to call more than once and from any thread.
pub fn cleanup() {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    for _ in 0..50 {
        let victims = descendants(me);
        if victims.is_empty() {
            break;
        }
        for pid in &victims {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
        reap_all();
    }
    reap_all();
    if let Some(dir) = TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Reaps every child that has ended (they are all dead or about to be).
// The benchmark is a subreaper of its own, not the agent: reaping here takes
// no exit status from a `ham` (clippy.toml keeps `wait*` in the reaper).
#[allow(clippy::disallowed_methods)]
fn reap_all() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Every live or zombie descendant of `root`, from /proc.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = stat_fields(pid).and_then(|f| f.get(1).and_then(|p| p.parse().ok())) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            out.extend(kids);
            todo.extend(kids);
        }
    }
    out
}

/// The fields of /proc/PID/stat after the command name: index 0 is the
/// state (field 3 of proc(5)), 1 the ppid, 11 utime, 12 stime.
pub fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_ascii_whitespace().map(str::to_owned).collect())
}

/// A `Key:  value kB` line of /proc/PID/status, as a number.
pub fn status_value(pid: i32, key: &str) -> Option<u64> {
    status_value_file(&format!("/proc/{pid}/status"), key)
}

/// A `Key:  value` line of a /proc file such as /proc/meminfo, as a number.
pub fn status_value_file(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_ascii_whitespace().next()?.parse().ok())
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s != "Z" && s != "X"))
}

/// Machine-wide CPU time from /proc/stat, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTimes {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// Everything.
    pub total: u64,
    /// Time the hypervisor ran something else.
    pub steal: u64,
}

impl CpuTimes {
    /// Now.
    pub fn read() -> CpuTimes {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let v: Vec<u64> = text
            .lines()
            .next()
            .unwrap_or_default()
            .split_ascii_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest is in user).
        let total: u64 = v.iter().take(8).sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        CpuTimes {
            busy: total.saturating_sub(idle),
            total,
            steal: v.get(7).copied().unwrap_or(0),
        }
    }

    /// Busy and steal percentages of the whole machine since `earlier`.
    pub fn since(&self, earlier: &CpuTimes) -> (f64, f64) {
        let total = self.total.saturating_sub(earlier.total).max(1) as f64;
        (
            self.busy.saturating_sub(earlier.busy) as f64 / total * 100.0,
            self.steal.saturating_sub(earlier.steal) as f64 / total * 100.0,
        )
    }
}

/// A program on PATH, if installed.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Starts a long-running program in its own process group, standard input
/// from /dev/null and its output appended to `log`.
pub fn spawn_daemon(mut cmd: Command, log: &Path) -> anyhow::Result<Child> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let err = out.try_clone()?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start {program}"))
}

/// The last lines of a log file, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
