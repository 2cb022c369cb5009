//! A run log followed as it grows: the source behind `actmap watch RUN`
//! (and any front end that shows a run log live).
//!
//! On start each channel is loaded in step order, each step's latest
//! write (2-D channels: their latest records); then the log is polled a
//! few times a second and new records are pushed as they become visible.
//! When a channel's new records step backwards (a run resumed from a
//! checkpoint), the channel is loaded again, so the view keeps showing
//! the latest write of each step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Result;
use crate::input::RowSource;
use crate::live::store::{LiveStore, MAX_RECORDS_KEPT};
use crate::runlog::{ChannelReader, RunReader};

/// How often the run log is looked at.
pub const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// Records pushed to the store at a time while loading.
const LOAD_BLOCK_BYTES: usize = 4 << 20;

#[derive(Debug, Default)]
struct Followed {
    /// Records of the log (write order) the store has seen.
    rows: u64,
    /// The largest step pushed.
    max_step: Option<i64>,
}

/// Follows one run log into a store.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    name: String,
    store: Arc<LiveStore>,
    channels: HashMap<String, Followed>,
    last_error: String,
    waiting: bool,
    /// Damage already reported, so each is said once.
    damage_said: std::collections::HashSet<String>,
    /// Put before each channel's name in the store (`a/` for run `a` of
    /// a collection); a prefixed follower leaves the status line to its
    /// collection.
    prefix: String,
}

impl Follower {
    /// A follower of the run log at `path` (which may not exist yet)
    /// pushing into `store`; nothing is read before [`Follower::poll`].
    pub fn new(path: &Path, store: Arc<LiveStore>) -> Follower {
        Follower {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            store,
            channels: HashMap::new(),
            last_error: String::new(),
            waiting: false,
            damage_said: Default::default(),
            prefix: String::new(),
        }
    }

    /// A follower whose channels appear in the store as `prefix` + name:
    /// one run of several shown together.
    pub fn with_prefix(path: &Path, store: Arc<LiveStore>, prefix: &str) -> Follower {
        Follower {
            prefix: prefix.to_string(),
            ..Follower::new(path, store)
        }
    }

    fn key(&self, channel: &str) -> String {
        format!("{}{channel}", self.prefix)
    }

    fn set_status(&self, status: String) {
        if self.prefix.is_empty() {
            self.store.set_status(status);
        }
    }

    fn problem(&mut self, message: String) {
        if message != self.last_error {
            self.store.report_problem(message.clone());
            self.last_error = message;
        }
    }

