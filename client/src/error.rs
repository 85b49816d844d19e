//! Errors of the HAM API: an errno plus a sentence (HAM-CONTRACT M1).

use std::fmt;

use ham_proto::ERRNO_METADATA_KEY;
use ham_proto::ham::v1::ErrorDetail;
use prost::Message as _;
use tonic::{Code, Status};

/// The errno values the HAM API answers with, with their Linux numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Errno {
    /// Operation not permitted.
    EPERM,
    /// No such entity, condition, action or process.
    ENOENT,
    /// No such process.
    ESRCH,
    /// Input/output error (also: an unexpected server answer).
    EIO,
    /// No HAM reachable (bad connection).
    EBADF,
    /// No quorum for a write; try again.
    EAGAIN,
    /// Out of memory or over a quota.
    ENOMEM,
    /// Permission denied.
    EACCES,
    /// Resource busy.
    EBUSY,
    /// The name is already in use.
    EEXIST,
    /// Invalid argument.
    EINVAL,
    /// Broken pipe.
    EPIPE,
    /// A name or path is too long.
    ENAMETOOLONG,
    /// Function not implemented.
    ENOSYS,
    /// Connection reset.
    ECONNRESET,
    /// Not connected.
    ENOTCONN,
    /// Timed out.
    ETIMEDOUT,
    /// Connection refused.
    ECONNREFUSED,
    /// Unknown node.
    EHOSTUNREACH,
    /// Operation canceled.
    ECANCELED,
    /// An errno this client does not name (its Linux number).
    Other(i32),
}

/// Every named errno, for name and number look-ups.
const NAMED: &[(Errno, &str, i32)] = &[
    (Errno::EPERM, "EPERM", 1),
    (Errno::ENOENT, "ENOENT", 2),
    (Errno::ESRCH, "ESRCH", 3),
    (Errno::EIO, "EIO", 5),
    (Errno::EBADF, "EBADF", 9),
    (Errno::EAGAIN, "EAGAIN", 11),
    (Errno::ENOMEM, "ENOMEM", 12),
    (Errno::EACCES, "EACCES", 13),
    (Errno::EBUSY, "EBUSY", 16),
    (Errno::EEXIST, "EEXIST", 17),
    (Errno::EINVAL, "EINVAL", 22),
    (Errno::EPIPE, "EPIPE", 32),
    (Errno::ENAMETOOLONG, "ENAMETOOLONG", 36),
    (Errno::ENOSYS, "ENOSYS", 38),
    (Errno::ECONNRESET, "ECONNRESET", 104),
    (Errno::ENOTCONN, "ENOTCONN", 107),
    (Errno::ETIMEDOUT, "ETIMEDOUT", 110),
    (Errno::ECONNREFUSED, "ECONNREFUSED", 111),
    (Errno::EHOSTUNREACH, "EHOSTUNREACH", 113),
    (Errno::ECANCELED, "ECANCELED", 125),
];

impl Errno {
    /// The symbolic name, e.g. `"EEXIST"` (`"EUNKNOWN"` for [`Errno::Other`]).
    pub fn name(self) -> &'static str {
        NAMED
            .iter()
            .find(|(e, _, _)| *e == self)
            .map_or("EUNKNOWN", |(_, n, _)| n)
    }

    /// The Linux numeric value, e.g. 17 for EEXIST.
    pub fn code(self) -> i32 {
        match self {
            Errno::Other(code) => code,
            _ => NAMED
                .iter()
                .find(|(e, _, _)| *e == self)
                .map_or(0, |(_, _, c)| *c),
        }
    }

    /// Looks an errno up by its symbolic name.
    pub fn from_name(name: &str) -> Option<Errno> {
        NAMED
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(e, _, _)| *e)
    }

    /// Looks an errno up by its Linux number ([`Errno::Other`] when unnamed).
    pub fn from_code(code: i32) -> Errno {
        NAMED
            .iter()
            .find(|(_, _, c)| *c == code)
            .map_or(Errno::Other(code), |(e, _, _)| *e)
    }

    /// The gRPC status code this errno travels with (HAM-CONTRACT M1).
    pub fn grpc_code(self) -> Code {
        match self {
            Errno::EINVAL | Errno::ENAMETOOLONG => Code::InvalidArgument,
            Errno::EEXIST => Code::AlreadyExists,
            Errno::ENOENT | Errno::EHOSTUNREACH | Errno::ESRCH => Code::NotFound,
            Errno::EBADF | Errno::EAGAIN => Code::Unavailable,
            Errno::ENOMEM => Code::ResourceExhausted,
            Errno::EPERM | Errno::EACCES => Code::PermissionDenied,
            Errno::ETIMEDOUT => Code::DeadlineExceeded,
            Errno::ENOSYS => Code::Unimplemented,
            Errno::ECANCELED => Code::Cancelled,
            _ => Code::Internal,
        }
    }

    /// The errno assumed for a status that carries none.
    fn from_grpc_code(code: Code) -> Errno {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Errno::EINVAL,
            Code::AlreadyExists => Errno::EEXIST,
            Code::NotFound => Errno::ENOENT,
            Code::Unavailable => Errno::EBADF,
            Code::ResourceExhausted => Errno::ENOMEM,
            Code::PermissionDenied => Errno::EPERM,
            Code::Unauthenticated => Errno::EACCES,
            Code::DeadlineExceeded => Errno::ETIMEDOUT,
            Code::Unimplemented => Errno::ENOSYS,
            Code::Cancelled => Errno::ECANCELED,
            Code::Aborted => Errno::EAGAIN,
            _ => Errno::EIO,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Errno::Other(code) => write!(f, "errno {code}"),
            _ => f.write_str(self.name()),
        }
    }
}

