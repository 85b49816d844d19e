//! The Raft/peer envelope: a node-to-node batch (`ham.raft.v1.RaftBatch`) as the inbound
//! stream decodes it, each raft message in it as the replica decodes it (and as the
//! transport reads its type), and the log-entry envelope around every proposed command.
//! Properties: decode(encode(x)) == x for the batch and the envelope; the transport sees a
//! snapshot exactly where raft does; a decoded raft message encodes to bytes that decode to
//! a message of the same type and encoded length.
#![no_main]

use ham_core::replica::fuzzing::{decode_envelope, decode_raft_message, encode_envelope};
use ham_node_agent::fuzzing::{encode_raft_batch, raft_batch, wire_is_snapshot};
use libfuzzer_sys::fuzz_target;

/// `eraftpb.MessageType.MsgSnapshot`.
const MSG_SNAPSHOT: i32 = 7;

fn raft_message(bytes: &[u8]) {
    let Ok((msg_type, again)) = decode_raft_message(bytes) else {
        return;
    };
    // The transport reads the type of messages raft encoded (it sends them): there the two
    // must agree. On other bytes they may not (rust-protobuf accepts some that prost refuses).
    assert_eq!(
        wire_is_snapshot(&again),
        msg_type == MSG_SNAPSHOT,
        "the transport and raft disagree on the type {msg_type}"
    );
    let (type_again, twice) = decode_raft_message(&again).expect("an encoded message decodes");
    assert_eq!(type_again, msg_type);
    // rust-protobuf keeps unknown fields and writes them after the known ones, so bytes
    // that had some inside a nested message come back reordered: the same fields, the same
    // length, not always the same bytes. Messages raft writes have none.
    assert_eq!(
        twice.len(),
        again.len(),
        "a raft message does not survive encoding"
    );
}

fuzz_target!(|data: &[u8]| {
    // As a log entry's envelope.
    if let Ok((origin, request, command)) = decode_envelope(data) {
        let again = encode_envelope(origin, request, command);
        // The reserved word (bytes 17..25) is written 0 and never read.
        assert_eq!(again.len(), data.len());
        assert_eq!(again[..17], data[..17]);
        assert_eq!(again[25..], data[25..]);
        assert_eq!(decode_envelope(&again), Ok((origin, request, command)));
    }
    // As one raft message, and as a batch of them from a peer.
    raft_message(data);
    if let Some((from, messages)) = raft_batch(data) {
        for m in &messages {
            raft_message(m);
        }
        let again = encode_raft_batch(from, messages.clone());
        assert_eq!(raft_batch(&again), Some((from, messages)));
    }
});
