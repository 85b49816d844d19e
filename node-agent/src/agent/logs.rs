//! Per-entity output logs under the data directory, rotated by size.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;

/// A log grows to this size before it is rotated to `<name>.log.1`.
pub const ROTATE_AT: u64 = 8 * 1024 * 1024;

/// The folder of entity logs.
#[derive(Debug, Clone)]
pub struct LogDir {
    dir: PathBuf,
}

impl LogDir {
    /// Creates the folder if needed.
    pub fn new(dir: PathBuf) -> std::io::Result<LogDir> {
        std::fs::create_dir_all(&dir)?;
        Ok(LogDir { dir })
    }

    /// Opens `<entity>.log` for appending (rotating it first when too large).
    /// A log that cannot be opened is not worth failing a restart for.
    pub fn open(&self, entity: &str) -> Option<File> {
        // Entity names hold no '/' or NUL (N1); the suffix keeps "." and ".." harmless.
        let name = if entity.is_empty() { "_global" } else { entity };
        let path = self.dir.join(format!("{name}.log"));
        if std::fs::metadata(&path).is_ok_and(|m| m.len() >= ROTATE_AT) {
            let _ = std::fs::rename(&path, self.dir.join(format!("{name}.log.1")));
        }
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot open entity log");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn logs_rotate_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogDir::new(dir.path().join("logs")).unwrap();
        let mut f = logs.open("svc").unwrap();
        f.write_all(&vec![b'x'; ROTATE_AT as usize]).unwrap();
        drop(f);
        let mut f = logs.open("svc").unwrap();
        f.write_all(b"fresh").unwrap();
        let old = std::fs::metadata(dir.path().join("logs/svc.log.1"))
            .unwrap()
            .len();
        assert_eq!(old, ROTATE_AT);
        assert_eq!(
            std::fs::read(dir.path().join("logs/svc.log")).unwrap(),
            b"fresh"
        );
        assert!(logs.open("..").is_some());
    }
}
