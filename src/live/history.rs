//! A bounded row history for live monitoring: at most `capacity` stored
//! rows of `cols` values, however many rows arrive. When it is full, pairs
//! of stored rows are merged (signed extreme by default, so a spike in any
//! input row survives) and each stored row from then on stands for twice as
//! many input rows. History is aggregated, never dropped, and memory stays
//! fixed; between merges only new rows change, so a GPU copy needs only
//! those uploaded.

use crate::error::{Error, Result};
use crate::input::Grid;
use crate::scale::Aggregate;
use crate::scale::aggregate::combine;

/// Rows received so far, at decreasing resolution.
#[derive(Clone, Debug)]
pub struct History {
    cols: usize,
    capacity: usize,
    mode: Aggregate,
    centre: f32,
    /// Stored rows, row-major; `stored * cols` values used.
    data: Vec<f32>,
    stored: usize,
    /// Input rows per stored row.
    bin: u64,
    /// Smallest and largest step of each stored row.
    steps: Vec<(i64, i64)>,
    /// The row being accumulated and how many input rows it holds.
    pending: Vec<f32>,
    pending_n: u64,
    pending_steps: (i64, i64),
    total: u64,
    /// Stored rows changed since the last `take_dirty` (first index).
    dirty_from: usize,
}

impl History {
    /// An empty history of rows of `cols` values, holding at most
    /// `capacity` stored rows (rounded up to an even number >= 2), merging with `mode` around
    /// `centre` (the norm's centre, for signed extreme).
    pub fn new(cols: usize, capacity: usize, mode: Aggregate, centre: f32) -> Result<Self> {
        if cols == 0 {
            return Err(Error::Invalid("a live history needs at least one column".into()));
        }
        // Even, so that pairs merge without a leftover row.
        let capacity = capacity.max(2).next_multiple_of(2);
        Ok(History {
            cols,
            capacity,
            mode,
            centre,
            data: vec![0.0; capacity * cols],
            stored: 0,
            bin: 1,
            steps: Vec::with_capacity(capacity),
            pending: Vec::with_capacity(cols),
            pending_n: 0,
            pending_steps: (0, 0),
            total: 0,
            dirty_from: 0,
        })
    }

    /// Values per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Input rows received.
    pub fn total_rows(&self) -> u64 {
        self.total
    }

    /// Input rows each stored row stands for (1 until the first merge).
    pub fn rows_per_stored_row(&self) -> u64 {
        self.bin
    }

    /// Stored rows (complete ones; a partly filled bin is not included).
    pub fn stored_rows(&self) -> usize {
        self.stored
    }

    /// The input rows `[first, last]` that stored row `i` stands for.
    pub fn input_range(&self, i: usize) -> (u64, u64) {
        let first = i as u64 * self.bin;
        (first, first + self.bin - 1)
    }

    fn merge_into(&self, acc: &mut [f32], rows_in_acc: u64, row: &[f32]) {
        // One loop per mode, branch-light: this runs for every value of a
        // fast stream once the history is full. Same rules as `combine`
        // (NaN wins; extreme keeps the value farther from the centre, the
        // larger one on a tie).
        let c = self.centre;
        let n = acc.len().min(row.len());
        let (acc, row) = (&mut acc[..n], &row[..n]);
        match self.mode {
            Aggregate::Mean => {
                // Mean of a bin of `rows_in_acc` rows with one more row.
                let (k, k1) = (rows_in_acc as f32, (rows_in_acc + 1) as f32);
                for i in 0..n {
                    let (a, v) = (acc[i], row[i]);
                    acc[i] = if a.is_nan() || v.is_nan() {
                        f32::NAN
                    } else {
                        (a * k + v) / k1
                    };
                }
            }
            Aggregate::Nearest => {}
            Aggregate::Max => {
                for i in 0..n {
                    let (a, v) = (acc[i], row[i]);
                    acc[i] = if a.is_nan() || v.is_nan() {
                        f32::NAN
                    } else if v > a {
                        v
                    } else {
                        a
                    };
                }
            }
            Aggregate::Min => {
                for i in 0..n {
                    let (a, v) = (acc[i], row[i]);
                    acc[i] = if a.is_nan() || v.is_nan() {
                        f32::NAN
                    } else if v < a {
                        v
                    } else {
                        a
                    };
                }
            }
            Aggregate::Extreme => {
                for i in 0..n {
                    let (a, v) = (acc[i], row[i]);
                    let (da, dv) = ((a - c).abs(), (v - c).abs());
                    let take = dv > da || (dv == da && v > a);
                    acc[i] = if a.is_nan() || v.is_nan() {
                        f32::NAN
                    } else if take {
                        v
                    } else {
                        a
                    };
                }
            }
        }
    }

