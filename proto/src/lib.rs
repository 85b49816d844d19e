//! The HAM wire protocols and their generated Rust code.
//!
//! - [`ham::v1`]: the public gRPC API (`service Ham`), one RPC per `ham_*`
//!   call of the QNX HAM; see `ham/v1/ham.proto` for the documentation of each
//!   call and its errors.
//! - [`ham::raft::v1`]: the node-to-node transport of the Raft group
//!   (`service RaftTransport`).
//!
//! - [`google::rpc`]: `google.rpc.Status`, the rich error model's envelope
//!   of the status details.
//!
//! The values the API shares (errno, flag bits, control commands, condition
//! and action types) are enums of `ham.v1` and the constants of crate
//! `ham-vocab`; `tests/vocab.rs` checks that they agree.
//!
//! Both the client (`ham_client::v1::ham_client::HamClient`) and the server
//! (`ham::v1::ham_server::HamServer`) sides are generated.
//!
//! ```
//! use ham_proto::ham::v1::{NodeRef, node_ref};
//! let node = NodeRef { node: Some(node_ref::Node::Name("*".into())) };
//! assert!(matches!(node.node, Some(node_ref::Node::Name(_))));
//! ```
#![forbid(unsafe_code)]

/// All generated packages, nested as in the `.proto` package names.
pub mod ham {
    /// Package `ham.v1`: the public HAM API.
    pub mod v1 {
        #![allow(clippy::all, missing_docs, missing_debug_implementations)]
        tonic::include_proto!("ham.v1");
    }
    /// Package `ham.raft`.
    pub mod raft {
        /// Package `ham.raft.v1`: node-to-node Raft transport.
        pub mod v1 {
            #![allow(clippy::all, missing_docs, missing_debug_implementations)]
            tonic::include_proto!("ham.raft.v1");
        }
    }
}

/// Package `google.rpc`: the `Status` of gRPC's rich error model, which
/// `grpc-status-details-bin` holds (HAM-CONTRACT M2).
pub mod google {
    /// Package `google.rpc`.
    pub mod rpc {
        #![allow(clippy::all, missing_docs, missing_debug_implementations)]
        tonic::include_proto!("google.rpc");
    }
}

/// The encoded `FileDescriptorSet` of both packages (with imports and source
/// info), for gRPC server reflection or dynamic clients.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ham_descriptor.bin"));

/// The status details of gRPC's rich error model (HAM-CONTRACT M2):
/// `grpc-status-details-bin` holds a `google.rpc.Status` whose `details`
/// carry one [`ham::v1::ErrorDetail`] packed in a `google.protobuf.Any`.
///
/// ```
/// use ham_proto::{details, ham::v1::ErrorDetail};
/// let detail = ErrorDetail { errno_name: "ENOENT".into(), code: 2 };
/// let bytes = details::encode(5, "no entity named x", &detail);
/// assert_eq!(details::decode(&bytes), Some(detail));
/// ```
pub mod details {
    use crate::google::rpc::Status;
    use crate::ham::v1::ErrorDetail;
    use prost::Message as _;

    /// The `type_url` of a packed `ErrorDetail`.
    pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/ham.v1.ErrorDetail";

    /// The bytes of `grpc-status-details-bin` for a status of gRPC code
    /// `code` (its number) and `message` (the same as the status message:
    /// the standard helpers check both) carrying `detail`.
    pub fn encode(code: i32, message: &str, detail: &ErrorDetail) -> Vec<u8> {
        Status {
            code,
            message: message.to_owned(),
            details: vec![prost_types::Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_owned(),
                value: detail.encode_to_vec(),
            }],
        }
        .encode_to_vec()
    }

    /// The `ErrorDetail` of status details bytes, if they are a
    /// `google.rpc.Status` holding one.
    pub fn decode(bytes: &[u8]) -> Option<ErrorDetail> {
        let status = Status::decode(bytes).ok()?;
        status
            .details
            .iter()
            .find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)
            .and_then(|any| ErrorDetail::decode(any.value.as_slice()).ok())
    }
}
