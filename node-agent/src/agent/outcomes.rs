//! Recording recovery outcomes (HAM-CONTRACT D3): one committer task per
//! entity writes its outcomes in order; a death whose previous outcome can
//! change its plan waits for that outcome, bounded by [`OUTCOME_WAIT`].

use super::Msg;
use super::lifecycle::Agent;
use ham_core::model::{Command, EntityRef, Uid};
use std::collections::VecDeque;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Proposes what this agent did until it commits: a node cut off from the
/// quorum keeps recovering its processes (D3), and the outcome reaches the
/// state once the quorum is back. Only "no quorum" is retried; the model
/// applies a repeated outcome once.
pub(super) async fn commit(node: &crate::node::Node, cmd: Command, what: &str) {
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        match node.write(cmd.clone()).await {
            Ok(_) => return,
            Err(e) if e.errno == ham_core::model::Errno::Eagain => {
                tracing::debug!(error = %e, what, "no quorum to record it; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => {
                tracing::warn!(error = %e, what, "could not record it");
                return;
            }
        }
    }
}

/// What runs once a proposal committed.
pub(super) type Then = Box<dyn FnOnce() + Send>;

/// One proposal in a committer's queue.
pub(super) type Queued = (u64, Command, Option<Then>);

/// How long a death waits for the previous outcome of its entity to commit
/// before it is planned from the state as it is (D3: recovery never waits
/// for consensus; a node cut off from the quorum keeps restarting).
const OUTCOME_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

impl Agent {
    pub(super) fn on_settled(&mut self, uid: Uid, seq: u64) {
        if self.blocking.get(&uid) != Some(&seq) {
            return; // an older outcome, or already settled
        }
        self.blocking.remove(&uid);
        let next = self.queued.get_mut(&uid).and_then(VecDeque::pop_front);
        if let Some((pid, exit)) = next
            && let Some(w) = self.watched.get(&uid).cloned().filter(|w| w.pid == pid)
        {
            self.recover(w, exit);
        }
    }

    /// Hands a recovery outcome to the entity's committer. With
    /// `changes_next_plan`, the entity's next death waits for it (bounded).
    pub(super) fn propose_outcome(
        &mut self,
        entity: &EntityRef,
        cmd: Command,
        changes_next_plan: bool,
    ) {
        self.propose_then(entity, cmd, changes_next_plan, None);
    }

    /// [`Agent::propose_outcome`], running `then` once it committed. A start's
    /// pid and the daemon it was followed to (E8) go this way too, so that
    /// the daemon's pid is never overwritten by its launcher's.
    pub(super) fn propose_then(
        &mut self,
        entity: &EntityRef,
        cmd: Command,
        changes_next_plan: bool,
        then: Option<Then>,
    ) {
        let uid = entity.uid.unwrap_or(0);
        self.outcome_seq += 1;
        let seq = self.outcome_seq;
        if changes_next_plan {
            self.blocking.insert(uid, seq);
            let tx = self.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(OUTCOME_WAIT).await;
                let _ = tx.send(Msg::OutcomeSettled { uid, seq });
            });
        }
        if !self.watched.contains_key(&uid) {
            // The entity is gone (E7): nothing follows this outcome.
            let ctx = self.ctx.clone();
            tokio::spawn(async move {
                commit(&ctx.node, cmd, "a recovery").await;
                if let Some(then) = then {
                    then();
                }
            });
            return;
        }
        let committer = self.committers.entry(uid).or_insert_with(|| {
            let (ctx, tx) = (self.ctx.clone(), self.tx.clone());
            let (sender, mut rx) = mpsc::unbounded_channel::<Queued>();
            let span = tracing::info_span!("committer", entity = %entity.name, uid);
            tokio::spawn(
                async move {
                    while let Some((seq, cmd, then)) = rx.recv().await {
                        commit(&ctx.node, cmd, "a recovery").await;
                        if let Some(then) = then {
                            then();
                        }
                        let _ = tx.send(Msg::OutcomeSettled { uid, seq });
                    }
                }
                .instrument(span),
            );
            sender
        });
        // The committer ends only when this sender is dropped (forget).
        let _ = committer.send((seq, cmd, then));
    }
}
