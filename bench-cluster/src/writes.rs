//! Committed writes per second and their latency, with N concurrent
//! clients, each a tokio task with its own connection: on ham a placeholder
//! entity (one Raft command), on etcd a `Put` of a new key. Client i talks to
//! node/member i mod 3 of a list that starts with the leader: one client
//! talks to the leader; 64 are spread over the whole cluster and two thirds
//! of them reach a follower (which forwards the write to the leader).

use crate::etcd::EtcdKv;
use crate::procs::{cpu_secs, cpu_secs_of, monotonic_ns};
use crate::stats::{Summary, nanos};
use anyhow::{Context, Result, bail};
use ham_client::{Errno, Ham, NodeSel};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where one client connects.
#[derive(Debug, Clone)]
pub enum Target {
    /// A ham node's Unix socket.
    Ham(PathBuf),
    /// An etcd member's client URL.
    Etcd(String),
}

/// An open client connection.
#[derive(Debug)]
enum Client {
    Ham(Ham),
    Etcd(EtcdKv),
}

/// Which writes a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every write adds a new key (ham: a new placeholder entity), so the
    /// replicated state grows by one entry per write.
    Create,
    /// ham only: each client alternately creates and detaches its own
    /// placeholder entity (still one committed command per write), so the
    /// state stays at most one entity per client.
    Churn,
}

/// One write operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Remove,
}

/// What one write came to.
enum Outcome {
    Done,
    /// No quorum right now (ham EAGAIN, etcd UNAVAILABLE): try again.
    Retry(String),
}

/// Bound of one write: far above any latency worth measuring.
const WRITE_LIMIT: Duration = Duration::from_secs(10);

impl Client {
    async fn connect(t: &Target) -> Result<Client> {
        Ok(match t {
            Target::Ham(socket) => Client::Ham(crate::cluster::connect(socket).await?),
            Target::Etcd(url) => Client::Etcd(EtcdKv::connect(url).await?),
        })
    }

    /// One committed write: `key` created, or removed again.
    async fn write(&mut self, key: &str, op: Op) -> Result<Outcome> {
        let res = match self {
            Client::Ham(ham) => {
                let r = match op {
                    Op::Create => {
                        let w = ham.entity(NodeSel::Local, key, 0);
                        tokio::time::timeout(WRITE_LIMIT, w)
                            .await
                            .map(|r| r.map(drop))
                    }
                    Op::Remove => {
                        let w = ham.detach_name(NodeSel::Local, key, 0);
                        tokio::time::timeout(WRITE_LIMIT, w).await
                    }
                };
                match r.context("a ham write took more than 10 s")? {
                    Ok(()) => Outcome::Done,
                    Err(e) if e.errno == Errno::Eagain => Outcome::Retry(e.to_string()),
                    Err(e) => bail!("ham write {key}: {e}"),
                }
            }
            Client::Etcd(kv) => {
                if op != Op::Create {
                    bail!("the etcd client only puts");
                }
                let r = tokio::time::timeout(WRITE_LIMIT, kv.put(key, b"x")).await;
                match r.context("an etcd put took more than 10 s")? {
                    Ok(_) => Outcome::Done,
                    Err(s) if s.code() == tonic::Code::Unavailable => Outcome::Retry(s.to_string()),
                    Err(s) => bail!("etcd put {key}: {s}"),
                }
            }
        };
        Ok(res)
    }
}

/// The result of one run, or of several pooled.
#[derive(Debug, Clone, Default)]
pub struct WriteRun {
    /// Writes started and finished inside the measured window.
    pub writes: u64,
    pub secs: f64,
    /// Latency of those writes (retries included).
    pub latency: Summary,
    /// The samples: (finished at, ns since the window opened; latency ns).
    pub samples: Vec<(u64, u64)>,
    /// Writes per second of each run pooled here.
    pub rates: Vec<f64>,
    /// Retried no-quorum answers (whole run, warm-up included).
    pub retries: u64,
    /// CPU used in the measured window, in cores (1.0 = one core busy):
    /// by the servers together, and by this benchmark (the clients).
    pub server_cores: f64,
    pub client_cores: f64,
}

