//! The HAM wire protocols and their generated Rust code.
//!
//! - [`ham::v1`]: the public gRPC API (`service Ham`), one RPC per `ham_*`
//!   call of the QNX HAM; see `ham/v1/ham.proto` for the documentation of each
//!   call and its errors.
//! - [`ham::raft::v1`]: the node-to-node transport of the Raft group
//!   (`service RaftTransport`).
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

/// The encoded `FileDescriptorSet` of both packages (with imports and source
/// info), for gRPC server reflection or dynamic clients.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ham_descriptor.bin"));

/// Metadata key that carries the errno name of a failed call (HAM-CONTRACT M1).
pub const ERRNO_METADATA_KEY: &str = "ham-errno";

/// Node id of the cluster-wide context (node name `*`).
pub const CLUSTER_NODE_ID: u64 = u64::MAX;
