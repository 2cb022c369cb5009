//! Run logs: a training run's activations, with their training steps, kept
//! on disk as a Zarr v3 group that any viewer can attach to at any time and
//! that zarr-python, xarray or dask read as it is.
//!
//! Layout (written with the `zarrs` crate):
//!
//! ```text
//! RUN/                      group (attributes: {"actmap": {"run_log": 1}})
//!   zarr.json               + consolidated metadata of every node below
//!   NAME/                   one group per channel ("a/b" nests groups)
//!     zarr.json             + consolidated metadata of its three arrays
//!     values/               float32 [n, ...record shape], chunked along
//!                           axis 0 at 2-4 MiB per chunk (one record per
//!                           chunk when a record is larger)
//!     step/                 int64 [n]: the training step of each record
//!     time/                 float64 [n]: the writer's wall time, Unix seconds
//!   .actmap-writer.lock     the writer's pid while one is recording
//! ```
//!
//! Records are kept in the order they were written: a step that goes
//! backwards (a run resumed from a checkpoint) is kept, and readers show
//! the latest write of each step ([`StepIndex`]).
//!
//! Durability ([`RunWriter`]): rows are appended to the open chunk in place
//! (never rewriting rows a reader may already see), a new chunk file
//! appears whole (written to a temporary file and renamed), and the
//! metadata that makes rows visible (`shape`) is replaced atomically, after
//! the chunks it covers, at least every `flush_every`. A writer killed at
//! any instant leaves a run that zarr-python opens, missing at most the
//! rows of the last flush interval.

mod lock;
pub mod reader;
pub mod repair;
mod store;
pub mod writer;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use lock::{LOCK_FILE, LockOwner, lock_holder};
pub use reader::{ChannelInfo, ChannelReader, ChannelSummary, Damage, RunReader, RunRows, StepIndex};
pub use repair::{ChannelRepair, RepairReport, repair};
pub use writer::{RunWriter, WriterOptions};

/// The array of a channel's records.
pub const VALUES: &str = "values";
/// The array of a channel's training steps.
pub const STEP: &str = "step";
/// The array of a channel's write times (Unix seconds).
pub const TIME: &str = "time";
/// The channel that rows sent without a channel name are recorded in.
pub const DEFAULT_CHANNEL: &str = "default";
/// The run log format version in the root group's attributes.
pub const FORMAT_VERSION: u64 = 1;

/// The on-disk name of a stream channel (`""` is [`DEFAULT_CHANNEL`]).
pub fn disk_name(channel: &str) -> &str {
    if channel.is_empty() {
        DEFAULT_CHANNEL
    } else {
        channel
    }
}

/// Check that `name` can be a channel of a run log: `/`-separated
/// segments, none empty, `.` or `..`, none starting with `__` (reserved by
/// Zarr), and no segment after the first named `values`, `step` or `time`
/// (those would clash with a channel's arrays).
pub fn check_channel_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::Invalid(format!("channel name '{name}': {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 1024 {
        return bad("longer than 1024 bytes");
    }
    if name.contains(['\0', '\\']) || name.chars().any(char::is_control) {
        return bad("contains a control character or a backslash");
    }
    for (i, seg) in name.split('/').enumerate() {
        if seg.is_empty() {
            return bad("has an empty part (a leading, trailing or double '/')");
        }
        if seg == "." || seg == ".." {
            return bad("has a '.' or '..' part");
        }
        if seg.starts_with("__") {
            return bad("has a part starting with '__' (reserved by Zarr)");
        }
        if seg.len() > 255 {
            return bad("has a part longer than 255 bytes");
        }
        if i > 0 && [VALUES, STEP, TIME].contains(&seg) {
            return bad(&format!(
                "'{seg}' after a '/' would clash with a channel's '{seg}' array"
            ));
        }
    }
    Ok(())
}

