//! Errors of the HAM API: an errno plus a sentence (HAM-CONTRACT M1).

//!
//! The errno values, their numbers and the errno <-> status code table are
//! the vocabulary's (`ham-vocab`); the details of a status are gRPC's rich
//! error model (`ham_proto::details`, HAM-CONTRACT M2).

use ham_proto::details;
use ham_proto::ham::v1::ErrorDetail;
use ham_vocab::ERRNO_METADATA_KEY;
use tonic::{Code, Status};

pub use ham_vocab::Errno;

/// The gRPC status code an errno travels with (HAM-CONTRACT M1): the
/// vocabulary's class of the errno, as a `tonic::Code`.
pub fn grpc_code(errno: Errno) -> Code {
    Code::from_i32(errno.status_class().grpc_code())
}

/// The errno assumed for a status that carries none (the vocabulary's errno
/// of the code's class; EIO for a code with none).
fn from_grpc_code(code: Code) -> Errno {
    Errno::from_grpc_code(code as i32)
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
            Errno::Ebadf | Errno::Econnreset | Errno::Epipe | Errno::Enotconn | Errno::Econnrefused
        )
    }

    /// The status a server would send for this error: the code of M1, the
    /// [`ErrorDetail`] in a `google.rpc.Status` as details and the `ham-errno` metadata.
    pub fn to_status(&self) -> Status {
        let detail = ErrorDetail {
            errno_name: self.errno.name().to_owned(),
            code: self.errno.code(),
        };
        let code = grpc_code(self.errno);
        let bytes = details::encode(code as i32, &self.message, &detail);
        let mut status = Status::with_details(code, self.message.clone(), bytes.into());
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
    /// `google.rpc.Status` of the details, then the `ham-errno` metadata, then the status code. A
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
                    Errno::Ebadf
                } else {
                    from_grpc_code(status.code())
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
        HamError::new(Errno::Ebadf, format!("{UNREACHABLE}: {message}"))
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
    let detail = details::decode(details)?;
    Errno::from_name(&detail.errno_name).or_else(|| {
        (detail.code != 0 && detail.errno_name.is_empty()).then(|| Errno::from_code(detail.code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    #[test]
    fn names_and_codes_round_trip() {
        for (errno, name, code, _) in ham_vocab::errno::ERRNOS {
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
            errno_name: "EHOSTUNREACH".into(),
            code: 113,
        };
        let mut status = Status::with_details(
            Code::NotFound,
            "no node named x",
            details::encode(Code::NotFound as i32, "no node named x", &detail).into(),
        );
        // Metadata disagreeing on purpose: details come first.
        status
            .metadata_mut()
            .insert(ERRNO_METADATA_KEY, MetadataValue::from_static("ENOENT"));
        let err = HamError::from(status);
        assert_eq!(err.errno, Errno::Ehostunreach);
        assert_eq!(err.message, "no node named x");
    }

    #[test]
    fn m1_detail_with_only_a_code() {
        let detail = ErrorDetail {
            errno_name: String::new(),
            code: 17,
        };
        let status = Status::with_details(
            Code::AlreadyExists,
            "dup",
            details::encode(6, "dup", &detail).into(),
        );
        assert_eq!(HamError::from(status).errno, Errno::Eexist);
    }

    #[test]
    fn m1_metadata_when_no_details() {
        let mut status = Status::new(Code::Unavailable, "no quorum");
        status
            .metadata_mut()
            .insert(ERRNO_METADATA_KEY, MetadataValue::from_static("EAGAIN"));
        let err = HamError::from(&status);
        assert_eq!(err.errno, Errno::Eagain);
        assert_eq!(err.message, "no quorum");
    }

    #[test]
    fn m2_a_bare_error_detail_is_not_the_rich_form() {
        use prost::Message as _;
        let detail = ErrorDetail {
            errno_name: "EEXIST".into(),
            code: 17,
        };
        assert_eq!(details::decode(&detail.encode_to_vec()), None);
    }

    #[test]
    fn m1_enospc_and_etimedout_keep_their_errno_and_class() {
        let s = HamError::new(Errno::Enospc, "full").to_status();
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert_eq!(HamError::from(s).errno, Errno::Enospc);
        let s = HamError::new(Errno::Etimedout, "unknown").to_status();
        assert_eq!(s.code(), Code::DeadlineExceeded);
        assert_eq!(HamError::from(s).errno, Errno::Etimedout);
    }

    #[test]
    fn m1_garbage_details_fall_back() {
        let status = Status::with_details(Code::AlreadyExists, "x", vec![0xff, 0xff, 0xff].into());
        assert_eq!(HamError::from(status).errno, Errno::Eexist);
    }

    #[test]
    fn m1_status_code_fallback() {
        let cases = [
            (Code::InvalidArgument, Errno::Einval),
            (Code::AlreadyExists, Errno::Eexist),
            (Code::NotFound, Errno::Enoent),
            (Code::Unavailable, Errno::Ebadf),
            (Code::ResourceExhausted, Errno::Enomem),
            (Code::PermissionDenied, Errno::Eperm),
            (Code::Unauthenticated, Errno::Eacces),
            (Code::Internal, Errno::Eio),
            (Code::Unknown, Errno::Eio),
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
        for errno in Errno::ALL {
            let err = HamError::new(errno, "sentence");
            let status = err.to_status();
            assert_eq!(status.code(), grpc_code(errno));
            assert_eq!(
                status.metadata().get(ERRNO_METADATA_KEY).unwrap(),
                errno.name()
            );
            assert_eq!(HamError::from(status), err);
        }
        let s = HamError::new(Errno::Einval, "bad").to_status();
        assert_eq!(s.code(), Code::InvalidArgument);
        let s = HamError::new(Errno::Eagain, "no quorum").to_status();
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
        assert_eq!(decoded.errno, Errno::Ebadf);
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
            Errno::Eio
        );
    }

    #[test]
    fn display_shows_errno_and_sentence() {
        let err = HamError::new(Errno::Enoent, "no entity named inetd");
        assert_eq!(err.to_string(), "ENOENT: no entity named inetd");
        assert!(HamError::new(Errno::Ebadf, "x").is_server_gone());
        assert!(!err.is_server_gone());
    }
}
