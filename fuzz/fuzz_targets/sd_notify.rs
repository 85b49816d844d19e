//! H4 sd_notify datagrams, as the notify socket reads them.
//! Properties: what a datagram says is said by one of its lines; a MAINPID is above 1.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(n) = ham_node_agent::fuzzing::sd_notify(data) else {
        assert!(data.contains(&0) || std::str::from_utf8(data).is_err());
        return;
    };
    let text = std::str::from_utf8(data).expect("a parsed datagram is UTF-8");
    let has = |line: &str| text.lines().any(|l| l == line);
    assert_eq!(n.watchdog, has("WATCHDOG=1"));
    assert_eq!(n.ready, has("READY=1"));
    assert_eq!(n.stopping, has("STOPPING=1"));
    if let Some(status) = &n.status {
        assert!(
            text.lines()
                .any(|l| l.strip_prefix("STATUS=") == Some(status.as_str()))
        );
    }
    if let Some(pid) = n.main_pid {
        assert!(pid > 1);
    }
});
