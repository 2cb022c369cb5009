//! Streaming reduction of a grid too large to hold: rows arrive in blocks,
//! in order, and are folded into the pixels that show them; only partial
//! aggregates are ever kept. Once every row has passed,
//! [`PixelSummary::values`] gives exactly the values the heatmap shader
//! would have drawn from the whole grid (same [`AxisSpans`] tables, same
//! NaN/inf rules), so the picture of a 1.6 GB file drawn through a summary
//! is the picture of the file.
//!
//! The rows of the stream run along one axis of the picture (the *along*
//! axis: y for a plain grid, x for a transposed one), the values of a row
//! along the other (*across*). A [`PixelPass`] groups the pixels along into
//! [`Bin`]s (runs of pixels covering the same rows), folds each row into
//! the bins that cover it, one value per column ([`ColumnPartials`]), and
//! reduces a bin's columns to the pixels across ([`PixelSummary`]) once the
//! across spans are known: as soon as its last row has passed when they
//! are known up front (memory: the open bins and the picture), or at the
//! end otherwise (memory: `bins x columns`).
//!
//! The row pass is the heavy part (every value of the file); it runs here on
//! the CPU or as a compute pass on the GPU (`gpu::reduce`), both leaving the
//! same column partials.

use std::borrow::Cow;

use crate::scale::aggregate::AxisSpans;
use crate::scale::{Aggregate, StatsAccumulator};

/// Per-cell class flags of a partial aggregate.
pub const HAS_NAN: u32 = 1;
/// Some covered value was +inf.
pub const HAS_POS_INF: u32 = 2;
/// Some covered value was -inf.
pub const HAS_NEG_INF: u32 = 4;

/// Which channels a mode keeps: (min, max, sum+count, nearest).
pub fn channels(mode: Aggregate) -> (bool, bool, bool, bool) {
    match mode {
        Aggregate::Extreme => (true, true, false, false),
        Aggregate::Max => (false, true, false, false),
        Aggregate::Min => (true, false, false, false),
        Aggregate::Mean => (false, false, true, false),
        Aggregate::Nearest => (false, false, false, true),
    }
}

/// Consecutive pixels along the streamed axis that cover the same rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bin {
    /// First row covered.
    pub start: u32,
    /// One past the last row covered.
    pub end: u32,
    /// The row [`Aggregate::Nearest`] takes.
    pub nearest: u32,
    /// First pixel of the run.
    pub first_pixel: u32,
    /// One past the last pixel of the run.
    pub end_pixel: u32,
}

/// The bins of an axis: runs of pixels with the same span and nearest
/// cell, in pixel order (so rows and pixels both increase); pixels outside
/// the grid belong to none.
pub fn bins_of(spans: &AxisSpans) -> Vec<Bin> {
    let mut out: Vec<Bin> = Vec::new();
    for (p, (&(a, b), &n)) in spans.spans.iter().zip(&spans.nearest).enumerate() {
        if a >= b {
            continue;
        }
        match out.last_mut() {
            Some(last)
                if last.start == a && last.end == b && last.nearest == n && last.end_pixel == p as u32 =>
            {
                last.end_pixel += 1;
            }
            _ => out.push(Bin {
                start: a,
                end: b,
                nearest: n,
                first_pixel: p as u32,
                end_pixel: p as u32 + 1,
            }),
        }
    }
    out
}

/// Partial aggregates of some rows, one per column. The channels a mode
/// does not need ([`channels`]) are empty: extreme keeps min and max, max
/// and min keep one, mean keeps sum and count, nearest keeps the value of
/// the nearest row; all but nearest keep the `HAS_*` flags.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnPartials {
    /// Smallest finite value (`f32::MAX` when none).
    pub min: Vec<f32>,
    /// Largest finite value (`-f32::MAX` when none).
    pub max: Vec<f32>,
    /// Sum of finite values.
    pub sum: Vec<f32>,
    /// Number of finite values.
    pub count: Vec<u32>,
    /// `HAS_*` flags (one byte: summaries are a large part of the memory).
    pub flags: Vec<u8>,
    /// The value in the nearest row.
    pub nearest: Vec<f32>,
}

impl ColumnPartials {
    /// Empty partials of `n` columns for `mode`.
    pub fn new(n: usize, mode: Aggregate) -> ColumnPartials {
        let (mn, mx, mean, near) = channels(mode);
        let ch = |on: bool, v: f32| if on { vec![v; n] } else { Vec::new() };
        ColumnPartials {
            min: ch(mn, f32::MAX),
            max: ch(mx, -f32::MAX),
            sum: ch(mean, 0.0),
            count: if mean { vec![0; n] } else { Vec::new() },
            flags: if near { Vec::new() } else { vec![0; n] },
            nearest: ch(near, f32::NAN),
        }
    }

    /// Back to empty (for reuse).
    fn reset(&mut self) {
        self.min.fill(f32::MAX);
        self.max.fill(-f32::MAX);
        self.sum.fill(0.0);
        self.count.fill(0);
        self.flags.fill(0);
        self.nearest.fill(f32::NAN);
    }
}

/// Partial aggregates of every pixel of a plot, along x across, row-major
/// by the along axis; what a [`PixelPass`] leaves.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelSummary {
    along: AxisSpans,
    across: AxisSpans,
    mode: Aggregate,
    part: ColumnPartials,
}

