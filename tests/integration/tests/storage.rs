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

/// A tmpfs mounted for one test, unmounted when dropped (even when the test fails).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// None (with the reason printed) when this process may not mount.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            Ok(o) => {
                println!(
                    "skipped: cannot mount a tmpfs: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let st = nix::sys::statvfs::statvfs(dir).unwrap();
    st.blocks_available() * st.fragment_size()
}

/// One entity write through the raw API: Ok, or the status code and the errno metadata.
async fn write_entity(
    raw: &mut ham_client::proto::ham_client::HamClient<tonic::transport::Channel>,
    name: &str,
) -> Result<(), (tonic::Code, String)> {
    let req = ham_client::proto::EntityRequest {
        node: None,
        name: name.into(),
        flags: 0,
        ..Default::default()
    };
    raw.entity(req).await.map(|_| ()).map_err(|st| {
        let errno = st
            .metadata()
            .get(ham_vocab::ERRNO_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (st.code(), errno)
    })
}

#[test]
fn m4_a_full_disk_refuses_writes_with_enospc_keeps_reads_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("disk"), "16m") else {
        return;
    };
    let mut ham = HamProcess::prepare(dir.path(), "127.0.0.1:0", "testnode", None, &[]);
    ham.data_dir = fs.0.join("data");
    ham.launch();
    // Leave ~300 KB free besides the store's reserve.
    let filler = fs.0.join("filler");
    let fill = free_bytes(&fs.0).saturating_sub(300 * 1024);
    std::fs::write(&filler, vec![0xa5u8; fill as usize]).unwrap();
    let acked = runtime().block_on(async {
        let c = ham.client().await;
        let mut raw = c.raw();
        let mut acked = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let refused = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "no ENOSPC after {} writes",
                acked.len()
            );
            let name = format!("m4-{:06}-padding-padding-padding", acked.len());
            match write_entity(&mut raw, &name).await {
                Ok(()) => acked.push(name),
                Err(e) => break e,
            }
        };
        assert_eq!(
            refused,
            (tonic::Code::ResourceExhausted, "ENOSPC".to_string()),
            "after {} writes",
            acked.len()
        );
        // Writes stay refused, at once, while the disk is full.
        let again = write_entity(&mut raw, "m4-while-full").await;
        assert_eq!(
            again,
            Err((tonic::Code::ResourceExhausted, "ENOSPC".to_string()))
        );
        // Reads keep working, and every acknowledged write is there.
        let tree = c.tree(NodeSel::Local, "", "", "", true).await.unwrap();
        let present: std::collections::HashSet<String> =
            tree.entities.iter().map(|e| e.name.clone()).collect();
        let lost: Vec<&String> = acked.iter().filter(|n| !present.contains(*n)).collect();
        assert!(lost.is_empty(), "acknowledged but missing: {lost:?}");
        assert!(!present.contains("m4-while-full"));
        // Space comes back: writes succeed again by themselves.
        std::fs::remove_file(&filler).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match write_entity(&mut raw, "m4-after").await {
                Ok(()) => break,
                Err(e) => assert!(
                    std::time::Instant::now() < deadline,
                    "writes still refused 10 s after space came back: {e:?}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        acked.push("m4-after".to_string());
        acked
    });
    assert!(ham.is_running(), "{}", ham.log_text());
    // Nothing acknowledged is lost across a restart either.
    assert_eq!(ham.terminate(), Some(0), "{}", ham.log_text());
    ham.launch();
    let present: std::collections::HashSet<String> = runtime().block_on(async {
        let tree = ham
            .client()
            .await
            .tree(NodeSel::Local, "", "", "", true)
            .await
            .unwrap();
        tree.entities.into_iter().map(|e| e.name).collect()
    });
    let lost: Vec<&String> = acked.iter().filter(|n| !present.contains(*n)).collect();
    assert!(lost.is_empty(), "lost after a restart: {lost:?}");
    ham.kill_all();
}
