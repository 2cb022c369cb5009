//! Streaming reduction of a grid too large to hold: rows arrive in blocks,
//! each is folded into the pixel rows that cover it, and only
//! `height x cols` partial aggregates are ever kept. Once every row has
//! passed, [`RowSummary::finish`] reduces the columns to the plot width and
//! gives exactly the values the heatmap shader would have drawn from the
//! whole grid (same [`cell_span`] spans, same NaN/inf rules), so the picture
//! of a 1.6 GB file drawn through a summary is the picture of the file.
//!
//! The row pass is the heavy part (every value of the file); it runs here on
//! the CPU or as a compute pass on the GPU (`gpu::reduce`), both producing
//! the same [`RowSummary`]. The column pass touches `height x cols` values.

use crate::scale::aggregate::{cell_span, nearest_cell};
use crate::scale::{Aggregate, StatsAccumulator};

/// Per-cell class flags of a partial aggregate.
pub const HAS_NAN: u32 = 1;
/// Some covered value was +inf.
pub const HAS_POS_INF: u32 = 2;
/// Some covered value was -inf.
pub const HAS_NEG_INF: u32 = 4;

/// Partial aggregates of the rows under each output pixel row, per column.
///
/// Channels are stored as separate `height x cols` arrays, row-major; the
/// ones a mode does not need are empty: extreme keeps min and max, max and
/// min keep one, mean keeps sum and count, nearest keeps the value of the
/// row under each pixel centre.
#[derive(Clone, Debug, PartialEq)]
pub struct RowSummary {
    rows: u32,
    cols: u32,
    height: u32,
    mode: Aggregate,
    /// Smallest finite value (`f32::MAX` when none).
    pub min: Vec<f32>,
    /// Largest finite value (`-f32::MAX` when none).
    pub max: Vec<f32>,
    /// Sum of finite values.
    pub sum: Vec<f32>,
    /// Number of finite values.
    pub count: Vec<u32>,
    /// `HAS_*` flags (one byte: the summary is a large part of the memory).
    pub flags: Vec<u8>,
    /// Nearest mode: the value in the row under each pixel row's centre.
    pub nearest: Vec<f32>,
}

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

impl RowSummary {
    /// An empty summary of a `rows x cols` grid drawn `height` pixels tall.
    /// Memory: `height * cols` times 9 bytes at most (4 for nearest).
    pub fn new(rows: u32, cols: u32, height: u32, mode: Aggregate) -> RowSummary {
        let n = height as usize * cols as usize;
        let (mn, mx, mean, near) = channels(mode);
        let ch = |on: bool, v: f32| if on { vec![v; n] } else { Vec::new() };
        RowSummary {
            rows,
            cols,
            height,
            mode,
            min: ch(mn, f32::MAX),
            max: ch(mx, -f32::MAX),
            sum: ch(mean, 0.0),
            count: if mean { vec![0; n] } else { Vec::new() },
            flags: if near { Vec::new() } else { vec![0; n] },
            nearest: ch(near, f32::NAN),
        }
    }

    /// Rows of the full grid.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Columns of the full grid.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// Pixel rows the summary was made for.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Aggregation mode.
    pub fn mode(&self) -> Aggregate {
        self.mode
    }

    /// The pixel rows `[first, last)` whose spans touch input rows
    /// `[r0, r1)`.
    pub fn pixel_rows_touching(&self, r0: u32, r1: u32) -> (u32, u32) {
        pixel_rows_touching(self.rows, self.height, r0, r1)
    }

    /// Fold rows `first_row ..` (`block.len() / cols` of them, row-major)
    /// into the summary, splitting the columns over `threads` threads.
    pub fn add_block(&mut self, first_row: u32, block: &[f32], threads: usize) {
        self.fold(first_row, block, threads, None);
    }

    /// [`RowSummary::add_block`] that also folds every value of the block
    /// into `stats` (one accumulator per thread, so `stats.len()` threads),
    /// in the same pass over memory.
    pub fn add_block_with_stats(&mut self, first_row: u32, block: &[f32], stats: &mut [StatsAccumulator]) {
        let threads = stats.len();
        self.fold(first_row, block, threads, Some(stats));
    }

