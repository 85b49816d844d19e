//! A full disk (HAM-CONTRACT M4). The store keeps a reserve file of `RESERVE` bytes next to
//! `raft.redb`. When a write of the store fails with ENOSPC (or a snapshot file cannot be
//! written for want of space), the disk is "full": the reserve is deleted, so that the write
//! in progress (a Ready raft already handed over, which must reach the disk) can still be
//! made, and new proposals are refused with `ReplicaError::NoSpace` before raft sees them, so
//! that ENOSPC always means "not committed". While full, and only then, free space is looked
//! at (statvfs) at most once a second, when a proposal comes; once there is room for the
//! reserve and as much again, the reserve is written again and proposals are accepted.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Size of the reserve file.
pub(crate) const RESERVE: u64 = 1024 * 1024;
/// Name of the reserve file, in the store's directory.
const NAME: &str = "space-reserve";
/// While full, free space is looked at no more often than this.
const RECHECK: Duration = Duration::from_secs(1);

/// Whether an IO error means the disk (or the quota) is full.
pub(crate) fn is_no_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// The disk space state of one store, shared by the owner task and the handles.
#[derive(Debug)]
pub struct DiskSpace {
    dir: PathBuf,
    full: AtomicBool,
    /// When free space was last looked at; also serializes changes to the reserve file.
    checked: Mutex<Option<Instant>>,
}

impl DiskSpace {
    /// The state of the disk under `dir`: the reserve is made if it is missing; if it cannot
    /// be for want of space, the disk starts out full.
    pub(crate) fn open(dir: &Path) -> DiskSpace {
        let space = DiskSpace {
            dir: dir.to_path_buf(),
            full: AtomicBool::new(false),
            checked: Mutex::new(None),
        };
        let reserve = space.reserve_path();
        let complete = std::fs::metadata(&reserve).is_ok_and(|m| m.len() == RESERVE);
        if !complete && let Err(e) = write_reserve(&reserve) {
            tracing::warn!(error = %e, file = %reserve.display(), "cannot make the disk space reserve");
            if is_no_space(&e) {
                space.full.store(true, Ordering::Relaxed);
            }
        }
        space
    }

    fn reserve_path(&self) -> PathBuf {
        self.dir.join(NAME)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.checked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A write failed for want of space: the disk is full from now on. Deletes the reserve;
    /// true if there was one (so that retrying the write at once may succeed).
    pub(crate) fn mark_full(&self) -> bool {
        let mut checked = self.lock();
        if !self.full.swap(true, Ordering::Relaxed) {
            tracing::warn!(dir = %self.dir.display(), "the disk is full: writes are refused until space is free");
        }
        *checked = Some(Instant::now());
        match std::fs::remove_file(self.reserve_path()) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(error = %e, "removing the disk space reserve");
                false
            }
        }
    }

    /// Whether writes are to be refused. While full, looks at free space (at most once a
    /// second) and leaves that state when the reserve could be made again.
    pub fn is_full(&self) -> bool {
        if !self.full.load(Ordering::Relaxed) {
            return false;
        }
        let Ok(mut checked) = self.checked.try_lock() else {
            return true; // someone else is looking right now
        };
        if checked.is_some_and(|t| t.elapsed() < RECHECK) {
            return true;
        }
        *checked = Some(Instant::now());
        if super::blocking(|| self.space_is_back()) {
            self.full.store(false, Ordering::Relaxed);
            tracing::info!(dir = %self.dir.display(), "disk space is available again: writes are accepted");
            return false;
        }
        true
    }

    /// Room for the reserve and as much again, and the reserve written back.
    fn space_is_back(&self) -> bool {
        let free = match rustix::fs::statvfs(&self.dir) {
            Ok(st) => st.f_bavail.saturating_mul(st.f_frsize),
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.dir.display(), "statvfs");
                return false;
            }
        };
        if free < 2 * RESERVE {
            return false;
        }
        match write_reserve(&self.reserve_path()) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "writing the disk space reserve back");
                false
            }
        }
    }
}

/// Writes the reserve (real blocks, not a sparse file) durably; a partial one is removed.
fn write_reserve(path: &Path) -> io::Result<()> {
    let result = (|| {
        let mut f = File::create(path)?;
        let block = vec![0u8; 64 * 1024];
        for _ in 0..RESERVE / block.len() as u64 {
            f.write_all(&block)?;
        }
        f.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m4_full_disk_releases_the_reserve_and_space_coming_back_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let space = DiskSpace::open(dir.path());
        let reserve = dir.path().join(NAME);
        assert_eq!(std::fs::metadata(&reserve).unwrap().len(), RESERVE);
        assert!(!space.is_full());
        assert!(space.mark_full(), "the reserve was there to release");
        assert!(!reserve.exists());
        assert!(!space.mark_full(), "nothing left to release");
        // Looked at again no sooner than a second later.
        assert!(space.is_full());
        std::thread::sleep(RECHECK + Duration::from_millis(50));
        assert!(!space.is_full(), "a test's temporary directory has room");
        assert_eq!(std::fs::metadata(&reserve).unwrap().len(), RESERVE);
    }
}