/// The JSON of a directory's `zarr.json`, or why it is not a Zarr node.
pub(crate) fn read_node(dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join("zarr.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::format(&path, format!("not valid JSON: {e}")))
}

fn node_type(v: &serde_json::Value) -> Option<&str> {
    v.get("node_type").and_then(|t| t.as_str())
}

/// The ranks of a distributed run: `Some(ranks)` (sorted) when `path` is
/// a ranked run (its root group's attributes hold `actmap.ranks: true`
/// and each rank `N` writes a whole run log at `rank<N>/`), `None` for a
/// single-process run log or anything else.
pub fn ranks(path: &Path) -> Result<Option<Vec<u32>>> {
    let Ok(Some(meta)) = read_node(path) else {
        return Ok(None);
    };
    let ranked = meta
        .get("attributes")
        .and_then(|a| a.get("actmap"))
        .and_then(|a| a.get("ranks"))
        .and_then(|r| r.as_bool())
        == Some(true);
    if !ranked {
        return Ok(None);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let e = e.map_err(|e| Error::io(path, e))?;
        let name = e.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_prefix("rank")) else {
            continue;
        };
        if let Ok(r) = n.parse::<u32>()
            && format!("rank{r}") == name.to_string_lossy()
            && is_run_log(&e.path())
        {
            out.push(r);
        }
    }
    out.sort_unstable();
    Ok(Some(out))
}

/// The run log of one rank: `path/rank<N>` of a ranked run (`rank`
/// `None`: the lowest rank), or `path` itself for a single-process run
/// (where only rank `None` or 0 is there to pick).
pub fn rank_path(path: &Path, rank: Option<u32>) -> Result<PathBuf> {
    match ranks(path)? {
        Some(ranks) => {
            let Some(&first) = ranks.first() else {
                return Err(Error::format(path, "a distributed run with no rank written yet"));
            };
            match rank {
                None => Ok(path.join(format!("rank{first}"))),
                Some(r) if ranks.contains(&r) => Ok(path.join(format!("rank{r}"))),
                Some(r) => Err(Error::Invalid(format!(
                    "{}: no rank {r}; the run has ranks {}",
                    path.display(),
                    ranks.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
                ))),
            }
        }
        None => match rank {
            None | Some(0) => Ok(path.to_path_buf()),
            Some(r) => Err(Error::Invalid(format!(
                "{}: no rank {r}; it is a single-process run log (rank 0 only)",
                path.display()
            ))),
        },
    }
}

/// Where rank `rank` of a distributed job writes: `root/rank<N>`, making
/// `root` a ranked run first when it is new. Every rank may call this at
/// once, on one host or many sharing the filesystem: the root's
/// `zarr.json` is written to a file of this rank's own and then
/// hard-linked into place, which fails with `EEXIST` for all but one
/// (atomic on NFS and Lustre too, unlike a rename over another file). A
/// root that is a single-process run log, or not a run at all, is
/// refused.
pub fn rank_dir(root: &Path, rank: u32) -> Result<PathBuf> {
    crate::sink::check_target_dir(root)?;
    match std::fs::create_dir(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && root.is_dir() => {}
        Err(e) => return Err(Error::io(root, e)),
    }
    let meta = root.join("zarr.json");
    if !meta.exists() {
        let body = serde_json::json!({
            "zarr_format": 3,
            "node_type": "group",
            "attributes": {"actmap": {"run_log": FORMAT_VERSION, "ranks": true}},
        });
        let host: String = lock::hostname()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let tmp = root.join(format!(".zarr.json.rank{rank}.{host}.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(&body).expect("JSON of a literal");
        std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &meta);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&meta, e)),
        }
    }
    if ranks(root)?.is_none() {
        return Err(Error::format(
            root,
            "a single-process run log (or another Zarr group), not a distributed run; \
             give the distributed job a new directory",
        ));
    }
    Ok(root.join(format!("rank{rank}")))
}

/// The runs of a collection: `Some(runs)` (sorted by name) when `path` is
/// a directory that is not itself a run log and holds run logs (plain or
/// distributed) one level down; `None` otherwise. Other entries are
/// left out.
pub fn collection(path: &Path) -> Result<Option<Vec<PathBuf>>> {
    if !path.is_dir() || path.join("zarr.json").exists() {
        return Ok(None);
    }
    let mut runs = Vec::new();
    for e in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let e = e.map_err(|e| Error::io(path, e))?;
        let p = e.path();
        if !e.file_name().to_string_lossy().starts_with('.') && is_run_log(&p) {
            runs.push(p);
        }
    }
    if runs.is_empty() {
        return Ok(None);
    }
    runs.sort();
    Ok(Some(runs))
}