    fn fold(
        &mut self,
        first_row: u32,
        block: &[f32],
        threads: usize,
        stats: Option<&mut [StatsAccumulator]>,
    ) {
        let cols = self.cols as usize;
        if cols == 0 || block.is_empty() {
            return;
        }
        let n_rows = (block.len() / cols) as u32;
        let threads = threads.clamp(1, cols.div_ceil(256).max(1));
        let per = cols.div_ceil(threads);
        let (rows, height, mode) = (self.rows, self.height, self.mode);
        // Split every channel by column range: each thread owns its columns
        // of every pixel row, so no two threads write the same value.
        let mut parts: Vec<Part<'_>> = (0..threads).map(|_| Part::default()).collect();
        for (ch, pick) in [
            (&mut self.min, 0usize),
            (&mut self.max, 1),
            (&mut self.sum, 2),
            (&mut self.nearest, 3),
        ] {
            split_rows(ch, cols, per, &mut parts, pick);
        }
        split_rows_u32(&mut self.count, cols, per, &mut parts, 0);
        split_rows_u8(&mut self.flags, cols, per, &mut parts);
        let (p0, p1) = pixel_rows_touching(rows, height, first_row, first_row + n_rows);
        let job = |t: usize, part: &mut Part<'_>, acc: Option<&mut StatsAccumulator>| {
            let c0 = t * per;
            let c1 = ((t + 1) * per).min(cols);
            // Statistics see each row once, right before it is folded (while
            // it is in cache); rows arrive in order, boundary rows twice.
            let mut acc = acc;
            let mut seen = first_row;
            let mut stats_to = |end: u32, acc: &mut Option<&mut StatsAccumulator>| {
                if let Some(acc) = acc.as_deref_mut() {
                    for r in seen..end {
                        acc.add(&block[(r - first_row) as usize * cols..][c0..c1]);
                    }
                }
                seen = seen.max(end);
            };
            for py in p0..p1 {
                let (s0, s1) = cell_span(py, rows, height);
                let (a, b) = (s0.max(first_row), s1.min(first_row + n_rows));
                let o = py as usize;
                for r in a..b {
                    stats_to(r + 1, &mut acc);
                    let src = &block[(r - first_row) as usize * cols..][c0..c1];
                    part.fold(o, src, mode, r == nearest_cell(py, rows, height));
                }
            }
            stats_to(first_row + n_rows, &mut acc);
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
    }