impl PixelSummary {
    fn new(along: AxisSpans, across: AxisSpans, mode: Aggregate) -> PixelSummary {
        let n = along.pixels() as usize * across.pixels() as usize;
        PixelSummary {
            along,
            across,
            mode,
            part: ColumnPartials::new(n, mode),
        }
    }

    /// The spans of the streamed axis.
    pub fn along(&self) -> &AxisSpans {
        &self.along
    }

    /// The spans of the other axis.
    pub fn across(&self) -> &AxisSpans {
        &self.across
    }

    /// Aggregation mode.
    pub fn mode(&self) -> Aggregate {
        self.mode
    }

    /// The value of every pixel, along x across, row-major by the along
    /// axis: what the heatmap shader would show for that pixel of the whole
    /// grid (NaN and +-inf stand for the special colours). Pixels outside
    /// the grid ([`AxisSpans::inside`]) hold meaningless values. `centre` is
    /// the norm's centre, for signed extreme.
    pub fn values(&self, centre: f32) -> Vec<f32> {
        let n = self.along.pixels() as usize * self.across.pixels() as usize;
        let p = &self.part;
        if self.mode == Aggregate::Nearest {
            return p.nearest.clone();
        }
        (0..n)
            .map(|i| {
                let mn = p.min.get(i).copied().unwrap_or(f32::MAX);
                let mx = p.max.get(i).copied().unwrap_or(-f32::MAX);
                let sum = p.sum.get(i).copied().unwrap_or(0.0);
                let count = p.count.get(i).copied().unwrap_or(0);
                let flags = p.flags.get(i).copied().unwrap_or(0) as u32;
                let finite = match self.mode {
                    Aggregate::Mean => count > 0,
                    Aggregate::Max => mx > -f32::MAX,
                    _ => mn < f32::MAX,
                };
                decide(self.mode, flags, finite, mn, mx, sum, count, centre)
            })
            .collect()
    }
}

/// One pass over the rows of a `rows x cols` grid (rows arriving in order,
/// in blocks of any size), reducing it to the pixels of a plot: see the
/// module documentation.
#[derive(Clone, Debug)]
pub struct PixelPass {
    rows: u32,
    cols: u32,
    mode: Aggregate,
    along: AxisSpans,
    bins: Vec<Bin>,
    /// Known up front: bins are reduced across as soon as they are complete.
    across: Option<AxisSpans>,
    /// Column partials per bin, while open (or until the end without `across`).
    acc: Vec<Option<ColumnPartials>>,
    pool: Vec<ColumnPartials>,
    /// Bins reduced so far (with `across`).
    out: Option<PixelSummary>,
}

impl PixelPass {
    /// A pass over a `rows x cols` grid whose rows are shown by the pixels
    /// of `along` (spans over `rows`). With `across` (spans over `cols`)
    /// known up front, memory is the open bins plus the picture; without,
    /// every bin keeps its column partials until [`PixelPass::summary`].
    pub fn new(
        rows: u32,
        cols: u32,
        along: AxisSpans,
        across: Option<AxisSpans>,
        mode: Aggregate,
    ) -> PixelPass {
        let bins = bins_of(&along);
        let out = across
            .as_ref()
            .map(|a| PixelSummary::new(along.clone(), a.clone(), mode));
        PixelPass {
            rows,
            cols,
            mode,
            acc: vec![None; bins.len()],
            along,
            bins,
            across,
            pool: Vec::new(),
            out,
        }
    }

    /// Rows of the grid.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Columns of the grid.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// Aggregation mode.
    pub fn mode(&self) -> Aggregate {
        self.mode
    }

    /// The spans of the streamed axis.
    pub fn along(&self) -> &AxisSpans {
        &self.along
    }

    /// The across spans given up front, if any.
    pub fn across(&self) -> Option<&AxisSpans> {
        self.across.as_ref()
    }

    /// The bins, in row order.
    pub fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// The bins `[first, last)` whose rows meet rows `[r0, r1)`.
    pub fn bins_touching(&self, r0: u32, r1: u32) -> (usize, usize) {
        if r0 >= r1 {
            return (0, 0);
        }
        let first = self.bins.partition_point(|b| b.end <= r0);
        let last = self.bins.partition_point(|b| b.start < r1);
        (first, last.max(first))
    }

    /// The column partials of bin `b`, created empty if it has none (for
    /// a reduction done elsewhere, such as the GPU's, to fill in).
    pub fn partials_mut(&mut self, b: usize) -> Option<&mut ColumnPartials> {
        let (cols, mode) = (self.cols as usize, self.mode);
        let slot = self.acc.get_mut(b)?;
        Some(slot.get_or_insert_with(|| ColumnPartials::new(cols, mode)))
    }

    /// Fold rows `first_row ..` (`block.len() / cols` of them, row-major)
    /// in, splitting the columns over `threads` threads.
    pub fn add_block(&mut self, first_row: u32, block: &[f32], threads: usize) {
        self.fold(first_row, block, threads, None);
    }

    /// [`PixelPass::add_block`] that also folds every value of the block
    /// into `stats` (one accumulator per thread, so `stats.len()` threads),
    /// in the same pass over memory.
    pub fn add_block_with_stats(&mut self, first_row: u32, block: &[f32], stats: &mut [StatsAccumulator]) {
        let threads = stats.len();
        self.fold(first_row, block, threads, Some(stats));
    }

