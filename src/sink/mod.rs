//! Sinks: where rendered pixels go.

pub mod npy;
pub mod png;

pub use npy::write_npy_f32;
pub use png::{encode_png, write_png};

use std::path::Path;

use crate::error::{Error, Result};

/// Refuse to start writing into the directory `dir` when it cannot be
/// made: it exists and is not a directory, or it does not exist and
/// neither does its parent (a typo is not silently created as a tree).
/// Nothing is created. The error names `dir` and the cause.
pub fn check_target_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "exists and is not a directory"),
            ));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(dir, e)),
        Err(_) => {}
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => return Ok(()),
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("its parent {} is not a directory", parent.display()),
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "its parent directory {} does not exist; create it first",
                    parent.display()
                ),
            ),
        )),
        Err(e) => Err(Error::io(parent, e)),
    }
}

/// Refuse to start a figure that cannot be written to `path`: its
/// directory is missing, is not a directory, or takes no new file (a
/// read-only file system, no permission). Checked before any work, by
/// creating and removing a probe file beside it; nothing is left. The
/// error names `path` and the cause.
pub fn check_out_file(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::NotADirectory,
                    format!("its parent {} is not a directory", dir.display()),
                ),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "its parent directory {} does not exist; create it first",
                        dir.display()
                    ),
                ),
            ));
        }
        Err(e) => return Err(Error::io(path, e)),
    }
    let probe = dir.join(format!(".actmap-probe-{}.tmp", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Make the output directory `dir` (its parent must exist, see
/// [`check_target_dir`]) and check that files can be created in it, so a
/// read-only file system or a missing permission is refused before any
/// work. Creates nothing but `dir` (and leaves nothing when it fails).
pub fn prepare_out_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    check_target_dir(dir)?;
    let made = match std::fs::create_dir(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => false,
        Err(e) => return Err(Error::io(dir, e)),
    };
    let probe = dir.join(format!(".actmap-probe-{}.tmp", std::process::id()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe);
    match r {
        Ok(f) => {
            drop(f);
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => {
            if made {
                let _ = std::fs::remove_dir(dir);
            }
            Err(Error::io(dir, e))
        }
    }
}
