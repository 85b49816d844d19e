//! Waiting for the exit of a process that is not our child, with a pidfd
//! (no polling).

use super::asyncfd::{self, Owned};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

/// An open pidfd: stays valid for this very process even if its pid is reused.
#[derive(Debug)]
pub struct PidFd(AsyncFd<Owned<OwnedFd>>);

impl PidFd {
    /// Opens a pidfd for `pid` (ESRCH if it does not exist).
    pub fn open(pid: u32) -> io::Result<PidFd> {
        let pid =
            libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new file
        // descriptor or -1; it reads and writes no memory of ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: `fd` was just returned by the kernel, is open, and nothing else owns it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(PidFd(asyncfd::register(owned)?))
    }

    /// Resolves when the process has exited (the pidfd polls readable).
    pub async fn exited(&self) -> io::Result<()> {
        // Readiness is never cleared: once the process is gone it stays gone.
        let _guard = self.0.readable().await?;
        Ok(())
    }
}
