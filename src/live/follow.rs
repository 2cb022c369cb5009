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
        self.channels
            .insert(c.name().to_string(), Followed { rows, max_step });
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
}
