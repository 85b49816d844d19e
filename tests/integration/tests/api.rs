//! The client library against a real `ham`: every RPC round trip, and every
//! refusal with its errno (HAM-CONTRACT N, E, K, A, X, M1).
//!
//! Only what the daemon implements today is claimed here: the writes and
//! checks of the model, look-ups, control, published raises and states
//! (stored; the plans they compute are not run yet), verbosity, stop and the
//! tree. Deaths, restarts and missed-heartbeat detection have no process
//! supervision behind them yet and are not tested.

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ham_client::proto::{self as pb, EntityInfo, action_fail_info, action_info, node_ref};
use ham_client::{
    ConditionType, ControlCommand, EntityKind, Errno, Ham, HamAddress, HamError, HamResult,
    HeartbeatState, NodeSel, Pulse, Signal, UNREACHABLE, VerboseOp, flags, ham_connect_to,
    ham_connection_count, ham_disconnect_from,
};
use ham_integration_tests::HamProcess;
use ham_vocab::CLUSTER_NODE_ID;

/// Longest a whole test may take once its daemon is up.
const LIMIT: Duration = Duration::from_secs(60);
const L: NodeSel = NodeSel::Local;
const REARM: u32 = flags::HREARMAFTERRESTART;

/// A daemon with its own directory (dropped in this order: daemon, then directory).
struct Node {
    ham: HamProcess,
    dir: tempfile::TempDir,
}

fn node() -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    Node {
        ham: HamProcess::start(dir.path()),
        dir,
    }
}

/// Bounds a test body: a daemon that stops answering fails the test instead of hanging it.
async fn within<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, body)
        .await
        .unwrap_or_else(|_| panic!("the test did not finish within {LIMIT:?}"))
}

/// Asserts that a call failed with `want`; returns the error.
#[track_caller]
fn errno<T: std::fmt::Debug>(result: HamResult<T>, want: Errno) -> HamError {
    match result {
        Ok(v) => panic!("expected {want}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.errno, want, "{e}");
            e
        }
    }
}

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(d.as_nanos()).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Waits (bounded) for the daemon to exit by itself, letting this test's
/// runtime run meanwhile: a stopping `ham` waits until its clients'
/// connections close, and ours close only while the runtime polls them.
async fn exit_code(ham: &mut HamProcess, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(code) = ham.wait_exit(ms(20)) {
            return Some(code);
        }
        tokio::time::sleep(ms(20)).await;
    }
    None
}

/// One entity as the tree shows it.
async fn entity(c: &Ham, name: &str) -> EntityInfo {
    let tree = c.tree(L, name, "", "", false).await.unwrap();
    assert_eq!(tree.entities.len(), 1, "{tree:?}");
    tree.entities.into_iter().next().unwrap()
}

fn names<'a>(items: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    items.into_iter().map(String::as_str).collect()
}

/// A process of our own for attach-by-pid tests; killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        let child = Command::new("/bin/sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn /bin/sleep");
        Sleeper(child)
    }

    fn pid(&self) -> i64 {
        i64::from(self.0.id())
    }

    fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// One file per clause family (the helpers above are shared through `super::*`).
#[path = "api/actions.rs"]
mod actions;
#[path = "api/attach_atomic.rs"]
mod attach_atomic;
#[path = "api/conditions.rs"]
mod conditions;
#[path = "api/control.rs"]
mod control;
#[path = "api/entities.rs"]
mod entities;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/names.rs"]
mod names;
