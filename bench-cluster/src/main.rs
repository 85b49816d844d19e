//! `ham-bench-cluster`: ham as a 3-node cluster on one machine, against a
//! 3-member etcd cluster where it makes sense. Prints one table:
//!
//! 1. committed writes per second and p50/p99 latency with 1, 8 and 64 clients,
//!    ham and etcd, and the ratios; plus ham with a bounded state (each
//!    client creates and detaches one entity in turn), which isolates what
//!    the growing state costs;
//! 2. failover: kill -9 of the ham leader to the first committed write;
//! 3. cross-node notification: a death on node A to a signal on node B;
//!
//! then the targets with PASS/FAIL. Everything it starts (ham nodes, etcd
//! members, helper processes) is killed and its temporary directory removed
//! at the end, also on error, Ctrl-C or SIGTERM.
//!
//! The binary has two helper modes used by the notification benchmark:
//! `receiver SOCK` and `victim SOCK` (see `probe.rs`).

mod cluster;
mod etcd;
mod failover;
mod notify;
mod probe;
mod procs;
mod stats;
mod table;
mod writes;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use cluster::HamCluster;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use writes::{Kind, Target};

/// Cluster benchmarks of ham: writes (vs etcd), failover, cross-node notification.
#[derive(Debug, Parser)]
#[command(name = "ham-bench-cluster")]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
    /// Smoke run: one 1 s run per write case, 3 failovers, 20 notifications.
    #[arg(long)]
    quick: bool,
    /// Seconds measured per write run [default: 10; 1 with --quick].
    #[arg(long)]
    duration: Option<f64>,
    /// Concurrent clients of the write runs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Failover trials [default: 20; 3 with --quick].
    #[arg(long)]
    failover_trials: Option<usize>,
    /// Notification trials [default: 200; 20 with --quick].
    #[arg(long)]
    notify_trials: Option<usize>,
    /// Run only these parts (comma-separated: writes, failover, notify).
    #[arg(long, value_delimiter = ',')]
    only: Vec<Part>,
    /// Skip etcd (no comparison).
    #[arg(long)]
    no_etcd: bool,
    /// The etcd binary [default: etcd from PATH].
    #[arg(long)]
    etcd: Option<PathBuf>,
    /// The ham binary [default: `ham` next to this binary].
    #[arg(long)]
    ham: Option<PathBuf>,
    /// An extra argument for every ham node (repeatable), e.g. --ham-arg=-v.
    #[arg(long, allow_hyphen_values = true)]
    ham_arg: Vec<String>,
    /// Keep the temporary directory (every cluster's logs and data) and print its path.
    #[arg(long)]
    keep: bool,
    /// Write runs per system and concurrency, alternating ham and etcd,
    /// pooled [default: 3; 1 with --quick].
    #[arg(long)]
    reps: Option<usize>,
    /// Skip the ham runs with a bounded state (create/detach pairs).
    #[arg(long)]
    no_churn: bool,
    /// Print each write run's per-second writes, p99 and max.
    #[arg(long)]
    timeline: bool,
    /// Print every trial.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    Writes,
    Failover,
    Notify,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Helper: wait for SIGUSR1 and report its arrival to SOCK.
    Receiver { sock: PathBuf },
    /// Helper: report the pid to SOCK, then wait to be killed.
    Victim { sock: PathBuf },
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The helper modes run before any thread exists (the receiver's signal mask).
    let helper = match &args.mode {
        Some(Mode::Receiver { sock }) => Some(probe::receiver(sock)),
        Some(Mode::Victim { sock }) => Some(probe::victim(sock)),
        None => None,
    };
    match helper {
        Some(Ok(())) => return ExitCode::SUCCESS,
        Some(Err(e)) => {
            eprintln!("ham-bench-cluster: {e:#}");
            return ExitCode::FAILURE;
        }
        None => {}
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ham-bench-cluster: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Dropping the benchmark's future (on a signal) drops the clusters it
    // holds, which kills their processes; the temporary directory goes last.
    let res = rt.block_on(async {
        tokio::select! {
            r = bench(&args) => r,
            s = interrupted() => Err(anyhow::anyhow!("interrupted by {s}")),
        }
    });
    drop(rt);
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ham-bench-cluster: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT, SIGTERM or SIGHUP.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// `name` in PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// The settings of one run, after --quick and the defaults.
struct Plan {
    reps: usize,
    warmup: Duration,
    duration: Duration,
    failover_trials: usize,
    notify_trials: usize,
    notify_gap: Duration,
}

impl Plan {
    fn of(args: &Args) -> Result<Plan> {
        let secs = args.duration.unwrap_or(if args.quick { 1.0 } else { 10.0 });
        if !(0.1..=3600.0).contains(&secs) {
            bail!("--duration must be between 0.1 and 3600 s");
        }
        Ok(Plan {
            reps: args.reps.unwrap_or(if args.quick { 1 } else { 3 }).max(1),
            warmup: Duration::from_millis(if args.quick { 200 } else { 1000 }),
            duration: Duration::from_secs_f64(secs),
            failover_trials: args
                .failover_trials
                .unwrap_or(if args.quick { 3 } else { 20 }),
            notify_trials: args
                .notify_trials
                .unwrap_or(if args.quick { 20 } else { 200 }),
            notify_gap: Duration::from_millis(100),
        })
    }
}

fn wants(args: &Args, part: Part) -> bool {
    args.only.is_empty() || args.only.contains(&part)
}

async fn bench(args: &Args) -> Result<()> {
    let plan = Plan::of(args)?;
    let exe = std::env::current_exe().context("cannot find this binary")?;
    let ham = match &args.ham {
        Some(p) => p.clone(),
        None => exe.with_file_name("ham"),
    };
    if !ham.is_file() {
        bail!(
            "no ham binary at {} (cargo build --release --bins -p ham-node-agent)",
            ham.display()
        );
    }
    let etcd = if args.no_etcd || !wants(args, Part::Writes) {
        None
    } else {
        let e = args.etcd.clone().or_else(|| which("etcd"));
        Some(e.context("no etcd in PATH (apt-get install etcd-server, or --no-etcd)")?)
    };
    let tmp = tempfile::Builder::new()
        .prefix("ham-bench-cluster.")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let dir = tmp.path();
    print_header(&plan, args, etcd.as_deref());

    let mut results = table::Results::default();
    // The disk's floor is sampled before every write run (the disk of a VM
    // varies over minutes), and ham and etcd runs alternate for the same reason.
    let mut floor = writes::fsync_floor(dir.to_owned(), 100).await?;
    if wants(args, Part::Writes) {
        let pool = |v: Vec<writes::WriteRun>| (!v.is_empty()).then(|| writes::WriteRun::pool(v));
        for &c in &args.clients {
            let (mut h, mut b, mut e) = (Vec::new(), Vec::new(), Vec::new());
            for rep in 0..plan.reps {
                floor.extend(writes::fsync_floor(dir.to_owned(), 100).await?);
                h.push(ham_writes(args, &ham, dir, Kind::Create, c, rep, &plan).await?);
                if !args.no_churn {
                    floor.extend(writes::fsync_floor(dir.to_owned(), 100).await?);
                    b.push(ham_writes(args, &ham, dir, Kind::Churn, c, rep, &plan).await?);
                }
                if let Some(etcd) = &etcd {
                    floor.extend(writes::fsync_floor(dir.to_owned(), 100).await?);
                    e.push(etcd_writes(args, etcd, dir, c, rep, &plan).await?);
                }
            }
            results.writes.push(table::WriteRow {
                clients: c,
                ham: pool(h),
                ham_bounded: pool(b),
                etcd: pool(e),
            });
        }
    }
    results.fsync = Some(stats::Summary::of(floor));
    if wants(args, Part::Failover) && plan.failover_trials > 0 {
        let d = fresh(dir, "ham-failover")?;
        eprintln!("failover: {} trials", plan.failover_trials);
        let mut cluster = HamCluster::start(&ham, &d, 3, &args.ham_arg).await?;
        results.failover =
            Some(failover::run(&mut cluster, plan.failover_trials, args.verbose).await?);
    }
    if wants(args, Part::Notify) && plan.notify_trials > 0 {
        let d = fresh(dir, "ham-notify")?;
        eprintln!("notification: {} trials", plan.notify_trials);
        let cluster = HamCluster::start(&ham, &d, 3, &args.ham_arg).await?;
        results.notify =
            Some(notify::run(&cluster, &exe, &d, plan.notify_trials, plan.notify_gap).await?);
    }
    println!();
    print!("{}", results.render());
    if args.keep {
        println!("\nkept {}", tmp.keep().display());
    }
    Ok(())
}

fn print_header(plan: &Plan, args: &Args, etcd: Option<&Path>) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "ham-bench-cluster{}: 3 ham nodes on 127.0.0.1..3 (fsync on), {cpus} CPUs",
        if args.quick { " --quick" } else { "" }
    );
    println!(
        "writes: {} x {:.1} s per system and concurrency (after {:.1} s warm-up each), clients {:?}; \
         failover: {} trials; notification: {} trials",
        plan.reps,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        args.clients,
        plan.failover_trials,
        plan.notify_trials
    );
    match etcd {
        Some(e) => println!(
            "etcd: {} (3 members on 127.0.0.1, default fsync)",
            e.display()
        ),
        None => println!("etcd: not run"),
    }
}

