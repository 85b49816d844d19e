//! Programs with several processes, for the tests of how `ham` stops an
//! entity (HAM-CONTRACT L1, S2, L5), one per mode:
//!
//! - `nginx PORT OUT`: the shape of nginx with `daemon off;`: the master
//!   binds 127.0.0.1:PORT (exit 1, after appending `bind-failed PID`, when it
//!   cannot), starts 2 workers that inherit the listening socket and accept
//!   on it, then appends "MASTER INSTANCE WORKER1 WORKER2" to OUT and sleeps.
//! - `worker`: a worker of `nginx`: accepts on the socket it got as stdin.
//! - `forker OUT [escape]`: starts one child that sleeps (with `escape`, in a
//!   process group of its own, as a `setsid` daemon leaves its parent's), then
//!   appends "MAIN INSTANCE CHILD" to OUT and sleeps.
//! - `trap OUT ignore|exit`: appends "ready PID" to OUT; for every SIGTERM,
//!   SIGINT, SIGHUP, SIGUSR1 or SIGUSR2 appends "SIGNO NS" (wall clock), then
//!   with `exit` appends "exit" and exits 0, with `ignore` keeps running.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::AsFd as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

fn append(path: &str, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open output");
    writeln!(f, "{line}").expect("write output");
}

fn sleep_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn instance() -> String {
    std::env::var("HAM_INSTANCE").unwrap_or_default()
}

/// The agent moves a started process into its cgroup right after the spawn
/// returns; a child forked before that stays in the agent's cgroup (and in
/// the entity's process group). The tests that need a child in the cgroup
/// give the agent this long first.
const PLACEMENT: Duration = Duration::from_millis(100);

// The workers and children run until the stop under test ends them; their
// parent never exits on its own, so it never waits for them.
#[allow(clippy::zombie_processes)]
fn nginx(port: &str, out: &str) -> ! {
    let listener = match TcpListener::bind(format!("127.0.0.1:{port}")) {
        Ok(l) => l,
        Err(e) => {
            append(out, &format!("bind-failed {} {e}", std::process::id()));
            std::process::exit(1)
        }
    };
    let me = std::env::current_exe().expect("own path");
    let mut workers = Vec::new();
    for _ in 0..2 {
        // The worker gets the listening socket as its standard input, as
        // nginx's workers inherit the master's listening sockets.
        let fd = listener.as_fd().try_clone_to_owned().expect("dup listener");
        let child = Command::new(&me)
            .arg("worker")
            .stdin(Stdio::from(fd))
            .spawn()
            .expect("start worker");
        workers.push(child.id().to_string());
    }
    append(
        out,
        &format!(
            "{} {} {}",
            std::process::id(),
            instance(),
            workers.join(" ")
        ),
    );
    sleep_forever()
}

fn worker() -> ! {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .expect("listener");
    let listener = TcpListener::from(fd);
    loop {
        // Connections are accepted and dropped: the port is what matters.
        let _ = listener.accept();
    }
}

#[allow(clippy::zombie_processes)]
fn forker(out: &str, escape: bool) -> ! {
    std::thread::sleep(PLACEMENT);
    let mut cmd = Command::new("/bin/sleep");
    cmd.arg("1000");
    if escape {
        cmd.process_group(0);
    }
    let child = cmd.spawn().expect("start child");
    append(
        out,
        &format!("{} {} {}", std::process::id(), instance(), child.id()),
    );
    sleep_forever()
}

fn trap(out: &str, exit: bool) -> ! {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kinds = [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for k in kinds {
            let mut s = signal(SignalKind::from_raw(k)).expect("signal handler");
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    let _ = tx.send(k);
                }
            });
        }
        append(out, &format!("ready {}", std::process::id()));
        while let Some(k) = rx.recv().await {
            append(out, &format!("{k} {}", now_ns()));
            if exit {
                append(out, "exit");
                std::process::exit(0);
            }
        }
    });
    sleep_forever()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).expect("missing argument");
    match arg(0) {
        "nginx" => nginx(arg(1), arg(2)),
        "worker" => worker(),
        "forker" => forker(arg(1), args.get(2).is_some_and(|a| a == "escape")),
        "trap" => trap(arg(1), arg(2) == "exit"),
        other => panic!("unknown mode {other}"),
    }
}
