//! [`RunReader`]: what a run log holds, and its records in step order.
//!
//! A channel's records are kept on disk in the order they were written;
//! readers see them by training step, each step's latest write
//! ([`StepIndex`]), so a run resumed from an earlier checkpoint shows the
//! resumed values. Rows stream out a block at a time ([`RunRows`], a
//! [`RowSource`]), so a channel of any length renders in bounded memory.
//!
//! Run logs written by other tools in the same layout read too: `values`
//! of any numeric dtype (converted to f32), chunked any way and compressed
//! with any codec `zarrs` has (zstd, gzip, ...); `step` (any integer
//! dtype) and `time` may be missing (steps are then the row numbers). In a
//! run actmap wrote, every chunk below the visible length exists, so a
//! missing chunk file is an error naming it; elsewhere it reads as the
//! array's fill value, as Zarr defines.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zarrs::array::{Array, ArraySubset, ElementOwned};
use zarrs::storage::ReadableStorageTraits;

use super::store::RunStore;
use super::{STEP, TIME, VALUES, check_root, discover, read_node};
use crate::error::{Error, Result};
use crate::input::RowSource;

/// A run log opened for reading.
#[derive(Debug)]
pub struct RunReader {
    path: PathBuf,
    store: Arc<RunStore>,
    channels: Vec<String>,
    strict: bool,
    damage: Vec<Damage>,
}

/// What [`RunReader::info`] says about a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelInfo {
    /// Channel name (`a/b` for a nested group).
    pub name: String,
    /// Shape of one record (`[cols]` for a row, `[rows, cols]` for a 2-D record).
    pub record_shape: Vec<usize>,
    /// Zarr data type of `values`.
    pub dtype: String,
    /// Records on disk (visible to readers).
    pub rows: u64,
    /// Step range, steps, write time: see [`ChannelSummary`].
    pub summary: ChannelSummary,
    /// Column labels (the `values` array's `column_labels` attribute).
    pub column_labels: Option<Vec<String>>,
    /// For one rank's slice of a sharded row: the columns it holds.
    pub columns: Option<Range<u64>>,
    /// What is damaged on disk ([`ChannelReader::damage`]).
    pub damage: Vec<Damage>,
    /// What an earlier `actmap repair` could not keep ([`ChannelReader::repaired`]).
    pub repaired: Vec<String>,
}

/// A channel's steps and write times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelSummary {
    /// Records on disk.
    pub rows: u64,
    /// Smallest and largest step.
    pub steps: Option<(i64, i64)>,
    /// Distinct steps (what a view shows).
    pub distinct_steps: usize,
    /// Records whose step is not above every earlier one (a resumed run).
    pub backwards: u64,
    /// The latest write time, Unix seconds.
    pub last_write: Option<f64>,
    /// Records that cannot be read (their chunk file is damaged or
    /// missing; [`ChannelReader::damage`] says which).
    pub lost: u64,
}

/// A file of a run log that cannot be read as written: a chunk file cut
/// short, of the wrong size or missing, or metadata that is not valid
/// JSON (then read from its consolidated copy when there is one).
#[derive(Clone, Debug, PartialEq)]
pub struct Damage {
    /// The array at fault (`values`, `step`, `time`), or `zarr.json` for
    /// the channel group's own metadata.
    pub array: String,
    /// The records whose data in `array` is lost (empty when nothing is).
    pub rows: Range<u64>,
    /// The damaged or missing file.
    pub file: PathBuf,
    /// What is wrong with it.
    pub why: String,
}

/// Which record to show for each step: the steps in increasing order, each
/// with the row of its latest write.
#[derive(Clone, Debug, PartialEq)]
pub struct StepIndex {
    steps: Vec<i64>,
    /// `rows[i]` holds step `steps[i]`; `None`: row i (steps strictly
    /// increasing as written).
    rows: Option<Vec<u64>>,
    /// First row of the identity mapping (a step range of an identity index).
    offset: u64,
}

impl StepIndex {
    /// The index of records written with `steps`, in write order.
    pub fn from_steps(steps: &[i64]) -> StepIndex {
        if steps.windows(2).all(|w| w[0] < w[1]) {
            return StepIndex {
                steps: steps.to_vec(),
                rows: None,
                offset: 0,
            };
        }
        let mut pairs: Vec<(i64, u64)> = steps.iter().enumerate().map(|(r, &s)| (s, r as u64)).collect();
        // By step, then row: the last of each step is its latest write.
        pairs.sort_unstable();
        let mut out_s = Vec::with_capacity(pairs.len());
        let mut out_r: Vec<u64> = Vec::with_capacity(pairs.len());
        for (s, r) in pairs {
            if out_s.last() == Some(&s) {
                *out_r.last_mut().unwrap_or(&mut 0) = r;
            } else {
                out_s.push(s);
                out_r.push(r);
            }
        }
        StepIndex {
            steps: out_s,
            rows: Some(out_r),
            offset: 0,
        }
    }

    /// The index of records at `rows` (increasing) written with `steps`:
    /// the records of a damaged channel that can still be read.
    pub fn from_rows(steps: &[i64], rows: &[u64]) -> StepIndex {
        let mut pairs: Vec<(i64, u64)> = steps.iter().copied().zip(rows.iter().copied()).collect();
        pairs.sort_unstable();
        let mut out_s: Vec<i64> = Vec::with_capacity(pairs.len());
        let mut out_r: Vec<u64> = Vec::with_capacity(pairs.len());
        for (s, r) in pairs {
            if out_s.last() == Some(&s) {
                if let Some(last) = out_r.last_mut() {
                    *last = r;
                }
            } else {
                out_s.push(s);
                out_r.push(r);
            }
        }
        StepIndex {
            steps: out_s,
            rows: Some(out_r),
            offset: 0,
        }
    }

