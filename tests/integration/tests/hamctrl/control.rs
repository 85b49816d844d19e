//! Verbosity, stop and nodes (X4, X3, N6): the QNX verbosity forms, the
//! stop forms, node ids and unknown node names.

use super::fixture::*;

#[test]
fn x4_verbosity_forms_of_hamctrl() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start_with(dir.path(), &["-V2"]);
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('2'));
    ham.hamctrl_ok(&["-verbose"]); // QNX: "-verbose" raises
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('3'));
    ham.hamctrl_ok(&["+verbose"]); // "+verbose" lowers
    ham.hamctrl_ok(&["+verbose"]);
    assert!(ham.hamctrl_ok(&["=verbose"]).contains('1'));
    let out = ham.hamctrl(&["verbose", "set", "-3"]);
    assert!(!out.status.success());
}

#[test]
fn x4_verbose_verbs_print_the_verbosity_after_the_operation() {
    let n = Node::start();
    let steps = [
        ("verbose get", "1"),
        ("verbose set 4", "4"),
        ("verbose incr 3", "7"),
        // A step of 0 counts as 1.
        ("verbose decr 0", "6"),
        ("verbose decr", "5"),
        ("-node 1 =verbose", "5"),
        ("-node testnode -verbose", "6"),
    ];
    for (line, printed) in steps {
        assert_eq!(n.ok(line), format!("{printed}\n"), "{line}");
    }
    assert_eq!(field(&n.ok("cat .info"), "Verbosity"), ["6"]);
    n.refused("-node nowhere =verbose", "EHOSTUNREACH");
}

#[test]
fn x3_stop_ends_the_daemon_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut ham = HamProcess::start(dir.path());
    ham.hamctrl_ok(&["attach", "keeper", "--pid", "1"]);
    ham.hamctrl_ok(&["-stop"]);
    assert_eq!(
        ham.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        ham.log_text()
    );
    // The state survives a clean stop.
    ham.restart();
    assert_eq!(lines(&ham.hamctrl_ok(&["ls"])), [".info", "keeper/"]);
}

#[test]
fn x3_stop_forms_with_a_node() {
    let mut n = Node::start();
    n.refused("-node nowhere -stop", "EHOSTUNREACH");
    n.refused("-node 2 -stop", "EHOSTUNREACH");
    // Stopping every node needs --cluster.
    assert_eq!(n.run("--node * stop").code, Some(1));
    assert_eq!(n.ok("ls"), ".info\n", "still serving");
    n.ok("-node testnode -stop");
    assert_eq!(n.exit_code(), Some(0), "{}", n.ham.log_text());
}

#[test]
fn x3_cluster_stop_with_the_cluster_flag() {
    let mut n = Node::start();
    n.ok("--node * stop --cluster");
    assert_eq!(n.exit_code(), Some(0), "{}", n.ham.log_text());
}

#[test]
fn n6_unknown_node_name_is_ehostunreach() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    let out = ham.hamctrl(&["-node", "nowhere", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EHOSTUNREACH"),
        "{out:?}"
    );
    ham.hamctrl_ok(&["-node", "testnode", "ls"]);
}

#[test]
fn n6_node_ids_address_nodes_in_hamctrl() {
    let n = Node::start();
    n.ok("-node 1 entity by-id");
    n.ok("-node 0 entity local");
    n.ok("--node testnode entity by-name");
    let listing = ".info\nby-id/\nby-name/\nlocal/\n";
    for line in [
        "-node 1 ls",
        "-node 0 ls",
        "-node testnode ls",
        "ls --node 1",
    ] {
        assert_eq!(n.ok(line), listing, "{line}");
    }
    assert_eq!(
        field(&n.ok("-node 1 cat .info"), "Node"),
        ["testnode (id 1)"]
    );
    assert_eq!(n.ok("nodes --node 1").lines().count(), 1);
    let err = n.refused("-node 2 ls", "EHOSTUNREACH");
    assert!(err.contains('2'), "{err}");
    n.refused("-node 2 entity x", "EHOSTUNREACH");
    n.ok("condition by-id c death");
    n.refused(
        "action by-id c s signal --pid 1 --signum 10 --to-node 2",
        "EHOSTUNREACH",
    );
    // Too large for a node id: a usage error, not a name.
    n.usage_error("-node 99999999999999999999 ls");
    let help = n.ok("--help");
    assert!(
        help.contains("a value of only digits is a node id"),
        "{help}"
    );
    assert!(help.contains("-node NAME|ID"), "{help}");
}
