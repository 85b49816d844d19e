//! Errno values, their Linux numbers and their gRPC status class (HAM-CONTRACT M1).

use std::fmt;

/// The errno values the HAM answers with, and those a client may meet on
/// its own (connection errors), with their Linux numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Errno {
    /// Operation not permitted.
    Eperm,
    /// No such entity, condition, action or action-fail, or a stale handle.
    Enoent,
    /// No such process.
    Esrch,
    /// An internal or storage failure (also: an unexpected answer).
    Eio,
    /// The HAM (or the node) cannot be reached now.
    Ebadf,
    /// The write was not committed and never will be (no quorum in time, or
    /// it was lost before it could commit); try again (M5).
    Eagain,
    /// Out of memory or over a quota.
    Enomem,
    /// Access denied.
    Eacces,
    /// Resource busy.
    Ebusy,
    /// An object of that name already exists.
    Eexist,
    /// An argument is invalid: a bad name, flag, command line or combination.
    Einval,
    /// No space left on the device: the write was refused before it was proposed (M4).
    Enospc,
    /// Broken pipe.
    Epipe,
    /// A name or a path is too long.
    Enametoolong,
    /// Function not implemented.
    Enosys,
    /// Connection reset.
    Econnreset,
    /// Not connected.
    Enotconn,
    /// The outcome of the write is unknown: it was handed to Raft but not
    /// applied on the serving node in time, and may still commit. Retry it
    /// with the same client request id to learn its outcome (M5).
    Etimedout,
    /// Connection refused.
    Econnrefused,
    /// No node of that name or id.
    Ehostunreach,
    /// Operation canceled.
    Ecanceled,
    /// An errno this vocabulary does not name (its Linux number).
    Other(i32),
}

/// The class of gRPC status a failed call travels with: one per gRPC code
/// but OK. [`StatusClass::grpc_code`] is the one class <-> code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// `CANCELLED` (1)
    Cancelled,
    /// `UNKNOWN` (2)
    Unknown,
    /// `INVALID_ARGUMENT` (3)
    InvalidArgument,
    /// `DEADLINE_EXCEEDED` (4)
    DeadlineExceeded,
    /// `NOT_FOUND` (5)
    NotFound,
    /// `ALREADY_EXISTS` (6)
    AlreadyExists,
    /// `PERMISSION_DENIED` (7)
    PermissionDenied,
    /// `RESOURCE_EXHAUSTED` (8)
    ResourceExhausted,
    /// `FAILED_PRECONDITION` (9)
    FailedPrecondition,
    /// `ABORTED` (10)
    Aborted,
    /// `OUT_OF_RANGE` (11)
    OutOfRange,
    /// `UNIMPLEMENTED` (12)
    Unimplemented,
    /// `INTERNAL` (13)
    Internal,
    /// `UNAVAILABLE` (14)
    Unavailable,
    /// `DATA_LOSS` (15)
    DataLoss,
    /// `UNAUTHENTICATED` (16)
    Unauthenticated,
}

