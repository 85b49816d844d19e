//! Waiting for a path to exist, with inotify (HAM-CONTRACT A6).
//!
//! A watch is put on the nearest existing ancestor of the path *before* the
//! existence check (no race), and every event re-checks and moves the watch
//! down as directories appear, as systemd's path units do.

use crate::process::asyncfd;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn nearest_existing(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent.to_path_buf(),
            None => return PathBuf::from("/"),
        }
    }
    p
}

/// Resolves true as soon as `path` exists, false when `limit` ends first.
pub async fn wait_for_path(path: &Path, limit: Duration) -> std::io::Result<bool> {
    let deadline = tokio::time::Instant::now() + limit;
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    let flags = AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ATTRIB;
    let fd = asyncfd::register(inotify)?;
    loop {
        let dir = nearest_existing(path);
        let wd = fd.get_ref().0.add_watch(&dir, flags)?;
        if path.exists() {
            return Ok(true);
        }
        let ready = tokio::select! {
            r = fd.readable() => Some(r?),
            _ = tokio::time::sleep_until(deadline) => None,
        };
        let Some(mut guard) = ready else {
            return Ok(path.exists());
        };
        // Drain the events; what they say matters less than re-checking.
        match guard.get_inner().0.read_events() {
            Ok(_) | Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
            Err(e) => return Err(e.into()),
        }
        let _ = fd.get_ref().0.rm_watch(wd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a6_path_appearing_deep_below_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/ready");
        let t2 = target.clone();
        let maker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            std::fs::create_dir_all(t2.parent().unwrap()).unwrap();
            std::fs::write(&t2, b"x").unwrap();
        });
        let start = std::time::Instant::now();
        assert!(
            wait_for_path(&target, Duration::from_secs(5))
                .await
                .unwrap()
        );
        assert!(start.elapsed() < Duration::from_secs(4));
        maker.await.unwrap();
    }

    #[tokio::test]
    async fn a6_missing_path_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("never");
        assert!(
            !wait_for_path(&target, Duration::from_millis(50))
                .await
                .unwrap()
        );
    }
}
