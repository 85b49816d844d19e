//! Per-entity process options (HAM-CONTRACT L7) and the user and group an
//! entity's processes run as (P4): what is stored, and the pure checks of it.
//!
//! User and group names are resolved where the request enters (that is IO:
//! the account database of the node serving the call); the state keeps both
//! the numbers and the names, so that the agent of the entity's node can look
//! the user's supplementary groups up by name just before each start.

use super::errno::{Result, einval};
use super::names::quoted;
use serde::{Deserialize, Serialize};

/// Where a started process's standard output and error go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutputMode {
    /// `<data-dir>/logs/<entity>.log`, rotated by size.
    #[default]
    Log,
    /// The agent's own standard output and error.
    Inherit,
    /// `/dev/null`.
    Discard,
}

impl OutputMode {
    /// The name used by `hamctrl` and the tree view.
    pub fn name(self) -> &'static str {
        match self {
            OutputMode::Log => "log",
            OutputMode::Inherit => "inherit",
            OutputMode::Discard => "discard",
        }
    }

    /// The mode of a name.
    pub fn from_name(name: &str) -> Option<OutputMode> {
        [OutputMode::Log, OutputMode::Inherit, OutputMode::Discard]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// A resource limit a process can be started with (setrlimit(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LimitResource {
    /// RLIMIT_NOFILE: open file descriptors.
    Nofile,
    /// RLIMIT_CORE: core file size in bytes.
    Core,
    /// RLIMIT_NPROC: processes of the real user.
    Nproc,
    /// RLIMIT_MEMLOCK: locked memory in bytes.
    Memlock,
    /// RLIMIT_AS: address space in bytes.
    As,
    /// RLIMIT_FSIZE: size of a written file in bytes.
    Fsize,
    /// RLIMIT_STACK: stack size in bytes.
    Stack,
    /// RLIMIT_CPU: CPU time in seconds.
    Cpu,
    /// RLIMIT_DATA: data segment in bytes.
    Data,
}

impl LimitResource {
    /// Every resource, in the order of their names' table.
    pub const ALL: [LimitResource; 9] = [
        LimitResource::Nofile,
        LimitResource::Core,
        LimitResource::Nproc,
        LimitResource::Memlock,
        LimitResource::As,
        LimitResource::Fsize,
        LimitResource::Stack,
        LimitResource::Cpu,
        LimitResource::Data,
    ];

    /// Its name without `RLIMIT_`, lower case (`nofile`, `core`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LimitResource::Nofile => "nofile",
            LimitResource::Core => "core",
            LimitResource::Nproc => "nproc",
            LimitResource::Memlock => "memlock",
            LimitResource::As => "as",
            LimitResource::Fsize => "fsize",
            LimitResource::Stack => "stack",
            LimitResource::Cpu => "cpu",
            LimitResource::Data => "data",
        }
    }

    /// The resource of a name.
    pub fn from_name(name: &str) -> Option<LimitResource> {
        LimitResource::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// No limit (`RLIM_INFINITY` on Linux).
pub const UNLIMITED: u64 = u64::MAX;

/// One resource limit: the soft value the process sees and the hard ceiling
/// it may raise it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// Which resource.
    pub resource: LimitResource,
    /// The soft limit ([`UNLIMITED`] for none).
    pub soft: u64,
    /// The hard limit ([`UNLIMITED`] for none); never below `soft`.
    pub hard: u64,
}

/// A user an entity's processes run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's name, by which its supplementary groups are found.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid (the process's gid when no group is given).
    pub gid: u32,
}

/// A group an entity's processes run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The group's name.
    pub name: String,
    /// Its gid.
    pub gid: u32,
}

/// Who an entity's processes run as; each part absent means the daemon's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    /// The user (uid and, unless `group` is given, gid).
    pub user: Option<User>,
    /// The group (gid), overriding the user's primary group.
    pub group: Option<Group>,
}

impl RunAs {
    /// The uid to switch to, if any.
    pub fn uid(&self) -> Option<u32> {
        self.user.as_ref().map(|u| u.uid)
    }

