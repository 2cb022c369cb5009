//! `actmap.Run`'s native half: a run log writer behind a bounded queue.
//!
//! `log` copies the values into the queue and returns; one writer thread
//! per run appends them to the run log ([`RunWriter`], which writes and
//! makes rows visible at least every `flush_every`). The queue holds at
//! most `queue_bytes` of values: when the disk cannot keep up, `log`
//! waits (with the GIL released) for room, so nothing is dropped and
//! memory stays bounded. A write error is kept and raised by the next
//! `log`, `flush` or `close`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actmap::runlog::{RunWriter, WriterOptions, check_channel_name};
use pyo3::prelude::*;

use crate::convert::Array;
use crate::errors::{IntoPy, file_error, invalid, raise};

struct Record {
    channel: String,
    step: Option<i64>,
    time: f64,
    shape: Vec<usize>,
    values: Vec<f32>,
    /// The first column of the whole row this record is a slice of (the
    /// channel's first record carries it to the writer).
    columns: Option<u64>,
}

#[derive(Default)]
struct State {
    items: VecDeque<Record>,
    /// Bytes of values queued or being written.
    bytes: usize,
    /// Records taken by the writer thread and not yet appended.
    in_flight: usize,
    /// The writer thread sleeps waiting for records.
    idle: bool,
    /// The writer thread lets a step's records gather before taking them.
    gathering: bool,
    /// Take what is queued now (a flush, a full queue).
    hurry: bool,
    closing: bool,
    /// The first write error.
    error: Option<String>,
    /// Records appended to the run log.
    written: u64,
}

