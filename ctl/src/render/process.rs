//! The process options and user of an entity (HAM-CONTRACT L7, P4) in its `.info`.

use ham_client::proto::{LimitResource, OutputMode, ProcessOptions};

use super::Lines;

fn limit_value(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

/// Appends one line per option that differs from the daemon's defaults.
pub(super) fn process_lines(out: &mut Lines, p: &ProcessOptions) {
    if !p.user.is_empty() {
        out.kv("Run As User", format!("{} ({})", p.user, p.uid));
    }
    if !p.user.is_empty() || !p.group.is_empty() {
        let group = if p.group.is_empty() {
            "primary".to_string()
        } else {
            p.group.clone()
        };
        out.kv("Run As Group", format!("{group} ({})", p.gid));
    }
    if !p.cwd.is_empty() {
        out.kv("Working Dir", &p.cwd);
    }
    for v in &p.env {
        out.kv("Environment", format!("{}={}", v.name, v.value));
    }
    let output = match OutputMode::try_from(p.output) {
        Ok(OutputMode::Inherit) => "inherit",
        Ok(OutputMode::Discard) => "discard",
        _ => "log",
    };
    out.kv("Output", output);
    for l in &p.limits {
        let name = LimitResource::try_from(l.resource)
            .map(|r| {
                r.as_str_name()
                    .trim_start_matches("LIMIT_RESOURCE_")
                    .to_lowercase()
            })
            .unwrap_or_else(|_| l.resource.to_string());
        out.kv(
            &format!("Limit {name}"),
            format!("{}:{}", limit_value(l.soft), limit_value(l.hard)),
        );
    }
}
