//! Timing bounds measured alone (HAM-CONTRACT H3). Cargo runs the tests of one target in
//! parallel and the targets one after the other: in a target of their own, these bounds are
//! not measured while the other suites' daemons and programs load the machine.

// Shared with the supervision suite; this target uses only part of it.
#[allow(dead_code, unused_imports)]
#[path = "supervision/fixture.rs"]
mod fixture;

#[path = "timing/h3.rs"]
mod h3;
