//! Process options (HAM-CONTRACT L7) and run-as (P4), seen where the kernel
//! shows them: `/proc/PID/{cwd,environ,limits,fd,status}` of the processes
//! `ham` starts, restarts and runs as execute actions.

use super::fixture::*;
use std::os::unix::fs::PermissionsExt as _;

fn proc_text(pid: i64, what: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/{what}")).unwrap_or_default()
}

fn proc_link(pid: i64, what: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/{what}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn environ(pid: i64) -> Vec<String> {
    proc_text(pid, "environ")
        .split('\0')
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

/// (soft, hard) of one line of `/proc/PID/limits`, e.g. "Max open files".
fn limit(pid: i64, name: &str) -> (String, String) {
    let text = proc_text(pid, "limits");
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    let words: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (words[0].to_string(), words[1].to_string())
}

/// The values of a `/proc/PID/status` line (`Uid`, `Gid`, `Groups`).
fn status(pid: i64, key: &str) -> Vec<u32> {
    let text = proc_text(pid, "status");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// The pid on line `n` (1-based) of an `up` output file, once it is there.
fn nth_pid(file: &str, n: usize) -> i64 {
    wait_for(
        &format!("start {n} in {file}"),
        Duration::from_secs(10),
        || lines(file).len() >= n,
    );
    lines(file)[n - 1]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn l7_cwd_env_and_limits_seen_in_proc() {
    let fx = Fx::new();
    let work = fx.path("work");
    std::fs::create_dir(&work).unwrap();
    let up = fx.path("up");
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
        "--cwd",
        &work,
        "--env",
        "GREETING=hello world",
        "--env",
        "EMPTY=",
        "--limit",
        "nofile=100:200",
        "--limit",
        "core=0:unlimited",
    ]);
    let check = |pid: i64, instance: &str| {
        assert_eq!(proc_link(pid, "cwd"), work);
        let env = environ(pid);
        let instance = format!("HAM_INSTANCE={instance}");
        for want in ["GREETING=hello world", "EMPTY=", &instance] {
            assert!(env.iter().any(|v| v == want), "{want} not in {env:?}");
        }
        assert!(env.iter().any(|v| v.starts_with("PATH=/usr/local/sbin:")));
        assert_eq!(limit(pid, "Max open files"), ("100".into(), "200".into()));
        assert_eq!(
            limit(pid, "Max core file size"),
            ("0".into(), "unlimited".into())
        );
    };
    let first = nth_pid(&up, 1);
    check(first, "1");
    // The restart starts with the same options.
    kill9(first);
    check(nth_pid(&up, 2), "2");
    // The tree shows them.
    let info = fx.info("svc");
    assert!(info.contains(&work), "{info}");

    // A working directory alone needs nothing in the child: posix_spawn
    // changes directory itself.
    let up2 = fx.path("up2");
    fx.ctl(&[
        "attach",
        "plain",
        "--cmd",
        &format!("{PROG} up {up2}"),
        "--cwd",
        &work,
    ]);
    let pid = nth_pid(&up2, 1);
    assert_eq!(proc_link(pid, "cwd"), work);
    assert_eq!(
        limit(pid, "Max open files"),
        limit(i64::from(fx.ham.pid()), "Max open files")
    );
}

#[test]
fn l7_output_inherit_and_discard() {
    let fx = Fx::new();
    let line = |marker: &str| format!("/bin/sh -c 'echo {marker} >&2; exec /bin/sleep 30'");
    fx.ctl(&[
        "attach",
        "inh",
        "--cmd",
        &line("inh-marker"),
        "--output",
        "inherit",
    ]);
    fx.ctl(&[
        "attach",
        "dis",
        "--cmd",
        &line("dis-marker"),
        "--output",
        "discard",
    ]);
    fx.ctl(&["attach", "logged", "--cmd", &line("log-marker")]);
    let ham = i64::from(fx.ham.pid());
    let (inh, dis, logged) = (fx.pid("inh"), fx.pid("dis"), fx.pid("logged"));
    // inherit: the daemon's own standard output and error.
    assert_eq!(proc_link(inh, "fd/1"), proc_link(ham, "fd/1"));
    assert_eq!(proc_link(inh, "fd/2"), proc_link(ham, "fd/2"));
    wait_for(
        "the marker in the daemon's log",
        Duration::from_secs(5),
        || fx.ham.log_text().contains("inh-marker"),
    );
    // discard: /dev/null.
    assert_eq!(proc_link(dis, "fd/1"), "/dev/null");
    assert_eq!(proc_link(dis, "fd/2"), "/dev/null");
    // log (the default): the entity's file under the data directory.
    let log = fx.ham.data_dir.join("logs/logged.log");
    assert_eq!(proc_link(logged, "fd/2"), log.display().to_string());
    wait_for(
        "the marker in the entity log",
        Duration::from_secs(5),
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("log-marker")),
    );
    // Neither of the others reached a log of its own or the daemon's.
    let dis_log = fx.ham.data_dir.join("logs/dis.log");
    assert!(!std::fs::read_to_string(dis_log).is_ok_and(|t| t.contains("dis-marker")));
    assert!(!fx.ham.log_text().contains("dis-marker"));
    assert!(!fx.ham.data_dir.join("logs/inh.log").exists());
}

#[test]
fn l7_invalid_options_are_einval() {
    let fx = Fx::new();
    let cmd = "/bin/sleep 30";
    for bad in [
        &["--cwd", "relative/dir"][..],
        &["--env", "HAM_INSTANCE=9"],
        &["--env", "PATH=/tmp"],
        &["--env", "1BAD=x"],
        &["--env", "A=1", "--env", "A=2"],
        &["--limit", "nofile=10:5"],
        &["--limit", "core=1", "--limit", "core=2"],
        &["--user", "no-such-user-of-ham-tests"],
        &["--group", "no-such-group-of-ham-tests"],
        &["--user", "4294967294"],
    ] {
        let args: Vec<&str> = ["attach", "svc", "--cmd", cmd, "--restart"]
            .iter()
            .chain(bad)
            .copied()
            .collect();
        let out = fx.ham.hamctrl(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {stderr}");
        assert!(stderr.starts_with("hamctrl: EINVAL: "), "{bad:?}: {stderr}");
        assert!(fx.entities().is_empty(), "{bad:?} created something");
    }
}

/// A user (with its own primary group) and one supplementary group,
/// created for a test and removed when dropped.
struct TestUser {
    name: String,
    extra: String,
}

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

impl TestUser {
    fn create() -> TestUser {
        let tag = std::process::id();
        let user = TestUser {
            name: format!("hamu{tag}"),
            extra: format!("hamg{tag}"),
        };
        assert!(run("/usr/sbin/groupadd", &[&user.extra]), "groupadd");
        assert!(
            run(
                "/usr/sbin/useradd",
                &[
                    "-M",
                    "-U",
                    "-s",
                    "/usr/sbin/nologin",
                    "-G",
                    &user.extra,
                    &user.name
                ],
            ),
            "useradd"
        );
        user
    }

    fn id(&self, flag: &str) -> u32 {
        let out = Command::new("/usr/bin/id")
            .args([flag, &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    fn gid_of(group: &str) -> u32 {
        let out = Command::new("/usr/bin/getent")
            .args(["group", group])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split(':').nth(2).unwrap().parse().unwrap()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        run("/usr/sbin/userdel", &[&self.name]);
        // userdel removes the user's own group where USERGROUPS_ENAB is on; be sure.
        run("/usr/sbin/groupdel", &[&self.name]);
        run("/usr/sbin/groupdel", &[&self.extra]);
    }
}

#[test]
fn p4_entity_runs_as_its_user_and_groups() {
    let user = TestUser::create();
    let fx = Fx::new();
    // The processes write as that user: a directory it may write to, inside
    // one it may traverse.
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = fx.path("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (up, exec) = (format!("{out}/up"), format!("{out}/exec"));
    fx.ctl(&[
        "attach",
        "svc",
        "--cmd",
        &format!("{PROG} up {up}"),
        "--restart",
        "--user",
        &user.name,
    ]);
    // An execute action of the entity: run once now, and on each death.
    fx.ctl(&[
        "action",
        "svc",
        "death",
        "probe",
        "execute",
        "--cmd",
        &format!("{PROG} up {exec}"),
        "--donow",
        "--rearm",
    ]);
    let (uid, gid) = (user.id("-u"), user.id("-g"));
    let extra = TestUser::gid_of(&user.extra);
    let check = |pid: i64, what: &str| {
        assert_eq!(status(pid, "Uid"), [uid; 4], "{what}");
        assert_eq!(status(pid, "Gid"), [gid; 4], "{what}");
        let mut groups = status(pid, "Groups");
        groups.sort_unstable();
        let mut want = vec![gid, extra];
        want.sort_unstable();
        assert_eq!(groups, want, "{what}: supplementary groups");
    };
    check(nth_pid(&up, 1), "the start");
    check(nth_pid(&exec, 1), "the execute action run now");
    kill9(nth_pid(&up, 1));
    check(nth_pid(&up, 2), "the restart");
    check(nth_pid(&exec, 2), "the execute action run by the death");
    // The tree shows the user.
    let info = fx.info("svc");
    assert!(info.contains(&user.name), "{info}");

    // A group alone: the daemon's user with that group and no other.
    let up2 = format!("{out}/up2");
    fx.ctl(&[
        "attach",
        "grp",
        "--cmd",
        &format!("{PROG} up {up2}"),
        "--group",
        &user.extra,
    ]);
    let pid = nth_pid(&up2, 1);
    assert_eq!(status(pid, "Uid"), [0; 4]);
    assert_eq!(status(pid, "Gid"), [extra; 4]);
    assert_eq!(status(pid, "Groups"), [extra]);
}
