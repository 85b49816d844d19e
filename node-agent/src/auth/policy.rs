//! Who holds which role (HAM-CONTRACT P2): the `[policy]` table of the configuration file over
//! the built-in defaults.
//!
//! ```toml
//! [policy]
//! anonymous = "reader"          # plain-text (--insecure) callers; default: nothing
//!
//! [[policy.rule]]
//! uid = 1000
//! role = "operator"
//!
//! [[policy.rule]]
//! gid = 27                      # primary or supplementary group
//! role = "admin"
//!
//! [[policy.rule]]
//! identity = "spiffe://ham/ops" # a client certificate's identity (net::certid)
//! role = "operator"
//! ```
//!
//! Defaults: uid 0 and the daemon's own uid are `admin`; any other local caller (anyone who can
//! reach the socket) `reader`; a certificate identity nothing unless a rule names it; another
//! node (`Principal::Node`, a call it already authorized) `admin`; anonymous nothing. A caller
//! gets the highest role of every rule it matches; rules only add.

use super::caller::Principal;
use super::roles::Role;
use anyhow::bail;
use serde::Deserialize;

/// One `[[policy.rule]]`: exactly one of `uid`, `gid`, `identity`, and the role it grants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub identity: Option<String>,
    pub role: Role,
}

/// The `[policy]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub anonymous: Option<Role>,
    #[serde(default)]
    pub rule: Vec<RuleFile>,
}

/// Whom a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Uid(u32),
    Gid(u32),
    Identity(String),
}

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The daemon's own uid (admin by default, as uid 0).
    pub own_uid: u32,
    pub anonymous: Option<Role>,
    pub rules: Vec<(Who, Role)>,
}

impl Policy {
    /// The default policy of a daemon running as `own_uid`.
    pub fn default_for(own_uid: u32) -> Policy {
        Policy {
            own_uid,
            anonymous: None,
            rules: Vec::new(),
        }
    }

    /// The policy a configuration file's `[policy]` table describes.
    pub fn from_file(file: PolicyFile, own_uid: u32) -> anyhow::Result<Policy> {
        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, r) in file.rule.into_iter().enumerate() {
            let who = match (r.uid, r.gid, r.identity) {
                (Some(uid), None, None) => Who::Uid(uid),
                (None, Some(gid), None) => Who::Gid(gid),
                (None, None, Some(id)) if !id.is_empty() => Who::Identity(id),
                (None, None, Some(_)) => bail!("policy rule {}: empty identity", i + 1),
                _ => bail!(
                    "policy rule {}: give exactly one of uid, gid or identity",
                    i + 1
                ),
            };
            rules.push((who, r.role));
        }
        Ok(Policy {
            own_uid,
            anonymous: file.anonymous,
            rules,
        })
    }

    /// Whether any rule names a group: only then are a caller's groups worth reading.
    pub fn has_group_rules(&self) -> bool {
        self.rules.iter().any(|(w, _)| matches!(w, Who::Gid(_)))
    }

    /// The role of `who`; `groups` are a local caller's primary and supplementary groups.
    /// None: the caller may make no call at all.
    pub fn role_of(&self, who: &Principal, groups: &[u32]) -> Option<Role> {
        let base = match who {
            Principal::Local { uid, .. } if *uid == 0 || *uid == self.own_uid => {
                return Some(Role::Admin);
            }
            Principal::Local { .. } => Some(Role::Reader),
            Principal::Node { .. } => return Some(Role::Admin),
            Principal::Client { .. } => None,
            Principal::Anonymous => self.anonymous,
        };
        let granted = self.rules.iter().filter_map(|(w, role)| {
            let hit = match (w, who) {
                (Who::Uid(u), Principal::Local { uid, .. }) => u == uid,
                (Who::Gid(g), Principal::Local { gid, .. }) => g == gid || groups.contains(g),
                (Who::Identity(i), Principal::Client { identity }) => i == identity,
                _ => false,
            };
            hit.then_some(*role)
        });
        base.into_iter().chain(granted).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(uid: u32, gid: u32) -> Principal {
        Principal::Local { uid, gid, pid: 42 }
    }

    fn client(id: &str) -> Principal {
        Principal::Client {
            identity: id.into(),
        }
    }

    fn policy(toml_text: &str) -> anyhow::Result<Policy> {
        #[derive(Deserialize)]
        struct F {
            policy: PolicyFile,
        }
        let f: F = toml::from_str(toml_text)?;
        Policy::from_file(f.policy, 990)
    }

    #[test]
    fn p2_default_policy() {
        let p = Policy::default_for(990);
        let cases = [
            (local(0, 0), Some(Role::Admin)),
            (local(990, 990), Some(Role::Admin)),
            (local(1000, 1000), Some(Role::Reader)),
            (client("spiffe://ham/ops"), None),
            (Principal::Node { id: 2 }, Some(Role::Admin)),
            (Principal::Anonymous, None),
        ];
        for (who, want) in cases {
            assert_eq!(p.role_of(&who, &[]), want, "{who}");
        }
    }

    #[test]
    fn p2_rules_grant_by_uid_gid_identity_and_for_anonymous() {
        let p = policy(
            r#"
            [policy]
            anonymous = "reader"
            [[policy.rule]]
            uid = 1000
            role = "operator"
            [[policy.rule]]
            gid = 27
            role = "admin"
            [[policy.rule]]
            identity = "spiffe://ham/ops"
            role = "operator"
            "#,
        )
        .unwrap();
        assert!(p.has_group_rules());
        let cases: [(Principal, &[u32], Option<Role>); 8] = [
            (local(1000, 1000), &[], Some(Role::Operator)),
            (local(1001, 27), &[], Some(Role::Admin)),
            (local(1001, 100), &[100, 27], Some(Role::Admin)),
            (local(1001, 100), &[100], Some(Role::Reader)),
            (client("spiffe://ham/ops"), &[], Some(Role::Operator)),
            (client("spiffe://ham/other"), &[], None),
            (Principal::Anonymous, &[], Some(Role::Reader)),
            // A uid rule never matches a certificate, an identity rule never a local caller.
            (local(1002, 1002), &[], Some(Role::Reader)),
        ];
        for (who, groups, want) in cases {
            assert_eq!(p.role_of(&who, groups), want, "{who} {groups:?}");
        }
    }

    #[test]
    fn p2_a_rule_never_lowers_a_role() {
        let p = policy("[policy]\n[[policy.rule]]\nuid = 0\nrole = \"reader\"\n").unwrap();
        assert_eq!(p.role_of(&local(0, 0), &[]), Some(Role::Admin));
    }

    #[test]
    fn p2_bad_policies_are_refused() {
        for bad in [
            "[policy]\n[[policy.rule]]\nrole = \"admin\"\n",
            "[policy]\n[[policy.rule]]\nuid = 1\ngid = 1\nrole = \"admin\"\n",
            "[policy]\n[[policy.rule]]\nidentity = \"\"\nrole = \"admin\"\n",
            "[policy]\n[[policy.rule]]\nuid = 1\nrole = \"root\"\n",
            "[policy]\nanonymous = \"everything\"\n",
            "[policy]\nsurprise = 1\n",
        ] {
            assert!(policy(bad).is_err(), "{bad}");
        }
    }
}
