//! The one table that maps model errors to gRPC status (HAM-CONTRACT M1).

use ham_core::model::{Errno, HamError, StatusClass};
use ham_core::replica::ReplicaError;
use ham_proto::ham::v1::ErrorDetail;
use prost::Message;
use tonic::{Code, Status};

/// Metadata key that repeats the errno name, for clients that skip details.
pub const ERRNO_METADATA: &str = "ham-errno";

fn code(class: StatusClass) -> Code {
    match class {
        StatusClass::InvalidArgument => Code::InvalidArgument,
        StatusClass::AlreadyExists => Code::AlreadyExists,
        StatusClass::NotFound => Code::NotFound,
        StatusClass::Unavailable => Code::Unavailable,
        StatusClass::DeadlineExceeded => Code::DeadlineExceeded,
        StatusClass::ResourceExhausted => Code::ResourceExhausted,
        StatusClass::PermissionDenied => Code::PermissionDenied,
        StatusClass::Internal => Code::Internal,
    }
}

/// A gRPC status carrying the errno in its details and metadata.
pub fn to_status(err: HamError) -> Status {
    let detail = ErrorDetail {
        errno: err.errno.name().to_string(),
        code: err.errno.code(),
        message: err.message.clone(),
    };
    let mut status = Status::with_details(
        code(err.errno.status_class()),
        err.message,
        detail.encode_to_vec().into(),
    );
    if let Ok(v) = err.errno.name().parse() {
        status.metadata_mut().insert(ERRNO_METADATA, v);
    }
    status
}

/// The errno of a status answered by another node (its details carry it);
/// a call that never reached the node is EBADF (N6: known but unreachable).
pub fn from_status(status: Status, node: u64) -> HamError {
    if let Ok(d) = ErrorDetail::decode(status.details())
        && let Some(errno) = Errno::from_name(&d.errno)
    {
        return HamError::new(errno, d.message);
    }
    let errno = match status.code() {
        Code::NotFound => Errno::Enoent,
        Code::InvalidArgument => Errno::Einval,
        Code::AlreadyExists => Errno::Eexist,
        Code::FailedPrecondition => Errno::Eagain,
        Code::DeadlineExceeded => Errno::Etimedout,
        Code::PermissionDenied => Errno::Eperm,
        Code::Internal => Errno::Eio,
        _ => Errno::Ebadf,
    };
    HamError::new(errno, format!("node {node}: {}", status.message()))
}

/// Replication failures, as the errno a client sees.
pub fn replica_error(err: ReplicaError) -> HamError {
    match err {
        ReplicaError::NoQuorum => HamError::new(
            Errno::Eagain,
            "the write was not committed and will not be (no quorum in time); try again",
        ),
        ReplicaError::OutcomeUnknown => HamError::new(
            Errno::Etimedout,
            "the write was proposed but not committed in time and may still commit; \
             retry it with the same request id to learn its outcome",
        ),
        ReplicaError::Stopped => HamError::new(Errno::Ebadf, "this HAM is stopping"),
        ReplicaError::NoSpace(m) => HamError::new(
            Errno::Enospc,
            format!("the disk of this HAM is full; the write was not committed: {m}"),
        ),
        other => HamError::new(Errno::Eio, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m1_status_carries_code_errno_detail_and_metadata() {
        let cases = [
            (Errno::Einval, Code::InvalidArgument),
            (Errno::Enametoolong, Code::InvalidArgument),
            (Errno::Eexist, Code::AlreadyExists),
            (Errno::Enoent, Code::NotFound),
            (Errno::Ehostunreach, Code::NotFound),
            (Errno::Ebadf, Code::Unavailable),
            (Errno::Eagain, Code::Unavailable),
            (Errno::Etimedout, Code::DeadlineExceeded),
            (Errno::Enomem, Code::ResourceExhausted),
            (Errno::Enospc, Code::ResourceExhausted),
            (Errno::Eperm, Code::PermissionDenied),
            (Errno::Eacces, Code::PermissionDenied),
        ];
        for (errno, want) in cases {
            let st = to_status(HamError::new(errno, "why"));
            assert_eq!(st.code(), want, "{errno}");
            let detail = ErrorDetail::decode(st.details()).unwrap();
            assert_eq!(
                (detail.errno.as_str(), detail.code),
                (errno.name(), errno.code())
            );
            assert_eq!(st.metadata().get(ERRNO_METADATA).unwrap(), errno.name());
        }
    }

    #[test]
    fn m1_errno_survives_a_hop_between_nodes() {
        for errno in Errno::ALL {
            let back = from_status(to_status(HamError::new(errno, "why")), 2);
            assert_eq!(back.errno, errno);
        }
        let refused = from_status(Status::unavailable("connection refused"), 2);
        assert_eq!(refused.errno, Errno::Ebadf);
    }

    #[test]
    fn m4_a_full_disk_is_resource_exhausted_with_enospc() {
        let st = to_status(replica_error(ReplicaError::NoSpace("full".into())));
        assert_eq!(st.code(), Code::ResourceExhausted);
        assert_eq!(ErrorDetail::decode(st.details()).unwrap().errno, "ENOSPC");
    }

    #[test]
    fn m5_an_unknown_outcome_is_deadline_exceeded_with_etimedout() {
        let st = to_status(replica_error(ReplicaError::OutcomeUnknown));
        assert_eq!(st.code(), Code::DeadlineExceeded);
        assert_eq!(
            ErrorDetail::decode(st.details()).unwrap().errno,
            "ETIMEDOUT"
        );
        assert_eq!(from_status(st, 2).errno, Errno::Etimedout);
    }

    #[test]
    fn m1_no_quorum_is_unavailable_with_eagain() {
        let st = to_status(replica_error(ReplicaError::NoQuorum));
        assert_eq!(st.code(), Code::Unavailable);
        assert_eq!(ErrorDetail::decode(st.details()).unwrap().errno, "EAGAIN");
    }
}
