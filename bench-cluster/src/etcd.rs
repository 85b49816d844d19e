//! A 3-member etcd cluster on 127.0.0.1 (each member its own data dir; etcd
//! fsyncs its WAL by default), and a minimal etcd v3 client: `KV/Put` only.
//!
//! The client speaks etcd's gRPC API directly: the two messages are written
//! by hand with prost (field numbers from etcd's `rpc.proto`, unknown fields
//! of the answer are skipped), over a tonic channel like ham's. The
//! `etcd-client` crate would do the same but its build script needs a system
//! `protoc`, which the rest of the workspace does without.

use crate::procs::{Proc, free_port, poll_until, tail};
use anyhow::{Context, Result, bail};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

/// `etcdserverpb.PutRequest` (only the fields a plain put sets).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct ResponseHeader {
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int64, tag = "3")]
    pub revision: i64,
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

/// `etcdserverpb.PutResponse` (the header; `prev_kv` is never asked for).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `etcdserverpb.StatusRequest` (empty).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct StatusRequest {}

/// `etcdserverpb.StatusResponse` (the header and the leader's member id).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    #[prost(uint64, tag = "4")]
    pub leader: u64,
}

/// One connection (one HTTP/2 channel) to one etcd member.
#[derive(Debug, Clone)]
pub struct EtcdKv {
    grpc: tonic::client::Grpc<Channel>,
}

impl EtcdKv {
    /// Connects to `http://host:port`, bounded.
    pub async fn connect(url: &str) -> Result<EtcdKv> {
        let channel = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .with_context(|| format!("cannot connect to etcd at {url}"))?;
        Ok(EtcdKv {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    /// A linearizable put: answers once committed by a majority (fsynced)
    /// and applied by the member that took it. Returns the new revision.
    pub async fn put(&mut self, key: &str, value: &[u8]) -> Result<i64, tonic::Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let req = PutRequest {
            key: key.as_bytes().to_vec(),
            value: value.to_vec(),
        };
        let path = PathAndQuery::from_static("/etcdserverpb.KV/Put");
        let codec = tonic_prost::ProstCodec::default();
        let resp: tonic::Response<PutResponse> = self
            .grpc
            .unary(tonic::Request::new(req), path, codec)
            .await?;
        Ok(resp.into_inner().header.map_or(0, |h| h.revision))
    }

    /// Whether this member is the leader (Maintenance/Status).
    pub async fn is_leader(&mut self) -> Result<bool, tonic::Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = PathAndQuery::from_static("/etcdserverpb.Maintenance/Status");
        let codec = tonic_prost::ProstCodec::default();
        let resp: tonic::Response<StatusResponse> = self
            .grpc
            .unary(tonic::Request::new(StatusRequest {}), path, codec)
            .await?;
        let s = resp.into_inner();
        Ok(s.leader != 0 && s.header.is_some_and(|h| h.member_id == s.leader))
    }
}

/// Three etcd members; dropping it kills them.
#[derive(Debug)]
pub struct EtcdCluster {
    /// Client URLs, member i at index i.
    pub urls: Vec<String>,
    procs: Vec<Proc>,
    logs: Vec<PathBuf>,
}

/// `n` distinct free ports on 127.0.0.1.
fn distinct_ports(n: usize) -> Result<Vec<u16>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for _ in 0..n * 20 {
        let p = free_port("127.0.0.1")?;
        if seen.insert(p) {
            out.push(p);
            if out.len() == n {
                return Ok(out);
            }
        }
    }
    bail!("no {n} distinct free ports")
}

impl EtcdCluster {
    /// Starts `n` members under `dir` and waits until a put succeeds on each.
    pub async fn start(etcd: &Path, dir: &Path, n: usize) -> Result<EtcdCluster> {
        let ports = distinct_ports(2 * n)?;
        let peer_url = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let urls: Vec<String> = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", ports[2 * i]))
            .collect();
        let initial: Vec<String> = (0..n)
            .map(|i| format!("e{}={}", i + 1, peer_url(i)))
            .collect();
        let initial = initial.join(",");
        let mut cluster = EtcdCluster {
            urls: urls.clone(),
            procs: Vec::new(),
            logs: Vec::new(),
        };
        for (i, url) in urls.iter().enumerate() {
            let name = format!("e{}", i + 1);
            let data = dir.join(&name);
            let log = dir.join(format!("{name}.log"));
            let mut cmd = Command::new(etcd);
            cmd.arg(format!("--name={name}"))
                .arg(format!("--data-dir={}", data.display()))
                .arg(format!("--listen-client-urls={url}"))
                .arg(format!("--advertise-client-urls={url}"))
                .arg(format!("--listen-peer-urls={}", peer_url(i)))
                .arg(format!("--initial-advertise-peer-urls={}", peer_url(i)))
                .arg(format!("--initial-cluster={initial}"))
                .arg("--initial-cluster-token=ham-bench-cluster")
                .arg("--initial-cluster-state=new")
                .arg("--logger=zap")
                .arg("--log-outputs=stderr")
                .arg("--log-level=warn")
                // The Debian package's defaults file is not read (no systemd here),
                // but keep a stray ETCD_* variable from changing the setup.
                .env_clear()
                .env("PATH", "/usr/bin:/bin");
            cluster.procs.push(Proc::spawn(&name, cmd, &log)?);
            cluster.logs.push(log);
        }
        for (i, url) in urls.iter().enumerate() {
            let ok = poll_until(
                &format!("etcd member e{} to take a put", i + 1),
                Duration::from_secs(30),
                Duration::from_millis(50),
                || async {
                    let mut kv = EtcdKv::connect(url).await.ok()?;
                    let put = kv.put("ham-bench-cluster/ready", b"1");
                    tokio::time::timeout(Duration::from_secs(2), put)
                        .await
                        .ok()?
                        .ok()
                },
            )
            .await;
            if let Err(e) = ok {
                bail!("{e}; log:\n{}", tail(&cluster.logs[i], 20));
            }
        }
        Ok(cluster)
    }

    /// Pids of the members.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Proc::pid).collect()
    }

    /// Index of the member that leads, bounded.
    pub async fn leader(&self) -> Result<usize> {
        poll_until(
            "an etcd leader",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || async {
                for (i, url) in self.urls.iter().enumerate() {
                    let mut kv = EtcdKv::connect(url).await.ok()?;
                    let is = tokio::time::timeout(Duration::from_secs(2), kv.is_leader());
                    if is.await.ok()?.ok()? {
                        return Some(i);
                    }
                }
                None
            },
        )
        .await
    }
}
