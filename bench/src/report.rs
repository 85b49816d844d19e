//! The result tables and the verdicts against the targets of the issue.

use crate::measure::heartbeat::HbResult;
use crate::measure::idle::Usage;
use crate::measure::notify::NotifyResult;
use crate::measure::pacing::{Step, Storm};
use crate::measure::restart::Series;
use crate::stats::{Summary, summarize};
use crate::table::Table;
use std::time::Duration;

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    /// Date, command, machine, versions.
    pub header: Vec<String>,
    /// (a): one series per supervisor.
    pub restart: Vec<Series>,
    /// (b): ham with many entities.
    pub big: Option<Series>,
    /// Entities of (b) and (d).
    pub entities: usize,
    /// (a'): one series per supervisor.
    pub crash: Vec<Series>,
    /// (c).
    pub heartbeat: Option<Result<HbResult, String>>,
    /// (d): the big ham first, then the other daemons.
    pub idle: Vec<Usage>,
    /// (e).
    pub notify: Option<Result<NotifyResult, String>>,
    /// (f): the paced crash loop.
    pub pacing: Option<Result<Vec<Step>, String>>,
    /// (g): the death storm.
    pub storm: Option<Result<Storm, String>>,
    /// The restart time limit.
    pub timeout: Duration,
    /// Things worth knowing about the run (set-up times, failures).
    pub notes: Vec<String>,
}

/// Tag of the ham rows.
pub const HAM: &str = "ham";

fn ms(v: f64, timeout: Duration) -> String {
    if v.is_infinite() {
        format!(">{}", timeout.as_millis())
    } else if v < 10.0 {
        format!("{v:.3}")
    } else if v < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        let r = a / b;
        if r >= 0.1 {
            format!("{r:.2}x")
        } else {
            format!("{r:.4}x")
        }
    } else {
        "-".to_owned()
    }
}

fn find<'a>(rows: &'a [Series], key: &str) -> Option<(&'a Series, Summary)> {
    let s = rows.iter().find(|s| s.key == key)?;
    Some((s, summarize(&s.ms)?))
}

impl Results {
    fn restart_table(&self, title: &str, rows: &[Series], crash: bool) -> Table {
        let mut t = Table::new(
            title,
            &[
                "supervisor",
                if crash { "restarts" } else { "kills" },
                "p50 ms",
                "p99 ms",
                "max ms",
                if crash { "outcome" } else { "timeouts" },
                "ham/x p50",
                "ham/x p99",
            ],
        );
        let ham = find(rows, HAM).map(|(_, s)| s);
        for s in rows {
            let Some(sum) = summarize(&s.ms) else {
                let why = s.note.clone().unwrap_or_else(|| "no data".to_owned());
                t.row(vec![
                    s.label.clone(),
                    "0".into(),
                    why,
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                ]);
                continue;
            };
            let done = s.ms.iter().filter(|m| m.is_finite()).count();
            let status = if crash {
                if s.gave_up {
                    format!("gave up after {done}")
                } else if sum.p50 >= 500.0 {
                    format!("throttled ~{:.1} s", sum.p50 / 1000.0)
                } else {
                    "kept up".to_owned()
                }
            } else {
                let mut t = s.timeouts().to_string();
                if s.skipped > 0 {
                    t.push_str(&format!(" (+{} skipped)", s.skipped));
                }
                t
            };
            let (r50, r99) = match ham {
                Some(h) if s.key != HAM => (ratio(h.p50, sum.p50), ratio(h.p99, sum.p99)),
                _ => ("-".to_owned(), "-".to_owned()),
            };
            let mut status = status;
            if let Some(n) = &s.note {
                status.push_str(&format!(" ({n})"));
            }
            t.row(vec![
                s.label.clone(),
                if crash {
                    done.to_string()
                } else {
                    s.ms.len().to_string()
                },
                ms(sum.p50, self.timeout),
                ms(sum.p99, self.timeout),
                ms(sum.max, self.timeout),
                status,
                r50,
                r99,
            ]);
        }
        t
    }