/// The errno table: each errno once, with its name, its Linux number and its
/// status class (M1). ENOSPC and ETIMEDOUT are M4 and M5.
pub const ERRNOS: &[(Errno, &str, i32, StatusClass)] = {
    use Errno as E;
    use StatusClass as S;
    &[
        (E::Eperm, "EPERM", 1, S::PermissionDenied),
        (E::Enoent, "ENOENT", 2, S::NotFound),
        (E::Esrch, "ESRCH", 3, S::NotFound),
        (E::Eio, "EIO", 5, S::Internal),
        (E::Ebadf, "EBADF", 9, S::Unavailable),
        (E::Eagain, "EAGAIN", 11, S::Unavailable),
        (E::Enomem, "ENOMEM", 12, S::ResourceExhausted),
        (E::Eacces, "EACCES", 13, S::PermissionDenied),
        (E::Ebusy, "EBUSY", 16, S::Internal),
        (E::Eexist, "EEXIST", 17, S::AlreadyExists),
        (E::Einval, "EINVAL", 22, S::InvalidArgument),
        (E::Enospc, "ENOSPC", 28, S::ResourceExhausted),
        (E::Epipe, "EPIPE", 32, S::Internal),
        (E::Enametoolong, "ENAMETOOLONG", 36, S::InvalidArgument),
        (E::Enosys, "ENOSYS", 38, S::Unimplemented),
        (E::Econnreset, "ECONNRESET", 104, S::Internal),
        (E::Enotconn, "ENOTCONN", 107, S::Internal),
        (E::Etimedout, "ETIMEDOUT", 110, S::DeadlineExceeded),
        (E::Econnrefused, "ECONNREFUSED", 111, S::Internal),
        (E::Ehostunreach, "EHOSTUNREACH", 113, S::NotFound),
        (E::Ecanceled, "ECANCELED", 125, S::Cancelled),
    ]
};

/// The class table: each class once, with its gRPC code number and the errno
/// assumed when a status of that class carries none (the first errno of the
/// class in M1; for classes no errno maps to, the closest errno).
pub const CLASSES: &[(StatusClass, i32, Errno)] = {
    use Errno as E;
    use StatusClass as S;
    &[
        (S::Cancelled, 1, E::Ecanceled),
        (S::Unknown, 2, E::Eio),
        (S::InvalidArgument, 3, E::Einval),
        (S::DeadlineExceeded, 4, E::Etimedout),
        (S::NotFound, 5, E::Enoent),
        (S::AlreadyExists, 6, E::Eexist),
        (S::PermissionDenied, 7, E::Eperm),
        (S::ResourceExhausted, 8, E::Enomem),
        (S::FailedPrecondition, 9, E::Eio),
        (S::Aborted, 10, E::Eagain),
        (S::OutOfRange, 11, E::Einval),
        (S::Unimplemented, 12, E::Enosys),
        (S::Internal, 13, E::Eio),
        (S::Unavailable, 14, E::Ebadf),
        (S::DataLoss, 15, E::Eio),
        (S::Unauthenticated, 16, E::Eacces),
    ]
};

impl Errno {
    /// Every named errno, in number order.
    pub const ALL: [Errno; 21] = {
        let mut all = [Errno::Eio; 21];
        let mut i = 0;
        while i < ERRNOS.len() {
            all[i] = ERRNOS[i].0;
            i += 1;
        }
        all
    };

    fn row(self) -> Option<&'static (Errno, &'static str, i32, StatusClass)> {
        ERRNOS.iter().find(|row| row.0 == self)
    }

    /// The symbolic name, as carried in status details (`"EEXIST"`;
    /// `"EUNKNOWN"` for [`Errno::Other`]).
    pub fn name(self) -> &'static str {
        self.row().map_or("EUNKNOWN", |row| row.1)
    }

    /// The Linux errno number (17 for EEXIST).
    pub fn code(self) -> i32 {
        match self {
            Errno::Other(code) => code,
            _ => self.row().map_or(0, |row| row.2),
        }
    }

    /// Parses a symbolic name back (`"ENOENT"` -> `Enoent`).
    pub fn from_name(name: &str) -> Option<Errno> {
        ERRNOS.iter().find(|row| row.1 == name).map(|row| row.0)
    }

    /// Looks an errno up by its number ([`Errno::Other`] when unnamed).
    pub fn from_code(code: i32) -> Errno {
        ERRNOS
            .iter()
            .find(|row| row.2 == code)
            .map_or(Errno::Other(code), |row| row.0)
    }

    /// HAM-CONTRACT M1: the gRPC status class of this errno (INTERNAL for an
    /// unnamed one).
    pub fn status_class(self) -> StatusClass {
        self.row().map_or(StatusClass::Internal, |row| row.3)
    }

    /// The errno assumed for a status that carries none, from its gRPC code
    /// number (EIO for OK or an unknown code).
    pub fn from_grpc_code(code: i32) -> Errno {
        StatusClass::from_grpc_code(code).map_or(Errno::Eio, StatusClass::errno)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Errno::Other(code) => write!(f, "errno {code}"),
            _ => f.write_str(self.name()),
        }
    }
}

