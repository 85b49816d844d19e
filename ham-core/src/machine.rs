//! [`HamMachine`]: the HAM model as a replicated state machine.
//!
//! Commands travel in the log as a format byte followed by the postcard
//! encoding of [`Command`]. Applying one returns the model's answer to the
//! proposer, and hands the effects (processes to start, plans to run) to an
//! [`EffectSink`] on every node; each node's agent keeps only those for its
//! own node.

use crate::model::{Command, Effect, Errno, HamError, HamState, Response};
use crate::replica::{ApplyContext, SnapshotJob, StateMachine};

/// Format of a log entry or snapshot; bump when the encoding changes.
const FORMAT: u8 = 1;

/// Effects of one applied entry.
#[derive(Debug, Clone)]
pub struct EffectBatch {
    /// The log index that produced them.
    pub index: u64,
    /// True while re-applying entries after a restart: the effects already
    /// happened (or will be reconciled), so agents must not act on them again.
    pub replaying: bool,
    /// What to do.
    pub effects: Vec<Effect>,
}

/// Receives effects as entries are applied; called on the replica's task, so it must not block.
pub type EffectSink = Box<dyn Fn(EffectBatch) + Send + Sync>;

/// What a proposer gets back.
pub type Outcome = Result<Response, HamError>;

/// The HAM state plus where its effects go.
pub struct HamMachine {
    state: HamState,
    sink: EffectSink,
}

impl std::fmt::Debug for HamMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HamMachine")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Encodes a command for [`crate::replica::ReplicaHandle::propose`].
pub fn encode_command(cmd: &Command) -> Vec<u8> {
    let mut out = vec![FORMAT];
    // Serializing owned, plain data to a Vec cannot fail.
    out.extend(postcard::to_allocvec(cmd).expect("commands always serialize"));
    out
}

/// Decodes a command; an unknown format or bad bytes is EINVAL, never a panic.
pub fn decode_command(bytes: &[u8]) -> Result<Command, HamError> {
    match bytes.split_first() {
        Some((&FORMAT, body)) => postcard::from_bytes(body)
            .map_err(|e| HamError::new(Errno::Einval, format!("undecodable command: {e}"))),
        _ => Err(HamError::new(Errno::Einval, "unknown command format")),
    }
}

impl HamMachine {
    /// A machine over `state` that hands effects to `sink`.
    pub fn new(state: HamState, sink: EffectSink) -> HamMachine {
        HamMachine { state, sink }
    }

    /// The applied state.
    pub fn state(&self) -> &HamState {
        &self.state
    }
}

impl StateMachine for HamMachine {
    type Output = Outcome;

    fn apply(&mut self, ctx: ApplyContext, command: &[u8]) -> Outcome {
        // A bad entry is refused the same way on every node, so states stay equal.
        let applied = self.state.apply(decode_command(command)?)?;
        if !applied.effects.is_empty() {
            (self.sink)(EffectBatch {
                index: ctx.index,
                replaying: ctx.replaying,
                effects: applied.effects,
            });
        }
        Ok(applied.response)
    }

    fn snapshot(&self) -> SnapshotJob {
        // O(number of nodes): entity maps are persistent, so the copy shares them.
        let frozen = self.state.clone();
        Box::new(move || {
            let mut out = vec![FORMAT];
            out.extend(postcard::to_allocvec(&frozen).expect("the state always serializes"));
            out
        })
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        match data.split_first() {
            Some((&FORMAT, body)) => {
                self.state = postcard::from_bytes(body)
                    .map_err(|e| format!("snapshot does not decode: {e}"))?;
                Ok(())
            }
            Some((v, _)) => Err(format!("snapshot format {v} is not supported")),
            None => Err("snapshot is empty".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn ctx(index: u64) -> ApplyContext {
        ApplyContext {
            index,
            term: 1,
            replaying: false,
        }
    }

    #[test]
    fn m1_bad_entries_are_refused_without_panic_or_change() {
        let mut m = HamMachine::new(HamState::default(), Box::new(|_| {}));
        for bad in [&[][..], &[9, 1, 2][..], &[FORMAT, 0xff, 0xff, 0xff][..]] {
            assert_eq!(m.apply(ctx(1), bad).unwrap_err().errno, Errno::Einval);
        }
        assert_eq!(m.state(), &HamState::default());
        assert!(m.restore(&[]).is_err());
        assert!(m.restore(&[7]).is_err());
        assert!(m.restore(&[FORMAT, 0xff]).is_err());
    }

    #[test]
    fn snapshot_round_trip_and_effects_reach_the_sink() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let sink: EffectSink = Box::new(move |b| sink_seen.lock().unwrap().push(b));
        let mut m = HamMachine::new(HamState::default(), sink);
        let reg = Command::RegisterNode {
            id: 1,
            name: "n1".into(),
            address: String::new(),
        };
        m.apply(ctx(1), &encode_command(&reg)).unwrap();
        let attach = Command::Attach {
            node: 1,
            name: "inetd".into(),
            pid: 42,
            command_line: None,
            flags: 0,
            pidfile: None,
            heartbeat: None,
            now_ns: 3,
        };
        m.apply(ctx(2), &encode_command(&attach)).unwrap();
        // RegisterNode tells every transport the address; Attach asks to monitor.
        let indexes: Vec<u64> = seen.lock().unwrap().iter().map(|b| b.index).collect();
        assert_eq!(indexes, [1, 2]);
        let snap = m.snapshot()();
        let mut other = HamMachine::new(HamState::default(), Box::new(|_| {}));
        other.restore(&snap).unwrap();
        assert_eq!(other.state(), m.state());
    }
}
