//! The API edge: bytes decoded as the request message of each RPC of `service Ham` (the
//! first byte picks the RPC from `API_REQUESTS`, which a unit test ties to the `.proto`),
//! converted as the service does, and a resulting write applied to a small state.
//! Properties: a decoded request encodes back to itself; a refused write leaves the state
//! untouched; an accepted write's command survives the log encoding.
#![no_main]

use ham_core::machine::{decode_command, encode_command};
use ham_node_agent::fuzzing::{API_REQUESTS, Converted, api_request, api_state, apply};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn seed() -> &'static ham_core::model::HamState {
    static SEED: OnceLock<ham_core::model::HamState> = OnceLock::new();
    SEED.get_or_init(api_state)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else {
        return;
    };
    let which = usize::from(which) % API_REQUESTS.len();
    let Some(Ok(Converted::Write(cmd))) = api_request(which, message, seed()) else {
        return;
    };
    assert_eq!(decode_command(&encode_command(&cmd)).as_ref(), Ok(&cmd));
    let mut state = seed().clone();
    if apply(&mut state, cmd).is_err() {
        assert_eq!(&state, seed(), "a refused write changed the state");
    }
});
