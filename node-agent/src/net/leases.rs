//! Node liveness (HAM-CONTRACT D5): every agent renews a lease on the Raft
//! leader; the leader marks a node down when its lease expires, which
//! triggers NODEDOWN on the cluster-wide global entity, and up again when it
//! renews. Leases are soft state on the leader: a new leader starts with
//! every lease fresh (a grace period of one lease), so a leader change never
//! marks live nodes down.

use super::cluster::{Cluster, call};
use ham_core::model::{Command, NodeId};
use ham_proto::ham::raft::v1 as rpb;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The leader's record of renewals.
#[derive(Debug)]
pub struct Leases {
    lease: Duration,
    last: Mutex<HashMap<NodeId, Instant>>,
}

impl Leases {
    /// Leases of length `lease`.
    pub fn new(lease: Duration) -> Leases {
        Leases {
            lease,
            last: Mutex::default(),
        }
    }

    /// The lease length.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Records a renewal by `node` now.
    pub fn renew(&self, node: NodeId) {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node, Instant::now());
    }

    fn last_seen(&self, node: NodeId) -> Option<Instant> {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&node)
            .copied()
    }

    fn forget_all(&self) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Renews this node's lease every third of a lease, on whichever node leads.
pub async fn renew_forever(cluster: Cluster, leases: std::sync::Arc<Leases>) {
    let me = cluster.node().identity.id;
    let mut ticks = tokio::time::interval(leases.lease() / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Ok(leader) = cluster.leader() else {
            continue;
        };
        if leader == me {
            leases.renew(me);
            continue;
        }
        let Ok(mut peer) = cluster.peer_of(leader) else {
            continue;
        };
        if let Err(e) = call(leader, peer.renew_lease(rpb::LeaseRequest { node_id: me })).await {
            tracing::debug!(leader, error = %e, "lease renewal failed");
        }
    }
}

/// On the leader: marks nodes whose lease expired down, and renewed ones up.
pub async fn check_forever(cluster: Cluster, leases: std::sync::Arc<Leases>) {
    let me = cluster.node().identity.id;
    let mut ticks = tokio::time::interval((leases.lease() / 4).max(Duration::from_millis(50)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leading_since: Option<Instant> = None;
    loop {
        ticks.tick().await;
        if cluster.node().status().leader_id != me {
            if leading_since.take().is_some() {
                leases.forget_all();
            }
            continue;
        }
        let since = *leading_since.get_or_insert_with(Instant::now);
        leases.renew(me);
        let nodes: Vec<(NodeId, bool)> = cluster
            .node()
            .read_now(|s| s.nodes.iter().map(|(&id, m)| (id, m.down)).collect());
        for (node, down) in nodes {
            let seen = leases.last_seen(node);
            let fresh_since = seen.map_or(since, |t| t.max(since));
            let expired = fresh_since.elapsed() > leases.lease();
            // A node marked down comes back only by renewing under this leader.
            let renewed = seen.is_some_and(|t| t >= since && t.elapsed() <= leases.lease());
            tracing::trace!(node, down, expired, renewed, "lease check");
            let change = if !down && expired {
                Some(false)
            } else if down && renewed {
                Some(true)
            } else {
                None
            };
            if let Some(up) = change {
                tracing::warn!(node, up, "node liveness changed");
                if let Err(e) = cluster
                    .node()
                    .write(Command::NodeLiveness { node, up })
                    .await
                {
                    tracing::warn!(node, error = %e, "could not record node liveness");
                }
            }
        }
    }
}
