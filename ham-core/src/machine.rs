//! [`HamMachine`]: the HAM model as a replicated state machine.
//!
//! Commands travel in the log as a format byte followed by the postcard
//! encoding of [`Command`]: `[1][command]`, or `[2][len u8][client request
//! id][command]` for a write that carries a client request id. Applying one
//! returns the model's answer to the proposer, and hands the effects
//! (processes to start, plans to run) to an [`EffectSink`] on every node; each
//! node's agent keeps only those for its own node.
//!
//! Client request ids (HAM-CONTRACT M5): the machine remembers the outcome of
//! the first apply of the latest [`REQUESTS_KEPT`] ids, evicted in apply order.
//! A command whose id is remembered is not applied again and answers the
//! remembered outcome, so a client that retries a write whose outcome it does
//! not know (ETIMEDOUT) with the same id gets the first answer and the write
//! happens at most once. The table is derived from the log alone and is part
//! of the snapshot, so it is the same on every node at a given index.
//! Snapshots: `[1][state]` (older, no table) or `[2][state][table]`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::model::{Command, Effect, Errno, HamError, HamState, Response};
use crate::replica::{ApplyContext, SnapshotJob, StateMachine};

/// Format of a log entry without a client request id, and of a snapshot without a table.
const FORMAT: u8 = 1;
/// Format of a log entry with a client request id, and of a snapshot with the table.
const FORMAT_WITH_ID: u8 = 2;
/// Client request ids remembered (the latest ones, in apply order).
pub const REQUESTS_KEPT: usize = 16_384;
/// Longest client request id, in bytes (printable ASCII).
pub const REQUEST_ID_MAX: usize = 64;

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

/// Outcomes of the latest client request ids, by first apply. Plain (not persistent)
/// structures: a snapshot serializes the table on the Raft task at once (about a
/// millisecond for a full table), which is cheaper than a persistent map whose shared tree
/// nodes every later write would copy (that cost a fifth of the write throughput at 64
/// clients).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Requests {
    /// Ids in apply order, oldest first.
    order: VecDeque<Arc<str>>,
    outcomes: HashMap<Arc<str>, Outcome>,
}

impl Requests {
    fn get(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.get(id)
    }

    fn record(&mut self, id: String, outcome: Outcome) {
        let id: Arc<str> = id.into();
        if self.outcomes.insert(Arc::clone(&id), outcome).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > REQUESTS_KEPT {
            if let Some(old) = self.order.pop_front() {
                self.outcomes.remove(&old);
            }
        }
    }

    /// In apply order, for the snapshot (decodes as `Vec<(String, Outcome)>`).
    fn encode(&self) -> Vec<u8> {
        let list: Vec<(&str, &Outcome)> = self
            .order
            .iter()
            .filter_map(|id| Some((&**id, self.outcomes.get(id)?)))
            .collect();
        postcard::to_allocvec(&list).expect("outcomes always serialize")
    }

    fn from_list(list: Vec<(String, Outcome)>) -> Requests {
        let mut r = Requests::default();
        for (id, outcome) in list {
            r.record(id, outcome);
        }
        r
    }
}

/// The HAM state plus where its effects go.
pub struct HamMachine {
    state: HamState,
    requests: Requests,
    sink: EffectSink,
}

impl std::fmt::Debug for HamMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HamMachine")
            .field("state", &self.state)
            .field("requests", &self.requests.order.len())
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