    /// Steps shown, increasing.
    pub fn steps(&self) -> &[i64] {
        &self.steps
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// No steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The row holding the `i`-th step.
    pub fn row(&self, i: usize) -> u64 {
        match &self.rows {
            Some(r) => r[i],
            None => self.offset + i as u64,
        }
    }

    /// Position of `step`, if it was logged.
    pub fn position(&self, step: i64) -> Option<usize> {
        self.steps.binary_search(&step).ok()
    }

    /// The steps both indexes hold, aligned by step value (not by row): the
    /// two indexes of the common steps, then the steps only `self` has and
    /// those only `other` has.
    pub fn intersect(&self, other: &StepIndex) -> (StepIndex, StepIndex, Vec<i64>, Vec<i64>) {
        let (mut i, mut j) = (0, 0);
        let (mut steps, mut ra, mut rb) = (Vec::new(), Vec::new(), Vec::new());
        let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
        while i < self.len() || j < other.len() {
            match (self.steps.get(i), other.steps.get(j)) {
                (Some(&a), Some(&b)) if a == b => {
                    steps.push(a);
                    ra.push(self.row(i));
                    rb.push(other.row(j));
                    i += 1;
                    j += 1;
                }
                (Some(&a), Some(&b)) if a < b => {
                    only_a.push(a);
                    i += 1;
                }
                (Some(_), Some(&b)) => {
                    only_b.push(b);
                    j += 1;
                }
                (Some(&a), None) => {
                    only_a.push(a);
                    i += 1;
                }
                (None, Some(&b)) => {
                    only_b.push(b);
                    j += 1;
                }
                (None, None) => break,
            }
        }
        let index = |rows: Vec<u64>| StepIndex {
            steps: steps.clone(),
            rows: Some(rows),
            offset: 0,
        };
        (index(ra), index(rb), only_a, only_b)
    }

    /// The steps in `lo..=hi` (either end open).
    pub fn range(&self, lo: Option<i64>, hi: Option<i64>) -> StepIndex {
        let a = lo.map_or(0, |lo| self.steps.partition_point(|&s| s < lo));
        let b = hi.map_or(self.steps.len(), |hi| self.steps.partition_point(|&s| s <= hi));
        let b = b.max(a);
        StepIndex {
            steps: self.steps[a..b].to_vec(),
            rows: self.rows.as_ref().map(|r| r[a..b].to_vec()),
            offset: self.offset + if self.rows.is_none() { a as u64 } else { 0 },
        }
    }
}

/// One channel of a run log.
#[derive(Clone)]
pub struct ChannelReader {
    name: String,
    dir: PathBuf,
    store: Arc<RunStore>,
    values: Arc<Array<RunStore>>,
    steps: Option<Arc<Array<RunStore>>>,
    times: Option<Arc<Array<RunStore>>>,
    rows: u64,
    record_shape: Vec<usize>,
    dtype: String,
    step_dtype: String,
    time_dtype: String,
    strict: bool,
    column_labels: Option<Vec<String>>,
    columns: Option<Range<u64>>,
    row_labels: Option<Vec<String>>,
    /// Records per chunk when `values` is stored plainly: float32 chunks
    /// along axis 0 only, the `bytes` codec alone, little-endian. Such a
    /// chunk is the records themselves, read straight into the caller's
    /// buffer; other arrays go through zarrs' codecs.
    plain_chunk_rows: Option<u64>,
    /// What is damaged on disk (found when the channel is opened).
    damage: Vec<Damage>,
    /// Records lost to damage in `values` or `step`: sorted, disjoint.
    lost: Vec<Range<u64>>,
    /// Records whose step is lost (they cannot be placed): sorted, disjoint.
    unplaced: Vec<Range<u64>>,
    /// Records whose values are lost (they read as NaN): sorted, disjoint.
    blank: Vec<Range<u64>>,
    /// What an earlier repair could not keep, one line each (the channel
    /// group's `actmap.repaired` attribute).
    repaired: Vec<String>,
}

/// Records per chunk if `values` (its `zarr.json` in `meta`) is stored as
/// plain little-endian float32 chunked along axis 0 only.
fn plain_layout(meta: &serde_json::Value, values: &Array<RunStore>) -> Option<u64> {
    if !cfg!(target_endian = "little") || meta.get("data_type")?.as_str()? != "float32" {
        return None;
    }
    let codecs = meta.get("codecs")?.as_array()?;
    let [codec] = codecs.as_slice() else { return None };
    let endian = codec.pointer("/configuration/endian").and_then(|e| e.as_str());
    if codec.get("name")?.as_str()? != "bytes" || endian.is_some_and(|e| e != "little") {
        return None;
    }
    if meta.pointer("/chunk_grid/name")?.as_str()? != "regular"
        || meta
            .get("storage_transformers")
            .and_then(|t| t.as_array())
            .is_some_and(|t| !t.is_empty())
    {
        return None;
    }
    let chunk: Vec<u64> = meta
        .pointer("/chunk_grid/configuration/chunk_shape")?
        .as_array()?
        .iter()
        .map(|v| v.as_u64())
        .collect::<Option<_>>()?;
    // Whole records per chunk: the chunk spans every other axis.
    (chunk.len() == values.dimensionality() && chunk[0] > 0 && chunk[1..] == values.shape()[1..])
        .then_some(chunk[0])
}

impl std::fmt::Debug for ChannelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelReader")
            .field("name", &self.name)
            .field("rows", &self.rows)
            .field("record_shape", &self.record_shape)
            .finish_non_exhaustive()
    }
}

