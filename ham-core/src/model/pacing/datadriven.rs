//! Data-driven tests of [`next_restart`], in the style of
//! `decide/datadriven.rs`: every file under `testdata/pacing/` holds cases;
//! each case is a block of lines, then `----`, then the expected output, then
//! a blank line. `REWRITE=1 cargo test -p ham-core pacing` writes the actual
//! output back. Times are in milliseconds.
//!
//! Lines:
//! - `policy [burst=N] [window=MS] [min=MS] [max=MS] [off]`: the entity's
//!   policy (the defaults for what is not given; the whole case uses the
//!   defaults without this line);
//! - `death at=MS up=MS`: the process, up for `up` ms, dies at `at`; prints
//!   when its restart runs and the history after it;
//! - `deaths from=MS every=MS count=N up=MS`: N such deaths;
//! - `show at=MS up=MS`: the delay `.info` shows at `at` for a process up for `up` ms.

use super::*;
use std::fmt::Write as _;

fn opt(toks: &[&str], key: &str) -> Option<u64> {
    toks.iter()
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{key}={v}: not a number"))
        })
}

fn need(toks: &[&str], key: &str) -> u64 {
    opt(toks, key).unwrap_or_else(|| panic!("{key}= missing in {toks:?}"))
}

fn ms(ns: u64) -> String {
    if ns.is_multiple_of(MS) {
        format!("{}ms", ns / MS)
    } else {
        format!("{ns}ns")
    }
}

fn ns(ms: u64) -> TimeNs {
    i64::try_from(ms * MS).expect("time fits")
}

fn death(p: &PacingPolicy, h: &mut PacingHistory, at: u64, up: u64, out: &mut String) {
    let paced = next_restart(p, h, ns(at), ns(at) - ns(up));
    let when = match paced.pacing {
        Pacing::Immediate => "immediate".to_string(),
        Pacing::After(d) => format!("after {}", ms(d)),
    };
    let _ = writeln!(
        out,
        "death at={at} up={up}: {when} (deaths {}, delay {})",
        paced.history.deaths.len(),
        ms(paced.history.delay_ns)
    );
    // Never early: a paced restart waits at least the minimum delay, and never
    // more than the maximum; the history stays bounded by the burst.
    if let Pacing::After(d) = paced.pacing {
        assert!(
            d >= p.min_delay_ns && d <= p.max_delay_ns,
            "{d} out of bounds"
        );
    }
    assert!(paced.history.deaths.len() <= p.burst.max(1) as usize);
    *h = paced.history;
}

fn run_case(lines: &[&str]) -> String {
    let mut p = PacingPolicy::default();
    let mut h = PacingHistory::default();
    let mut out = String::new();
    for line in lines {
        let toks: Vec<&str> = line.split_whitespace().collect();
        match toks.first().copied() {
            None => {}
            Some("policy") => {
                let d = PacingPolicy::default();
                p = PacingPolicy {
                    burst: opt(&toks, "burst").map_or(d.burst, |b| b as u32),
                    window_ns: opt(&toks, "window").map_or(d.window_ns, |v| v * MS),
                    min_delay_ns: opt(&toks, "min").map_or(d.min_delay_ns, |v| v * MS),
                    max_delay_ns: opt(&toks, "max").map_or(d.max_delay_ns, |v| v * MS),
                    off: toks.contains(&"off"),
                };
                p.check().expect("the case's policy is valid");
            }
            Some("death") => death(&p, &mut h, need(&toks, "at"), need(&toks, "up"), &mut out),
            Some("deaths") => {
                let (from, every) = (need(&toks, "from"), need(&toks, "every"));
                for i in 0..need(&toks, "count") {
                    death(&p, &mut h, from + i * every, need(&toks, "up"), &mut out);
                }
            }
            Some("show") => {
                let (at, up) = (need(&toks, "at"), need(&toks, "up"));
                let d = h.current_delay(&p, ns(at), ns(at) - ns(up));
                let _ = writeln!(out, "show at={at} up={up}: delay {}", ms(d));
            }
            Some(other) => panic!("unknown line {other:?}"),
        }
    }
    out
}

/// Runs a file; returns (cases, the file as it should read, mismatches).
fn run_file(text: &str) -> (usize, String, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut rewritten, mut failures, mut cases, mut i) = (String::new(), Vec::new(), 0, 0);
    while i < lines.len() {
        let start = i;
        while i < lines.len() && lines[i] != "----" {
            i += 1;
        }
        let block: Vec<&str> = lines[start..i]
            .iter()
            .copied()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        for l in &lines[start..i] {
            rewritten.push_str(l);
            rewritten.push('\n');
        }
        if i == lines.len() {
            assert!(
                block.iter().all(|l| l.trim().is_empty()),
                "lines with no ---- after them: {block:?}"
            );
            break;
        }
        i += 1;
        let expect_start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let expected: String = lines[expect_start..i]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        let actual = run_case(&block);
        cases += 1;
        if actual != expected {
            let first = block.iter().find(|l| !l.trim().is_empty()).unwrap_or(&"");
            failures.push(format!(
                "case starting {first:?}:\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
        rewritten.push_str("----\n");
        rewritten.push_str(&actual);
        if i < lines.len() {
            rewritten.push('\n');
            i += 1;
        }
    }
    (cases, rewritten, failures)
}

#[test]
fn l4_pacing_testdata() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model/testdata/pacing");
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/pacing")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    let (mut total, mut failed) = (0, Vec::new());
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        let (cases, rewritten, failures) = run_file(&text);
        total += cases;
        if rewrite {
            if rewritten != text {
                std::fs::write(p, rewritten).unwrap();
            }
        } else {
            failed.extend(
                failures
                    .into_iter()
                    .map(|f| format!("{}: {f}", p.display())),
            );
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(total >= 8, "only {total} pacing cases");
}

#[test]
fn l4_policy_check_refuses_nonsense() {
    let d = PacingPolicy::default();
    assert_eq!(d.check(), Ok(d));
    for bad in [
        PacingPolicy { window_ns: 0, ..d },
        PacingPolicy {
            min_delay_ns: 0,
            ..d
        },
        PacingPolicy {
            min_delay_ns: 2 * SEC,
            max_delay_ns: SEC,
            ..d
        },
        PacingPolicy {
            max_delay_ns: PACING_MAX_NS + 1,
            ..d
        },
        PacingPolicy {
            burst: PACING_MAX_BURST + 1,
            ..d
        },
    ] {
        let e = bad.check().unwrap_err();
        assert_eq!(e.errno, crate::model::Errno::Einval, "{bad:?}");
    }
}