    fn fold(&mut self, first: u32, block: &[f32], threads: usize, stats: Option<&mut [StatsAccumulator]>) {
        let cols = self.cols as usize;
        if cols == 0 || block.is_empty() {
            return;
        }
        let n_rows = (block.len() / cols) as u32;
        let end = first.saturating_add(n_rows);
        let (b0, b1) = self.bins_touching(first, end);
        for slot in &mut self.acc[b0..b1] {
            if slot.is_none() {
                *slot = Some(match self.pool.pop() {
                    Some(mut p) => {
                        p.reset();
                        p
                    }
                    None => ColumnPartials::new(cols, self.mode),
                });
            }
        }
        let threads = threads.clamp(1, cols.div_ceil(256).max(1));
        let per = cols.div_ceil(threads);
        let mode = self.mode;
        // Split every open bin by column range: each thread owns its columns
        // of every bin, so no two threads write the same value.
        let mut parts: Vec<Vec<Chunk<'_>>> = (0..threads).map(|_| Vec::with_capacity(b1 - b0)).collect();
        for acc in self.acc[b0..b1].iter_mut().flatten() {
            let mut min = acc.min.chunks_mut(per);
            let mut max = acc.max.chunks_mut(per);
            let mut sum = acc.sum.chunks_mut(per);
            let mut count = acc.count.chunks_mut(per);
            let mut flags = acc.flags.chunks_mut(per);
            let mut nearest = acc.nearest.chunks_mut(per);
            for part in parts.iter_mut() {
                part.push(Chunk {
                    min: min.next().unwrap_or_default(),
                    max: max.next().unwrap_or_default(),
                    sum: sum.next().unwrap_or_default(),
                    count: count.next().unwrap_or_default(),
                    flags: flags.next().unwrap_or_default(),
                    nearest: nearest.next().unwrap_or_default(),
                });
            }
        }
        let bins = &self.bins[b0..b1];
        let job = |t: usize, chunks: &mut [Chunk<'_>], acc: Option<&mut StatsAccumulator>| {
            let c0 = (t * per).min(cols);
            let c1 = ((t + 1) * per).min(cols);
            // Statistics see each row once, right before it is folded (while
            // it is in cache); rows arrive in order, boundary rows twice.
            let mut acc = acc;
            let mut seen = first;
            let mut stats_to = |to: u32, acc: &mut Option<&mut StatsAccumulator>| {
                if let Some(acc) = acc.as_deref_mut() {
                    for r in seen..to {
                        acc.add(&block[(r - first) as usize * cols..][c0..c1]);
                    }
                }
                seen = seen.max(to);
            };
            let row = |r: u32| &block[(r - first) as usize * cols..][c0..c1];
            for (bin, chunk) in bins.iter().zip(chunks.iter_mut()) {
                let (mut r, r1) = (bin.start.max(first), bin.end.min(end));
                // Four rows at a time: one load and store of the partials
                // for four values, and no flag work when all are finite.
                while mode != Aggregate::Nearest && r + 4 <= r1 {
                    stats_to(r + 4, &mut acc);
                    chunk.fold4([row(r), row(r + 1), row(r + 2), row(r + 3)], mode);
                    r += 4;
                }
                // The rest (up to three rows): a row folded four times
                // leaves the same partials as once, so pad with the last.
                if mode != Aggregate::Nearest && mode != Aggregate::Mean && r < r1 {
                    stats_to(r1, &mut acc);
                    let last = r1 - 1;
                    let pick = |k: u32| row((r + k).min(last));
                    chunk.fold4([pick(0), pick(1), pick(2), pick(3)], mode);
                    r = r1;
                }
                for r in r..r1 {
                    stats_to(r + 1, &mut acc);
                    chunk.fold(row(r), mode, r == bin.nearest);
                }
            }
            stats_to(end, &mut acc);
        };
        let mut accs: Vec<Option<&mut StatsAccumulator>> = match stats {
            Some(st) => st.iter_mut().map(Some).collect(),
            None => Vec::new(),
        };
        accs.resize_with(threads, || None);
        // Fewer column ranges than accumulators: the spare ones see nothing.
        let jobs = parts.iter_mut().zip(accs).enumerate();
        if threads == 1 {
            for (t, (part, acc)) in jobs {
                job(t, part, acc);
            }
        } else {
            std::thread::scope(|s| {
                for (t, (part, acc)) in jobs {
                    s.spawn(move || job(t, part, acc));
                }
            });
        }
        drop(parts);
        if self.across.is_some() {
            let done = b0 + self.bins[b0..b1].partition_point(|b| b.end <= end);
            self.close(b0, done, threads);
        }
    }

    /// Reduce bins `[b0, b1)` across into the output and recycle their
    /// partials.
    fn close(&mut self, b0: usize, b1: usize, threads: usize) {
        let (Some(across), Some(out)) = (&self.across, &mut self.out) else {
            return;
        };
        let open: Vec<(usize, &ColumnPartials)> = (b0..b1)
            .filter_map(|b| self.acc[b].as_ref().map(|a| (b, a)))
            .collect();
        reduce_across(&self.bins, &open, across, out, threads);
        for b in b0..b1 {
            if let Some(p) = self.acc[b].take() {
                self.pool.push(p);
            }
        }
    }

