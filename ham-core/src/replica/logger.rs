//! A slog drain that forwards raft-rs log records to `tracing`.
//!
//! raft-rs insists on a `slog::Logger`; the rest of the project logs with `tracing`. Records are
//! emitted under the target `raft` at the matching level, with slog's key-values appended as
//! `key=value` text. Formatting is skipped entirely when `tracing` would discard the event.

use std::fmt::{self, Write as _};

use slog::{Drain, KV, Level, Never, OwnedKVList, Record};

/// Forwards every slog record to `tracing`.
#[derive(Debug, Clone, Copy)]
struct TracingDrain;

/// Renders slog key-values as ` key=value` pairs.
struct KvText(String);

impl slog::Serializer for KvText {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        // Writing to a String cannot fail.
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

fn render(record: &Record<'_>, values: &OwnedKVList) -> String {
    let mut kv = KvText(format!("{}", record.msg()));
    // Serialization into a String cannot fail; ignore the Result to never panic in logging.
    let _ = record.kv().serialize(record, &mut kv);
    let _ = values.serialize(record, &mut kv);
    kv.0
}

/// Emits at a level given as a `tracing::Level` constant (tracing's macros need constants).
macro_rules! forward {
    ($level:expr, $record:expr, $values:expr) => {
        if tracing::enabled!(target: "raft", $level) {
            let text = render($record, $values);
            tracing::event!(target: "raft", $level, "{}", text);
        }
    };
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), Never> {
        match record.level() {
            Level::Critical | Level::Error => forward!(tracing::Level::ERROR, record, values),
            Level::Warning => forward!(tracing::Level::WARN, record, values),
            Level::Info => forward!(tracing::Level::INFO, record, values),
            Level::Debug => forward!(tracing::Level::DEBUG, record, values),
            Level::Trace => forward!(tracing::Level::TRACE, record, values),
        }
        Ok(())
    }
}

/// The logger handed to `RawNode::new`.
pub(crate) fn raft_logger() -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_through_the_bridge_does_not_panic() {
        let log = raft_logger().new(slog::o!("raft_id" => 7u64));
        slog::info!(log, "hello {}", 1; "k" => "v");
        slog::crit!(log, "bad"; "n" => 3);
        slog::trace!(log, "quiet");
    }
}
