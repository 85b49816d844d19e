//! Errors of the HAM model, named by the errno a QNX client would see.
//!
//! The errno values, their numbers and their status class (HAM-CONTRACT M1)
//! are the vocabulary's (`ham-vocab`); they are re-exported here so that
//! `ham_core::model::Errno` keeps working.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use ham_vocab::{Errno, StatusClass};

/// A refused request: the errno and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{errno}: {message}")]
pub struct HamError {
    /// What a client tests for (stored as its Linux number).
    #[serde(with = "errno_number")]
    pub errno: Errno,
    /// What a person reads.
    pub message: String,
}

impl HamError {
    /// Builds an error from an errno and a message.
    pub fn new(errno: Errno, message: impl Into<String>) -> Self {
        HamError {
            errno,
            message: message.into(),
        }
    }
}

/// Shorthand constructors, so that rules read as `Err(einval("..."))`.
pub fn einval(msg: impl Into<String>) -> HamError {
    HamError::new(Errno::Einval, msg)
}
/// `EEXIST` with a message.
pub fn eexist(msg: impl Into<String>) -> HamError {
    HamError::new(Errno::Eexist, msg)
}
/// `ENOENT` with a message.
pub fn enoent(msg: impl Into<String>) -> HamError {
    HamError::new(Errno::Enoent, msg)
}

/// An errno is stored (log entries, snapshots, recorded outcomes) as its
/// Linux number, which the vocabulary keeps stable.
mod errno_number {
    use super::*;

    pub fn serialize<S: Serializer>(errno: &Errno, s: S) -> std::result::Result<S::Ok, S::Error> {
        errno.code().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Errno, D::Error> {
        i32::deserialize(d).map(Errno::from_code)
    }
}

/// Result of a model operation.
pub type Result<T> = std::result::Result<T, HamError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m1_errno_names_round_trip_and_unknown_is_refused() {
        for e in Errno::ALL {
            assert_eq!(Errno::from_name(e.name()), Some(e));
        }
        assert_eq!(Errno::from_name("EWHATEVER"), None);
    }

    #[test]
    fn an_error_is_stored_with_its_errno_number() {
        for e in Errno::ALL {
            let err = HamError::new(e, "why");
            let bytes = postcard::to_allocvec(&err).unwrap();
            assert_eq!(postcard::from_bytes::<HamError>(&bytes).unwrap(), err);
        }
    }
}
