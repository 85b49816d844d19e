//! Several real `ham` nodes: failover, partitions, whole-cluster restart,
//! membership, cross-node notification, NODEDOWN and remote control
//! (HAM-CONTRACT D1, D2, D4, D5, N6, X3).

use ham_client::{Ham, NodeSel};
use ham_integration_tests::cluster::{TestCluster, free_port};
use ham_integration_tests::{HamProcess, bin, lines, wait_for};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PROG: &str = env!("CARGO_BIN_EXE_ham-testprog");

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Names of the placeholders in node 1's context, as node `via` reads them (linearizable).
fn entities_via(c: &TestCluster, via: usize) -> HashSet<String> {
    rt().block_on(async {
        let ham = c.nodes[via].client().await;
        let tree = ham.tree(NodeSel::Id(1), "", "", "", true).await.unwrap();
        tree.entities.into_iter().map(|e| e.name).collect()
    })
}

/// Starts a new write every 20 ms through `socket` until one commits; the
/// time from `since` to that commit.
fn first_write_after(socket: &std::path::Path, since: Instant, limit: Duration) -> Duration {
    rt().block_on(async {
        let done = Arc::new(Mutex::new(None::<Duration>));
        let mut n = 0u32;
        while done.lock().unwrap().is_none() && since.elapsed() < limit {
            let (socket, done) = (socket.to_path_buf(), done.clone());
            let name = format!("failover{n}");
            n += 1;
            tokio::spawn(async move {
                let Ok(ham) = Ham::connect_uds(&socket).await else {
                    return;
                };
                if ham.entity(NodeSel::Id(1), &name, 0).await.is_ok() {
                    done.lock().unwrap().get_or_insert(since.elapsed());
                }
            });
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = *done.lock().unwrap();
        took.unwrap_or_else(|| panic!("no write committed within {limit:?} of the kill"))
    })
}

/// Writes placeholders `w0, w1, ...` through node `via`'s socket until stopped.
fn writer(socket: std::path::PathBuf, acked: Arc<Mutex<Vec<String>>>, stop: Arc<AtomicBool>) {
    rt().block_on(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Ok(ham) = Ham::connect_uds(&socket).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{n}");
                n += 1;
                // Placeholders live in node 1's context whichever node takes the write.
                match ham.entity(NodeSel::Id(1), &name, 0).await {
                    Ok(_) => acked.lock().unwrap().push(name),
                    Err(e) if e.errno == ham_client::Errno::Eagain => {}
                    Err(_) => break,
                }
            }
        }
    });
}