fn labels(v: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<Vec<String>> {
    let a = v.get(key)?.as_array()?;
    Some(
        a.iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect(),
    )
}

/// A shard's `columns` attribute, `[start, stop]`, when it is one and
/// matches the record width (anything else is not a shard actmap wrote).
fn columns_attr(
    v: &serde_json::Map<String, serde_json::Value>,
    record_shape: &[usize],
) -> Option<Range<u64>> {
    let a = v.get("columns")?.as_array()?;
    let (start, stop) = (a.first()?.as_u64()?, a.get(1)?.as_u64()?);
    (a.len() == 2 && record_shape.len() == 1 && stop.checked_sub(start) == Some(record_shape[0] as u64))
        .then_some(start..stop)
}

fn read_as<T: ElementOwned, U>(
    a: &Array<RunStore>,
    subset: &ArraySubset,
    f: impl Fn(T) -> U,
) -> std::result::Result<Vec<U>, zarrs::array::ArrayError> {
    let v: Vec<T> = a.retrieve_array_subset(subset)?;
    Ok(v.into_iter().map(f).collect())
}

/// Read any numeric array's elements as `f64`, `f32` or `i64`.
macro_rules! read_numeric {
    ($a:expr, $subset:expr, $dtype:expr, $to:ty, $path:expr) => {{
        let (a, s) = ($a, $subset);
        let r = match $dtype {
            "float32" => read_as::<f32, $to>(a, s, |x| x as $to),
            "float64" => read_as::<f64, $to>(a, s, |x| x as $to),
            "float16" => read_as::<half::f16, $to>(a, s, |x| x.to_f64() as $to),
            "bfloat16" => read_as::<half::bf16, $to>(a, s, |x| x.to_f64() as $to),
            "int8" => read_as::<i8, $to>(a, s, |x| x as $to),
            "int16" => read_as::<i16, $to>(a, s, |x| x as $to),
            "int32" => read_as::<i32, $to>(a, s, |x| x as $to),
            "int64" => read_as::<i64, $to>(a, s, |x| x as $to),
            "uint8" => read_as::<u8, $to>(a, s, |x| x as $to),
            "uint16" => read_as::<u16, $to>(a, s, |x| x as $to),
            "uint32" => read_as::<u32, $to>(a, s, |x| x as $to),
            "uint64" => read_as::<u64, $to>(a, s, |x| x as $to),
            "bool" => read_as::<bool, $to>(a, s, |x| u8::from(x) as $to),
            other => {
                return Err(Error::format(
                    $path,
                    format!("data type {other} is not numeric; actmap reads numbers"),
                ));
            }
        };
        r
    }};
}

const NUMERIC: [&str; 13] = [
    "float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "bool",
];

/// Most values in one record, and in one chunk of any array (2^28, as
/// many as the largest stream frame: 1 GiB of float32). Metadata claiming
/// more is refused when a channel is opened: reading one record or one
/// chunk would otherwise ask for memory sized by the metadata, not by the
/// bytes on disk.
pub const MAX_RECORD_VALUES: u64 = crate::live::protocol::MAX_VALUES;

fn check_sizes(
    dir: &Path,
    values: &Array<RunStore>,
    record_shape: &[usize],
    others: [(&str, &Option<Arc<Array<RunStore>>>); 2],
) -> Result<()> {
    let record = record_shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_RECORD_VALUES);
    if record.is_none() {
        return Err(Error::format(
            dir.join(VALUES).join("zarr.json"),
            format!(
                "records of shape {record_shape:?} exceed {MAX_RECORD_VALUES} values: damaged metadata, not a record actmap reads"
            ),
        ));
    }
    let arrays =
        std::iter::once((VALUES, Some(values))).chain(others.into_iter().map(|(n, a)| (n, a.as_deref())));
    for (name, array) in arrays {
        let Some(array) = array else { continue };
        let Ok(chunk) = array.chunk_shape(&vec![0; array.dimensionality()]) else {
            continue;
        };
        let n = chunk
            .iter()
            .try_fold(1u64, |acc, d| acc.checked_mul(d.get()))
            .filter(|&n| n <= MAX_RECORD_VALUES);
        if n.is_none() {
            let dims: Vec<u64> = chunk.iter().map(|d| d.get()).collect();
            return Err(Error::format(
                dir.join(name).join("zarr.json"),
                format!(
                    "chunks of shape {dims:?} exceed {MAX_RECORD_VALUES} values: damaged metadata, not a chunk actmap reads"
                ),
            ));
        }
    }
    Ok(())
}

/// An error's message without the path it names (the damage names the file).
struct ErrorMessage<'a>(&'a Error);

impl std::fmt::Display for ErrorMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Error::Format { message, .. } => f.write_str(message),
            Error::Io { cause, .. } => write!(f, "{cause}"),
            e => write!(f, "{e}"),
        }
    }
}

/// The copy of `array`'s metadata in a channel group's consolidated metadata.
fn consolidated_copy(group: Option<&serde_json::Value>, array: &str) -> Option<(serde_json::Value, PathBuf)> {
    let m = group?.pointer("/consolidated_metadata/metadata")?.get(array)?;
    (m.get("node_type")?.as_str()? == "array").then(|| (m.clone(), PathBuf::from("the channel's zarr.json")))
}

/// The copy of `name/array`'s metadata in the root's consolidated metadata.
fn root_copy(root: &Path, name: &str, array: &str) -> Option<(serde_json::Value, PathBuf)> {
    let r = read_node(root).ok()??;
    let m = r
        .pointer("/consolidated_metadata/metadata")?
        .get(format!("{name}/{array}"))?;
    (m.get("node_type")?.as_str()? == "array").then(|| (m.clone(), root.join("zarr.json")))
}

/// Bytes per element of a numeric Zarr data type.
fn element_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "float64" | "int64" | "uint64" => 8,
        "float32" | "int32" | "uint32" => 4,
        "float16" | "bfloat16" | "int16" | "uint16" => 2,
        "int8" | "uint8" | "bool" => 1,
        _ => return None,
    })
}

