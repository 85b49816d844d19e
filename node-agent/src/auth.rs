//! Access control (HAM-CONTRACT P1–P4, P7, P8): who a caller is, what it may do.
//!
//! `caller` is the identity every call carries, whatever edge it came through.

// Not yet read by the edges: the access-control change that follows wires it in.
#[allow(dead_code)]
pub mod caller;
