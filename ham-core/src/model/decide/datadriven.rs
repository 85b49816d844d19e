//! Data-driven tests of [`decide_death`], in the style of raft-rs
//! `src/quorum/datadriven_test.rs`: every file under `testdata/death/` holds
//! cases; each case is a block of commands that build a state and end with a
//! `death` line, then `----`, then the expected decision, then a blank line.
//! `REWRITE=1 cargo test -p ham-core decide` writes the actual output back.
//!
//! Commands (entities on node 1; `-` is the node's global entity, `*` the
//! cluster-wide one; flag words: `rearm`, `nowait`, `independent`,
//! `keepondeath`, `breakonfail`, `keeponfail`, `donow`, `wait`):
//! - `entity NAME [pid=N] [cmd=LINE] [hb=MS] [FLAGS]`
//! - `condition ENTITY NAME TYPE [FLAGS]` (TYPE: death, abnormaldeath, restart, detach, any, ...)
//! - `action ENTITY COND NAME KIND ARG [path=P] [FLAGS]` (KIND: restart LINE,
//!   execute LINE, waitfor MS, log MSG, signal PID)
//! - `fail ENTITY COND ACTION NAME KIND ARG`: an action-fail action
//! - `disable ENTITY [COND [ACTION]]`
//! - `death ENTITY [exit=N | signal=N[:core] | unknown] [restart=ok|fail] [deaths=N]`
//!   (`deaths=N`: N earlier deaths within the pacing window, L4)
//!
//! Besides printing, the runner applies the outcome the decision builds for
//! the given restart result and checks that the state changed exactly as
//! the decision predicted (entity kept or removed, objects removed).

use super::*;
use crate::model::flags::*;
use crate::model::{ExecutorKind, ObjectRef, Pacing, PacingHistory};
use std::fmt::Write as _;

const NODE: NodeId = 1;

fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for ch in line.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Positional arguments and `key=value` options of a line.
struct Args {
    pos: Vec<String>,
    opts: Vec<(String, String)>,
    words: Vec<String>,
}

impl Args {
    fn parse(toks: &[String], positional: usize) -> Args {
        let mut a = Args {
            pos: Vec::new(),
            opts: Vec::new(),
            words: Vec::new(),
        };
        for t in toks {
            if a.pos.len() < positional {
                a.pos.push(t.clone());
            } else if let Some((k, v)) = t.split_once('=') {
                a.opts.push((k.to_string(), v.to_string()));
            } else {
                a.words.push(t.clone());
            }
        }
        assert_eq!(a.pos.len(), positional, "too few arguments in {toks:?}");
        a
    }

