//! The sd_notify socket (HAM-CONTRACT H4): a Unix datagram socket passed to
//! started processes as `NOTIFY_SOCKET`, so a program written for systemd's
//! watchdog heartbeats unchanged. The sender is known from the kernel's
//! credentials (`SO_PASSCRED`), which a process cannot forge. A datagram counts only for the
//! entity its sender belongs to (HAM-CONTRACT P3): the entity's process itself, or a process in
//! its process group (every started process leads its own, L1); any other sender is ignored.

use super::{Heartbeats, Msg};
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt, sockopt,
};
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::net::UnixDatagram;
use tokio::sync::mpsc;

/// Largest datagram read, as systemd (PIPE_BUF); longer ones are dropped.
const MAX_DATAGRAM: usize = 4096;

/// Binds the socket (replacing a stale one left by a killed agent).
pub fn bind(path: &Path) -> anyhow::Result<UnixDatagram> {
    let _ = std::fs::remove_file(path);
    let sock = std::os::unix::net::UnixDatagram::bind(path)
        .map_err(|e| anyhow::anyhow!("cannot bind the notify socket {}: {e}", path.display()))?;
    sock.set_nonblocking(true)?;
    setsockopt(&sock, sockopt::PassCred, &true)?;
    Ok(UnixDatagram::from_std(sock)?)
}

/// What one datagram says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Notice {
    /// `WATCHDOG=1`: a heartbeat.
    pub watchdog: bool,
    /// `READY=1`.
    pub ready: bool,
    /// `STOPPING=1`.
    pub stopping: bool,
    /// `STATUS=...`.
    pub status: Option<String>,
    /// `MAINPID=n`.
    pub main_pid: Option<u32>,
}

/// Parses `VAR=VALUE` lines; unknown variables are ignored, as systemd does.
pub fn parse(text: &str) -> Notice {
    let mut n = Notice::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("WATCHDOG", "1")) => n.watchdog = true,
            Some(("READY", "1")) => n.ready = true,
            Some(("STOPPING", "1")) => n.stopping = true,
            Some(("STATUS", s)) => n.status = Some(s.to_string()),
            Some(("MAINPID", p)) => n.main_pid = p.trim().parse().ok().filter(|&p| p > 1),
            _ => {}
        }
    }
    n
}

/// Receives one datagram: (sender pid, text). None for datagrams to drop.
fn receive(sock: &UnixDatagram) -> std::io::Result<Option<(u32, String)>> {
    let mut buf = [0u8; MAX_DATAGRAM];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let (len, truncated, pid) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        let pid = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|m| match m {
                ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
                _ => None,
            })
        });
        (msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC), pid)
    };
    let Some(pid) = pid.and_then(|p| u32::try_from(p).ok()) else {
        return Ok(None);
    };
    if truncated {
        return Ok(None);
    }
    Ok(datagram_text(&buf[..len]).map(|t| (pid, t.to_string())))
}

/// The text of a whole datagram; None for one to drop (a NUL byte, or not UTF-8).
pub fn datagram_text(datagram: &[u8]) -> Option<&str> {
    if datagram.contains(&0) {
        return None;
    }
    std::str::from_utf8(datagram).ok()
}

/// A heartbeat from `pid`, counted for the entity it is a process of: the entity whose process
/// it is, else the one whose process leads its process group. None: it belongs to no entity
/// with a heartbeat.
fn beat_from(heartbeats: &Heartbeats, pid: u32) -> Option<Vec<super::heartbeats::Missed>> {
    if let Some(missed) = heartbeats.beat_pid(pid) {
        return Some(missed);
    }
    let raw = i32::try_from(pid).ok()?;
    let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(raw))).ok()?;
    let group = u32::try_from(group.as_raw()).ok()?;
    // Our own group is no entity's: processes are started in groups of their own.
    if group == pid || group == std::process::id() {
        return None;
    }
    heartbeats.beat_pid(group)
}

/// Senders already reported as belonging to no entity: one line each, not one per datagram.
#[derive(Debug, Default)]
struct Strangers(std::collections::HashSet<u32>);

impl Strangers {
    /// Most senders remembered; then the set starts again (a line may then repeat).
    const MAX: usize = 1024;

    fn first_time(&mut self, pid: u32) -> bool {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(pid)
    }
}

/// Serves the socket until the agent is gone.
pub async fn serve(
    sock: UnixDatagram,
    heartbeats: Arc<Heartbeats>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let mut strangers = Strangers::default();
    loop {
        let got = sock.async_io(Interest::READABLE, || receive(&sock)).await;
        let (pid, text) = match got {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "notify socket read failed");
                continue;
            }
        };
        let n = parse(&text);
        if n.watchdog {
            match beat_from(&heartbeats, pid) {
                Some(missed) => {
                    for m in missed {
                        if tx.send(Msg::Missed(m)).is_err() {
                            return;
                        }
                    }
                }
                None if strangers.first_time(pid) => tracing::info!(
                    pid,
                    "sd_notify heartbeat from a process of no entity with a heartbeat: ignored"
                ),
                None => {}
            }
        }
        if n.ready {
            tracing::info!(pid, "process reports ready");
        }
        if let Some(status) = &n.status {
            tracing::debug!(pid, %status, "process status");
        }
        if n.stopping {
            tracing::info!(pid, "process reports stopping");
        }
        if let Some(main) = n.main_pid
            && tx.send(Msg::MainPid { from: pid, main }).is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h4_notify_lines_are_understood() {
        let n = parse("READY=1\nSTATUS=serving 3 clients\nWATCHDOG=1\nMAINPID=4242\nX_UNKNOWN=7");
        assert_eq!(
            n,
            Notice {
                watchdog: true,
                ready: true,
                stopping: false,
                status: Some("serving 3 clients".into()),
                main_pid: Some(4242)
            }
        );
        assert!(parse("STOPPING=1").stopping);
        assert!(!parse("WATCHDOG=trigger").watchdog);
        assert_eq!(parse("MAINPID=1").main_pid, None);
        assert_eq!(parse("garbage without equals"), Notice::default());
    }
}
