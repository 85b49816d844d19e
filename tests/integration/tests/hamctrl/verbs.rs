//! Every write verb and control (X2): what each changes, the flags
//! control prints, refusals with their errno and exit codes (and the A2/K7
//! refusals).

use super::fixture::*;

#[test]
fn x2_every_write_verb_changes_the_tree() {
    // Declared first, dropped last: the daemon is gone before its process is killed.
    let sleeper = Sleeper::start();
    let n = Node::start();
    let pid = sleeper.0.id();
    n.steps(&[
        &format!("attach inetd --pid {pid} --cmd '/usr/sbin/inetd -D'"),
        "condition inetd death death",
        "action inetd death restart restart --cmd '/usr/sbin/inetd -D' --rearm",
        "attach web --cmd /bin/true --keep-on-death",
        "entity later",
        "detach later",
        "condition inetd c CONDDEATH --rearm",
        "condition inetd r raise --rtype -1 --rclass 2",
        "condition inetd s state --from any --to 1,2 --to-set",
        "condition-remove inetd c",
        "action inetd death x execute --cmd /bin/true --wait --timeout-ms 5",
        "action inetd death p pulse --pid 1 --chid 2 --value -3 --to-node testnode",
        "action inetd death s signal --pid 1 --signum SIGUSR1",
        "action inetd death h healthy",
        "action inetd death l log --message -stop --prefix",
        "action-fail inetd death restart f execute --cmd /bin/false",
        "action-fail inetd death restart g log --message m",
        "action-fail-remove inetd death restart f",
        "action-remove inetd death h",
        "raise inetd --rtype 1 --rclass 2 --rseverity 3",
        "state inetd -5",
        "control action inetd/death/restart disable --recurse",
    ]);
    assert_eq!(n.ok("ls"), ".info\ninetd/\nweb/\n");
    assert_eq!(n.ok("ls inetd"), ".info\ndeath/\nr/\ns/\n");
    assert_eq!(n.ok("ls inetd/death"), ".info\nrestart\nx\np\ns\nl\n");
    let restart = n.ok("cat inetd/death/restart");
    assert_eq!(field(&restart, "Action Fail"), ["g log m"]);
    assert_eq!(field(&restart, "Enabled"), ["OFF"]);
    let inetd = n.ok("cat inetd");
    assert_eq!(field(&inetd, "Entity Pid"), [pid.to_string()]);
    assert_eq!(field(&inetd, "Entity type"), ["ATTACHED"]);

    let inetd = n.entity("inetd");
    assert_eq!(inetd.state, -5);
    assert_eq!(inetd.command_line, "/usr/sbin/inetd -D");
    let types: Vec<i32> = inetd.conditions.iter().map(|c| c.condition_type).collect();
    let want = [
        ConditionType::Death,
        ConditionType::Raise,
        ConditionType::State,
    ];
    assert_eq!(types, want.map(|t| t as i32));
    let web = n.entity("web");
    assert_eq!(web.command_line, "/bin/true");
    assert_eq!(web.flags, flags::HENTITYKEEPONDEATH);
}

#[test]
fn x2_control_prints_the_flags_after_the_command() {
    let n = Node::start();
    n.steps(&[
        "entity web --keep-on-death",
        "condition web death death --rearm",
        "action web death log log --message m",
    ]);
    let flag_changes = [
        ("entity web get-flags", "0x00000010 HENTITYKEEPONDEATH"),
        (
            "condition /ham/web/death add-flags condnowait",
            "0x00000101 HREARMAFTERRESTART|HCONDNOWAIT",
        ),
        (
            "condition web/death remove-flags HCONDNOWAIT",
            "0x00000001 HREARMAFTERRESTART",
        ),
        (
            "action web/death/log set-flags 0x40000",
            "0x00040000 HACTIONKEEPONFAIL",
        ),
        ("action web/death/log set-flags 0", "0x00000000 0"),
    ];
    for (args, printed) in flag_changes {
        assert_eq!(n.ok(&format!("control {args}")), format!("{printed}\n"));
    }
    // Enable and disable print nothing; --recurse reaches everything below.
    assert_eq!(n.ok("control entity web disable --recurse"), "");
    for path in ["web", "web/death", "web/death/log"] {
        let file = n.ok(&format!("cat {path}"));
        assert_eq!(field(&file, "Enabled"), ["OFF"], "{path}");
    }
    assert_eq!(n.ok("control entity web enable"), "");
    assert!(field(&n.ok("cat web"), "Enabled").is_empty());
    assert_eq!(field(&n.ok("cat web/death"), "Enabled"), ["OFF"]);

    // A flag the object does not take is the HAM's refusal (exit 1) ...
    n.refused("control entity web add-flags HCONDNOWAIT", "EINVAL");
    n.refused(
        "control action web/death/log add-flags HACTIONWAIT",
        "EINVAL",
    );
    n.refused("control entity nope get-flags", "ENOENT");
    // ... a command line that makes no sense is hamctrl's (exit 2).
    for line in [
        "control entity web/death enable",
        "control condition web enable",
        "control entity web set-flags",
        "control entity web get-flags 0x1",
        "control entity web add-flags HBOGUS",
    ] {
        n.usage_error(line);
    }
    assert_eq!(
        n.ok("control entity web get-flags"),
        "0x00000010 HENTITYKEEPONDEATH\n"
    );
}

#[test]
fn x2_refusals_exit_1_with_the_errno_and_usage_errors_exit_2() {
    let n = Node::start();
    n.steps(&[
        "attach inetd --pid 1",
        "condition inetd death death",
        "action inetd death restart restart --cmd /bin/true",
    ]);
    let err = n.refused("attach inetd --pid 1", "EEXIST");
    assert!(err.contains("inetd"), "{err}");
    let err = n.refused("condition nope c death", "ENOENT");
    assert!(err.contains("nope"), "{err}");
    let refusals = [
        ("action inetd death w waitfor --delay-ms 0", "EINVAL"),
        ("attach web --cmd 'sleep 1'", "EINVAL"),
        ("attach web --cmd \"/bin/echo 'open\"", "EINVAL"),
        ("condition inetd n/a death", "EINVAL"),
        ("state nope 1", "ENOENT"),
        ("raise nope --rtype 1 --rclass 1 --rseverity 1", "ENOENT"),
        ("detach nope", "ENOENT"),
        // The node's global entity is never detached, attached or created (N4).
        ("detach @global", "EINVAL"),
        ("attach @global --pid 1", "EINVAL"),
        ("entity @global", "EINVAL"),
        ("action-remove inetd death nope", "ENOENT"),
        ("action-fail-remove inetd death restart nope", "ENOENT"),
    ];
    for (line, errno) in refusals {
        n.refused(line, errno);
    }
    n.refused(&format!("entity {}", "x".repeat(256)), "ENAMETOOLONG");

    for line in [
        "action inetd death r restart",
        "action-fail inetd death restart f healthy",
        "action-fail inetd death restart f restart --cmd /bin/x",
        "condition inetd c death --rtype 1",
        "condition inetd c raise --from 1",
        "condition inetd c nonsense",
        "action inetd death w waitfor --wait --delay-ms 5",
        "action inetd death s signal --pid 1 --signum SIGNOPE",
        "attach x",
        "state inetd many",
        "bogus",
    ] {
        n.usage_error(line);
    }
    // None of that changed anything.
    assert_eq!(n.ok("ls"), ".info\ninetd/\n");
    assert_eq!(n.ok("ls inetd"), ".info\ndeath/\n");
    assert_eq!(n.ok("ls inetd/death"), ".info\nrestart\n");
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