/// Look at every chunk file of `array` below row `rows`: a missing one,
/// or (for chunks stored plainly, the `bytes` codec alone) one whose size
/// is not its chunk's, is damage losing the rows it holds.
fn scan_chunks(
    store: &RunStore,
    array: &Array<RunStore>,
    meta: &serde_json::Value,
    name: &str,
    rows: u64,
    out: &mut Vec<Damage>,
) {
    if rows == 0 {
        return;
    }
    let plain = meta
        .get("codecs")
        .and_then(|c| c.as_array())
        .is_some_and(|c| c.len() == 1 && c[0].get("name").and_then(|n| n.as_str()) == Some("bytes"));
    let elem = meta
        .get("data_type")
        .and_then(|t| t.as_str())
        .and_then(element_bytes)
        .filter(|_| plain);
    let mut ranges: Vec<Range<u64>> = std::iter::once(0..rows).collect();
    ranges.extend(array.shape()[1..].iter().map(|&d| 0..d));
    let Ok(Some(chunks)) = array.chunks_in_array_subset(&ArraySubset::new_with_ranges(&ranges)) else {
        return;
    };
    for idx in chunks.indices().into_iter() {
        let Ok(shape) = array.chunk_shape(&idx) else {
            continue;
        };
        let key = array.chunk_key(&idx);
        let file = store.path_of(key.as_str());
        let first = idx[0] * shape[0].get();
        let lost = first..(first + shape[0].get()).min(rows);
        let why = match std::fs::metadata(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "chunk file missing".to_string(),
            Err(e) => format!("cannot be read: {e}"),
            Ok(m) => {
                let Some(elem) = elem else { continue };
                let want = shape.iter().map(|d| d.get()).product::<u64>() * elem;
                if m.len() == want {
                    continue;
                }
                let dims: Vec<String> = shape.iter().map(|d| d.get().to_string()).collect();
                format!(
                    "chunk file of {} bytes, where a chunk of {} values is {want} bytes",
                    m.len(),
                    dims.join(" x ")
                )
            }
        };
        out.push(Damage {
            array: name.into(),
            rows: lost,
            file,
            why,
        });
    }
}

