//! One writer per run log: an advisory lock on `RUN/.actmap-writer.lock`
//! that names the writer's pid.
//!
//! The lock is an `flock` on the file, so the kernel releases it when the
//! writer's process dies however it dies (kill -9 included): a lock file
//! left by a dead writer is stale by construction and the next writer
//! takes it over, overwriting the pid. A live writer's lock is refused
//! with its pid, start time and host.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// File name of the lock inside a run directory.
pub const LOCK_FILE: &str = ".actmap-writer.lock";

/// The writer a lock file names (for a stale lock: one that died holding
/// it, on this host or another one sharing the filesystem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOwner {
    /// Its process id.
    pub pid: u32,
    /// The host it ran on, as the lock file names it.
    pub host: String,
}

impl std::fmt::Display for LockOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)
    }
}

/// A held writer lock; released when dropped.
#[derive(Debug)]
pub(crate) struct WriterLock {
    file: File,
    /// The writer a stale lock named, when one was taken over.
    pub(crate) took_over: Option<LockOwner>,
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
}

/// Who holds the lock of the run at `dir`: `Ok(Some(owner))` while a
/// live writer holds it, on any host sharing the filesystem (the lock is
/// tested, not the pid, which means nothing on another host); `Ok(None)`
/// when no writer does, a stale lock file included. Takes nothing.
pub fn lock_holder(dir: &Path) -> Result<Option<LockOwner>> {
    let path = dir.join(LOCK_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Ok(None)
        }
        Err(TryLockError::WouldBlock) => Ok(Some(LockOwner {
            pid: field(&text, "pid").and_then(|p| p.parse().ok()).unwrap_or(0),
            host: field(&text, "host").unwrap_or("?").to_string(),
        })),
        Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
    }
}

impl WriterLock {
    /// Take the lock of the run at `dir`, or say who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<WriterLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = field(&previous, "pid").unwrap_or("?");
                let since = field(&previous, "since").unwrap_or("?");
                let host = field(&previous, "host").unwrap_or("?");
                return Err(Error::Invalid(format!(
                    "{}: another writer is recording to this run (pid {pid} on {host}, since {since}); \
                     stop it first, or record to another directory",
                    dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // A writer that closed cleanly emptied the file: a pid left in it
        // is a writer that died holding the lock.
        // The kernel (or, on NFS, the server's lock manager) released the
        // lock of a writer that died, on whichever host it ran: the host
        // name is only reported, never compared.
        let took_over = field(&previous, "pid")
            .and_then(|p| p.parse::<u32>().ok())
            .map(|pid| LockOwner {
                pid,
                host: field(&previous, "host").unwrap_or("?").to_string(),
            });
        let host = hostname();
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let text = format!("pid={}\nhost={}\nsince={since:.3}\n", std::process::id(), host);
        let write = (|| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(text.as_bytes())?;
            file.flush()
        })();
        write.map_err(|e| Error::io(&path, e))?;
        Ok(WriterLock { file, took_over })
    }
}

/// This host's name (empty when the system does not say).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Empty the pid so the file does not name a writer that is gone,
        // then release the lock (closing the file also would).
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
