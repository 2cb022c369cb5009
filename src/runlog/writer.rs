//! [`RunWriter`]: appends records with their steps to a run log.
//!
//! An append copies the record into the channel's pending rows (a few
//! microseconds for a 4096-wide row) and returns. Pending rows are written
//! into the open chunk in place when the chunk fills, and on every flush:
//! at least every [`WriterOptions::flush_every`] (a background thread), on
//! [`RunWriter::flush`] and on [`RunWriter::close`]. A flush then replaces
//! each array's metadata (its `shape`) atomically, so the new rows become
//! visible together, after their bytes are on disk. Memory is the pending
//! rows of each channel: at most one chunk (2-4 MiB) per channel, however
//! long the run.
//!
//! One writer per run: [`RunWriter::open`] takes a lock naming its pid and
//! refuses a run another live process writes to; a lock left by a writer
//! that died is taken over. Opening an existing run appends to it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use zarrs::array::{Array, ArrayBuilder, ArrayMetadataOptions, ArraySubset, CodecOptions, data_type};

use super::lock::WriterLock;
use super::store::{RunStore, TMP_MARK};
use super::{
    FORMAT_VERSION, STEP, TIME, VALUES, check_channel_name, check_root, collect_nodes, discover, read_node,
};
use crate::error::{Error, Result};

/// Largest values chunk the writer makes (several records per chunk).
pub const CHUNK_BYTES: usize = 4 << 20;
/// Rows per chunk of the `step` and `time` arrays (1 MiB of int64).
pub const AUX_CHUNK_ROWS: u64 = 1 << 17;

/// How a [`RunWriter`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterOptions {
    /// Longest time rows wait in memory before they are written and made
    /// visible (a writer killed loses at most this much).
    pub flush_every: Duration,
    /// fsync chunks and metadata at every flush: survives a power cut too,
    /// at the cost of a disk round trip per file.
    pub sync: bool,
    /// Target size of a `values` chunk in bytes: as many whole records as
    /// fit (at least one). Default [`CHUNK_BYTES`].
    pub chunk_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            flush_every: Duration::from_secs(1),
            sync: false,
            chunk_bytes: CHUNK_BYTES,
        }
    }
}

/// Records of one channel to append.
struct Incoming<'a> {
    shape: &'a [usize],
    values: &'a [f32],
    steps: Option<&'a [i64]>,
    time: f64,
}

struct ChannelWriter {
    name: String,
    /// Record shape.
    shape: Vec<u64>,
    values: Array<RunStore>,
    steps: Array<RunStore>,
    times: Array<RunStore>,
    /// Rows whose bytes are in chunk files.
    on_disk: u64,
    /// Rows the metadata on disk shows.
    committed: u64,
    pending_v: Vec<f32>,
    pending_s: Vec<i64>,
    pending_t: Vec<f64>,
    /// Records per values chunk.
    chunk_rows: u64,
    last_step: Option<i64>,
    /// Metadata to write even without new rows (new channel, labels).
    meta_dirty: bool,
    /// The channel group's attributes.
    attrs: Map<String, Value>,
}

impl ChannelWriter {
    fn rows(&self) -> u64 {
        self.on_disk + self.pending_s.len() as u64
    }

    fn label(&self) -> String {
        format!("channel '{}'", self.name)
    }
}

#[derive(Default)]
struct State {
    channels: Vec<ChannelWriter>,
    index: HashMap<String, usize>,
    /// Groups that are not channels (parents of nested names).
    groups: Vec<String>,
    /// Nodes on disk this writer does not manage (other arrays and groups,
    /// channels it cannot append to), for the root's consolidated metadata.
    others: BTreeMap<String, Value>,
    /// Channels on disk appends are refused to, and why.
    refused: HashMap<String, String>,
    /// The root metadata needs rewriting.
    root_dirty: bool,
    /// A write failed: the error, returned by every later call.
    failed: Option<String>,
    stop: bool,
    closed: bool,
    last_flush: Option<Instant>,
}

struct Shared {
    path: PathBuf,
    store: Arc<RunStore>,
    opts: WriterOptions,
    state: Mutex<State>,
    wake: Condvar,
    lock: Mutex<Option<WriterLock>>,
    took_over: Option<u32>,
    root_attrs: Map<String, Value>,
}

