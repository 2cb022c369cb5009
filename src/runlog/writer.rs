//! [`RunWriter`]: appends records with their steps to a run log.
//!
//! An append copies the record into its channel's pending rows (a few
//! microseconds for a 4096-wide row) and returns; everything that touches
//! the disk happens on the writer's I/O thread. When a channel's pending
//! rows reach the end of a chunk they are handed to that thread, which
//! writes them into the chunk in place; at least every
//! [`WriterOptions::flush_every`] (a timer thread), on [`RunWriter::flush`]
//! and on [`RunWriter::close`], every channel's pending rows are handed
//! over and then the metadata is replaced atomically (each array's
//! `shape`, the channel group's and the root's consolidated metadata), so
//! new rows become visible together, after their bytes are on disk.
//!
//! Memory is the pending rows (at most one chunk, 2-4 MiB, per channel)
//! plus a bounded queue of chunks on their way to the disk: a writer faster
//! than the disk waits for it instead of growing.
//!
//! One writer per run: [`RunWriter::open`] takes a lock naming its pid and
//! refuses a run another live process writes to; a lock left by a writer
//! that died is taken over. Opening an existing run appends to it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
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
/// Chunks handed to the I/O thread and not yet written, at most.
const QUEUE: usize = 4;

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

/// Rows handed from the appenders to the I/O thread.
#[derive(Default)]
struct Rows {
    values: Vec<f32>,
    steps: Vec<i64>,
    times: Vec<f64>,
}

impl Rows {
    fn len(&self) -> usize {
        self.steps.len()
    }
}

/// Work for the I/O thread, in the order appends made it.
enum Job {
    /// A new channel (its arrays are created on disk at the next commit),
    /// with the shape of one record and of a values chunk.
    Create {
        name: String,
        shape: Vec<u64>,
        chunk: Vec<u64>,
    },
    /// Rows of channel `index`, starting at its row `first`.
    Write { index: usize, first: u64, rows: Rows },
    /// An attribute of a channel's `values` array (labels, columns).
    Attr { index: usize, key: String, value: Value },
    /// Make everything written visible; the result goes to `reply`.
    Commit { reply: Option<Sender<Result<()>>> },
}

/// A channel as the appenders see it.
struct ChannelState {
    name: String,
    /// Record shape.
    shape: Vec<u64>,
    /// Records per values chunk.
    chunk_rows: u64,
    /// Rows appended (handed over or pending).
    rows: u64,
    /// Rows handed to the I/O thread.
    sent: u64,
    pending: Rows,
    last_step: Option<i64>,
}

/// The appenders' side, behind the writer's lock (held only to copy rows).
#[derive(Default)]
struct State {
    channels: Vec<ChannelState>,
    index: HashMap<String, usize>,
    /// Groups that are not channels (parents of nested names, others).
    groups: Vec<String>,
    /// Arrays on disk that are not channels' (names a channel cannot take).
    arrays: Vec<String>,
    /// Channels on disk appends are refused to, and why.
    refused: HashMap<String, String>,
    closed: bool,
    stop: bool,
    last_flush: Option<Instant>,
}

/// A channel as the I/O thread sees it: its arrays on disk.
struct DiskChannel {
    name: String,
    shape: Vec<u64>,
    values: Array<RunStore>,
    steps: Array<RunStore>,
    times: Array<RunStore>,
    /// Rows whose bytes are in chunk files.
    on_disk: u64,
    /// Rows the metadata on disk shows.
    committed: u64,
    /// Metadata to write even without new rows (new channel, labels).
    meta_dirty: bool,
    /// The channel group's attributes.
    attrs: Map<String, Value>,
}

/// The I/O thread's side: everything on disk.
struct Disk {
    path: PathBuf,
    store: Arc<RunStore>,
    root_attrs: Map<String, Value>,
    channels: Vec<DiskChannel>,
    /// Plain groups (parents of nested channels, groups of other tools).
    groups: Vec<String>,
    /// Nodes on disk this writer does not manage (other arrays and groups,
    /// channels it cannot append to), for the root's consolidated metadata.
    others: BTreeMap<String, Value>,
    root_dirty: bool,
}

