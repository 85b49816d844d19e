//! Small programs the integration tests hand to `ham`, one per mode:
//!
//! - `up FILE`: appends "PID INSTANCE NS" to FILE, then sleeps forever.
//! - `crash SIGNAL`: raises SIGNAL (no core file is written).
//! - `exit CODE`: exits with CODE.
//! - `stamp FILE`: appends the wall-clock time in ns to FILE and exits 0.
//! - `daemonize FILE [PIDFILE]`: starts `up FILE` as a detached child, writes
//!   its pid to PIDFILE if given, and exits 0 (a daemonizing launcher).
//! - `daemonize-late FILE PIDFILE DELAY_MS [FIRST_PID]`: a launcher that
//!   starts `late-pid FILE PIDFILE DELAY_MS` as a detached child, writes
//!   FIRST_PID to PIDFILE if given (a fresh pid file naming some other
//!   process), and exits 0.
//! - `late-pid FILE PIDFILE DELAY_MS`: after DELAY_MS writes its pid to
//!   PIDFILE (never, with a negative delay), then runs as `up FILE`.
//! - `crashloop FILE CODE`: appends the wall-clock time in ns to FILE and exits with CODE.
//! - `crash-until FILE N`: appends "PID NS" to FILE; exits 3 while FILE has
//!   fewer than N lines, else sleeps forever.
//! - `watchdog STOPFILE`: sd_notify `READY=1`, then `WATCHDOG=1` every half
//!   `WATCHDOG_USEC` until STOPFILE exists; then it keeps running silently.
//! - `signals OUT`: appends "SIGNO VALUE CODE" to OUT for every SIGUSR1/SIGUSR2 received.
//! - `pulses SOCKET CHID OUT`: opens pulse channel CHID and appends "CODE VALUE" to OUT per pulse.
//! - `deadlock SOCKET NAME LOG`: the guide's mutex-deadlock example: self-attaches with a
//!   100 ms heartbeat (5/5), asks the HAM to kill it on HBEATMISSEDHIGH, and runs two
//!   threads that take two locks in opposite orders and heartbeat (sd_notify) while working.
//! - `selfcalls SOCKET NAME OUT`: waits for a line on standard input, then heartbeats, raises,
//!   reports a state and detaches entity NAME (the entity whose process it is), appending
//!   "CALL ok" or "CALL ERRNO" to OUT for each, then "done".
//! - `report SOCKET ENTITY`: a robustness-suite workload. Every 10 ms it sends one datagram
//!   "ENTITY GENERATION NETNS PID STARTED_NS SENT_NS" to the Unix datagram socket SOCKET:
//!   GENERATION from `HAM_GENERATION` (0 without it), NETNS the inode of its network
//!   namespace (which node it runs on), STARTED_NS and SENT_NS its CLOCK_MONOTONIC readings
//!   at start and at the send (one clock for the whole machine, as the witness's).

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt as _;
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