    /// The smallest and largest training step of each stored row (input
    /// row numbers for rows pushed without a step).
    pub fn step_ranges(&self) -> &[(i64, i64)] {
        &self.steps[..self.stored]
    }

    /// Append one input row; its step is its input row number.
    pub fn push_row(&mut self, row: &[f32]) -> Result<()> {
        self.push_row_at(row, self.total as i64)
    }

    /// Append one input row logged at training step `step`.
    pub fn push_row_at(&mut self, row: &[f32], step: i64) -> Result<()> {
        if row.len() != self.cols {
            return Err(Error::Invalid(format!(
                "row of {} values does not fit a history of {} columns",
                row.len(),
                self.cols
            )));
        }
        self.total += 1;
        if self.pending_n == 0 {
            self.pending.clear();
            self.pending.extend_from_slice(row);
            self.pending_steps = (step, step);
        } else {
            self.pending_steps = (self.pending_steps.0.min(step), self.pending_steps.1.max(step));
            let mut acc = std::mem::take(&mut self.pending);
            self.merge_into(&mut acc, self.pending_n, row);
            self.pending = acc;
        }
        self.pending_n += 1;
        if self.pending_n < self.bin {
            return Ok(());
        }
        if self.stored == self.capacity {
            // Merge, then keep filling the pending row until it covers the
            // new, doubled bin: stored row i always stands for input rows
            // [i * bin, (i + 1) * bin).
            self.halve();
            if self.pending_n < self.bin {
                return Ok(());
            }
        }
        let c = self.cols;
        self.data[self.stored * c..(self.stored + 1) * c].copy_from_slice(&self.pending);
        self.steps.truncate(self.stored);
        self.steps.push(self.pending_steps);
        self.dirty_from = self.dirty_from.min(self.stored);
        self.stored += 1;
        self.pending_n = 0;
        Ok(())
    }

    /// Append `k * cols` values as k rows at `steps` (one per row).
    pub fn push_rows_at(&mut self, values: &[f32], steps: &[i64]) -> Result<()> {
        if values.len() != steps.len() * self.cols {
            return Err(Error::Invalid(format!(
                "{} values are not {} rows of {} columns",
                values.len(),
                steps.len(),
                self.cols
            )));
        }
        values
            .chunks_exact(self.cols)
            .zip(steps)
            .try_for_each(|(r, &s)| self.push_row_at(r, s))
    }

    /// Append `k * cols` values as k rows.
    pub fn push_rows(&mut self, values: &[f32]) -> Result<()> {
        if !values.len().is_multiple_of(self.cols) {
            return Err(Error::Invalid(format!(
                "{} values are not whole rows of {} columns",
                values.len(),
                self.cols
            )));
        }
        values.chunks_exact(self.cols).try_for_each(|r| self.push_row(r))
    }

    /// Merge stored rows pairwise: half as many rows, each twice as wide.
    fn halve(&mut self) {
        let c = self.cols;
        let pairs = self.stored / 2;
        for i in 0..pairs {
            for k in 0..c {
                let (a, b) = (self.data[2 * i * c + k], self.data[(2 * i + 1) * c + k]);
                self.data[i * c + k] = match self.mode {
                    // Two full bins weigh the same.
                    Aggregate::Mean => (a + b) / 2.0,
                    Aggregate::Nearest => a,
                    m => combine([a, b], m, self.centre),
                };
            }
        }
        for i in 0..pairs {
            let (a, b) = (self.steps[2 * i], self.steps[2 * i + 1]);
            self.steps[i] = (a.0.min(b.0), a.1.max(b.1));
        }
        self.steps.truncate(pairs);
        self.stored = pairs;
        self.bin *= 2;
        self.dirty_from = 0;
    }

    /// The stored rows as a grid (oldest first); `None` before the first.
    pub fn grid(&self) -> Option<Grid> {
        (self.stored > 0)
            .then(|| {
                Grid::new(
                    self.stored,
                    self.cols,
                    self.data[..self.stored * self.cols].to_vec(),
                )
                .ok()
            })
            .flatten()
    }