    /// Whether [`PixelPass::summary`] can reduce to `across`.
    pub fn fits(&self, across: &AxisSpans) -> bool {
        match &self.across {
            Some(known) => known == across,
            None => across.cells == self.cols,
        }
    }

    /// The value of every pixel once every row has passed (see
    /// [`PixelSummary::values`]), along x across, row-major by the along
    /// axis; `None` when `across` does not fit ([`PixelPass::fits`]).
    /// Without across spans up front, this reduces the bins straight to
    /// values, with no [`PixelSummary`] in between.
    pub fn values(&self, across: &AxisSpans, centre: f32, threads: usize) -> Option<Vec<f32>> {
        if !self.fits(across) {
            return None;
        }
        if self.across.is_some() {
            return Some(self.summary(across, threads)?.values(centre));
        }
        let q_n = across.pixels() as usize;
        let mut out = vec![f32::NAN; self.along.pixels() as usize * q_n];
        if q_n == 0 || self.bins.is_empty() {
            return Some(out);
        }
        let mode = self.mode;
        // Each thread takes a run of bins and the rows of their pixels.
        let threads = threads.clamp(1, self.bins.len());
        let per = self.bins.len().div_ceil(threads);
        let mut jobs = Vec::with_capacity(threads);
        let mut rest: &mut [f32] = &mut out;
        let mut at = 0usize;
        for (g, group) in self.bins.chunks(per).enumerate() {
            let (Some(first), Some(last)) = (group.first(), group.last()) else {
                continue;
            };
            let (start, end) = (first.first_pixel as usize * q_n, last.end_pixel as usize * q_n);
            let tail = std::mem::take(&mut rest);
            let (_, tail) = tail.split_at_mut(start - at);
            let (mine, tail) = tail.split_at_mut(end - start);
            rest = tail;
            at = end;
            jobs.push((g * per, group, start, mine));
        }
        let acc = &self.acc;
        let job = |(b0, group, start, rows): (usize, &[Bin], usize, &mut [f32])| {
            for (i, bin) in group.iter().enumerate() {
                let Some(Some(a)) = acc.get(b0 + i) else {
                    continue;
                };
                let row0 = bin.first_pixel as usize * q_n - start;
                let row = &mut rows[row0..row0 + q_n];
                for (q, v) in row.iter_mut().enumerate() {
                    let span = across.spans[q];
                    if span.0 < span.1 {
                        *v = pixel_value(a, span, across.nearest[q], mode, centre);
                    }
                }
                for px in 1..(bin.end_pixel - bin.first_pixel) as usize {
                    rows.copy_within(row0..row0 + q_n, row0 + px * q_n);
                }
            }
        };
        if jobs.len() == 1 {
            jobs.into_iter().for_each(job);
        } else {
            std::thread::scope(|s| {
                for j in jobs {
                    s.spawn(move || job(j));
                }
            });
        }
        Some(out)
    }

    /// The pixels, once every row has passed: the bins reduced across with
    /// `across` (which must equal the spans given up front, if any: `None`
    /// otherwise).
    pub fn summary(&self, across: &AxisSpans, threads: usize) -> Option<Cow<'_, PixelSummary>> {
        if let Some(known) = &self.across {
            if known != across {
                return None;
            }
            let out = self.out.as_ref()?;
            if self.acc.iter().all(Option::is_none) {
                return Some(Cow::Borrowed(out));
            }
            // Bins never completed (a pass cut short): reduce what is there.
            let mut out = out.clone();
            let open: Vec<(usize, &ColumnPartials)> = self
                .acc
                .iter()
                .enumerate()
                .filter_map(|(b, a)| a.as_ref().map(|a| (b, a)))
                .collect();
            reduce_across(&self.bins, &open, across, &mut out, threads);
            return Some(Cow::Owned(out));
        }
        if across.cells != self.cols {
            return None;
        }
        let mut out = PixelSummary::new(self.along.clone(), across.clone(), self.mode);
        let open: Vec<(usize, &ColumnPartials)> = self
            .acc
            .iter()
            .enumerate()
            .filter_map(|(b, a)| a.as_ref().map(|a| (b, a)))
            .collect();
        reduce_across(&self.bins, &open, across, &mut out, threads);
        Some(Cow::Owned(out))
    }
}

/// The value of one pixel from a bin's column partials over columns
/// `[c0, c1)` (`near`: the column nearest mode takes).
#[inline]
fn pixel_value(acc: &ColumnPartials, (c0, c1): (u32, u32), near: u32, mode: Aggregate, centre: f32) -> f32 {
    let (c0, c1) = (c0 as usize, c1 as usize);
    if mode == Aggregate::Nearest {
        return acc.nearest.get(near as usize).copied().unwrap_or(f32::NAN);
    }
    let flags = acc
        .flags
        .get(c0..c1)
        .map_or(0, |s| s.iter().fold(0u8, |a, &f| a | f)) as u32;
    let mn = acc
        .min
        .get(c0..c1)
        .map_or(f32::MAX, |s| s.iter().fold(f32::MAX, |a, &b| a.min(b)));
    let mx = acc
        .max
        .get(c0..c1)
        .map_or(-f32::MAX, |s| s.iter().fold(-f32::MAX, |a, &b| a.max(b)));
    let sum = acc
        .sum
        .get(c0..c1)
        .map_or(0.0, |s| s.iter().fold(0.0, |a, &b| a + b));
    let n: u32 = acc.count.get(c0..c1).map_or(0, |s| s.iter().sum());
    let finite = match mode {
        Aggregate::Mean => n > 0,
        Aggregate::Max => mx > -f32::MAX,
        _ => mn < f32::MAX,
    };
    decide(mode, flags, finite, mn, mx, sum, n, centre)
}

