//! Sending signals: queued signals with a value (notify_signal), and signals
//! to whole process groups.

use std::io;

fn pid_t(pid: i64) -> io::Result<libc::pid_t> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(io::Error::from_raw_os_error(libc::ESRCH)),
    }
}

/// `sigqueue(pid, signum, value)`: the receiver sees `si_code == SI_QUEUE`
/// and `value` in `si_value` (HAM-CONTRACT A8).
pub fn queue(pid: i64, signum: i32, value: i64) -> io::Result<()> {
    let pid = pid_t(pid)?;
    // The integer travels in the pointer-sized union, as sival_int/sival_ptr share storage.
    let value = libc::sigval {
        sival_ptr: value as usize as *mut libc::c_void,
    };
    // SAFETY: sigqueue takes plain values (the sigval is passed by value and
    // its pointer member is never dereferenced by the kernel).
    let rc = unsafe { libc::sigqueue(pid, signum, value) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sends `signum` to every process of the group `pgid`.
pub fn kill_group(pgid: i64, signum: i32) -> io::Result<()> {
    let pgid = nix::unistd::Pid::from_raw(pid_t(pgid)?);
    let sig = nix::sys::signal::Signal::try_from(signum).map_err(io::Error::from)?;
    nix::sys::signal::killpg(pgid, sig).map_err(io::Error::from)
}

/// Whether a process with this pid exists (signal 0: nothing is sent).
pub fn exists(pid: i64) -> bool {
    let Ok(p) = pid_t(pid) else { return false };
    // EPERM means it exists but belongs to someone we may not signal.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// Sends `signum` to one process (ESRCH when it is gone).
pub fn kill_pid(pid: u32, signum: i32) -> io::Result<()> {
    let pid = nix::unistd::Pid::from_raw(pid_t(i64::from(pid))?);
    let sig = nix::sys::signal::Signal::try_from(signum).map_err(io::Error::from)?;
    nix::sys::signal::kill(pid, sig).map_err(io::Error::from)
}

/// Whether any process is left in the group `pgid` (signal 0: nothing is
/// sent). One system call: this is what keeps a restart with nothing left
/// as fast as one without the check.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(p) = pid_t(i64::from(pgid)) else {
        return false;
    };
    match nix::sys::signal::killpg(nix::unistd::Pid::from_raw(p), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// The live members of the process group `pgid`, from `/proc` (zombies
/// are left out: they hold nothing any more).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| super::identity::stat(pid).is_some_and(|s| s.pgid == pgid))
        .collect()
}