/// The members with the leader first: client i uses member i mod 3, so a
/// single client talks to the leader, and 64 spread evenly (22 on the leader).
fn leader_first<T>(members: &[T], leader: usize) -> Vec<&T> {
    let mut v: Vec<&T> = members.iter().collect();
    v.rotate_left(leader);
    v
}

/// A new empty directory `dir/name`.
fn fresh(dir: &Path, name: &str) -> Result<PathBuf> {
    let d = dir.join(name);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Prints one run's result (and its timeline when asked).
fn progress(system: &str, clients: usize, rep: usize, run: &writes::WriteRun, timeline: bool) {
    eprintln!(
        "{system}, {clients} clients, run {}: {:.0} writes/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        rep + 1,
        run.per_sec(),
        stats::ms(run.latency.p50),
        stats::ms(run.latency.p99),
        stats::ms(run.latency.max)
    );
    if timeline {
        for (sec, n, p99, max) in run.timeline() {
            eprintln!(
                "    second {sec}: {n} writes, p99 {:.2} ms, max {:.2} ms",
                stats::ms(p99),
                stats::ms(max)
            );
        }
    }
}

/// One write run on a fresh ham cluster.
async fn ham_writes(
    args: &Args,
    ham: &Path,
    dir: &Path,
    kind: Kind,
    clients: usize,
    rep: usize,
    plan: &Plan,
) -> Result<writes::WriteRun> {
    let d = fresh(dir, &format!("ham-writes-{kind:?}-{clients}-{rep}"))?;
    let cluster = HamCluster::start(ham, &d, 3, &args.ham_arg).await?;
    let leader = cluster.stable_leader(Duration::from_secs(30), 4).await?;
    let targets: Vec<Target> = leader_first(&cluster.nodes, leader)
        .into_iter()
        .map(|n| Target::Ham(n.socket.clone()))
        .collect();
    let pids = cluster.pids();
    let run = writes::run(
        &targets,
        &pids,
        kind,
        clients,
        plan.warmup,
        plan.duration,
        "w",
    )
    .await?;
    let name = match kind {
        Kind::Create => "ham",
        Kind::Churn => "ham (bounded state)",
    };
    progress(name, clients, rep, &run, args.timeline);
    drop(cluster);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&d);
    }
    Ok(run)
}

/// One write run on a fresh etcd cluster.
async fn etcd_writes(
    args: &Args,
    etcd: &Path,
    dir: &Path,
    clients: usize,
    rep: usize,
    plan: &Plan,
) -> Result<writes::WriteRun> {
    let d = fresh(dir, &format!("etcd-writes-{clients}-{rep}"))?;
    let cluster = etcd::EtcdCluster::start(etcd, &d, 3).await?;
    let leader = cluster.leader().await?;
    let targets: Vec<Target> = leader_first(&cluster.urls, leader)
        .into_iter()
        .map(|u| Target::Etcd(u.clone()))
        .collect();
    let pids = cluster.pids();
    let run = writes::run(
        &targets,
        &pids,
        Kind::Create,
        clients,
        plan.warmup,
        plan.duration,
        "w",
    )
    .await?;
    progress("etcd", clients, rep, &run, args.timeline);
    drop(cluster);
    if !args.keep {
        let _ = std::fs::remove_dir_all(&d);
    }
    Ok(run)
}
