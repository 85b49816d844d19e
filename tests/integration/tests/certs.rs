//! Certificates and node identity (HAM-CONTRACT P5, P6, and P1's TLS client side): `ham cert`
//! makes a CA, node and client certificates; a real TLS cluster on 127.0.0.x takes node-to-node
//! calls only from the node a certificate names, never from a client certificate, and refuses
//! expired, not-yet-valid and foreign certificates with a log line saying which; the README's
//! secure cluster runs as written.

#[path = "certs/fixture.rs"]
mod fixture;

#[path = "certs/tool.rs"]
mod tool;

#[path = "certs/identity.rs"]
mod identity;

#[path = "certs/refusals.rs"]
mod refusals;

#[path = "certs/readme.rs"]
mod readme;
