//! [`LiveStore`]: the one sink every live producer writes into (stream
//! sources, watched files, run logs followed, the [`Monitor`] Rust API),
//! and that the window reads from.
//!
//! Each channel of rows keeps a bounded [`History`], so memory stays fixed
//! however fast rows arrive: when a history is full its rows are merged,
//! never dropped, and each stored row keeps the range of training steps it
//! stands for. A channel of 2-D records (an attention map per step) keeps
//! its latest records, each with its step. Rows sent without a step take
//! their channel's previous step + 1.
//!
//! A store can also record: with a [`RunWriter`] attached
//! ([`LiveStore::set_recorder`]), every record it accepts is appended to
//! the run log too, so one source feeds the window and the log.
//!
//! The store is shared as `Arc<LiveStore>`; its lock is held only while
//! rows are pushed or a snapshot is copied. Every change bumps a version
//! number, so a reader can skip work when nothing changed
//! ([`LiveStore::version`]) or block until something does
//! ([`LiveStore::wait_for_change`]).
//!
//! Bad data never panics: a row of the wrong width, a frame whose values do
//! not fill it, or a channel too big for the memory limit is returned as an
//! error and also recorded as a problem the window can show.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::input::Grid;
use crate::input::quote;
use crate::live::history::History;
use crate::live::protocol::{Frame, ProtocolError};
use crate::runlog::{RunWriter, disk_name};
use crate::scale::Aggregate;

/// How many recent problems a store keeps (the total is counted).
pub const PROBLEMS_KEPT: usize = 20;
/// Largest history capacity, in stored rows per channel.
pub const MAX_CAPACITY_ROWS: usize = 1 << 20;
/// Most values all channel histories of a store may hold together
/// (2^28 f32 = 1 GiB).
pub const MAX_STORE_VALUES: usize = 1 << 28;
/// Most 2-D records a channel keeps (the latest ones).
pub const MAX_RECORDS_KEPT: usize = 512;

/// How a [`LiveStore`] keeps its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreOptions {
    /// Stored rows per channel before pairs of rows are merged.
    pub capacity_rows: usize,
    /// How merged rows are combined ([`Aggregate::Extreme`] keeps spikes).
    pub aggregate: Aggregate,
    /// Values per row of the unnamed channel (rows sent without a channel
    /// name, raw files); `None`: its first row fixes its width.
    pub expected_cols: Option<usize>,
    /// Values per row of named channels (`(name, cols)`); a channel not
    /// listed takes the width of its first row.
    pub channel_cols: Vec<(String, usize)>,
    /// Keep rows for a window (`false`: only count them and pass them to
    /// the recorder, as `actmap record` does).
    pub keep_rows: bool,
    /// Which senders' frames are taken, by the rank a frame carries.
    pub ranks: RankFilter,
}

/// Which frames a store takes by the rank they carry (frames that carry
/// none are always taken).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RankFilter {
    /// Every frame (the live views).
    #[default]
    Any,
    /// Only rank N's (`actmap record --rank N`).
    Only(u32),
    /// No frame from a job of several ranks: a recorder writing one
    /// single-process run log, where ranks would mix.
    Single,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            capacity_rows: 2048,
            aggregate: Aggregate::Extreme,
            expected_cols: None,
            channel_cols: Vec::new(),
            keep_rows: true,
            ranks: RankFilter::Any,
        }
    }
}

impl StoreOptions {
    /// The width `channel` must have, if fixed.
    pub fn width_of(&self, channel: &str) -> Option<usize> {
        if channel.is_empty() {
            return self.expected_cols;
        }
        self.channel_cols
            .iter()
            .find(|(c, _)| c == channel)
            .map(|(_, w)| *w)
    }
}

#[derive(Debug)]
enum Rows {
    /// Rows of a 1-D channel (none kept when the store keeps no rows).
    History(Option<History>),
    /// The latest 2-D records, oldest first.
    Records(VecDeque<(i64, Arc<Grid>)>, usize),
}

/// A snapshot's grid and step ranges, with the channel version they show.
type Cached = (u64, Arc<Grid>, Arc<Vec<(i64, i64)>>);

#[derive(Debug)]
struct Channel {
    name: String,
    /// Shape of one record (`[cols]` for rows).
    shape: Vec<usize>,
    rows: Rows,
    /// Input records received.
    total: u64,
    /// Step of the last record.
    last_step: Option<i64>,
    /// Some record came with an explicit step.
    stepped: bool,
    /// Values allocated for the history (counted against the store limit).
    values: usize,
    version: u64,
    /// Store version when this history was created (a replace starts anew).
    epoch: u64,
    /// The grid and steps of the last snapshot and the channel version they show.
    cached: Option<Cached>,
    /// Text labels of the columns and rows (tokens), for the axes and the hover.
    labels: AxisLabels,
}

/// Text labels of a channel's columns (`x`) and rows (`y`): tokens, say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AxisLabels {
    /// One label per column.
    pub x: Option<Arc<Vec<String>>>,
    /// One label per row (2-D records).
    pub y: Option<Arc<Vec<String>>>,
    /// The true index of the first column: one rank's slice of a row
    /// sharded across the ranks of a tensor-parallel job sits at its
    /// columns (`128 ..` for the second half of 256).
    pub x_offset: u64,
}

impl Channel {
    fn cols(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Debug, Default)]
struct Inner {
    channels: Vec<Channel>,
    version: u64,
    problems: VecDeque<String>,
    problem_count: u64,
    status: String,
    ended: bool,
    /// Values allocated by all histories.
    values: usize,
    /// Shapes and last steps of channels in the recorder's run log.
    recorded: Vec<(String, Vec<usize>, Option<i64>)>,
    /// Ranks whose frames were refused (each named once).
    refused_ranks: Vec<u32>,
}

impl Inner {
    fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    fn problem(&mut self, message: String) {
        if self.problems.len() == PROBLEMS_KEPT {
            self.problems.pop_front();
        }
        self.problems.push_back(message);
        self.problem_count += 1;
        self.bump();
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.name == name)
    }
}

