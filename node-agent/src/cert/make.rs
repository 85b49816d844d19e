//! Making certificates with rcgen: the cluster CA, node and client certificates (ECDSA P-256).

use super::names::{Address, ClientNames};
use super::{CertError, Result};
use crate::net::certid::NODE_URI_PREFIX;
use crate::net::tls::PEER_NAME;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject as _;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Certificates start this long before they are made: another machine's clock a little behind
/// ours must not find a fresh certificate "not yet valid".
const BACKDATE: Duration = Duration::hours(1);

/// A certificate and its private key, both PEM.
pub struct Made {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Made {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Made")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The CA of a cluster, read back from its files to sign with.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

fn rcgen_error(what: &str, e: rcgen::Error) -> CertError {
    CertError::Invalid(format!("cannot make the {what}: {e}"))
}

/// Validity from an hour ago to `days` days from `now`.
fn validity(params: &mut CertificateParams, now: OffsetDateTime, days: u32) {
    params.not_before = now - BACKDATE;
    params.not_after = now + Duration::days(i64::from(days));
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ia5(what: &str, s: &str) -> Result<rcgen::string::Ia5String> {
    s.try_into()
        .map_err(|e| CertError::Invalid(format!("{what} {s:?} cannot go in a certificate: {e}")))
}

/// A self-signed CA named `common_name`, valid `days` from `now`, that signs end-entity
/// certificates only (path length 0).
pub fn ca(common_name: &str, now: OffsetDateTime, days: u32) -> Result<Made> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, now, days);
    let key = KeyPair::generate().map_err(|e| rcgen_error("CA key", e))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| rcgen_error("CA certificate", e))?;
    Ok(Made {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

impl Ca {
    /// The CA from its certificate and key (PEM); `what` names the files in errors. Refuses a
    /// certificate that is not a CA and a key that is not the certificate's.
    pub fn from_pem(cert_pem: &str, key_pem: &str, what: &str) -> Result<Ca> {
        let bad = |why: String| CertError::Invalid(format!("{what}: {why}"));
        let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| bad(format!("the CA certificate is not PEM: {e}")))?;
        let (_, parsed) = X509Certificate::from_der(&der)
            .map_err(|e| bad(format!("the CA certificate cannot be parsed: {e}")))?;
        if !parsed.is_ca() {
            return Err(bad(
                "the certificate is not a CA (no basicConstraints CA:TRUE)".into(),
            ));
        }
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| bad(format!("the CA key is not a usable PEM key: {e}")))?;
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(bad("the CA key does not go with the CA certificate".into()));
        }
        let issuer = Issuer::from_ca_cert_der(&der, key)
            .map_err(|e| bad(format!("the CA certificate is not usable: {e}")))?;
        Ok(Ca { issuer })
    }

    fn sign(&self, what: &str, params: CertificateParams) -> Result<Made> {
        let key = KeyPair::generate().map_err(|e| rcgen_error(what, e))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| rcgen_error(what, e))?;
        Ok(Made {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A node certificate: DNS SAN [`PEER_NAME`] (what every node verifies), URI SAN
    /// `urn:ham:node:<id>` (who it is, P5), the addresses, for server and client use.
    pub fn node(
        &self,
        id: u64,
        common_name: &str,
        addresses: &[Address],
        now: OffsetDateTime,
        days: u32,
    ) -> Result<Made> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.subject_alt_names = vec![
            SanType::DnsName(ia5("the name", PEER_NAME)?),
            SanType::URI(ia5("the node URI", &format!("{NODE_URI_PREFIX}{id}"))?),
        ];
        for a in addresses {
            params.subject_alt_names.push(match a {
                Address::Ip(ip) => SanType::IpAddress(*ip),
                Address::Dns(d) => SanType::DnsName(ia5("the address", d)?),
            });
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, now, days);
        self.sign("node certificate", params)
    }

    /// A client certificate with exactly these names, for client use only (it can never serve
    /// as a node: no `serverAuth`, no node URI).
    pub fn client(&self, names: &ClientNames, now: OffsetDateTime, days: u32) -> Result<Made> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&names.common_name);
        if let Some(uri) = &names.uri {
            params
                .subject_alt_names
                .push(SanType::URI(ia5("the identity", uri)?));
        }
        if let Some(dns) = &names.dns {
            params
                .subject_alt_names
                .push(SanType::DnsName(ia5("the identity", dns)?));
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, now, days);
        self.sign("client certificate", params)
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::client_names;
    use super::*;
    use crate::auth::caller::Principal;
    use crate::net::certid::principal_of;
    use rustls::pki_types::CertificateDer;

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn p6_node_and_client_certificates_name_who_they_are() {
        let made = ca("ham-ca", now(), 30).unwrap();
        let ca = Ca::from_pem(&made.cert_pem, &made.key_pem, "ca").unwrap();
        let node = ca
            .node(
                3,
                "node-3",
                &[Address::Ip("127.0.0.3".parse().unwrap())],
                now(),
                10,
            )
            .unwrap();
        assert_eq!(
            principal_of(&der(&node.cert_pem)),
            Ok(Principal::Node { id: 3 })
        );
        for id in ["ops@example", "ops.example", "spiffe://ham/ops"] {
            let c = ca.client(&client_names(id).unwrap(), now(), 10).unwrap();
            assert_eq!(
                principal_of(&der(&c.cert_pem)),
                Ok(Principal::Client {
                    identity: id.into()
                }),
                "{id}"
            );
        }
    }

    #[test]
    fn p6_a_ca_is_refused_with_a_foreign_key_or_when_it_is_no_ca() {
        let one = ca("one", now(), 30).unwrap();
        let two = ca("two", now(), 30).unwrap();
        let e = Ca::from_pem(&one.cert_pem, &two.key_pem, "dir").unwrap_err();
        assert!(e.to_string().contains("does not go with"), "{e}");
        let ca1 = Ca::from_pem(&one.cert_pem, &one.key_pem, "dir").unwrap();
        let leaf = ca1.client(&client_names("x").unwrap(), now(), 1).unwrap();
        let e = Ca::from_pem(&leaf.cert_pem, &leaf.key_pem, "dir").unwrap_err();
        assert!(e.to_string().contains("not a CA"), "{e}");
        let e = Ca::from_pem("garbage", &one.key_pem, "dir").unwrap_err();
        assert!(e.to_string().contains("not PEM"), "{e}");
    }
}
