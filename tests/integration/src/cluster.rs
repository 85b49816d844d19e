//! Several `ham` nodes for cluster tests: on loopback addresses
//! (127.0.0.1, 127.0.0.2, ...), or each in its own network namespace joined
//! by a bridge in a hub namespace, so a test can cut a node off. Everything
//! (processes, namespaces, links) is removed on drop, also when a test fails.

use crate::HamProcess;
use std::process::Command;
use std::time::{Duration, Instant};

/// Test-run-unique short tag for namespace and link names (IFNAMSIZ is 15).
fn tag() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}{}", std::process::id() % 100_000, n)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hub namespace with a bridge, and one namespace per node linked to it.
#[derive(Debug)]
pub struct Namespaces {
    hub: String,
    nodes: Vec<String>,
    hub_links: Vec<String>,
    /// Each node's end of its link (inside its namespace).
    node_links: Vec<String>,
}

/// One direction of a node's traffic, for an asymmetric cut ([`Namespaces::set_dropped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// What reaches the node: it hears nobody, its own packets still leave.
    Inbound,
    /// What leaves the node: nobody hears it, it still hears the others.
    Outbound,
}

impl Namespaces {
    /// Creates `n` node namespaces with addresses 10.77.0.1 ... 10.77.0.n
    /// (private to these namespaces: nothing routes there from outside).
    pub fn create(n: usize) -> Namespaces {
        let t = tag();
        let ns = Namespaces {
            hub: format!("hamhub{t}"),
            nodes: (1..=n).map(|i| format!("hamn{t}x{i}")).collect(),
            hub_links: (1..=n).map(|i| format!("hh{t}x{i}")).collect(),
            node_links: (1..=n).map(|i| format!("hn{t}x{i}")).collect(),
        };
        ip(&["netns", "add", &ns.hub]);
        ip(&["-n", &ns.hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &ns.hub, "link", "set", "br0", "up"]);
        for (i, (node, hub_link)) in ns.nodes.iter().zip(&ns.hub_links).enumerate() {
            let node_link = format!("hn{t}x{}", i + 1);
            ip(&["netns", "add", node]);
            ip(&[
                "link", "add", &node_link, "type", "veth", "peer", "name", hub_link,
            ]);
            ip(&["link", "set", &node_link, "netns", node]);
            ip(&["link", "set", hub_link, "netns", &ns.hub]);
            ip(&["-n", &ns.hub, "link", "set", hub_link, "master", "br0"]);
            ip(&["-n", &ns.hub, "link", "set", hub_link, "up"]);
            ip(&[
                "-n",
                node,
                "addr",
                "add",
                &format!("10.77.0.{}/24", i + 1),
                "dev",
                &node_link,
            ]);
            ip(&["-n", node, "link", "set", &node_link, "up"]);
            ip(&["-n", node, "link", "set", "lo", "up"]);
            // The `local` table is looked up at priority 0, before any rule a test could
            // add, and it takes every packet addressed to the node: move it behind the
            // priorities `set_dropped` uses, so that a drop rule sees incoming packets.
            ip(&[
                "-n", node, "rule", "add", "priority", "200", "lookup", "local",
            ]);
            ip(&["-n", node, "rule", "del", "priority", "0"]);
        }
        ns
    }

    /// Drops one direction of node `i`'s traffic with the other nodes (or stops dropping
    /// it), silently, as a one-way network fault does: a policy-routing `blackhole` rule on
    /// the receiving side's link (there is no `iptables` or `tc` drop action on every test
    /// machine, `ip` is). Inbound: in node `i`'s namespace, for what arrives on its link.
    /// Outbound: in every other node's namespace, for what arrives from node `i`'s address.
    /// The rules live inside the namespaces and go with them.
    pub fn set_dropped(&self, i: usize, direction: Direction, dropped: bool) {
        let verb = if dropped { "add" } else { "del" };
        match direction {
            Direction::Inbound => ip(&[
                "-n",
                &self.nodes[i],
                "rule",
                verb,
                "iif",
                &self.node_links[i],
                "priority",
                "100",
                "blackhole",
            ]),
            Direction::Outbound => {
                let from = format!("10.77.0.{}", i + 1);
                for (j, node) in self.nodes.iter().enumerate().filter(|&(j, _)| j != i) {
                    ip(&[
                        "-n",
                        node,
                        "rule",
                        verb,
                        "iif",
                        &self.node_links[j],
                        "from",
                        &from,
                        "priority",
                        "101",
                        "blackhole",
                    ]);
                }
            }
        }
    }

