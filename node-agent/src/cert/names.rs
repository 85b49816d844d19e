//! What goes into a certificate's names, decided from the command line (pure).
//!
//! A client certificate must name exactly the identity asked for, as
//! [`crate::net::certid::principal_of`] reads it back (first URI SAN, else first DNS SAN, else
//! common name), and must never read as a node.

use crate::net::certid::{NODE_URI_PREFIX, node_id_of_uri};
use std::net::IpAddr;

/// Longest identity `ham cert client` accepts (a DNS name's limit; policies name it in full).
pub const MAX_IDENTITY: usize = 253;

/// The names of a client certificate for one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientNames {
    /// The subject's common name (always the identity, so that `openssl x509 -subject` shows it).
    pub common_name: String,
    /// A URI subject alternative name: identities with a `:` (`spiffe://ham/ops`, `urn:x:ops`).
    pub uri: Option<String>,
    /// A DNS subject alternative name: identities that are DNS names (`ops.example`).
    pub dns: Option<String>,
}

/// One `--address` of a node certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Ip(IpAddr),
    Dns(String),
}

/// Whether `name` is a DNS name a certificate may carry: labels of letters, digits and `-`
/// (not first or last), 1 to 63 bytes each, 253 in all, not all digits at the end (that would
/// read as an address).
pub fn is_dns_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let good_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    labels.iter().all(good_label)
        && !labels
            .last()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// The names of a client certificate for `identity`, or why it cannot be one.
pub fn client_names(identity: &str) -> Result<ClientNames, String> {
    if identity.is_empty() {
        return Err("the identity is empty".into());
    }
    if identity.len() > MAX_IDENTITY {
        return Err(format!(
            "the identity is {} bytes long; at most {MAX_IDENTITY}",
            identity.len()
        ));
    }
    if let Some(bad) = identity.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "the identity {identity:?} holds {bad:?}: only printable ASCII without spaces"
        ));
    }
    // Refused in any letter case: `principal_of` only takes the exact prefix for a node, but
    // an identity that looks like a node's to a reader of policies or logs is a trap.
    let lower = identity.to_ascii_lowercase();
    if lower.starts_with(NODE_URI_PREFIX) || node_id_of_uri(&lower).is_some() {
        return Err(format!(
            "the identity {identity:?} names a node ({NODE_URI_PREFIX}...); \
             node certificates are made with `ham cert node`"
        ));
    }
    let common_name = identity.to_string();
    if identity.contains(':') {
        return Ok(ClientNames {
            common_name,
            uri: Some(identity.to_string()),
            dns: None,
        });
    }
    let dns = is_dns_name(identity).then(|| identity.to_string());
    Ok(ClientNames {
        common_name,
        uri: None,
        dns,
    })
}

/// Parses one `--address` of a node: an IP address, else a DNS name.
pub fn parse_address(text: &str) -> Result<Address, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Address::Ip(ip));
    }
    // `[::1]` as people write IPv6 addresses with ports.
    if let Some(ip) = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<IpAddr>().ok())
    {
        return Ok(Address::Ip(ip));
    }
    if is_dns_name(text) {
        return Ok(Address::Dns(text.to_ascii_lowercase()));
    }
    Err(format!(
        "the address {text:?} is neither an IP address nor a DNS name"
    ))
}

/// A file name stem for `identity`: characters other than letters, digits, `.`, `-`, `_` and
/// `@` become `_` (an identity may hold `/`).
pub fn file_stem(identity: &str) -> String {
    identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (identity, common name, URI SAN, DNS SAN) or (identity, error fragment).
    #[test]
    fn p6_client_identities_become_the_names_certid_reads_back() {
        let good: &[(&str, Option<&str>, Option<&str>)] = &[
            ("ops@example", None, None),
            ("ops.example", None, Some("ops.example")),
            ("alice", None, Some("alice")),
            ("spiffe://ham/ops", Some("spiffe://ham/ops"), None),
            ("urn:example:ops", Some("urn:example:ops"), None),
            ("10.0.0.1", None, None),
            ("a_b", None, None),
        ];
        for (id, uri, dns) in good {
            let n = client_names(id).unwrap();
            assert_eq!(n.common_name, *id);
            assert_eq!(n.uri.as_deref(), *uri, "{id}");
            assert_eq!(n.dns.as_deref(), *dns, "{id}");
        }
        let bad: &[(&str, &str)] = &[
            ("urn:ham:node:1", "names a node"),
            ("URN:HAM:NODE:2", "names a node"),
            ("urn:ham:node:", "names a node"),
            ("urn:ham:node:x", "names a node"),
            ("", "empty"),
            ("two words", "printable ASCII"),
            ("tab\there", "printable ASCII"),
            ("élan", "printable ASCII"),
        ];
        for (id, why) in bad {
            let e = client_names(id).unwrap_err();
            assert!(e.contains(why), "{id}: {e}");
        }
        assert!(
            client_names(&"a".repeat(254))
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn p6_node_addresses_are_ips_or_dns_names() {
        assert_eq!(
            parse_address("127.0.0.1"),
            Ok(Address::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            parse_address("[::1]"),
            Ok(Address::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            parse_address("Node1.Example"),
            Ok(Address::Dns("node1.example".into()))
        );
        for bad in ["", "a b", "-x.example", "x..y", "10.0.0.300", "h:1", "a/b"] {
            assert!(parse_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn p6_file_stems_keep_safe_characters_only() {
        assert_eq!(file_stem("ops@example"), "ops@example");
        assert_eq!(file_stem("spiffe://ham/ops"), "spiffe___ham_ops");
        assert_eq!(file_stem("../x"), ".._x");
    }
}
