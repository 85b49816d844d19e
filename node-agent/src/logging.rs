//! The activity log: `tracing` to stderr or a file, stamped as `-t` asks.

use crate::cli::{Args, Timestamps};
use anyhow::Context as _;
use std::time::Instant;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// Seconds since start, as `-t relative` shows.
struct Relative(Instant);

impl FormatTime for Relative {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let e = self.0.elapsed();
        write!(w, "{:>6}.{:06}", e.as_secs(), e.subsec_micros())
    }
}

/// Time of day, as `-t shortabs` shows.
struct ShortAbs;

impl FormatTime for ShortAbs {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let s = now.as_secs() % 86_400;
        write!(
            w,
            "{:02}:{:02}:{:02}.{:03}",
            s / 3600,
            s / 60 % 60,
            s % 60,
            now.subsec_millis()
        )
    }
}

/// Maps the HAM verbosity to a log filter: 0 warnings, 1 info, 2 debug, 3+ trace.
fn filter(verbosity: u32) -> EnvFilter {
    if let Ok(f) = EnvFilter::try_from_env("HAM_LOG") {
        return f;
    }
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // raft-rs is chatty at debug; keep it one step quieter than the HAM itself.
    // The audit trail (HAM-CONTRACT P8) is kept whatever the verbosity.
    EnvFilter::new(format!(
        "{level},raft={},audit=info",
        if verbosity >= 3 { "debug" } else { "warn" }
    ))
}

/// Installs the global subscriber.
pub fn init(args: &Args) -> anyhow::Result<()> {
    let verbosity = args.verbosity().unwrap_or(1);
    let writer = match &args.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(verbosity))
        .with_writer(writer)
        .with_ansi(false);
    let result = match args.timestamps {
        Timestamps::None => builder.without_time().try_init(),
        Timestamps::Relative => builder.with_timer(Relative(Instant::now())).try_init(),
        Timestamps::Absolute => builder.try_init(),
        Timestamps::Shortabs => builder.with_timer(ShortAbs).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
