//! Pulse channels (HAM-CONTRACT A7): a process opens channel `chid` and
//! receives the pulses notify_pulse actions send to (pid, chid).

use ham_core::model::{Errno, HamError, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A pulse: (code, value).
pub type Pulse = (i32, i64);

/// How many pulses may wait unread on one channel before sends fail.
const CHANNEL_DEPTH: usize = 1024;

/// Open channels by (pid, chid).
type Channels = HashMap<(i64, i64), mpsc::Sender<Pulse>>;

/// The open channels of this node.
#[derive(Debug, Default, Clone)]
pub struct Pulses {
    open: Arc<Mutex<Channels>>,
}

/// A channel a request may open: a positive pid and a positive channel id.
pub fn check_channel(pid: i64, chid: i64) -> Result<()> {
    if pid <= 0 || chid <= 0 {
        return Err(HamError::new(Errno::Einval, "pid and chid must be > 0"));
    }
    Ok(())
}

impl Pulses {
    fn lock(&self) -> std::sync::MutexGuard<'_, Channels> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens (pid, chid); pulses arrive on the receiver until it is dropped.
    pub fn open(&self, pid: i64, chid: i64) -> Result<mpsc::Receiver<Pulse>> {
        check_channel(pid, chid)?;
        let mut open = self.lock();
        if open.get(&(pid, chid)).is_some_and(|tx| !tx.is_closed()) {
            return Err(HamError::new(
                Errno::Eexist,
                format!("channel {chid} of pid {pid} is open"),
            ));
        }
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        open.insert((pid, chid), tx);
        Ok(rx)
    }

    /// Sends a pulse; fails when no such channel is open (or it is full).
    pub fn send(&self, pid: i64, chid: i64, pulse: Pulse) -> std::result::Result<(), String> {
        let mut open = self.lock();
        let Some(tx) = open.get(&(pid, chid)) else {
            return Err(format!("no pulse channel {chid} open in pid {pid}"));
        };
        match tx.try_send(pulse) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                open.remove(&(pid, chid));
                Err(format!("pulse channel {chid} of pid {pid} was closed"))
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                Err(format!("pulse channel {chid} of pid {pid} is full"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a7_pulses_reach_open_channels_only() {
        let p = Pulses::default();
        assert!(p.send(10, 1, (5, 6)).is_err());
        let mut rx = p.open(10, 1).unwrap();
        assert_eq!(p.open(10, 1).unwrap_err().errno, Errno::Eexist);
        assert_eq!(p.open(0, 1).unwrap_err().errno, Errno::Einval);
        p.send(10, 1, (5, 6)).unwrap();
        assert_eq!(rx.try_recv().unwrap(), (5, 6));
        drop(rx);
        assert!(p.send(10, 1, (5, 6)).is_err());
        // Closed channels can be opened again.
        p.open(10, 1).unwrap();
    }
}
