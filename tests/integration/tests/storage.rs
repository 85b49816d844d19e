//! The store on disk against a real `ham`: damage is found, never applied (HAM-CONTRACT M3).

use ham_client::NodeSel;
use ham_integration_tests::HamProcess;
use std::path::Path;
use std::time::Duration;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Flips one bit inside every copy of `marker` in the file; returns how many copies there were.
fn damage(path: &Path, marker: &[u8]) -> usize {
    let mut bytes = std::fs::read(path).unwrap();
    let mut copies = 0;
    let mut i = 0;
    while i + marker.len() <= bytes.len() {
        if &bytes[i..i + marker.len()] == marker {
            bytes[i + marker.len() - 1] ^= 0x01;
            copies += 1;
            i += marker.len();
        } else {
            i += 1;
        }
    }
    std::fs::write(path, &bytes).unwrap();
    copies
}

/// The number after `log entry ` in `text`, if any.
fn entry_index(text: &str) -> Option<u64> {
    let at = text.find("log entry ")? + "log entry ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn m3_a_damaged_log_entry_stops_start_up_with_exit_3_naming_file_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::start(dir.path());
    runtime().block_on(async {
        let c = ham.client().await;
        for name in ["before1", "m3mark05250", "after1", "after2"] {
            c.entity(NodeSel::Local, name, 0).await.unwrap();
        }
    });
    // An orderly stop: after SIGKILL redb repairs the file at the next open, and its repair
    // checks its own page checksums, which would find the damage before the store's do.
    assert_eq!(ham.terminate(), Some(0));
    let store = ham.data_dir.join("raft").join("raft.redb");
    // A handful of entries is far below the snapshot interval: the name is in the log.
    assert!(
        damage(&store, b"m3mark05250") >= 1,
        "the name is not in {store:?}"
    );
    let log_before = ham.log_text().len();
    ham.launch_nowait();
    let code = ham.wait_exit(Duration::from_secs(20));
    let log = ham.log_text()[log_before..].to_string();
    assert_eq!(code, Some(3), "{log}");
    assert!(log.contains(&store.display().to_string()), "{log}");
    assert!(log.contains("fails its checksum"), "{log}");
    let index = entry_index(&log).unwrap_or_else(|| panic!("no entry index in: {log}"));
    assert!(index > 1, "{log}");
}