    /// Look at the log once: load new channels, push new records.
    pub fn poll(&mut self, stop: &AtomicBool) {
        let reader = match RunReader::open(&self.path) {
            Ok(r) => r,
            Err(e) => {
                if !self.path.exists() {
                    if !self.waiting {
                        self.waiting = true;
                        self.set_status(format!("waiting for run log {}", self.name));
                    }
                } else {
                    self.problem(e.to_string());
                }
                return;
            }
        };
        for d in reader.damage() {
            self.say_damage(format!("{}: {}: {}", self.name, d.file.display(), d.why));
        }
        if self.waiting || self.channels.is_empty() {
            self.waiting = false;
            self.set_status(format!("following {}", self.name));
        }
        for name in reader.channel_names() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let result = reader.channel(name).and_then(|c| self.update(&c, stop));
            if let Err(e) = result {
                self.problem(format!("{}: channel '{name}': {e}", self.name));
            }
        }
    }

    fn say_damage(&mut self, note: String) {
        if self.damage_said.insert(note.clone()) {
            self.store.report_problem(note);
        }
    }

    fn update(&mut self, c: &ChannelReader, stop: &AtomicBool) -> Result<()> {
        if let Some(note) = c.damage_note() {
            self.say_damage(format!("{}: {note}", self.name));
        }
        let seen = self.channels.get(c.name()).map_or(0, |f| f.rows);
        if c.rows() == seen && self.channels.contains_key(c.name()) {
            return Ok(());
        }
        if !c.lost().is_empty() {
            // A damaged channel is reloaded through its step index (lost
            // steps left out, lost values read as NaN).
            return self.load(c, stop);
        }
        let fresh = !self.channels.contains_key(c.name()) || c.rows() < seen;
        if !fresh {
            let new_steps = c.steps(seen..c.rows())?;
            let max = self.channels.get(c.name()).and_then(|f| f.max_step);
            let forward = max.is_none_or(|m| new_steps.first().is_some_and(|&s| s > m))
                && new_steps.windows(2).all(|w| w[1] > w[0]);
            if forward && c.record_shape().len() == 1 {
                let mut data = Vec::new();
                c.read(seen..c.rows(), &mut data)?;
                self.store
                    .push_records(&self.key(c.name()), Some(&new_steps), c.record_shape(), &data)?;
                let f = self.channels.entry(c.name().to_string()).or_default();
                f.rows = c.rows();
                f.max_step = new_steps.last().copied().or(f.max_step);
                return Ok(());
            }
            if forward {
                self.push_records_2d(c, seen..c.rows(), &new_steps)?;
                let f = self.channels.entry(c.name().to_string()).or_default();
                f.rows = c.rows();
                f.max_step = new_steps.last().copied().or(f.max_step);
                return Ok(());
            }
        }
        self.load(c, stop)
    }

    fn push_records_2d(&self, c: &ChannelReader, rows: std::ops::Range<u64>, steps: &[i64]) -> Result<()> {
        let keep = (rows.end - rows.start).min(MAX_RECORDS_KEPT as u64);
        let first = rows.end - keep;
        let mut data = Vec::new();
        c.read(first..rows.end, &mut data)?;
        let s = &steps[(first - rows.start) as usize..];
        self.store
            .push_records(&self.key(c.name()), Some(s), c.record_shape(), &data)
    }

    /// (Re)load a channel: every step's latest write, in step order.
    fn load(&mut self, c: &ChannelReader, stop: &AtomicBool) -> Result<()> {
        let rows = c.rows();
        let index = c.step_index()?;
        self.store.remove_channel(&self.key(c.name()));
        let max_step = index.steps().last().copied();
        if c.record_shape().len() == 2 {
            let keep = index.len().min(MAX_RECORDS_KEPT);
            let from = index.len() - keep;
            let mut data = Vec::new();
            let mut steps = Vec::new();
            for i in from..index.len() {
                data.extend(c.record_at(&index, i)?);
                steps.push(index.steps()[i]);
            }
            if !steps.is_empty() {
                self.store
                    .push_records(&self.key(c.name()), Some(&steps), c.record_shape(), &data)?;
            }
        } else if !index.is_empty() {
            let steps = index.steps().to_vec();
            let mut src = c.row_source(index);
            let block = (LOAD_BLOCK_BYTES / 4 / src.cols().max(1)).max(1);
            let mut buf = Vec::new();
            let mut at = 0;
            let total = steps.len();
            while at < total {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                let n = src.read_rows(block, &mut buf)?;
                if n == 0 {
                    break;
                }
                self.store.push_records(
                    &self.key(c.name()),
                    Some(&steps[at..at + n]),
                    c.record_shape(),
                    &buf,
                )?;
                at += n;
                if total > block {
                    self.store.set_status(format!(
                        "loading {}: channel '{}' {at}/{total} steps",
                        self.name,
                        c.name()
                    ));
                }
            }
            if total > block {
                self.set_status(format!("following {}", self.name));
            }
        }
        if let Some(cols) = c.columns() {
            // One rank's slice of a sharded row: at its true columns. (A
            // channel with no records yet is not in the store: labelled
            // when its first records load.)
            let _ = self.store.set_labels(
                &self.key(c.name()),
                crate::live::store::AxisLabels {
                    x_offset: cols.start,
                    ..Default::default()
                },
            );
        }
        self.channels
            .insert(c.name().to_string(), Followed { rows, max_step });
        Ok(())
    }
}

/// The separator of a difference channel's run part: `b − a/acts`.
pub const DIFF_SEP: &str = " − ";

/// The store channel of `b − a` for `channel`.
pub fn diff_channel(a: &str, b: &str, channel: &str) -> String {
    format!("{b}{DIFF_SEP}{a}/{channel}")
}

/// Whether a store channel is a difference ([`DiffFollower`]'s).
pub fn is_diff_channel(name: &str) -> bool {
    name.split('/').next().is_some_and(|run| run.contains(DIFF_SEP))
}

#[derive(Debug, Default)]
struct DiffState {
    /// Records of each run the pushed differences were computed from.
    rows: (u64, u64),
    /// The largest step of each run seen.
    max: (Option<i64>, Option<i64>),
    /// Common steps pushed.
    pushed: usize,
}

/// B − A of two run logs, followed as they grow: for each channel of 1-D
/// records both have, a store channel [`diff_channel`] of the
/// differences at the steps both logged (aligned by step value, each
/// step's latest write; the columns both have), read from the run logs
/// themselves so that every row is a true difference (the live histories
/// merge rows; a difference of merged rows would not be one). New common
/// steps are pushed as they appear; a run that steps backwards (resumed)
/// has its difference computed again.
#[derive(Debug)]
pub struct DiffFollower {
    runs: [(String, PathBuf); 2],
    store: Arc<LiveStore>,
    state: HashMap<String, DiffState>,
}

impl DiffFollower {
    /// The difference of run `b` minus run `a` (name, path each).
    pub fn new(a: (String, PathBuf), b: (String, PathBuf), store: Arc<LiveStore>) -> DiffFollower {
        DiffFollower {
            runs: [a, b],
            store,
            state: HashMap::new(),
        }
    }