    fn opt(&self, key: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flags(&self) -> u32 {
        self.words
            .iter()
            .map(|w| match w.as_str() {
                "rearm" => HREARMAFTERRESTART,
                "nowait" => HCONDNOWAIT,
                "independent" => HCONDINDEPENDENT,
                "keepondeath" => HENTITYKEEPONDEATH,
                "breakonfail" => HACTIONBREAKONFAIL,
                "keeponfail" => HACTIONKEEPONFAIL,
                "donow" => HACTIONDONOW,
                "wait" => HACTIONWAIT,
                other => panic!("unknown flag word {other:?}"),
            })
            .fold(0, |a, b| a | b)
    }
}

fn eref(name: &str) -> EntityRef {
    match name {
        "*" => EntityRef {
            node: CLUSTER_NODE_ID,
            name: String::new(),
            uid: None,
        },
        "-" => EntityRef {
            node: NODE,
            name: String::new(),
            uid: None,
        },
        n => EntityRef {
            node: NODE,
            name: n.to_string(),
            uid: None,
        },
    }
}

fn cref(e: &str, c: &str) -> ConditionRef {
    ConditionRef {
        entity: eref(e),
        name: c.to_string(),
        uid: None,
    }
}

fn aref(e: &str, c: &str, a: &str) -> ActionRef {
    ActionRef {
        condition: cref(e, c),
        name: a.to_string(),
        uid: None,
    }
}

fn ctype(name: &str) -> ConditionType {
    use ConditionType as C;
    match name {
        "death" => C::Death,
        "abnormaldeath" => C::AbnormalDeath,
        "restart" => C::Restart,
        "detach" => C::Detach,
        "attach" => C::Attach,
        "any" => C::Any,
        "hbeatmissedlow" => C::HbeatMissedLow,
        "hbeatmissedhigh" => C::HbeatMissedHigh,
        "escalate" => C::Escalate,
        other => panic!("unknown condition type {other:?}"),
    }
}

fn kind(k: &str, arg: &str, args: &Args) -> ActionKind {
    match k {
        "restart" => ActionKind::Restart {
            command_line: arg.to_string(),
        },
        "execute" => ActionKind::Execute {
            command_line: arg.to_string(),
            timeout_ms: 0,
        },
        "waitfor" => ActionKind::Waitfor {
            path: args.opt("path").map(str::to_string),
            delay_ms: arg.parse().expect("waitfor delay"),
        },
        "log" => ActionKind::Log {
            message: arg.to_string(),
            attach_prefix: false,
            verbosity: 1,
        },
        "signal" => ActionKind::NotifySignal {
            node: NODE,
            pid: arg.parse().expect("signal pid"),
            signum: 10,
            code: 0,
            value: 0,
        },
        other => panic!("unknown action kind {other:?}"),
    }
}

fn exit_of(args: &Args) -> ExitInfo {
    if let Some(code) = args.opt("exit") {
        return ExitInfo::Exited(code.parse().expect("exit code"));
    }
    if let Some(sig) = args.opt("signal") {
        let (n, core) = match sig.split_once(':') {
            Some((n, "core")) => (n, true),
            _ => (sig, false),
        };
        return ExitInfo::Signaled {
            signal: n.parse().expect("signal number"),
            core_dumped: core,
        };
    }
    if args.words.iter().any(|w| w == "unknown") {
        return ExitInfo::Unknown;
    }
    ExitInfo::Exited(0)
}

fn show_exit(exit: ExitInfo) -> String {
    match exit {
        ExitInfo::Exited(c) => format!("exit={c}"),
        ExitInfo::Signaled {
            signal,
            core_dumped: true,
        } => format!("signal={signal}:core"),
        ExitInfo::Signaled { signal, .. } => format!("signal={signal}"),
        ExitInfo::Unknown => "unknown".into(),
    }
}

fn fresh() -> HamState {
    let mut s = HamState::default();
    for (id, name) in [(NODE, "alpha"), (2, "beta")] {
        s.apply(Command::RegisterNode {
            id,
            name: name.into(),
            address: String::new(),
        })
        .unwrap();
    }
    s
}

/// Applies one building command.
fn build(s: &mut HamState, toks: &[String]) {
    let cmd = match toks[0].as_str() {
        "entity" => {
            let a = Args::parse(&toks[1..], 1);
            Command::Attach {
                node: NODE,
                name: a.pos[0].clone(),
                pid: a.opt("pid").map_or(100, |p| p.parse().unwrap()),
                command_line: a.opt("cmd").map(str::to_string),
                flags: a.flags(),
                pidfile: None,
                heartbeat: a.opt("hb").map(|ms| HeartbeatSpec {
                    period_ns: ms.parse::<u64>().unwrap() * 1_000_000,
                    hpdl: 1,
                    hpdh: 2,
                }),
                now_ns: 1_000,
                options: Default::default(),
                conditions: Vec::new(),
                stop: Default::default(),
                pacing: None,
            }
        }
        "condition" => {
            let a = Args::parse(&toks[1..], 3);
            Command::AddCondition {
                entity: eref(&a.pos[0]),
                name: a.pos[1].clone(),
                ctype: ctype(&a.pos[2]),
                flags: a.flags(),
                filter: ConditionFilter::None,
            }
        }
        "action" => {
            let a = Args::parse(&toks[1..], 5);
            Command::AddAction {
                condition: cref(&a.pos[0], &a.pos[1]),
                name: a.pos[2].clone(),
                flags: a.flags(),
                kind: kind(&a.pos[3], &a.pos[4], &a),
            }
        }
        "fail" => {
            let a = Args::parse(&toks[1..], 6);
            Command::AddActionFail {
                action: aref(&a.pos[0], &a.pos[1], &a.pos[2]),
                name: a.pos[3].clone(),
                flags: a.flags(),
                kind: kind(&a.pos[4], &a.pos[5], &a),
            }
        }
        "disable" => {
            let target = match &toks[1..] {
                [e] => ObjectRef::Entity(eref(e)),
                [e, c] => ObjectRef::Condition(cref(e, c)),
                [e, c, a] => ObjectRef::Action(aref(e, c, a)),
                _ => panic!("disable takes 1 to 3 names: {toks:?}"),
            };
            Command::Control {
                target,
                op: crate::model::flags::ControlOp::Disable,
                flags: 0,
            }
        }
        other => panic!("unknown command {other:?}"),
    };
    if let Err(e) = s.apply(cmd) {
        panic!("{toks:?}: {e:?}");
    }
}

fn plan_line(plan: &Plan) -> String {
    if plan.executors.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = plan
        .executors
        .iter()
        .map(|x| {
            let kind = match x.kind {
                ExecutorKind::NoWait => "nowait",
                ExecutorKind::Independent => "independent",
                ExecutorKind::Shared => "shared",
            };
            let steps: Vec<&str> = x.steps.iter().map(|s| s.path.as_str()).collect();
            format!("{kind}[{}]", steps.join(" "))
        })
        .collect();
    parts.join(" ")
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(" ")
    }
}