impl WriteRun {
    pub fn per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.writes as f64 / self.secs
        } else {
            0.0
        }
    }

    /// Pools runs: writes over the total time, percentiles over all samples.
    pub fn pool(runs: Vec<WriteRun>) -> WriteRun {
        let mut out = WriteRun::default();
        let (mut server, mut client) = (0.0, 0.0);
        for r in runs {
            out.writes += r.writes;
            out.secs += r.secs;
            out.retries += r.retries;
            server += r.server_cores * r.secs;
            client += r.client_cores * r.secs;
            out.rates.extend(r.rates);
            out.samples.extend(r.samples);
        }
        if out.secs > 0.0 {
            out.server_cores = server / out.secs;
            out.client_cores = client / out.secs;
        }
        out.latency = Summary::of(out.samples.iter().map(|s| s.1).collect());
        out
    }

    /// Per-second buckets of one run: (second, writes, p99 ns, max ns).
    pub fn timeline(&self) -> Vec<(u64, usize, u64, u64)> {
        let mut buckets: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
        for &(at, lat) in &self.samples {
            buckets.entry(at / 1_000_000_000).or_default().push(lat);
        }
        buckets
            .into_iter()
            .map(|(s, v)| {
                let sum = Summary::of(v);
                (s, sum.n, sum.p99, sum.max)
            })
            .collect()
    }
}

/// Per task: (finish offset, latency) of the measured writes, and retries.
type TaskResult = Result<(Vec<(u64, u64)>, u64)>;

/// Runs `clients` tasks for `warmup` (not counted) then `duration`.
/// `prefix` makes the keys unique to this run; `servers` are the pids whose
/// CPU time is reported.
pub async fn run(
    targets: &[Target],
    servers: &[u32],
    kind: Kind,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    prefix: &str,
) -> Result<WriteRun> {
    if targets.is_empty() || clients == 0 {
        bail!("nothing to write to");
    }
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        conns.push(Client::connect(&targets[i % targets.len()]).await?);
    }
    let begin = Instant::now() + Duration::from_millis(20);
    let measure_from = begin + warmup;
    let end = measure_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut client) in conns.into_iter().enumerate() {
        let prefix = format!("{prefix}-{i}");
        tasks.spawn(async move {
            tokio::time::sleep_until(begin.into()).await;
            let mut lat = Vec::new();
            let (mut seq, mut retries) = (0u64, 0u64);
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let (key, op) = match kind {
                    Kind::Create => (format!("{prefix}-{seq}"), Op::Create),
                    Kind::Churn if seq % 2 == 0 => (prefix.clone(), Op::Create),
                    Kind::Churn => (prefix.clone(), Op::Remove),
                };
                seq += 1;
                loop {
                    match client.write(&key, op).await? {
                        Outcome::Done => break,
                        Outcome::Retry(why) => {
                            retries += 1;
                            if t0.elapsed() > WRITE_LIMIT {
                                bail!("no quorum for {WRITE_LIMIT:?}: {why}");
                            }
                            tokio::time::sleep(Duration::from_millis(2)).await;
                        }
                    }
                }
                let t1 = Instant::now();
                if t0 >= measure_from && t1 <= end {
                    lat.push((nanos(t1 - measure_from), nanos(t1 - t0)));
                }
            }
            TaskResult::Ok((lat, retries))
        });
    }
    // CPU over the measured window, sampled at its edges.
    tokio::time::sleep_until(measure_from.into()).await;
    let me = std::process::id();
    let (s0, c0) = (cpu_secs_of(servers), cpu_secs(me).unwrap_or(0.0));
    tokio::time::sleep_until(end.into()).await;
    let (s1, c1) = (cpu_secs_of(servers), cpu_secs(me).unwrap_or(0.0));
    let window = duration.as_secs_f64();
    let mut all = Vec::new();
    let mut retries = 0;
    while let Some(r) = tasks.join_next().await {
        let (lat, r) = r.context("a writer task panicked")??;
        all.extend(lat);
        retries += r;
    }
    let secs = duration.as_secs_f64();
    Ok(WriteRun {
        writes: all.len() as u64,
        secs,
        latency: Summary::of(all.iter().map(|s| s.1).collect()),
        rates: vec![all.len() as f64 / secs],
        samples: all,
        retries,
        server_cores: (s1 - s0) / window,
        client_cores: (c1 - c0) / window,
    })
}

/// The disk's floor: `n` times a 4 KiB append plus fdatasync in `dir`
/// (what one Raft log write costs at least, with nothing else running).
/// Returns the samples, ns.
pub async fn fsync_floor(dir: PathBuf, n: usize) -> Result<Vec<u64>> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let path = dir.join("fsync-floor");
        let mut f = std::fs::File::create(&path)?;
        let block = [0x5au8; 4096];
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let t0 = monotonic_ns();
            f.write_all(&block)?;
            f.sync_data()?;
            samples.push(monotonic_ns() - t0);
        }
        std::fs::remove_file(&path)?;
        Ok(samples)
    })
    .await?
}