    /// Take the differences out of the store (the runs shown changed).
    pub fn clear(&mut self) {
        for name in self.state.keys() {
            self.store
                .remove_channel(&diff_channel(&self.runs[0].0, &self.runs[1].0, name));
        }
        self.state.clear();
    }

    /// Look at both runs once; push the new differences.
    pub fn poll(&mut self, stop: &AtomicBool) {
        let (Ok(ra), Ok(rb)) = (RunReader::open(&self.runs[0].1), RunReader::open(&self.runs[1].1)) else {
            return;
        };
        for name in ra.channel_names() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let (Ok(ca), Ok(cb)) = (ra.channel(name), rb.channel(name)) else {
                continue;
            };
            if ca.record_shape().len() != 1 || cb.record_shape().len() != 1 {
                continue;
            }
            if let Err(e) = self.update(&ca, &cb) {
                let key = diff_channel(&self.runs[0].0, &self.runs[1].0, name);
                self.store.report_problem(format!("{key}: {e}"));
            }
        }
    }

    fn update(&mut self, ca: &ChannelReader, cb: &ChannelReader) -> Result<()> {
        let key = diff_channel(&self.runs[0].0, &self.runs[1].0, ca.name());
        let st = self.state.entry(ca.name().to_string()).or_default();
        if st.rows == (ca.rows(), cb.rows()) {
            return Ok(());
        }
        // Forward: each run's new records step past everything it had.
        let forward = |c: &ChannelReader, seen: u64, max: Option<i64>| -> Result<(bool, Option<i64>)> {
            let new = c.steps(seen.min(c.rows())..c.rows())?;
            let ok = c.rows() >= seen
                && max.is_none_or(|m| new.first().is_none_or(|&s| s > m))
                && new.windows(2).all(|w| w[1] > w[0]);
            Ok((ok, new.last().copied().or(max)))
        };
        let (fa, max_a) = forward(ca, st.rows.0, st.max.0)?;
        let (fb, max_b) = forward(cb, st.rows.1, st.max.1)?;
        if !(fa && fb) || st.pushed == 0 {
            self.store.remove_channel(&key);
            st.pushed = 0;
        }
        let (ja, jb, _, _) = ca.step_index()?.intersect(&cb.step_index()?);
        let cols = ca.record_len().min(cb.record_len());
        if ja.len() > st.pushed && cols > 0 {
            let from = ja.steps()[st.pushed];
            let (sa, sb) = (ja.range(Some(from), None), jb.range(Some(from), None));
            let steps = sa.steps().to_vec();
            let mut src = crate::export::compare::DiffRows::new(
                Box::new(ca.row_source(sa)),
                Box::new(cb.row_source(sb)),
                cols,
                key.clone(),
            )?;
            let block = (LOAD_BLOCK_BYTES / 4 / cols).max(1);
            let (mut buf, mut at) = (Vec::new(), 0);
            while at < steps.len() {
                let n = src.read_rows(block, &mut buf)?;
                if n == 0 {
                    break;
                }
                self.store
                    .push_records(&key, Some(&steps[at..at + n]), &[cols], &buf)?;
                at += n;
            }
            st.pushed = ja.len();
        }
        st.rows = (ca.rows(), cb.rows());
        st.max = (max_a, max_b);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::store::StoreOptions;
    use crate::runlog::{RunWriter, WriterOptions};

    #[test]
    fn follows_new_records_and_reloads_a_resumed_channel() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let store = Arc::new(LiveStore::new(StoreOptions::default()).unwrap());
        let mut f = Follower::new(&run, store.clone());
        let stop = AtomicBool::new(false);
        f.poll(&stop);
        assert!(store.snapshot().status.starts_with("waiting for run log"));
        let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
        for s in [0, 10, 20, 30] {
            w.append("a", Some(s), 0.0, &[2], &[s as f32, 0.0]).unwrap();
        }
        w.append("m", Some(5), 0.0, &[2, 2], &[1.0; 4]).unwrap();
        w.flush().unwrap();
        f.poll(&stop);
        let snap = store.snapshot();
        let a = snap.channel("a").unwrap();
        assert_eq!(
            (a.total_rows, a.steps.as_slice()),
            (4, &[(0, 0), (10, 10), (20, 20), (30, 30)][..])
        );
        assert_eq!(snap.channel("m").unwrap().record_steps(), [5]);
        // New records: pushed as they are.
        w.append("a", Some(40), 0.0, &[2], &[40.0, 0.0]).unwrap();
        w.append("m", Some(6), 0.0, &[2, 2], &[2.0; 4]).unwrap();
        w.flush().unwrap();
        f.poll(&stop);
        let snap = store.snapshot();
        assert_eq!(snap.channel("a").unwrap().total_rows, 5);
        assert_eq!(snap.channel("m").unwrap().record_steps(), [5, 6]);
        // Resumed from step 20: the channel is loaded again, each step's
        // latest write in step order.
        w.append("a", Some(20), 0.0, &[2], &[-20.0, 1.0]).unwrap();
        w.flush().unwrap();
        f.poll(&stop);
        let snap = store.snapshot();
        let a = snap.channel("a").unwrap();
        assert_eq!(a.total_rows, 5);
        assert_eq!(
            a.steps.iter().map(|s| s.0).collect::<Vec<_>>(),
            [0, 10, 20, 30, 40]
        );
        assert_eq!(a.grid.as_ref().unwrap().get(2, 0), Some(-20.0));
        w.close().unwrap();
    }

    #[test]
    fn a_difference_of_two_runs_is_followed_by_step() {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        let store = Arc::new(LiveStore::new(StoreOptions::default()).unwrap());
        let wa = RunWriter::open(&pa, WriterOptions::default()).unwrap();
        let wb = RunWriter::open(&pb, WriterOptions::default()).unwrap();
        for s in [0, 10, 20, 30] {
            wa.append("acts", Some(s), 0.0, &[2], &[s as f32, 1.0]).unwrap();
        }
        // b logs every 5 steps, so only 0, 10, 20 are shared so far.
        for s in [0, 5, 10, 15, 20] {
            wb.append("acts", Some(s), 0.0, &[2], &[2.0 * s as f32, 1.0])
                .unwrap();
        }
        wa.flush().unwrap();
        wb.flush().unwrap();
        let mut d = DiffFollower::new(("a".into(), pa.clone()), ("b".into(), pb.clone()), store.clone());
        let stop = AtomicBool::new(false);
        d.poll(&stop);
        let key = diff_channel("a", "b", "acts");
        assert_eq!(key, "b − a/acts");
        assert!(is_diff_channel(&key) && !is_diff_channel("a/acts"));
        let snap = store.snapshot();
        let c = snap.channel(&key).unwrap();
        assert_eq!(c.steps.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 10, 20]);
        assert_eq!(c.grid.as_ref().unwrap().data(), [0.0, 0.0, 10.0, 0.0, 20.0, 0.0]);
        // b catches up: step 30 is shared now, pushed on its own.
        wb.append("acts", Some(30), 0.0, &[2], &[100.0, 1.0]).unwrap();
        wb.flush().unwrap();
        d.poll(&stop);
        let snap = store.snapshot();
        let c = snap.channel(&key).unwrap();
        assert_eq!(c.total_rows, 4);
        assert_eq!(c.grid.as_ref().unwrap().row(3), [70.0, 0.0]);
        // a resumed from step 10 (a rewrite): the difference is computed again.
        wa.append("acts", Some(10), 0.0, &[2], &[0.0, 1.0]).unwrap();
        wa.flush().unwrap();
        d.poll(&stop);
        let snap = store.snapshot();
        let c = snap.channel(&key).unwrap();
        assert_eq!(c.total_rows, 4);
        assert_eq!(c.grid.as_ref().unwrap().row(1), [20.0, 0.0]);
        d.clear();
        assert!(store.snapshot().channel(&key).is_none());
        wa.close().unwrap();
        wb.close().unwrap();
    }

    #[test]
    fn a_ranks_slice_of_a_sharded_row_sits_at_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
        w.append("fc", Some(0), 0.0, &[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        w.set_columns("fc", 4).unwrap();
        w.close().unwrap();
        let store = Arc::new(LiveStore::new(StoreOptions::default()).unwrap());
        Follower::new(&run, store.clone()).poll(&AtomicBool::new(false));
        let snap = store.snapshot();
        assert_eq!(snap.channel("fc").unwrap().labels.x_offset, 4);
        let mut view = crate::live::LiveView::new(crate::live::ViewOptions::default());
        let (fig, sources) = view.figure(&snap, 400, 300).unwrap().unwrap();
        assert_eq!(fig.panels[0].x.coords.as_deref(), Some(&[4.0, 5.0, 6.0, 7.0][..]));
        // The hover names the true column.
        let layout = crate::layout::layout_figure(&fig, crate::text::Font::default_sans()).unwrap();
        let p = layout.panels[0].plot;
        let at = |i: f64| {
            (
                p.x as f64 + p.width as f64 * (i + 0.5) / 4.0,
                (p.y + p.height / 2) as f64,
            )
        };
        let (x, y) = at(2.0);
        let text = crate::live::view::hover_text(&layout, &sources, x, y).unwrap();
        assert!(text.contains("column 6") && text.contains("value 3"), "{text}");
    }
}
