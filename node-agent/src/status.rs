//! Model errors as gRPC status and back, at every edge of this daemon: the
//! answers of the API and of the Peer service, and the answers of other
//! nodes (HAM-CONTRACT M1, M2).
//!
//! The one errno -> status class -> gRPC code table is the vocabulary's
//! (`ham_vocab::Errno::status_class`, `ham_vocab::StatusClass::grpc_code`);
//! this module only turns its numbers into `tonic::Code`. The details follow
//! gRPC's rich error model (a `google.rpc.Status` holding the `ErrorDetail`
//! in an `Any`, `ham_proto::details`) and the errno name is repeated in the
//! `ham-errno` metadata.

use ham_core::model::{Errno, HamError};
use ham_proto::details;
use ham_proto::ham::v1::ErrorDetail;
use ham_vocab::StatusClass;
use tonic::{Code, Status};

/// Metadata key that repeats the errno name, for clients that skip details.
pub const ERRNO_METADATA: &str = ham_vocab::ERRNO_METADATA_KEY;

fn code(class: StatusClass) -> Code {
    Code::from_i32(class.grpc_code())
}

/// A gRPC status carrying the errno in its details and metadata.
pub fn to_status(err: HamError) -> Status {
    let class = err.errno.status_class();
    let detail = ErrorDetail {
        errno_name: err.errno.name().to_string(),
        code: err.errno.code(),
    };
    let bytes = details::encode(class.grpc_code(), &err.message, &detail);
    let mut status = Status::with_details(code(class), err.message, bytes.into());
    if let Ok(v) = err.errno.name().parse() {
        status.metadata_mut().insert(ERRNO_METADATA, v);
    }
    status
}

/// The errno of a status answered by another node (its details carry it);
/// a call that never reached the node (UNAVAILABLE, or UNKNOWN made by the
/// transport, with no errno) is EBADF (N6: known but unreachable); any other
/// status without an errno gets the errno of its class.
pub fn from_status(status: Status, node: u64) -> HamError {
    if let Some(d) = details::decode(status.details())
        && let Some(errno) = Errno::from_name(&d.errno_name)
    {
        return HamError::new(errno, status.message());
    }
    let errno = match status.code() {
        Code::Unknown => Errno::Ebadf,
        other => Errno::from_grpc_code(other as i32),
    };
    HamError::new(errno, format!("node {node}: {}", status.message()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::replica_error;
    use ham_core::replica::ReplicaError;

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
            let detail = details::decode(st.details()).unwrap();
            assert_eq!(
                (detail.errno_name.as_str(), detail.code),
                (errno.name(), errno.code())
            );
            assert_eq!(st.metadata().get(ERRNO_METADATA).unwrap(), errno.name());
        }
    }

    #[test]
    fn m2_details_are_a_google_rpc_status_with_the_detail_in_an_any() {
        use ham_proto::google::rpc::Status as RpcStatus;
        use prost::Message as _;
        let st = to_status(HamError::new(Errno::Enoent, "no entity named x"));
        let rpc = RpcStatus::decode(st.details()).unwrap();
        assert_eq!(rpc.code, Code::NotFound as i32);
        assert_eq!(rpc.message, "no entity named x");
        assert_eq!(rpc.details.len(), 1);
        assert_eq!(
            rpc.details[0].type_url,
            "type.googleapis.com/ham.v1.ErrorDetail"
        );
        let detail = ErrorDetail::decode(rpc.details[0].value.as_slice()).unwrap();
        assert_eq!((detail.errno_name.as_str(), detail.code), ("ENOENT", 2));
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
        assert_eq!(details::decode(st.details()).unwrap().errno_name, "ENOSPC");
    }

    #[test]
    fn m5_an_unknown_outcome_is_deadline_exceeded_with_etimedout() {
        let st = to_status(replica_error(ReplicaError::OutcomeUnknown));
        assert_eq!(st.code(), Code::DeadlineExceeded);
        assert_eq!(
            details::decode(st.details()).unwrap().errno_name,
            "ETIMEDOUT"
        );
        assert_eq!(from_status(st, 2).errno, Errno::Etimedout);
    }

    #[test]
    fn m1_no_quorum_is_unavailable_with_eagain() {
        let st = to_status(replica_error(ReplicaError::NoQuorum));
        assert_eq!(st.code(), Code::Unavailable);
        assert_eq!(details::decode(st.details()).unwrap().errno_name, "EAGAIN");
    }
}