/// Whether `path` is a run log directory (a Zarr v3 group).
pub fn is_run_log(path: &Path) -> bool {
    path.is_dir() && matches!(read_node(path), Ok(Some(v)) if node_type(&v) == Some("group"))
}

/// Check that `root` is a Zarr v3 group, with a message saying what it is
/// otherwise.
pub(crate) fn check_root(root: &Path) -> Result<serde_json::Value> {
    if !root.exists() {
        return Err(Error::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such run log"),
        ));
    }
    if !root.is_dir() {
        return Err(Error::format(root, "not a run log: a run log is a directory"));
    }
    let Some(meta) = read_node(root)? else {
        return Err(Error::format(
            root,
            "not a run log: the directory has no zarr.json (a run log is a Zarr v3 group)",
        ));
    };
    if meta.get("zarr_format").and_then(|f| f.as_u64()) != Some(3) {
        return Err(Error::format(
            root,
            "not a run log: zarr.json is not Zarr format 3",
        ));
    }
    match node_type(&meta) {
        Some("group") => Ok(meta),
        Some(t) => Err(Error::format(
            root,
            format!("not a run log: zarr.json describes a Zarr {t}, not a group"),
        )),
        None => Err(Error::format(root, "not a run log: zarr.json has no node_type")),
    }
}

/// Channel names under `root`, sorted: every group holding a `values`
/// array (whatever else it holds).
pub(crate) fn discover(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(root, String::new(), &mut out, 0)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: String, out: &mut Vec<String>, depth: usize) -> Result<()> {
    if depth > 32 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut subdirs: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .collect();
    subdirs.sort();
    for (name, path) in subdirs {
        let values = path.join(VALUES);
        // A channel group whose own zarr.json is damaged is still a
        // channel when its arrays are there (the reader names the damage).
        let channel_attrs = match read_node(&path) {
            Ok(Some(meta)) if node_type(&meta) == Some("group") => {
                meta.pointer("/attributes/actmap/channel").is_some()
            }
            Ok(_) => continue,
            Err(_) if values.join("zarr.json").is_file() => true,
            Err(_) => continue,
        };
        let full = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        // A `values` array, readable or damaged; or a group actmap made
        // for a channel whose `values` is gone (its records are lost).
        let is_channel = match read_node(&values) {
            Ok(Some(v)) => node_type(&v) == Some("array"),
            Ok(None) => channel_attrs,
            Err(_) => true,
        };
        if is_channel {
            out.push(full.clone());
        }
        walk(&path, full, out, depth + 1)?;
    }
    Ok(())
}

/// Every node below `root` (groups and arrays, not the root itself) with
/// its `zarr.json`, by path; arrays are not descended into.
pub(crate) fn collect_nodes(root: &Path) -> Result<std::collections::BTreeMap<String, serde_json::Value>> {
    fn go(
        dir: &Path,
        prefix: &str,
        out: &mut std::collections::BTreeMap<String, serde_json::Value>,
        depth: usize,
    ) -> Result<()> {
        if depth > 32 {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for e in entries.filter_map(|e| e.ok()) {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let Ok(Some(meta)) = read_node(&e.path()) else {
                continue;
            };
            let full = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let is_group = node_type(&meta) == Some("group");
            out.insert(full.clone(), meta);
            if is_group {
                go(&e.path(), &full, out, depth + 1)?;
            }
        }
        Ok(())
    }
    let mut out = std::collections::BTreeMap::new();
    go(root, "", &mut out, 0)?;
    Ok(out)
}

/// Wall time now, in Unix seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `secs` (Unix) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(secs: f64) -> String {
    let t = secs.floor() as i64;
    let (days, rem) = (t.div_euclid(86400), t.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Now, as [`utc`] writes it.
pub(crate) fn utc_now() -> String {
    utc(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        for ok in ["layer3", "blocks.0/attn", "a b", "mlp.3", "time", "step/x"] {
            assert!(check_channel_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", "__x", "a/values", "a/step", "a\\b", "a\nb",
        ] {
            assert!(check_channel_name(bad).is_err(), "{bad}");
        }
        assert_eq!(disk_name(""), "default");
        assert_eq!(disk_name("x"), "x");
    }
}