    /// The gid to switch to, if any: the group's, else the user's primary one.
    pub fn gid(&self) -> Option<u32> {
        self.group
            .as_ref()
            .map(|g| g.gid)
            .or(self.user.as_ref().map(|u| u.gid))
    }

    /// Whether the processes run as the daemon's own user and group.
    pub fn is_daemon(&self) -> bool {
        self.user.is_none() && self.group.is_none()
    }
}

/// How an entity's processes (start, restart, execute actions) are started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessOptions {
    /// Working directory (absolute); None: the daemon's own.
    pub cwd: Option<String>,
    /// Extra environment, in the order given, on top of what the agent sets.
    pub env: Vec<(String, String)>,
    /// Where standard output and error go.
    pub output: OutputMode,
    /// Resource limits, at most one per resource.
    pub limits: Vec<Limit>,
    /// The user and group the processes run as.
    pub run_as: RunAs,
}

/// At most this many extra environment variables.
pub const ENV_MAX: usize = 256;
/// At most this many bytes of extra environment (names, values, `=` and NUL).
pub const ENV_BYTES_MAX: usize = 64 * 1024;
/// A working directory is at most this long (Linux's PATH_MAX less its NUL).
pub const CWD_MAX: usize = 4095;
/// Account names are at most this long (glibc's LOGIN_NAME_MAX less its NUL).
pub const ACCOUNT_NAME_MAX: usize = 255;

/// Variables the agent sets itself for every process it starts: the
/// instance number, the identity marker that tells an entity's process
/// after a restart of `ham` (E11), the sd_notify socket and watchdog period
/// (E4) and the fixed PATH (E3). Overriding them would break those rules, so
/// they are refused; every `HAM_*` name is reserved for later ones.
fn reserved_env(name: &str) -> bool {
    name.starts_with("HAM_") || matches!(name, "PATH" | "NOTIFY_SOCKET" | "WATCHDOG_USEC")
}

/// A portable environment name: a letter or `_`, then letters, digits, `_`.
fn check_env_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let head_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !head_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(einval(format!(
            "environment name {} is not a letter or _ followed by letters, digits or _",
            quoted(name)
        )));
    }
    if reserved_env(name) {
        return Err(einval(format!(
            "environment name {} is set by the HAM itself (HAM_*, PATH, NOTIFY_SOCKET, WATCHDOG_USEC)",
            quoted(name)
        )));
    }
    Ok(())
}

fn check_env(env: &[(String, String)]) -> Result<()> {
    if env.len() > ENV_MAX {
        return Err(einval(format!(
            "{} environment variables, at most {ENV_MAX}",
            env.len()
        )));
    }
    let bytes: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if bytes > ENV_BYTES_MAX {
        return Err(einval(format!(
            "the environment takes {bytes} bytes, at most {ENV_BYTES_MAX}"
        )));
    }
    for (i, (name, value)) in env.iter().enumerate() {
        check_env_name(name)?;
        if value.contains('\0') {
            return Err(einval(format!(
                "environment variable {} holds a NUL byte",
                quoted(name)
            )));
        }
        if env[..i].iter().any(|(k, _)| k == name) {
            return Err(einval(format!(
                "environment variable {} is given twice",
                quoted(name)
            )));
        }
    }
    Ok(())
}

fn check_cwd(cwd: &str) -> Result<()> {
    if !cwd.starts_with('/') || cwd.contains('\0') {
        return Err(einval(format!(
            "working directory {} is not an absolute path",
            quoted(cwd)
        )));
    }
    if cwd.len() > CWD_MAX {
        return Err(einval(format!(
            "working directory is {} bytes long, at most {CWD_MAX}",
            cwd.len()
        )));
    }
    Ok(())
}

fn check_limits(limits: &[Limit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let name = l.resource.name();
        if l.soft > l.hard {
            return Err(einval(format!(
                "limit {name}: soft value {} is above hard value {}",
                l.soft, l.hard
            )));
        }
        if limits[..i].iter().any(|o| o.resource == l.resource) {
            return Err(einval(format!("limit {name} is given twice")));
        }
    }
    Ok(())
}

