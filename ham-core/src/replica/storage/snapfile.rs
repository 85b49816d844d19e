//! Snapshot data lives in files of its own under `data_dir/snapshots/`, not in redb: a
//! snapshot is written once and read rarely, while the hard state next to it in redb changes on
//! every Raft write. Kept in the same B-tree, every commit would copy the snapshot's pages
//! again; kept in redb at all, writing it would hold redb's single write transaction (and so
//! the Raft task) for as long as the whole state takes to reach the disk.
//!
//! A file is written under a temporary name, fsynced, renamed into place and the directory
//! fsynced; only then does a redb transaction name it (with its length and CRC-32), so the store
//! never names a file that is not complete on disk. Files no transaction names (a snapshot
//! superseded before it was recorded, a crash in between) are removed at the next open.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::Path;

/// Directory of the snapshot files, inside the data directory.
pub(super) const DIR: &str = "snapshots";
const PREFIX: &str = "snap-";
const SUFFIX: &str = ".bin";

/// A complete snapshot file, as a redb record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotFile {
    pub(crate) name: String,
    pub(crate) len: u64,
    pub(crate) crc: u32,
}

impl SnapshotFile {
    /// The file name for the snapshot at `index`; `nonce` keeps names unique when two snapshots
    /// of the same index are written (one built here, one received from the leader).
    pub(crate) fn name_for(index: u64, nonce: u64) -> String {
        format!("{PREFIX}{index:020}-{nonce:016x}{SUFFIX}")
    }

    /// Record layout: len (u64 LE), crc (u32 LE), then the name.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.name.len());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out
    }

    /// Decodes a record read from disk; a name that could point outside the directory is refused.
    pub(crate) fn decode(bytes: &[u8]) -> Result<SnapshotFile, String> {
        if bytes.len() < 12 {
            return Err("snapshot file record is too short".into());
        }
        let (len, rest) = bytes.split_at(8);
        let (crc, name) = rest.split_at(4);
        let name = std::str::from_utf8(name)
            .ok()
            .filter(|n| is_snapshot_name(n))
            .ok_or("snapshot file record holds an invalid file name")?;
        Ok(SnapshotFile {
            name: name.to_string(),
            len: u64::from_le_bytes(len.try_into().map_err(|_| "bad length")?),
            crc: u32::from_le_bytes(crc.try_into().map_err(|_| "bad checksum")?),
        })
    }
}

fn is_snapshot_name(name: &str) -> bool {
    name.starts_with(PREFIX)
        && name.ends_with(SUFFIX)
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Writes `data` as the file `name` in `dir`, durably: temporary file, fsync, rename, fsync
/// of the directory.
pub(crate) fn write(dir: &Path, name: &str, data: &[u8]) -> io::Result<SnapshotFile> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dir.join(name))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    Ok(SnapshotFile {
        name: name.to_string(),
        len: data.len() as u64,
        crc: crc32fast::hash(data),
    })
}

/// Reads and checks the file a record names.
pub(super) fn read(dir: &Path, f: &SnapshotFile) -> Result<Vec<u8>, String> {
    let path = dir.join(&f.name);
    let data = fs::read(&path).map_err(|e| format!("snapshot file {}: {e}", path.display()))?;
    check(&data, f).map_err(|e| format!("snapshot file {} is damaged: {e}", path.display()))?;
    Ok(data)
}

/// Checks a file's bytes against the record that names it (length and CRC-32).
pub(crate) fn check(data: &[u8], f: &SnapshotFile) -> Result<(), String> {
    if data.len() as u64 != f.len || crc32fast::hash(data) != f.crc {
        return Err(format!(
            "{} bytes, the store recorded {} bytes with CRC-32 {:08x}",
            data.len(),
            f.len,
            f.crc
        ));
    }
    Ok(())
}

/// Removes `name` from `dir`; a file already gone is fine. Failure only wastes disk, so it is
/// logged rather than returned.
pub(crate) fn remove(dir: &Path, name: &str) {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing old snapshot file {name}: {e}"),
    }
}

/// Removes every snapshot or temporary file in `dir` except `keep`.
pub(super) fn remove_all_but(dir: &Path, keep: Option<&str>) {
    let Ok(list) = fs::read_dir(dir) else { return };
    for item in list.flatten() {
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && Some(name) != keep {
            remove(dir, name);
        }
    }
}
