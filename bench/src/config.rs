//! Options of `ham-bench [run]`.

use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::time::Duration;

/// The parts of the run that can be selected with `--only`.
pub const PARTS: &[&str] = &[
    "floor",
    "ham",
    "ham1000",
    "runit",
    "s6",
    "s6ready",
    "supervisord",
    "heartbeat",
    "idle",
    "notify",
    "pacing",
    "storm",
];

/// What to run and how much.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--quick`: the CI smoke-test sizes.
    pub quick: bool,
    /// Kills per supervisor in (a) and (b).
    pub kills: usize,
    /// Time between two kills of the same supervisor in (a) and (b).
    pub spacing: Duration,
    /// Kills in a row in (a').
    pub crash_loop: usize,
    /// Entities of the big ham in (b) and (d), the measured one included.
    pub entities: usize,
    /// The idle window of (d).
    pub idle: Duration,
    /// Boundaries measured in (c).
    pub hb_trials: usize,
    /// Heartbeat period in (c).
    pub hb_period: Duration,
    /// Datagrams sent in (e).
    pub blast: u64,
    /// Longest wait for one restart.
    pub timeout: Duration,
    /// Kills in a row in (f), the paced crash loop.
    pub paced_kills: usize,
    /// Entities killed at once in (g).
    pub storm: usize,
    /// Storms in (g).
    pub storm_rounds: usize,
    /// The parts to run (see [`PARTS`]).
    pub only: Vec<String>,
    /// The `ham` binary.
    pub ham: PathBuf,
    /// Where to write every sample (`--raw FILE`).
    pub raw: Option<PathBuf>,
    /// Keep the temporary directory (logs, data) at the end (`--keep`).
    pub keep: bool,
    /// Run ham with `-vv -t absolute` instead of `-d` (`--ham-verbose`).
    pub ham_verbose: bool,
}

impl Config {
    fn full(ham: PathBuf) -> Config {
        Config {
            quick: false,
            kills: 200,
            spacing: Duration::from_millis(2000),
            crash_loop: 50,
            entities: 1000,
            idle: Duration::from_secs(30),
            hb_trials: 200,
            hb_period: Duration::from_millis(50),
            blast: 1_000_000,
            timeout: Duration::from_secs(5),
            paced_kills: 12,
            storm: 100,
            storm_rounds: 4,
            only: PARTS.iter().map(|p| (*p).to_owned()).collect(),
            ham,
            raw: None,
            keep: false,
            ham_verbose: false,
        }
    }

    fn quick(self) -> Config {
        Config {
            quick: true,
            kills: 6,
            spacing: Duration::from_millis(1200),
            crash_loop: 3,
            entities: 100,
            idle: Duration::from_secs(2),
            hb_trials: 20,
            blast: 20_000,
            paced_kills: 8,
            storm_rounds: 1,
            ..self
        }
    }

    /// Whether a part is selected.
    pub fn has(&self, part: &str) -> bool {
        self.only.iter().any(|p| p == part)
    }

    /// Parses the options after `run` (or of a bare `ham-bench`).
    pub fn parse(args: &[String]) -> anyhow::Result<Config> {
        let exe = std::env::current_exe()?;
        let ham = exe.with_file_name("ham");
        let mut cfg = if args.iter().any(|a| a == "--quick") {
            Config::full(ham).quick()
        } else {
            Config::full(ham)
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--quick" => continue,
                "--keep" => {
                    cfg.keep = true;
                    continue;
                }
                "--ham-verbose" => {
                    cfg.ham_verbose = true;
                    continue;
                }
                _ => {}
            }
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--kills" => cfg.kills = value()?.parse()?,
                "--spacing-ms" => cfg.spacing = Duration::from_millis(value()?.parse()?),
                "--crash" => cfg.crash_loop = value()?.parse()?,
                "--entities" => cfg.entities = value()?.parse::<usize>()?.max(1),
                "--idle-secs" => cfg.idle = Duration::from_secs(value()?.parse()?),
                "--hb-trials" => cfg.hb_trials = value()?.parse()?,
                "--hb-period-ms" => cfg.hb_period = Duration::from_millis(value()?.parse()?),
                "--blast" => cfg.blast = value()?.parse()?,
                "--timeout-ms" => cfg.timeout = Duration::from_millis(value()?.parse()?),
                "--paced" => cfg.paced_kills = value()?.parse()?,
                "--storm" => cfg.storm = value()?.parse::<usize>()?.max(1),
                "--storm-rounds" => cfg.storm_rounds = value()?.parse()?,
                "--ham" => cfg.ham = PathBuf::from(value()?),
                "--raw" => cfg.raw = Some(PathBuf::from(value()?)),
                "--only" => {
                    cfg.only = value()?.split(',').map(str::to_owned).collect();
                    if let Some(bad) = cfg.only.iter().find(|p| !PARTS.contains(&p.as_str())) {
                        bail!("unknown part {bad:?} (parts: {})", PARTS.join(","));
                    }
                }
                "-h" | "--help" => {
                    println!("{}", USAGE);
                    std::process::exit(0);
                }
                _ => bail!("unknown option {flag:?}\n{USAGE}"),
            }
        }
        Ok(cfg)
    }
}

/// Help text.
pub const USAGE: &str = "\
usage: ham-bench [run] [--quick] [--kills N] [--spacing-ms MS] [--crash N]
                 [--entities N] [--idle-secs S] [--hb-trials N] [--hb-period-ms MS]
                 [--blast N] [--timeout-ms MS] [--paced N] [--storm N]
                 [--storm-rounds N] [--only PART,...] [--ham PATH]
                 [--raw FILE] [--keep] [--ham-verbose]
       ham-bench probe SOCKET TAG
       ham-bench floor-supervisor PROGRAM ARGS...
       ham-bench blast NOTIFY_SOCKET COUNT
parts: floor,ham,ham1000,runit,s6,s6ready,supervisord,heartbeat,idle,notify,
       pacing,storm
full run: 200 kills 2 s apart, crash loops of 50, 1000 entities, 30 s idle,
200 heartbeat boundaries of 50 ms, 1,000,000 heartbeats, a paced crash loop
of 12, 4 storms of 100; --quick: 6 kills 1.2 s apart, loops of 3, 100
entities, 2 s idle, 20 boundaries, 20,000 beats, a paced loop of 8, 1 storm.
--raw FILE writes every sample; --keep keeps the run's directory (logs);
--ham-verbose runs ham with -vv -t absolute (for looking into its log).";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn quick_then_overrides() {
        let c = Config::parse(&args(&["--kills", "3", "--quick", "--only", "ham,floor"])).unwrap();
        assert!(c.quick);
        assert_eq!(c.kills, 3);
        assert_eq!(c.crash_loop, 3);
        assert!(c.has("ham") && !c.has("runit"));
        assert!(Config::parse(&args(&["--only", "nope"])).is_err());
        assert!(Config::parse(&args(&["--kills"])).is_err());
    }
}