    fn big_table(&self) -> Table {
        let mut t = Table::new(
            &format!(
                "(b) restart after SIGKILL with {} entities monitored",
                self.entities
            ),
            &["ham", "kills", "p50 ms", "p99 ms", "max ms", "timeouts"],
        );
        let one = self.restart.iter().find(|s| s.key == HAM);
        for s in one.into_iter().chain(self.big.as_ref()) {
            if let Some(sum) = summarize(&s.ms) {
                t.row(vec![
                    s.label.clone(),
                    s.ms.len().to_string(),
                    ms(sum.p50, self.timeout),
                    ms(sum.p99, self.timeout),
                    ms(sum.max, self.timeout),
                    s.timeouts().to_string(),
                ]);
            }
        }
        t
    }

    fn heartbeat_table(&self) -> Table {
        let mut t = Table::new(
            "(c) period boundary -> missed-heartbeat action (notify_signal received)",
            &[
                "period ms",
                "signals",
                "boundaries",
                "p50 ms",
                "p99 ms",
                "max ms",
            ],
        );
        match &self.heartbeat {
            Some(Ok(h)) => {
                if let Some(sum) = summarize(&h.delays_ms) {
                    t.row(vec![
                        format!("{:.0}", h.period_ms),
                        h.delays_ms.len().to_string(),
                        h.boundaries.to_string(),
                        ms(sum.p50, self.timeout),
                        ms(sum.p99, self.timeout),
                        ms(sum.max, self.timeout),
                    ]);
                }
            }
            Some(Err(e)) => t.row(vec![
                e.clone(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
            ]),
            None => {}
        }
        t
    }

    fn idle_table(&self) -> Table {
        let window = self.idle.first().map_or(0.0, |u| u.window.as_secs_f64());
        let mut t = Table::new(
            &format!("(d) idle cost over {window:.0} s"),
            &[
                "daemon",
                "CPU % of one core",
                "RSS MiB",
                "peak RSS MiB",
                "threads",
            ],
        );
        for u in &self.idle {
            t.row(vec![
                u.label.clone(),
                format!("{:.3}", u.cpu_pct),
                format!("{:.1}", u.rss_kb as f64 / 1024.0),
                format!("{:.1}", u.hwm_kb as f64 / 1024.0),
                u.threads.to_string(),
            ]);
        }
        t
    }

    fn notify_table(&self) -> Table {
        let mut t = Table::new(
            "(e) heartbeats absorbed on the sd_notify socket",
            &["datagrams", "processed / s", "sent / s"],
        );
        match &self.notify {
            Some(Ok(n)) => t.row(vec![
                n.count.to_string(),
                format!("{:.0}", n.rate),
                format!("{:.0}", n.send_rate),
            ]),
            Some(Err(e)) => t.row(vec![e.clone(), "".into(), "".into()]),
            None => {}
        }
        t
    }

    fn verdicts(&self) -> Table {
        let mut t = Table::new("Targets", &["target", "measured", "verdict"]);
        let mut add = |target: &str, measured: String, pass: Option<bool>| {
            let v = match pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "n/a",
            };
            t.row(vec![target.to_owned(), measured, v.to_owned()]);
        };
        let tm = self.timeout;
        let ham = find(&self.restart, HAM);
        let floor = find(&self.restart, "floor");
        let runit = find(&self.restart, "runit");
        match (ham, floor) {
            (Some((_, h)), Some((_, f))) => add(
                "(a) p50 <= 1.25 x floor p50",
                format!(
                    "{} vs {} ms ({})",
                    ms(h.p50, tm),
                    ms(f.p50, tm),
                    ratio(h.p50, f.p50)
                ),
                Some(h.p50 <= 1.25 * f.p50),
            ),
            _ => add("(a) p50 <= 1.25 x floor p50", "not measured".into(), None),
        }
        match (ham, runit) {
            (Some((_, h)), Some((_, r))) => add(
                "(a) p50 < runit p50",
                format!(
                    "{} vs {} ms ({})",
                    ms(h.p50, tm),
                    ms(r.p50, tm),
                    ratio(h.p50, r.p50)
                ),
                Some(h.p50 < r.p50),
            ),
            _ => add("(a) p50 < runit p50", "not measured".into(), None),
        }
        match ham {
            Some((_, h)) => add(
                "(a) p99 <= 5 ms",
                format!("{} ms", ms(h.p99, tm)),
                Some(h.p99 <= 5.0),
            ),
            None => add("(a) p99 <= 5 ms", "not measured".into(), None),
        }
        match find(&self.crash, HAM) {
            Some((s, h)) => add(
                "(a') crash loop p99 <= 5 ms",
                format!("{} ms over {} restarts", ms(h.p99, tm), s.ms.len()),
                Some(h.p99 <= 5.0 && !s.gave_up),
            ),
            None => add("(a') crash loop p99 <= 5 ms", "not measured".into(), None),
        }
        match self.big.as_ref().and_then(|b| summarize(&b.ms)) {
            Some(b) => add(
                &format!("(b) p99 <= 10 ms with {} entities", self.entities),
                format!("{} ms", ms(b.p99, tm)),
                Some(b.p99 <= 10.0),
            ),
            None => add("(b) p99 <= 10 ms", "not measured".into(), None),
        }
        match &self.heartbeat {
            Some(Ok(h)) => {
                let p99 = summarize(&h.delays_ms).map_or(f64::INFINITY, |s| s.p99);
                add(
                    "(c) p99 <= 5 ms",
                    format!("{} ms", ms(p99, tm)),
                    Some(p99 <= 5.0),
                );
            }
            Some(Err(e)) => add("(c) p99 <= 5 ms", format!("error: {e}"), Some(false)),
            None => add("(c) p99 <= 5 ms", "not measured".into(), None),
        }
        match self.idle.first().filter(|u| u.label.contains("entities")) {
            Some(u) => {
                add(
                    "(d) idle CPU < 0.5% of one core",
                    format!("{:.3}%", u.cpu_pct),
                    Some(u.cpu_pct < 0.5),
                );
                add(
                    "(d) RSS < 50 MB",
                    format!("{:.1} MiB", u.rss_kb as f64 / 1024.0),
                    Some(u.rss_kb * 1024 < 50_000_000),
                );
            }
            None => add("(d) idle CPU and RSS", "not measured".into(), None),
        }
        match &self.notify {
            Some(Ok(n)) => add(
                "(e) >= 200,000 heartbeats/s",
                format!("{:.0}/s", n.rate),
                Some(n.rate >= 200_000.0),
            ),
            Some(Err(e)) => add(
                "(e) >= 200,000 heartbeats/s",
                format!("error: {e}"),
                Some(false),
            ),
            None => add("(e) >= 200,000 heartbeats/s", "not measured".into(), None),
        }
        let burst = ham_core::model::PacingPolicy::default().burst as usize;
        match &self.pacing {
            Some(Ok(steps)) => {
                let never_early = steps.iter().all(|s| s.ms >= s.rule_ms);
                let first = steps.iter().take(burst).map(|s| s.ms).fold(0.0, f64::max);
                add(
                    "(f) the first 5 restarts at once, then never before the rule's delay",
                    format!(
                        "first {burst}: max {} ms; {}",
                        ms(first, tm),
                        if never_early {
                            "none early"
                        } else {
                            "some early"
                        }
                    ),
                    Some(never_early && first <= 5.0),
                );
            }
            Some(Err(e)) => add("(f) paced crash loop", format!("error: {e}"), Some(false)),
            None => add("(f) paced crash loop", "not measured".into(), None),
        }
        match &self.storm {
            Some(Ok(st)) => {
                let med = |v: Vec<f64>| summarize(&v).map_or(f64::NAN, |s| s.p50);
                let h = med(st.ham.iter().map(|r| r.last_ms).collect());
                let b = med(st.bare.iter().map(|r| r.last_ms).collect());
                add(
                    "(g) storm: last replacement <= 1.5 x bare loop",
                    format!("{} vs {} ms ({})", ms(h, tm), ms(b, tm), ratio(h, b)),
                    Some(h <= 1.5 * b),
                );
            }
            Some(Err(e)) => add("(g) death storm", format!("error: {e}"), Some(false)),
            None => add("(g) death storm", "not measured".into(), None),
        }
        t
    }