/// A failed HAM call: the errno and a human-readable sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{errno}: {message}")]
pub struct HamError {
    /// What went wrong, as an errno.
    pub errno: Errno,
    /// A sentence for humans.
    pub message: String,
}

impl HamError {
    /// Builds an error from an errno and a sentence.
    pub fn new(errno: Errno, message: impl Into<String>) -> HamError {
        HamError {
            errno,
            message: message.into(),
        }
    }

    /// Whether the error means "the server is gone" (HAM-CONTRACT R2).
    pub fn is_server_gone(&self) -> bool {
        matches!(
            self.errno,
            Errno::EBADF | Errno::ECONNRESET | Errno::EPIPE | Errno::ENOTCONN | Errno::ECONNREFUSED
        )
    }

    /// The status a server would send for this error: the code of M1, the
    /// encoded [`ErrorDetail`] as details and the `ham-errno` metadata.
    pub fn to_status(&self) -> Status {
        let detail = ErrorDetail {
            errno: self.errno.name().to_owned(),
            code: self.errno.code(),
            message: self.message.clone(),
        };
        let mut status = Status::with_details(
            self.errno.grpc_code(),
            self.message.clone(),
            detail.encode_to_vec().into(),
        );
        if let Ok(value) = self.errno.name().parse() {
            status.metadata_mut().insert(ERRNO_METADATA_KEY, value);
        }
        status
    }
}

impl From<Status> for HamError {
    fn from(status: Status) -> HamError {
        HamError::from(&status)
    }
}

impl From<&Status> for HamError {
    /// Decodes the errno of a status: first the [`ErrorDetail`] in the
    /// details, then the `ham-errno` metadata, then the status code. A
    /// status made by the transport (the HAM went away or cannot be reached)
    /// is EBADF, whatever its code.
    fn from(status: &Status) -> HamError {
        let transport = from_transport(status);
        let errno = errno_from_details(status.details())
            .or_else(|| {
                status
                    .metadata()
                    .get(ERRNO_METADATA_KEY)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Errno::from_name)
            })
            .unwrap_or_else(|| {
                if transport {
                    Errno::EBADF
                } else {
                    Errno::from_grpc_code(status.code())
                }
            });
        let mut message = if status.message().is_empty() {
            format!("{:?}", status.code())
        } else {
            status.message().to_owned()
        };
        if transport {
            // "transport error" alone does not say what happened: add the causes.
            let mut source = std::error::Error::source(status);
            while let Some(s) = source {
                let text = s.to_string();
                if !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = s.source();
            }
            message = format!("{UNREACHABLE}: {message}");
        }
        HamError { errno, message }
    }
}

impl From<tonic::transport::Error> for HamError {
    /// A transport failure (the HAM cannot be reached) is EBADF.
    fn from(err: tonic::transport::Error) -> HamError {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        HamError::new(Errno::EBADF, format!("{UNREACHABLE}: {message}"))
    }
}

/// How the message of an error that never reached a HAM begins.
pub const UNREACHABLE: &str = "cannot reach the HAM";

/// Whether a status was made by the transport rather than by a HAM: it
/// carries no errno at all, and it is UNAVAILABLE (no connection could be
/// made) or caused by a transport error (for example UNKNOWN "transport
/// error" when the HAM closed a connection under a call).
fn from_transport(status: &Status) -> bool {
    status.details().is_empty()
        && status.metadata().get(ERRNO_METADATA_KEY).is_none()
        && (status.code() == Code::Unavailable || caused_by_transport(status))
}

