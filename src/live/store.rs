//! [`LiveStore`]: the one sink every live producer writes into (stream
//! sources, watched files, the [`Monitor`] Rust API), and that the window
//! reads from.
//!
//! Each channel keeps a bounded [`History`], so memory stays fixed however
//! fast rows arrive: when a history is full its rows are merged, never
//! dropped. The store is shared as `Arc<LiveStore>`; its lock is held only
//! while rows are pushed or a snapshot is copied. Every change bumps a
//! version number, so a reader can skip work when nothing changed
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
use crate::scale::Aggregate;

/// How many recent problems a store keeps (the total is counted).
pub const PROBLEMS_KEPT: usize = 20;
/// Largest history capacity, in stored rows per channel.
pub const MAX_CAPACITY_ROWS: usize = 1 << 20;
/// Most values all channel histories of a store may hold together
/// (2^28 f32 = 1 GiB).
pub const MAX_STORE_VALUES: usize = 1 << 28;

/// How a [`LiveStore`] keeps its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreOptions {
    /// Stored rows per channel before pairs of rows are merged.
    pub capacity_rows: usize,
    /// How merged rows are combined ([`Aggregate::Extreme`] keeps spikes).
    pub aggregate: Aggregate,
    /// Values per row every channel must have; `None`: each channel's first
    /// rows fix its width.
    pub expected_cols: Option<usize>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            capacity_rows: 2048,
            aggregate: Aggregate::Extreme,
            expected_cols: None,
        }
    }
}

#[derive(Debug)]
struct Channel {
    name: String,
    history: History,
    /// Values allocated for the history (counted against the store limit).
    values: usize,
    version: u64,
    /// Store version when this history was created (a replace starts anew).
    epoch: u64,
    /// The grid of the last snapshot and the channel version it shows.
    cached: Option<(u64, Arc<Grid>)>,
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
    /// Values per row.
    pub cols: usize,
    /// Input rows received (since the channel was last replaced).
    pub total_rows: u64,
    /// Input rows each stored row stands for (1 until the first merge).
    pub rows_per_stored_row: u64,
    /// The stored rows, oldest first; `None` until the first row is stored.
    /// Shared: a channel that did not change gives the same grid again.
    pub grid: Option<Arc<Grid>>,
    /// Store version of this channel's last change.
    pub version: u64,
    /// Store version when the channel's history was (re)created: rows
    /// stored under another epoch are gone (the file was replaced).
    pub epoch: u64,
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
}