    /// Stored rows changed since the last call: `(first row, its values
    /// to the end)`, for uploading only what is new.
    pub fn take_dirty(&mut self) -> Option<(usize, &[f32])> {
        if self.dirty_from >= self.stored {
            return None;
        }
        let from = self.dirty_from;
        self.dirty_from = self.stored;
        Some((from, &self.data[from * self.cols..self.stored * self.cols]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_spike_in_bounded_memory() {
        let mut h = History::new(3, 8, Aggregate::Extreme, 0.0).unwrap();
        for i in 0..1000u32 {
            let spike = if i == 613 {
                -35.0
            } else if i == 77 {
                28.0
            } else {
                0.1
            };
            h.push_row(&[0.0, spike, i as f32]).unwrap();
        }
        assert_eq!(h.total_rows(), 1000);
        assert!(h.stored_rows() <= 8);
        assert_eq!(h.rows_per_stored_row(), 128);
        let g = h.grid().unwrap();
        let col1: Vec<f32> = (0..g.rows()).map(|r| g.get(r, 1).unwrap()).collect();
        assert!(col1.contains(&-35.0) && col1.contains(&28.0), "{col1:?}");
        // Row 613 sits in stored row 613 / 128 = 4.
        assert_eq!(g.get(4, 1), Some(-35.0));
        assert_eq!(h.input_range(4), (512, 639));
        assert_eq!(h.step_ranges()[4], (512, 639));
        assert_eq!(h.step_ranges().len(), g.rows());
        // Column 2 holds the input row index; the farthest from 0 is the
        // bin's last row: stored row i stands for exactly [i * 128, (i + 1) * 128).
        for i in 0..g.rows() {
            assert_eq!(g.get(i, 2), Some(((i + 1) * 128 - 1) as f32), "stored row {i}");
        }
    }

    #[test]
    fn stored_rows_keep_their_step_ranges() {
        let mut h = History::new(1, 4, Aggregate::Extreme, 0.0).unwrap();
        h.push_rows_at(&[1.0, 2.0, 3.0], &[0, 150, 300]).unwrap();
        assert_eq!(h.step_ranges(), [(0, 0), (150, 150), (300, 300)]);
        h.push_rows_at(&[4.0, 5.0, 6.0], &[500, 1000, 1500]).unwrap();
        // Merged pairwise at the fifth row; 1500 waits for its bin to fill.
        assert_eq!(h.step_ranges(), [(0, 150), (300, 500), (1000, 1500)]);
        assert!(h.push_rows_at(&[1.0], &[1, 2]).is_err());
    }

    #[test]
    fn mean_and_max_merge_as_named() {
        let mut m = History::new(1, 2, Aggregate::Mean, 0.0).unwrap();
        m.push_rows(&[1.0, 3.0, 5.0, 7.0]).unwrap();
        // Full at 2 rows: [1, 3] merge to 2, then 5 and 7 form the next bin.
        assert_eq!(m.grid().unwrap().data(), [2.0, 6.0]);
        let mut x = History::new(1, 2, Aggregate::Max, 0.0).unwrap();
        x.push_rows(&[1.0, 3.0, 5.0, 2.0, 9.0]).unwrap();
        assert_eq!(x.grid().unwrap().data(), [3.0, 5.0]);
        assert_eq!(x.total_rows(), 5);
    }

    #[test]
    fn nan_survives_merging() {
        let mut h = History::new(1, 2, Aggregate::Extreme, 0.0).unwrap();
        h.push_rows(&[1.0, f32::NAN, 2.0, 3.0]).unwrap();
        assert!(h.grid().unwrap().data()[0].is_nan());
    }

    #[test]
    fn dirty_rows_are_only_the_new_ones_until_a_merge() {
        let mut h = History::new(2, 4, Aggregate::Extreme, 0.0).unwrap();
        h.push_rows(&[1.0, 1.0, 2.0, 2.0]).unwrap();
        assert_eq!(h.take_dirty().map(|(f, v)| (f, v.len())), Some((0, 4)));
        assert_eq!(h.take_dirty(), None);
        h.push_row(&[3.0, 3.0]).unwrap();
        assert_eq!(
            h.take_dirty().map(|(f, v)| (f, v.to_vec())),
            Some((2, vec![3.0, 3.0]))
        );
        h.push_rows(&[4.0, 4.0, 5.0, 5.0]).unwrap(); // merge: everything moves
        assert_eq!(h.take_dirty().map(|(f, _)| f), Some(0));
        assert!(
            h.push_row(&[1.0])
                .unwrap_err()
                .to_string()
                .contains("does not fit")
        );
        assert!(History::new(0, 4, Aggregate::Max, 0.0).is_err());
    }
}