struct Shared {
    path: PathBuf,
    opts: WriterOptions,
    state: Mutex<State>,
    wake: Condvar,
    jobs: Mutex<Option<SyncSender<Job>>>,
    /// Buffers the I/O thread is done with, for reuse.
    spare: Mutex<Receiver<Rows>>,
    /// A write failed: the error, returned by every later call.
    failed: Mutex<Option<Failure>>,
    lock: Mutex<Option<WriterLock>>,
    took_over: Option<super::lock::LockOwner>,
}

/// The first write that failed: what it was, and the file and OS error
/// (errno) when the system refused it (a full disk, a read-only remount).
#[derive(Clone, Debug)]
struct Failure {
    message: String,
    os: Option<(PathBuf, i32)>,
}

impl Failure {
    fn error(&self, run: &Path) -> Error {
        match &self.os {
            // The errno travels (Python raises OSError with it); the path
            // is the file inside the run that could not be written.
            Some((file, code)) => Error::io(file, std::io::Error::from_raw_os_error(*code)),
            None => Error::io(run, std::io::Error::other(self.message.clone())),
        }
    }
}

/// Appends records to a run log; see the [module docs](self). `Send` and
/// `Sync`: share it (`Arc<RunWriter>`) between threads.
pub struct RunWriter {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
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

pub(crate) fn codec_options() -> CodecOptions {
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

/// The chunk of a `values` array of records of `shape`: as many whole
/// records as fit in `bytes` (at least one); a 2-D record larger than that
/// is cut into bands of its rows, so no chunk is much over `bytes`.
fn chunk_shape(shape: &[u64], bytes: usize) -> Vec<u64> {
    let bytes = bytes.max(4) as u64;
    let record = shape.iter().product::<u64>().saturating_mul(4).max(1);
    if record > bytes && shape.len() == 2 {
        let rows = (bytes / (shape[1] * 4).max(1)).clamp(1, shape[0]);
        return vec![1, rows, shape[1]];
    }
    std::iter::once((bytes / record).max(1))
        .chain(shape.iter().copied())
        .collect()
}

fn is_group(v: &Value) -> bool {
    v.get("node_type").and_then(|t| t.as_str()) == Some("group")
}

fn channel_attrs(ch: &DiskChannel) -> Map<String, Value> {
    let mut a = ch.attrs.clone();
    // Other keys of `actmap` (what a repair left, `repaired`) are kept.
    let mut own = match a.remove("actmap") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    own.insert("channel".into(), json!(ch.name));
    own.insert("record_shape".into(), json!(ch.shape));
    a.insert("actmap".into(), Value::Object(own));
    a
}

impl Disk {
    fn dir(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn write_json(&self, path: &Path, v: &Value) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(v).map_err(|e| zerr(path, e))?;
        self.store
            .write_atomic(path, &bytes)
            .map_err(|e| Error::io(path, e))
    }

    /// A new channel's arrays (on disk with the next commit), and the
    /// groups above a nested name.
    fn create(&mut self, name: &str, shape64: &[u64], vchunk: Vec<u64>) -> Result<()> {
        let parts: Vec<&str> = name.split('/').collect();
        for i in 1..parts.len() {
            let g = parts[..i].join("/");
            if !self.groups.contains(&g) {
                if read_node(&self.dir(&g))?.is_none() {
                    self.write_json(&self.dir(&g).join("zarr.json"), &group_json(&Map::new(), None))?;
                }
                self.groups.push(g);
            }
        }
        let dims: Vec<String> = std::iter::once("step".to_string())
            .chain(match shape64.len() {
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
        vshape.extend(shape64);
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
        self.channels.push(DiskChannel {
            name: name.to_string(),
            shape: shape64.to_vec(),
            values,
            steps,
            times,
            on_disk: 0,
            committed: 0,
            meta_dirty: true,
            attrs: Map::new(),
        });
        self.root_dirty = true;
        Ok(())
    }

    /// An existing channel, its three arrays cut to their common length;
    /// `Err(why)` inside when actmap cannot append to it. Also returns its
    /// values chunk rows and its last step.
    #[allow(clippy::type_complexity)]
    fn open_channel(
        &self,
        name: &str,
    ) -> Result<std::result::Result<(DiskChannel, u64, Option<i64>), String>> {
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
        Ok(Ok((
            DiskChannel {
                name: name.to_string(),
                shape: shape64,
                values,
                steps,
                times,
                on_disk: n,
                committed: n,
                meta_dirty: uneven,
                attrs,
            },
            chunk_rows.max(1),
            last_step,
        )))
    }

    /// Write rows of a channel into its chunks (not yet visible).
    fn write(&mut self, index: usize, first: u64, rows: &Rows) -> Result<()> {
        let Some(ch) = self.channels.get_mut(index) else {
            return Ok(());
        };
        let k = rows.len() as u64;
        if k == 0 {
            return Ok(());
        }
        let (n0, n1) = (first, first + k);
        let dir = self.path.join(&ch.name);
        let opts = codec_options();
        let mut vshape = vec![n1.max(ch.on_disk)];
        vshape.extend(&ch.shape);
        let mut ranges = Vec::with_capacity(1 + ch.shape.len());
        ranges.push(n0..n1);
        ranges.extend(ch.shape.iter().map(|&d| 0..d));
        ch.values.set_shape(vshape).map_err(|e| zerr(&dir, e))?;
        ch.steps
            .set_shape(vec![n1.max(ch.on_disk)])
            .map_err(|e| zerr(&dir, e))?;
        ch.times
            .set_shape(vec![n1.max(ch.on_disk)])
            .map_err(|e| zerr(&dir, e))?;
        ch.values
            .store_array_subset_opt(&ArraySubset::new_with_ranges(&ranges), &rows.values[..], &opts)
            .map_err(|e| zerr(&dir.join(VALUES), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.steps
            .store_array_subset_opt(&rows_subset(n0..n1), &rows.steps[..], &opts)
            .map_err(|e| zerr(&dir.join(STEP), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.times
            .store_array_subset_opt(&rows_subset(n0..n1), &rows.times[..], &opts)
            .map_err(|e| zerr(&dir.join(TIME), format!("cannot write rows {n0}..{n1}: {e}")))?;
        ch.on_disk = ch.on_disk.max(n1);
        Ok(())
    }

    /// Make every channel's written rows visible: each array's metadata,
    /// the channel group's (its three arrays consolidated), then the
    /// root's (everything consolidated).
    fn commit(&mut self) -> Result<()> {
        let mut changed = self.root_dirty;
        for i in 0..self.channels.len() {
            let ch = &self.channels[i];
            if ch.committed == ch.on_disk && !ch.meta_dirty {
                continue;
            }
            let dir = self.dir(&ch.name);
            let mut members = Map::new();
            for (name, a) in [(VALUES, &ch.values), (STEP, &ch.steps), (TIME, &ch.times)] {
                let meta = array_json(a);
                self.write_json(&dir.join(name).join("zarr.json"), &meta)?;
                members.insert(name.to_string(), meta);
            }
            self.write_json(
                &dir.join("zarr.json"),
                &group_json(&channel_attrs(ch), Some(members)),
            )?;
            let ch = &mut self.channels[i];
            ch.committed = ch.on_disk;
            ch.meta_dirty = false;
            changed = true;
        }
        if changed {
            self.commit_root()?;
            self.root_dirty = false;
        }
        Ok(())
    }

    fn commit_root(&self) -> Result<()> {
        let mut all: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &self.others {
            let mut v = v.clone();
            if is_group(&v) {
                v["consolidated_metadata"] = consolidated(Map::new());
            }
            all.insert(k.clone(), v);
        }
        for g in &self.groups {
            all.entry(g.clone())
                .or_insert_with(|| group_json(&Map::new(), Some(Map::new())));
        }
        for ch in &self.channels {
            all.insert(ch.name.clone(), group_json(&channel_attrs(ch), Some(Map::new())));
            for (name, a) in [(VALUES, &ch.values), (STEP, &ch.steps), (TIME, &ch.times)] {
                all.insert(format!("{}/{name}", ch.name), array_json(a));
            }
        }
        let root = group_json(&self.root_attrs, Some(all.into_iter().collect()));
        self.write_json(&self.path.join("zarr.json"), &root)
    }

    fn job(&mut self, job: &mut Job) -> Result<()> {
        match job {
            Job::Create { name, shape, chunk } => {
                let (name, shape, chunk) = (name.clone(), shape.clone(), chunk.clone());
                self.create(&name, &shape, chunk)
            }
            Job::Write { index, first, rows } => self.write(*index, *first, rows),
            Job::Attr { index, key, value } => {
                if let Some(ch) = self.channels.get_mut(*index) {
                    ch.values
                        .attributes_mut()
                        .insert(key.clone(), std::mem::take(value));
                    ch.meta_dirty = true;
                }
                Ok(())
            }
            Job::Commit { .. } => self.commit(),
        }
    }
}

/// The I/O thread: run jobs until every sender is gone. After a failure,
/// nothing more is written; commits report the failure.
fn io_loop(mut disk: Disk, jobs: Receiver<Job>, spare: Sender<Rows>, shared: Arc<Shared>) {
    for mut job in jobs {
        let failed = shared.failed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let result = match &failed {
            Some(f) => Err(f.error(&disk.path)),
            None => disk.job(&mut job),
        };
        if let (Err(e), None) = (&result, &failed) {
            let os = match e {
                Error::Io { path, cause } => cause.raw_os_error().map(|c| (path.clone(), c)),
                _ => None,
            };
            let f = Failure {
                message: e.to_string(),
                os: os.or_else(|| disk.store.take_failure()),
            };
            *shared.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
        }
        match job {
            Job::Commit { reply: Some(reply) } => {
                let _ = reply.send(result);
            }
            Job::Write { mut rows, .. } => {
                rows.values.clear();
                rows.steps.clear();
                rows.times.clear();
                let _ = spare.send(rows);
            }
            _ => {}
        }
    }
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed(&self) -> Option<Error> {
        let f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        f.as_ref().map(|f| f.error(&self.path))
    }

    /// Hand a job to the I/O thread (waits while its queue is full).
    fn send(&self, job: Job) -> Result<()> {
        let tx = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match tx {
            Some(tx) => tx
                .send(job)
                .map_err(|_| self.failed().unwrap_or_else(|| self.closed())),
            None => Err(self.closed()),
        }
    }

    fn closed(&self) -> Error {
        Error::Invalid(format!("{}: the run writer is closed", self.path.display()))
    }

    /// A fresh buffer for pending rows, reusing one the I/O thread is done with.
    fn fresh_rows(&self) -> Rows {
        self.spare
            .lock()
            .ok()
            .and_then(|r| r.try_recv().ok())
            .unwrap_or_default()
    }

    /// Hand a channel's pending rows over (under the state lock, so jobs
    /// keep the order of the appends).
    fn hand_over(&self, ch: &mut ChannelState, index: usize) -> Result<()> {
        if ch.pending.len() == 0 {
            return Ok(());
        }
        let fresh = self.fresh_rows();
        let rows = std::mem::replace(&mut ch.pending, fresh);
        let first = ch.sent;
        ch.sent += rows.len() as u64;
        self.send(Job::Write { index, first, rows })
    }

    /// Hand every channel's pending rows over and commit; the receiver
    /// gets the commit's result.
    fn flush_locked(&self, st: &mut State, reply: Option<Sender<Result<()>>>) -> Result<()> {
        for i in 0..st.channels.len() {
            let ch = &mut st.channels[i];
            self.hand_over(ch, i)?;
        }
        st.last_flush = Some(Instant::now());
        self.send(Job::Commit { reply })
    }

    fn append(&self, channel: &str, rec: Incoming<'_>) -> Result<(i64, i64)> {
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
        if let Some(e) = self.failed() {
            return Err(e);
        }
        let mut st = self.lock_state();
        if st.closed {
            return Err(self.closed());
        }
        if let Some(why) = st.refused.get(channel) {
            return Err(Error::Invalid(why.clone()));
        }
        let index = match st.index.get(channel) {
            Some(&i) => i,
            None => self.new_channel(&mut st, channel, dims)?,
        };
        let ch = &mut st.channels[index];
        if ch.shape.len() != dims.len() || ch.shape.iter().zip(dims).any(|(&a, &b)| a != b as u64) {
            return Err(Error::Invalid(format!(
                "channel '{}': a record of shape {}, but the channel's records have shape {}",
                ch.name,
                shape_string(dims),
                shape_string(&ch.shape)
            )));
        }
        let first = rec
            .steps
            .map_or_else(|| ch.last_step.map_or(0, |s| s.saturating_add(1)), |s| s[0]);
        let mut last = first;
        for r in 0..count {
            let step = match rec.steps {
                Some(s) => s[r],
                None => first.saturating_add(r as i64),
            };
            last = step;
            ch.pending
                .values
                .extend_from_slice(&rec.values[r * record_len..(r + 1) * record_len]);
            ch.pending.steps.push(step);
            ch.pending.times.push(rec.time);
            ch.last_step = Some(step);
            ch.rows += 1;
            // A full chunk goes to the disk now: memory stays one chunk.
            if ch.rows.is_multiple_of(ch.chunk_rows) {
                self.hand_over(ch, index)?;
            }
        }
        Ok((first, last))
    }

    /// Register a new channel (checked) and tell the I/O thread.
    fn new_channel(&self, st: &mut State, name: &str, dims: &[usize]) -> Result<usize> {
        check_channel_name(name)?;
        let parts: Vec<&str> = name.split('/').collect();
        for i in 1..parts.len() {
            let g = parts[..i].join("/");
            if st.index.contains_key(&g) || st.refused.contains_key(&g) {
                return Err(Error::Invalid(format!(
                    "channel name '{name}': '{g}' is a channel already; a channel cannot hold another"
                )));
            }
            if st.arrays.contains(&g) {
                return Err(Error::Invalid(format!(
                    "channel name '{name}': '{g}' is an array in the run"
                )));
            }
        }
        if st.arrays.iter().any(|a| a == name) {
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
        let shape: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        let chunk = chunk_shape(&shape, self.opts.chunk_bytes);
        let chunk_rows = chunk[0];
        self.send(Job::Create {
            name: name.to_string(),
            shape: shape.clone(),
            chunk,
        })?;
        for i in 1..parts.len() {
            let g = parts[..i].join("/");
            if !st.groups.contains(&g) {
                st.groups.push(g);
            }
        }
        st.channels.push(ChannelState {
            name: name.to_string(),
            shape,
            chunk_rows,
            rows: 0,
            sent: 0,
            pending: Rows::default(),
            last_step: None,
        });
        let i = st.channels.len() - 1;
        st.index.insert(name.to_string(), i);
        Ok(i)
    }
}

impl RunWriter {
    /// Open the run log at `path` for appending, creating it when it does
    /// not exist (its parent directory must exist). Fails, creating
    /// nothing, when `path` is something other than a run log (a file, a
    /// directory with other content, a Zarr array), its parent is missing,
    /// its file system is read-only or refuses this user, or another live
    /// process writes to it.
    pub fn open(path: impl AsRef<Path>, opts: WriterOptions) -> Result<RunWriter> {
        let path = path.as_ref().to_path_buf();
        if path.exists() && !path.is_dir() {
            return Err(Error::format(
                &path,
                "exists and is not a directory; a run log is a directory",
            ));
        }
        crate::sink::check_target_dir(&path)?;
        if super::ranks(&path)?.is_some() {
            return Err(Error::format(
                &path,
                "a distributed run (one run log per rank, rank<N>/): record to RUN/rank<N> \
                 (actmap record --rank N, or actmap.Run with rank=/world_size=)",
            ));
        }
        let fresh = !path.join("zarr.json").exists();
        if fresh && path.is_dir() {
            let other = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|e| e.ok())
                .any(|e| {
                    // A writer killed before its first commit leaves its
                    // lock and perhaps a temporary file: still a new run.
                    let name = e.file_name();
                    name != super::LOCK_FILE && !name.to_string_lossy().contains(TMP_MARK)
                });
            if other {
                return Err(Error::format(
                    &path,
                    "not a run log (no zarr.json) and not empty; record to a new directory",
                ));
            }
        }
        let made = match std::fs::create_dir(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => false,
            Err(e) => return Err(Error::io(&path, e)),
        };
        let lock = match WriterLock::acquire(&path) {
            Ok(l) => l,
            Err(e) => {
                // Nothing left behind by a refused start.
                if made {
                    let _ = std::fs::remove_file(path.join(super::LOCK_FILE));
                    let _ = std::fs::remove_dir(&path);
                }
                return Err(e);
            }
        };
        let mut disk = Disk {
            path: path.clone(),
            store: Arc::new(RunStore::new(&path, opts.sync)),
            root_attrs: Map::new(),
            channels: Vec::new(),
            groups: Vec::new(),
            others: BTreeMap::new(),
            root_dirty: true,
        };
        let mut st = State::default();
        if fresh {
            remove_temporaries(&path, 0);
            disk.root_attrs
                .insert("actmap".into(), json!({"run_log": FORMAT_VERSION}));
        } else {
            let meta = check_root(&path)?;
            if let Some(Value::Object(a)) = meta.get("attributes") {
                disk.root_attrs = a.clone();
            }
            disk.root_attrs
                .entry("actmap")
                .or_insert_with(|| json!({"run_log": FORMAT_VERSION}));
            remove_temporaries(&path, 0);
            disk.others = collect_nodes(&path)?;
            for name in discover(&path)? {
                match disk.open_channel(&name)? {
                    Ok((ch, chunk_rows, last_step)) => {
                        for k in [
                            name.clone(),
                            format!("{name}/{VALUES}"),
                            format!("{name}/{STEP}"),
                            format!("{name}/{TIME}"),
                        ] {
                            disk.others.remove(&k);
                        }
                        st.index.insert(name.clone(), st.channels.len());
                        st.channels.push(ChannelState {
                            name,
                            shape: ch.shape.clone(),
                            chunk_rows,
                            rows: ch.on_disk,
                            sent: ch.on_disk,
                            pending: Rows::default(),
                            last_step,
                        });
                        disk.channels.push(ch);
                    }
                    Err(why) => {
                        st.refused.insert(name, why);
                    }
                }
            }
            // Plain groups on disk (parents of nested channels, others).
            disk.groups = disk
                .others
                .iter()
                .filter(|(k, v)| is_group(v) && !st.refused.contains_key(*k))
                .map(|(k, _)| k.clone())
                .collect();
            st.groups = disk.groups.clone();
            st.arrays = disk
                .others
                .iter()
                .filter(|(_, v)| !is_group(v))
                .map(|(k, _)| k.clone())
                .collect();
        }
        // A new run gets its root now; arrays of a channel cut short by a
        // writer killed between two metadata writes are made equal again.
        disk.commit()?;
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let (spare_tx, spare_rx) = channel::<Rows>();
        let shared = Arc::new(Shared {
            path: path.clone(),
            opts: opts.clone(),
            state: Mutex::new(st),
            wake: Condvar::new(),
            jobs: Mutex::new(Some(tx)),
            spare: Mutex::new(spare_rx),
            failed: Mutex::new(None),
            took_over: lock.took_over.clone(),
            lock: Mutex::new(Some(lock)),
        });
        let s2 = shared.clone();
        let io = std::thread::Builder::new()
            .name("actmap run log io".into())
            .spawn(move || io_loop(disk, rx, spare_tx, s2))
            .map_err(|e| Error::io(&path, e))?;
        let s3 = shared.clone();
        let timer = std::thread::Builder::new()
            .name("actmap run log flush".into())
            .spawn(move || flush_loop(&s3))
            .map_err(|e| Error::io(&path, e))?;
        Ok(RunWriter {
            shared,
            threads: Mutex::new(vec![timer, io]),
        })
    }

    /// The run log's directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The first write that failed (a full disk, a file the system
    /// refused), if one did: the writer then writes nothing more, every
    /// later append, flush and close returns this error, and the run on
    /// disk is as of the last flush that succeeded.
    pub fn failure(&self) -> Option<Error> {
        self.shared.failed()
    }

    /// The writer that died holding this run's lock, when this writer
    /// took the lock over from it.
    pub fn took_over_lock(&self) -> Option<&super::lock::LockOwner> {
        self.shared.took_over.as_ref()
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
        Ok(r.0)
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
        self.shared.append(
            channel,
            Incoming {
                shape,
                values,
                steps,
                time,
            },
        )
    }

    /// Labels for the axis `axis` of `channel`'s records (for a row, axis 0:
    /// its columns, e.g. token strings; for a 2-D record, axis 0 its rows and
    /// axis 1 its columns). Stored as the `values` array's
    /// `column_labels` / `row_labels` attribute with the next flush.
    pub fn set_labels(&self, channel: &str, axis: usize, labels: Vec<String>) -> Result<()> {
        let st = self.shared.lock_state();
        let Some(&i) = st.index.get(channel) else {
            return Err(Error::Invalid(format!(
                "channel '{channel}' has no records yet; set its labels after its first record"
            )));
        };
        let ch = &st.channels[i];
        let Some(&n) = ch.shape.get(axis) else {
            return Err(Error::Invalid(format!(
                "channel '{channel}': records of shape {} have no axis {axis}",
                shape_string(&ch.shape)
            )));
        };
        if labels.len() as u64 != n {
            return Err(Error::Invalid(format!(
                "channel '{channel}': {} labels for an axis of {n}",
                labels.len()
            )));
        }
        let key = if axis + 1 == ch.shape.len() {
            "column_labels"
        } else {
            "row_labels"
        };
        self.shared.send(Job::Attr {
            index: i,
            key: key.into(),
            value: json!(labels),
        })
    }

    /// Mark `channel` as one shard of a wider row: its records are the
    /// columns `start .. start + width` of a row that other writers (the
    /// other ranks of a tensor-parallel job) log the rest of. Stored as the
    /// `values` array's `columns` attribute (`[start, stop]`) with the next
    /// flush; the views put the shards of all ranks side by side.
    pub fn set_columns(&self, channel: &str, start: u64) -> Result<()> {
        let st = self.shared.lock_state();
        let Some(&i) = st.index.get(channel) else {
            return Err(Error::Invalid(format!(
                "channel '{channel}' has no records yet; set its columns after its first record"
            )));
        };
        let ch = &st.channels[i];
        let [width] = ch.shape[..] else {
            return Err(Error::Invalid(format!(
                "channel '{channel}': columns= shards a row (1-D records), not records of shape {}",
                shape_string(&ch.shape)
            )));
        };
        let stop = start
            .checked_add(width)
            .ok_or_else(|| Error::Invalid(format!("channel '{channel}': columns from {start} overflow")))?;
        self.shared.send(Job::Attr {
            index: i,
            key: "columns".into(),
            value: json!([start, stop]),
        })
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
        st.index.get(channel).map(|&i| st.channels[i].rows)
    }

    /// Write every pending record and make it visible to readers; returns
    /// once it is on disk (or the write failed).
    pub fn flush(&self) -> Result<()> {
        let (tx, rx) = channel();
        {
            let mut st = self.shared.lock_state();
            if st.closed {
                return Err(self.shared.closed());
            }
            self.shared.flush_locked(&mut st, Some(tx))?;
        }
        rx.recv().unwrap_or_else(|_| Err(self.shared.closed()))
    }

    /// Flush, stop the writer's threads and release the run's lock; later
    /// appends are refused. Dropping the writer does the same, ignoring
    /// errors.
    pub fn close(&self) -> Result<()> {
        let result = {
            let mut st = self.shared.lock_state();
            if st.closed {
                return Ok(());
            }
            let (tx, rx) = channel();
            let sent = self.shared.flush_locked(&mut st, Some(tx));
            st.closed = true;
            st.stop = true;
            self.shared.wake.notify_all();
            drop(st);
            sent.and_then(|()| rx.recv().unwrap_or_else(|_| Err(self.shared.closed())))
        };
        // No more jobs: the I/O thread ends when its queue is empty.
        self.shared.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
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
        // Due one interval after the last flush (by this thread or a caller).
        let last = *st.last_flush.get_or_insert_with(Instant::now);
        let due = every.saturating_sub(last.elapsed());
        if due.is_zero() {
            // An error here is kept by the I/O thread and returned by the
            // next append or flush.
            let _ = shared.flush_locked(&mut st, None);
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
pub(crate) fn remove_temporaries(dir: &Path, depth: usize) {
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
    fn chunks_hold_whole_records_up_to_the_size() {
        let mib = 4 << 20;
        assert_eq!(chunk_shape(&[4096], mib), [256, 4096]);
        assert_eq!(chunk_shape(&[12], mib), [87381, 12]);
        assert_eq!(chunk_shape(&[64, 64], mib), [256, 64, 64]);
        // 2048 x 2048 (16 MiB) attention maps: bands of 512 rows.
        assert_eq!(chunk_shape(&[2048, 2048], mib), [1, 512, 2048]);
        assert_eq!(chunk_shape(&[2_000_000], mib), [1, 2_000_000]);
    }

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