fn notify(msg: &str) {
    if let Ok(path) = std::env::var("NOTIFY_SOCKET") {
        let sock = UnixDatagram::unbound().expect("datagram socket");
        let _ = sock.send_to(msg.as_bytes(), path);
    }
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn up(file: &str) -> ! {
    let instance = std::env::var("HAM_INSTANCE").unwrap_or_default();
    append(
        file,
        &format!("{} {instance} {}", std::process::id(), now_ns()),
    );
    sleep_forever()
}

fn crash(signal: i32) -> ! {
    // No core file: the test only needs the signal.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let sig = nix::sys::signal::Signal::try_from(signal).expect("signal number");
    let _ = nix::sys::signal::raise(sig);
    std::process::exit(99)
}

fn daemonize(file: &str, pidfile: Option<&str>) -> ! {
    let me = std::env::current_exe().expect("own path");
    let child = std::process::Command::new(me)
        .args(["up", file])
        .process_group(0)
        .spawn()
        .expect("start daemon");
    if let Some(p) = pidfile {
        std::fs::write(p, format!("{}\n", child.id())).expect("write pid file");
    }
    std::process::exit(0)
}

fn daemonize_late(file: &str, pidfile: &str, delay_ms: &str, first: Option<&str>) -> ! {
    let me = std::env::current_exe().expect("own path");
    // Its own process group, as a daemon that calls setsid().
    std::process::Command::new(me)
        .args(["late-pid", file, pidfile, delay_ms])
        .process_group(0)
        .spawn()
        .expect("start daemon");
    if let Some(pid) = first {
        std::fs::write(pidfile, format!("{pid}\n")).expect("write pid file");
    }
    std::process::exit(0)
}

fn late_pid(file: &str, pidfile: &str, delay_ms: i64) -> ! {
    if let Ok(ms) = u64::try_from(delay_ms) {
        std::thread::sleep(Duration::from_millis(ms));
        // Written whole and renamed into place, as careful daemons do.
        let tmp = format!("{pidfile}.tmp");
        std::fs::write(&tmp, format!("{}\n", std::process::id())).expect("write pid file");
        std::fs::rename(&tmp, pidfile).expect("rename pid file");
    }
    up(file)
}

fn crash_until(file: &str, n: usize) -> ! {
    append(file, &format!("{} {}", std::process::id(), now_ns()));
    let count = std::fs::read_to_string(file).map_or(0, |t| t.lines().count());
    if count < n {
        std::process::exit(3);
    }
    sleep_forever()
}

fn watchdog(stop: &str) -> ! {
    let usec: u64 = std::env::var("WATCHDOG_USEC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    notify("READY=1\nSTATUS=heartbeating");
    while !std::path::Path::new(stop).exists() {
        notify("WATCHDOG=1");
        std::thread::sleep(Duration::from_micros(usec / 2));
    }
    notify("STATUS=silent");
    sleep_forever()
}

/// Blocks SIGUSR1 and SIGUSR2 and reads them from a signalfd, which carries
/// the value a sigqueue sender attached (`ssi_int`).
fn signals(out: &str) -> ! {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.add(Signal::SIGUSR2);
    set.thread_block().expect("block signals");
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).expect("signalfd");
    append(out, "ready");
    loop {
        if let Ok(Some(info)) = fd.read_signal() {
            append(
                out,
                &format!("{} {} {}", info.ssi_signo, info.ssi_int, info.ssi_code),
            );
        }
    }
}

/// Appends the wall-clock time of each SIGUSR1 it receives: a stamp taken the
/// moment an action's signal lands, without the cost of starting a program.
fn sigstamps(out: &str) -> ! {
    use nix::sys::signal::{SigSet, Signal};
    use nix::sys::signalfd::{SfdFlags, SignalFd};
    let mut set = SigSet::empty();
    set.add(Signal::SIGUSR1);
    set.thread_block().expect("block signals");
    let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).expect("signalfd");
    append(out, "ready");
    loop {
        if let Ok(Some(_)) = fd.read_signal() {
            append(out, &now_ns().to_string());
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn pulses(socket: &str, chid: i64, out: &str) -> ! {
    runtime().block_on(async {
        let ham = ham_client::Ham::connect_uds(socket).await.expect("connect");
        let mut channel = ham
            .pulse_channel(i64::from(std::process::id()), chid)
            .await
            .expect("open channel");
        append(out, "ready");
        while let Some((code, value)) = channel.recv().await {
            append(out, &format!("{code} {value}"));
        }
    });
    std::process::exit(0)
}

/// The guide's mutex-deadlock example with heartbeats inside the work loop.
fn deadlock(socket: &str, name: &str, log: &str) -> ! {
    use std::sync::{Arc, Mutex};
    runtime().block_on(async {
        let ham = ham_client::Ham::connect_uds(socket).await.expect("connect");
        let me = ham
            .attach_self(
                ham_client::NodeSel::Local,
                name,
                Duration::from_millis(100),
                5,
                5,
                0,
            )
            .await
            .expect("attach self");
        let cond = ham
            .condition(
                &me,
                ham_client::ConditionType::Hbeatmissedhigh,
                "heartbeat-missed-high",
                0,
            )
            .await
            .expect("condition");
        let kill = format!("/bin/kill -KILL {}", std::process::id());
        ham.action_execute(&cond, "terminate", &kill, 0, 0)
            .await
            .expect("action");
    });
    append(log, "attached");
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let worker = |first: Arc<Mutex<()>>, second: Arc<Mutex<()>>, who: &'static str, log: String| {
        move || {
            let mut round = 0u64;
            loop {
                let _x = first.lock().unwrap_or_else(|p| p.into_inner());
                // The compute section: its length makes the deadlock come sooner or later.
                std::thread::sleep(Duration::from_millis(if who == "1" { 3 } else { 5 }));
                let _y = second.lock().unwrap_or_else(|p| p.into_inner());
                notify("WATCHDOG=1");
                round += 1;
                if round.is_multiple_of(10) {
                    append(&log, &format!("thread {who}: round {round}"));
                }
            }
        }
    };
    let _peer = std::thread::spawn(worker(a.clone(), b.clone(), "1", log.to_string()));
    worker(b, a, "2", log.to_string())()
}

/// P3: the calls a self-attached process makes on its own entity.
fn selfcalls(socket: &str, name: &str, out: &str) {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    runtime().block_on(async {
        let ham = ham_client::Ham::connect_uds(socket).await.expect("connect");
        let me = ham
            .entity_handle(ham_client::NodeSel::Local, name)
            .await
            .expect("own entity");
        let result = |r: Result<(), ham_client::HamError>| match r {
            Ok(()) => "ok".to_string(),
            Err(e) => e.errno.to_string(),
        };
        append(
            out,
            &format!("heartbeat {}", result(ham.heartbeat(&me).await)),
        );
        let raised = ham.entity_condition_raise(&me, 1, 1, 1, 0).await;
        append(out, &format!("raise {}", result(raised)));
        let state = ham.entity_condition_state(&me, 5, 0).await;
        append(out, &format!("state {}", result(state)));
        append(out, &format!("detach {}", result(ham.detach(&me, 0).await)));
    });
    append(out, "done");
}

fn monotonic_ns() -> i64 {
    // clock_gettime cannot fail for CLOCK_MONOTONIC on Linux.
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    ts.tv_sec() * 1_000_000_000 + ts.tv_nsec()
}

/// The robustness suite's workload: reports that it runs, every 10 ms, until killed. A send
/// that fails (the witness not there yet, or gone) is dropped: the witness counts gaps, and a
/// workload must never stop running because nobody listens.
fn report(socket: &str, entity: &str) -> ! {
    let started = monotonic_ns();
    let generation: u64 = std::env::var("HAM_GENERATION")
        .ok()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0);
    // "net:[4026532281]": the namespace tells the node, also once the entity moves.
    let netns = std::fs::read_link("/proc/self/ns/net")
        .ok()
        .and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            l.trim_start_matches("net:[")
                .trim_end_matches(']')
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0);
    let pid = std::process::id();
    let sock = UnixDatagram::unbound().expect("datagram socket");
    let period = Duration::from_millis(10);
    let mut next = std::time::Instant::now();
    loop {
        let line = format!(
            "{entity} {generation} {netns} {pid} {started} {}",
            monotonic_ns()
        );
        let _ = sock.send_to(line.as_bytes(), socket);
        // A fixed schedule, not "10 ms after the last send": the gaps the witness sees are
        // the scheduler's, not an accumulated drift.
        next += period;
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("missing argument {i}"))
    };
    match arg(0) {
        "up" => up(arg(1)),
        "crash" => crash(arg(1).parse().expect("signal number")),
        "exit" => std::process::exit(arg(1).parse().expect("exit code")),
        "stamp" => append(arg(1), &now_ns().to_string()),
        "daemonize" => daemonize(arg(1), args.get(2).map(String::as_str)),
        "daemonize-late" => daemonize_late(arg(1), arg(2), arg(3), args.get(4).map(String::as_str)),
        "late-pid" => late_pid(arg(1), arg(2), arg(3).parse().expect("delay")),
        "crashloop" => {
            append(arg(1), &now_ns().to_string());
            std::process::exit(arg(2).parse().expect("exit code"))
        }
        "crash-until" => crash_until(arg(1), arg(2).parse().expect("count")),
        "watchdog" => watchdog(arg(1)),
        "signals" => signals(arg(1)),
        "sigstamps" => sigstamps(arg(1)),
        "pulses" => pulses(arg(1), arg(2).parse().expect("chid"), arg(3)),
        "deadlock" => deadlock(arg(1), arg(2), arg(3)),
        "selfcalls" => selfcalls(arg(1), arg(2), arg(3)),
        "report" => report(arg(1), arg(2)),
        other => panic!("unknown mode {other}"),
    }
}