/// The entity's tree, one line per condition.
fn tree(s: &HamState, target: &EntityRef) -> Vec<String> {
    let Ok(e) = s.entity(target) else {
        return vec!["state: gone".into()];
    };
    let exit = e.stats.last_exit.map_or("-".into(), show_exit);
    let mut out = vec![format!(
        "state: pid={} instance={} restarts={} last={exit}",
        e.pid, e.stats.instance, e.stats.restarts
    )];
    for c in &e.conditions {
        let actions: Vec<String> = c
            .actions
            .iter()
            .map(|a| match a.failures {
                0 => a.name.clone(),
                n => format!("{}(failed {n})", a.name),
            })
            .collect();
        out.push(format!("state: {}: {}", c.name, list(actions)));
    }
    out
}

/// Decides a death, prints the decision and checks the outcome against it.
fn death(s: &HamState, toks: &[String]) -> String {
    let a = Args::parse(&toks[1..], 1);
    let target = eref(&a.pos[0]);
    let exit = exit_of(&a);
    let restart_ok = match a.opt("restart") {
        None | Some("ok") => true,
        Some("fail") => false,
        Some(other) => panic!("restart={other}: ok or fail"),
    };
    let mut out = String::new();
    // `deaths=N`: that many deaths just before this one, within the window (L4).
    let history = PacingHistory {
        deaths: (0..a.opt("deaths").map_or(0, |n| n.parse::<i64>().unwrap()))
            .map(|i| 9_000 + i)
            .collect(),
        delay_ns: 0,
    };
    let clock = DeathClock {
        now_ns: 10_000,
        up_since_ns: 9_999,
        history: &history,
    };
    let d = match decide_death(s, &target, exit, clock) {
        Ok(d) => d,
        Err(e) => return format!("error: {:?} {}\n", e.errno, e.message),
    };
    let _ = writeln!(out, "death: {} {}", a.pos[0], show_exit(exit));
    match &d.restart {
        Some(r) => {
            let argv = match &r.argv {
                Ok(v) => format!("argv={v:?}"),
                Err(why) => format!("cannot={why:?}"),
            };
            let hb = r.heartbeat.map_or(String::new(), |h| {
                format!(" hb={}ms", h.period_ns / 1_000_000)
            });
            let paced = match r.pacing {
                Pacing::Immediate => String::new(),
                Pacing::After(ns) => format!(" paced={}ms", ns / 1_000_000),
            };
            let _ = writeln!(
                out,
                "restart: {} {argv} instance={}{hb}{paced}",
                r.step.path, r.instance
            );
        }
        None => out.push_str("restart: -\n"),
    }
    let _ = writeln!(out, "plan: {}", plan_line(&d.plan));
    let restarted = d.restart.is_some() && restart_ok;
    let label = match (&d.restart, restarted) {
        (None, _) => "no restart",
        (Some(_), true) => "restarted",
        (Some(_), false) => "restart failed",
    };
    let after = d.after(restarted);
    let _ = writeln!(out, "if {label}:");
    let _ = writeln!(out, "stays: {}", yes(after.stays));
    let mut removed: Vec<String> = after
        .removed_conditions
        .iter()
        .map(|c| format!("{}/", c.name))
        .collect();
    removed.extend(
        after
            .removed_actions
            .iter()
            .map(|x| format!("{}/{}", x.condition.name, x.name)),
    );
    let _ = writeln!(out, "removed: {}", list(removed));
    let broken = d
        .plan
        .steps()
        .chain(d.restart.iter().map(|r| &r.step))
        .filter(|st| after.broken.contains(&st.condition().uid.unwrap_or(0)))
        .map(|st| st.condition().name.clone())
        .collect::<std::collections::BTreeSet<_>>();
    let _ = writeln!(out, "broken: {}", list(broken.into_iter().collect()));
    let rp = after.restart_plan.as_ref().map_or("-".into(), plan_line);
    let _ = writeln!(out, "on restart: {rp}");
    let _ = writeln!(out, "next death waits: {}", yes(after.changes_next_plan));

    // Apply the outcome the agent would propose and check the prediction.
    let mut applied = s.clone();
    let before = s.entity(&target).unwrap().clone();
    let outcome = d.outcome(10_000, restarted.then_some((501, 10_001)));
    applied.apply(outcome).expect("the outcome applies");
    match applied.entity(&target) {
        Ok(e) => {
            assert!(after.stays, "the decision said the entity goes");
            check_removed(&before, e, after);
        }
        Err(_) => assert!(!after.stays, "the decision said the entity stays"),
    }
    for line in tree(&applied, &target) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The objects gone from `before` to `now` are exactly those predicted.
fn check_removed(before: &Entity, now: &Entity, after: &AfterDeath) {
    let mut gone_c = Vec::new();
    let mut gone_a = Vec::new();
    for c in &before.conditions {
        match now.conditions.iter().find(|n| n.uid == c.uid) {
            None => gone_c.push(c.uid),
            Some(n) => {
                for a in &c.actions {
                    if !n.actions.iter().any(|x| x.uid == a.uid) {
                        gone_a.push((c.uid, a.uid));
                    }
                }
            }
        }
    }
    let want_c: Vec<Uid> = after
        .removed_conditions
        .iter()
        .filter_map(|c| c.uid)
        .collect();
    let want_a: Vec<(Uid, Uid)> = after
        .removed_actions
        .iter()
        .filter_map(|a| Some((a.condition.uid?, a.uid?)))
        .collect();
    assert_eq!(gone_c, want_c, "conditions removed by the outcome");
    assert_eq!(gone_a, want_a, "actions removed by the outcome");
}

/// Runs one case block; returns its output.
fn run_case(lines: &[&str]) -> String {
    let mut s = fresh();
    let mut out = String::new();
    for line in lines {
        let toks = tokens(line);
        if toks.is_empty() {
            continue;
        }
        if toks[0] == "death" {
            out.push_str(&death(&s, &toks));
        } else {
            build(&mut s, &toks);
        }
    }
    out
}

/// Runs a file; returns (cases, the file as it should read, mismatches).
fn run_file(text: &str) -> (usize, String, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut rewritten = String::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        while i < lines.len() && lines[i] != "----" {
            i += 1;
        }
        let block: Vec<&str> = lines[start..i]
            .iter()
            .copied()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        for l in &lines[start..i] {
            rewritten.push_str(l);
            rewritten.push('\n');
        }
        if i == lines.len() {
            assert!(
                block.iter().all(|l| l.trim().is_empty()),
                "commands with no ---- after them: {block:?}"
            );
            break;
        }
        i += 1; // ----
        let expect_start = i;
        while i < lines.len() && !lines[i].trim().is_empty() {
            i += 1;
        }
        let expected: String = lines[expect_start..i]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        let actual = run_case(&block);
        cases += 1;
        if actual != expected {
            let first = block.iter().find(|l| !l.trim().is_empty()).unwrap_or(&"");
            failures.push(format!(
                "case starting {first:?}:\n--- expected\n{expected}--- actual\n{actual}"
            ));
        }
        rewritten.push_str("----\n");
        rewritten.push_str(&actual);
        if i < lines.len() {
            rewritten.push('\n');
            i += 1; // the blank line
        }
    }
    (cases, rewritten, failures)
}

#[test]
fn decide_death_testdata() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/model/testdata/death");
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/death")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    let mut total = 0;
    let mut failed = Vec::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        let (cases, rewritten, failures) = run_file(&text);
        total += cases;
        if rewrite {
            if rewritten != text {
                std::fs::write(p, rewritten).unwrap();
            }
        } else {
            failed.extend(
                failures
                    .into_iter()
                    .map(|f| format!("{}: {f}", p.display())),
            );
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(total >= 30, "only {total} death cases");
}

#[test]
fn decide_tokens_keep_quoted_words() {
    assert_eq!(
        tokens(r#"action inetd death restart restart "/usr/sbin/inetd -D" rearm"#),
        [
            "action",
            "inetd",
            "death",
            "restart",
            "restart",
            "/usr/sbin/inetd -D",
            "rearm"
        ]
    );
    assert_eq!(
        tokens(r#"entity a cmd="/bin/a -x""#),
        ["entity", "a", "cmd=/bin/a -x"]
    );
}
