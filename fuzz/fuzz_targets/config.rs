//! `ham`'s command line and TOML configuration file, resolved into settings as at start.
//! Input: one flag per line up to a line `%%`, then the configuration file's text (no `%%`
//! line: flags only, no file).
//! Properties: resolved settings obey the rules the flags and the file state (ids 1 to
//! 2^64-2, peer ids and names unique, a peer as `--peer` would accept it, the heartbeat
//! interval below the election timeout, this node first among its voters unless it joins).
#![no_main]

use ham_node_agent::fuzzing::{peer, settings};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (flags, config) = match text.strip_prefix("%%\n") {
        Some(config) => ("", Some(config)),
        None => match text.split_once("\n%%\n") {
            Some((flags, config)) => (flags, Some(config)),
            None => (text, None),
        },
    };
    let argv: Vec<String> = flags.lines().map(str::to_string).collect();
    let Ok(s) = settings(&argv, config) else {
        return;
    };
    let valid_id = |id: u64| id != 0 && id != u64::MAX;
    assert!(valid_id(s.node_id));
    assert!(s.heartbeat_ticks < s.election_ticks);
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for (id, name, address) in &s.peers {
        assert!(valid_id(*id), "peer id {id}");
        assert_ne!(*id, s.node_id);
        assert!(ids.insert(*id), "peer id {id} twice");
        assert!(names.insert(name.clone()), "peer name {name:?} twice");
        // A peer from the file must be one the `--peer` flag would accept.
        let flag = format!("{id}={name}@{address}");
        assert!(peer(&flag).is_ok(), "peer {flag:?}: {:?}", peer(&flag));
    }
    if !s.voters.is_empty() {
        assert_eq!(s.voters[0], s.node_id);
        assert_eq!(s.voters.len(), s.peers.len() + 1);
    }
});