    /// Reduce the columns to `width` pixels: `height x width` values,
    /// row-major, each the value the heatmap shader would show for that
    /// pixel of the whole grid (NaN and +-inf stand for the special colours).
    /// `centre` is the norm's centre, for signed extreme.
    pub fn finish(&self, width: u32, centre: f32) -> Vec<f32> {
        let (cols, height) = (self.cols, self.height);
        let mut out = Vec::with_capacity(width as usize * height as usize);
        for py in 0..height {
            let row = py as usize * cols as usize;
            for px in 0..width {
                if self.mode == Aggregate::Nearest {
                    out.push(self.nearest[row + nearest_cell(px, cols, width) as usize]);
                    continue;
                }
                let (c0, c1) = cell_span(px, cols, width);
                let (c0, c1) = (row + c0 as usize, row + c1 as usize);
                let flags = self.flags[c0..c1].iter().fold(0u32, |a, &f| a | f as u32);
                let any = |v: &[f32], init: f32, f: fn(f32, f32) -> f32| {
                    v.get(c0..c1)
                        .map_or(init, |s| s.iter().fold(init, |a, &b| f(a, b)))
                };
                let mn = any(&self.min, f32::MAX, f32::min);
                let mx = any(&self.max, -f32::MAX, f32::max);
                let sum = any(&self.sum, 0.0, |a, b| a + b);
                let n: u32 = self.count.get(c0..c1).map_or(0, |s| s.iter().sum());
                let finite = match self.mode {
                    Aggregate::Mean => n > 0,
                    Aggregate::Max => mx > -f32::MAX,
                    _ => mn < f32::MAX,
                };
                out.push(decide(self.mode, flags, finite, mn, mx, sum, n, centre));
            }
        }
        out
    }
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

/// Pixel rows `[first, last)` of `height` whose spans over `rows` rows touch
/// rows `[r0, r1)`.
pub fn pixel_rows_touching(rows: u32, height: u32, r0: u32, r1: u32) -> (u32, u32) {
    if r0 >= r1 || height == 0 {
        return (0, 0);
    }
    // Spans are monotonic in the pixel row: binary search both ends.
    let first = partition(height, |p| cell_span(p, rows, height).1 <= r0);
    let last = partition(height, |p| cell_span(p, rows, height).0 < r1);
    (first, last.max(first))
}

/// The first `p` in `[0, n)` for which `pred` is false (`pred` true then false).
fn partition(n: u32, pred: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (0u32, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One thread's column slices of every channel, by pixel row.
#[derive(Default)]
struct Part<'a> {
    f32s: [Vec<&'a mut [f32]>; 4],
    u32s: [Vec<&'a mut [u32]>; 1],
    flags: Vec<&'a mut [u8]>,
}

fn split_rows<'a>(ch: &'a mut [f32], cols: usize, per: usize, parts: &mut [Part<'a>], pick: usize) {
    for row in ch.chunks_mut(cols) {
        for (part, piece) in parts.iter_mut().zip(row.chunks_mut(per)) {
            part.f32s[pick].push(piece);
        }
    }
}

fn split_rows_u8<'a>(ch: &'a mut [u8], cols: usize, per: usize, parts: &mut [Part<'a>]) {
    for row in ch.chunks_mut(cols) {
        for (part, piece) in parts.iter_mut().zip(row.chunks_mut(per)) {
            part.flags.push(piece);
        }
    }
}

fn split_rows_u32<'a>(ch: &'a mut [u32], cols: usize, per: usize, parts: &mut [Part<'a>], pick: usize) {
    for row in ch.chunks_mut(cols) {
        for (part, piece) in parts.iter_mut().zip(row.chunks_mut(per)) {
            part.u32s[pick].push(piece);
        }
    }
}

impl Part<'_> {
    /// Fold one input row's slice into pixel row `o`.
    fn fold(&mut self, o: usize, src: &[f32], mode: Aggregate, is_nearest_row: bool) {
        let [mins, maxs, sums, nears] = &mut self.f32s;
        let [counts] = &mut self.u32s;
        let flags = &mut self.flags;
        match mode {
            Aggregate::Nearest => {
                if is_nearest_row {
                    nears[o].copy_from_slice(src);
                }
            }
            // Branch-free bodies over equal-length slices, so they compile
            // to vector code: these loops see every value of the file.
            Aggregate::Extreme => {
                let n = src.len();
                let (mn, mx, fl) = (&mut mins[o][..n], &mut maxs[o][..n], &mut flags[o][..n]);
                for i in 0..n {
                    let v = src[i];
                    let fin = finite(v);
                    mn[i] = if fin & (v < mn[i]) { v } else { mn[i] };
                    mx[i] = if fin & (v > mx[i]) { v } else { mx[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Max => {
                let n = src.len();
                let (mx, fl) = (&mut maxs[o][..n], &mut flags[o][..n]);
                for i in 0..n {
                    let v = src[i];
                    mx[i] = if finite(v) & (v > mx[i]) { v } else { mx[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Min => {
                let n = src.len();
                let (mn, fl) = (&mut mins[o][..n], &mut flags[o][..n]);
                for i in 0..n {
                    let v = src[i];
                    mn[i] = if finite(v) & (v < mn[i]) { v } else { mn[i] };
                    fl[i] |= flag_bits(v);
                }
            }
            Aggregate::Mean => {
                let n = src.len();
                let (sm, ct, fl) = (&mut sums[o][..n], &mut counts[o][..n], &mut flags[o][..n]);
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

    /// The shader's per-pixel rule, applied to the whole grid directly.
    fn direct(data: &[f32], rows: u32, cols: u32, w: u32, h: u32, mode: Aggregate, centre: f32) -> Vec<f32> {
        let mut out = Vec::new();
        for py in 0..h {
            let (r0, r1) = cell_span(py, rows, h);
            for px in 0..w {
                if mode == Aggregate::Nearest {
                    let (r, c) = (nearest_cell(py, rows, h), nearest_cell(px, cols, w));
                    out.push(data[(r * cols + c) as usize]);
                    continue;
                }
                let (c0, c1) = cell_span(px, cols, w);
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

    fn same(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol * x.abs().max(1.0))
    }

    #[test]
    fn blocks_of_any_size_give_the_direct_reduction() {
        let (rows, cols) = (1013u32, 77u32);
        let mut data = lcg_grid(rows, cols, 7);
        data[5 * 77 + 3] = f32::NAN;
        data[400 * 77 + 70] = f32::INFINITY;
        data[401 * 77 + 70] = f32::NEG_INFINITY;
        data[900 * 77 + 10] = 55.0;
        data[901 * 77 + 11] = -60.0;
        for mode in Aggregate::ALL {
            for (w, h) in [(20, 50), (77, 1013), (30, 101), (200, 7)] {
                let want = direct(&data, rows, cols, w, h, mode, 0.25);
                for (block_rows, threads) in [(1usize, 1usize), (64, 2), (1013, 3), (333, 2)] {
                    let mut s = RowSummary::new(rows, cols, h, mode);
                    for (i, block) in data.chunks(block_rows * cols as usize).enumerate() {
                        s.add_block((i * block_rows) as u32, block, threads);
                    }
                    let got = s.finish(w, 0.25);
                    let tol = if mode == Aggregate::Mean { 1e-4 } else { 0.0 };
                    assert!(
                        same(&got, &want, tol),
                        "{mode:?} {w}x{h} blocks of {block_rows} rows"
                    );
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
        let mut s = RowSummary::new(rows, cols, 100, Aggregate::Extreme);
        for (i, block) in data.chunks(1000 * cols as usize).enumerate() {
            s.add_block(i as u32 * 1000, block, 2);
        }
        let out = s.finish(16, 0.0);
        assert_eq!(out.iter().filter(|&&v| v == 28.0).count(), 1);
        assert_eq!(out.iter().filter(|&&v| v == -35.0).count(), 1);
    }

    #[test]
    fn touching_rows_cover_every_span() {
        for (rows, h) in [(100u32, 7u32), (7, 100), (1000, 999), (5, 5)] {
            for (r0, r1) in [(0u32, 1u32), (3, 5), (0, rows), (rows - 1, rows)] {
                let (a, b) = pixel_rows_touching(rows, h, r0, r1);
                for p in 0..h {
                    let (s0, s1) = cell_span(p, rows, h);
                    let touches = s0 < r1 && r0 < s1;
                    assert_eq!(
                        touches,
                        (a..b).contains(&p),
                        "rows {rows} h {h} [{r0},{r1}) p {p}"
                    );
                }
            }
        }
    }
}
