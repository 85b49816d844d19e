//! Flag bits and the control commands that change them (HAM-CONTRACT X1, X2).
//!
//! All flags share one bit space (docs/vocabulary.md) so that a flag given to
//! the wrong kind of object is caught, never silently reinterpreted.

use super::errno::{Result, einval};
use serde::{Deserialize, Serialize};

/// Conditions and actions kept across a restart of their entity.
pub const HREARMAFTERRESTART: u32 = 0x0000_0001;
/// An entity that dies and is not restarted is kept, not removed.
pub const HENTITYKEEPONDEATH: u32 = 0x0000_0010;
/// The condition runs on the shared no-wait executor and may hold no waitfor.
pub const HCONDNOWAIT: u32 = 0x0000_0100;
/// The condition runs on an executor of its own.
pub const HCONDINDEPENDENT: u32 = 0x0000_0200;
/// The STATE condition's `from` filter is a bitmap of states.
pub const HCONDSTATEFROMSET: u32 = 0x0000_0400;
/// The STATE condition's `to` filter is a bitmap of states.
pub const HCONDSTATETOSET: u32 = 0x0000_0800;
/// The STATE condition's `from` set is inverted.
pub const HCONDSTATEFROMINV: u32 = 0x0000_1000;
/// The STATE condition's `to` set is inverted.
pub const HCONDSTATETOINV: u32 = 0x0000_2000;
/// An execute action also runs once when it is added.
pub const HACTIONDONOW: u32 = 0x0001_0000;
/// When this action fails, the rest of its condition's actions do not run.
pub const HACTIONBREAKONFAIL: u32 = 0x0002_0000;
/// A failed action is kept (by default it is removed).
pub const HACTIONKEEPONFAIL: u32 = 0x0004_0000;
/// An execute action waits for its command to exit and fails on a non-zero exit.
pub const HACTIONWAIT: u32 = 0x0008_0000;
/// A control command applies to every object below the target too.
pub const HRECURSE: u32 = 0x0100_0000;

/// Flags an entity may carry.
pub const ENTITY_FLAGS: u32 = HENTITYKEEPONDEATH;
/// Flags a condition may carry (the STATE bits only on STATE conditions).
pub const CONDITION_FLAGS: u32 = HREARMAFTERRESTART | HCONDNOWAIT | HCONDINDEPENDENT;
/// Flags only a STATE condition may carry.
pub const STATE_CONDITION_FLAGS: u32 =
    HCONDSTATEFROMSET | HCONDSTATETOSET | HCONDSTATEFROMINV | HCONDSTATETOINV;
/// Flags an action may carry (HACTIONWAIT only on execute actions).
pub const ACTION_FLAGS: u32 =
    HREARMAFTERRESTART | HACTIONDONOW | HACTIONBREAKONFAIL | HACTIONKEEPONFAIL;

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
    /// Decodes the wire number (ENABLE = 1 ... GETFLAGS = 6); anything else is EINVAL.
    pub fn from_code(code: i32) -> Result<ControlOp> {
        Ok(match code {
            1 => ControlOp::Enable,
            2 => ControlOp::Disable,
            3 => ControlOp::AddFlags,
            4 => ControlOp::RemoveFlags,
            5 => ControlOp::SetFlags,
            6 => ControlOp::GetFlags,
            _ => return Err(einval(format!("unknown control command {code}"))),
        })
    }

    /// The new flag word after this command, or None for enable/disable/get.
    pub fn new_flags(self, current: u32, given: u32) -> Option<u32> {
        match self {
            ControlOp::AddFlags => Some(current | given),
            ControlOp::RemoveFlags => Some(current & !given),
            ControlOp::SetFlags => Some(given),
            ControlOp::Enable | ControlOp::Disable | ControlOp::GetFlags => None,
        }
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
