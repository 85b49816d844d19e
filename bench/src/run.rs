//! The whole run: start every supervisor with a probe under it, measure
//! (d) while all is quiet, then (a)+(b) interleaved, (a'), (c) and (e),
//! and clean everything up whatever happens.

use crate::about;
use crate::collector::Collector;
use crate::config::Config;
use crate::measure::restart::{self, Series};
use crate::measure::{heartbeat, idle, notify, pacing};
use crate::procs;
use crate::report::Results;
use crate::supervisors::ham::{HamDaemon, attach_idle};
use crate::supervisors::supervisord::StartSecs;
use crate::supervisors::{Env, Supervised, reference, runit, s6, supervisord};
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

/// Kills every process of the run and removes its directory when dropped
/// (normal end, error or panic).
struct CleanupGuard;

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        procs::cleanup();
    }
}

/// Runs the benchmark and prints the report.
pub fn run(cfg: Config) -> anyhow::Result<()> {
    // Before any thread exists, so that every thread has it blocked.
    heartbeat::block_signal()?;
    let tmp = tempfile::Builder::new().prefix("ham-bench.").tempdir()?;
    let dir = if cfg.keep {
        let kept = tmp.keep();
        eprintln!("keeping {}", kept.display());
        kept
    } else {
        tmp.path().to_owned()
    };
    procs::init((!cfg.keep).then_some(dir.as_path()))?;
    let _guard = CleanupGuard;
    let mut lab = Lab::new(&cfg, &dir)?;
    if cfg.quick {
        lab.r.notes.push(
            "quick run (smoke test): too few samples for the percentiles and verdicts to mean much"
                .to_owned(),
        );
    }
    lab.start_all()?;
    lab.idle()?;
    lab.restarts()?;
    lab.crash_loops()?;
    lab.heartbeat();
    lab.notify();
    lab.pacing();
    lab.storm();
    lab.check_alive();
    if let Some(path) = &cfg.raw {
        std::fs::write(path, lab.r.raw())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    print!("{}", lab.r.render());
    Ok(())
}

/// SIGINT, SIGTERM or SIGHUP: clean up and exit.
async fn exit_on_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
    eprintln!("ham-bench: interrupted; stopping every process of the run");
    procs::cleanup();
    std::process::exit(130);
}

/// Everything the phases share.
struct Lab<'a> {
    cfg: &'a Config,
    dir: PathBuf,
    rt: Runtime,
    collector: Collector,
    env: Env,
    sleep: PathBuf,
    /// Supervisors with a probe under them, in kill order.
    sups: Vec<Supervised>,
    /// Supervisors that could not be started, as empty rows.
    missing: Vec<Series>,
    /// The ham of (a), (a'), (c), (e).
    ham: Option<HamDaemon>,
    /// The ham of (b) and (d), with many entities.
    big: Option<HamDaemon>,
    r: Results,
}

impl<'a> Lab<'a> {
    fn new(cfg: &'a Config, dir: &Path) -> anyhow::Result<Lab<'a>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        rt.spawn(exit_on_signal());
        let collector = Collector::bind(&dir.join("reports.sock"))?;
        let env = Env {
            exe: std::env::current_exe()?,
            dir: dir.to_owned(),
            report_socket: collector.path().to_owned(),
            start_timeout: Duration::from_secs(15),
        };
        Ok(Lab {
            cfg,
            dir: dir.to_owned(),
            rt,
            collector,
            env,
            sleep: procs::find_program("sleep").context("no sleep program")?,
            sups: Vec::new(),
            missing: Vec::new(),
            ham: None,
            big: None,
            r: Results {
                header: about::header(cfg),
                timeout: cfg.timeout,
                entities: cfg.entities,
                ..Results::default()
            },
        })
    }

    /// Keeps a started supervisor, or notes why it did not start.
    fn keep(&mut self, started: anyhow::Result<Supervised>, label: &str, key: &str) {
        match started {
            Ok(s) => self.sups.push(s),
            Err(e) => {
                eprintln!("  {label}: {e:#}");
                self.missing
                    .push(Series::missing(label, key, format!("{e:#}")));
            }
        }
    }

