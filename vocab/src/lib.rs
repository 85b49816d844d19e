//! The HAM vocabulary, defined once (HAM-CONTRACT M1, M2, X2, K1, A1, N6).
//!
//! Every value a client and a server must agree on lives here and nowhere
//! else in Rust: errno names and numbers with their gRPC status class
//! ([`errno`]), the one class <-> gRPC code table ([`StatusClass`]), flag
//! bits and the masks of each kind of object ([`flags`]), control commands
//! ([`ControlCommand`]), condition types ([`ConditionType`]), action types
//! ([`ActionType`]), the cluster-wide node id and the metadata keys.
//!
//! The `.proto` (`proto/ham/v1/ham.proto`) carries the same values as enums
//! (`Errno`, `Flag`, `ControlCommand`, `ConditionType`, `ActionType`); a test
//! of `ham-proto` checks the generated enums against this crate, value by
//! value, both ways.
//!
//! The crate depends on nothing (no tonic, no serde): gRPC codes are their
//! numbers, and each edge converts (`tonic::Code::from_i32`).
//!
//! ```
//! use ham_vocab::{Errno, StatusClass};
//! assert_eq!(Errno::Enoent.code(), 2);
//! assert_eq!(Errno::Enoent.status_class(), StatusClass::NotFound);
//! assert_eq!(StatusClass::NotFound.grpc_code(), 5);
//! assert_eq!(Errno::from_grpc_code(5), Errno::Enoent);
//! ```
#![forbid(unsafe_code)]

pub mod errno;
pub mod flags;
mod kinds;

pub use errno::{Errno, StatusClass};
pub use kinds::{
    ActionType, ConditionType, ControlCommand, HADDFLAGS, HDISABLE, HENABLE, HGETFLAGS,
    HREMOVEFLAGS, HSETFLAGS,
};

/// Node id of the cluster-wide context (node name `*`, HAM-CONTRACT N4/N6).
pub const CLUSTER_NODE_ID: u64 = u64::MAX;

/// gRPC metadata key that repeats the errno name of a failed call (M1).
pub const ERRNO_METADATA_KEY: &str = "ham-errno";

/// gRPC metadata key of a write's client request id (1-64 printable ASCII
/// bytes; a write retried with the same id is applied at most once, M5).
pub const REQUEST_ID_METADATA_KEY: &str = "ham-request-id";