/// An account name as the account database can hold it: not empty, no
/// NUL, `:` (the passwd field separator) or `/`, not all digits (that is an
/// id, resolved before it gets here).
fn check_account_name(what: &str, name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > ACCOUNT_NAME_MAX
        || name.contains(['\0', ':', '/'])
        || name.bytes().all(|b| b.is_ascii_digit());
    if bad {
        return Err(einval(format!("{what} name {} is not valid", quoted(name))));
    }
    Ok(())
}

/// `-1` means "leave unchanged" to setuid(2) and setgid(2): never an id.
fn check_id(what: &str, id: u32) -> Result<()> {
    if id == u32::MAX {
        return Err(einval(format!("{what} id {id} is not an id")));
    }
    Ok(())
}

fn check_run_as(r: &RunAs) -> Result<()> {
    if let Some(u) = &r.user {
        check_account_name("user", &u.name)?;
        check_id("user", u.uid)?;
        check_id("group", u.gid)?;
    }
    if let Some(g) = &r.group {
        check_account_name("group", &g.name)?;
        check_id("group", g.gid)?;
    }
    Ok(())
}

/// L7, P4: the options of an entity, checked on their own (EINVAL naming
/// the option at fault).
pub fn check_options(o: &ProcessOptions) -> Result<()> {
    if let Some(cwd) = &o.cwd {
        check_cwd(cwd)?;
    }
    check_env(&o.env)?;
    check_limits(&o.limits)?;
    check_run_as(&o.run_as)
}

