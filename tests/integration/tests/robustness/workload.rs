//! The workloads: entities whose process is `ham-testprog report WITNESS NAME`, attached with
//! a restart on death, one kind at a time.
//!
//! Only [`Workload::Local`] exists: an entity of one node, restarted there (D3), re-adopted
//! by its restarted agent (E11), never running twice. Two kinds come with the placement and
//! fencing work, and each is one arm here plus the checks it switches on:
//!
//! - `Movable`: the attach sets `AttachRequest` fields 60/61 (movable, its allowed nodes;
//!   `hamctrl attach --movable [--nodes a,b]`) through [`ham_client::Attach`]. Its check in
//!   `rounds.rs` becomes "running on exactly one node somewhere" instead of "running on its
//!   own node" (`checks::not_running` with every node's namespace allowed), and the node-loss
//!   faults count a replacement on another node before the heal; the witness already names
//!   the node by namespace and records `HAM_GENERATION`, which must then only grow.
//! - `QuorumBound`: field 65 (`--quorum-bound`). Its check becomes "running on every node of
//!   the quorum side, on none cut off from it" after each cut, and "stopped before the lease
//!   ran out" while a node is cut off (the witness's last report of the cut-off copy against
//!   the fault time plus the lease).
//!
//! Overlaps, lost writes, duplicates and time to running again are checked for every kind.

use ham_client::attach::{self as parts, Attach};
use ham_client::proto::{ConditionType, EntityHandle};
use ham_client::{Ham, HamResult, NodeSel};
use ham_vocab::flags::HREARMAFTERRESTART;

/// The kinds of entity the suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Runs on the node it is attached to; restarted there when it dies.
    Local,
}

/// Attaches entity `name` of `kind` on node `node` (its id), starting `line`, with a DEATH
/// condition whose restart action starts it again.
pub async fn attach(
    ham: &Ham,
    kind: Workload,
    node: u64,
    name: &str,
    line: &str,
) -> HamResult<EntityHandle> {
    let restart = ham_client::proto::AttachCondition {
        actions: vec![parts::restart("restart", line, HREARMAFTERRESTART)],
        ..parts::condition("death", ConditionType::Death, HREARMAFTERRESTART)
    };
    let spec = match kind {
        Workload::Local => Attach::start(line).with(restart),
    };
    ham.attach_with(NodeSel::Id(node), name, &spec).await
}