struct Queue {
    state: Mutex<State>,
    /// Signalled when records arrive or the run closes.
    work: Condvar,
    /// Signalled when the writer made room or finished a batch.
    room: Condvar,
    limit: usize,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How long the writer thread lets records gather once one arrives: the
/// records of a training step are taken in one go, so the thread wakes a
/// few times a step, not once a record. A woken thread on a busy CPU
/// preempts one of the training's threads, and a parallel op (OpenMP,
/// which torch's CPU kernels use) waits for its slowest thread: waking
/// per record cost a 2-core training loop 9% with 36 records a step.
const GATHER: Duration = Duration::from_millis(100);
/// Queued bytes that end the gathering early.
const GATHER_BYTES: usize = 4 << 20;

fn writer_loop(queue: &Queue, writer: &RunWriter) {
    let mut st = queue.lock();
    loop {
        while st.items.is_empty() && !st.closing {
            st.idle = true;
            st = queue.work.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.idle = false;
        if st.items.is_empty() && st.closing {
            return;
        }
        let deadline = std::time::Instant::now() + GATHER;
        while !st.closing && !st.hurry && st.bytes < GATHER_BYTES {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            st.gathering = true;
            st = queue
                .work
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        st.gathering = false;
        st.hurry = false;
        let batch: Vec<Record> = st.items.drain(..).collect();
        st.in_flight = batch.len();
        drop(st);
        let mut done_bytes = 0;
        let mut error = None;
        let mut written = 0;
        for r in &batch {
            done_bytes += r.values.len() * 4;
            if error.is_some() {
                continue;
            }
            let r = writer
                .append(&r.channel, r.step, r.time, &r.shape, &r.values)
                .and_then(|_| match r.columns {
                    Some(start) => writer.set_columns(&r.channel, start),
                    None => Ok(()),
                });
            match r {
                Ok(_) => written += 1,
                Err(e) => error = Some(e.to_string()),
            }
        }
        st = queue.lock();
        st.bytes -= done_bytes;
        st.in_flight = 0;
        st.written += written;
        if st.error.is_none() {
            st.error = error;
        }
        queue.room.notify_all();
    }
}

/// A run log open for writing through a bounded queue and a writer thread.
#[pyclass(module = "actmap._actmap", name = "RunLog", frozen)]
pub struct RunLog {
    path: PathBuf,
    writer: Arc<RunWriter>,
    queue: Arc<Queue>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Record shape of each channel (from the log, or its first record).
    shapes: Mutex<HashMap<String, Vec<usize>>>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl RunLog {
    /// The writer's first failed write (a full disk) as the `OSError` it
    /// is (`errno` ENOSPC, `filename` the file in the run), saying that
    /// the records flushed before are kept.
    fn write_failed(&self, py: Python<'_>, e: actmap::Error) -> PyErr {
        let stopped = format!(
            "writing the run log {} stopped; the records flushed before it are kept",
            self.path.display()
        );
        match &e {
            actmap::Error::Io { path, cause } if cause.raw_os_error().is_some() => file_error(
                py,
                format!("{e}; {stopped}"),
                cause.raw_os_error(),
                Some(path),
                Some(format!("{cause}; {stopped}")),
            ),
            _ => file_error(py, format!("{e}; {stopped}"), None, Some(&self.path), None),
        }
    }

    /// The error a write gave, if one did.
    fn failed(&self, py: Python<'_>, st: &State) -> Option<PyErr> {
        if let Some(e) = self.writer.failure() {
            return Some(self.write_failed(py, e));
        }
        st.error.as_ref().map(|e| {
            raise(
                py,
                "FileError",
                format!("{}: writing the run log failed: {e}", self.path.display()),
            )
        })
    }

    fn shutdown(&self) -> actmap::Result<()> {
        {
            let mut st = self.queue.lock();
            st.closing = true;
            self.queue.work.notify_all();
        }
        let t = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = t {
            let _ = t.join();
        }
        self.writer.close()
    }
}

#[pymethods]
impl RunLog {
    /// Open (or create) the run log at `path`. Rows become visible to
    /// readers at least every `flush_every` seconds; at most `queue_mb`
    /// MiB of values wait in memory.
    #[new]
    #[pyo3(signature = (path, flush_every = 1.0, queue_mb = 256.0))]
    fn new(py: Python<'_>, path: PathBuf, flush_every: f64, queue_mb: f64) -> PyResult<Self> {
        if !(flush_every.is_finite() && flush_every > 0.0) {
            return Err(invalid(
                py,
                format!("flush_every must be a positive number of seconds, got {flush_every}"),
            ));
        }
        if !(queue_mb.is_finite() && queue_mb > 0.0) {
            return Err(invalid(py, format!("queue_mb must be positive, got {queue_mb}")));
        }
        let opts = WriterOptions {
            flush_every: Duration::from_secs_f64(flush_every),
            ..Default::default()
        };
        let p = path.clone();
        let writer = Arc::new(py.detach(|| RunWriter::open(&p, opts)).py_err(py)?);
        let shapes = writer.channels().into_iter().collect();
        let queue = Arc::new(Queue {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            limit: (queue_mb * 1048576.0) as usize,
        });
        let (q, w) = (queue.clone(), writer.clone());
        let thread = std::thread::Builder::new()
            .name("actmap run log writer".into())
            .spawn(move || writer_loop(&q, &w))
            .map_err(|e| raise(py, "Error", format!("cannot start the writer thread: {e}")))?;
        Ok(RunLog {
            path,
            writer,
            queue,
            thread: Mutex::new(Some(thread)),
            shapes: Mutex::new(shapes),
        })
    }

    /// The run log's directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Queue one record of `channel` (a C-contiguous float32 array: a row,
    /// or a 2-D record) at `step` (`None`: the channel's last step + 1).
    /// Copies the values and returns; waits only while the queue is full.
    #[pyo3(signature = (channel, values, step = None, columns = None))]
    fn log(
        &self,
        py: Python<'_>,
        channel: &str,
        values: &Bound<'_, PyAny>,
        step: Option<i64>,
        columns: Option<u64>,
    ) -> PyResult<()> {
        let a = Array::new(py, values, format!("channel '{channel}'"))?;
        let shape = match a.shape()[..] {
            [] => vec![1],
            [n] => vec![n],
            [r, c] => vec![r, c],
            ref s => {
                return Err(invalid(
                    py,
                    format!(
                        "channel '{channel}': a record is a row (1-D) or a 2-D array, not shape {s:?}; \
                         reduce it first (e.g. h.mean(0))"
                    ),
                ));
            }
        };
        {
            let mut shapes = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
            if columns.is_some() && shape.len() != 1 {
                return Err(invalid(
                    py,
                    format!("channel '{channel}': columns= shards a row (1-D records), not shape {shape:?}"),
                ));
            }
            match shapes.get(channel) {
                Some(s) if *s == shape => {}
                Some(s) => {
                    return Err(invalid(
                        py,
                        format!(
                            "channel '{channel}': records have shape {s:?}, this one {shape:?}; \
                             log it under another name"
                        ),
                    ));
                }
                None => {
                    check_channel_name(channel).py_err(py)?;
                    shapes.insert(channel.to_string(), shape.clone());
                }
            }
        }
        let record = Record {
            channel: channel.to_string(),
            step,
            time: now(),
            shape,
            values: a.values()?.to_vec(),
            columns,
        };
        let size = record.values.len() * 4;
        let full = |st: &State| st.bytes > 0 && st.bytes + size > self.queue.limit;
        let mut st = loop {
            let st = self.queue.lock();
            if let Some(e) = self.failed(py, &st) {
                return Err(e);
            }
            if st.closing {
                return Err(invalid(py, format!("{}: the run is closed", self.path.display())));
            }
            if !full(&st) {
                break st;
            }
            // The disk is behind: wait for room without holding the GIL.
            let mut st = st;
            st.hurry = true;
            self.queue.work.notify_one();
            drop(st);
            py.detach(|| {
                let mut st = self.queue.lock();
                while full(&st) && st.error.is_none() && !st.closing && self.writer.failure().is_none() {
                    st = self.queue.room.wait(st).unwrap_or_else(|e| e.into_inner());
                }
            });
        };
        st.bytes += size;
        st.items.push_back(record);
        if st.idle || (st.gathering && st.bytes >= GATHER_BYTES) {
            st.idle = false;
            self.queue.work.notify_one();
        }
        Ok(())
    }

    /// Wait until every queued record is in the run log and visible.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let err = py.detach(|| {
            let mut st = self.queue.lock();
            st.hurry = true;
            self.queue.work.notify_one();
            while (!st.items.is_empty() || st.in_flight > 0) && st.error.is_none() && !st.closing {
                st = self.queue.room.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.error.clone()
        });
        if err.is_some() {
            let st = self.queue.lock();
            if let Some(e) = self.failed(py, &st) {
                return Err(e);
            }
        }
        py.detach(|| self.writer.flush())
            .map_err(|e| match self.writer.failure() {
                Some(f) => self.write_failed(py, f),
                None => crate::errors::to_py(py, e),
            })
    }

    /// Write everything queued, make it visible and close the run log
    /// (releasing its lock). Later `log` calls raise. Safe to call twice.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let closed = py.detach(|| self.shutdown());
        if let Some(e) = self.writer.failure() {
            return Err(self.write_failed(py, e));
        }
        closed.py_err(py)?;
        let st = self.queue.lock();
        match self.failed(py, &st) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.queue.lock().closing
    }

    /// Records appended to the run log so far (not counting queued ones).
    #[getter]
    fn written(&self) -> u64 {
        self.queue.lock().written
    }

    /// Records waiting in the queue (or being written).
    #[getter]
    fn queued(&self) -> usize {
        let st = self.queue.lock();
        st.items.len() + st.in_flight
    }

    /// The channels and their record shapes.
    fn channels(&self) -> Vec<(String, Vec<usize>)> {
        let shapes = self.shapes.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = shapes.iter().map(|(k, s)| (k.clone(), s.clone())).collect();
        v.sort();
        v
    }
}

impl Drop for RunLog {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