/// Whether `id` is a valid client request id: 1 to [`REQUEST_ID_MAX`] bytes of printable
/// ASCII (space to `~`).
pub fn valid_request_id(id: &str) -> bool {
    (1..=REQUEST_ID_MAX).contains(&id.len()) && id.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Encodes a command carrying a client request id (see [`valid_request_id`]); `None` is
/// [`encode_command`].
pub fn encode_command_with_id(cmd: &Command, id: Option<&str>) -> Result<Vec<u8>, HamError> {
    let Some(id) = id else {
        return Ok(encode_command(cmd));
    };
    if !valid_request_id(id) {
        return Err(HamError::new(
            Errno::Einval,
            format!("a request id is 1 to {REQUEST_ID_MAX} printable ASCII characters"),
        ));
    }
    let mut out = vec![FORMAT_WITH_ID, id.len() as u8];
    out.extend_from_slice(id.as_bytes());
    out.extend(postcard::to_allocvec(cmd).expect("commands always serialize"));
    Ok(out)
}

/// Decodes a command; an unknown format or bad bytes is EINVAL, never a panic.
pub fn decode_command(bytes: &[u8]) -> Result<Command, HamError> {
    decode_entry(bytes).1
}

/// Decodes an entry into its client request id (when it carries a valid one) and command.
fn decode_entry(bytes: &[u8]) -> (Option<String>, Result<Command, HamError>) {
    let undecodable =
        |e: postcard::Error| HamError::new(Errno::Einval, format!("undecodable command: {e}"));
    match bytes.split_first() {
        Some((&FORMAT, body)) => (None, postcard::from_bytes(body).map_err(undecodable)),
        Some((&FORMAT_WITH_ID, rest)) => {
            let Some((&len, rest)) = rest.split_first() else {
                return (None, Err(HamError::new(Errno::Einval, "truncated command")));
            };
            let len = usize::from(len);
            let id = rest
                .get(..len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .filter(|id| valid_request_id(id));
            match id {
                Some(id) => (
                    Some(id.to_string()),
                    postcard::from_bytes(&rest[len..]).map_err(undecodable),
                ),
                None => (None, Err(HamError::new(Errno::Einval, "bad request id"))),
            }
        }
        _ => (
            None,
            Err(HamError::new(Errno::Einval, "unknown command format")),
        ),
    }
}

impl HamMachine {
    /// A machine over `state` that hands effects to `sink`.
    pub fn new(state: HamState, sink: EffectSink) -> HamMachine {
        HamMachine {
            state,
            requests: Requests::default(),
            sink,
        }
    }

    /// The remembered outcome of client request `id`, if it was applied recently.
    pub fn request_outcome(&self, id: &str) -> Option<&Outcome> {
        self.requests.get(id)
    }

    fn apply_command(&mut self, ctx: ApplyContext, cmd: Result<Command, HamError>) -> Outcome {
        let applied = self.state.apply(cmd?)?;
        if !applied.effects.is_empty() {
            (self.sink)(EffectBatch {
                index: ctx.index,
                replaying: ctx.replaying,
                effects: applied.effects,
            });
        }
        Ok(applied.response)
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
        let (id, cmd) = decode_entry(command);
        let Some(id) = id else {
            return self.apply_command(ctx, cmd);
        };
        if let Some(first) = self.requests.get(&id) {
            // A retry: the write happened (or was refused) once; answer as then.
            return first.clone();
        }
        let outcome = self.apply_command(ctx, cmd);
        self.requests.record(id, outcome.clone());
        outcome
    }

    fn snapshot(&self) -> SnapshotJob {
        // O(number of nodes): entity maps are persistent, so the copy shares them; the
        // request table is small and serialized here.
        let frozen = self.state.clone();
        let requests = self.requests.encode();
        Box::new(move || {
            let mut out = vec![FORMAT_WITH_ID];
            out.extend(postcard::to_allocvec(&frozen).expect("the state always serializes"));
            out.extend(requests);
            out
        })
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), String> {
        let bad = |e: postcard::Error| format!("snapshot does not decode: {e}");
        match data.split_first() {
            Some((&FORMAT, body)) => {
                self.state = postcard::from_bytes(body).map_err(bad)?;
                self.requests = Requests::default();
                Ok(())
            }
            Some((&FORMAT_WITH_ID, body)) => {
                let (state, rest) = postcard::take_from_bytes(body).map_err(bad)?;
                let list: Vec<(String, Outcome)> = postcard::from_bytes(rest).map_err(bad)?;
                self.state = state;
                self.requests = Requests::from_list(list);
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
            options: Default::default(),
            conditions: Vec::new(),
            stop: Default::default(),
            pacing: None,
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

    fn machine() -> HamMachine {
        let mut m = HamMachine::new(HamState::default(), Box::new(|_| {}));
        let reg = Command::RegisterNode {
            id: 1,
            name: "n1".into(),
            address: String::new(),
        };
        m.apply(ctx(1), &encode_command(&reg)).unwrap();
        m
    }

    fn placeholder(name: &str) -> Command {
        Command::Placeholder {
            node: 1,
            name: name.into(),
            flags: 0,
            now_ns: 0,
            pacing: None,
        }
    }

    fn with_id(cmd: &Command, id: &str) -> Vec<u8> {
        encode_command_with_id(cmd, Some(id)).unwrap()
    }

    #[test]
    fn m5_a_request_id_is_applied_once_and_answered_with_the_first_outcome() {
        let mut m = machine();
        let first = m.apply(ctx(2), &with_id(&placeholder("a"), "req-1"));
        assert!(first.is_ok(), "{first:?}");
        let after_first = m.state().clone();
        // The retry, even as a different command, is not applied: same answer, same state.
        assert_eq!(m.apply(ctx(3), &with_id(&placeholder("a"), "req-1")), first);
        assert_eq!(m.apply(ctx(4), &with_id(&placeholder("b"), "req-1")), first);
        assert_eq!(m.state(), &after_first);
        // Without an id, or with another one, the same command is applied (and refused).
        let again = m.apply(ctx(5), &with_id(&placeholder("a"), "req-2"));
        assert_eq!(again.clone().unwrap_err().errno, Errno::Eexist);
        // A refusal is an outcome too: the retry answers it, even once the name is free.
        let detach = Command::Detach {
            entity: crate::model::EntityRef {
                node: 1,
                name: "a".into(),
                uid: None,
            },
        };
        m.apply(ctx(6), &encode_command(&detach)).unwrap();
        assert_eq!(m.apply(ctx(7), &with_id(&placeholder("a"), "req-2")), again);
        assert_eq!(m.request_outcome("req-2"), Some(&again));
    }

    #[test]
    fn m5_request_ids_are_validated_and_the_oldest_forgotten() {
        assert!(encode_command_with_id(&placeholder("a"), Some("")).is_err());
        assert!(encode_command_with_id(&placeholder("a"), Some(&"x".repeat(65))).is_err());
        assert!(encode_command_with_id(&placeholder("a"), Some("tab\there")).is_err());
        assert!(encode_command_with_id(&placeholder("a"), Some(&"x".repeat(64))).is_ok());
        // A bad id inside an entry is refused the same way everywhere.
        let mut m = machine();
        let mut bad = with_id(&placeholder("a"), "ok");
        bad[2] = b'\n';
        assert_eq!(m.apply(ctx(2), &bad).unwrap_err().errno, Errno::Einval);
        let mut r = Requests::default();
        for i in 0..REQUESTS_KEPT + 2 {
            r.record(format!("id{i}"), Ok(Response::Done));
        }
        assert_eq!(r.order.len(), REQUESTS_KEPT);
        assert!(r.get("id0").is_none() && r.get("id1").is_none());
        assert!(r.get("id2").is_some());
    }

    #[test]
    fn m5_the_request_table_travels_in_snapshots_and_format_1_still_decodes() {
        let mut m = machine();
        let ok = m.apply(ctx(2), &with_id(&placeholder("a"), "req-1"));
        let refused = m.apply(ctx(3), &with_id(&placeholder("a"), "req-2"));
        assert!(refused.is_err());
        let snap = m.snapshot()();
        assert_eq!(snap[0], FORMAT_WITH_ID);
        let mut other = HamMachine::new(HamState::default(), Box::new(|_| {}));
        other.restore(&snap).unwrap();
        assert_eq!(other.state(), m.state());
        assert_eq!(other.requests, m.requests);
        assert_eq!(
            other.apply(ctx(4), &with_id(&placeholder("z"), "req-1")),
            ok
        );
        assert_eq!(
            other.apply(ctx(5), &with_id(&placeholder("z"), "req-2")),
            refused
        );
        // A format 1 snapshot, as older nodes wrote them: the state, no table.
        let mut old = vec![FORMAT];
        old.extend(postcard::to_allocvec(m.state()).unwrap());
        let mut third = HamMachine::new(HamState::default(), Box::new(|_| {}));
        third.restore(&old).unwrap();
        assert_eq!(third.state(), m.state());
        assert_eq!(third.requests, Requests::default());
        // A format 1 command still decodes and applies.
        assert!(
            third
                .apply(ctx(6), &encode_command(&placeholder("b")))
                .is_ok()
        );
        assert_eq!(encode_command(&placeholder("b"))[0], FORMAT);
    }
}
