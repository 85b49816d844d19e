//! Flag bits and the control commands that change them (HAM-CONTRACT X1, X2).
//!
//! The bits and the masks of each kind of object are the vocabulary's
//! (`ham_vocab::flags`, re-exported here); this module checks them and
//! decodes control commands.

use super::errno::{Result, einval};
use serde::{Deserialize, Serialize};

pub use ham_vocab::flags::*;

/// Refuses any bit of `flags` outside `allowed`.
pub fn check_flags(what: &str, flags: u32, allowed: u32) -> Result<()> {
    let extra = flags & !allowed;
    if extra != 0 {
        return Err(einval(format!("flags {extra:#x} are not valid on {what}")));
    }
    Ok(())
}

/// A control command (`ham_*_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlOp {
    /// Enable the object (and, with HRECURSE, everything below).
    Enable,
    /// Disable the object (and, with HRECURSE, everything below).
    Disable,
    /// OR the given flags in.
    AddFlags,
    /// Clear the given flags.
    RemoveFlags,
    /// Replace the flags.
    SetFlags,
    /// Read the flags.
    GetFlags,
}

impl ControlOp {
    /// Decodes the wire number (`ham_vocab::ControlCommand`); anything else is EINVAL.
    pub fn from_code(code: i32) -> Result<ControlOp> {
        use ham_vocab::ControlCommand as C;
        Ok(match C::from_code(code) {
            Some(C::Enable) => ControlOp::Enable,
            Some(C::Disable) => ControlOp::Disable,
            Some(C::AddFlags) => ControlOp::AddFlags,
            Some(C::RemoveFlags) => ControlOp::RemoveFlags,
            Some(C::SetFlags) => ControlOp::SetFlags,
            Some(C::GetFlags) => ControlOp::GetFlags,
            None => return Err(einval(format!("unknown control command {code}"))),
        })
    }

    /// The vocabulary's command (its wire number is `.code()`).
    pub fn command(self) -> ham_vocab::ControlCommand {
        use ham_vocab::ControlCommand as C;
        match self {
            ControlOp::Enable => C::Enable,
            ControlOp::Disable => C::Disable,
            ControlOp::AddFlags => C::AddFlags,
            ControlOp::RemoveFlags => C::RemoveFlags,
            ControlOp::SetFlags => C::SetFlags,
            ControlOp::GetFlags => C::GetFlags,
        }
    }

    /// The new flag word after this command, or None for enable/disable/get.
    pub fn new_flags(self, current: u32, given: u32) -> Option<u32> {
        self.command().new_flags(current, given)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::errno::Errno;

    #[test]
    fn x2_unknown_control_command_is_einval() {
        for code in [0, 7, -1, 100] {
            assert_eq!(ControlOp::from_code(code).unwrap_err().errno, Errno::Einval);
        }
        assert_eq!(ControlOp::from_code(6).unwrap(), ControlOp::GetFlags);
    }

    #[test]
    fn x2_flag_arithmetic() {
        let f = HREARMAFTERRESTART;
        assert_eq!(
            ControlOp::AddFlags.new_flags(f, HACTIONDONOW),
            Some(f | HACTIONDONOW)
        );
        assert_eq!(
            ControlOp::RemoveFlags.new_flags(f | HACTIONDONOW, f),
            Some(HACTIONDONOW)
        );
        assert_eq!(ControlOp::SetFlags.new_flags(f, 0), Some(0));
        assert_eq!(ControlOp::GetFlags.new_flags(f, 0), None);
        assert!(check_flags("an entity", HCONDNOWAIT, ENTITY_FLAGS).is_err());
        check_flags("an entity", HENTITYKEEPONDEATH, ENTITY_FLAGS).unwrap();
    }
}
