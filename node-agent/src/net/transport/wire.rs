//! The little the transport reads inside a raft message.
//!
//! Raft messages are opaque bytes here (raft-rs types stay in `ham-core::replica`), but the
//! transport must tell snapshots apart to report their delivery. The type is field 1 of raft's
//! `eraftpb.Message` (`MessageType msg_type = 1;`, and `MsgSnapshot = 7` in raft-rs
//! `proto/proto/eraftpb.proto`), so it is read with a one-field prost message that skips every
//! other field without decoding it (no copy of the snapshot's data).

use prost::Message as _;

/// `eraftpb.MessageType.MsgSnapshot`.
const MSG_SNAPSHOT: i32 = 7;

/// The head of an `eraftpb.Message`: its type only.
#[derive(Clone, PartialEq, prost::Message)]
struct MessageHead {
    #[prost(int32, tag = "1")]
    msg_type: i32,
}

/// True when `bytes` is an encoded raft `MsgSnapshot` (false for anything else, bad bytes too).
pub(crate) fn is_snapshot(bytes: &[u8]) -> bool {
    MessageHead::decode(bytes).is_ok_and(|h| h.msg_type == MSG_SNAPSHOT)
}

#[cfg(test)]
mod tests {
    use super::is_snapshot;
    use protobuf::Message as _;
    use raft::eraftpb::{Entry, Message, MessageType, Snapshot};

    fn encode(m: &Message) -> Vec<u8> {
        m.write_to_bytes().unwrap()
    }

    #[test]
    fn transport_reads_the_type_of_real_raft_messages() {
        let mut snap = Message::default();
        snap.set_msg_type(MessageType::MsgSnapshot);
        snap.to = 2;
        snap.from = 1;
        snap.term = 3;
        let mut s = Snapshot::default();
        s.set_data(vec![0xAB; 100_000].into());
        s.mut_metadata().index = 40;
        snap.set_snapshot(s);
        assert!(is_snapshot(&encode(&snap)));

        let mut append = Message::default();
        append.set_msg_type(MessageType::MsgAppend);
        append.to = 2;
        let mut e = Entry::default();
        e.set_data(vec![7; 1000].into());
        append.mut_entries().push(e);
        assert!(!is_snapshot(&encode(&append)));

        // MsgHup is the zero value: field 1 absent on the wire.
        let hup = Message::default();
        assert!(!is_snapshot(&encode(&hup)));
        let mut hb = Message::default();
        hb.set_msg_type(MessageType::MsgHeartbeat);
        assert!(!is_snapshot(&encode(&hb)));

        assert!(!is_snapshot(&[0xff, 0xff, 0xff]));
        assert!(!is_snapshot(&[]));
    }
}
