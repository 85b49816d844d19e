//! The printed report: plain-text tables, and the targets with a verdict.

use crate::failover::Failover;
use crate::notify::NotifyRun;
use crate::stats::{Summary, ms};
use crate::writes::WriteRun;

/// A table with right-aligned cells (the first column left-aligned).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| (*s).to_owned()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (i, r) in self.rows.iter().enumerate() {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    if c == 0 {
                        format!("{s:<w$}", w = width[c])
                    } else {
                        format!("{s:>w$}", w = width[c])
                    }
                })
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = width.iter().map(|&w| "-".repeat(w)).collect();
                out.push_str(&rule.join("-|-"));
                out.push('\n');
            }
        }
        out
    }
}

/// The write runs of one concurrency (`None` = not measured).
#[derive(Debug, Default)]
pub struct WriteRow {
    pub clients: usize,
    /// Every write a new entity (the state grows).
    pub ham: Option<WriteRun>,
    /// Create/detach pairs (the state stays small).
    pub ham_bounded: Option<WriteRun>,
    pub etcd: Option<WriteRun>,
}

/// Everything measured in one run (`None` = not measured).
#[derive(Debug, Default)]
pub struct Results {
    pub fsync: Option<Summary>,
    pub writes: Vec<WriteRow>,
    pub failover: Option<Failover>,
    pub notify: Option<NotifyRun>,
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

/// "min-max" of per-run rates.
fn range(rates: &[f64]) -> String {
    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rates.iter().copied().fold(0.0, f64::max);
    if rates.is_empty() {
        String::new()
    } else {
        format!("{min:.0}-{max:.0}")
    }
}

fn rate(w: &WriteRun) -> String {
    format!("{:.0}", w.per_sec())
}

/// A target line: what, the measured value, the verdict.
struct Target {
    what: String,
    measured: String,
    pass: Option<bool>,
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "n/a",
    }
}

impl Results {
    fn write_table(&self) -> String {
        let mut t = Table::new(&[
            "clients",
            "system",
            "writes/s",
            "runs: min-max",
            "p50 ms",
            "p99 ms",
            "max ms",
            "retries",
            "server CPU",
            "client CPU",
        ]);
        for row in &self.writes {
            let (c, ham, etcd) = (&row.clients, &row.ham, &row.etcd);
            let systems = [
                ("ham", ham),
                ("ham, bounded state", &row.ham_bounded),
                ("etcd", etcd),
            ];
            for (name, w) in systems {
                if let Some(w) = w {
                    t.row(vec![
                        c.to_string(),
                        name.to_owned(),
                        rate(w),
                        range(&w.rates),
                        f2(ms(w.latency.p50)),
                        f2(ms(w.latency.p99)),
                        f2(ms(w.latency.max)),
                        w.retries.to_string(),
                        format!("{:.0}%", w.server_cores * 100.0),
                        format!("{:.0}%", w.client_cores * 100.0),
                    ]);
                }
            }
            if let (Some(h), Some(e)) = (ham, etcd) {
                t.row(vec![
                    c.to_string(),
                    "ham/etcd".to_owned(),
                    f2(h.per_sec() / e.per_sec().max(1e-9)),
                    String::new(),
                    f2(h.latency.p50 as f64 / (e.latency.p50.max(1)) as f64),
                    f2(h.latency.p99 as f64 / (e.latency.p99.max(1)) as f64),
                    f2(h.latency.max as f64 / (e.latency.max.max(1)) as f64),
                    String::new(),
                    f2(h.server_cores / e.server_cores.max(1e-9)),
                    String::new(),
                ]);
            }
        }
        t.render()
    }

