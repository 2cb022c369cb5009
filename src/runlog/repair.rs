//! `actmap repair RUN`: a damaged run log rewritten so that every record
//! that can still be read is kept, and what was lost is named.
//!
//! A channel with damage (a chunk file cut short, of the wrong size or
//! missing; metadata that is not valid JSON; a missing `step` or `time`
//! array) is copied, its readable records only, in write order with their
//! steps and write times, into a fresh channel beside it, which then takes
//! its place; the damaged channel directory is moved, whole, into
//! `RUN.damaged-<unix time>/` next to the run, so nothing is deleted. The
//! root's consolidated metadata is written anew. Repair holds the writer
//! lock (a live writer is refused; a lock left by a dead one, from any
//! host, is taken over) and works in bounded memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use zarrs::array::{Array, ArraySubset};

use super::lock::WriterLock;
use super::reader::{ChannelReader, Damage, RunReader};
use super::store::RunStore;
use super::{FORMAT_VERSION, STEP, TIME, VALUES, collect_nodes, read_node};
use crate::error::{Error, Result};

/// Bytes of records copied at a time.
const BLOCK_BYTES: u64 = 64 << 20;
/// Where repairs build a channel before it takes the damaged one's place.
const WORK_DIR: &str = ".actmap-repair";

/// What [`repair`] did to one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelRepair {
    /// Channel name.
    pub name: String,
    /// Records kept.
    pub kept: u64,
    /// Records lost (in damaged chunks): `blank` of them kept at their
    /// steps with NaN values, the rest (whose steps are lost) dropped.
    pub lost: u64,
    /// Records kept at their steps whose values were lost (NaN now).
    pub blank: u64,
    /// What was damaged.
    pub damage: Vec<Damage>,
    /// Why nothing of the channel could be kept, if so.
    pub unreadable: Option<String>,
}

/// What [`repair`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RepairReport {
    /// The channels rewritten (sound ones are not listed).
    pub channels: Vec<ChannelRepair>,
    /// Damage in the run's own metadata, now rewritten.
    pub root: Vec<Damage>,
    /// The pid whose stale writer lock was taken over.
    pub took_over_lock: Option<super::lock::LockOwner>,
    /// Where the damaged files were moved.
    pub moved_to: Option<PathBuf>,
}