/// Reduce the column partials of `open` bins (index, partials) to the
/// pixels across, into every along pixel of each bin.
fn reduce_across(
    bins: &[Bin],
    open: &[(usize, &ColumnPartials)],
    across: &AxisSpans,
    out: &mut PixelSummary,
    threads: usize,
) {
    if open.is_empty() {
        return;
    }
    let q_n = across.pixels() as usize;
    let mode = out.mode;
    // Each bin writes the row of its first pixel; bins own disjoint rows.
    let mut rows: Vec<Option<Chunk<'_>>> = {
        let p = &mut out.part;
        let mut min = p.min.chunks_mut(q_n.max(1));
        let mut max = p.max.chunks_mut(q_n.max(1));
        let mut sum = p.sum.chunks_mut(q_n.max(1));
        let mut count = p.count.chunks_mut(q_n.max(1));
        let mut flags = p.flags.chunks_mut(q_n.max(1));
        let mut nearest = p.nearest.chunks_mut(q_n.max(1));
        (0..out.along.pixels())
            .map(|_| {
                Some(Chunk {
                    min: min.next().unwrap_or_default(),
                    max: max.next().unwrap_or_default(),
                    sum: sum.next().unwrap_or_default(),
                    count: count.next().unwrap_or_default(),
                    flags: flags.next().unwrap_or_default(),
                    nearest: nearest.next().unwrap_or_default(),
                })
            })
            .collect()
    };
    let mut work: Vec<(&ColumnPartials, Chunk<'_>)> = open
        .iter()
        .filter_map(|&(b, acc)| {
            let row = rows.get_mut(bins.get(b)?.first_pixel as usize)?.take()?;
            Some((acc, row))
        })
        .collect();
    let reduce = |items: &mut [(&ColumnPartials, Chunk<'_>)]| {
        for (acc, row) in items.iter_mut() {
            row.reduce_from(acc, across, mode);
        }
    };
    let threads = threads.clamp(1, work.len());
    if threads == 1 {
        reduce(&mut work);
    } else {
        let per = work.len().div_ceil(threads);
        std::thread::scope(|s| {
            for items in work.chunks_mut(per) {
                s.spawn(move || reduce(items));
            }
        });
    }
    drop(work);
    drop(rows);
    // Bins wider than one pixel: copy the first pixel's row to the others.
    let p = &mut out.part;
    for &(b, _) in open {
        let Some(bin) = bins.get(b) else { continue };
        let src = bin.first_pixel as usize * q_n;
        for px in bin.first_pixel + 1..bin.end_pixel {
            let dst = px as usize * q_n;
            for_each_channel(p, |ch| ch.copy_within(src..src + q_n, dst));
        }
    }
}

/// A channel, whatever its element type.
trait Channel {
    fn copy_within(&mut self, src: std::ops::Range<usize>, dst: usize);
}

impl<T: Copy> Channel for Vec<T> {
    fn copy_within(&mut self, src: std::ops::Range<usize>, dst: usize) {
        if !self.is_empty() {
            self.as_mut_slice().copy_within(src, dst);
        }
    }
}

fn for_each_channel(p: &mut ColumnPartials, mut f: impl FnMut(&mut dyn Channel)) {
    f(&mut p.min);
    f(&mut p.max);
    f(&mut p.sum);
    f(&mut p.count);
    f(&mut p.flags);
    f(&mut p.nearest);
}

/// The shader's decision for one pixel from its partial aggregates
/// (`aggregate()` in `shaders/heatmap.wgsl`).
#[allow(clippy::too_many_arguments)]
fn decide(mode: Aggregate, flags: u32, finite: bool, mn: f32, mx: f32, sum: f32, n: u32, centre: f32) -> f32 {
    let (nan, pos_inf, neg_inf) = (
        flags & HAS_NAN != 0,
        flags & HAS_POS_INF != 0,
        flags & HAS_NEG_INF != 0,
    );
    if nan || (mode == Aggregate::Mean && pos_inf && neg_inf) {
        return f32::NAN;
    }
    if pos_inf && (mode != Aggregate::Min || !finite) && !(mode == Aggregate::Min && neg_inf) {
        return f32::INFINITY;
    }
    if neg_inf && (mode != Aggregate::Max || !finite) {
        return f32::NEG_INFINITY;
    }
    match mode {
        Aggregate::Max => mx,
        Aggregate::Min => mn,
        Aggregate::Mean => sum / n.max(1) as f32,
        // Farther from the centre wins; on a tie the larger value.
        _ => {
            if (mx - centre).abs() >= (mn - centre).abs() {
                mx
            } else {
                mn
            }
        }
    }
}

/// Mutable slices of every channel of some partials (a column range of a
/// bin, or a row of the picture).
struct Chunk<'a> {
    min: &'a mut [f32],
    max: &'a mut [f32],
    sum: &'a mut [f32],
    count: &'a mut [u32],
    flags: &'a mut [u8],
    nearest: &'a mut [f32],
}

