//! Clause-named tests of the model (HAM-CONTRACT ids in the function names).

mod actions;
mod atomic;
mod conditions;
mod entities;
mod heartbeats;
mod plans;
mod stopstart;

use super::flags::*;
use super::*;

/// Node ids used by the fixtures.
const N1: NodeId = 1;
const N2: NodeId = 2;

/// A state with two nodes registered.
fn two_nodes() -> HamState {
    let mut s = HamState::default();
    for (id, name) in [(N1, "alpha"), (N2, "beta")] {
        s.apply(Command::RegisterNode {
            id,
            name: name.into(),
            address: String::new(),
        })
        .unwrap();
    }
    s
}

fn eref(name: &str) -> EntityRef {
    EntityRef {
        node: N1,
        name: name.into(),
        uid: None,
    }
}

fn cref(entity: &str, name: &str) -> ConditionRef {
    ConditionRef {
        entity: eref(entity),
        name: name.into(),
        uid: None,
    }
}

fn aref(entity: &str, cond: &str, name: &str) -> ActionRef {
    ActionRef {
        condition: cref(entity, cond),
        name: name.into(),
        uid: None,
    }
}

fn attach_pid(s: &mut HamState, name: &str, pid: i64) -> Result<Applied> {
    s.apply(Command::Attach {
        node: N1,
        name: name.into(),
        pid,
        command_line: Some(format!("/usr/sbin/{name} -D")),
        flags: 0,
        pidfile: None,
        heartbeat: None,
        now_ns: 1_000,
        options: Default::default(),
        conditions: Vec::new(),
        stop: Default::default(),
        pacing: None,
    })
}

fn add_cond(
    s: &mut HamState,
    e: &str,
    c: &str,
    ctype: ConditionType,
    flags: u32,
) -> Result<Applied> {
    s.apply(Command::AddCondition {
        entity: eref(e),
        name: c.into(),
        ctype,
        flags,
        filter: ConditionFilter::None,
    })
}

fn add_action(
    s: &mut HamState,
    e: &str,
    c: &str,
    a: &str,
    kind: ActionKind,
    flags: u32,
) -> Result<Applied> {
    s.apply(Command::AddAction {
        condition: cref(e, c),
        name: a.into(),
        flags,
        kind,
    })
}

fn restart(line: &str) -> ActionKind {
    ActionKind::Restart {
        command_line: line.into(),
    }
}

fn execute(line: &str) -> ActionKind {
    ActionKind::Execute {
        command_line: line.into(),
        timeout_ms: 0,
    }
}

fn waitfor(delay_ms: u64) -> ActionKind {
    ActionKind::Waitfor {
        path: None,
        delay_ms,
    }
}

fn log(msg: &str) -> ActionKind {
    ActionKind::Log {
        message: msg.into(),
        attach_prefix: false,
        verbosity: 1,
    }
}

fn errno<T: std::fmt::Debug>(r: Result<T>) -> Errno {
    r.unwrap_err().errno
}

/// Names of the actions a plan runs, restart first, then executor by executor.
fn plan_names(plan: &Plan) -> Vec<String> {
    plan.steps().map(|s| s.path.clone()).collect()
}

/// The guide's fs-nfs2 tree: DEATH with rearm; restart, waitfor, execute, waitfor, execute.
fn fs_nfs2(s: &mut HamState) {
    attach_pid(s, "Fs-nfs2", 4242).unwrap();
    let r = HREARMAFTERRESTART;
    add_cond(s, "Fs-nfs2", "Death", ConditionType::Death, r).unwrap();
    add_action(
        s,
        "Fs-nfs2",
        "Death",
        "Restart",
        restart("/usr/sbin/fs-nfs2"),
        r,
    )
    .unwrap();
    add_action(s, "Fs-nfs2", "Death", "Delay1", waitfor(2000), r).unwrap();
    let mount1 = execute("/bin/mount -t nfs a.b.c.d:/dir1 /dir1");
    add_action(s, "Fs-nfs2", "Death", "MountDir1", mount1, r).unwrap();
    add_action(s, "Fs-nfs2", "Death", "Delay2", waitfor(2000), r).unwrap();
    let mount2 = execute("/bin/mount -t nfs a.b.c.d:/dir2 /dir2");
    add_action(s, "Fs-nfs2", "Death", "MountDir2", mount2, r).unwrap();
}
