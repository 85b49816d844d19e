//! (a), (a'), (b): SIGKILL the probe, time until its replacement reports.
//!
//! The benchmark reads CLOCK_MONOTONIC just before `kill(pid, SIGKILL)`;
//! the replacement probe reads it first thing in `main`. The difference is
//! the time from the kill to the new process running (exec done).

use crate::clock;
use crate::collector::Collector;
use crate::procs;
use crate::supervisors::Supervised;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// Latencies of one supervisor in one scenario.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Row label.
    pub label: String,
    /// The supervisor's probe tag (`ham`, `runit`, ...).
    pub key: String,
    /// Kill-to-running latencies in ms; a restart that did not come within
    /// the time limit is `f64::INFINITY`.
    pub ms: Vec<f64>,
    /// Kills not made because the previous restart never came.
    pub skipped: usize,
    /// The supervisor stopped restarting (a crash loop ended by a timeout).
    pub gave_up: bool,
    /// Why the series is empty or short (not installed, daemon died, ...).
    pub note: Option<String>,
}

impl Series {
    /// An empty series with a note.
    pub fn missing(label: &str, key: &str, note: String) -> Series {
        Series {
            label: label.to_owned(),
            key: key.to_owned(),
            note: Some(note),
            ..Series::default()
        }
    }

    /// Restarts that did not come in time.
    pub fn timeouts(&self) -> usize {
        self.ms.iter().filter(|m| m.is_infinite()).count()
    }
}

/// Kills the probe and waits for its replacement: Some(latency in ms), or
/// None when none came within `timeout` (or there was no probe to kill).
pub fn kill_and_wait(
    collector: &mut Collector,
    sup: &mut Supervised,
    timeout: Duration,
) -> anyhow::Result<Option<f64>> {
    let Some(pid) = sup.probe else {
        return Ok(None);
    };
    let killed_ns = clock::monotonic_ns();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    match collector.wait_new(&sup.tag, Some(pid), timeout)? {
        Some(report) => {
            sup.probe = Some(report.pid);
            Ok(Some(clock::ms(report.mono_ns - killed_ns)))
        }
        None => {
            sup.probe = None;
            Ok(None)
        }
    }
}

/// (a)/(b): `kills` rounds; in each round every supervisor's probe is
/// killed once, one supervisor after the other, evenly spread over
/// `spacing`, so two kills of the same supervisor are `spacing` apart and
/// never overlap a kill of another one (each restart is awaited before the
/// next kill).
pub fn interleaved(
    collector: &mut Collector,
    sups: &mut [Supervised],
    kills: usize,
    spacing: Duration,
    timeout: Duration,
) -> anyhow::Result<Vec<Series>> {
    let mut series: Vec<Series> = sups
        .iter()
        .map(|s| Series {
            label: s.label.clone(),
            key: s.tag.clone(),
            ..Series::default()
        })
        .collect();
    if sups.is_empty() {
        return Ok(series);
    }
    let slot = spacing / u32::try_from(sups.len())?;
    let mut next = Instant::now();
    for round in 0..kills {
        for (sup, out) in sups.iter_mut().zip(series.iter_mut()) {
            next += slot;
            if sup.probe.is_none() {
                // A restart came after its time limit: pick it up late.
                sup.probe = collector
                    .wait_new(&sup.tag, None, Duration::from_millis(1))?
                    .map(|r| r.pid);
            }
            if sup.probe.is_none() {
                out.skipped += 1;
            } else {
                let got = kill_and_wait(collector, sup, timeout)?;
                out.ms.push(got.unwrap_or(f64::INFINITY));
                if got.is_none() && !procs::alive(sup.daemon_pid) {
                    out.note = Some("the supervisor daemon died".to_owned());
                }
            }
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        if (round + 1) % 20 == 0 {
            eprintln!("  round {}/{kills}", round + 1);
        }
    }
    Ok(series)
}

/// (a'): kill each new instance as soon as it reports, `n` times in a row.
/// A restart that does not come within `timeout` ends the loop: the
/// supervisor gave up (or throttles beyond the limit).
pub fn crash_loop(
    collector: &mut Collector,
    sup: &mut Supervised,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<Series> {
    let mut out = Series {
        label: sup.label.clone(),
        key: sup.tag.clone(),
        ..Series::default()
    };
    if sup.probe.is_none() {
        sup.probe = collector.wait_new(&sup.tag, None, timeout)?.map(|r| r.pid);
    }
    for _ in 0..n {
        match kill_and_wait(collector, sup, timeout)? {
            Some(ms) => out.ms.push(ms),
            None => {
                out.ms.push(f64::INFINITY);
                out.gave_up = true;
                if !procs::alive(sup.daemon_pid) {
                    out.note = Some("the supervisor daemon died".to_owned());
                }
                break;
            }
        }
    }
    Ok(out)
}