fn caused_by_transport(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(s) = source {
        if s.is::<tonic::transport::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn errno_from_details(details: &[u8]) -> Option<Errno> {
    if details.is_empty() {
        return None;
    }
    let detail = ErrorDetail::decode(details).ok()?;
    Errno::from_name(&detail.errno).or_else(|| {
        (detail.code != 0 && detail.errno.is_empty()).then(|| Errno::from_code(detail.code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn names_and_codes_round_trip() {
        for (errno, name, code) in NAMED {
            assert_eq!(errno.name(), *name);
            assert_eq!(errno.code(), *code);
            assert_eq!(Errno::from_name(name), Some(*errno));
            assert_eq!(Errno::from_code(*code), *errno);
        }
        assert_eq!(Errno::from_code(4242), Errno::Other(4242));
        assert_eq!(Errno::Other(4242).code(), 4242);
        assert_eq!(Errno::Other(4242).name(), "EUNKNOWN");
        assert_eq!(Errno::from_name("ENOPE"), None);
    }

    #[test]
    fn m1_error_detail_in_details_wins() {
        let detail = ErrorDetail {
            errno: "EHOSTUNREACH".into(),
            code: 113,
            message: "no node named x".into(),
        };
        let mut status = Status::with_details(
            Code::NotFound,
            "no node named x",
            detail.encode_to_vec().into(),
        );
        // Metadata disagreeing on purpose: details come first.
        status
            .metadata_mut()
            .insert(ERRNO_METADATA_KEY, MetadataValue::from_static("ENOENT"));
        let err = HamError::from(status);
        assert_eq!(err.errno, Errno::EHOSTUNREACH);
        assert_eq!(err.message, "no node named x");
    }

    #[test]
    fn m1_detail_with_only_a_code() {
        let detail = ErrorDetail {
            errno: String::new(),
            code: 17,
            message: String::new(),
        };
        let status =
            Status::with_details(Code::AlreadyExists, "dup", detail.encode_to_vec().into());
        assert_eq!(HamError::from(status).errno, Errno::EEXIST);
    }

    #[test]
    fn m1_metadata_when_no_details() {
        let mut status = Status::new(Code::Unavailable, "no quorum");
        status
            .metadata_mut()
            .insert(ERRNO_METADATA_KEY, MetadataValue::from_static("EAGAIN"));
        let err = HamError::from(&status);
        assert_eq!(err.errno, Errno::EAGAIN);
        assert_eq!(err.message, "no quorum");
    }

    #[test]
    fn m1_garbage_details_fall_back() {
        let status = Status::with_details(Code::AlreadyExists, "x", vec![0xff, 0xff, 0xff].into());
        assert_eq!(HamError::from(status).errno, Errno::EEXIST);
    }

    #[test]
    fn m1_status_code_fallback() {
        let cases = [
            (Code::InvalidArgument, Errno::EINVAL),
            (Code::AlreadyExists, Errno::EEXIST),
            (Code::NotFound, Errno::ENOENT),
            (Code::Unavailable, Errno::EBADF),
            (Code::ResourceExhausted, Errno::ENOMEM),
            (Code::PermissionDenied, Errno::EPERM),
            (Code::Unauthenticated, Errno::EACCES),
            (Code::Internal, Errno::EIO),
            (Code::Unknown, Errno::EIO),
        ];
        for (code, errno) in cases {
            assert_eq!(
                HamError::from(Status::new(code, "m")).errno,
                errno,
                "{code:?}"
            );
        }
        assert_eq!(
            HamError::from(Status::new(Code::NotFound, "")).message,
            "NotFound"
        );
    }

    #[test]
    fn m1_to_status_round_trips() {
        for (errno, _, _) in NAMED {
            let err = HamError::new(*errno, "sentence");
            let status = err.to_status();
            assert_eq!(status.code(), errno.grpc_code());
            assert_eq!(
                status.metadata().get(ERRNO_METADATA_KEY).unwrap(),
                errno.name()
            );
            assert_eq!(HamError::from(status), err);
        }
        let s = HamError::new(Errno::EINVAL, "bad").to_status();
        assert_eq!(s.code(), Code::InvalidArgument);
        let s = HamError::new(Errno::EAGAIN, "no quorum").to_status();
        assert_eq!(s.code(), Code::Unavailable);
    }

    #[tokio::test]
    async fn m1_transport_failures_are_ebadf_whatever_the_code() {
        // Nothing listens on port 1 of the loopback address.
        let err = tonic::transport::Endpoint::from_static("http://127.0.0.1:1")
            .connect()
            .await
            .unwrap_err();
        // What tonic answers for a call on a connection the HAM closed.
        let mut status = Status::new(Code::Unknown, "transport error");
        status.set_source(std::sync::Arc::new(err));
        let decoded = HamError::from(&status);
        assert_eq!(decoded.errno, Errno::EBADF);
        assert!(decoded.is_server_gone());
        assert!(
            decoded
                .message
                .starts_with(&format!("{UNREACHABLE}: transport error: ")),
            "{}",
            decoded.message
        );
        // An UNKNOWN made by a HAM stays what it is.
        assert_eq!(
            HamError::from(Status::new(Code::Unknown, "m")).errno,
            Errno::EIO
        );
    }

    #[test]
    fn display_shows_errno_and_sentence() {
        let err = HamError::new(Errno::ENOENT, "no entity named inetd");
        assert_eq!(err.to_string(), "ENOENT: no entity named inetd");
        assert!(HamError::new(Errno::EBADF, "x").is_server_gone());
        assert!(!err.is_server_gone());
    }
}
