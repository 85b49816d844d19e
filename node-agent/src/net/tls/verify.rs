//! Certificate verifiers that say why they refuse (HAM-CONTRACT P6): rustls' WebPKI verifiers,
//! wrapped so that every refused certificate gives one warning naming the reason (expired, not
//! yet valid, foreign) and the certificate's subject.
//!
//! The line is logged inside the handshake, so it carries the fields of the span the handshake
//! runs in: the remote address on the server side (`tls_handshake`), the peer link on the
//! client side (`peer`).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Why a certificate was refused, in the words of the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its validity ended.
    Expired,
    /// Its validity has not begun.
    NotYetValid,
    /// Not signed by this cluster's CA.
    Foreign,
    /// Valid, but not for this use (a client certificate presented by a server, a certificate
    /// without the peer name).
    WrongUse,
    /// Anything else rustls refuses, in its words.
    Other(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Expired => f.write_str("expired"),
            Refusal::NotYetValid => f.write_str("not yet valid"),
            Refusal::Foreign => f.write_str("foreign (not signed by this cluster's CA)"),
            Refusal::WrongUse => f.write_str("not valid for this use"),
            Refusal::Other(why) => f.write_str(why),
        }
    }
}

/// The reason behind a verifier's error.
pub fn refusal_of(error: &rustls::Error) -> Refusal {
    match error {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Refusal::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Refusal::NotYetValid
            }
            // A certificate of another CA that happens to carry the same issuer name fails on
            // the signature rather than on the issuer.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => Refusal::Foreign,
            CertificateError::NotValidForName
            | CertificateError::NotValidForNameContext { .. }
            | CertificateError::InvalidPurpose
            | CertificateError::InvalidPurposeContext { .. } => Refusal::WrongUse,
            other => Refusal::Other(format!("{other:?}")),
        },
        other => Refusal::Other(other.to_string()),
    }
}

/// The subject of a certificate, for the log line.
fn subject(der: &[u8]) -> String {
    X509Certificate::from_der(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "(unparseable)".into())
}

fn log_refusal(side: &'static str, end_entity: &CertificateDer<'_>, error: &rustls::Error) {
    let reason = refusal_of(error);
    tracing::warn!(
        certificate = side,
        subject = subject(end_entity),
        error = %error,
        "{side} certificate refused: {reason}"
    );
}

/// The signature checks both verifiers leave to rustls' own: only the certificate check is
/// wrapped, so the rest of each trait forwards to `self.inner`.
macro_rules! signatures_from_inner {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// The server side: verifies client certificates against the CA, logging refusals.
#[derive(Debug)]
pub struct LoggingClientVerifier {
    pub(super) inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for LoggingClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
            .inspect_err(|e| log_refusal("client", end_entity, e))
    }

    signatures_from_inner!();
}

/// The client side (a node dialling another): verifies the server's certificate against the
/// CA and the peer name, logging refusals.
#[derive(Debug)]
pub struct LoggingServerVerifier {
    pub(super) inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for LoggingServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .inspect_err(|e| log_refusal("server", end_entity, e))
    }

    signatures_from_inner!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p6_refusals_name_the_reason() {
        let cases = [
            (CertificateError::Expired, Refusal::Expired),
            (CertificateError::NotValidYet, Refusal::NotYetValid),
            (CertificateError::UnknownIssuer, Refusal::Foreign),
            (CertificateError::BadSignature, Refusal::Foreign),
            (CertificateError::InvalidPurpose, Refusal::WrongUse),
            (CertificateError::NotValidForName, Refusal::WrongUse),
        ];
        for (error, want) in cases {
            assert_eq!(
                refusal_of(&rustls::Error::InvalidCertificate(error.clone())),
                want,
                "{error:?}"
            );
        }
        assert_eq!(Refusal::Expired.to_string(), "expired");
        assert_eq!(Refusal::NotYetValid.to_string(), "not yet valid");
        assert!(Refusal::Foreign.to_string().starts_with("foreign"));
        assert!(matches!(
            refusal_of(&rustls::Error::InvalidCertificate(
                CertificateError::Revoked
            )),
            Refusal::Other(_)
        ));
    }
}
