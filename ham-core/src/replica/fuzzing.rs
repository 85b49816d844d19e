//! Entry points for the fuzz targets (`fuzz/`, HAM-CONTRACT P9): thin public wrappers over the
//! replica's private decoders of bytes that come from outside, other nodes or the disk. Each
//! one runs exactly the code the replica runs on those bytes; nothing here is used by the
//! replica itself.

use super::dedup::Applied;
use super::storage::snapfile::{self, SnapshotFile};
use super::{StateMachine, driver, envelope, snapdata};
use crate::machine::HamMachine;
use crate::model::HamState;

/// A decoded log-entry envelope: origin node, request id and the command's bytes.
pub type Envelope<'a> = (u64, u64, &'a [u8]);

/// Unwraps a log entry's envelope, as the replica does before applying it.
pub fn decode_envelope(data: &[u8]) -> Result<Envelope<'_>, String> {
    envelope::decode(data).map(|e| (e.origin, e.request, e.command))
}

/// Wraps a command in an envelope, as the replica does when it proposes one.
pub fn encode_envelope(origin: u64, request: u64, command: &[u8]) -> Vec<u8> {
    envelope::encode(origin, request, command)
}

/// Decodes a peer's raft message, as [`super::ReplicaHandle::step`] does; `Ok` carries the
/// message's type (`eraftpb.MessageType` number) and the message encoded again.
pub fn decode_raft_message(bytes: &[u8]) -> Result<(i32, Vec<u8>), String> {
    use protobuf::{Message as _, ProtobufEnum as _};
    let m = driver::decode_message(bytes)?;
    let again = m.write_to_bytes().map_err(|e| e.to_string())?;
    Ok((m.get_msg_type().value(), again))
}

/// A snapshot-file record as redb keeps it (length, CRC-32, file name), decoded and checked
/// against `data` the way the store checks the file it names when it opens.
pub fn check_snapshot_file(record: &[u8], data: &[u8]) -> Result<(), String> {
    let f = SnapshotFile::decode(record)?;
    if SnapshotFile::decode(&f.encode()).as_ref() != Ok(&f) {
        return Err("a snapshot file record does not survive encoding".into());
    }
    snapfile::check(data, &f)
}

/// The record the store writes for a complete snapshot file holding `data`.
pub fn snapshot_file_record(data: &[u8]) -> Vec<u8> {
    SnapshotFile {
        name: SnapshotFile::name_for(1, 0),
        len: data.len() as u64,
        crc: crc32fast::hash(data),
    }
    .encode()
}

/// Restores snapshot bytes (the replica's wrapper around the HAM machine's snapshot) the way
/// a replica does at start or when a leader sends one: the applied-request record, then
/// [`HamMachine`]'s restore.
pub fn restore_snapshot(data: &[u8]) -> Result<HamMachine, String> {
    let (_, state) = snapdata::unwrap(data)?;
    let mut machine = HamMachine::new(HamState::default(), Box::new(|_| {}));
    machine.restore(state)?;
    Ok(machine)
}

/// Whether the applied-request record of snapshot bytes that unwrap comes back the same
/// after it is written again (`None` when the bytes do not unwrap).
pub fn applied_record_round_trips(data: &[u8]) -> Option<bool> {
    let (applied, state) = snapdata::unwrap(data).ok()?;
    let again = snapdata::wrap(&applied, state);
    Some(snapdata::unwrap(&again).ok() == Some((applied, state)))
}

/// The replica's snapshot bytes for `machine`, with an empty applied-request record.
pub fn snapshot_bytes(machine: &HamMachine) -> Vec<u8> {
    snapdata::wrap(&Applied::default(), &machine.snapshot()())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// P9 (found by the `snapshot` fuzz target): a snapshot whose entity map claims 2^60
    /// entries made imbl reserve them all, and the process aborted; it is now refused.
    #[test]
    fn p9_a_snapshot_claiming_a_huge_entity_map_is_refused_not_allocated() {
        let data = include_bytes!("../../../fuzz/corpus/snapshot/p9-huge-entity-map");
        let err = restore_snapshot(data).unwrap_err();
        assert!(err.contains("does not decode"), "{err}");
        // A real snapshot still restores to the same state.
        let mut m = HamMachine::new(HamState::default(), Box::new(|_| {}));
        m.restore(&HamMachine::new(HamState::default(), Box::new(|_| {})).snapshot()())
            .unwrap();
        let back = restore_snapshot(&snapshot_bytes(&m)).unwrap();
        assert_eq!(back.state(), m.state());
    }
}