/// Parses `N[:M]` (or `unlimited` for either part) as a limit's soft and
/// hard values; a lone `N` is both.
pub fn parse_limit_values(text: &str) -> Option<(u64, u64)> {
    let value = |s: &str| match s {
        "unlimited" | "infinity" => Some(UNLIMITED),
        _ => s.parse::<u64>().ok(),
    };
    match text.split_once(':') {
        Some((soft, hard)) => Some((value(soft)?, value(hard)?)),
        None => value(text).map(|v| (v, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Errno;

    fn env(pairs: &[(&str, &str)]) -> ProcessOptions {
        ProcessOptions {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ProcessOptions::default()
        }
    }

    fn limit(resource: LimitResource, soft: u64, hard: u64) -> Limit {
        Limit {
            resource,
            soft,
            hard,
        }
    }

    #[test]
    fn l7_valid_options_pass() {
        let o = ProcessOptions {
            cwd: Some("/var/lib/svc".into()),
            env: vec![("LANG".into(), "C".into()), ("_X1".into(), String::new())],
            output: OutputMode::Discard,
            limits: vec![
                limit(LimitResource::Nofile, 1024, 4096),
                limit(LimitResource::Core, 0, UNLIMITED),
            ],
            run_as: RunAs {
                user: Some(User {
                    name: "svc".into(),
                    uid: 1000,
                    gid: 1000,
                }),
                group: Some(Group {
                    name: "www-data".into(),
                    gid: 33,
                }),
            },
        };
        check_options(&o).unwrap();
        check_options(&ProcessOptions::default()).unwrap();
    }

    #[test]
    fn l7_invalid_options_are_einval_and_say_which() {
        let cases: Vec<(ProcessOptions, &str)> = vec![
            (
                ProcessOptions {
                    cwd: Some("relative/dir".into()),
                    ..Default::default()
                },
                "working directory",
            ),
            (
                ProcessOptions {
                    cwd: Some("/a\0b".into()),
                    ..Default::default()
                },
                "working directory",
            ),
            (
                ProcessOptions {
                    cwd: Some(format!("/{}", "d".repeat(CWD_MAX))),
                    ..Default::default()
                },
                "working directory",
            ),
            (env(&[("", "x")]), "environment name"),
            (env(&[("1X", "x")]), "environment name"),
            (env(&[("A=B", "x")]), "environment name"),
            (env(&[("A-B", "x")]), "environment name"),
            (env(&[("HAM_INSTANCE", "7")]), "set by the HAM"),
            (env(&[("HAM_ANYTHING", "7")]), "set by the HAM"),
            (env(&[("PATH", "/tmp")]), "set by the HAM"),
            (env(&[("NOTIFY_SOCKET", "/tmp/s")]), "set by the HAM"),
            (env(&[("WATCHDOG_USEC", "1")]), "set by the HAM"),
            (env(&[("A", "x\0y")]), "NUL"),
            (env(&[("A", "1"), ("A", "2")]), "twice"),
            (
                ProcessOptions {
                    limits: vec![limit(LimitResource::Nofile, 10, 5)],
                    ..Default::default()
                },
                "limit nofile: soft value 10 is above hard value 5",
            ),
            (
                ProcessOptions {
                    limits: vec![
                        limit(LimitResource::Core, 0, 0),
                        limit(LimitResource::Core, 1, 1),
                    ],
                    ..Default::default()
                },
                "limit core is given twice",
            ),
            (
                ProcessOptions {
                    run_as: RunAs {
                        user: Some(User {
                            name: "a:b".into(),
                            uid: 5,
                            gid: 5,
                        }),
                        group: None,
                    },
                    ..Default::default()
                },
                "user name",
            ),
            (
                ProcessOptions {
                    run_as: RunAs {
                        user: None,
                        group: Some(Group {
                            name: "g".into(),
                            gid: u32::MAX,
                        }),
                    },
                    ..Default::default()
                },
                "group id",
            ),
        ];
        for (o, says) in cases {
            let e = check_options(&o).unwrap_err();
            assert_eq!(e.errno, Errno::Einval, "{o:?}");
            assert!(e.message.contains(says), "{o:?}: {}", e.message);
        }
        let many: Vec<(String, String)> = (0..=ENV_MAX)
            .map(|i| (format!("V{i}"), "x".into()))
            .collect();
        let e = check_options(&ProcessOptions {
            env: many,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.errno, Errno::Einval);
        let big = env(&[("BIG", &"x".repeat(ENV_BYTES_MAX))]);
        assert_eq!(check_options(&big).unwrap_err().errno, Errno::Einval);
    }

    #[test]
    fn p4_run_as_takes_the_group_over_the_users_primary_one() {
        let user = User {
            name: "svc".into(),
            uid: 1000,
            gid: 100,
        };
        let only_user = RunAs {
            user: Some(user.clone()),
            group: None,
        };
        assert_eq!((only_user.uid(), only_user.gid()), (Some(1000), Some(100)));
        let both = RunAs {
            user: Some(user),
            group: Some(Group {
                name: "g".into(),
                gid: 7,
            }),
        };
        assert_eq!((both.uid(), both.gid()), (Some(1000), Some(7)));
        let only_group = RunAs {
            user: None,
            group: Some(Group {
                name: "g".into(),
                gid: 7,
            }),
        };
        assert_eq!((only_group.uid(), only_group.gid()), (None, Some(7)));
        assert!(RunAs::default().is_daemon() && !only_group.is_daemon());
    }

    #[test]
    fn l7_limit_values_and_names_parse() {
        for (text, want) in [
            ("1024", Some((1024, 1024))),
            ("0:unlimited", Some((0, UNLIMITED))),
            ("10:20", Some((10, 20))),
            ("infinity", Some((UNLIMITED, UNLIMITED))),
            ("", None),
            ("1:", None),
            ("-1", None),
            ("a:b", None),
        ] {
            assert_eq!(parse_limit_values(text), want, "{text}");
        }
        for r in LimitResource::ALL {
            assert_eq!(LimitResource::from_name(r.name()), Some(r));
        }
        assert_eq!(LimitResource::from_name("NOFILE"), None);
        for m in [OutputMode::Log, OutputMode::Inherit, OutputMode::Discard] {
            assert_eq!(OutputMode::from_name(m.name()), Some(m));
        }
    }
}
