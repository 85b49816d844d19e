//! (d): CPU and memory of daemons left alone: utime + stime from
//! /proc/PID/stat over a window (clock ticks, all threads), VmRSS and
//! VmHWM from /proc/PID/status at its end.

use crate::procs;
use anyhow::Context as _;
use nix::unistd::{SysconfVar, sysconf};
use std::time::{Duration, Instant};

/// One daemon's idle cost.
#[derive(Debug, Clone)]
pub struct Usage {
    /// Row label.
    pub label: String,
    /// CPU over the window, in % of one core.
    pub cpu_pct: f64,
    /// Resident set at the end, kB.
    pub rss_kb: u64,
    /// Peak resident set, kB.
    pub hwm_kb: u64,
    /// Threads.
    pub threads: u64,
    /// The window.
    pub window: Duration,
}

fn cpu_ticks(pid: i32) -> anyhow::Result<u64> {
    let f = procs::stat_fields(pid).with_context(|| format!("no /proc/{pid}/stat"))?;
    let field = |i: usize| -> anyhow::Result<u64> {
        Ok(f.get(i).context("short /proc/PID/stat")?.parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// Measures every `(label, pid)` over the same `window`, sleeping meanwhile.
pub fn measure(daemons: &[(String, i32)], window: Duration) -> anyhow::Result<Vec<Usage>> {
    let hz = sysconf(SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    let before = daemons
        .iter()
        .map(|(_, pid)| cpu_ticks(*pid))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t0 = Instant::now();
    std::thread::sleep(window);
    let elapsed = t0.elapsed();
    daemons
        .iter()
        .zip(before)
        .map(|((label, pid), b)| {
            let ticks = cpu_ticks(*pid)?.saturating_sub(b);
            Ok(Usage {
                label: label.clone(),
                cpu_pct: ticks as f64 / hz / elapsed.as_secs_f64() * 100.0,
                rss_kb: procs::status_value(*pid, "VmRSS").unwrap_or(0),
                hwm_kb: procs::status_value(*pid, "VmHWM").unwrap_or(0),
                threads: procs::status_value(*pid, "Threads").unwrap_or(0),
                window: elapsed,
            })
        })
        .collect()
}