    fn start_all(&mut self) -> anyhow::Result<()> {
        let cfg = self.cfg;
        eprintln!("starting the supervisors");
        if cfg.has("floor") {
            let s = reference::start(&self.env, &mut self.collector);
            self.keep(s, "floor", "floor");
        }
        if cfg.has("ham") || cfg.has("heartbeat") || cfg.has("notify") || cfg.has("pacing") {
            let h =
                HamDaemon::start(&self.rt, cfg, self.dir.join("ham-1")).context("starting ham")?;
            if cfg.has("ham") {
                let s =
                    h.supervise_probe(&self.rt, &self.env, &mut self.collector, "ham", "ham")?;
                self.sups.push(s);
            }
            self.ham = Some(h);
        }
        if cfg.has("ham1000") || cfg.has("idle") {
            self.start_big()?;
        }
        if cfg.has("runit") {
            let s = runit::start(&self.env, &mut self.collector);
            self.keep(s, "runit (runsv)", "runit");
        }
        if cfg.has("s6") {
            let s = s6::start(&self.env, &mut self.collector, false);
            self.keep(s, "s6 (s6-supervise)", "s6");
        }
        if cfg.has("s6ready") {
            let s = s6::start(&self.env, &mut self.collector, true);
            self.keep(s, "s6 (readiness notification)", "s6ready");
        }
        if cfg.has("supervisord") {
            let s = supervisord::start(&self.env, &mut self.collector, StartSecs::Zero);
            self.keep(s, "supervisord (startsecs=0)", "supervisord");
        }
        Ok(())
    }

    /// The ham of (b) and (d): N-1 idle `sleep`s, then the probe.
    fn start_big(&mut self) -> anyhow::Result<()> {
        let h = HamDaemon::start(&self.rt, self.cfg, self.dir.join("ham-big"))
            .context("starting ham")?;
        let n = self.cfg.entities - 1;
        let line = format!("{} 86400", self.sleep.display());
        let t0 = Instant::now();
        self.rt
            .block_on(attach_idle(&h.client, &line, n, 16))
            .context("attaching the idle entities")?;
        self.r.notes.push(format!(
            "set-up: {n} idle `sleep` entities (attach + death condition + restart action each) attached in {:.1} s, 16 in flight",
            t0.elapsed().as_secs_f64()
        ));
        let label = format!("ham, {} entities", self.cfg.entities);
        let s = h.supervise_probe(&self.rt, &self.env, &mut self.collector, &label, "ham1000")?;
        if self.cfg.has("ham1000") {
            self.sups.push(s);
        }
        self.big = Some(h);
        Ok(())
    }

    /// (d): every daemon over the same quiet window.
    fn idle(&mut self) -> anyhow::Result<()> {
        let (Some(big), true) = (&self.big, self.cfg.has("idle")) else {
            return Ok(());
        };
        let settle = if self.cfg.quick { 1 } else { 5 };
        eprintln!("(d) idle: {settle} s to settle, then {:?}", self.cfg.idle);
        std::thread::sleep(Duration::from_secs(settle));
        let mut daemons = vec![(format!("ham, {} entities", self.cfg.entities), big.pid)];
        if let Some(h) = &self.ham {
            daemons.push(("ham, 1 entity".to_owned(), h.pid));
        }
        for s in self.sups.iter().filter(|s| !s.tag.starts_with("ham")) {
            daemons.push((format!("{}, 1 entity", s.label), s.daemon_pid));
        }
        self.r.idle = idle::measure(&daemons, self.cfg.idle)?;
        Ok(())
    }

    /// (a) and (b), interleaved.
    fn restarts(&mut self) -> anyhow::Result<()> {
        let cfg = self.cfg;
        if cfg.kills == 0 || self.sups.is_empty() {
            return Ok(());
        }
        eprintln!(
            "(a)+(b): {} kills per supervisor, {:?} apart, {} supervisors interleaved",
            cfg.kills,
            cfg.spacing,
            self.sups.len()
        );
        let load = procs::CpuTimes::read();
        let series = restart::interleaved(
            &mut self.collector,
            &mut self.sups,
            cfg.kills,
            cfg.spacing,
            cfg.timeout,
        )?;
        let (busy, steal) = procs::CpuTimes::read().since(&load);
        for s in series {
            if s.key == "ham1000" {
                self.r.big = Some(s);
            } else {
                self.r.restart.push(s);
            }
        }
        self.r.restart.extend(self.missing.iter().cloned());
        self.r.notes.push(format!(
            "machine load during (a)+(b): {busy:.1}% busy, {steal:.1}% steal, of all cores (the benchmark's own processes are a small part: one restart at a time)"
        ));
        Ok(())
    }

