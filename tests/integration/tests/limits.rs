//! Resource floods against a real `ham` (HAM-CONTRACT M4, second half):
//! running out of descriptors for connections never makes it spin; it
//! logs, refuses new connections for a moment and serves the ones it has.

use ham_client::{Ham, NodeSel};
use ham_integration_tests::HamProcess;
use ham_integration_tests::cluster::free_port;
use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The descriptor limit (soft and hard) `ham` runs under.
const NOFILE: u32 = 1024;
/// Idle connections the flood opens: about twice what `ham` may hold.
const FLOOD: usize = 2000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A `ham` run under a descriptor limit of `NOFILE`, killed on drop.
struct Limited {
    child: Child,
    ham: HamProcess,
    addr: SocketAddr,
}

impl Limited {
    fn start(dir: &Path) -> Limited {
        let port = free_port("127.0.0.1");
        let listen = format!("127.0.0.1:{port}");
        let ham = HamProcess::prepare(dir, &listen, "testnode", None, &[]);
        let inner = ham.command();
        // prlimit (util-linux) sets both limits; otherwise the shell's ulimit does.
        let mut cmd = if Path::new("/usr/bin/prlimit").exists() {
            let mut c = Command::new("/usr/bin/prlimit");
            c.arg(format!("--nofile={NOFILE}:{NOFILE}")).arg("--");
            c
        } else {
            let mut c = Command::new("/bin/sh");
            c.args(["-c", &format!("ulimit -n {NOFILE}; exec \"$0\" \"$@\"")]);
            c
        };
        cmd.arg(inner.get_program()).args(inner.get_args());
        let log = std::fs::File::create(&ham.log).expect("log file");
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ham");
        let mut l = Limited {
            child,
            ham,
            addr: listen.parse().unwrap(),
        };
        let socket = l.ham.socket.clone();
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = l.child.try_wait() {
                panic!("ham exited with {status}: {}", l.ham.log_text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "ham did not start: {}",
                l.ham.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        l
    }

    /// The `ham` process itself (prlimit and sh exec it in place).
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // Fields 14 and 15 of stat(5), counted after the command name (field 2).
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output();
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Raises this test process's own descriptor limit so it can open the flood.
fn raise_own_limit(need: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(hard >= need, "the hard fd limit {hard} is below {need}");
    if soft < need {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
}

/// One handshake over a fresh connection; how long it took (connection included).
async fn fresh_call(
    connect: impl std::future::Future<Output = ham_client::HamResult<Ham>>,
) -> (ham_client::HamResult<()>, Duration) {
    let start = Instant::now();
    let r = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(ham)) => ham.handshake(NodeSel::Local).await.map(|_| ()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ham_client::HamError::new(
            ham_client::Errno::Etimedout,
            "no answer within 5 s",
        )),
    };
    (r, start.elapsed())
}

#[test]
fn m4_a_flood_of_idle_connections_neither_spins_ham_nor_slows_local_clients() {
    raise_own_limit(FLOOD as u64 + 512);
    let dir = tempfile::tempdir().unwrap();
    let ham = Limited::start(dir.path());
    let rt = rt();

    // The flood: idle connections that never send a byte, opened within a bound.
    let start = Instant::now();
    let mut flood = Vec::with_capacity(FLOOD);
    while flood.len() < FLOOD && start.elapsed() < Duration::from_secs(10) {
        if let Ok(s) = TcpStream::connect_timeout(&ham.addr, Duration::from_millis(200)) {
            flood.push(s);
        }
    }
    // A ham that accepts (and closes what it cannot serve) lets them all
    // in; one that stops accepting leaves its backlog full.
    eprintln!(
        "flood: {} connections in {:?}",
        flood.len(),
        start.elapsed()
    );
    assert!(
        flood.len() > NOFILE as usize,
        "only {} connections",
        flood.len()
    );
    // Let ham take in what it will.
    std::thread::sleep(Duration::from_millis(500));

    // Its CPU over 2 s of the flood.
    let tick = clock_ticks_per_second();
    let before = cpu_ticks(ham.pid());
    let window = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(ham.pid()) - before;
    let cpu = used as f64 / tick as f64 / window.elapsed().as_secs_f64();
    eprintln!("ham CPU during the flood: {:.1}% of a core", cpu * 100.0);
    assert!(cpu < 0.20, "ham used {:.0}% of a core", cpu * 100.0);

    let socket = ham.ham.socket.clone();
    rt.block_on(async {
        // A local client over the Unix socket is served at once, reads and writes.
        let (r, took) = fresh_call(Ham::connect_uds(socket.clone())).await;
        r.unwrap();
        eprintln!("fresh Unix client during the flood: {took:?}");
        assert!(took < Duration::from_millis(50), "{took:?}");
        let c = Ham::connect_uds(socket.clone()).await.unwrap();
        for i in 0..5 {
            let t = Instant::now();
            c.entity(NodeSel::Local, &format!("e{i}"), 0).await.unwrap();
            eprintln!("write during the flood: {:?}", t.elapsed());
            assert!(
                t.elapsed() < Duration::from_millis(200),
                "{:?}",
                t.elapsed()
            );
        }
        // Over TCP, ham is at its connection cap: a new connection may be
        // closed at once (refused) but never hangs.
        let (r, took) = fresh_call(Ham::connect_tcp(format!("http://{}", ham.addr))).await;
        eprintln!("fresh TCP client at the cap: {r:?} in {took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    });
    let log = ham.ham.log_text();
    assert!(log.contains("too many connections"), "{log}");

    // The flood ends; TCP clients are served again.
    drop(flood);
    rt.block_on(async {
        let start = Instant::now();
        loop {
            let (r, took) = fresh_call(Ham::connect_tcp(format!("http://{}", ham.addr))).await;
            if r.is_ok() {
                eprintln!("fresh TCP client after the flood: {took:?}");
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "TCP not served after the flood: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn m4_a_connection_that_never_speaks_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let ham = Limited::start(dir.path());
    let rt = rt();
    // A client that talks, over TCP, opened first.
    let talker = rt.block_on(async {
        let c = Ham::connect_tcp(format!("http://{}", ham.addr))
            .await
            .unwrap();
        c.handshake(NodeSel::Local).await.unwrap();
        c
    });
    let mut idle = TcpStream::connect(ham.addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    // ham sends its HTTP/2 settings, then closes it: end of file (or a
    // reset), not our read timeout.
    let r = loop {
        match idle.read(&mut buf) {
            Ok(n) if n > 0 && start.elapsed() < Duration::from_secs(20) => continue,
            r => break r,
        }
    };
    let took = start.elapsed();
    eprintln!("silent connection closed after {took:?}: {r:?}");
    let closed = match &r {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(closed, "{r:?} after {took:?}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // The talking client was not cut meanwhile.
    rt.block_on(async {
        talker.handshake(NodeSel::Local).await.unwrap();
    });
}
