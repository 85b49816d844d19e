//! Stored log entries: `decode_command` (what every node applies), then the real apply path
//! of the HAM machine on a small state.
//! Properties: decode(encode(cmd)) == cmd; a refused entry leaves the state untouched (a
//! command is all or nothing); an accepted one leaves a state whose snapshot restores to it.
#![no_main]

use ham_core::machine::{HamMachine, decode_command, encode_command};
use ham_core::replica::fuzzing::{restore_snapshot, snapshot_bytes};
use ham_core::replica::{ApplyContext, StateMachine};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn seed() -> &'static ham_core::model::HamState {
    static SEED: OnceLock<ham_core::model::HamState> = OnceLock::new();
    SEED.get_or_init(ham_node_agent::fuzzing::api_state)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = decode_command(data) {
        let again = encode_command(&cmd);
        assert_eq!(decode_command(&again).as_ref(), Ok(&cmd));
    }
    let mut m = HamMachine::new(seed().clone(), Box::new(|_| {}));
    let ctx = ApplyContext {
        index: 10,
        term: 1,
        replaying: false,
    };
    match m.apply(ctx, data) {
        Err(_) => assert_eq!(m.state(), seed(), "a refused entry changed the state"),
        Ok(_) => {
            let back = restore_snapshot(&snapshot_bytes(&m)).expect("a snapshot restores");
            assert_eq!(back.state(), m.state());
        }
    }
});
