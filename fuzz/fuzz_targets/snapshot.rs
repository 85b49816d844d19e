//! Snapshot files: the store's record of a file (length, CRC-32, name) checked against the
//! file's bytes, then the bytes through the replica's unwrapping and the HAM machine's
//! restore, as at start or when a leader sends a snapshot.
//! Properties: the record of a file's own bytes checks; a restored state snapshots and
//! restores to itself; the applied-request record survives being written again.
#![no_main]

use ham_core::replica::fuzzing::{
    applied_record_round_trips, check_snapshot_file, restore_snapshot, snapshot_bytes,
    snapshot_file_record,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_snapshot_file(&snapshot_file_record(data), data).expect("a file's own record checks");
    // The head of the input as a record read from redb, the rest as the file.
    let (record, file) = data.split_at(data.len().min(40));
    let _ = check_snapshot_file(record, file);
    if let Some(same) = applied_record_round_trips(data) {
        assert!(same, "the applied-request record does not survive writing");
    }
    if let Ok(m) = restore_snapshot(data) {
        let again = restore_snapshot(&snapshot_bytes(&m)).expect("a snapshot of it restores");
        assert_eq!(again.state(), m.state());
    }
});