    fn targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        // The write targets use the largest concurrency measured (64 in a normal run).
        let top = self.writes.iter().max_by_key(|r| r.clients);
        let c = top.map_or(64, |r| r.clients);
        let ham = top.and_then(|r| r.ham.as_ref());
        let etcd = top.and_then(|r| r.etcd.as_ref());
        out.push(Target {
            what: format!("ham writes/s with {c} clients >= 5000"),
            measured: ham.map_or("-".into(), rate),
            pass: ham.map(|h| h.per_sec() >= 5000.0),
        });
        out.push(Target {
            what: format!("ham p99 with {c} clients <= 20 ms"),
            measured: ham.map_or("-".into(), |h| format!("{} ms", f2(ms(h.latency.p99)))),
            pass: ham.map(|h| h.latency.p99 <= 20_000_000),
        });
        // Throughput against etcd at every concurrency measured (1, 8 and 64 in a normal run).
        let mut by_clients: Vec<_> = self.writes.iter().collect();
        by_clients.sort_by_key(|r| r.clients);
        for r in by_clients {
            let both = r.ham.as_ref().zip(r.etcd.as_ref());
            out.push(Target {
                what: format!("ham writes/s >= etcd's ({} clients)", r.clients),
                measured: both.map_or("-".into(), |(h, e)| format!("{} vs {}", rate(h), rate(e))),
                pass: both.map(|(h, e)| h.per_sec() >= e.per_sec()),
            });
        }
        let both = ham.zip(etcd);
        out.push(Target {
            what: format!("ham p99 <= etcd's ({c} clients)"),
            measured: both.map_or("-".into(), |(h, e)| {
                format!("{} vs {} ms", f2(ms(h.latency.p99)), f2(ms(e.latency.p99)))
            }),
            pass: both.map(|(h, e)| h.latency.p99 <= e.latency.p99),
        });
        let fo = self.failover.as_ref().map(|f| f.summary);
        out.push(Target {
            what: "failover p50 <= 1 s".into(),
            measured: fo.map_or("-".into(), |s| format!("{:.0} ms", ms(s.p50))),
            pass: fo.map(|s| s.p50 <= 1_000_000_000),
        });
        out.push(Target {
            what: "failover max <= 2 s".into(),
            measured: fo.map_or("-".into(), |s| format!("{:.0} ms", ms(s.max))),
            pass: fo.map(|s| s.max <= 2_000_000_000),
        });
        let n = self.notify.as_ref();
        out.push(Target {
            what: "cross-node notification p99 <= 10 ms, none lost".into(),
            measured: n.map_or("-".into(), |n| {
                format!("{} ms, {} lost", f2(ms(n.summary.p99)), n.lost)
            }),
            pass: n.map(|n| n.summary.p99 <= 10_000_000 && n.lost == 0),
        });
        out
    }

    /// The whole report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(f) = &self.fsync {
            out.push_str(&format!(
                "Disk floor, 4 KiB append + fdatasync ({} samples): p50 {} ms, p99 {} ms\n\n",
                f.n,
                f2(ms(f.p50)),
                f2(ms(f.p99))
            ));
        }
        if !self.writes.is_empty() {
            out.push_str(
                "Committed writes (3 nodes / 3 members, fresh for each run; client i on node i mod 3,\n\
                 the leader first; runs pooled; CPU in % of one core over the measured windows)\n",
            );
            out.push_str(&self.write_table());
            out.push('\n');
        }
        let mut t = Table::new(&["latency", "trials", "p50 ms", "p99 ms", "min ms", "max ms"]);
        if let Some(f) = &self.failover {
            let s = f.summary;
            t.row(vec![
                "failover: kill -9 leader -> first committed write".into(),
                s.n.to_string(),
                f1(ms(s.p50)),
                f1(ms(s.p99)),
                f1(ms(s.min)),
                f1(ms(s.max)),
            ]);
        }
        if let Some(f) = self.failover.as_ref().filter(|f| !f.single.is_empty()) {
            let s = Summary::of(f.single.iter().map(|x| x.0).collect());
            let failed = f.single.iter().filter(|x| x.1.is_some()).count();
            t.row(vec![
                "failover: one write sent at the kill, waited for".into(),
                format!("{} ({failed} failed)", s.n),
                f1(ms(s.p50)),
                f1(ms(s.p99)),
                f1(ms(s.min)),
                f1(ms(s.max)),
            ]);
        }
        if let Some(n) = &self.notify {
            let s = n.summary;
            t.row(vec![
                "notification: death on n1 -> SIGUSR1 on n2".into(),
                format!(
                    "{}{}",
                    s.n,
                    if n.lost > 0 {
                        format!(" (+{} lost)", n.lost)
                    } else {
                        String::new()
                    }
                ),
                f2(ms(s.p50)),
                f2(ms(s.p99)),
                f2(ms(s.min)),
                f2(ms(s.max)),
            ]);
        }
        if self.failover.is_some() || self.notify.is_some() {
            out.push_str(&t.render());
            out.push('\n');
        }
        let mut t = Table::new(&["target", "measured", "verdict"]);
        for g in self.targets() {
            t.row(vec![g.what, g.measured, verdict(g.pass).to_owned()]);
        }
        out.push_str(&t.render());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(&["a", "bb"]);
        t.row(vec!["long name".into(), "1".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "a         | bb");
        assert_eq!(lines[1], "----------|---");
        assert_eq!(lines[2], "long name |  1");
    }
}