/// One channel as of a [`StoreSnapshot`].
#[derive(Clone, Debug)]
pub struct ChannelSnapshot {
    /// Channel name ("" for rows sent without one).
    pub name: String,
    /// Values per row (per record for 2-D channels).
    pub cols: usize,
    /// Input rows received (since the channel was last replaced).
    pub total_rows: u64,
    /// Input rows each stored row stands for (1 until the first merge).
    pub rows_per_stored_row: u64,
    /// The stored rows, oldest first; `None` until the first row is stored
    /// (and for 2-D channels: see `records`).
    /// Shared: a channel that did not change gives the same grid again.
    pub grid: Option<Arc<Grid>>,
    /// The smallest and largest step of each stored row of `grid`.
    pub steps: Arc<Vec<(i64, i64)>>,
    /// Whether rows came with steps (`@STEP`, version 2 frames, a run
    /// log); otherwise the steps are input row numbers.
    pub stepped: bool,
    /// Step of the last record received.
    pub last_step: Option<i64>,
    /// Shape of one record: `[cols]` for rows, `[h, w]` for 2-D records.
    pub record_shape: Vec<usize>,
    /// 2-D channels: the latest records kept, oldest first, with their steps.
    pub records: Vec<(i64, Arc<Grid>)>,
    /// Store version of this channel's last change.
    pub version: u64,
    /// Store version when the channel's history was (re)created: rows
    /// stored under another epoch are gone (the file was replaced).
    pub epoch: u64,
    /// Text labels of the columns and rows (tokens).
    pub labels: AxisLabels,
}

impl ChannelSnapshot {
    /// Whether the channel holds 2-D records (one grid per step).
    pub fn is_2d(&self) -> bool {
        self.record_shape.len() == 2
    }

    /// Steps of the 2-D records kept, oldest first.
    pub fn record_steps(&self) -> Vec<i64> {
        self.records.iter().map(|(s, _)| *s).collect()
    }
}

/// Everything a window draws, copied out of a [`LiveStore`].
#[derive(Clone, Debug, Default)]
pub struct StoreSnapshot {
    /// Store version this snapshot shows.
    pub version: u64,
    /// Channels in first-seen order.
    pub channels: Vec<ChannelSnapshot>,
    /// Problems reported in all.
    pub problem_count: u64,
    /// The latest problems (at most [`PROBLEMS_KEPT`]), oldest first.
    pub problems: Vec<String>,
    /// What the source is doing ("listening on tcp://127.0.0.1:7878", ...).
    pub status: String,
    /// The source has ended for good (stdin at end of file): no more rows
    /// will come.
    pub ended: bool,
}

impl StoreSnapshot {
    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelSnapshot> {
        self.channels.iter().find(|c| c.name == name)
    }
}

/// Per-channel bounded row histories shared by producers and the window.
#[derive(Debug)]
pub struct LiveStore {
    opts: StoreOptions,
    /// Stored rows per history as `History` rounds it (even, >= 2).
    capacity: usize,
    inner: Mutex<Inner>,
    changed: Condvar,
    /// Mirror of `inner.version`, readable without the lock.
    version: AtomicU64,
    /// Windows on this store should close (the producer is done).
    close: std::sync::atomic::AtomicBool,
    /// Where accepted records are also appended.
    recorder: Mutex<Option<Arc<RunWriter>>>,
}

/// A frame pushed by a source that the store rejected for its width: the
/// width the store expects for that channel.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WidthMismatch {
    pub channel: String,
    pub expected: usize,
}

/// Records the store accepted, with their steps resolved, for the recorder.
struct Accepted {
    channel: String,
    shape: Vec<usize>,
    data: Vec<f32>,
    steps: Vec<i64>,
    time: f64,
}

fn channel_label(name: &str) -> String {
    if name.is_empty() {
        "the unnamed channel".to_string()
    } else {
        format!("channel {}", quote(name))
    }
}

fn with_origin(origin: &str, message: &str) -> String {
    if origin.is_empty() {
        message.to_string()
    } else {
        format!("{origin}: {message}")
    }
}

fn shape_text(s: &[usize]) -> String {
    let p: Vec<String> = s.iter().map(|d| d.to_string()).collect();
    format!("[{}]", p.join(", "))
}

impl LiveStore {
    /// An empty store. Fails on a capacity of more than
    /// [`MAX_CAPACITY_ROWS`] or an expected width of 0.
    pub fn new(opts: StoreOptions) -> Result<Self> {
        if opts.capacity_rows > MAX_CAPACITY_ROWS {
            return Err(Error::Invalid(format!(
                "a live history of {} rows is too long (at most {MAX_CAPACITY_ROWS})",
                opts.capacity_rows
            )));
        }
        if opts.expected_cols == Some(0) || opts.channel_cols.iter().any(|(_, w)| *w == 0) {
            return Err(Error::Invalid(
                "live rows need at least one column (expected columns is 0)".into(),
            ));
        }
        let capacity = opts.capacity_rows.max(2).next_multiple_of(2);
        Ok(LiveStore {
            opts,
            capacity,
            inner: Mutex::new(Inner::default()),
            changed: Condvar::new(),
            version: AtomicU64::new(0),
            close: std::sync::atomic::AtomicBool::new(false),
            recorder: Mutex::new(None),
        })
    }

    /// The options the store was made with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code panics while holding the lock; if some did, the data is
        // still consistent row by row, so keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publish a change made under `inner`'s lock.
    fn publish(&self, inner: &Inner) {
        self.version.store(inner.version, Ordering::Release);
        self.changed.notify_all();
    }

