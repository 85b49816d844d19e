//! Node to node: everything that crosses to another node's `ham`.
//!
//! `cluster` reaches other nodes' services (addresses from the replicated
//! node table, channels from the transport); `peer` serves theirs
//! (`ham.raft.v1.Peer`: notifications and lease renewals); `leases` keeps
//! node liveness on the leader; `transport` carries Raft messages
//! (`ham.raft.v1.RaftTransport`); `tls` holds the mutual-TLS settings all of
//! them dial and serve with; `certid` reads who a certificate names, and
//! `sender` holds node-to-node calls to the node it names (P5).

pub mod certid;
pub mod cluster;
pub mod leases;
pub mod peer;
pub mod sender;
pub mod tls;
pub mod transport;