    fn tables(&self) -> Vec<Table> {
        let mut out = vec![self.restart_table(
            "(a) restart after SIGKILL (kill -> replacement's exec done)",
            &self.restart,
            false,
        )];
        if self.big.is_some() {
            out.push(self.big_table());
        }
        if !self.crash.is_empty() {
            out.push(self.restart_table(
                "(a') crash loop (each instance killed as soon as it reports)",
                &self.crash,
                true,
            ));
        }
        if self.heartbeat.is_some() {
            out.push(self.heartbeat_table());
        }
        if !self.idle.is_empty() {
            out.push(self.idle_table());
        }
        if self.notify.is_some() {
            out.push(self.notify_table());
        }
        if self.pacing.is_some() {
            out.push(self.pacing_table());
        }
        if self.storm.is_some() {
            out.push(self.storm_table());
        }
        out.push(self.verdicts());
        out
    }

    /// Every sample, one `scenario<TAB>supervisor<TAB>ms` line each.
    pub fn raw(&self) -> String {
        let mut out = String::new();
        let mut put = |scenario: &str, label: &str, values: &[f64]| {
            for v in values {
                out.push_str(&format!("{scenario}\t{label}\t{v:.4}\n"));
            }
        };
        for s in &self.restart {
            put("a", &s.label, &s.ms);
        }
        if let Some(s) = &self.big {
            put("b", &s.label, &s.ms);
        }
        for s in &self.crash {
            put("a'", &s.label, &s.ms);
        }
        if let Some(Ok(h)) = &self.heartbeat {
            put("c", "ham", &h.delays_ms);
        }
        if let Some(Ok(steps)) = &self.pacing {
            let v: Vec<f64> = steps.iter().map(|s| s.ms).collect();
            put("f", "ham", &v);
        }
        if let Some(Ok(st)) = &self.storm {
            let last = |rs: &[crate::measure::pacing::Round]| {
                rs.iter().map(|r| r.last_ms).collect::<Vec<_>>()
            };
            put("g", "ham", &last(&st.ham));
            put("g", "bare loop", &last(&st.bare));
        }
        out
    }

