//! E8 pid files, as the daemon follower reads them.
//! Properties: a pid read is above 1 and reads back from its own decimal form.
#![no_main]

use ham_node_agent::fuzzing::pidfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(pid) = pidfile(data) {
        assert!(pid > 1);
        assert_eq!(pidfile(format!("{pid}\n").as_bytes()), Some(pid));
        let text = std::str::from_utf8(data).expect("a read pid file is UTF-8");
        assert_eq!(text.trim().parse::<u32>(), Ok(pid));
    }
});