impl StatusClass {
    fn row(self) -> &'static (StatusClass, i32, Errno) {
        CLASSES
            .iter()
            .find(|row| row.0 == self)
            .expect("every class is in CLASSES")
    }

    /// The gRPC code number (`tonic::Code::from_i32` takes it).
    pub fn grpc_code(self) -> i32 {
        self.row().1
    }

    /// The class of a gRPC code number (None for OK and unknown numbers).
    pub fn from_grpc_code(code: i32) -> Option<StatusClass> {
        CLASSES.iter().find(|row| row.1 == code).map(|row| row.0)
    }

    /// The errno assumed for a status of this class that carries none.
    pub fn errno(self) -> Errno {
        self.row().2
    }
}

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
            (Errno::Eio, Internal),
        ];
        for (errno, class) in table {
            assert_eq!(errno.status_class(), class, "{errno}");
        }
        assert_eq!(Errno::Enospc.code(), 28);
        assert_eq!(Errno::Etimedout.code(), 110);
    }

    #[test]
    fn names_and_numbers_are_unique_and_round_trip() {
        for (i, (errno, name, code, _)) in ERRNOS.iter().enumerate() {
            assert_eq!(Errno::ALL[i], *errno);
            assert_eq!(errno.name(), *name);
            assert_eq!(errno.code(), *code);
            assert_eq!(Errno::from_name(name), Some(*errno));
            assert_eq!(Errno::from_code(*code), *errno);
            assert_eq!(ERRNOS.iter().filter(|r| r.1 == *name).count(), 1);
            assert_eq!(ERRNOS.iter().filter(|r| r.2 == *code).count(), 1);
        }
        assert_eq!(Errno::from_code(4242), Errno::Other(4242));
        assert_eq!(Errno::Other(4242).code(), 4242);
        assert_eq!(Errno::Other(4242).name(), "EUNKNOWN");
        assert_eq!(Errno::from_name("EWHATEVER"), None);
    }

    #[test]
    fn one_class_code_table_both_ways() {
        for (class, code, errno) in CLASSES {
            assert_eq!(class.grpc_code(), *code);
            assert_eq!(StatusClass::from_grpc_code(*code), Some(*class));
            assert_eq!(class.errno(), *errno);
        }
        assert_eq!(CLASSES.len(), 16);
        assert_eq!(StatusClass::from_grpc_code(0), None);
        assert_eq!(StatusClass::from_grpc_code(17), None);
        assert_eq!(Errno::from_grpc_code(0), Errno::Eio);
    }

    #[test]
    fn an_errnos_class_leads_back_to_an_errno_of_that_class() {
        for errno in Errno::ALL {
            let class = errno.status_class();
            assert_eq!(class.errno().status_class(), class, "{errno}");
        }
    }

    #[test]
    fn m1_status_code_fallback() {
        // The contract's M1 classes decide where the two former copies disagreed:
        // RESOURCE_EXHAUSTED is ENOMEM, FAILED_PRECONDITION (no errno's class) is EIO.
        let cases = [
            (3, Errno::Einval),
            (6, Errno::Eexist),
            (5, Errno::Enoent),
            (14, Errno::Ebadf),
            (8, Errno::Enomem),
            (7, Errno::Eperm),
            (16, Errno::Eacces),
            (4, Errno::Etimedout),
            (9, Errno::Eio),
            (13, Errno::Eio),
            (2, Errno::Eio),
        ];
        for (code, errno) in cases {
            assert_eq!(Errno::from_grpc_code(code), errno, "{code}");
        }
    }
}
