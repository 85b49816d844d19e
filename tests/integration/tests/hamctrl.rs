//! `hamctrl` against a running `ham`: the guide's fs-nfs2 tree, the tree
//! view, refusals with their errno, verbosity and stop.

use ham_integration_tests::HamProcess;
use std::time::Duration;

fn build_fs_nfs2(ham: &HamProcess) {
    let steps: &[&[&str]] = &[
        &[
            "attach",
            "Fs-nfs2",
            "--pid",
            "1",
            "--cmd",
            "/usr/sbin/fs-nfs2",
        ],
        &["condition", "Fs-nfs2", "Death", "death", "--rearm"],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Restart",
            "restart",
            "--cmd",
            "/usr/sbin/fs-nfs2",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Delay1",
            "waitfor",
            "--delay-ms",
            "2000",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "MountDir1",
            "execute",
            "--cmd",
            "/bin/mount -t nfs a.b.c.d:/dir1 /dir1",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "Delay2",
            "waitfor",
            "--delay-ms",
            "2000",
            "--rearm",
        ],
        &[
            "action",
            "Fs-nfs2",
            "Death",
            "MountDir2",
            "execute",
            "--cmd",
            "/bin/mount -t nfs a.b.c.d:/dir2 /dir2",
            "--rearm",
        ],
    ];
    for step in steps {
        ham.hamctrl_ok(step);
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).collect()
}

#[test]
fn x5_fs_nfs2_tree_in_the_guide_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    build_fs_nfs2(&ham);

    assert_eq!(lines(&ham.hamctrl_ok(&["ls"])), [".info", "Fs-nfs2/"]);
    assert_eq!(
        lines(&ham.hamctrl_ok(&["ls", "Fs-nfs2"])),
        [".info", "Death/"]
    );
    assert_eq!(
        lines(&ham.hamctrl_ok(&["ls", "/ham/Fs-nfs2/Death"])),
        [
            ".info",
            "Restart",
            "Delay1",
            "MountDir1",
            "Delay2",
            "MountDir2"
        ]
    );
    let top = ham.hamctrl_ok(&["cat", ".info"]);
    for want in [
        format!("Ham Pid : {}", ham.pid()),
        "Node : testnode (id 1)".into(),
        "Leader : testnode (id 1)".into(),
        "Num Entities : 1".into(),
        "Num Conditions : 1".into(),
        "Num Actions : 5".into(),
    ] {
        assert!(
            top.lines().any(|l| l.trim_end() == want),
            "missing {want:?} in:\n{top}"
        );
    }
    let entity = ham.hamctrl_ok(&["cat", "Fs-nfs2/.info"]);
    for want in [
        "Path : Fs-nfs2",
        "Entity Pid : 1",
        "Num conditions : 1",
        "Entity type : ATTACHED",
        "Num Restarts : 0",
    ] {
        assert!(
            entity.lines().any(|l| l.trim_end() == want),
            "missing {want:?} in:\n{entity}"
        );
    }
    let cond = ham.hamctrl_ok(&["cat", "Fs-nfs2/Death/.info"]);
    assert_eq!(
        lines(&cond),
        [
            "Path : Fs-nfs2/Death",
            "Entity Pid : 1",
            "Num Actions : 5",
            "Condition ReArm : ON",
            "Condition type : CONDDEATH"
        ]
    );
    let restart = ham.hamctrl_ok(&["cat", "Fs-nfs2/Death/Restart"]);
    assert!(
        restart.contains("Restart Line : /usr/sbin/fs-nfs2"),
        "{restart}"
    );
    assert!(restart.contains("Action ReArm : ON"), "{restart}");
}

#[test]
fn a2_second_restart_and_k7_waitfor_on_nowait_are_refused_with_errno() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    build_fs_nfs2(&ham);
    let out = ham.hamctrl(&[
        "action",
        "Fs-nfs2",
        "Death",
        "Again",
        "restart",
        "--cmd",
        "/usr/sbin/fs-nfs2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EEXIST"),
        "{out:?}"
    );

    ham.hamctrl_ok(&["condition", "Fs-nfs2", "Quick", "death", "--nowait"]);
    let out = ham.hamctrl(&[
        "action",
        "Fs-nfs2",
        "Quick",
        "Wait",
        "waitfor",
        "--delay-ms",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EINVAL"),
        "{out:?}"
    );
    // Nothing was added by the refused calls.
    assert_eq!(lines(&ham.hamctrl_ok(&["ls", "Fs-nfs2/Quick"])), [".info"]);
}

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
