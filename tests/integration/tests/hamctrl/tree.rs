//! The tree as files (X5): the guide's fs-nfs2 tree and its `.info` shapes,
//! linearizable reads, the file of every action kind, filters and the
//! global entity, paths in every form.

use super::fixture::*;

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
fn x5_ls_and_cat_take_linearizable_reads() {
    let dir = tempfile::tempdir().unwrap();
    let ham = HamProcess::start(dir.path());
    ham.hamctrl_ok(&["entity", "web"]);
    assert_eq!(
        ham.hamctrl_ok(&["ls", "--linearizable"]),
        ham.hamctrl_ok(&["ls"])
    );
    assert!(ham.hamctrl_ok(&["ls", "--linearizable"]).contains("web"));
    let info = ham.hamctrl_ok(&["cat", ".info", "--linearizable"]);
    assert!(info.contains("Ham Pid"), "{info}");
    let web = ham.hamctrl_ok(&["cat", "web", "--linearizable"]);
    assert_eq!(web, ham.hamctrl_ok(&["cat", "web"]));
}

#[test]
fn x5_the_file_of_every_action_kind() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web death death",
        "action web death restart restart --cmd '/usr/sbin/web -D' --rearm",
        "action web death exec execute --cmd /bin/true --wait --timeout-ms 100",
        "action web death wait waitfor --delay-ms 250 --path /tmp",
        "action web death pulse pulse --pid 10 --chid 2 --code 3 --value -4 --to-node testnode",
        // A target node given by id is shown by name.
        "action web death sig signal --pid 10 --signum SIGUSR1 --value 5 --to-node 1",
        "action web death healthy healthy",
        "action web death log log --message -stop --prefix --level 2",
        "action-fail web death exec f1 execute --cmd /bin/false",
        "action-fail web death exec f2 waitfor --delay-ms 10",
        "action-fail web death exec f3 log --message failed",
    ]);
    assert_eq!(
        n.ok("ls web/death"),
        ".info\nrestart\nexec\nwait\npulse\nsig\nhealthy\nlog\n"
    );
    assert_eq!(n.ok("ls web/death/sig"), "sig\n");
    let files = [
        ("restart", "ON", "Restart Line : /usr/sbin/web -D\n"),
        (
            "exec",
            "OFF",
            "Execute Line : /bin/true\nWait Timeout : 100 ms\n\
             Action Fail : f1 execute /bin/false\nAction Fail : f2 waitfor 10 ms\n\
             Action Fail : f3 log failed\n",
        ),
        ("wait", "OFF", "Delay : 250 ms\nPath : /tmp\n"),
        (
            "pulse",
            "OFF",
            "Pulse : code 3 value -4 chid 2 pid 10 node testnode\n",
        ),
        ("sig", "OFF", "Signal : 10 value 5 pid 10 node testnode\n"),
        ("healthy", "OFF", "Heartbeat Healthy : ON\n"),
        ("log", "OFF", "Log : -stop\n"),
    ];
    for (action, rearm, rest) in files {
        let head = format!("Path : web/death/{action}\nEntity Pid : 0\nAction ReArm : {rearm}\n");
        assert_eq!(n.ok(&format!("cat web/death/{action}")), head + rest);
    }
}

#[test]
fn x5_filters_the_global_entity_and_entity_stats_in_info_files() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web r raise --rtype any --rclass 2 --rseverity 3",
        "condition web s state --from any --to 1,2 --to-set --to-inv",
        "condition web v state --from 1 --to -2",
        "condition @global all CONDANY",
        "action @global all note log --message m",
    ]);
    assert_eq!(
        n.ok("cat web/r/.info"),
        "Path : web/r\nEntity Pid : 0\nNum Actions : 0\nCondition ReArm : OFF\n\
         Condition type : CONDRAISE\nRaise Filter : type ANY class 2 severity 3\n"
    );
    assert_eq!(
        field(&n.ok("cat web/s"), "State Filter"),
        ["from ANY to !{1,2}"]
    );
    assert_eq!(field(&n.ok("cat web/v"), "State Filter"), ["from 1 to -2"]);

    // The node's global entity shows as @global once it holds a condition.
    assert_eq!(n.ok("ls"), ".info\n@global/\nweb/\n");
    assert_eq!(n.ok("ls @global"), ".info\nall/\n");
    assert_eq!(n.ok("ls /ham/@global/all"), ".info\nnote\n");
    let global = n.ok("cat @global/.info");
    assert_eq!(field(&global, "Path"), ["@global"]);
    assert_eq!(field(&global, "Entity type"), ["GLOBAL"]);
    assert_eq!(
        field(&n.ok("cat @global/all"), "Condition type"),
        ["CONDANY"]
    );
    assert_eq!(field(&n.ok("cat @global/all/note"), "Log"), ["m"]);
    n.refused("cat @global/nope", "ENOENT");

    let web = n.ok("cat web");
    assert_eq!(field(&web, "Entity type"), ["PLACEHOLDER"]);
    assert_eq!(field(&web, "Num conditions"), ["3"]);
    assert_eq!(field(&web, "Num Restarts"), ["0"]);
    // Never died, never restarted: no such lines.
    assert!(field(&web, "Last Death").is_empty() && field(&web, "Restarted").is_empty());
    // `YYYY/MM/DD HH:MM:SS:NNNNNNNNN`, UTC.
    let created = field(&web, "Created");
    assert_eq!(created.len(), 1, "{web}");
    let shape: String = created[0]
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999/99/99 99:99:99:999999999", "{web}");
}

#[test]
fn x5_paths_in_every_form_and_missing_objects_are_enoent() {
    let n = Node::start();
    n.steps(&[
        "entity web",
        "condition web death death",
        "action web death log log --message m",
    ]);
    let top = n.ok("cat .info");
    for same in ["cat", "cat /ham/.info", "cat /proc/ham/.info"] {
        assert_eq!(n.ok(same), top, "{same}");
    }
    assert_eq!(n.ok("ls /proc/ham"), n.ok("ls"));
    assert_eq!(n.ok("ls /ham/web"), ".info\ndeath/\n");
    assert_eq!(n.ok("cat /ham/web/.info"), n.ok("cat web"));
    assert_eq!(n.ok("cat web/death/"), n.ok("cat web/death/.info"));
    assert_eq!(n.ok("ls web/.info"), ".info\n");

    for path in ["nope", "web/nope", "web/death/nope"] {
        let err = n.refused(&format!("cat {path}"), "ENOENT");
        assert!(err.contains("nope"), "{err}");
        n.refused(&format!("ls {path}"), "ENOENT");
    }
    n.usage_error("ls a/b/c/d");
    n.usage_error("cat a/.info/b");
}