/// Whether every value is finite (vector code: the largest exponent).
#[inline]
fn all_finite(v: &[f32]) -> bool {
    v.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7f80_0000)) != 0x7f80_0000
}

impl Chunk<'_> {
    /// Fold four rows' slices in, in order: the same result as four
    /// [`Chunk::fold`]s (sums added row by row), faster when all are finite.
    fn fold4(&mut self, rows: [&[f32]; 4], mode: Aggregate) {
        if !rows.iter().all(|r| all_finite(r)) {
            for r in rows {
                self.fold(r, mode, false);
            }
            return;
        }
        let n = rows[0].len();
        let [a, b, c, d] = rows.map(|r| &r[..n]);
        let better_lo = |x: f32, y: f32| if x < y { x } else { y };
        let better_hi = |x: f32, y: f32| if x > y { x } else { y };
        match mode {
            Aggregate::Extreme => {
                let (mn, mx) = (&mut self.min[..n], &mut self.max[..n]);
                for i in 0..n {
                    let lo = better_lo(better_lo(better_lo(better_lo(mn[i], a[i]), b[i]), c[i]), d[i]);
                    let hi = better_hi(better_hi(better_hi(better_hi(mx[i], a[i]), b[i]), c[i]), d[i]);
                    mn[i] = lo;
                    mx[i] = hi;
                }
            }
            Aggregate::Max => {
                let mx = &mut self.max[..n];
                for i in 0..n {
                    mx[i] = better_hi(better_hi(better_hi(better_hi(mx[i], a[i]), b[i]), c[i]), d[i]);
                }
            }
            Aggregate::Min => {
                let mn = &mut self.min[..n];
                for i in 0..n {
                    mn[i] = better_lo(better_lo(better_lo(better_lo(mn[i], a[i]), b[i]), c[i]), d[i]);
                }
            }
            Aggregate::Mean => {
                let (sm, ct) = (&mut self.sum[..n], &mut self.count[..n]);
                for i in 0..n {
                    sm[i] = (((sm[i] + a[i]) + b[i]) + c[i]) + d[i];
                    ct[i] += 4;
                }
            }
            Aggregate::Nearest => {}
        }
    }

    /// Fold one row's slice in.
    fn fold(&mut self, src: &[f32], mode: Aggregate, is_nearest_row: bool) {
        let n = src.len();
        match mode {
            Aggregate::Nearest => {
                if is_nearest_row {
                    self.nearest[..n].copy_from_slice(src);
                }
            }
            // Branch-free bodies over equal-length slices, so they compile
            // to vector code: these loops see every value of the file.
            Aggregate::Extreme => {
                let (mn, mx, fl) = (&mut self.min[..n], &mut self.max[..n], &mut self.flags[..n]);
                for i in 0..n {
                    let v = src[i];
                    let fin = finite(v);
                    mn[i] = if fin & (v < mn[i]) { v } else { mn[i] };
                    mx[i] = if fin & (v > mx[i]) { v } else { mx[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Max => {
                let (mx, fl) = (&mut self.max[..n], &mut self.flags[..n]);
                for i in 0..n {
                    let v = src[i];
                    mx[i] = if finite(v) & (v > mx[i]) { v } else { mx[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Min => {
                let (mn, fl) = (&mut self.min[..n], &mut self.flags[..n]);
                for i in 0..n {
                    let v = src[i];
                    mn[i] = if finite(v) & (v < mn[i]) { v } else { mn[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Mean => {
                let (sm, ct, fl) = (&mut self.sum[..n], &mut self.count[..n], &mut self.flags[..n]);
                for i in 0..n {
                    let v = src[i];
                    let fin = finite(v);
                    sm[i] += if fin { v } else { 0.0 };
                    ct[i] += fin as u32;
                    fl[i] |= flag_bits(v);
                }
            }
        }
    }

    /// This row of pixels from a bin's column partials: pixel `q` combines
    /// the columns of its span.
    fn reduce_from(&mut self, acc: &ColumnPartials, across: &AxisSpans, mode: Aggregate) {
        for (q, (&(c0, c1), &near)) in across.spans.iter().zip(&across.nearest).enumerate() {
            if c0 >= c1 {
                continue;
            }
            let (c0, c1) = (c0 as usize, c1 as usize);
            if mode == Aggregate::Nearest {
                if let (Some(d), Some(&v)) = (self.nearest.get_mut(q), acc.nearest.get(near as usize)) {
                    *d = v;
                }
                continue;
            }
            if let (Some(d), Some(s)) = (self.flags.get_mut(q), acc.flags.get(c0..c1)) {
                *d = s.iter().fold(0, |a, &f| a | f);
            }
            if let (Some(d), Some(s)) = (self.min.get_mut(q), acc.min.get(c0..c1)) {
                *d = s.iter().fold(f32::MAX, |a, &b| a.min(b));
            }
            if let (Some(d), Some(s)) = (self.max.get_mut(q), acc.max.get(c0..c1)) {
                *d = s.iter().fold(-f32::MAX, |a, &b| a.max(b));
            }
            if let (Some(d), Some(s)) = (self.sum.get_mut(q), acc.sum.get(c0..c1)) {
                *d = s.iter().fold(0.0, |a, &b| a + b);
            }
            if let (Some(d), Some(s)) = (self.count.get_mut(q), acc.count.get(c0..c1)) {
                *d = s.iter().sum();
            }
        }
    }
}

/// Finite, by the bits (vectorises; `f32::is_finite` compiles to the same).
#[inline(always)]
fn finite(v: f32) -> bool {
    v.to_bits() & 0x7f80_0000 != 0x7f80_0000
}

/// The `HAS_*` flag of `v`, 0 when finite; branch-free.
#[inline(always)]
fn flag_bits(v: f32) -> u8 {
    let b = v.to_bits();
    let special = (b & 0x7f80_0000 == 0x7f80_0000) as u32;
    let nan = special & (b & 0x007f_ffff != 0) as u32;
    let inf = special & !nan & 1;
    let neg = b >> 31;
    ((nan * HAS_NAN) | ((inf & !neg & 1) * HAS_POS_INF) | ((inf & neg) * HAS_NEG_INF)) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::aggregate::{cell_span, nearest_cell};

    fn lcg_grid(rows: u32, cols: u32, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..rows as usize * cols as usize)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    /// The shader's per-pixel rule, applied to the whole grid directly:
    /// `h x w` values, row-major, for rows spanned by `ys` and columns by `xs`.
    fn direct(
        data: &[f32],
        cols: u32,
        xs: &AxisSpans,
        ys: &AxisSpans,
        mode: Aggregate,
        centre: f32,
    ) -> Vec<f32> {
        let mut out = Vec::new();
        for py in 0..ys.pixels() as usize {
            let (r0, r1) = ys.spans[py];
            for px in 0..xs.pixels() as usize {
                if mode == Aggregate::Nearest {
                    let (r, c) = (ys.nearest[py], xs.nearest[px]);
                    out.push(data[(r * cols + c) as usize]);
                    continue;
                }
                let (c0, c1) = xs.spans[px];
                let (mut flags, mut mn, mut mx, mut sum, mut n) = (0, f32::MAX, -f32::MAX, 0.0f32, 0u32);
                for r in r0..r1 {
                    for c in c0..c1 {
                        let v = data[(r * cols + c) as usize];
                        if v.is_finite() {
                            mn = mn.min(v);
                            mx = mx.max(v);
                            sum += v;
                            n += 1;
                        } else {
                            flags |= flag_bits(v) as u32;
                        }
                    }
                }
                out.push(decide(mode, flags, n > 0, mn, mx, sum, n, centre));
            }
        }
        out
    }

    fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        (0..cols)
            .flat_map(|c| (0..rows).map(move |r| v[r * cols + c]))
            .collect()
    }

    fn same(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * x.abs().max(1.0))
    }

    fn planted(rows: u32, cols: u32) -> Vec<f32> {
        let mut data = lcg_grid(rows, cols, 7);
        let at = |r: u32, c: u32| ((r % rows) * cols + c % cols) as usize;
        data[at(5, 3)] = f32::NAN;
        data[at(400, 70)] = f32::INFINITY;
        data[at(401, 70)] = f32::NEG_INFINITY;
        data[at(900, 10)] = 55.0;
        data[at(901, 11)] = -60.0;
        data
    }

    /// Run a pass in blocks of `block_rows`, with the across spans up front
    /// or not.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        data: &[f32],
        rows: u32,
        cols: u32,
        along: &AxisSpans,
        across: &AxisSpans,
        mode: Aggregate,
        block_rows: usize,
        threads: usize,
        rolling: bool,
    ) -> Vec<f32> {
        let mut p = PixelPass::new(rows, cols, along.clone(), rolling.then(|| across.clone()), mode);
        for (i, block) in data.chunks(block_rows * cols as usize).enumerate() {
            p.add_block((i * block_rows) as u32, block, threads);
        }
        let via_summary = p.summary(across, threads).unwrap().values(0.25);
        let direct = p.values(across, 0.25, threads).unwrap();
        let inside = |v: &[f32]| -> Vec<f32> {
            let (a0, a1) = along.inside();
            let (q0, q1) = across.inside();
            let q = across.pixels() as usize;
            (a0 as usize..a1 as usize)
                .flat_map(|a| v[a * q + q0 as usize..a * q + q1 as usize].to_vec())
                .collect()
        };
        assert!(
            same(&inside(&via_summary), &inside(&direct), 0.0),
            "values() and summary().values() differ"
        );
        direct
    }

    #[test]
    fn blocks_of_any_size_give_the_direct_reduction() {
        let (rows, cols) = (1013u32, 77u32);
        let data = planted(rows, cols);
        for mode in Aggregate::ALL {
            for (w, h) in [(20, 50), (77, 1013), (30, 101), (200, 7), (5, 2000)] {
                let (xs, ys) = (AxisSpans::uniform(cols, w), AxisSpans::uniform(rows, h));
                let want = direct(&data, cols, &xs, &ys, mode, 0.25);
                for (block_rows, threads) in [(1usize, 1usize), (64, 2), (1013, 3), (333, 2)] {
                    for rolling in [false, true] {
                        let got = pass(&data, rows, cols, &ys, &xs, mode, block_rows, threads, rolling);
                        let tol = if mode == Aggregate::Mean { 1e-4 } else { 0.0 };
                        assert!(
                            same(&got, &want, tol),
                            "{mode:?} {w}x{h} blocks of {block_rows} rows, rolling {rolling}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn transposed_and_uneven_passes_give_the_direct_reduction() {
        // The grid streamed by its columns (the file holds its transpose),
        // and cells at uneven coordinates on either axis.
        let (rows, cols) = (300u32, 410u32);
        let data = planted(rows, cols);
        let file = transpose(&data, rows as usize, cols as usize);
        let mut coord = 0.0f32;
        let row_edges: Vec<f32> = (0..=rows)
            .map(|i| {
                coord += if i % 7 == 0 { 9.0 } else { 1.0 };
                coord
            })
            .collect();
        let col_edges: Vec<f32> = (0..=cols).map(|i| (i as f32).powf(1.3)).collect();
        for mode in Aggregate::ALL {
            for (w, h) in [(97, 61), (800, 500), (410, 300)] {
                let layouts = [
                    (AxisSpans::uniform(cols, w), AxisSpans::uniform(rows, h)),
                    (
                        AxisSpans::uniform(cols, w),
                        AxisSpans::edges(&row_edges, h, (row_edges[0], row_edges[rows as usize])),
                    ),
                    (
                        AxisSpans::edges(&col_edges, w, (-20.0, col_edges[cols as usize] + 20.0)),
                        AxisSpans::edges(&row_edges, h, (row_edges[0], row_edges[rows as usize])),
                    ),
                ];
                for (xs, ys) in layouts {
                    let want = direct(&data, cols, &xs, &ys, mode, 0.25);
                    for rolling in [false, true] {
                        let got = pass(&data, rows, cols, &ys, &xs, mode, 50, 2, rolling);
                        let tol = if mode == Aggregate::Mean { 1e-4 } else { 0.0 };
                        let (x0, x1) = xs.inside();
                        let (y0, y1) = ys.inside();
                        let inside = |v: &[f32]| -> Vec<f32> {
                            (y0..y1)
                                .flat_map(|y| (x0..x1).map(move |x| v[(y * w + x) as usize]))
                                .collect()
                        };
                        assert!(same(&inside(&got), &inside(&want), tol), "plain {mode:?} {w}x{h}");
                        // Streamed by columns: along = x, across = y.
                        let got = pass(&file, cols, rows, &xs, &ys, mode, 37, 2, rolling);
                        let got = transpose(&got, w as usize, h as usize);
                        assert!(
                            same(&inside(&got), &inside(&want), tol),
                            "transposed {mode:?} {w}x{h}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn spikes_survive_a_huge_reduction() {
        let (rows, cols) = (20_000u32, 64u32);
        let mut data = vec![0.5f32; (rows * cols) as usize];
        data[(12_345 * cols + 40) as usize] = 28.0;
        data[(17_000 * cols + 3) as usize] = -35.0;
        let (xs, ys) = (AxisSpans::uniform(cols, 16), AxisSpans::uniform(rows, 100));
        let out = pass(&data, rows, cols, &ys, &xs, Aggregate::Extreme, 1000, 2, true);
        assert_eq!(out.iter().filter(|&&v| v == 28.0).count(), 1);
        assert_eq!(out.iter().filter(|&&v| v == -35.0).count(), 1);
    }

    #[test]
    fn rolling_passes_keep_only_open_bins() {
        let (rows, cols) = (10_000u32, 32u32);
        let data = lcg_grid(rows, cols, 3);
        let (xs, ys) = (AxisSpans::uniform(cols, 8), AxisSpans::uniform(rows, 500));
        let mut p = PixelPass::new(rows, cols, ys, Some(xs), Aggregate::Mean);
        for (i, block) in data.chunks(100 * cols as usize).enumerate() {
            p.add_block(i as u32 * 100, block, 2);
            let open = p.acc.iter().filter(|a| a.is_some()).count();
            assert!(open <= 1, "{open} bins open after block {i}");
        }
    }

    #[test]
    fn touching_bins_cover_every_span() {
        for (rows, h) in [(100u32, 7u32), (7, 100), (1000, 999), (5, 5)] {
            let p = PixelPass::new(rows, 1, AxisSpans::uniform(rows, h), None, Aggregate::Max);
            for (r0, r1) in [(0u32, 1u32), (3, 5), (0, rows), (rows - 1, rows)] {
                let (a, b) = p.bins_touching(r0, r1);
                for (i, bin) in p.bins().iter().enumerate() {
                    let touches = bin.start < r1 && r0 < bin.end;
                    assert_eq!(
                        touches,
                        (a..b).contains(&i),
                        "rows {rows} h {h} [{r0},{r1}) bin {i}"
                    );
                }
            }
            // Bins partition the pixels; each bin's span is its pixels' span.
            let pixels: u32 = p.bins().iter().map(|b| b.end_pixel - b.first_pixel).sum();
            assert_eq!(pixels, h);
            for b in p.bins() {
                for px in b.first_pixel..b.end_pixel {
                    assert_eq!(cell_span(px, rows, h), (b.start, b.end));
                    assert_eq!(nearest_cell(px, rows, h), b.nearest);
                }
            }
        }
    }

    #[test]
    fn a_summary_for_other_spans_is_refused() {
        let (xs, ys) = (AxisSpans::uniform(10, 5), AxisSpans::uniform(10, 5));
        let mut p = PixelPass::new(10, 10, ys, Some(xs), Aggregate::Max);
        p.add_block(0, &[1.0; 100], 1);
        assert!(p.summary(&AxisSpans::uniform(10, 6), 1).is_none());
        assert!(p.summary(&AxisSpans::uniform(10, 5), 1).is_some());
    }
}
