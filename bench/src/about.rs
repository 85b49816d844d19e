//! What the report says about the run itself: command, date, machine,
//! versions and settings.

use crate::config::Config;
use crate::procs;
use std::process::Command;

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Date, command, machine, versions and settings.
pub fn header(cfg: &Config) -> Vec<String> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem_mib = procs::status_value_file("/proc/meminfo", "MemTotal").unwrap_or(0) / 1024;
    let versions = command_output(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${Package} ${Version}, ",
            "runit",
            "s6",
            "supervisor",
        ],
    )
    .unwrap_or_else(|| "unknown".to_owned());
    let binary = command_output("sha256sum", &[&cfg.ham.display().to_string()])
        .and_then(|s| s.get(..12).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]).map_or_else(
        || "unknown".to_owned(),
        |c| match command_output("git", &["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{c} + uncommitted changes"),
            _ => c,
        },
    );
    let args: Vec<String> = std::env::args().skip(1).collect();
    vec![
        format!("command: ham-bench {}", args.join(" ")),
        format!("date: {} UTC", utc(secs)),
        format!(
            "machine: {cores} cores ({cpu}), {mem_mib} MiB, Linux {}",
            kernel.trim()
        ),
        format!(
            "versions: ham {commit} (binary sha256 {binary}...); {}",
            versions.trim_end_matches([',', ' '])
        ),
        format!(
            "settings: {} kills per supervisor, {:.1} s apart, supervisors interleaved (one kill at a time); crash loops of {}; {} entities; restart time limit {} ms",
            cfg.kills,
            cfg.spacing.as_secs_f64(),
            cfg.crash_loop,
            cfg.entities,
            cfg.timeout.as_millis()
        ),
    ]
}

/// `YYYY-MM-DD HH:MM` from seconds since the epoch (UTC).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13");
    }
}
