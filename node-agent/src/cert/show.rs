//! `ham cert show`: what a certificate says, and what `ham` reads from it.

use crate::auth::caller::Principal;
use crate::net::certid::principal_of;
use std::fmt::Write as _;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{ASN1Time, FromDer as _, X509Certificate};

/// Whether a certificate is valid at a time, and if not, which way it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    NotYetValid,
    Expired,
}

/// Where `at` (seconds since the epoch) falls in `[not_before, not_after]`.
pub fn validity_at(not_before: i64, not_after: i64, at: i64) -> Validity {
    if at < not_before {
        Validity::NotYetValid
    } else if at > not_after {
        Validity::Expired
    } else {
        Validity::Valid
    }
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::RFC822Name(m) => format!("email:{m}"),
        GeneralName::IPAddress(b) => match b.len() {
            4 => format!(
                "IP:{}",
                std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*b).unwrap_or_default())
            ),
            16 => format!(
                "IP:{}",
                std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*b).unwrap_or_default())
            ),
            _ => format!("IP:{b:02x?}"),
        },
        other => format!("{other}"),
    }
}

fn principal_line(der: &[u8]) -> String {
    match principal_of(der) {
        Ok(Principal::Node { id }) => format!("node {id}"),
        Ok(Principal::Client { identity }) => format!("client {identity:?}"),
        Ok(other) => other.to_string(),
        Err(e) => format!("none: {e}"),
    }
}

/// A description of the certificate `der`, one `field: value` per line, judged valid or not at
/// `now` (seconds since the epoch).
pub fn describe(der: &[u8], now: i64) -> Result<String, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let mut out = String::new();
    let v = cert.validity();
    let (from, until) = (v.not_before.timestamp(), v.not_after.timestamp());
    let judged = match validity_at(from, until, now) {
        Validity::Valid => "yes".to_string(),
        Validity::NotYetValid => format!("no: not yet valid (starts {})", v.not_before),
        Validity::Expired => format!("no: expired (ended {})", v.not_after),
    };
    let sans = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .map(general_name)
            .collect::<Vec<_>>()
            .join(", "),
        Ok(None) => "none".into(),
        Err(e) => format!("unreadable: {e}"),
    };
    let eku = match cert.extended_key_usage() {
        Ok(Some(e)) => {
            let e = e.value;
            let mut names = Vec::new();
            for (on, name) in [
                (e.any, "any"),
                (e.server_auth, "serverAuth"),
                (e.client_auth, "clientAuth"),
                (e.code_signing, "codeSigning"),
                (e.email_protection, "emailProtection"),
                (e.time_stamping, "timeStamping"),
                (e.ocsp_signing, "OCSPSigning"),
            ] {
                if on {
                    names.push(name.to_string());
                }
            }
            names.extend(e.other.iter().map(|o| o.to_id_string()));
            names.join(", ")
        }
        Ok(None) => "none (any use)".into(),
        Err(e) => format!("unreadable: {e}"),
    };
    let ca = match cert.basic_constraints() {
        Ok(Some(bc)) if bc.value.ca => match bc.value.path_len_constraint {
            Some(n) => format!("yes (path length {n})"),
            None => "yes".into(),
        },
        _ => "no".into(),
    };
    let rows = [
        ("subject", cert.subject().to_string()),
        ("issuer", cert.issuer().to_string()),
        ("serial", cert.raw_serial_as_string()),
        ("not before", v.not_before.to_string()),
        ("not after", v.not_after.to_string()),
        ("valid now", judged),
        ("names", sans),
        ("extended key usage", eku),
        ("ca", ca),
        ("principal", principal_line(der)),
    ];
    for (k, val) in rows {
        let _ = writeln!(out, "{:<21} {val}", format!("{k}:"));
    }
    Ok(out)
}

/// Now, in seconds since the epoch (the wall clock: validity is a wall-clock matter).
pub fn now() -> i64 {
    ASN1Time::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p6_validity_is_judged_both_ways() {
        assert_eq!(validity_at(10, 20, 9), Validity::NotYetValid);
        assert_eq!(validity_at(10, 20, 10), Validity::Valid);
        assert_eq!(validity_at(10, 20, 20), Validity::Valid);
        assert_eq!(validity_at(10, 20, 21), Validity::Expired);
    }
}
