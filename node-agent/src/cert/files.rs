//! Writing `ham cert`'s output: nothing is overwritten without `--force`, keys are 0600.

use super::{CertError, Result};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A certificate and key pair to write, with their paths.
pub struct Pair<'a> {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub cert_pem: &'a str,
    pub key_pem: &'a str,
}

impl std::fmt::Debug for Pair<'_> {
    /// Never prints the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Creates `dir` (0700 when new: it holds keys) if it does not exist.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CertError::write(dir, e))
}

fn write_one(path: &Path, text: &str, mode: u32, force: bool) -> Result<()> {
    if force {
        // Removed first so that the new file gets `mode` whatever the old one had.
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CertError::write(path, e)),
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CertError::Exists(path.to_path_buf()),
            _ => CertError::write(path, e),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| CertError::write(path, e))
}

/// Writes the pair: the key 0600, the certificate 0644. Both paths are checked first, so a
/// refusal leaves no half-written pair.
pub fn write_pair(pair: &Pair<'_>, force: bool) -> Result<()> {
    if !force {
        for path in [&pair.key, &pair.cert] {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(CertError::Exists(path.clone()));
            }
        }
    }
    write_one(&pair.key, pair.key_pem, 0o600, force)?;
    write_one(&pair.cert, pair.cert_pem, 0o644, force)
}

/// Reads a text file named in errors as `what`.
pub fn read(what: &str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CertError::read(what, path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn p6_keys_are_0600_and_nothing_is_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let pair = |c: &'static str| Pair {
            cert: dir.path().join("x.pem"),
            key: dir.path().join("x.key"),
            cert_pem: c,
            key_pem: c,
        };
        write_pair(&pair("one"), false).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("x.key"), 0o600);
        assert_eq!(mode("x.pem"), 0o644);
        let e = write_pair(&pair("two"), false).unwrap_err();
        assert!(matches!(e, CertError::Exists(_)), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x.key")).unwrap(),
            "one"
        );
        std::fs::set_permissions(
            dir.path().join("x.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        write_pair(&pair("two"), true).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("x.key")).unwrap(),
            "two"
        );
        assert_eq!(mode("x.key"), 0o600);
    }
}
