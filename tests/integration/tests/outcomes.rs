//! Write answers mean what they say, across partitions (HAM-CONTRACT M5): a
//! write answered EAGAIN is never committed, not even later; a write answered
//! ETIMEDOUT may have been, and retried with the same request id it exists
//! exactly once and answers OK.

use ham_client::{Errno, NodeSel, WriteRetry};
use ham_integration_tests::cluster::TestCluster;
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// How many placeholders named `name` node `via` holds in node 1's context
/// (linearizable read).
fn count_via(c: &TestCluster, via: usize, name: &str) -> usize {
    rt().block_on(async {
        let ham = c.nodes[via].client().await;
        let tree = ham.tree(NodeSel::Id(1), "", "", "", true).await.unwrap();
        tree.entities.iter().filter(|e| e.name == name).count()
    })
}

#[test]
fn m5_partition_rounds_eagain_never_commits_etimedout_retries_to_exactly_once() {
    let c = TestCluster::namespaced(3);
    let netns = c.netns.as_ref().unwrap();
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    let started = Instant::now();
    for round in 0..6 {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "rounds take too long"
        );
        let leader = c.wait_leader(0, None, Duration::from_secs(15));
        let cut = (leader + 1 + round % 2) % 3;
        let (id, name) = (
            format!("m5-{round}-{}", std::process::id()),
            format!("m5r{round}"),
        );
        netns.set_connected(cut, false);
        if round % 2 == 1 {
            // Long enough for the cut-off node to forget its leader: the write
            // is then never handed to raft.
            std::thread::sleep(Duration::from_millis(2500));
        }
        // Once, so that the first answer is seen as it is.
        let answer = rt().block_on(async {
            let ham = c.nodes[cut].client().await;
            let once = ham.with_write_retry(WriteRetry::NONE);
            let call = once.entity_with_request_id(&id, NodeSel::Id(1), &name, 0);
            tokio::time::timeout(Duration::from_secs(20), call)
                .await
                .expect("answered within 20 s")
        });
        netns.set_connected(cut, true);
        match answer {
            Err(e) if e.errno == Errno::Eagain => refused.push(name.clone()),
            Err(e) if e.errno == Errno::Etimedout => unknown.push((id.clone(), name.clone())),
            other => panic!("round {round}: a cut-off node answered {other:?}"),
        }
        c.wait_leader(cut, None, Duration::from_secs(15));
        // Anything held in buffers during the cut has arrived by now.
        std::thread::sleep(Duration::from_secs(2));
        for node in 0..3 {
            for name in &refused {
                assert_eq!(
                    count_via(&c, node, name),
                    0,
                    "node {}: {name}, answered EAGAIN, was committed",
                    node + 1
                );
            }
        }
        if let Some((id, name)) = unknown.last().filter(|(i, _)| *i == id) {
            // The retry learns the first outcome: OK, whether or not the
            // first attempt committed (a second apply would be EEXIST).
            let retry = rt().block_on(async {
                let ham = c.nodes[cut].client().await;
                let call = ham.entity_with_request_id(id, NodeSel::Id(1), name, 0);
                tokio::time::timeout(Duration::from_secs(30), call)
                    .await
                    .expect("the retry is answered within 30 s")
            });
            assert!(retry.is_ok(), "round {round}: the retry answered {retry:?}");
            for node in 0..3 {
                let seen = Instant::now();
                while count_via(&c, node, name) != 1 {
                    assert!(
                        seen.elapsed() < Duration::from_secs(10),
                        "node {}: {name} is not there exactly once",
                        node + 1
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
    assert!(
        !refused.is_empty() && !unknown.is_empty(),
        "both outcomes were exercised (EAGAIN {refused:?}, ETIMEDOUT {unknown:?})"
    );
}
