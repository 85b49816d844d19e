//! `hamctrl` against a running `ham`: the guide's fs-nfs2 tree, the tree
//! view and the file of every action kind, filters and the global entity,
//! every write verb and control output, refusals with their errno and exit
//! codes, the QNX verbosity forms, the stop forms, node ids and names,
//! `attach --restart`, and reaching (or not) the HAM.
//!
//! Commands are written as shell lines: words split on white space, `'...'`
//! groups words (see [`fixture::words`]). One test target, one file per
//! feature; `fixture` holds what they share.

#[path = "hamctrl/fixture.rs"]
mod fixture;

#[path = "hamctrl/attach.rs"]
mod attach;
#[path = "hamctrl/control.rs"]
mod control;
#[path = "hamctrl/errors.rs"]
mod errors;
#[path = "hamctrl/tree.rs"]
mod tree;
#[path = "hamctrl/verbs.rs"]
mod verbs;
