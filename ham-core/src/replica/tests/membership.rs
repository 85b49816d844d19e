//! Membership changes, and a proposal that loses its slot in a leader change.

use super::cluster::{Cluster, values};
use super::{cmd, eventually};
use crate::replica::{Membership, MembershipChange, ReplicaError, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_add_learner_promote_and_remove() {
    let c = Cluster::new(4, &[1, 2, 3], |cfg| {
        cfg.snapshot_every = 10;
        cfg.keep_entries_after_snapshot = 5;
    });
    for id in 1..=3 {
        c.start(id);
    }
    let leader = c.leader().await;
    for i in 0..30 {
        c.node(leader).propose(cmd(i)).await.unwrap();
    }
    let bad = c.node(leader).change_membership(Vec::new()).await;
    assert!(matches!(bad, Err(ReplicaError::Config(_))), "{bad:?}");

    // A new node starts empty and is brought up by a snapshot carrying the configuration.
    let joiner = c.start_with(4, &[]);
    let lead = c.node(leader);
    let m = lead.change_membership(vec![MembershipChange::AddLearner(4)]);
    let m = m.await.unwrap();
    assert_eq!(
        m,
        Membership {
            voters: vec![1, 2, 3],
            learners: vec![4]
        }
    );
    eventually(5, "learner catches up", || values(&joiner).len() == 30).await;
    eventually(5, "learner knows the configuration", || {
        joiner.status().learners == [4]
    })
    .await;

    let m = lead.change_membership(vec![MembershipChange::AddVoter(4)]);
    assert_eq!(m.await.unwrap().voters, vec![1, 2, 3, 4]);

    // Two removals at once go through joint consensus; the answer comes after leaving it.
    // Proposed on node 4 (a follower): raft forwards it to the leader.
    let gone: Vec<u64> = (1..=3).filter(|&id| id != leader).collect();
    let changes = gone
        .iter()
        .map(|&id| MembershipChange::Remove(id))
        .collect();
    let m = joiner.change_membership(changes).await.unwrap();
    let mut expect = vec![leader, 4];
    expect.sort_unstable();
    assert_eq!(
        m,
        Membership {
            voters: expect.clone(),
            learners: vec![]
        }
    );
    for id in gone {
        c.stop(id).await;
    }
    assert_eq!(lead.status().voters, expect);
    // The two remaining voters still form a quorum.
    assert_eq!(joiner.propose(cmd(99)).await.unwrap(), (99, 31));
    eventually(5, "leader applies", || values(&lead).len() == 31).await;

    // After a restart the configuration comes back from the snapshot plus the replayed log.
    c.stop(4).await;
    let joiner = c.start_with(4, &[]);
    eventually(5, "restarted node replays", || values(&joiner).len() == 31).await;
    assert_eq!(joiner.status().voters, expect);
    assert_eq!(joiner.propose(cmd(100)).await.unwrap(), (100, 32));
    c.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposal_appended_by_a_deposed_leader_commits_under_the_new_one() {
    let c = Cluster::new(3, &[1, 2, 3], |_| {});
    for id in 1..=3 {
        c.start(id);
    }
    let old = c.leader().await;
    c.set_cut(old, true);
    // The isolated leader appends this entry, but can never commit it.
    let stale = c.node(old);
    let started = tokio::time::Instant::now();
    let lost = tokio::spawn(async move { stale.propose(cmd(7)).await });
    // Propose on the new leader: a follower would forward to the leader it still knows (the
    // cut one), and such a forwarded proposal is only answered by the timeout.
    let mut new = 0;
    eventually(5, "a new leader", || {
        let nodes = c.net.nodes.lock().unwrap();
        new = nodes
            .values()
            .map(|h| h.status())
            .find(|s| s.role == Role::Leader && s.id != old)
            .map_or(0, |s| s.id);
        new != 0
    })
    .await;
    assert_eq!(c.node(new).propose(cmd(8)).await.unwrap(), (8, 1));
    c.set_cut(old, false);
    // The entry in its slot is another one, but the old leader proposes it again to the new
    // leader as soon as it learns of it: the caller gets its answer, not a timeout.
    let res = lost.await.unwrap();
    assert_eq!(res.unwrap(), (7, 2));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "answered without waiting for the timeout"
    );
    for id in 1..=3 {
        let h = c.node(id);
        eventually(5, "every node converges", || values(&h) == [8, 7]).await;
    }
    c.stop_all().await;
}
