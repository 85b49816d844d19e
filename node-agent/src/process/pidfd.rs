//! Waiting for the exit of a process that is not our child, with a pidfd
//! (no polling).

use super::asyncfd::{self, Owned};
use std::io;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

/// Whether the process of pidfd `fd` has not exited yet (polls it once,
/// without waiting: a pidfd polls readable once its process has exited).
pub fn running(fd: BorrowedFd<'_>) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd we pass, which lives
    // on this stack frame for the whole call; a zero timeout never blocks.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    !(rc > 0 && pfd.revents & libc::POLLIN != 0)
}

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

    /// Sends `signal` to this very process, never to a later one that reuses
    /// its pid (ESRCH once it has exited).
    pub fn send_signal(&self, signal: i32) -> io::Result<()> {
        let fd = self.0.get_ref().as_raw_fd();
        // SAFETY: pidfd_send_signal takes a pidfd we own (open for the whole
        // call), a signal number, a null siginfo (the kernel fills in one as
        // for kill(2)) and flags; it writes no memory of ours.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Whether the process has exited already (polls the pidfd once, without waiting).
    pub fn has_exited(&self) -> bool {
        !running(self.0.get_ref().0.as_fd())
    }

    /// Resolves when the process has exited (the pidfd polls readable).
    pub async fn exited(&self) -> io::Result<()> {
        // Readiness is never cleared: once the process is gone it stays gone.
        let _guard = self.0.readable().await?;
        Ok(())
    }
}