/// A frame pushed by a source that the store rejected for its width: the
/// width the store expects for that channel.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WidthMismatch {
    pub channel: String,
    pub expected: usize,
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
        if opts.expected_cols == Some(0) {
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

    /// Values a history of `cols` columns allocates, if within the limit.
    fn history_values(&self, name: &str, cols: usize, in_use: usize) -> Result<usize> {
        let needed = self.capacity.checked_mul(cols).filter(|&n| n <= MAX_STORE_VALUES);
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

    /// Push `data` (whole rows of `cols`) to `channel`, under the lock.
    /// Nothing is pushed when it fails.
    fn push_locked(&self, inner: &mut Inner, channel: &str, cols: usize, data: &[f32]) -> Result<()> {
        if cols == 0 || data.is_empty() {
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
        let index = match inner.find(channel) {
            Some(i) => {
                let have = inner.channels[i].history.cols();
                if have != cols {
                    return Err(Error::Invalid(format!(
                        "{}: rows of {cols} values, but the channel has {have} columns",
                        channel_label(channel)
                    )));
                }
                i
            }
            None => {
                if let Some(want) = self.opts.expected_cols
                    && want != cols
                {
                    return Err(Error::Invalid(format!(
                        "{}: rows of {cols} values, but {want} columns are expected",
                        channel_label(channel)
                    )));
                }
                let values = self.history_values(channel, cols, inner.values)?;
                let history = History::new(cols, self.capacity, self.opts.aggregate, 0.0)?;
                inner.values += values;
                let epoch = inner.version;
                inner.channels.push(Channel {
                    name: channel.to_string(),
                    history,
                    values,
                    version: 0,
                    epoch,
                    cached: None,
                });
                inner.channels.len() - 1
            }
        };
        inner.channels[index].history.push_rows(data)?;
        let v = inner.bump();
        inner.channels[index].version = v;
        Ok(())
    }

    /// Record a push error as a problem and hand it back.
    fn push_and_record(&self, origin: &str, channel: &str, cols: usize, data: &[f32]) -> Result<()> {
        let mut inner = self.lock();
        let result = self.push_locked(&mut inner, channel, cols, data);
        if let Err(e) = &result {
            inner.problem(with_origin(origin, &e.to_string()));
        }
        self.publish(&inner);
        result
    }

    /// Append a frame's rows to its channel (created on its first frame,
    /// whose width it keeps unless [`StoreOptions::expected_cols`] is set).
    /// A frame that does not fit is an error, also recorded as a problem.
    pub fn push_frame(&self, frame: &Frame) -> Result<()> {
        self.push_frame_from("", frame)
    }

    /// [`push_frame`](Self::push_frame), with a problem naming `origin`
    /// ("stdin", "tcp://127.0.0.1:7878", ...).
    pub fn push_frame_from(&self, origin: &str, frame: &Frame) -> Result<()> {
        let n = frame.rows.checked_mul(frame.cols);
        if n != Some(frame.data.len()) {
            let e = Error::Invalid(format!(
                "{}: a frame of {} x {} needs {} values, got {}",
                channel_label(&frame.channel),
                frame.rows,
                frame.cols,
                frame.rows.saturating_mul(frame.cols),
                frame.data.len()
            ));
            self.report_problem(with_origin(origin, &e.to_string()));
            return Err(e);
        }
        self.push_and_record(origin, &frame.channel, frame.cols, &frame.data)
    }

    /// Append rows of `cols` values (`values.len()` a multiple of `cols`)
    /// to `channel`. Errors as [`push_frame`](Self::push_frame).
    pub fn push_rows(&self, channel: &str, cols: usize, values: &[f32]) -> Result<()> {
        self.push_and_record("", channel, cols, values)
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
            let fits = frame.rows.checked_mul(frame.cols) == Some(frame.data.len());
            let result = if fits {
                self.push_locked(&mut inner, &frame.channel, frame.cols, &frame.data)
            } else {
                Err(Error::Invalid(format!(
                    "{}: a frame of {} x {} values does not match its {} values",
                    channel_label(&frame.channel),
                    frame.rows,
                    frame.cols,
                    frame.data.len()
                )))
            };
            if let Err(e) = result {
                inner.problem(with_origin(origin, &e.to_string()));
                let expected = match inner.find(&frame.channel) {
                    Some(i) => Some(inner.channels[i].history.cols()),
                    None => self.opts.expected_cols,
                };
                if let Some(expected) = expected.filter(|&w| w != frame.cols) {
                    mismatches.push(WidthMismatch {
                        channel: frame.channel,
                        expected,
                    });
                }
            }
        }
        self.publish(&inner);
        mismatches
    }

    /// Rebuild `channel` from a whole grid (a watched file was replaced):
    /// its history holds the grid's rows (merged if more than fit), its
    /// width becomes the grid's. Errors (width other than
    /// [`StoreOptions::expected_cols`], memory limit) are also recorded as
    /// problems, and leave the channel as it was.
    pub fn replace(&self, channel: &str, grid: Grid) -> Result<()> {
        let result = self.build_history(channel, &grid);
        let mut inner = self.lock();
        let result = result.and_then(|history| {
            let old = inner.find(channel);
            let in_use = inner.values - old.map_or(0, |i| inner.channels[i].values);
            let values = self.history_values(channel, grid.cols(), in_use)?;
            let v = inner.bump();
            let fresh = Channel {
                name: channel.to_string(),
                history,
                values,
                version: v,
                epoch: v,
                cached: None,
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

    fn build_history(&self, channel: &str, grid: &Grid) -> Result<History> {
        if let Some(want) = self.opts.expected_cols
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
        history.push_rows(grid.data())?;
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

    /// Each channel's name and width.
    pub(crate) fn widths(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        inner
            .channels
            .iter()
            .map(|c| (c.name.clone(), c.history.cols()))
            .collect()
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
                let grid = match &c.cached {
                    Some((v, g)) if *v == c.version => Some(g.clone()),
                    _ => {
                        let g = c.history.grid().map(Arc::new);
                        c.cached = g.clone().map(|g| (c.version, g));
                        g
                    }
                };
                ChannelSnapshot {
                    name: c.name.clone(),
                    cols: c.history.cols(),
                    total_rows: c.history.total_rows(),
                    rows_per_stored_row: c.history.rows_per_stored_row(),
                    grid,
                    version: c.version,
                    epoch: c.epoch,
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

    /// Append rows of `cols` values to `channel`.
    pub fn push_rows(&self, channel: &str, cols: usize, values: &[f32]) -> Result<()> {
        self.store.push_rows(channel, cols, values)
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
        })
        .unwrap()
    }

    fn frame(channel: &str, rows: usize, cols: usize, data: &[f32]) -> Frame {
        Frame {
            channel: channel.into(),
            rows,
            cols,
            data: data.to_vec(),
        }
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

        let fixed = store(16, Some(4));
        let e = fixed.push_rows("a", 3, &[1.0, 2.0, 3.0]).unwrap_err();
        assert!(e.to_string().contains("but 4 columns are expected"), "{e}");
        fixed.push_rows("a", 4, &[0.0; 8]).unwrap();
        assert!(
            fixed
                .replace("a", Grid::new(1, 2, vec![1.0, 2.0]).unwrap())
                .is_err()
        );
        assert_eq!(fixed.snapshot().problem_count, 2);
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
        let huge = Frame {
            channel: "wide".into(),
            rows: 1,
            cols: usize::MAX,
            data: vec![],
        };
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