/// `ranges` sorted, with overlapping and touching ones joined.
fn merge_ranges(ranges: impl Iterator<Item = Range<u64>>) -> Vec<Range<u64>> {
    let mut v: Vec<Range<u64>> = ranges.filter(|r| !r.is_empty()).collect();
    v.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

impl ChannelReader {
    fn open(store: &Arc<RunStore>, root: &Path, name: &str, strict: bool) -> Result<ChannelReader> {
        let dir = root.join(name);
        let mut damage = Vec::new();
        // The channel group's metadata holds a consolidated copy of its
        // arrays', written after them: the fallback for a damaged one.
        let group = match read_node(&dir) {
            Ok(g) => g,
            Err(e) => {
                damage.push(Damage {
                    array: "zarr.json".into(),
                    rows: 0..0,
                    file: dir.join("zarr.json"),
                    why: format!("{}", ErrorMessage(&e)),
                });
                None
            }
        };
        let mut meta = |array: &str| -> Result<Option<serde_json::Value>> {
            match read_node(&dir.join(array)) {
                Ok(m) => Ok(m),
                Err(e) => {
                    let copy =
                        consolidated_copy(group.as_ref(), array).or_else(|| root_copy(root, name, array));
                    let Some((copy, from)) = copy else { return Err(e) };
                    damage.push(Damage {
                        array: array.into(),
                        rows: 0..0,
                        file: dir.join(array).join("zarr.json"),
                        why: format!("{}; read from its copy in {}", ErrorMessage(&e), from.display()),
                    });
                    Ok(Some(copy))
                }
            }
        };
        let repaired: Vec<String> = group
            .as_ref()
            .and_then(|g| g.pointer("/attributes/actmap/repaired"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let vmeta = meta(VALUES)?;
        let smeta = meta(STEP)?;
        let tmeta = meta(TIME)?;
        let Some(vmeta) = vmeta else {
            return Err(Error::format(
                dir.join(VALUES),
                format!("the values array is missing: every record of channel '{name}' is lost"),
            ));
        };
        let open = |array: &str, m: &serde_json::Value| -> Result<Arc<Array<RunStore>>> {
            let bad = |e: String| {
                Error::format(
                    dir.join(array).join("zarr.json"),
                    format!("not a Zarr array actmap can read: {e}"),
                )
            };
            let md: zarrs::array::ArrayMetadata =
                serde_json::from_value(m.clone()).map_err(|e| bad(e.to_string()))?;
            Array::new_with_metadata(store.clone(), &format!("/{name}/{array}"), md)
                .map(Arc::new)
                .map_err(|e| bad(e.to_string()))
        };
        let dtype_of = |m: &serde_json::Value| {
            m.get("data_type")
                .and_then(|t| t.as_str())
                .unwrap_or("")
                .to_string()
        };
        let values = open(VALUES, &vmeta)?;
        let dtype = dtype_of(&vmeta);
        if !NUMERIC.contains(&dtype.as_str()) {
            return Err(Error::format(
                dir.join(VALUES),
                format!("values are {dtype}; actmap reads numeric arrays"),
            ));
        }
        let (steps, step_dtype) = match &smeta {
            Some(m) => (Some(open(STEP, m)?), dtype_of(m)),
            None => (None, String::new()),
        };
        let (times, time_dtype) = match &tmeta {
            Some(m) => (Some(open(TIME, m)?), dtype_of(m)),
            None => (None, String::new()),
        };
        if values.dimensionality() == 0 {
            return Err(Error::format(
                dir.join(VALUES),
                "values is a scalar, not one record per step",
            ));
        }
        for (a, n) in [(&steps, STEP), (&times, TIME)] {
            if let Some(a) = a
                && a.dimensionality() != 1
            {
                return Err(Error::format(
                    dir.join(n),
                    format!("{n} must be 1-D (one per record)"),
                ));
            }
        }
        let mut rows = values.shape()[0];
        for a in [&steps, &times].into_iter().flatten() {
            rows = rows.min(a.shape()[0]);
        }
        let record_shape: Vec<usize> = if values.dimensionality() == 1 {
            vec![1]
        } else {
            values.shape()[1..].iter().map(|&d| d as usize).collect()
        };
        check_sizes(&dir, &values, &record_shape, [(STEP, &steps), (TIME, &times)])?;
        if strict {
            for (array, a, m) in [(STEP, &steps, &smeta), (TIME, &times, &tmeta)] {
                if a.is_none() && m.is_none() {
                    damage.push(Damage {
                        array: array.into(),
                        rows: 0..0,
                        file: dir.join(array),
                        why: if array == STEP {
                            "the step array is missing: records are shown at their record numbers".into()
                        } else {
                            "the time array is missing: write times are unknown".into()
                        },
                    });
                }
            }
            for (array, a, m) in [
                (VALUES, Some(&values), Some(&vmeta)),
                (STEP, steps.as_ref(), smeta.as_ref()),
                (TIME, times.as_ref(), tmeta.as_ref()),
            ] {
                if let (Some(a), Some(m)) = (a, m) {
                    scan_chunks(store, a, m, array, rows, &mut damage);
                }
            }
        }
        let lost = merge_ranges(
            damage
                .iter()
                .filter(|d| d.array == VALUES || d.array == STEP)
                .map(|d| d.rows.clone()),
        );
        let of =
            |array: &str| merge_ranges(damage.iter().filter(|d| d.array == array).map(|d| d.rows.clone()));
        let (unplaced, blank) = (of(STEP), of(VALUES));
        let attrs = values.attributes();
        let plain_chunk_rows = plain_layout(&vmeta, &values);
        Ok(ChannelReader {
            plain_chunk_rows,
            name: name.to_string(),
            column_labels: labels(attrs, "column_labels"),
            row_labels: labels(attrs, "row_labels"),
            columns: columns_attr(attrs, record_shape.as_slice()),
            dir,
            store: store.clone(),
            values,
            steps,
            times,
            rows,
            record_shape,
            dtype,
            step_dtype,
            time_dtype,
            strict,
            damage,
            lost,
            unplaced,
            blank,
            repaired,
        })
    }

    /// The channel's `values`, `step` and `time` arrays.
    pub(crate) fn arrays(
        &self,
    ) -> (
        &Array<RunStore>,
        Option<&Array<RunStore>>,
        Option<&Array<RunStore>>,
    ) {
        (&self.values, self.steps.as_deref(), self.times.as_deref())
    }

    /// What is damaged on disk in this channel (empty for a sound one).
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// What an earlier repair of this channel could not keep, one line
    /// each (e.g. NaN records whose values were lost, steps that are
    /// record numbers), kept in the channel's metadata so the run says so.
    pub fn repaired(&self) -> &[String] {
        &self.repaired
    }

    /// The records that cannot be read, sorted and disjoint.
    pub fn lost(&self) -> &[Range<u64>] {
        &self.lost
    }

    /// How many records cannot be read.
    pub fn lost_records(&self) -> u64 {
        self.lost.iter().map(|r| r.end - r.start).sum()
    }

    /// One line saying what is damaged and lost, for a warning; `None`
    /// for a sound channel.
    pub fn damage_note(&self) -> Option<String> {
        let first = self.damage.first()?;
        let lost = self.lost_records();
        let head = if lost > 0 {
            let ranges: Vec<String> = self
                .lost
                .iter()
                .take(4)
                .map(|r| format!("{}..{}", r.start, r.end))
                .collect();
            let more = if self.lost.len() > 4 { ", ..." } else { "" };
            format!(
                "{lost} of {} records lost (records {}{more})",
                self.rows,
                ranges.join(", ")
            )
        } else {
            "no records lost".to_string()
        };
        let others = match self.damage.len() {
            1 => String::new(),
            n => format!(" and {} more damaged files", n - 1),
        };
        Some(format!(
            "channel '{}' is damaged: {head}: {}: {}{others}",
            self.name,
            first.file.display(),
            first.why
        ))
    }

    /// The rows of `rows` whose step can be read, as runs.
    pub(crate) fn placed(&self, rows: Range<u64>) -> Vec<Range<u64>> {
        complement(&self.unplaced, rows)
    }

    /// How many records have a readable step but lost values (they read
    /// as NaN).
    pub fn blank_records(&self) -> u64 {
        let unplaced = &self.unplaced;
        self.blank
            .iter()
            .flat_map(|b| complement(unplaced, b.clone()))
            .map(|r| r.end - r.start)
            .sum()
    }
}

/// The rows of `rows` outside `holes` (sorted, disjoint), as runs.
fn complement(holes: &[Range<u64>], rows: Range<u64>) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut at = rows.start;
    for l in holes {
        if l.end <= at {
            continue;
        }
        if l.start >= rows.end {
            break;
        }
        if l.start > at {
            out.push(at..l.start);
        }
        at = at.max(l.end);
    }
    if at < rows.end {
        out.push(at..rows.end);
    }
    out
}

impl ChannelReader {
    /// An error if `rows` touch a damaged chunk of `array`.
    fn check_damage(&self, array: &str, rows: &Range<u64>) -> Result<()> {
        for d in &self.damage {
            if d.array == array && d.rows.start < rows.end && rows.start < d.rows.end {
                return Err(Error::format(
                    &d.file,
                    format!(
                        "{}: records {}..{} of channel '{}' are lost",
                        d.why, d.rows.start, d.rows.end, self.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Channel name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The channel's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records visible (the shortest of the three arrays).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Shape of one record (`[cols]`, or `[rows, cols]`; a 1-D `values`
    /// array reads as records of shape `[1]`).
    pub fn record_shape(&self) -> &[usize] {
        &self.record_shape
    }

    /// Values per record.
    pub fn record_len(&self) -> usize {
        self.record_shape.iter().product()
    }

    /// Zarr data type of `values`.
    pub fn dtype(&self) -> &str {
        &self.dtype
    }

    /// Labels of a record's columns, when the writer gave them.
    pub fn column_labels(&self) -> Option<&[String]> {
        self.column_labels.as_deref()
    }

    /// Labels of a 2-D record's rows, when the writer gave them.
    pub fn row_labels(&self) -> Option<&[String]> {
        self.row_labels.as_deref()
    }

    /// For one shard of a wider row (a tensor-parallel rank's slice,
    /// [`super::RunWriter::set_columns`]): the columns of the whole row its
    /// records hold.
    pub fn columns(&self) -> Option<Range<u64>> {
        self.columns.clone()
    }

    fn check_rows(&self, rows: &Range<u64>) -> Result<()> {
        if rows.start > rows.end || rows.end > self.rows {
            return Err(Error::Invalid(format!(
                "channel '{}': rows {}..{} are outside its {} rows",
                self.name, rows.start, rows.end, self.rows
            )));
        }
        Ok(())
    }

    /// The path of the chunk file of `array` at `indices`.
    fn chunk_path(&self, array: &Array<RunStore>, indices: &[u64]) -> PathBuf {
        self.store.path_of(array.chunk_key(indices).as_str())
    }

    /// In a run actmap wrote, every chunk a read touches must exist.
    fn check_chunks(&self, array: &Array<RunStore>, subset: &ArraySubset) -> Result<()> {
        if !self.strict {
            return Ok(());
        }
        let chunks = array.chunks_in_array_subset(subset).ok().flatten();
        for idx in chunks.iter().flat_map(|c| c.indices().into_iter()) {
            let key = array.chunk_key(&idx);
            let present = self.store.size_key(&key).map_err(|e| {
                Error::io(
                    self.store.path_of(key.as_str()),
                    std::io::Error::other(e.to_string()),
                )
            })?;
            if present.is_none() {
                let path = self.store.path_of(key.as_str());
                return Err(Error::format(
                    path,
                    format!(
                        "chunk file missing: rows {}..{} of channel '{}' cannot be read",
                        subset.start()[0],
                        subset.end_exc()[0],
                        self.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Turn a failed read into an error naming the chunk file at fault.
    fn chunk_error(&self, array: &Array<RunStore>, subset: &ArraySubset, e: impl std::fmt::Display) -> Error {
        let chunks = array.chunks_in_array_subset(subset).ok().flatten();
        for idx in chunks.iter().flat_map(|c| c.indices().into_iter()) {
            if let Err(err) = array.retrieve_chunk::<zarrs::array::ArrayBytes<'static>>(&idx) {
                return Error::format(self.chunk_path(array, &idx), format!("corrupt chunk: {err}"));
            }
        }
        Error::format(&self.dir, format!("cannot read: {e}"))
    }

    fn subset(&self, array: &Array<RunStore>, rows: &Range<u64>) -> ArraySubset {
        let mut ranges = vec![rows.clone()];
        ranges.extend(array.shape()[1..].iter().map(|&d| 0..d));
        ArraySubset::new_with_ranges(&ranges)
    }

    /// Records `rows` in write order, flattened, into `out` (replacing it).
    pub fn read(&self, rows: Range<u64>, out: &mut Vec<f32>) -> Result<()> {
        out.clear();
        self.read_append(rows, out)
    }

    /// Records `rows` of a plainly stored channel, appended to `out`
    /// straight from the chunk files. `Ok(false)`: a chunk is missing from
    /// a run another tool wrote (it reads as the fill value; zarrs does it).
    fn read_plain(&self, rows: &Range<u64>, per_chunk: u64, out: &mut Vec<f32>) -> Result<bool> {
        let len = self.record_len();
        let start = out.len();
        out.resize(start + (rows.end - rows.start) as usize * len, 0.0);
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out[start..]);
        let record_bytes = len as u64 * 4;
        let mut r = rows.start;
        while r < rows.end {
            let k = r / per_chunk;
            let end = rows.end.min((k + 1) * per_chunk);
            let mut idx = vec![0u64; self.values.dimensionality()];
            idx[0] = k;
            let path = self.chunk_path(&self.values, &idx);
            let file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.strict => {
                    out.truncate(start);
                    return Ok(false);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::format(
                        path,
                        format!(
                            "chunk file missing: rows {}..{end} of channel '{}' cannot be read",
                            rows.start, self.name
                        ),
                    ));
                }
                Err(e) => return Err(Error::io(path, e)),
            };
            let size = file.metadata().map_err(|e| Error::io(&path, e))?.len();
            if size != per_chunk * record_bytes {
                return Err(Error::format(
                    path,
                    format!(
                        "corrupt chunk: {size} bytes, but a chunk of {per_chunk} records of {len} float32 is {}",
                        per_chunk * record_bytes
                    ),
                ));
            }
            let at = ((r - rows.start) * record_bytes) as usize;
            let n = ((end - r) * record_bytes) as usize;
            std::os::unix::fs::FileExt::read_exact_at(
                &file,
                &mut bytes[at..at + n],
                (r - k * per_chunk) * record_bytes,
            )
            .map_err(|e| Error::io(&path, e))?;
            r = end;
        }
        Ok(true)
    }

    /// Records `rows` in write order, flattened, appended to `out`.
    ///
    /// Records whose values are lost to damage on disk (see
    /// [`ChannelReader::damage`]) read as NaN, so a figure shows them as
    /// missing at their true steps.
    pub fn read_append(&self, rows: Range<u64>, out: &mut Vec<f32>) -> Result<()> {
        self.check_rows(&rows)?;
        if self
            .blank
            .iter()
            .any(|b| b.start < rows.end && rows.start < b.end)
        {
            let len = self.record_len();
            let mut at = rows.start;
            for part in complement(&self.blank, rows.clone()) {
                out.resize(out.len() + (part.start - at) as usize * len, f32::NAN);
                self.read_append(part.clone(), out)?;
                at = part.end;
            }
            out.resize(out.len() + (rows.end - at) as usize * len, f32::NAN);
            return Ok(());
        }
        if rows.is_empty() {
            return Ok(());
        }
        if let Some(per) = self.plain_chunk_rows
            && self.read_plain(&rows, per, out)?
        {
            return Ok(());
        }
        let subset = self.subset(&self.values, &rows);
        self.check_chunks(&self.values, &subset)?;
        if self.dtype == "float32" {
            let v: Vec<f32> = self
                .values
                .retrieve_array_subset(&subset)
                .map_err(|e| self.chunk_error(&self.values, &subset, e))?;
            out.extend_from_slice(&v);
            return Ok(());
        }
        let path = self.dir.join(VALUES);
        let v = read_numeric!(&self.values, &subset, self.dtype.as_str(), f32, &path)
            .map_err(|e| self.chunk_error(&self.values, &subset, e))?;
        out.extend_from_slice(&v);
        Ok(())
    }

    /// The steps of records `rows`, in write order (row numbers when the
    /// channel has no `step` array).
    pub fn steps(&self, rows: Range<u64>) -> Result<Vec<i64>> {
        self.check_rows(&rows)?;
        self.check_damage(STEP, &rows)?;
        let Some(a) = &self.steps else {
            return Ok(rows.map(|r| r as i64).collect());
        };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let subset = ArraySubset::new_with_ranges(std::slice::from_ref(&rows));
        self.check_chunks(a, &subset)?;
        let path = self.dir.join(STEP);
        read_numeric!(a, &subset, self.step_dtype.as_str(), i64, &path)
            .map_err(|e| self.chunk_error(a, &subset, e))
    }

    /// The write times of records `rows` (Unix seconds), if the channel
    /// has a `time` array.
    pub fn times(&self, rows: Range<u64>) -> Result<Option<Vec<f64>>> {
        self.check_rows(&rows)?;
        let Some(a) = &self.times else { return Ok(None) };
        if rows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        // Write times in a damaged chunk are unknown (NaN); the records
        // they belong to are not lost.
        let bad = merge_ranges(
            self.damage
                .iter()
                .filter(|d| d.array == TIME)
                .map(|d| d.rows.start.max(rows.start)..d.rows.end.min(rows.end)),
        );
        let mut out = Vec::with_capacity((rows.end - rows.start) as usize);
        let mut at = rows.start;
        for b in &bad {
            self.read_times(a, at..b.start, &mut out)?;
            out.resize(out.len() + (b.end - b.start) as usize, f64::NAN);
            at = b.end;
        }
        self.read_times(a, at..rows.end, &mut out)?;
        Ok(Some(out))
    }

    fn read_times(&self, a: &Array<RunStore>, rows: Range<u64>, out: &mut Vec<f64>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let subset = ArraySubset::new_with_ranges(std::slice::from_ref(&rows));
        self.check_chunks(a, &subset)?;
        let path = self.dir.join(TIME);
        let v = read_numeric!(a, &subset, self.time_dtype.as_str(), f64, &path)
            .map_err(|e| self.chunk_error(a, &subset, e))?;
        out.extend(v);
        Ok(())
    }

    /// Which row shows each step.
    ///
    /// Records whose step is lost are left out; records whose values are
    /// lost stay (they read as NaN).
    pub fn step_index(&self) -> Result<StepIndex> {
        if self.unplaced.is_empty() {
            return Ok(StepIndex::from_steps(&self.steps(0..self.rows)?));
        }
        let (steps, rows) = self.intact_steps()?;
        Ok(StepIndex::from_rows(&steps, &rows))
    }

    /// The steps of the records whose step can be read, with their rows.
    fn intact_steps(&self) -> Result<(Vec<i64>, Vec<u64>)> {
        let (mut steps, mut rows) = (Vec::new(), Vec::new());
        for part in complement(&self.unplaced, 0..self.rows) {
            steps.extend(self.steps(part.clone())?);
            rows.extend(part);
        }
        Ok((steps, rows))
    }

    /// Step range, distinct steps, backwards steps and the last write time.
    pub fn summary(&self) -> Result<ChannelSummary> {
        let (steps, rows) = if self.unplaced.is_empty() {
            (self.steps(0..self.rows)?, None)
        } else {
            let (s, r) = self.intact_steps()?;
            (s, Some(r))
        };
        let mut backwards = 0;
        let mut max = i64::MIN;
        for &s in &steps {
            if s <= max {
                backwards += 1;
            }
            max = max.max(s);
        }
        let index = match &rows {
            Some(r) => StepIndex::from_rows(&steps, r),
            None => StepIndex::from_steps(&steps),
        };
        let last_write = self
            .times(0..self.rows)?
            .and_then(|t| t.into_iter().filter(|x| x.is_finite()).reduce(f64::max));
        Ok(ChannelSummary {
            rows: self.rows,
            steps: index
                .steps()
                .first()
                .zip(index.steps().last())
                .map(|(a, b)| (*a, *b)),
            distinct_steps: index.len(),
            backwards,
            last_write,
            lost: self.lost_records(),
        })
    }

    /// The records of `index`, in its order, as a [`RowSource`] of
    /// flattened records.
    pub fn row_source(&self, index: StepIndex) -> RunRows {
        RunRows {
            channel: self.clone(),
            index,
            pos: 0,
        }
    }

    /// The record of the `i`-th step of `index`.
    pub fn record_at(&self, index: &StepIndex, i: usize) -> Result<Vec<f32>> {
        let r = index.row(i);
        let mut out = Vec::new();
        self.read(r..r + 1, &mut out)?;
        Ok(out)
    }
}

/// A channel's records in step order, read a block at a time.
#[derive(Debug)]
pub struct RunRows {
    channel: ChannelReader,
    index: StepIndex,
    pos: usize,
}

impl RunRows {
    /// The steps of the rows, in order.
    pub fn steps(&self) -> &[i64] {
        self.index.steps()
    }
}

impl RowSource for RunRows {
    fn rows(&self) -> usize {
        self.index.len()
    }

    fn cols(&self) -> usize {
        self.channel.record_len()
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        out.clear();
        let end = (self.pos + max_rows).min(self.index.len());
        let mut i = self.pos;
        while i < end {
            // A run of consecutive rows on disk is one read.
            let first = self.index.row(i);
            let mut j = i + 1;
            while j < end && self.index.row(j) == first + (j - i) as u64 {
                j += 1;
            }
            self.channel.read_append(first..first + (j - i) as u64, out)?;
            i = j;
        }
        let n = end - self.pos;
        self.pos = end;
        Ok(n)
    }
}

impl RunReader {
    /// Open the run log at `path`: a directory holding a Zarr v3 group, or
    /// an error saying what it is instead.
    ///
    /// A distributed run (`RUN/rank<N>/`, [`super::ranks`]) opens its
    /// lowest rank; [`super::rank_path`] picks another.
    pub fn open(path: impl AsRef<Path>) -> Result<RunReader> {
        let path = path.as_ref().to_path_buf();
        if super::ranks(&path)?.is_some() {
            return Self::open(super::rank_path(&path, None)?);
        }
        let mut damage = Vec::new();
        let meta = match check_root(&path) {
            Ok(meta) => meta,
            // An actmap run (it has the writer's lock file) whose root
            // metadata is damaged: its channels still have their own.
            Err(e) if read_node(&path).is_err() && path.join(super::LOCK_FILE).is_file() => {
                damage.push(Damage {
                    array: "zarr.json".into(),
                    rows: 0..0,
                    file: path.join("zarr.json"),
                    why: format!(
                        "{}; the channels are read from their own metadata",
                        ErrorMessage(&e)
                    ),
                });
                serde_json::json!({"attributes": {"actmap": {"run_log": super::FORMAT_VERSION}}})
            }
            Err(e) => return Err(e),
        };
        let strict = meta
            .get("attributes")
            .and_then(|a| a.get("actmap"))
            .and_then(|a| a.get("run_log"))
            .is_some();
        let channels = discover(&path)?;
        Ok(RunReader {
            store: Arc::new(RunStore::new(&path, false)),
            path,
            channels,
            strict,
            damage,
        })
    }

    /// What is damaged in the run's own metadata (its channels say their
    /// own: [`ChannelReader::damage`]).
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Whether actmap wrote the run (its root says so): every chunk
    /// below the visible length must then exist.
    pub fn is_actmap(&self) -> bool {
        self.strict
    }

    /// The run's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Channel names, sorted.
    pub fn channel_names(&self) -> &[String] {
        &self.channels
    }

    /// Look for channels created since the reader was opened.
    pub fn refresh(&mut self) -> Result<()> {
        self.channels = discover(&self.path)?;
        Ok(())
    }

    /// Open channel `name` (its metadata as of now).
    pub fn channel(&self, name: &str) -> Result<ChannelReader> {
        if !self.channels.iter().any(|c| c == name)
            && !self.path.join(name).join(VALUES).join("zarr.json").exists()
        {
            return Err(Error::Invalid(format!(
                "{}: no channel '{name}' (channels: {})",
                self.path.display(),
                if self.channels.is_empty() {
                    "none yet".to_string()
                } else {
                    self.channels.join(", ")
                }
            )));
        }
        ChannelReader::open(&self.store, &self.path, name, self.strict)
    }

    /// Every channel's shape, dtype, rows, steps and last write; a channel
    /// that cannot be read gives its error, and the others are still listed.
    pub fn info(&self) -> Vec<(String, Result<ChannelInfo>)> {
        self.channels
            .iter()
            .map(|name| {
                let info = self.channel(name).and_then(|c| {
                    Ok(ChannelInfo {
                        name: name.clone(),
                        record_shape: c.record_shape.clone(),
                        dtype: c.dtype.clone(),
                        rows: c.rows,
                        summary: c.summary()?,
                        column_labels: c.column_labels.clone(),
                        columns: c.columns.clone(),
                        damage: c.damage.clone(),
                        repaired: c.repaired.clone(),
                    })
                });
                (name.clone(), info)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_index_keeps_the_latest_write_of_each_step() {
        let i = StepIndex::from_steps(&[0, 10, 20]);
        assert_eq!((i.steps(), i.row(2)), (&[0, 10, 20][..], 2));
        // Resumed from step 10: the second writes of 10 and 20 win.
        let i = StepIndex::from_steps(&[0, 10, 20, 30, 10, 20, 25]);
        assert_eq!(i.steps(), [0, 10, 20, 25, 30]);
        let rows: Vec<u64> = (0..i.len()).map(|k| i.row(k)).collect();
        assert_eq!(rows, [0, 4, 5, 6, 3]);
        let r = i.range(Some(10), Some(25));
        assert_eq!(r.steps(), [10, 20, 25]);
        assert_eq!(r.row(0), 4);
        let r = StepIndex::from_steps(&[5, 6, 7, 8]).range(Some(6), None);
        assert_eq!((r.steps(), r.row(0)), (&[6, 7, 8][..], 1));
        assert_eq!(i.position(25), Some(3));
        assert_eq!(i.position(26), None);
    }
}