    /// Append every record this store accepts from now on to `writer`'s run
    /// log as well (`None`: stop). Channels the run already has keep their
    /// shapes, and records without a step count on from the run's last
    /// step. Rows sent without a channel name are recorded as
    /// [`crate::runlog::DEFAULT_CHANNEL`].
    pub fn set_recorder(&self, writer: Option<Arc<RunWriter>>) {
        let recorded = writer
            .as_ref()
            .map(|w| {
                w.channels()
                    .into_iter()
                    .map(|(name, shape)| {
                        let last = w.last_step(&name);
                        (name, shape, last)
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.lock().recorded = recorded;
        *self.recorder.lock().unwrap_or_else(|e| e.into_inner()) = writer;
    }

    /// The run log writer records go to, if any.
    pub fn recorder(&self) -> Option<Arc<RunWriter>> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Values a history of `cols` columns allocates, if within the limit.
    fn history_values(&self, name: &str, cols: usize, in_use: usize) -> Result<usize> {
        let rows = if self.opts.keep_rows { self.capacity } else { 0 };
        let needed = rows.checked_mul(cols).filter(|&n| n <= MAX_STORE_VALUES);
        match needed {
            Some(n) if in_use + n <= MAX_STORE_VALUES => Ok(n),
            _ => Err(Error::Invalid(format!(
                "{}: a history of {} rows x {cols} columns does not fit the live memory limit \
                 of {} MiB ({} MiB in use); keep fewer history rows",
                channel_label(name),
                self.capacity,
                (MAX_STORE_VALUES * 4) >> 20,
                (in_use * 4) >> 20
            ))),
        }
    }

    /// A new channel for records of `shape`, counted against the limit.
    fn new_channel(&self, inner: &mut Inner, channel: &str, shape: &[usize]) -> Result<Channel> {
        let cols: usize = shape.iter().product();
        let recorded = inner.recorded.iter().find(|(n, _, _)| n == disk_name(channel));
        if let Some((_, rshape, _)) = recorded
            && rshape.as_slice() != shape
        {
            return Err(Error::Invalid(format!(
                "{}: records of shape {}, but the run log's records have shape {}",
                channel_label(channel),
                shape_text(shape),
                shape_text(rshape)
            )));
        }
        let want = self
            .opts
            .width_of(channel)
            .or_else(|| recorded.and_then(|(_, s, _)| (s.len() == 1).then(|| s[0])));
        if let Some(want) = want
            && (shape.len() != 1 || want != cols)
        {
            return Err(Error::Invalid(format!(
                "{}: rows of {cols} values, but {want} columns are expected",
                channel_label(channel)
            )));
        }
        let last_step = recorded.and_then(|(_, _, s)| *s);
        let (rows, values) = if shape.len() == 2 {
            let keep = (MAX_STORE_VALUES / 4 / cols.max(1)).clamp(1, MAX_RECORDS_KEPT.min(self.capacity));
            let values = if self.opts.keep_rows { keep * cols } else { 0 };
            if inner.values + values > MAX_STORE_VALUES {
                return Err(Error::Invalid(format!(
                    "{}: records of {} do not fit the live memory limit",
                    channel_label(channel),
                    shape_text(shape)
                )));
            }
            (
                Rows::Records(VecDeque::new(), if self.opts.keep_rows { keep } else { 0 }),
                values,
            )
        } else {
            let values = self.history_values(channel, cols, inner.values)?;
            let history = if self.opts.keep_rows {
                Some(History::new(cols, self.capacity, self.opts.aggregate, 0.0)?)
            } else {
                None
            };
            (Rows::History(history), values)
        };
        inner.values += values;
        Ok(Channel {
            name: channel.to_string(),
            shape: shape.to_vec(),
            rows,
            total: 0,
            last_step,
            stepped: last_step.is_some(),
            values,
            version: 0,
            epoch: inner.version,
            cached: None,
            labels: AxisLabels::default(),
        })
    }

    /// Push `data` (whole records of `shape`) to `channel` at `steps` (or
    /// counting on), under the lock; returns the steps used. Nothing is
    /// pushed when it fails.
    fn push_locked(
        &self,
        inner: &mut Inner,
        channel: &str,
        shape: &[usize],
        data: &[f32],
        steps: Option<&[i64]>,
    ) -> Result<Vec<i64>> {
        let cols = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(0);
        if cols == 0 || data.is_empty() || shape.is_empty() || shape.len() > 2 {
            return Err(Error::Invalid(format!(
                "{}: rows need at least one value",
                channel_label(channel)
            )));
        }
        if !data.len().is_multiple_of(cols) {
            return Err(Error::Invalid(format!(
                "{}: {} values are not whole rows of {cols}",
                channel_label(channel),
                data.len()
            )));
        }
        let n = data.len() / cols;
        if let Some(s) = steps
            && s.len() != n
        {
            return Err(Error::Invalid(format!(
                "{}: {} steps for {n} records",
                channel_label(channel),
                s.len()
            )));
        }
        let index = match inner.find(channel) {
            Some(i) => {
                let have = &inner.channels[i].shape;
                if have.as_slice() != shape {
                    let msg = if have.len() == 1 && shape.len() == 1 {
                        format!("rows of {cols} values, but the channel has {} columns", have[0])
                    } else {
                        format!(
                            "records of shape {}, but the channel's are {}",
                            shape_text(shape),
                            shape_text(have)
                        )
                    };
                    return Err(Error::Invalid(format!("{}: {msg}", channel_label(channel))));
                }
                i
            }
            None => {
                let ch = self.new_channel(inner, channel, shape)?;
                inner.channels.push(ch);
                inner.channels.len() - 1
            }
        };
        let ch = &mut inner.channels[index];
        let first = ch.last_step.map_or(0, |s| s.saturating_add(1));
        ch.stepped |= steps.is_some();
        let steps: Vec<i64> = match steps {
            Some(s) => s.to_vec(),
            None => (0..n as i64).map(|i| first.saturating_add(i)).collect(),
        };
        match &mut ch.rows {
            Rows::History(Some(h)) => h.push_rows_at(data, &steps)?,
            Rows::History(None) => {}
            Rows::Records(ring, keep) => {
                for (rec, &s) in data.chunks_exact(cols).zip(&steps) {
                    if *keep == 0 {
                        break;
                    }
                    if ring.len() == *keep {
                        ring.pop_front();
                    }
                    ring.push_back((s, Arc::new(Grid::new(shape[0], shape[1], rec.to_vec())?)));
                }
            }
        }
        ch.total += n as u64;
        ch.last_step = steps.last().copied();
        let v = inner.bump();
        inner.channels[index].version = v;
        Ok(steps)
    }

    /// Append records to the recorder, outside the store's lock; a
    /// failure is a problem naming `origin`.
    fn record(&self, origin: &str, accepted: Vec<Accepted>) {
        if accepted.is_empty() {
            return;
        }
        let Some(w) = self.recorder() else { return };
        for a in accepted {
            let r = w.append_records(disk_name(&a.channel), &a.shape, &a.data, Some(&a.steps), a.time);
            if let Err(e) = r {
                if w.failure().is_some() {
                    // The writer stopped (a full disk...): the front end
                    // stops with one line; no problem per record.
                    return;
                }
                self.report_problem(with_origin(origin, &format!("not recorded: {e}")));
            }
        }
    }

    /// Push one frame under the lock; a failure is recorded as a problem.
    fn push_one(&self, inner: &mut Inner, origin: &str, frame: Frame, out: &mut Vec<Accepted>) -> Result<()> {
        if let Some((r, w)) = frame.rank
            && w > 1
        {
            let refused = match self.opts.ranks {
                RankFilter::Any => None,
                RankFilter::Only(n) if n == r => None,
                RankFilter::Only(n) => Some(format!(
                    "{}: a frame from rank {r} of {w} on a recorder of rank {n}: not recorded (one recorder per rank: --rank {r})",
                    channel_label(&frame.channel)
                )),
                RankFilter::Single => Some(format!(
                    "{}: a frame from rank {r} of {w} on a recorder of a single-process run: not recorded (record each rank with --rank N: RUN/rankN/)",
                    channel_label(&frame.channel)
                )),
            };
            if let Some(msg) = refused {
                if !inner.refused_ranks.contains(&r) {
                    inner.refused_ranks.push(r);
                    inner.problem(with_origin(
                        origin,
                        &format!("{msg}; further frames of rank {r} too"),
                    ));
                }
                return Err(Error::Invalid(msg));
            }
        }
        let fits = frame.rows.checked_mul(frame.cols) == Some(frame.data.len())
            && frame.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) == Some(frame.cols);
        let result = if fits {
            self.push_locked(
                inner,
                &frame.channel,
                &frame.shape,
                &frame.data,
                frame.steps.as_deref(),
            )
        } else {
            Err(Error::Invalid(format!(
                "{}: a frame of {} x {} needs {} values, got {}",
                channel_label(&frame.channel),
                frame.rows,
                frame.cols,
                frame.rows.saturating_mul(frame.cols),
                frame.data.len()
            )))
        };
        match result {
            Ok(steps) => {
                if self.recorder.lock().map(|r| r.is_some()).unwrap_or(false) {
                    out.push(Accepted {
                        channel: frame.channel,
                        shape: frame.shape,
                        data: frame.data,
                        steps,
                        time: frame.time.unwrap_or_else(crate::runlog::now),
                    });
                }
                Ok(())
            }
            Err(e) => {
                inner.problem(with_origin(origin, &e.to_string()));
                Err(e)
            }
        }
    }

    /// Append a frame's records to its channel (created on its first frame,
    /// whose width it keeps unless [`StoreOptions`] fixes it).
    /// A frame that does not fit is an error, also recorded as a problem.
    pub fn push_frame(&self, frame: &Frame) -> Result<()> {
        self.push_frame_from("", frame)
    }

    /// [`push_frame`](Self::push_frame), with a problem naming `origin`
    /// ("stdin", "tcp://127.0.0.1:7878", ...).
    pub fn push_frame_from(&self, origin: &str, frame: &Frame) -> Result<()> {
        let mut accepted = Vec::new();
        let result = {
            let mut inner = self.lock();
            let r = self.push_one(&mut inner, origin, frame.clone(), &mut accepted);
            self.publish(&inner);
            r
        };
        self.record(origin, accepted);
        result
    }

    /// Append rows of `cols` values (`values.len()` a multiple of `cols`)
    /// to `channel`. Errors as [`push_frame`](Self::push_frame).
    pub fn push_rows(&self, channel: &str, cols: usize, values: &[f32]) -> Result<()> {
        self.push_records(channel, None, &[cols], values)
    }

    /// Append records of `shape` (`[cols]` rows or `[h, w]` 2-D records) to
    /// `channel`, at `steps` (one per record; `None`: counting on from the
    /// channel's last step). Errors as [`push_frame`](Self::push_frame).
    pub fn push_records(
        &self,
        channel: &str,
        steps: Option<&[i64]>,
        shape: &[usize],
        values: &[f32],
    ) -> Result<()> {
        let cols: usize = shape.iter().product();
        let frame = Frame {
            channel: channel.to_string(),
            rows: values.len().checked_div(cols).unwrap_or(0),
            cols,
            data: values.to_vec(),
            shape: shape.to_vec(),
            steps: steps.map(<[i64]>::to_vec),
            time: None,
            rank: None,
        };
        self.push_frame(&frame)
    }

    /// Push what a decoder produced, under one lock: decode errors and
    /// rejected frames become problems naming `origin`; `remove` names
    /// channels dropped first (a watched file that started over). Returns
    /// the frames rejected for their width.
    pub(crate) fn apply(
        &self,
        origin: &str,
        remove: &[String],
        items: Vec<Result<Frame, ProtocolError>>,
    ) -> Vec<WidthMismatch> {
        if remove.is_empty() && items.is_empty() {
            return Vec::new();
        }
        let mut mismatches = Vec::new();
        let mut accepted = Vec::new();
        {
            let mut inner = self.lock();
            for name in remove {
                Self::remove_locked(&mut inner, name);
            }
            for item in items {
                let frame = match item {
                    Ok(f) => f,
                    Err(e) => {
                        inner.problem(with_origin(origin, &e.to_string()));
                        continue;
                    }
                };
                let (channel, cols) = (frame.channel.clone(), frame.cols);
                if self.push_one(&mut inner, origin, frame, &mut accepted).is_err() {
                    let expected = match inner.find(&channel) {
                        Some(i) => Some(inner.channels[i].cols()),
                        None => self.opts.width_of(&channel),
                    };
                    if let Some(expected) = expected.filter(|&w| w != cols) {
                        mismatches.push(WidthMismatch { channel, expected });
                    }
                }
            }
            self.publish(&inner);
        }
        self.record(origin, accepted);
        mismatches
    }

    /// Rebuild `channel` from a whole grid (a watched file was replaced):
    /// its history holds the grid's rows (merged if more than fit), its
    /// width becomes the grid's. Errors (width other than
    /// [`StoreOptions::expected_cols`], memory limit) are also recorded as
    /// problems, and leave the channel as it was.
    pub fn replace(&self, channel: &str, grid: Grid) -> Result<()> {
        self.replace_with_steps(channel, grid, None)
    }

    /// [`replace`](Self::replace), with a step for each row of the grid
    /// (a run log's channel, read in step order).
    pub fn replace_with_steps(&self, channel: &str, grid: Grid, steps: Option<&[i64]>) -> Result<()> {
        let result = self.build_history(channel, &grid, steps);
        let mut inner = self.lock();
        let result = result.and_then(|history| {
            let old = inner.find(channel);
            let in_use = inner.values - old.map_or(0, |i| inner.channels[i].values);
            let values = self.history_values(channel, grid.cols(), in_use)?;
            let v = inner.bump();
            let fresh = Channel {
                name: channel.to_string(),
                shape: vec![grid.cols()],
                total: grid.rows() as u64,
                last_step: steps
                    .and_then(|s| s.last().copied())
                    .or(grid.rows().checked_sub(1).map(|r| r as i64)),
                stepped: steps.is_some(),
                rows: Rows::History(Some(history)),
                values,
                version: v,
                epoch: v,
                cached: None,
                labels: old.map(|i| inner.channels[i].labels.clone()).unwrap_or_default(),
            };
            match old {
                Some(i) => inner.channels[i] = fresh,
                None => inner.channels.push(fresh),
            }
            inner.values = in_use + values;
            Ok(())
        });
        if let Err(e) = &result {
            inner.problem(e.to_string());
        }
        self.publish(&inner);
        result
    }

    fn build_history(&self, channel: &str, grid: &Grid, steps: Option<&[i64]>) -> Result<History> {
        if let Some(want) = self.opts.width_of(channel)
            && want != grid.cols()
        {
            return Err(Error::Invalid(format!(
                "{}: a grid of {} columns, but {want} columns are expected",
                channel_label(channel),
                grid.cols()
            )));
        }
        // Check the limit before allocating anything.
        self.history_values(channel, grid.cols(), 0)?;
        let mut history = History::new(grid.cols(), self.capacity, self.opts.aggregate, 0.0)?;
        match steps {
            Some(s) => history.push_rows_at(grid.data(), s)?,
            None => history.push_rows(grid.data())?,
        }
        Ok(history)
    }

    fn remove_locked(inner: &mut Inner, name: &str) -> bool {
        match inner.find(name) {
            Some(i) => {
                let c = inner.channels.remove(i);
                inner.values -= c.values;
                inner.bump();
                true
            }
            None => false,
        }
    }

    /// Text labels for `channel`'s columns and rows (tokens): drawn on its
    /// axes and shown in the hover. A count that does not match the
    /// channel's shape is an error naming both counts; a channel not yet
    /// seen is an error too (set labels after its first rows).
    pub fn set_labels(&self, channel: &str, labels: AxisLabels) -> Result<()> {
        let mut inner = self.lock();
        let Some(i) = inner.find(channel) else {
            return Err(Error::Invalid(format!("no channel '{channel}' to label")));
        };
        let c = &inner.channels[i];
        let (cols, rows) = match c.shape.as_slice() {
            [w] => (*w, None),
            [.., h, w] => (*w, Some(*h)),
            [] => (0, None),
        };
        if let Some(x) = &labels.x
            && x.len() != cols
        {
            return Err(Error::Invalid(format!(
                "channel '{channel}': x tick labels: {} labels for {cols} columns",
                x.len()
            )));
        }
        // Rows of a row channel: labels for its input rows, as many as sent.
        let rows = rows.or(Some(c.total as usize));
        if let Some(y) = &labels.y
            && Some(y.len()) != rows
        {
            return Err(Error::Invalid(format!(
                "channel '{channel}': y tick labels: {} labels for {} rows",
                y.len(),
                rows.map_or("no".to_string(), |r| r.to_string())
            )));
        }
        let v = inner.bump();
        let c = &mut inner.channels[i];
        c.labels = labels;
        c.version = v;
        self.publish(&inner);
        Ok(())
    }

    /// Forget a channel and its rows; false if there was none. Its next
    /// row creates it again (last in order), with a width of its own.
    pub fn remove_channel(&self, name: &str) -> bool {
        let mut inner = self.lock();
        let removed = Self::remove_locked(&mut inner, name);
        self.publish(&inner);
        removed
    }

    /// Record a problem (bad input the source skipped) for the window.
    pub fn report_problem(&self, message: impl Into<String>) {
        let mut inner = self.lock();
        inner.problem(message.into());
        self.publish(&inner);
    }

    /// Say what the source is doing ("connected", "source ended", ...).
    pub fn set_status(&self, status: impl Into<String>) {
        let status = status.into();
        let mut inner = self.lock();
        if inner.status != status {
            inner.status = status;
            inner.bump();
            self.publish(&inner);
        }
    }

    /// Ask every window showing this store to close (for a training loop
    /// that has finished, or a test); wakes waiters.
    pub fn request_close(&self) {
        self.close.store(true, Ordering::SeqCst);
        let mut inner = self.lock();
        inner.bump();
        self.publish(&inner);
    }

    /// Whether [`LiveStore::request_close`] was called.
    pub fn close_requested(&self) -> bool {
        self.close.load(Ordering::SeqCst)
    }

    /// The source has ended for good (no more rows will come), with a
    /// status saying so. The rows stay.
    pub fn mark_ended(&self, status: impl Into<String>) {
        let mut inner = self.lock();
        inner.status = status.into();
        inner.ended = true;
        inner.bump();
        self.publish(&inner);
    }

    /// Each row channel's name and width, and the widths fixed by the
    /// options or the recorder's run log for channels not seen yet.
    pub(crate) fn widths(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        let mut out: Vec<(String, usize)> = inner
            .channels
            .iter()
            .filter(|c| c.shape.len() == 1)
            .map(|c| (c.name.clone(), c.cols()))
            .collect();
        let known = |out: &Vec<(String, usize)>, n: &str| out.iter().any(|(c, _)| c == n);
        for (n, w) in self
            .opts
            .channel_cols
            .iter()
            .cloned()
            .chain(self.opts.expected_cols.map(|w| (String::new(), w)))
        {
            if !known(&out, &n) {
                out.push((n, w));
            }
        }
        for (n, shape, _) in &inner.recorded {
            let name = if n == crate::runlog::DEFAULT_CHANNEL {
                ""
            } else {
                n.as_str()
            };
            if shape.len() == 1 && !known(&out, name) {
                out.push((name.to_string(), shape[0]));
            }
        }
        out
    }

    /// Channel names in first-seen order.
    pub fn channel_names(&self) -> Vec<String> {
        self.lock().channels.iter().map(|c| c.name.clone()).collect()
    }

    /// The current version (changes on every push, problem or status);
    /// does not take the lock.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Block until the version is above `since` or `timeout` has passed;
    /// returns the version then.
    pub fn wait_for_change(&self, since: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut inner = self.lock();
        while inner.version <= since {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                // A timeout too long to represent: wait in long steps.
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                break;
            }
            inner = match self.changed.wait_timeout(inner, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        inner.version
    }

    /// Copy out everything a window draws. Grids of channels that did not
    /// change since the last snapshot are shared, not copied again.
    pub fn snapshot(&self) -> StoreSnapshot {
        let mut inner = self.lock();
        let channels = inner
            .channels
            .iter_mut()
            .map(|c| {
                let (grid, steps, bin, records) = match &c.rows {
                    Rows::History(Some(h)) => {
                        let (grid, steps) = match &c.cached {
                            Some((v, g, s)) if *v == c.version => (Some(g.clone()), s.clone()),
                            _ => {
                                let g = h.grid().map(Arc::new);
                                let s = Arc::new(h.step_ranges().to_vec());
                                if let Some(g) = &g {
                                    c.cached = Some((c.version, g.clone(), s.clone()));
                                }
                                (g, s)
                            }
                        };
                        (grid, steps, h.rows_per_stored_row(), Vec::new())
                    }
                    Rows::History(None) => (None, Arc::new(Vec::new()), 1, Vec::new()),
                    Rows::Records(ring, _) => (None, Arc::new(Vec::new()), 1, ring.iter().cloned().collect()),
                };
                ChannelSnapshot {
                    name: c.name.clone(),
                    cols: c.cols(),
                    total_rows: c.total,
                    rows_per_stored_row: bin,
                    grid,
                    steps,
                    stepped: c.stepped,
                    last_step: c.last_step,
                    record_shape: c.shape.clone(),
                    records,
                    version: c.version,
                    epoch: c.epoch,
                    labels: c.labels.clone(),
                }
            })
            .collect();
        StoreSnapshot {
            version: inner.version,
            channels,
            problem_count: inner.problem_count,
            problems: inner.problems.iter().cloned().collect(),
            status: inner.status.clone(),
            ended: inner.ended,
        }
    }
}

/// The Rust API for a training loop: a store, and senders that push rows
/// into it from any thread.
///
/// ```
/// use actmap::live::{Monitor, StoreOptions};
///
/// let monitor = Monitor::new(StoreOptions::default())?;
/// let tx = monitor.sender();
/// std::thread::spawn(move || tx.push_row("loss", &[0.5, 0.25])).join().unwrap()?;
/// assert_eq!(monitor.store().snapshot().channels[0].total_rows, 1);
/// # Ok::<(), actmap::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Monitor {
    store: Arc<LiveStore>,
}

impl Monitor {
    /// A monitor with a fresh store (errors as [`LiveStore::new`]).
    pub fn new(opts: StoreOptions) -> Result<Self> {
        Ok(Monitor {
            store: Arc::new(LiveStore::new(opts)?),
        })
    }

    /// A handle that pushes rows, cheap to clone and send to other threads.
    pub fn sender(&self) -> MonitorSender {
        MonitorSender {
            store: self.store.clone(),
        }
    }

    /// The store the rows go to (what a window reads).
    pub fn store(&self) -> Arc<LiveStore> {
        self.store.clone()
    }
}

/// Pushes rows into a [`Monitor`]'s store from any thread.
#[derive(Clone, Debug)]
pub struct MonitorSender {
    store: Arc<LiveStore>,
}

impl MonitorSender {
    /// Append one row to `channel` (its first row fixes its width).
    pub fn push_row(&self, channel: &str, row: &[f32]) -> Result<()> {
        self.store.push_rows(channel, row.len(), row)
    }

    /// Append one row to `channel` logged at training step `step`.
    pub fn push_row_at(&self, channel: &str, step: i64, row: &[f32]) -> Result<()> {
        self.store.push_records(channel, Some(&[step]), &[row.len()], row)
    }

    /// Append rows of `cols` values to `channel`.
    pub fn push_rows(&self, channel: &str, cols: usize, values: &[f32]) -> Result<()> {
        self.store.push_rows(channel, cols, values)
    }

    /// Append one 2-D record (`rows x cols`, row-major) to `channel`, at
    /// `step` (`None`: the channel's previous step + 1).
    pub fn push_matrix(
        &self,
        channel: &str,
        step: Option<i64>,
        rows: usize,
        cols: usize,
        values: &[f32],
    ) -> Result<()> {
        let steps = step.map(|s| [s]);
        self.store
            .push_records(channel, steps.as_ref().map(|s| &s[..]), &[rows, cols], values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(capacity_rows: usize, expected_cols: Option<usize>) -> LiveStore {
        LiveStore::new(StoreOptions {
            capacity_rows,
            aggregate: Aggregate::Extreme,
            expected_cols,
            ..Default::default()
        })
        .unwrap()
    }

    fn frame(channel: &str, rows: usize, cols: usize, data: &[f32]) -> Frame {
        Frame::rows(channel, rows, cols, data.to_vec())
    }

    #[test]
    fn frames_go_to_their_channels_in_first_seen_order() {
        let s = store(16, None);
        assert_eq!(s.version(), 0);
        s.push_frame(&frame("b", 2, 2, &[1.0, 2.0, 3.0, 4.0])).unwrap();
        let v1 = s.version();
        s.push_frame(&frame("a", 1, 3, &[5.0, 6.0, 7.0])).unwrap();
        s.push_rows("b", 2, &[8.0, 9.0]).unwrap();
        assert!(s.version() > v1);
        assert_eq!(s.channel_names(), ["b", "a"]);
        let snap = s.snapshot();
        assert_eq!(snap.version, s.version());
        let b = snap.channel("b").unwrap();
        assert_eq!((b.cols, b.total_rows, b.rows_per_stored_row), (2, 3, 1));
        assert_eq!(b.grid.as_ref().unwrap().data(), [1.0, 2.0, 3.0, 4.0, 8.0, 9.0]);
        let a = snap.channel("a").unwrap();
        assert_eq!(a.grid.as_ref().unwrap().data(), [5.0, 6.0, 7.0]);
        assert!(a.version < b.version);
        assert_eq!(snap.problem_count, 0);
        assert!(!snap.ended);
        // An unchanged channel's grid is shared, not copied again.
        s.push_rows("b", 2, &[0.0, 0.0]).unwrap();
        let again = s.snapshot();
        let (a0, a1) = (snap.channels[1].grid.as_ref(), again.channels[1].grid.as_ref());
        assert!(Arc::ptr_eq(a0.unwrap(), a1.unwrap()));
        assert_eq!(again.channels[0].total_rows, 4);
    }

    #[test]
    fn width_mismatches_are_errors_and_problems() {
        let s = store(16, None);
        s.push_rows("", 3, &[1.0, 2.0, 3.0]).unwrap();
        let e = s.push_frame(&frame("", 1, 2, &[1.0, 2.0])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the unnamed channel: rows of 2 values, but the channel has 3 columns"
        );
        let e = s.push_frame(&frame("x", 2, 2, &[1.0])).unwrap_err();
        assert!(e.to_string().contains("needs 4 values, got 1"), "{e}");
        assert!(s.push_rows("x", 2, &[1.0, 2.0, 3.0]).is_err());
        assert!(s.push_rows("x", 0, &[]).is_err());
        let e = s.push_frame_from("stdin", &frame("", 1, 1, &[1.0])).unwrap_err();
        let snap = s.snapshot();
        assert_eq!(snap.problem_count, 5);
        assert_eq!(snap.problems.last().unwrap(), &format!("stdin: {e}"));
        // Nothing of a rejected push was kept.
        assert_eq!(snap.channels.len(), 1);
        assert_eq!(snap.channels[0].total_rows, 1);

        // Widths are per channel: --cols N fixes the unnamed channel, and
        // NAME=N a named one; other channels take their first row's width.
        let fixed = LiveStore::new(StoreOptions {
            capacity_rows: 16,
            expected_cols: Some(4),
            channel_cols: vec![("layers".into(), 12)],
            ..Default::default()
        })
        .unwrap();
        let e = fixed.push_rows("", 3, &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(e.to_string().contains("but 4 columns are expected"), "{e}");
        let e = fixed.push_rows("layers", 4, &[0.0; 4]).unwrap_err();
        assert!(e.to_string().contains("but 12 columns are expected"), "{e}");
        fixed.push_rows("", 4, &[0.0; 8]).unwrap();
        fixed.push_rows("layers", 12, &[0.0; 12]).unwrap();
        fixed.push_rows("acts", 4096, &[0.0; 4096]).unwrap();
        assert!(
            fixed
                .replace("", Grid::new(1, 2, vec![1.0, 2.0]).unwrap())
                .is_err()
        );
        assert_eq!(fixed.snapshot().problem_count, 3);
        assert!(
            LiveStore::new(StoreOptions {
                expected_cols: Some(0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn decoded_items_apply_under_one_lock() {
        let s = store(16, Some(2));
        let items = vec![
            Ok(frame("", 1, 3, &[1.0, 2.0, 3.0])),
            Err(ProtocolError::Line {
                line: 2,
                message: "no values".into(),
            }),
            Ok(frame("", 1, 2, &[4.0, 5.0])),
            Ok(frame("", 2, 2, &[1.0])),
        ];
        let mismatches = s.apply("stdin", &[], items);
        assert_eq!(
            mismatches,
            [WidthMismatch {
                channel: String::new(),
                expected: 2
            }]
        );
        let snap = s.snapshot();
        assert_eq!(snap.problem_count, 3);
        assert_eq!(snap.problems[1], "stdin: line 2: no values");
        assert_eq!(snap.channels[0].total_rows, 1);
        s.apply("f", &[String::new()], vec![]);
        assert!(s.channel_names().is_empty());
    }

    #[test]
    fn steps_count_on_and_2d_channels_keep_their_latest_records() {
        let s = store(4, None);
        s.push_rows("a", 1, &[1.0, 2.0]).unwrap();
        s.push_records("a", Some(&[100, 250]), &[1], &[3.0, 4.0]).unwrap();
        s.push_rows("a", 1, &[5.0]).unwrap();
        let snap = s.snapshot();
        let a = snap.channel("a").unwrap();
        assert!(a.stepped);
        assert_eq!(a.last_step, Some(251));
        // Five rows in a history of four: the first pair merged.
        assert_eq!(a.steps.as_slice(), [(0, 1), (100, 250)]);
        let e = s.push_records("a", Some(&[1, 2]), &[1], &[1.0]).unwrap_err();
        assert!(e.to_string().contains("2 steps for 1 records"), "{e}");
        for step in 0..600 {
            s.push_records("attn", Some(&[step * 10]), &[2, 2], &[step as f32; 4])
                .unwrap();
        }
        let e = s.push_rows("attn", 4, &[0.0; 4]).unwrap_err();
        assert!(
            e.to_string()
                .contains("records of shape [4], but the channel's are [2, 2]"),
            "{e}"
        );
        let snap = s.snapshot();
        let attn = snap.channel("attn").unwrap();
        assert!(attn.is_2d() && attn.grid.is_none());
        assert_eq!(attn.records.len(), 4, "bounded by the history capacity");
        assert_eq!(attn.record_steps(), [5960, 5970, 5980, 5990]);
        assert_eq!(attn.records[3].1.data(), [599.0; 4]);
        assert_eq!(attn.total_rows, 600);
    }

    #[test]
    fn a_store_without_rows_only_counts_and_records() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let w =
            Arc::new(crate::runlog::RunWriter::open(&run, crate::runlog::WriterOptions::default()).unwrap());
        w.append("layers", Some(41), 0.0, &[3], &[0.0; 3]).unwrap();
        let s = LiveStore::new(StoreOptions {
            keep_rows: false,
            ..Default::default()
        })
        .unwrap();
        s.set_recorder(Some(w.clone()));
        s.push_rows("", 2, &[1.0, 2.0]).unwrap();
        // The run log fixed the channel's width before the store saw it.
        let e = s.push_rows("layers", 2, &[1.0, 2.0]).unwrap_err();
        assert!(e.to_string().contains("run log's records have shape [3]"), "{e}");
        s.push_rows("layers", 3, &[1.0, 2.0, 3.0]).unwrap();
        let snap = s.snapshot();
        assert!(snap.channels.iter().all(|c| c.grid.is_none()));
        assert_eq!(snap.channel("layers").unwrap().last_step, Some(42));
        drop(s);
        w.close().unwrap();
        let r = crate::runlog::RunReader::open(&run).unwrap();
        assert_eq!(r.channel_names(), ["default", "layers"]);
        assert_eq!(r.channel("layers").unwrap().steps(0..2).unwrap(), [41, 42]);
        assert_eq!(r.channel("default").unwrap().steps(0..1).unwrap(), [0]);
    }

    #[test]
    fn replace_rebuilds_a_channel() {
        let s = store(4, None);
        s.push_rows("", 2, &[1.0; 6]).unwrap();
        s.push_rows("other", 1, &[1.0]).unwrap();
        let g = Grid::from_fn(10, 3, |r, c| (r * 3 + c) as f32).unwrap();
        s.replace("", g).unwrap();
        let snap = s.snapshot();
        assert_eq!(s.channel_names(), ["", "other"]);
        let c = &snap.channels[0];
        assert_eq!((c.cols, c.total_rows), (3, 10));
        assert!(c.grid.as_ref().unwrap().rows() <= 4);
        s.replace("", Grid::new(1, 2, vec![7.0, 8.0]).unwrap()).unwrap();
        let c = &s.snapshot().channels[0];
        assert_eq!(c.grid.as_ref().unwrap().data(), [7.0, 8.0]);
        assert_eq!(c.total_rows, 1);
        assert!(s.remove_channel(""));
        assert!(!s.remove_channel(""));
        assert_eq!(s.channel_names(), ["other"]);
    }

    #[test]
    fn merging_keeps_memory_bounded() {
        let s = store(8, None);
        for i in 0..10_000 {
            let spike = if i == 6_543 { 99.0 } else { 0.0 };
            s.push_rows("x", 4, &[i as f32, spike, 0.0, 0.0]).unwrap();
        }
        let snap = s.snapshot();
        let c = &snap.channels[0];
        assert_eq!(c.total_rows, 10_000);
        let g = c.grid.as_ref().unwrap();
        assert!(g.rows() <= 8, "{}", g.rows());
        assert!(c.rows_per_stored_row >= 10_000 / 8);
        assert!((0..g.rows()).any(|r| g.get(r, 1) == Some(99.0)));
        // Far too wide for the memory limit: an error, not an allocation.
        let e = s.push_rows("wide", 1 << 28, &[]).unwrap_err();
        assert!(e.to_string().contains("at least one value"), "{e}");
        let huge = Frame::rows("wide", 1, usize::MAX, vec![]);
        assert!(s.push_frame(&huge).is_err());
        let g = LiveStore::new(StoreOptions {
            capacity_rows: MAX_CAPACITY_ROWS,
            ..Default::default()
        })
        .unwrap();
        let e = g.push_rows("w", 1024, &[0.0; 1024]).unwrap_err();
        assert!(e.to_string().contains("live memory limit"), "{e}");
        assert!(
            LiveStore::new(StoreOptions {
                capacity_rows: usize::MAX,
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn problems_keep_the_latest_and_count_all() {
        let s = store(4, None);
        for i in 0..50 {
            s.report_problem(format!("p{i}"));
        }
        let snap = s.snapshot();
        assert_eq!(snap.problem_count, 50);
        assert_eq!(snap.problems.len(), PROBLEMS_KEPT);
        assert_eq!(snap.problems.last().unwrap(), "p49");
        assert_eq!(snap.problems[0], "p30");
        let v = s.version();
        s.set_status("connected");
        s.set_status("connected");
        assert_eq!(s.version(), v + 1);
        s.mark_ended("source ended");
        let snap = s.snapshot();
        assert!(snap.ended);
        assert_eq!(snap.status, "source ended");
    }

    #[test]
    fn wait_for_change_wakes_on_a_push_and_times_out_otherwise() {
        let s = Arc::new(store(4, None));
        s.push_rows("", 1, &[1.0]).unwrap();
        let v = s.version();
        // Already newer: no wait.
        assert_eq!(s.wait_for_change(v - 1, Duration::from_secs(10)), v);
        // Nothing happens: times out with the same version.
        assert_eq!(s.wait_for_change(v, Duration::from_millis(20)), v);
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.wait_for_change(v, Duration::from_secs(10)));
        s.push_rows("", 1, &[2.0]).unwrap();
        let seen = t.join().unwrap();
        assert!(seen > v);
    }

    #[test]
    fn monitor_pushes_from_another_thread_while_snapshots_are_taken() {
        let monitor = Monitor::new(StoreOptions {
            capacity_rows: 64,
            ..Default::default()
        })
        .unwrap();
        let tx = monitor.sender();
        let producer = std::thread::spawn(move || {
            for i in 0..10_000 {
                tx.push_row("acts", &[i as f32, -(i as f32)]).unwrap();
            }
            tx.push_rows("loss", 1, &[0.5, 0.25]).unwrap();
        });
        let store = monitor.store();
        let mut last_total = 0;
        let mut version = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(Instant::now() < deadline, "the producer never finished");
            let snap = store.snapshot();
            if let Some(c) = snap.channel("acts") {
                assert!(c.total_rows >= last_total);
                last_total = c.total_rows;
                assert!(c.grid.as_ref().is_some_and(|g| g.rows() <= 64 && g.cols() == 2));
            }
            if snap.channel("loss").is_some() {
                break;
            }
            version = store.wait_for_change(version.max(snap.version), Duration::from_secs(10));
        }
        producer.join().unwrap();
        let snap = store.snapshot();
        assert_eq!(snap.channel("acts").unwrap().total_rows, 10_000);
        assert_eq!(snap.channel("loss").unwrap().total_rows, 2);
        assert_eq!(snap.problem_count, 0);
        // Column 0 counts up: each stored row keeps its bin's last input row.
        let c = snap.channel("acts").unwrap();
        let g = c.grid.clone().unwrap();
        let last = g.rows() as u64 * c.rows_per_stored_row - 1;
        assert_eq!(g.get(g.rows() - 1, 0), Some(last as f32));
    }
}