/// Appends records to a run log; see the [module docs](self). `Send` and
/// `Sync`: share it (`Arc<RunWriter>`) between threads.
pub struct RunWriter {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for RunWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunWriter")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

fn zerr(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::io(path, std::io::Error::other(what.to_string()))
}

/// Rows `r` of a 1-D array.
fn rows_subset(r: std::ops::Range<u64>) -> ArraySubset {
    ArraySubset::new_with_ranges(std::slice::from_ref(&r))
}

fn codec_options() -> CodecOptions {
    CodecOptions::default()
        .with_experimental_partial_encoding(true)
        .with_store_empty_chunks(true)
}

fn array_json(a: &Array<RunStore>) -> Value {
    serde_json::to_value(a.metadata_opt(&ArrayMetadataOptions::default())).unwrap_or(Value::Null)
}

fn consolidated(entries: Map<String, Value>) -> Value {
    json!({"kind": "inline", "must_understand": false, "metadata": entries})
}

fn group_json(attrs: &Map<String, Value>, members: Option<Map<String, Value>>) -> Value {
    let mut g = json!({"zarr_format": 3, "node_type": "group", "attributes": attrs});
    if let Some(m) = members {
        g["consolidated_metadata"] = consolidated(m);
    }
    g
}

fn shape_string(s: &[impl std::fmt::Display]) -> String {
    let parts: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn write_json(&self, path: &Path, v: &Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(v).map_err(|e| zerr(path, e))?;
        self.store
            .write_atomic(path, &bytes)
            .map_err(|e| Error::io(path, e))
    }

    /// A new channel's arrays (not on disk until the first flush).
    fn new_channel(&self, name: &str, shape: &[usize]) -> Result<ChannelWriter> {
        let record_len = shape.iter().product::<usize>();
        let record_bytes = record_len.saturating_mul(4).max(1);
        let chunk_rows = (self.opts.chunk_bytes.max(1) / record_bytes).max(1) as u64;
        let shape64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let dims: Vec<String> = std::iter::once("step".to_string())
            .chain(match shape.len() {
                1 => vec!["column".to_string()],
                2 => vec!["row".to_string(), "column".to_string()],
                n => (0..n).map(|i| format!("dim_{i}")).collect(),
            })
            .collect();
        let dir = self.dir(name);
        let build = |b: &mut ArrayBuilder, array: &str| {
            let path = format!("/{name}/{array}");
            b.build(self.store.clone(), &path)
                .map_err(|e| zerr(&dir.join(array), format!("cannot create the array: {e}")))
        };
        let mut vshape = vec![0u64];
        vshape.extend(&shape64);
        let mut vchunk = vec![chunk_rows];
        vchunk.extend(&shape64);
        let values = build(
            ArrayBuilder::new(vshape, vchunk, data_type::float32(), f32::NAN).dimension_names(Some(dims)),
            VALUES,
        )?;
        let steps = build(
            ArrayBuilder::new(vec![0u64], vec![AUX_CHUNK_ROWS], data_type::int64(), 0i64)
                .dimension_names(Some(["step"])),
            STEP,
        )?;
        let mut tb = ArrayBuilder::new(vec![0u64], vec![AUX_CHUNK_ROWS], data_type::float64(), f64::NAN);
        tb.dimension_names(Some(["step"]));
        // xarray decodes these as datetimes; zarr-python sees the seconds.
        tb.attributes_mut()
            .insert("units".into(), json!("seconds since 1970-01-01T00:00:00Z"));
        tb.attributes_mut()
            .insert("calendar".into(), json!("proleptic_gregorian"));
        let times = build(&mut tb, TIME)?;
        Ok(ChannelWriter {
            name: name.to_string(),
            shape: shape64,
            values,
            steps,
            times,
            on_disk: 0,
            committed: 0,
            pending_v: Vec::new(),
            pending_s: Vec::new(),
            pending_t: Vec::new(),
            chunk_rows,
            last_step: None,
            meta_dirty: true,
            attrs: Map::new(),
        })
    }

    /// An existing channel, its three arrays cut to their common length;
    /// `Err(why)` inside when actmap cannot append to it.
    fn open_channel(&self, name: &str) -> Result<std::result::Result<ChannelWriter, String>> {
        let dir = self.dir(name);
        let meta = |array: &str| read_node(&dir.join(array));
        for (array, want) in [(VALUES, "float32"), (STEP, "int64"), (TIME, "float64")] {
            let got =
                meta(array)?.and_then(|v| v.get("data_type").and_then(|t| t.as_str()).map(str::to_string));
            match got {
                None => {
                    return Ok(Err(format!(
                        "channel '{name}' has no '{array}' array; actmap appends only to channels with values, step and time"
                    )));
                }
                Some(g) if g != want => {
                    return Ok(Err(format!(
                        "{name}/{array} is {g}; actmap appends only to {want} '{array}' arrays"
                    )));
                }
                _ => {}
            }
        }
        let open = |array: &str| {
            Array::open(self.store.clone(), &format!("/{name}/{array}"))
                .map_err(|e| Error::format(dir.join(array).join("zarr.json"), format!("cannot open: {e}")))
        };
        let mut values = open(VALUES)?;
        let mut steps = open(STEP)?;
        let mut times = open(TIME)?;
        if values.dimensionality() < 2 || values.dimensionality() > 3 {
            return Ok(Err(format!(
                "{name}/values has {} dimensions; actmap appends 1-D or 2-D records ([n, cols] or [n, rows, cols])",
                values.dimensionality()
            )));
        }
        if steps.dimensionality() != 1 || times.dimensionality() != 1 {
            return Ok(Err(format!("{name}: step and time must be 1-D")));
        }
        let n = values.shape()[0].min(steps.shape()[0]).min(times.shape()[0]);
        let shape64: Vec<u64> = values.shape()[1..].to_vec();
        let chunk_rows = values
            .chunk_shape(&vec![0; values.dimensionality()])
            .map_or(1, |s| s[0].get());
        let last_step = if n > 0 {
            let v: Vec<i64> = steps
                .retrieve_array_subset(&rows_subset(n - 1..n))
                .map_err(|e| zerr(&dir.join(STEP), format!("cannot read the last step: {e}")))?;
            v.first().copied()
        } else {
            None
        };
        let uneven = values.shape()[0] != n || steps.shape()[0] != n || times.shape()[0] != n;
        let mut vshape = vec![n];
        vshape.extend(&shape64);
        values.set_shape(vshape).map_err(|e| zerr(&dir, e))?;
        steps.set_shape(vec![n]).map_err(|e| zerr(&dir, e))?;
        times.set_shape(vec![n]).map_err(|e| zerr(&dir, e))?;
        let attrs = match read_node(&dir)?.and_then(|v| v.get("attributes").cloned()) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        Ok(Ok(ChannelWriter {
            name: name.to_string(),
            shape: shape64,
            values,
            steps,
            times,
            on_disk: n,
            committed: n,
            pending_v: Vec::new(),
            pending_s: Vec::new(),
            pending_t: Vec::new(),
            chunk_rows: chunk_rows.max(1),
            last_step,
            meta_dirty: uneven,
            attrs,
        }))
    }

    /// Write a channel's pending rows into its chunks (not yet visible).
    fn write_pending(&self, ch: &mut ChannelWriter) -> Result<()> {
        let k = ch.pending_s.len() as u64;
        if k == 0 {
            return Ok(());
        }
        let (n0, n1) = (ch.on_disk, ch.on_disk + k);
        let dir = self.dir(&ch.name);
        let opts = codec_options();
        let mut vshape = vec![n1];
        vshape.extend(&ch.shape);
        let mut ranges = Vec::with_capacity(1 + ch.shape.len());
        ranges.push(n0..n1);
        ranges.extend(ch.shape.iter().map(|&d| 0..d));
        ch.values.set_shape(vshape).map_err(|e| zerr(&dir, e))?;
        ch.steps.set_shape(vec![n1]).map_err(|e| zerr(&dir, e))?;
        ch.times.set_shape(vec![n1]).map_err(|e| zerr(&dir, e))?;
        ch.values
            .store_array_subset_opt(&ArraySubset::new_with_ranges(&ranges), &ch.pending_v[..], &opts)
            .map_err(|e| zerr(&dir.join(VALUES), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.steps
            .store_array_subset_opt(&rows_subset(n0..n1), &ch.pending_s[..], &opts)
            .map_err(|e| zerr(&dir.join(STEP), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.times
            .store_array_subset_opt(&rows_subset(n0..n1), &ch.pending_t[..], &opts)
            .map_err(|e| zerr(&dir.join(TIME), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.on_disk = n1;
        ch.pending_v.clear();
        ch.pending_s.clear();
        ch.pending_t.clear();
        Ok(())
    }

    /// Make a channel's written rows visible: each array's metadata, then
    /// the channel group's (with the three consolidated).
    fn commit(&self, ch: &mut ChannelWriter) -> Result<()> {
        if ch.committed == ch.on_disk && !ch.meta_dirty {
            return Ok(());
        }
        let dir = self.dir(&ch.name);
        let mut members = Map::new();
        for (name, a) in [(VALUES, &ch.values), (STEP, &ch.steps), (TIME, &ch.times)] {
            let meta = array_json(a);
            self.write_json(&dir.join(name).join("zarr.json"), &meta)?;
            members.insert(name.to_string(), meta);
        }
        let attrs = channel_attrs(ch);
        self.write_json(&dir.join("zarr.json"), &group_json(&attrs, Some(members)))?;
        ch.committed = ch.on_disk;
        ch.meta_dirty = false;
        Ok(())
    }

    /// The root group's metadata, with every node consolidated.
    fn commit_root(&self, st: &State) -> Result<()> {
        let mut all: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &st.others {
            let mut v = v.clone();
            if v.get("node_type").and_then(|t| t.as_str()) == Some("group") {
                v["consolidated_metadata"] = consolidated(Map::new());
            }
            all.insert(k.clone(), v);
        }
        for g in &st.groups {
            all.entry(g.clone())
                .or_insert_with(|| group_json(&Map::new(), Some(Map::new())));
        }
        for ch in &st.channels {
            all.insert(ch.name.clone(), group_json(&channel_attrs(ch), Some(Map::new())));
            for (name, a) in [(VALUES, &ch.values), (STEP, &ch.steps), (TIME, &ch.times)] {
                all.insert(format!("{}/{name}", ch.name), array_json(a));
            }
        }
        let root = group_json(&self.root_attrs, Some(all.into_iter().collect()));
        self.write_json(&self.path.join("zarr.json"), &root)
    }

    /// Write and commit everything pending.
    fn flush_locked(&self, st: &mut State) -> Result<()> {
        if let Some(e) = &st.failed {
            return Err(Error::io(&self.path, std::io::Error::other(e.clone())));
        }
        let result = (|| -> Result<()> {
            let mut changed = st.root_dirty;
            for i in 0..st.channels.len() {
                let ch = &mut st.channels[i];
                let before = (ch.committed, ch.meta_dirty);
                self.write_pending(ch)?;
                self.commit(ch)?;
                changed |= before != (ch.committed, ch.meta_dirty);
            }
            if changed {
                self.commit_root(st)?;
                st.root_dirty = false;
            }
            Ok(())
        })();
        st.last_flush = Some(Instant::now());
        if let Err(e) = &result {
            st.failed = Some(e.to_string());
        }
        result
    }

    /// Create the groups above a nested channel name.
    fn ensure_parents(&self, st: &mut State, name: &str) -> Result<()> {
        let parts: Vec<&str> = name.split('/').collect();
        for i in 1..parts.len() {
            let g = parts[..i].join("/");
            if st.index.contains_key(&g) || st.refused.contains_key(&g) {
                return Err(Error::Invalid(format!(
                    "channel name '{name}': '{g}' is a channel already; a channel cannot hold another"
                )));
            }
            if !st.groups.contains(&g) {
                let path = self.dir(&g).join("zarr.json");
                if read_node(&self.dir(&g))?.is_none() {
                    self.write_json(&path, &group_json(&Map::new(), None))?;
                }
                st.groups.push(g);
                st.root_dirty = true;
            }
        }
        if st
            .others
            .get(name)
            .is_some_and(|v| v.get("node_type").and_then(|t| t.as_str()) == Some("array"))
        {
            return Err(Error::Invalid(format!(
                "channel name '{name}': the run holds an array of that name"
            )));
        }
        let nested = format!("{name}/");
        if st.groups.iter().any(|g| g == name) || st.index.keys().any(|c| c.starts_with(&nested)) {
            return Err(Error::Invalid(format!(
                "channel name '{name}': other channels are nested under it already"
            )));
        }
        Ok(())
    }

    fn append(&self, channel: &str, rec: Incoming<'_>) -> Result<Option<(i64, i64)>> {
        let dims = rec.shape;
        let record_len = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let record_len = match record_len {
            Some(n) if n > 0 && !dims.is_empty() && dims.len() <= 2 => n,
            _ => {
                return Err(Error::Invalid(format!(
                    "channel '{channel}': a record of shape {} cannot be logged (records are 1-D or 2-D, not empty)",
                    shape_string(dims)
                )));
            }
        };
        if !rec.values.len().is_multiple_of(record_len) || rec.values.is_empty() {
            return Err(Error::Invalid(format!(
                "channel '{channel}': {} values are not whole records of shape {}",
                rec.values.len(),
                shape_string(dims)
            )));
        }
        let count = rec.values.len() / record_len;
        if let Some(s) = rec.steps
            && s.len() != count
        {
            return Err(Error::Invalid(format!(
                "channel '{channel}': {} steps for {count} records",
                s.len()
            )));
        }
        let mut st = self.lock_state();
        if st.closed {
            return Err(Error::Invalid(format!(
                "{}: the run writer is closed",
                self.path.display()
            )));
        }
        if let Some(e) = &st.failed {
            return Err(Error::io(&self.path, std::io::Error::other(e.clone())));
        }
        if let Some(why) = st.refused.get(channel) {
            return Err(Error::Invalid(why.clone()));
        }
        let index = match st.index.get(channel) {
            Some(&i) => i,
            None => {
                check_channel_name(channel)?;
                self.ensure_parents(&mut st, channel)?;
                let ch = self.new_channel(channel, dims)?;
                st.channels.push(ch);
                let i = st.channels.len() - 1;
                st.index.insert(channel.to_string(), i);
                st.root_dirty = true;
                i
            }
        };
        let ch = &mut st.channels[index];
        if ch.shape.len() != dims.len() || ch.shape.iter().zip(dims).any(|(&a, &b)| a != b as u64) {
            return Err(Error::Invalid(format!(
                "{}: a record of shape {}, but the channel's records have shape {}",
                ch.label(),
                shape_string(dims),
                shape_string(&ch.shape)
            )));
        }
        let first = rec
            .steps
            .map_or_else(|| ch.last_step.map_or(0, |s| s.saturating_add(1)), |s| s[0]);
        let mut last = first;
        let mut result = Ok(());
        for r in 0..count {
            let step = match rec.steps {
                Some(s) => s[r],
                None => first.saturating_add(r as i64),
            };
            last = step;
            ch.pending_v
                .extend_from_slice(&rec.values[r * record_len..(r + 1) * record_len]);
            ch.pending_s.push(step);
            ch.pending_t.push(rec.time);
            ch.last_step = Some(step);
            // A full chunk is written at once: memory stays one chunk.
            if ch.rows().is_multiple_of(ch.chunk_rows) {
                result = self.write_pending(ch);
                if result.is_err() {
                    break;
                }
            }
        }
        if let Err(e) = &result {
            st.failed = Some(e.to_string());
        }
        result.map(|()| Some((first, last)))
    }
}

fn channel_attrs(ch: &ChannelWriter) -> Map<String, Value> {
    let mut a = ch.attrs.clone();
    a.insert(
        "actmap".into(),
        json!({"channel": ch.name, "record_shape": ch.shape}),
    );
    a
}

impl RunWriter {
    /// Open the run log at `path` for appending, creating it (and its
    /// parent directories) when it does not exist. Fails when `path` is
    /// something other than a run log (a file, a directory with other
    /// content, a Zarr array) or another live process writes to it.
    pub fn open(path: impl AsRef<Path>, opts: WriterOptions) -> Result<RunWriter> {
        let path = path.as_ref().to_path_buf();
        if path.exists() && !path.is_dir() {
            return Err(Error::format(
                &path,
                "exists and is not a directory; a run log is a directory",
            ));
        }
        let fresh = !path.join("zarr.json").exists();
        if fresh && path.is_dir() {
            let other = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != super::LOCK_FILE);
            if other {
                return Err(Error::format(
                    &path,
                    "not a run log (no zarr.json) and not empty; record to a new directory",
                ));
            }
        }
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        let lock = WriterLock::acquire(&path)?;
        let store = Arc::new(RunStore::new(&path, opts.sync));
        let mut root_attrs = Map::new();
        let mut st = State::default();
        if fresh {
            root_attrs.insert("actmap".into(), json!({"run_log": FORMAT_VERSION}));
        } else {
            let meta = check_root(&path)?;
            if let Some(Value::Object(a)) = meta.get("attributes") {
                root_attrs = a.clone();
            }
            root_attrs
                .entry("actmap")
                .or_insert_with(|| json!({"run_log": FORMAT_VERSION}));
            remove_temporaries(&path, 0);
        }
        let shared = Shared {
            path: path.clone(),
            store,
            opts: opts.clone(),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            took_over: lock.took_over,
            lock: Mutex::new(Some(lock)),
            root_attrs,
        };
        if fresh {
            st.root_dirty = true;
            shared.commit_root(&st)?;
        } else {
            st.others = collect_nodes(&path)?;
            for name in discover(&path)? {
                match shared.open_channel(&name)? {
                    Ok(ch) => {
                        for k in [
                            name.clone(),
                            format!("{name}/{VALUES}"),
                            format!("{name}/{STEP}"),
                            format!("{name}/{TIME}"),
                        ] {
                            st.others.remove(&k);
                        }
                        st.index.insert(name, st.channels.len());
                        st.channels.push(ch);
                    }
                    Err(why) => {
                        st.refused.insert(name, why);
                    }
                }
            }
            // Plain groups on disk (parents of nested channels, others).
            st.groups = st
                .others
                .iter()
                .filter(|(k, v)| {
                    v.get("node_type").and_then(|t| t.as_str()) == Some("group")
                        && !st.refused.contains_key(*k)
                })
                .map(|(k, _)| k.clone())
                .collect();
            // Arrays of a channel cut short by a writer killed between two
            // metadata writes are made equal again now.
            st.root_dirty = true;
            shared.flush_locked(&mut st)?;
        }
        *shared.state.lock().unwrap_or_else(|e| e.into_inner()) = st;
        let shared = Arc::new(shared);
        let s2 = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("actmap run log flush".into())
            .spawn(move || flush_loop(&s2))
            .map_err(|e| Error::io(&path, e))?;
        Ok(RunWriter {
            shared,
            flusher: Mutex::new(Some(flusher)),
        })
    }

    /// The run log's directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The pid of a writer that died holding this run's lock, when this
    /// writer took the lock over from it.
    pub fn took_over_lock(&self) -> Option<u32> {
        self.shared.took_over
    }

    /// Append one record (a row of `shape = [cols]`, or a 2-D record of
    /// `shape = [rows, cols]`, row-major) to `channel`, at `step` (`None`:
    /// the channel's previous step + 1, or 0) and wall time `time` (Unix
    /// seconds). The channel is created by its first record, whose shape
    /// it keeps: a record of another shape is an error for that record
    /// only. Returns the step used.
    pub fn append(
        &self,
        channel: &str,
        step: Option<i64>,
        time: f64,
        shape: &[usize],
        values: &[f32],
    ) -> Result<i64> {
        let steps = step.map(|s| [s]);
        let r = self.shared.append(
            channel,
            Incoming {
                shape,
                values,
                steps: steps.as_ref().map(|s| &s[..]),
                time,
            },
        )?;
        Ok(r.map_or(0, |(first, _)| first))
    }

    /// Append several records of `shape` at once (`values.len()` a
    /// multiple of the record size), with one step each (`None`: counting
    /// on from the channel's previous step). Returns the first and last
    /// step used.
    pub fn append_records(
        &self,
        channel: &str,
        shape: &[usize],
        values: &[f32],
        steps: Option<&[i64]>,
        time: f64,
    ) -> Result<(i64, i64)> {
        let r = self.shared.append(
            channel,
            Incoming {
                shape,
                values,
                steps,
                time,
            },
        )?;
        Ok(r.unwrap_or((0, 0)))
    }

    /// Labels for the axis `axis` of `channel`'s records (for a row, axis 0:
    /// its columns, e.g. token strings; for a 2-D record, axis 0 its rows and
    /// axis 1 its columns). Stored as the `values` array's
    /// `column_labels` / `row_labels` attribute with the next flush.
    pub fn set_labels(&self, channel: &str, axis: usize, labels: Vec<String>) -> Result<()> {
        let mut st = self.shared.lock_state();
        let Some(&i) = st.index.get(channel) else {
            return Err(Error::Invalid(format!(
                "channel '{channel}' has no records yet; set its labels after its first record"
            )));
        };
        let ch = &mut st.channels[i];
        let Some(&n) = ch.shape.get(axis) else {
            return Err(Error::Invalid(format!(
                "{}: records of shape {} have no axis {axis}",
                ch.label(),
                shape_string(&ch.shape)
            )));
        };
        if labels.len() as u64 != n {
            return Err(Error::Invalid(format!(
                "{}: {} labels for an axis of {n}",
                ch.label(),
                labels.len()
            )));
        }
        let key = if axis + 1 == ch.shape.len() {
            "column_labels"
        } else {
            "row_labels"
        };
        ch.values.attributes_mut().insert(key.into(), json!(labels));
        ch.meta_dirty = true;
        st.root_dirty = true;
        Ok(())
    }

    /// Channels and their record shapes, in creation order.
    pub fn channels(&self) -> Vec<(String, Vec<usize>)> {
        let st = self.shared.lock_state();
        st.channels
            .iter()
            .map(|c| (c.name.clone(), c.shape.iter().map(|&d| d as usize).collect()))
            .collect()
    }

    /// The step of `channel`'s last record (what a record without a step
    /// counts on from).
    pub fn last_step(&self, channel: &str) -> Option<i64> {
        let st = self.shared.lock_state();
        st.index.get(channel).and_then(|&i| st.channels[i].last_step)
    }

    /// Records of `channel` appended so far (written or pending).
    pub fn rows(&self, channel: &str) -> Option<u64> {
        let st = self.shared.lock_state();
        st.index.get(channel).map(|&i| st.channels[i].rows())
    }

    /// Write every pending record and make it visible to readers now.
    pub fn flush(&self) -> Result<()> {
        let mut st = self.shared.lock_state();
        self.shared.flush_locked(&mut st)
    }

    /// Flush, stop the background flusher and release the run's lock; later
    /// appends are refused. Dropping the writer does the same, ignoring
    /// errors.
    pub fn close(&self) -> Result<()> {
        let result = {
            let mut st = self.shared.lock_state();
            if st.closed {
                return Ok(());
            }
            let r = self.shared.flush_locked(&mut st);
            st.closed = true;
            st.stop = true;
            self.shared.wake.notify_all();
            r
        };
        let flusher = self.flusher.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = flusher {
            let _ = t.join();
        }
        self.shared.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
        result
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn flush_loop(shared: &Shared) {
    let every = shared.opts.flush_every.max(Duration::from_millis(10));
    let mut st = shared.lock_state();
    loop {
        if st.stop {
            return;
        }
        // Due one interval after the last flush (by this thread, a chunk
        // boundary or a caller).
        let last = *st.last_flush.get_or_insert_with(Instant::now);
        let due = every.saturating_sub(last.elapsed());
        if due.is_zero() {
            if st.failed.is_none() {
                let _ = shared.flush_locked(&mut st);
            }
            st.last_flush = Some(Instant::now());
            continue;
        }
        st = match shared.wake.wait_timeout(st, due) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        };
    }
}

/// Remove temporary files a killed writer left.
fn remove_temporaries(dir: &Path, depth: usize) {
    if depth > 40 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        match e.file_type() {
            Ok(t) if t.is_dir() => remove_temporaries(&e.path(), depth + 1),
            Ok(_) if name.contains(TMP_MARK) => {
                let _ = std::fs::remove_file(e.path());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let w = RunWriter::open(dir.path().join("run"), WriterOptions::default()).unwrap();
        assert_eq!(w.append("a", None, 1.0, &[4], &[1.0, 2.0, 3.0, 4.0]).unwrap(), 0);
        assert_eq!(w.append("a", None, 1.0, &[4], &[1.0; 4]).unwrap(), 1);
        assert_eq!(w.append("a", Some(10), 1.0, &[4], &[1.0; 4]).unwrap(), 10);
        let e = w.append("a", None, 1.0, &[3], &[1.0; 3]).unwrap_err().to_string();
        assert!(
            e.contains("shape [3], but the channel's records have shape [4]"),
            "{e}"
        );
        assert_eq!(
            w.append_records("a", &[4], &[0.0; 8], None, 2.0).unwrap(),
            (11, 12)
        );
        assert_eq!(w.rows("a"), Some(5));
        assert!(w.append("a/values", None, 0.0, &[1], &[1.0]).is_err());
        assert!(
            w.append("a/b", None, 0.0, &[1], &[1.0]).is_err(),
            "a channel holds no channel"
        );
        w.append("m/attn", None, 0.0, &[2, 3], &[0.5; 6]).unwrap();
        assert!(
            w.append("m", None, 0.0, &[1], &[1.0]).is_err(),
            "a group of channels is no channel"
        );
        w.close().unwrap();
    }
}
