//! Errors of the HAM model, named by the errno a QNX client would see.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The errno values the HAM answers with (HAM-CONTRACT M1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Errno {
    /// An argument is invalid: a bad name, flag, command line or combination.
    Einval,
    /// A name or a path is too long.
    Enametoolong,
    /// An object of that name already exists.
    Eexist,
    /// No such entity, condition, action or action-fail, or a stale handle.
    Enoent,
    /// No node of that name or id.
    Ehostunreach,
    /// The HAM (or the node) cannot be reached now.
    Ebadf,
    /// The write was not committed and never will be (no quorum in time, or it was lost
    /// before it could commit); try again (HAM-CONTRACT M5).
    Eagain,
    /// The outcome of the write is unknown: it was handed to Raft but not applied on the
    /// serving node in time, and may still commit. Retry it with the same client request id
    /// to learn its outcome (HAM-CONTRACT M5).
    Etimedout,
    /// Out of memory or over a quota.
    Enomem,
    /// No space left on the device: the write was refused before it was proposed.
    Enospc,
    /// Not permitted.
    Eperm,
    /// Access denied.
    Eacces,
    /// An internal or storage failure.
    Eio,
}

/// The class of gRPC status an errno maps to; the API edge turns it into a
/// `tonic::Code` one for one (the M1 table lives here so that it is tested
/// with the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// `INVALID_ARGUMENT`
    InvalidArgument,
    /// `ALREADY_EXISTS`
    AlreadyExists,
    /// `NOT_FOUND`
    NotFound,
    /// `UNAVAILABLE`
    Unavailable,
    /// `DEADLINE_EXCEEDED`
    DeadlineExceeded,
    /// `RESOURCE_EXHAUSTED`
    ResourceExhausted,
    /// `PERMISSION_DENIED`
    PermissionDenied,
    /// `INTERNAL`
    Internal,
}

impl Errno {
    /// Every errno, for tables and tests.
    pub const ALL: [Errno; 13] = [
        Errno::Einval,
        Errno::Enametoolong,
        Errno::Eexist,
        Errno::Enoent,
        Errno::Ehostunreach,
        Errno::Ebadf,
        Errno::Eagain,
        Errno::Etimedout,
        Errno::Enomem,
        Errno::Enospc,
        Errno::Eperm,
        Errno::Eacces,
        Errno::Eio,
    ];

    /// The symbolic name, as carried in status details (`"EEXIST"`).
    pub fn name(self) -> &'static str {
        match self {
            Errno::Einval => "EINVAL",
            Errno::Enametoolong => "ENAMETOOLONG",
            Errno::Eexist => "EEXIST",
            Errno::Enoent => "ENOENT",
            Errno::Ehostunreach => "EHOSTUNREACH",
            Errno::Ebadf => "EBADF",
            Errno::Eagain => "EAGAIN",
            Errno::Etimedout => "ETIMEDOUT",
            Errno::Enomem => "ENOMEM",
            Errno::Enospc => "ENOSPC",
            Errno::Eperm => "EPERM",
            Errno::Eacces => "EACCES",
            Errno::Eio => "EIO",
        }
    }

    /// The Linux errno number.
    pub fn code(self) -> i32 {
        match self {
            Errno::Einval => 22,
            Errno::Enametoolong => 36,
            Errno::Eexist => 17,
            Errno::Enoent => 2,
            Errno::Ehostunreach => 113,
            Errno::Ebadf => 9,
            Errno::Eagain => 11,
            Errno::Etimedout => 110,
            Errno::Enomem => 12,
            Errno::Enospc => 28,
            Errno::Eperm => 1,
            Errno::Eacces => 13,
            Errno::Eio => 5,
        }
    }

    /// Parses a symbolic name back (`"ENOENT"` -> `Enoent`).
    pub fn from_name(name: &str) -> Option<Errno> {
        Errno::ALL.into_iter().find(|e| e.name() == name)
    }

    /// HAM-CONTRACT M1: the gRPC status class of this errno.
    pub fn status_class(self) -> StatusClass {
        match self {
            Errno::Einval | Errno::Enametoolong => StatusClass::InvalidArgument,
            Errno::Eexist => StatusClass::AlreadyExists,
            Errno::Enoent | Errno::Ehostunreach => StatusClass::NotFound,
            Errno::Ebadf | Errno::Eagain => StatusClass::Unavailable,
            Errno::Etimedout => StatusClass::DeadlineExceeded,
            Errno::Enomem | Errno::Enospc => StatusClass::ResourceExhausted,
            Errno::Eperm | Errno::Eacces => StatusClass::PermissionDenied,
            Errno::Eio => StatusClass::Internal,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A refused request: the errno and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{errno}: {message}")]
pub struct HamError {
    /// What a client tests for.
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

/// Result of a model operation.
pub type Result<T> = std::result::Result<T, HamError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m1_errno_to_status_table() {
        use StatusClass::*;
        let table = [
            (Errno::Einval, InvalidArgument),
            (Errno::Enametoolong, InvalidArgument),
            (Errno::Eexist, AlreadyExists),
            (Errno::Enoent, NotFound),
            (Errno::Ehostunreach, NotFound),
            (Errno::Ebadf, Unavailable),
            (Errno::Eagain, Unavailable),
            (Errno::Etimedout, DeadlineExceeded),
            (Errno::Enomem, ResourceExhausted),
            (Errno::Enospc, ResourceExhausted),
            (Errno::Eperm, PermissionDenied),
            (Errno::Eacces, PermissionDenied),
        ];
        for (errno, class) in table {
            assert_eq!(errno.status_class(), class, "{errno}");
        }
    }

    #[test]
    fn m1_errno_names_round_trip_and_unknown_is_refused() {
        for e in Errno::ALL {
            assert_eq!(Errno::from_name(e.name()), Some(e));
        }
        assert_eq!(Errno::from_name("EWHATEVER"), None);
    }
}
