//! `ham-bench`: ham against a minimal reference supervisor, runit, s6 and
//! supervisord (see docs/benchmarks.md), and the helper programs the
//! benchmark runs (the probe, the floor supervisor, the heartbeat sender).

mod about;
mod blast;
mod clock;
mod collector;
mod config;
mod floor;
mod measure;
mod probe;
mod procs;
mod report;
mod run;
mod stats;
mod supervisors;
mod table;

use std::process::ExitCode;

fn main() -> ExitCode {
    // First thing: when this process is the probe, this reading is the
    // moment its exec was done.
    let started_ns = clock::monotonic_ns();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("probe") => probe::run(started_ns, rest),
        Some("floor-supervisor") => floor::run(rest),
        Some("blast") => blast::run(rest),
        Some("run") => config::Config::parse(rest).and_then(run::run),
        _ => config::Config::parse(&args).and_then(run::run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ham-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