    /// The inode of node `i`'s network namespace: what `/proc/PID/ns/net` of a process
    /// running there names (`net:[INODE]`).
    pub fn inode(&self, i: usize) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(format!("/run/netns/{}", self.nodes[i]))
            .expect("namespace file")
            .ino()
    }

    /// Every process running in node `i`'s namespace: the node, as far as a process can tell.
    pub fn pids_inside(&self, i: usize) -> Vec<u32> {
        let want = format!("net:[{}]", self.inode(i));
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_link(format!("/proc/{pid}/ns/net"))
                    .is_ok_and(|l| l.as_os_str() == want.as_str())
            })
            .collect()
    }

    /// SIGKILLs every process in node `i`'s namespace (a node lost with all it ran).
    pub fn kill_inside(&self, i: usize) {
        for pid in self.pids_inside(i) {
            let _ = Command::new("/bin/kill")
                .args(["-KILL", &pid.to_string()])
                .output();
        }
    }

    /// The namespace of node `i` (0-based).
    pub fn node(&self, i: usize) -> &str {
        &self.nodes[i]
    }

    /// Cuts node `i` off the others (or heals it).
    pub fn set_connected(&self, i: usize, connected: bool) {
        ip(&[
            "-n",
            &self.hub,
            "link",
            "set",
            &self.hub_links[i],
            if connected { "up" } else { "down" },
        ]);
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A cluster of `ham` nodes under one temporary directory.
#[derive(Debug)]
pub struct TestCluster {
    /// The nodes, node id i+1 at index i.
    pub nodes: Vec<HamProcess>,
    /// Namespaces, when the nodes run in them (dropped after the nodes).
    pub netns: Option<Namespaces>,
    /// Holds every node's files.
    pub dir: tempfile::TempDir,
}

/// A free TCP port on `ip` (the port is free when checked; a clash later is unlikely).
pub fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .expect("bind a free port")
        .local_addr()
        .expect("address")
        .port()
}

/// Extra flags every cluster test node gets: a short lease so NODEDOWN tests are quick.
pub const TEST_FLAGS: &[&str] = &["--lease-ms", "1000"];

impl TestCluster {
    /// `n` nodes on 127.0.0.1..n, started and with a leader elected.
    pub fn loopback(n: usize) -> TestCluster {
        let addrs: Vec<String> = (1..=n)
            .map(|i| format!("127.0.0.{i}:{}", free_port(&format!("127.0.0.{i}"))))
            .collect();
        Self::build(addrs, None)
    }

    /// `n` nodes, each in its own network namespace (10.77.0.i:7001).
    pub fn namespaced(n: usize) -> TestCluster {
        let netns = Namespaces::create(n);
        let addrs = (1..=n).map(|i| format!("10.77.0.{i}:7001")).collect();
        Self::build(addrs, Some(netns))
    }

    fn build(addrs: Vec<String>, netns: Option<Namespaces>) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let peers: Vec<String> = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| format!("{}=n{}@{a}", i + 1, i + 1))
            .collect();
        let mut nodes = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let ndir = dir.path().join(format!("n{}", i + 1));
            std::fs::create_dir_all(&ndir).expect("node dir");
            let id = (i + 1).to_string();
            let mut args: Vec<&str> = vec!["--node-id", &id];
            for p in &peers {
                args.extend(["--peer", p.as_str()]);
            }
            args.extend(TEST_FLAGS);
            let ns = netns.as_ref().map(|n| n.node(i).to_string());
            let node =
                HamProcess::prepare(&ndir, addr, &format!("n{}", i + 1), ns.as_deref(), &args);
            nodes.push(node);
        }
        // Nodes answer on their socket only once registered, which needs a
        // leader: start them all, then wait for each.
        for node in &mut nodes {
            node.launch_nowait();
        }
        for node in &mut nodes {
            node.wait_until_ready(Duration::from_secs(30));
        }
        TestCluster { nodes, netns, dir }
    }

    /// A `key : value` field of a node's top `.info` as node `via` sees it.
    pub fn info_field(&self, via: usize, field: &str) -> Option<String> {
        let out = self.nodes[via].hamctrl(&["cat", ".info"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().find_map(|l| {
            let (k, v) = l.split_once(" : ")?;
            (k.trim() == field).then(|| v.trim().to_string())
        })
    }

    /// The index of the leader as node `via` sees it.
    pub fn leader_seen_by(&self, via: usize) -> Option<usize> {
        // "Leader : n2 (id 2)"
        let v = self.info_field(via, "Leader")?;
        let id: usize = v
            .rsplit_once("(id ")?
            .1
            .trim_end_matches(')')
            .parse()
            .ok()?;
        (id >= 1).then(|| id - 1)
    }

    /// SIGSTOPs (`frozen`) or SIGCONTs node `i`'s agent alone; its processes keep running.
    pub fn set_frozen(&self, i: usize, frozen: bool) {
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = Command::new("/bin/kill")
            .args([signal, &self.nodes[i].pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} node {}", i + 1);
    }

    /// Node `i` lost: SIGKILL of its agent and of every process in its namespace. Needs
    /// namespaces: on loopback nothing tells a node's processes from the test's.
    pub fn kill_node(&mut self, i: usize) {
        let netns = self.netns.as_ref().expect("a namespaced cluster");
        self.nodes[i].kill9();
        netns.kill_inside(i);
    }

    /// Waits (bounded) until node `via` knows a leader other than `not`.
    pub fn wait_leader(&self, via: usize, not: Option<usize>, limit: Duration) -> usize {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(l) = self.leader_seen_by(via).filter(|&l| Some(l) != not) {
                return l;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no leader seen by node {} within {limit:?}", via + 1);
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Processes first, then the namespaces they ran in.
        for n in &mut self.nodes {
            n.kill_all();
        }
        self.netns.take();
    }
}