#[test]
fn d2_leader_killed_new_leader_takes_writes_within_2s() {
    let mut c = TestCluster::loopback(3);
    let leader = c.wait_leader(0, None, Duration::from_secs(10));
    let via = (leader + 1) % 3;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let t = {
        let (socket, acked, stop) = (c.nodes[via].socket.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || writer(socket, acked, stop))
    };
    wait_for("writes before the kill", Duration::from_secs(10), || {
        acked.lock().unwrap().len() >= 20
    });
    let killed = Instant::now();
    c.nodes[leader].kill9();
    // D2: a new leader takes writes within 2 s of the old one's death. A
    // request already forwarded to the dead leader waits out its proposal
    // timeout (ETIMEDOUT): like a retrying client, start a new write every 20 ms
    // and time the first one that commits.
    let failover = first_write_after(&c.nodes[via].socket, killed, Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    assert!(
        failover <= Duration::from_secs(2),
        "failover took {failover:?}"
    );
    let new_leader = c.wait_leader(via, Some(leader), Duration::from_secs(5));
    assert_ne!(new_leader, leader);

    // D1: no acknowledged write is lost, on the survivors and on the old leader once back.
    let acked: Vec<String> = acked.lock().unwrap().clone();
    let present = entities_via(&c, via);
    let lost: Vec<_> = acked.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "lost {} acknowledged writes: {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    c.nodes[leader].launch();
    let back = entities_via(&c, leader);
    assert!(
        acked.iter().all(|n| back.contains(n)),
        "the restarted node misses acknowledged writes"
    );
}

#[test]
fn d1_minority_cut_off_cannot_commit_and_catches_up_after_healing() {
    let c = TestCluster::namespaced(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    let netns = c.netns.as_ref().unwrap();
    netns.set_connected(2, false);
    // The majority commits (a write forwarded to a cut-off leader answers
    // EAGAIN, "try again", until the majority elects a new one).
    wait_for(
        "a write on the majority side",
        Duration::from_secs(10),
        || {
            c.nodes[0]
                .hamctrl(&["--node", "1", "entity", "during-cut"])
                .status
                .success()
        },
    );
    // The minority cannot: its write is never acknowledged. It ends with
    // EAGAIN (never handed to raft: it will not commit) or, when the node
    // forwarded it to a leader it still believed in, ETIMEDOUT (M5: it may
    // commit once healed).
    let out = c.nodes[2].hamctrl(&["--node", "1", "entity", "from-minority"]);
    assert!(!out.status.success(), "the cut-off node committed a write");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refused = stderr.contains("EAGAIN");
    assert!(refused || stderr.contains("ETIMEDOUT"), "{out:?}");
    netns.set_connected(2, true);
    wait_for(
        "the cut-off node to catch up",
        Duration::from_secs(15),
        || {
            rt().block_on(async {
                let ham = c.nodes[2].client().await;
                let Ok(tree) = ham.tree(NodeSel::Id(1), "", "", "", true).await else {
                    return false;
                };
                tree.entities.iter().any(|e| e.name == "during-cut")
            })
        },
    );
    let names = entities_via(&c, 0);
    assert!(
        !refused || !names.contains("from-minority"),
        "a write refused with EAGAIN appeared later"
    );
}

#[test]
fn d1_whole_cluster_restart_keeps_the_state() {
    let mut c = TestCluster::loopback(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    for name in ["a", "b", "c"] {
        c.nodes[1].hamctrl_ok(&["--node", "1", "entity", name]);
    }
    for n in &mut c.nodes {
        assert_eq!(n.terminate(), Some(0), "{}", n.log_text());
    }
    for n in &mut c.nodes {
        n.launch_nowait();
    }
    for n in &mut c.nodes {
        n.wait_until_ready(Duration::from_secs(30));
    }
    let names = entities_via(&c, 2);
    assert!(
        ["a", "b", "c"].iter().all(|n| names.contains(*n)),
        "{names:?}"
    );
}

#[test]
fn d1_fourth_node_joins_by_snapshot_then_is_removed() {
    let c = TestCluster::loopback(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    for i in 0..20 {
        c.nodes[0].hamctrl_ok(&["--node", "1", "entity", &format!("before{i}")]);
    }
    let addr = format!("127.0.0.4:{}", free_port("127.0.0.4"));
    let dir = c.dir.path().join("n4");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["--node-id", "4", "--join", "--lease-ms", "1000"];
    let peers: Vec<String> = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}={}@{}", i + 1, n.name, n.listen))
        .collect();
    for p in &peers {
        args.extend(["--peer", p.as_str()]);
    }
    let mut fourth = HamProcess::prepare(&dir, &addr, "n4", None, &args);
    fourth.launch_nowait();
    c.nodes[1].hamctrl_ok(&["node", "add", "4", "n4", &addr, "--learner"]);
    fourth.wait_until_ready(Duration::from_secs(30));
    // It caught up (the log before it joined came as a snapshot) and serves reads.
    let names = entities_via_process(&fourth);
    assert!(
        (0..20).all(|i| names.contains(&format!("before{i}"))),
        "{names:?}"
    );
    c.nodes[0].hamctrl_ok(&["node", "add", "4", "n4", &addr]);
    let nodes = c.nodes[0].hamctrl_ok(&["nodes"]);
    assert!(
        nodes
            .lines()
            .any(|l| l.contains("n4") && l.contains("voter")),
        "{nodes}"
    );
    c.nodes[2].hamctrl_ok(&["node", "remove", "n4"]);
    let nodes = c.nodes[0].hamctrl_ok(&["nodes"]);
    assert!(
        !nodes
            .lines()
            .any(|l| l.contains("n4") && (l.contains("voter") || l.contains("learner"))),
        "{nodes}"
    );
    // The three voters still commit.
    c.nodes[0].hamctrl_ok(&["--node", "1", "entity", "after"]);
}

fn entities_via_process(p: &HamProcess) -> HashSet<String> {
    rt().block_on(async {
        let ham = p.client().await;
        let tree = ham.tree(NodeSel::Id(1), "", "", "", true).await.unwrap();
        tree.entities.into_iter().map(|e| e.name).collect()
    })
}

#[test]
fn d4_death_on_one_node_notifies_a_process_on_another_by_signal_and_pulse() {
    let c = TestCluster::loopback(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    let dir = c.dir.path();
    let (sigs, pulses, up) = (dir.join("sigs"), dir.join("pulses"), dir.join("up"));
    let (sigs, pulses, up) = (
        sigs.to_str().unwrap(),
        pulses.to_str().unwrap(),
        up.to_str().unwrap(),
    );
    // Receivers on node 2 (the pulse channel is opened on node 2's HAM).
    let socket2 = c.nodes[1].socket.to_str().unwrap().to_string();
    let mut sig_rx = std::process::Command::new(PROG)
        .args(["signals", sigs])
        .spawn()
        .unwrap();
    let mut pulse_rx = std::process::Command::new(PROG)
        .args(["pulses", &socket2, "4", pulses])
        .spawn()
        .unwrap();
    wait_for("receivers", Duration::from_secs(5), || {
        lines(sigs).len() == 1 && lines(pulses).len() == 1
    });
    let (sp, pp) = (sig_rx.id().to_string(), pulse_rx.id().to_string());
    // The victim runs on node 1; its death notifies processes on node 2.
    let n1 = &c.nodes[0];
    n1.hamctrl_ok(&["attach", "victim", "--cmd", &format!("{PROG} up {up}")]);
    n1.hamctrl_ok(&["condition", "victim", "d", "death"]);
    n1.hamctrl_ok(&[
        "action",
        "victim",
        "d",
        "sig",
        "signal",
        "--pid",
        &sp,
        "--signum",
        "10",
        "--value",
        "77",
        "--to-node",
        "n2",
    ]);
    n1.hamctrl_ok(&[
        "action",
        "victim",
        "d",
        "pulse",
        "pulse",
        "--pid",
        &pp,
        "--chid",
        "4",
        "--code",
        "3",
        "--value",
        "88",
        "--to-node",
        "2",
    ]);
    wait_for("the victim", Duration::from_secs(5), || {
        lines(up).len() == 1
    });
    let pid = lines(up)[0].split(' ').next().unwrap().to_string();
    let t0 = Instant::now();
    std::process::Command::new("/bin/kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    wait_for("the signal on node 2", Duration::from_secs(5), || {
        lines(sigs).len() == 2
    });
    wait_for("the pulse on node 2", Duration::from_secs(5), || {
        lines(pulses).len() == 2
    });
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(lines(sigs)[1], "10 77 -1");
    assert_eq!(lines(pulses)[1], "3 88");
    let _ = sig_rx.kill();
    let _ = pulse_rx.kill();
    let _ = sig_rx.wait();
    let _ = pulse_rx.wait();
}

#[test]
fn d4_notification_to_an_unreachable_node_fails_the_action() {
    let mut c = TestCluster::loopback(3);
    let leader = c.wait_leader(0, None, Duration::from_secs(10));
    // The unreachable target is a follower other than node 1 (which takes the
    // writes), so the cluster keeps its leader and its writes go through.
    let target = if leader == 2 { 1 } else { 2 };
    let target_name = format!("n{}", target + 1);
    let dir = c.dir.path();
    let (up, mark) = (dir.join("up"), dir.join("mark"));
    let (up, mark) = (up.to_str().unwrap(), mark.to_str().unwrap());
    c.nodes[target].kill9();
    let n1 = &c.nodes[0];
    n1.hamctrl_ok(&["attach", "victim", "--cmd", &format!("{PROG} up {up}")]);
    n1.hamctrl_ok(&["condition", "victim", "d", "death"]);
    n1.hamctrl_ok(&[
        "action",
        "victim",
        "d",
        "sig",
        "signal",
        "--pid",
        "1",
        "--signum",
        "10",
        "--value",
        "1",
        "--to-node",
        &target_name,
    ]);
    n1.hamctrl_ok(&[
        "action-fail",
        "victim",
        "d",
        "sig",
        "note",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    wait_for("the victim", Duration::from_secs(5), || {
        lines(up).len() == 1
    });
    let pid = lines(up)[0].split(' ').next().unwrap().to_string();
    std::process::Command::new("/bin/kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    wait_for(
        "the action-fail list to run",
        Duration::from_secs(10),
        || lines(mark).len() == 1,
    );
}

#[test]
fn d5_nodedown_fires_when_a_node_is_killed() {
    let mut c = TestCluster::loopback(3);
    let leader = c.wait_leader(0, None, Duration::from_secs(10));
    let victim = (leader + 1) % 3;
    let via = (leader + 2) % 3;
    let mark = c.dir.path().join("nodedown");
    let mark = mark.to_str().unwrap().to_string();
    let n = &c.nodes[via];
    n.hamctrl_ok(&["--node", "*", "condition", "@global", "lost", "nodedown"]);
    n.hamctrl_ok(&[
        "--node",
        "*",
        "action",
        "@global",
        "lost",
        "note",
        "execute",
        "--cmd",
        &format!("{PROG} stamp {mark}"),
    ]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(lines(&mark).is_empty(), "NODEDOWN fired with every node up");
    c.nodes[victim].kill9();
    // Lease 1 s in tests, checked every 250 ms.
    wait_for("NODEDOWN", Duration::from_secs(10), || {
        lines(&mark).len() == 1
    });
    let nodes = c.nodes[via].hamctrl_ok(&["nodes"]);
    let name = format!("n{}", victim + 1);
    assert!(
        nodes
            .lines()
            .any(|l| l.contains(&name) && l.contains("DOWN")),
        "{nodes}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&mark).len(), 1, "NODEDOWN fired more than once");
    // Back up: the node renews its lease and is marked up again.
    c.nodes[victim].launch();
    wait_for("the node up again", Duration::from_secs(10), || {
        c.nodes[via]
            .hamctrl_ok(&["nodes"])
            .lines()
            .any(|l| l.contains(&name) && l.contains("UP"))
    });
}

#[test]
fn x3_hamctrl_node_stop_stops_only_that_node() {
    let mut c = TestCluster::loopback(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    c.nodes[0].hamctrl_ok(&["-node", "n3", "-stop"]);
    assert_eq!(
        c.nodes[2].wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        c.nodes[2].log_text()
    );
    assert!(c.nodes[0].is_running() && c.nodes[1].is_running());
    // The two left still form a majority.
    // If node 3 led, a write forwarded to it just before it stopped answers
    // EAGAIN: retry as a client would until the two left elect a leader.
    wait_for(
        "a write on the two nodes left",
        Duration::from_secs(15),
        || {
            c.nodes[1]
                .hamctrl(&["--node", "1", "entity", "still-writable"])
                .status
                .success()
        },
    );
    // Stopping the whole cluster needs the explicit flag.
    c.nodes[0].hamctrl_ok(&["stop", "--cluster"]);
    assert_eq!(c.nodes[0].wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(c.nodes[1].wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn n6_calls_route_by_node_id_and_name() {
    let mut c = TestCluster::loopback(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    let up = c.dir.path().join("up");
    let up = up.to_str().unwrap().to_string();
    // Attach through node 1 onto node 2 (by name): node 2's agent starts it.
    c.nodes[0].hamctrl_ok(&[
        "-node",
        "n2",
        "attach",
        "remote",
        "--cmd",
        &format!("{PROG} up {up}"),
    ]);
    wait_for("the process", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    let pid: u32 = lines(&up)[0].split(' ').next().unwrap().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ppid, c.nodes[1].pid(), "not started by node 2's agent");
    // By id, from node 3; the tree comes from node 2 (its HAM pid).
    let info = c.nodes[2].hamctrl_ok(&["-node", "2", "cat", ".info"]);
    assert!(
        info.contains(&format!("Ham Pid : {}", c.nodes[1].pid())),
        "{info}"
    );
    // Unknown: EHOSTUNREACH. Known but dead: EBADF.
    let out = c.nodes[0].hamctrl(&["-node", "nowhere", "ls"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EHOSTUNREACH"),
        "{out:?}"
    );
    c.nodes[2].kill9();
    let out = c.nodes[0].hamctrl(&["-node", "n3", "-stop"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EBADF"),
        "{out:?}"
    );
    let _ = bin("ham");
}

#[test]
fn d3_a_node_cut_off_from_the_quorum_still_restarts_its_processes() {
    let c = TestCluster::namespaced(3);
    c.wait_leader(0, None, Duration::from_secs(10));
    let up = c.dir.path().join("up");
    let up = up.to_str().unwrap().to_string();
    // The process runs on node 3 (its agent starts it).
    c.nodes[0].hamctrl_ok(&[
        "-node",
        "n3",
        "attach",
        "local",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
    ]);
    wait_for("the start", Duration::from_secs(5), || {
        lines(&up).len() == 1
    });
    c.netns.as_ref().unwrap().set_connected(2, false);
    let pid = lines(&up)[0].split(' ').next().unwrap().to_string();
    std::process::Command::new("/bin/kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    // No quorum on node 3's side, yet the restart happens at once.
    wait_for("the local restart", Duration::from_secs(2), || {
        lines(&up).len() == 2
    });
    assert_eq!(
        lines(&up)[1].split(' ').nth(1),
        Some("2"),
        "HAM_INSTANCE of the restart"
    );
    // Once healed, the outcome reaches the replicated state.
    c.netns.as_ref().unwrap().set_connected(2, true);
    wait_for("the outcome replicated", Duration::from_secs(20), || {
        let info = c.nodes[0].hamctrl(&["-node", "n3", "cat", "local/.info"]);
        String::from_utf8_lossy(&info.stdout).contains("Num Restarts : 1")
    });
}

#[test]
fn e1_an_attach_for_another_node_with_a_pid_above_pid_max_is_einval() {
    let c = TestCluster::loopback(2);
    c.wait_leader(0, None, Duration::from_secs(10));
    // A process node 2 could watch: 2^32 + its pid would be its pid narrowed to 32 bits.
    let mut victim = std::process::Command::new("/bin/sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let wrapped = (1i64 << 32) + i64::from(victim.id());
    rt().block_on(async {
        let ham = c.nodes[0].client().await;
        for pid in [wrapped, 4_194_305] {
            let e = ham
                .attach(NodeSel::Id(2), "wrapped", pid, "", 0)
                .await
                .expect_err("attach of a pid above PID_MAX_LIMIT");
            assert_eq!(e.errno, ham_client::Errno::Einval, "{e}");
            let e = ham
                .attach(NodeSel::Name("n2".into()), "wrapped", pid, "/bin/true", 0)
                .await
                .expect_err("attach of a pid above PID_MAX_LIMIT");
            assert_eq!(e.errno, ham_client::Errno::Einval, "{e}");
        }
        // Nothing is watched on node 2, as node 2 itself tells.
        let n2 = c.nodes[1].client().await;
        let tree = n2.tree(NodeSel::Local, "", "", "", true).await.unwrap();
        assert!(
            tree.entities.iter().all(|e| e.name != "wrapped"),
            "{tree:?}"
        );
    });
    let _ = victim.kill();
    let _ = victim.wait();
}