    fn pacing_table(&self) -> Table {
        let mut t = Table::new(
            "(f) crash loop under the default pacing (ham: 5 in 10 s at once, then 100 ms doubling)",
            &[
                "restart",
                "kill to running ms",
                "rule's delay ms",
                "late by ms",
            ],
        );
        match &self.pacing {
            Some(Ok(steps)) => {
                for (i, s) in steps.iter().enumerate() {
                    t.row(vec![
                        (i + 1).to_string(),
                        ms(s.ms, Duration::from_secs(35)),
                        format!("{:.0}", s.rule_ms),
                        ms(s.ms - s.rule_ms, Duration::from_secs(35)),
                    ]);
                }
            }
            Some(Err(e)) => t.row(vec!["-".into(), e.clone(), "".into(), "".into()]),
            None => {}
        }
        t
    }

    fn storm_table(&self) -> Table {
        let mut t = Table::new(
            "(g) death storm: N entities killed at once vs a bare loop of N starts (medians over rounds)",
            &[
                "what",
                "N",
                "rounds",
                "median start ms",
                "last start ms",
                "last / bare",
            ],
        );
        match &self.storm {
            Some(Ok(st)) => {
                let med = |v: Vec<f64>| summarize(&v).map_or(f64::NAN, |s| s.p50);
                let bare_last = med(st.bare.iter().map(|r| r.last_ms).collect());
                for (label, rs) in [
                    ("ham (SIGKILL all)", &st.ham),
                    ("bare spawn loop", &st.bare),
                ] {
                    let last = med(rs.iter().map(|r| r.last_ms).collect());
                    t.row(vec![
                        label.to_owned(),
                        st.n.to_string(),
                        rs.len().to_string(),
                        ms(med(rs.iter().map(|r| r.p50_ms).collect()), self.timeout),
                        ms(last, self.timeout),
                        ratio(last, bare_last),
                    ]);
                }
            }
            Some(Err(e)) => t.row(vec![
                "ham".into(),
                "".into(),
                "".into(),
                e.clone(),
                "".into(),
                "".into(),
            ]),
            None => {}
        }
        t
    }

    /// The terminal report followed by the same figures as Markdown.
    pub fn render(&self) -> String {
        let tables = self.tables();
        let mut out = String::new();
        for line in self.header.iter().chain(&self.notes) {
            out.push_str(line);
            out.push('\n');
        }
        for t in &tables {
            out.push('\n');
            out.push_str(&t.text());
        }
        out.push_str("\n----- Markdown for docs/benchmarks.md -----\n\n");
        for line in self.header.iter().chain(&self.notes) {
            out.push_str(&format!("- {line}\n"));
        }
        for t in &tables {
            out.push_str(&format!("\n#### {}\n\n{}", t.title, t.markdown()));
        }
        out
    }
}
