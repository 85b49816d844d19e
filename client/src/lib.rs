//! Rust client of the cluster-wide High Availability Manager (HAM).
//!
//! One async method per `ham_*` call of the QNX HAM API, on a cloneable
//! [`Ham`] connection. Every call may address any node of the cluster
//! (a [`NodeSel`] or a handle that names its node); errors are [`HamError`]s
//! carrying the errno the HAM answered with.
//!
//! ```no_run
//! use ham_client::{ConditionType, Ham, NodeSel, flags};
//!
//! # async fn run() -> Result<(), ham_client::HamError> {
//! // The local HAM: $HAM_SOCKET, /run/ham/ham.sock or http://127.0.0.1:4815.
//! let ham = Ham::connect_default().await?;
//! // Start inetd and restart it whenever it dies.
//! let inetd = ham
//!     .attach(NodeSel::Local, "inetd", -1, "/usr/sbin/inetd -d", 0)
//!     .await?;
//! let death = ham
//!     .condition(&inetd, ConditionType::Death, "death", flags::HREARMAFTERRESTART)
//!     .await?;
//! ham.action_restart(&death, "restart", "/usr/sbin/inetd -d", flags::HREARMAFTERRESTART)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! Connections can also be shared process-wide with reference counts
//! ([`ham_connect`] / [`ham_disconnect`], HAM-CONTRACT X7).
#![forbid(unsafe_code)]

mod actions;
pub mod attach;
mod connection;
mod control;
mod error;
pub mod flags;
mod ham;
mod node;
mod retry;
mod shared;
mod stopping;
mod streams;
mod tls;

pub use actions::{Pulse, Signal};
pub use attach::{Attach, Output, ProcessOptions};
pub use connection::{ADDR_ENV, DEFAULT_ADDR, DEFAULT_SOCKET, HamAddress, SOCKET_ENV};
pub use error::{Errno, HamError, UNREACHABLE};
pub use ham::{Ham, HamResult, Heartbeat, Pacing};
pub use node::NodeSel;
pub use retry::{REQUEST_ID_METADATA, WriteRetry, new_request_id};
pub use shared::{
    ham_connect, ham_connect_to, ham_connection_count, ham_disconnect, ham_disconnect_from,
};
pub use stopping::{KillMode, StopPolicy};
pub use streams::{HeartbeatConnection, PulseChannel};
pub use tls::{SERVER_NAME, TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV, TlsFiles};

/// The generated `ham.v1` types, for fields this crate does not wrap.
pub use ham_proto::ham::v1 as proto;
pub use ham_proto::ham::v1::{
    ActionFailRef, ActionHandle, ConditionHandle, ConditionType, ControlCommand, EntityHandle,
    EntityKind, HamTree, HeartbeatState, NodeInfo, VerboseOp,
};