    /// (a'): one supervisor after the other.
    fn crash_loops(&mut self) -> anyhow::Result<()> {
        let cfg = self.cfg;
        if cfg.crash_loop == 0 {
            return Ok(());
        }
        eprintln!("(a'): crash loops of {}", cfg.crash_loop);
        for s in self.sups.iter_mut() {
            eprintln!("  {}", s.label);
            let series = restart::crash_loop(&mut self.collector, s, cfg.crash_loop, cfg.timeout)?;
            self.r.crash.push(series);
        }
        if cfg.has("supervisord") && !cfg.quick {
            eprintln!("  supervisord (default startsecs=1)");
            match supervisord::start(&self.env, &mut self.collector, StartSecs::Default) {
                Ok(mut s) => {
                    let series = restart::crash_loop(
                        &mut self.collector,
                        &mut s,
                        cfg.crash_loop,
                        cfg.timeout,
                    )?;
                    self.r.crash.push(series);
                }
                Err(e) => self
                    .r
                    .notes
                    .push(format!("supervisord (default startsecs): {e:#}")),
            }
        }
        self.r.crash.extend(self.missing.iter().cloned());
        Ok(())
    }

    /// (c); a failure is reported in its table, not fatal.
    fn heartbeat(&mut self) {
        let (Some(h), true) = (&self.ham, self.cfg.has("heartbeat")) else {
            return;
        };
        let cfg = self.cfg;
        eprintln!(
            "(c): {} heartbeat boundaries of {:?}",
            cfg.hb_trials, cfg.hb_period
        );
        let got = heartbeat::run(&self.rt, h, &self.sleep, cfg.hb_period, cfg.hb_trials);
        self.r.heartbeat = Some(got.map_err(|e| format!("{e:#}")));
    }

    /// (e); a failure is reported in its table, not fatal.
    fn notify(&mut self) {
        let (Some(h), true) = (&self.ham, self.cfg.has("notify")) else {
            return;
        };
        eprintln!("(e): {} heartbeats", self.cfg.blast);
        let got = notify::run(&self.rt, h, &self.env.exe, self.cfg.blast);
        self.r.notify = Some(got.map_err(|e| format!("{e:#}")));
    }

    /// (f); a failure is reported in its table, not fatal.
    fn pacing(&mut self) {
        let (Some(h), true) = (&self.ham, self.cfg.has("pacing")) else {
            return;
        };
        eprintln!("(f): a paced crash loop of {}", self.cfg.paced_kills);
        let got = pacing::curve(
            &self.rt,
            h,
            &self.env,
            &mut self.collector,
            self.cfg.paced_kills,
        );
        self.r.pacing = Some(got.map_err(|e| format!("{e:#}")));
    }

    /// (g), on a ham of its own; a failure is reported in its table, not fatal.
    fn storm(&mut self) {
        if !self.cfg.has("storm") {
            return;
        }
        let cfg = self.cfg;
        eprintln!(
            "(g): {} storms of {} entities killed at once",
            cfg.storm_rounds, cfg.storm
        );
        let got = HamDaemon::start(&self.rt, cfg, self.dir.join("ham-storm")).and_then(|h| {
            pacing::storm(
                &self.rt,
                &h,
                &self.env,
                &mut self.collector,
                cfg.storm,
                cfg.storm_rounds,
            )
        });
        self.r.storm = Some(got.map_err(|e| format!("{e:#}")));
    }

    /// Notes a ham daemon that died during the run.
    fn check_alive(&mut self) {
        for h in self.ham.iter().chain(&self.big) {
            if !procs::alive(h.pid) {
                self.r.notes.push(format!(
                    "ham (pid {}) died during the run; its log ends with: {}",
                    h.pid,
                    procs::tail(&h.log)
                ));
            }
        }
    }
}
