//! Durability of acknowledged writes across SIGKILL (HAM-CONTRACT D1, one node).

use ham_client::{Ham, NodeSel};
use ham_integration_tests::HamProcess;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes placeholders `e0, e1, ...` as fast as the daemon acknowledges them,
/// reconnecting whenever the daemon is gone; records every acknowledged name.
fn writer(socket: std::path::PathBuf, acked: Arc<Mutex<Vec<String>>>, stop: Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Ok(ham) = Ham::connect_uds(&socket).await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            while !stop.load(Ordering::Relaxed) {
                let name = format!("e{n}");
                n += 1;
                match ham.entity(NodeSel::Local, &name, 0).await {
                    Ok(_) => acked.lock().unwrap().push(name),
                    Err(_) => break,
                }
            }
        }
    });
}

#[test]
fn d1_kill9_loop_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::start(dir.path());
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (socket, acked, stop) = (ham.socket.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || writer(socket, acked, stop))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut kills = 0;
    let mut seed = u64::from(std::process::id());
    while kills < 12 && Instant::now() < deadline {
        // Kill at an unpredictable moment, 50-300 ms after the daemon came up.
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(50 + (seed >> 33) % 250));
        ham.restart();
        kills += 1;
    }
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    ham.restart();

    let acked = acked.lock().unwrap().clone();
    assert_eq!(kills, 12, "the loop ran out of time");
    assert!(
        acked.len() >= 50,
        "too few writes were acknowledged: {}",
        acked.len()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tree = rt.block_on(async {
        let ham = ham.client().await;
        ham.tree(NodeSel::Local, "", "", "", true).await.unwrap()
    });
    let present: std::collections::HashSet<String> =
        tree.entities.iter().map(|e| e.name.clone()).collect();
    let lost: Vec<&String> = acked.iter().filter(|n| !present.contains(*n)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}
