//! What a certificate says its holder is (HAM-CONTRACT P1, P5).
//!
//! The chain has already been verified against the cluster CA by rustls when this runs; here we
//! only read names out of the end-entity certificate:
//! - a **node** certificate carries the URI subject alternative name `urn:ham:node:<id>`
//!   ([`NODE_URI_PREFIX`]); it is the only way to be taken for a node, so a client certificate
//!   (which `ham cert` never gives such a name) is never a node;
//! - any other certificate is a **client**, named by its first URI SAN, else its first DNS SAN,
//!   else its subject's common name. That string is what the policy's certificate identities
//!   match.

use crate::auth::caller::Principal;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// The URI SAN prefix of node certificates; the node id follows in decimal.
pub const NODE_URI_PREFIX: &str = "urn:ham:node:";

/// Why a certificate names no usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertIdError {
    #[error("the certificate cannot be parsed: {0}")]
    Unparseable(String),
    #[error("the certificate names node {0:?}, which is not a node id (1 to 2^64-2)")]
    BadNodeId(String),
    #[error("the certificate names two nodes, {0} and {1}")]
    TwoNodes(u64, u64),
    #[error("the certificate names nobody: no URI or DNS subject alternative name, no common name")]
    NoName,
}

/// The node id named by a `urn:ham:node:<id>` URI, if `uri` is one.
pub fn node_id_of_uri(uri: &str) -> Option<Result<u64, CertIdError>> {
    let rest = uri.strip_prefix(NODE_URI_PREFIX)?;
    let id = rest
        .parse::<u64>()
        .ok()
        .filter(|id| *id != 0 && *id != u64::MAX);
    Some(id.ok_or_else(|| CertIdError::BadNodeId(rest.to_string())))
}

/// The principal an end-entity certificate (DER) names.
pub fn principal_of(der: &[u8]) -> Result<Principal, CertIdError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| CertIdError::Unparseable(e.to_string()))?;
    let mut uris = Vec::new();
    let mut dns = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(u) => uris.push(*u),
                GeneralName::DNSName(d) => dns.push(*d),
                _ => {}
            }
        }
    }
    let mut node = None;
    for uri in &uris {
        if let Some(id) = node_id_of_uri(uri) {
            let id = id?;
            match node {
                Some(first) if first != id => return Err(CertIdError::TwoNodes(first, id)),
                _ => node = Some(id),
            }
        }
    }
    if let Some(id) = node {
        return Ok(Principal::Node { id });
    }
    let identity = uris
        .first()
        .or(dns.first())
        .map(|s| s.to_string())
        .or_else(|| {
            cert.subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .ok_or(CertIdError::NoName)?;
    Ok(Principal::Client { identity })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn cert(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        if let Some(cn) = cn {
            dn.push(DnType::CommonName, cn);
        }
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
    }

    fn dns(s: &str) -> SanType {
        SanType::DnsName(s.try_into().unwrap())
    }

    #[test]
    fn p5_a_node_certificate_names_its_node_id() {
        let der = cert(Some("node2"), vec![dns("ham"), uri("urn:ham:node:2")]);
        assert_eq!(principal_of(&der), Ok(Principal::Node { id: 2 }));
    }

    #[test]
    fn p5_a_certificate_without_the_node_uri_is_a_client_whatever_its_names() {
        // CN and DNS name as a node's would be: still a client.
        let der = cert(Some("node2"), vec![dns("ham")]);
        assert_eq!(
            principal_of(&der),
            Ok(Principal::Client {
                identity: "ham".into()
            })
        );
    }

    #[test]
    fn p1_client_identity_is_the_uri_then_the_dns_name_then_the_common_name() {
        let all = cert(Some("cn"), vec![dns("d.example"), uri("spiffe://ham/ops")]);
        assert_eq!(
            principal_of(&all),
            Ok(Principal::Client {
                identity: "spiffe://ham/ops".into()
            })
        );
        let dns_only = cert(Some("cn"), vec![dns("d.example")]);
        assert_eq!(
            principal_of(&dns_only),
            Ok(Principal::Client {
                identity: "d.example".into()
            })
        );
        let cn_only = cert(Some("alice"), vec![]);
        assert_eq!(
            principal_of(&cn_only),
            Ok(Principal::Client {
                identity: "alice".into()
            })
        );
        assert_eq!(principal_of(&cert(None, vec![])), Err(CertIdError::NoName));
    }

    #[test]
    fn p5_bad_or_conflicting_node_names_are_refused() {
        for bad in [
            "urn:ham:node:0",
            "urn:ham:node:x",
            "urn:ham:node:",
            "urn:ham:node:-1",
        ] {
            let der = cert(None, vec![uri(bad)]);
            assert!(
                matches!(principal_of(&der), Err(CertIdError::BadNodeId(_))),
                "{bad}"
            );
        }
        let two = cert(None, vec![uri("urn:ham:node:1"), uri("urn:ham:node:2")]);
        assert_eq!(principal_of(&two), Err(CertIdError::TwoNodes(1, 2)));
        assert!(matches!(
            principal_of(b"not a certificate"),
            Err(CertIdError::Unparseable(_))
        ));
    }
}
