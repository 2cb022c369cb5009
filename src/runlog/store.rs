//! The storage under a run log: a directory, read and written through the
//! `zarrs` storage traits, with the write rules that make a run log crash
//! safe.
//!
//! - [`set`](WritableStorageTraits::set) (a whole value: metadata, or a
//!   chunk written in one go) writes a temporary file beside the target
//!   and renames it over the target, so a reader, or a writer killed at
//!   any instant, sees either the old file or the new one, never half.
//! - [`set_partial_many`](WritableStorageTraits::set_partial_many) writes
//!   bytes in place: the rows appended to an open chunk (a file that does
//!   not exist yet is written whole, as `set` does). Rows already
//!   covered by the committed metadata are never rewritten, so a torn
//!   write only touches rows beyond it, which no reader looks at.
//! - Nothing is synced to the disk unless asked (`sync`): a killed process
//!   loses nothing the kernel has; a power cut may lose what it had not
//!   written yet.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zarrs::storage::byte_range::{ByteRangeIterator, InvalidByteRangeError};
use zarrs::storage::{
    Bytes, MaybeBytes, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits, StorageError,
    StoreKey, StorePrefix, WritableStorageTraits,
};

/// Marker in the names of temporary files (removed when a writer opens the run).
pub(crate) const TMP_MARK: &str = ".actmap-tmp.";

/// A run log directory as a Zarr store.
#[derive(Debug)]
pub(crate) struct RunStore {
    root: PathBuf,
    sync: bool,
    seq: AtomicU64,
    /// The file and OS error of the latest write that failed (a full
    /// disk, a read-only remount), so the writer's error keeps the errno
    /// that the `zarrs` error chain turns into text.
    failure: std::sync::Mutex<Option<(PathBuf, i32)>>,
}

impl RunStore {
    /// A store rooted at `root`; `sync`: fsync every write before it counts.
    pub(crate) fn new(root: &Path, sync: bool) -> Self {
        RunStore {
            root: root.to_path_buf(),
            sync,
            seq: AtomicU64::new(0),
            failure: std::sync::Mutex::new(None),
        }
    }

    /// Remember a failed write of `path` (its OS error, when it has one).
    fn note(&self, path: &Path, e: &io::Error) {
        if let Some(code) = e.raw_os_error() {
            *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some((path.to_path_buf(), code));
        }
    }

    /// The file and OS error of the latest failed write, cleared.
    pub(crate) fn take_failure(&self) -> Option<(PathBuf, i32)> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The file holding `key`.
    pub(crate) fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Write `bytes` to `path` through a temporary file and a rename.
    pub(crate) fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(
            ".{name}{TMP_MARK}{}.{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            if self.sync {
                f.sync_data()?;
            }
            drop(f);
            std::fs::rename(&tmp, path)?;
            if self.sync {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = &result {
            let _ = std::fs::remove_file(&tmp);
            self.note(path, e);
        }
        result
    }
}

fn io_err(e: io::Error) -> StorageError {
    StorageError::from(e)
}

impl ReadableStorageTraits for RunStore {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        let file = match File::open(self.path_of(key.as_str())) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let size = file.metadata().map_err(io_err)?.len();
        let out: Vec<Result<Bytes, StorageError>> = byte_ranges
            .map(|r| {
                let (start, end) = (r.start(size), r.end(size));
                if end > size || start > end {
                    return Err(InvalidByteRangeError::new(r, size).into());
                }
                let mut buf = vec![0u8; (end - start) as usize];
                file.read_exact_at(&mut buf, start).map_err(io_err)?;
                Ok(Bytes::from(buf))
            })
            .collect();
        Ok(Some(Box::new(out.into_iter())))
    }

    fn get(&self, key: &StoreKey) -> Result<MaybeBytes, StorageError> {
        match std::fs::read(self.path_of(key.as_str())) {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        match std::fs::metadata(self.path_of(key.as_str())) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    fn supports_get_partial(&self) -> bool {
        true
    }
}

impl WritableStorageTraits for RunStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        self.write_atomic(&self.path_of(key.as_str()), &value)
            .map_err(io_err)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        let path = self.path_of(key.as_str());
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A new file (a new chunk) appears whole or not at all.
                let mut whole = Vec::new();
                for (offset, value) in offset_values {
                    let end = offset as usize + value.len();
                    if whole.len() < end {
                        whole.resize(end, 0);
                    }
                    whole[offset as usize..end].copy_from_slice(&value);
                }
                return self.write_atomic(&path, &whole).map_err(io_err);
            }
            Err(e) => {
                self.note(&path, &e);
                return Err(io_err(e));
            }
        };
        let written = (|| {
            for (offset, value) in offset_values {
                file.write_all_at(&value, offset)?;
            }
            if self.sync {
                file.sync_data()?;
            }
            Ok(())
        })();
        written.map_err(|e: io::Error| {
            self.note(&path, &e);
            io_err(e)
        })
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        match std::fs::remove_file(self.path_of(key.as_str())) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        match std::fs::remove_dir_all(self.path_of(prefix.as_str())) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    fn supports_set_partial(&self) -> bool {
        true
    }
}