impl RepairReport {
    /// Nothing was damaged.
    pub fn is_clean(&self) -> bool {
        self.channels.is_empty() && self.root.is_empty()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Repair the run log at `path` (see the module docs).
pub fn repair(path: impl AsRef<Path>) -> Result<RepairReport> {
    let path = path.as_ref();
    if !path.is_dir() || !(path.join("zarr.json").is_file() || path.join(super::LOCK_FILE).is_file()) {
        return Err(Error::format(
            path,
            "not a run log: a run log is a directory with a zarr.json",
        ));
    }
    let lock = WriterLock::acquire(path)?;
    super::writer::remove_temporaries(path, 0);
    let _ = std::fs::remove_dir_all(path.join(WORK_DIR));
    let reader = RunReader::open(path)?;
    if !reader.is_actmap() {
        return Err(Error::format(
            path,
            "not written by actmap (no actmap run_log attribute): repair only rewrites actmap's run logs",
        ));
    }
    let mut report = RepairReport {
        root: reader.damage().to_vec(),
        took_over_lock: lock.took_over.clone(),
        ..RepairReport::default()
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let backup = {
        let name = path
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
        path.with_file_name(format!("{name}.damaged-{stamp}"))
    };
    for name in reader.channel_names() {
        let done = match reader.channel(name) {
            Ok(c) if c.damage().is_empty() => continue,
            Ok(c) => {
                let kept = rewrite(path, &c)?;
                ChannelRepair {
                    name: name.clone(),
                    kept,
                    lost: c.lost_records(),
                    blank: c.blank_records(),
                    damage: c.damage().to_vec(),
                    unreadable: None,
                }
            }
            Err(e) => ChannelRepair {
                name: name.clone(),
                kept: 0,
                lost: 0,
                blank: 0,
                damage: Vec::new(),
                unreadable: Some(e.to_string()),
            },
        };
        // The damaged channel moves out whole; the rewritten one (if any)
        // takes its place, with the groups nested in the old one.
        let old = path.join(name);
        let moved = backup.join(name);
        if let Some(parent) = moved.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let new = path.join(WORK_DIR).join(name);
        if new.is_dir() {
            for e in std::fs::read_dir(&old).map_err(io(&old))?.flatten() {
                let n = e.file_name();
                let keep_out = [VALUES, STEP, TIME, "zarr.json"].iter().any(|k| n == *k);
                if !keep_out && e.file_type().is_ok_and(|t| t.is_dir()) {
                    std::fs::rename(e.path(), new.join(&n)).map_err(io(&e.path()))?;
                }
            }
        }
        std::fs::rename(&old, &moved).map_err(io(&old))?;
        if new.is_dir() {
            std::fs::rename(&new, &old).map_err(io(&new))?;
        }
        report.moved_to = Some(backup.clone());
        report.channels.push(done);
    }
    let _ = std::fs::remove_dir_all(path.join(WORK_DIR));
    if !report.is_clean() {
        write_root(path)?;
    }
    drop(lock);
    Ok(report)
}

/// Copy the readable records of `c` into a fresh channel under
/// `RUN/.actmap-repair/`; the records kept.
fn rewrite(run: &Path, c: &ChannelReader) -> Result<u64> {
    let (values, _, _) = c.arrays();
    if c.dtype() != "float32" {
        return Err(Error::format(
            c.dir(),
            format!(
                "values are {}; repair rewrites actmap's float32 records",
                c.dtype()
            ),
        ));
    }
    let work = run.join(WORK_DIR);
    let store = Arc::new(RunStore::new(&work, false));
    let name = c.name();
    let dir = work.join(name);
    // Records whose step survives are kept at it, their lost values as
    // NaN (what zarr-python reads for a missing chunk of a NaN-filled
    // array); records whose step is lost cannot be placed and are dropped.
    let intact = c.placed(0..c.rows());
    let kept: u64 = intact.iter().map(|r| r.end - r.start).sum();
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::io(&dir, std::io::Error::other(format!("{what}: {e}")))
    };
    let make = |array: &str, like: &Array<RunStore>, shape: Vec<u64>| -> Result<Array<RunStore>> {
        let mut a = Array::new_with_metadata(
            store.clone(),
            &format!("/{name}/{array}"),
            like.metadata().clone(),
        )
        .map_err(|e| fail(array, &e))?;
        a.set_shape(shape).map_err(|e| fail(array, &e))?;
        Ok(a)
    };
    let mut vshape = vec![kept];
    vshape.extend(&values.shape()[1..]);
    let new_values = make(VALUES, values, vshape)?;
    let step_like = aux_array(&store, name, STEP)?;
    let time_like = aux_array(&store, name, TIME)?;
    let (_, steps, times) = c.arrays();
    let new_steps = make(STEP, steps.unwrap_or(&step_like), vec![kept])?;
    let new_times = make(TIME, times.unwrap_or(&time_like), vec![kept])?;
    let per_block = (BLOCK_BYTES / (c.record_len() as u64 * 4).max(1)).max(1);
    // Every chunk is written, NaN ones too: a run actmap wrote has no
    // holes, so a missing chunk reads as damage.
    let opts = super::writer::codec_options();
    let mut at = 0u64;
    let mut buf = Vec::new();
    for part in &intact {
        let mut r = part.start;
        while r < part.end {
            let end = part.end.min(r + per_block);
            c.read(r..end, &mut buf)?;
            let s = c.steps(r..end)?;
            let t = c
                .times(r..end)?
                .unwrap_or_else(|| vec![f64::NAN; (end - r) as usize]);
            let n = end - r;
            let mut ranges: Vec<std::ops::Range<u64>> = std::iter::once(at..at + n).collect();
            ranges.extend(values.shape()[1..].iter().map(|&d| 0..d));
            new_values
                .store_array_subset_opt(&ArraySubset::new_with_ranges(&ranges), &buf[..], &opts)
                .map_err(|e| fail(VALUES, &e))?;
            let rows = ArraySubset::new_with_ranges(std::slice::from_ref(&(at..at + n)));
            new_steps
                .store_array_subset_opt(&rows, &s[..], &opts)
                .map_err(|e| fail(STEP, &e))?;
            new_times
                .store_array_subset_opt(&rows, &t[..], &opts)
                .map_err(|e| fail(TIME, &e))?;
            at += n;
            r = end;
        }
    }
    let mut members = Map::new();
    for (array, a) in [(VALUES, &new_values), (STEP, &new_steps), (TIME, &new_times)] {
        let meta = serde_json::to_value(a.metadata()).map_err(|e| fail(array, &e))?;
        write_json(&store, &dir.join(array).join("zarr.json"), &meta)?;
        members.insert(array.to_string(), meta);
    }
    let mut attrs = match read_node(c.dir())
        .ok()
        .flatten()
        .and_then(|g| g.get("attributes").cloned())
    {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    attrs
        .entry("actmap")
        .or_insert_with(|| json!({"channel": name, "record_shape": c.record_shape()}));
    // What this repair could not keep stays written in the channel, so a
    // later reader still knows which rows are NaN and whether the steps
    // are real.
    let when = super::utc_now();
    let mut notes: Vec<Value> = c.repaired().iter().map(|n| json!(n)).collect();
    for d in c.damage() {
        let what = match d.array.as_str() {
            a if a == STEP && d.rows.is_empty() => {
                "steps lost: records are numbered 0.. in write order".to_string()
            }
            a if a == STEP => format!(
                "steps of records {}..{} lost: those records were dropped",
                d.rows.start, d.rows.end
            ),
            a if a == VALUES && !d.rows.is_empty() => format!(
                "values of records {}..{} lost: they are NaN",
                d.rows.start, d.rows.end
            ),
            a if a == TIME && !d.rows.is_empty() => format!(
                "write times of records {}..{} lost: they are NaN",
                d.rows.start, d.rows.end
            ),
            a if a == TIME => "write times lost: they are NaN".to_string(),
            _ => continue,
        };
        notes.push(json!(format!(
            "{what} (repaired {when}: {}: {})",
            d.file.display(),
            d.why
        )));
    }
    if !notes.is_empty()
        && let Some(Value::Object(a)) = attrs.get_mut("actmap")
    {
        a.insert("repaired".into(), Value::Array(notes));
    }
    let group = json!({
        "zarr_format": 3,
        "node_type": "group",
        "attributes": attrs,
        "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": members},
    });
    write_json(&store, &dir.join("zarr.json"), &group)?;
    Ok(kept)
}

/// The `step` or `time` array the writer makes, for a channel that lost its own.
fn aux_array(store: &Arc<RunStore>, name: &str, array: &str) -> Result<Array<RunStore>> {
    use zarrs::array::{ArrayBuilder, data_type};
    let rows = vec![super::writer::AUX_CHUNK_ROWS];
    let builder = if array == STEP {
        ArrayBuilder::new(vec![0u64], rows, data_type::int64(), 0i64)
    } else {
        ArrayBuilder::new(vec![0u64], rows, data_type::float64(), f64::NAN)
    };
    builder
        .build(store.clone(), &format!("/{name}/{array}"))
        .map_err(|e| Error::io(store.path_of(name), std::io::Error::other(e.to_string())))
}

fn write_json(store: &RunStore, path: &Path, v: &Value) -> Result<()> {
    let bytes =
        serde_json::to_vec_pretty(v).map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    store.write_atomic(path, &bytes).map_err(io(path))
}

/// The root group's metadata written anew: its attributes (kept when
/// readable), and every node below consolidated, as the writer does.
fn write_root(run: &Path) -> Result<()> {
    let mut attrs = match read_node(run)
        .ok()
        .flatten()
        .and_then(|g| g.get("attributes").cloned())
    {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    attrs
        .entry("actmap")
        .or_insert_with(|| json!({"run_log": FORMAT_VERSION}));
    let mut all = Map::new();
    for (k, mut v) in collect_nodes(run)? {
        if v.get("node_type").and_then(|t| t.as_str()) == Some("group") {
            v["consolidated_metadata"] = json!({"kind": "inline", "must_understand": false, "metadata": {}});
        }
        all.insert(k, v);
    }
    let root = json!({
        "zarr_format": 3,
        "node_type": "group",
        "attributes": attrs,
        "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": all},
    });
    write_json(&RunStore::new(run, false), &run.join("zarr.json"), &root)
}
