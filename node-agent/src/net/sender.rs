//! Who is calling the node-to-node services (HAM-CONTRACT P5): a node is taken only as the node
//! its certificate names, and a client certificate is never taken for a node.
//!
//! With TLS the listener demands a certificate signed by the cluster CA on every connection, so
//! a call without one came over plain text (`--insecure`), where callers are anonymous and
//! accepted as they always were; such a cluster trusts its network.

use crate::auth::caller::Principal;
use crate::net::certid::principal_of;
use crate::status::to_status;
use ham_core::model::{Errno, HamError};
use rustls::pki_types::CertificateDer;
use tonic::{Request, Status};

/// The caller of a node-to-node call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Over plain text: nothing is known of it.
    Anonymous,
    /// The node its certificate names.
    Node(u64),
}

/// Why a call was refused; becomes PERMISSION_DENIED (EACCES).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("a client certificate ({0}) may not call the node services")]
    Client(Principal),
    #[error("the certificate names no node: {0}")]
    NoNode(String),
    #[error("the certificate names node {named}, but the call claims to come from node {claimed}")]
    OtherNode { named: u64, claimed: u64 },
}

impl Refused {
    /// The status the caller gets.
    pub fn status(&self) -> Status {
        to_status(HamError::new(Errno::Eacces, self.to_string()))
    }
}

/// The sender, from the certificates its connection presented (end entity first).
pub fn sender_of(certs: Option<&[CertificateDer<'_>]>) -> Result<Sender, Refused> {
    let Some(certs) = certs else {
        return Ok(Sender::Anonymous);
    };
    let Some(leaf) = certs.first() else {
        return Err(Refused::NoNode("no certificate".into()));
    };
    match principal_of(leaf) {
        Ok(Principal::Node { id }) => Ok(Sender::Node(id)),
        Ok(other) => Err(Refused::Client(other)),
        Err(e) => Err(Refused::NoNode(e.to_string())),
    }
}

/// Whether `sender` may speak as node `claimed`.
pub fn may_claim(sender: Sender, claimed: u64) -> Result<(), Refused> {
    match sender {
        Sender::Anonymous => Ok(()),
        Sender::Node(named) if named == claimed => Ok(()),
        Sender::Node(named) => Err(Refused::OtherNode { named, claimed }),
    }
}

/// The remote address of `request`, for log lines.
pub fn remote_of<T>(request: &Request<T>) -> String {
    request
        .remote_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// The sender of `request`; a refusal is logged (with the service and the remote address).
pub fn sender_of_request<T>(request: &Request<T>, service: &'static str) -> Result<Sender, Status> {
    let certs = request.peer_certs();
    sender_of(certs.as_deref().map(Vec::as_slice))
        .map_err(|refused| refuse(service, &remote_of(request), &refused))
}

/// Checks that `request`'s sender may speak as node `claimed`; a refusal is logged.
pub fn check_request<T>(
    request: &Request<T>,
    service: &'static str,
    claimed: u64,
) -> Result<(), Status> {
    let sender = sender_of_request(request, service)?;
    may_claim(sender, claimed).map_err(|refused| refuse(service, &remote_of(request), &refused))
}

/// Logs the one line of a refusal and returns the caller's status.
pub fn refuse(service: &'static str, remote: &str, refused: &Refused) -> Status {
    tracing::warn!(service, remote, "node service call refused: {refused}");
    refused.status()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};

    fn cert(sans: Vec<SanType>) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "x");
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
    }

    #[test]
    fn p5_senders_are_the_node_their_certificate_names() {
        assert_eq!(sender_of(None), Ok(Sender::Anonymous));
        let node2 = [cert(vec![uri("urn:ham:node:2")])];
        assert_eq!(sender_of(Some(&node2)), Ok(Sender::Node(2)));
        let client = [cert(vec![uri("spiffe://ham/ops")])];
        assert_eq!(
            sender_of(Some(&client)),
            Err(Refused::Client(Principal::Client {
                identity: "spiffe://ham/ops".into()
            }))
        );
        let bad = [cert(vec![uri("urn:ham:node:0")])];
        assert!(matches!(sender_of(Some(&bad)), Err(Refused::NoNode(_))));
        assert!(matches!(sender_of(Some(&[])), Err(Refused::NoNode(_))));
    }

    #[test]
    fn p5_a_node_speaks_only_as_itself() {
        assert_eq!(may_claim(Sender::Anonymous, 7), Ok(()));
        assert_eq!(may_claim(Sender::Node(2), 2), Ok(()));
        let e = may_claim(Sender::Node(2), 3).unwrap_err();
        assert_eq!(
            e,
            Refused::OtherNode {
                named: 2,
                claimed: 3
            }
        );
        assert!(e.to_string().contains("names node 2") && e.to_string().contains("node 3"));
        let st = e.status();
        assert_eq!(st.code(), tonic::Code::PermissionDenied);
        assert_eq!(
            st.metadata().get(crate::status::ERRNO_METADATA).unwrap(),
            "EACCES"
        );
    }
}
