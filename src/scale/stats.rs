//! Summary statistics and percentiles over finite values.
//!
//! NaN and +-inf are counted but never enter min, max, mean or percentiles:
//! one NaN in a 80-million-cell grid must not poison the colour range.

/// Summary of a slice of values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Number of values, finite or not.
    pub count: usize,
    /// Number of finite values.
    pub finite: usize,
    /// Number of NaN values.
    pub nan: usize,
    /// Number of +inf values.
    pub pos_inf: usize,
    /// Number of -inf values.
    pub neg_inf: usize,
    /// Smallest finite value (`NaN` when there is none).
    pub min: f32,
    /// Largest finite value (`NaN` when there is none).
    pub max: f32,
    /// Mean of the finite values (`NaN` when there is none).
    pub mean: f64,
}

#[derive(Clone, Copy)]
struct Partial {
    finite: usize,
    nan: usize,
    pos_inf: usize,
    neg_inf: usize,
    min: f32,
    max: f32,
    sum: f64,
}

/// Min, max and sum of a block when every value is finite (`None`
/// otherwise). One pass, its own lanes, so that it compiles to vector code;
/// a block holding NaN or inf is thrown away and counted the slow way.
#[inline]
fn finite_block(block: &[f32; 256]) -> Option<(f32, f32, f64)> {
    const L: usize = 8;
    let mut top = [0u32; L];
    let mut mn = [f32::INFINITY; L];
    let mut mx = [f32::NEG_INFINITY; L];
    let mut sum = [0.0f32; L];
    for v8 in block.as_chunks::<L>().0 {
        for i in 0..L {
            let v = v8[i];
            top[i] = top[i].max(v.to_bits() & 0x7f80_0000);
            mn[i] = if v < mn[i] { v } else { mn[i] };
            mx[i] = if v > mx[i] { v } else { mx[i] };
            sum[i] += v;
        }
    }
    if top.contains(&0x7f80_0000) {
        return None;
    }
    Some((
        mn.iter().fold(f32::INFINITY, |a, &b| a.min(b)),
        mx.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
        sum.iter().map(|&x| x as f64).sum(),
    ))
}

impl Partial {
    const EMPTY: Partial = Partial {
        finite: 0,
        nan: 0,
        pos_inf: 0,
        neg_inf: 0,
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        sum: 0.0,
    };

    fn of(values: &[f32]) -> Partial {
        // Eight independent lanes, branch-free, so the compiler can keep them
        // in vector registers: this runs over every value of a 1.6 GB file.
        // Sums go f32 per lane for 32 values, then f64.
        const L: usize = 8;
        let mut p = Partial::EMPTY;
        let mut mn = [f32::INFINITY; L];
        let mut mx = [f32::NEG_INFINITY; L];
        let mut finite = [0u32; L];
        let mut nan = [0u32; L];
        let mut pos = [0u32; L];
        let mut sum = 0.0f64;
        let flush = |finite: &mut [u32; L], nan: &mut [u32; L], pos: &mut [u32; L], p: &mut Partial| {
            p.finite += finite.iter().map(|&n| n as usize).sum::<usize>();
            p.nan += nan.iter().map(|&n| n as usize).sum::<usize>();
            p.pos_inf += pos.iter().map(|&n| n as usize).sum::<usize>();
            *finite = [0; L];
            *nan = [0; L];
            *pos = [0; L];
        };
        let mut blocks = 0u32;
        let (body, tail) = values.as_chunks::<256>();
        for block in body {
            // Most blocks hold only finite values: then min, max and sum
            // need no masks and the counts no per-value work.
            if let Some((lo, hi, s)) = finite_block(block) {
                p.min = p.min.min(lo);
                p.max = p.max.max(hi);
                sum += s;
                p.finite += block.len();
                continue;
            }
            let mut lane_sum = [0.0f32; L];
            for v8 in block.as_chunks::<L>().0 {
                for i in 0..L {
                    let v = v8[i];
                    let b = v.to_bits();
                    let fin = b & 0x7f80_0000 != 0x7f80_0000;
                    let is_nan = !fin & (b & 0x007f_ffff != 0);
                    mn[i] = if fin & (v < mn[i]) { v } else { mn[i] };
                    mx[i] = if fin & (v > mx[i]) { v } else { mx[i] };
                    lane_sum[i] += if fin { v } else { 0.0 };
                    finite[i] += fin as u32;
                    nan[i] += is_nan as u32;
                    pos[i] += (!fin & !is_nan & (b >> 31 == 0)) as u32;
                }
            }
            sum += lane_sum.iter().map(|&x| x as f64).sum::<f64>();
            blocks += 1;
            // Lane counters hold 32 values per block: flush long before u32 overflow.
            if blocks == 1 << 20 {
                flush(&mut finite, &mut nan, &mut pos, &mut p);
                blocks = 0;
            }
        }
        flush(&mut finite, &mut nan, &mut pos, &mut p);
        for &v in tail {
            if v.is_finite() {
                p.finite += 1;
                p.min = p.min.min(v);
                p.max = p.max.max(v);
                sum += v as f64;
            } else if v.is_nan() {
                p.nan += 1;
            } else if v > 0.0 {
                p.pos_inf += 1;
            }
        }
        p.min = mn.iter().fold(p.min, |a, &b| a.min(b));
        p.max = mx.iter().fold(p.max, |a, &b| a.max(b));
        p.sum = sum;
        p.neg_inf = values.len() - p.finite - p.nan - p.pos_inf;
        p
    }

    fn merge(self, o: Partial) -> Partial {
        Partial {
            finite: self.finite + o.finite,
            nan: self.nan + o.nan,
            pos_inf: self.pos_inf + o.pos_inf,
            neg_inf: self.neg_inf + o.neg_inf,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            sum: self.sum + o.sum,
        }
    }
}

/// Split `values` over the available cores and combine per-chunk results.
pub(crate) fn par_map_reduce<T: Send>(
    values: &[f32],
    map: impl Fn(&[f32]) -> T + Sync,
    reduce: impl Fn(T, T) -> T,
) -> T {
    const MIN_CHUNK: usize = 1 << 20;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    if threads <= 1 || values.len() < 2 * MIN_CHUNK {
        return map(values);
    }
    let chunk = values.len().div_ceil(threads);
    let map = &map;
    let parts: Vec<T> = std::thread::scope(|s| {
        let handles: Vec<_> = values.chunks(chunk).map(|c| s.spawn(move || map(c))).collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e),
            })
            .collect()
    });
    let mut it = parts.into_iter();
    let first = it.next().unwrap_or_else(|| map(&[]));
    it.fold(first, reduce)
}

impl Stats {
    /// Statistics of `values` (parallel over the available cores for large slices).
    pub fn of(values: &[f32]) -> Stats {
        let p = par_map_reduce(values, Partial::of, Partial::merge);
        let none = p.finite == 0;
        Stats {
            count: values.len(),
            finite: p.finite,
            nan: p.nan,
            pos_inf: p.pos_inf,
            neg_inf: p.neg_inf,
            min: if none { f32::NAN } else { p.min },
            max: if none { f32::NAN } else { p.max },
            mean: if none { f64::NAN } else { p.sum / p.finite as f64 },
        }
    }

    /// True when some values are NaN or infinite.
    pub fn has_non_finite(&self) -> bool {
        self.nan + self.pos_inf + self.neg_inf > 0
    }
}

/// Statistics gathered block by block, for data that never sits in memory
/// at once. Percentiles come from a histogram of the values' leading 16
/// bits (sign, exponent and 7 mantissa bits: 65536 buckets, each spanning
/// at most 1/128 of its values' magnitude), interpolated within the bucket,
/// so a robust range is within 0.8 % of the exact percentile.
#[derive(Clone)]
pub struct StatsAccumulator {
    part: Partial,
    count: usize,
    hist: Option<Vec<u64>>,
}

impl std::fmt::Debug for StatsAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsAccumulator")
            .field("stats", &self.stats())
            .field("histogram", &self.hist.is_some())
            .finish()
    }
}

/// Order-preserving 16-bit key of a finite f32: larger values, larger keys.
fn bits_key(v: f32) -> u16 {
    let b = v.to_bits();
    let ordered = if b >> 31 == 1 { !b } else { b | 0x8000_0000 };
    (ordered >> 16) as u16
}

/// The smallest f32 whose key is `k` (the lower edge of bucket `k`).
fn key_floor(k: u16) -> f32 {
    let ordered = (k as u32) << 16;
    let b = if ordered >> 31 == 1 {
        ordered & 0x7fff_ffff
    } else {
        !ordered
    };
    let v = f32::from_bits(b);
    // For negative values the lowest bits of the bucket are the most
    // negative: `!ordered` set them to ones, which is the bucket's floor.
    v
}

impl StatsAccumulator {
    /// An empty accumulator; with `percentiles`, it also keeps the
    /// histogram that [`StatsAccumulator::percentile`] needs (512 KiB).
    pub fn new(percentiles: bool) -> Self {
        StatsAccumulator {
            part: Partial::EMPTY,
            count: 0,
            hist: percentiles.then(|| vec![0u64; 1 << 16]),
        }
    }

    /// Fold in `values`.
    pub fn add(&mut self, values: &[f32]) {
        self.part = self.part.merge(Partial::of(values));
        self.count += values.len();
        if let Some(h) = &mut self.hist {
            for &v in values {
                if v.is_finite() {
                    h[bits_key(v) as usize] += 1;
                }
            }
        }
    }

    /// Combine with another accumulator (e.g. from another thread).
    pub fn merge(&mut self, other: &StatsAccumulator) {
        self.part = self.part.merge(other.part);
        self.count += other.count;
        if let (Some(a), Some(b)) = (&mut self.hist, &other.hist) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
    }

    /// The statistics so far.
    pub fn stats(&self) -> Stats {
        let p = self.part;
        let none = p.finite == 0;
        Stats {
            count: self.count,
            finite: p.finite,
            nan: p.nan,
            pos_inf: p.pos_inf,
            neg_inf: p.neg_inf,
            min: if none { f32::NAN } else { p.min },
            max: if none { f32::NAN } else { p.max },
            mean: if none { f64::NAN } else { p.sum / p.finite as f64 },
        }
    }

    /// The `q`-th percentile (numpy's linear rule) from the histogram,
    /// clamped to the exact min and max. `None` without a histogram or
    /// without finite values.
    pub fn percentile(&self, q: f64) -> Option<f32> {
        let h = self.hist.as_ref()?;
        let p = self.part;
        if p.finite == 0 {
            return None;
        }
        let pos = q.clamp(0.0, 100.0) / 100.0 * (p.finite - 1) as f64;
        let mut seen = 0u64;
        for (k, &n) in h.iter().enumerate() {
            if n > 0 && (seen + n) as f64 > pos {
                // Spread the bucket's n values evenly over its width.
                let lo = key_floor(k as u16) as f64;
                let hi = if k + 1 < h.len() {
                    key_floor(k as u16 + 1) as f64
                } else {
                    f32::MAX as f64
                };
                let frac = (pos - seen as f64 + 0.5) / n as f64;
                let v = (lo + (hi - lo) * frac.clamp(0.0, 1.0)) as f32;
                return Some(v.clamp(p.min, p.max));
            }
            seen += n;
        }
        Some(p.max)
    }
}

/// The `q`-th percentile (0..=100) of the finite values, with numpy's default
/// linear interpolation between order statistics. `None` when no value is finite.
///
/// Exact, and it never copies the whole slice: a histogram finds the bucket
/// holding the wanted rank, and only that bucket's values are sorted.
pub fn percentile(values: &[f32], stats: &Stats, q: f64) -> Option<f32> {
    if stats.finite == 0 {
        return None;
    }
    let q = q.clamp(0.0, 100.0);
    let pos = q / 100.0 * (stats.finite - 1) as f64;
    let lo_rank = pos.floor() as usize;
    let hi_rank = (lo_rank + 1).min(stats.finite - 1);
    let frac = (pos - lo_rank as f64) as f32;
    let lo = kth_finite(values, lo_rank, stats.min, stats.max);
    if frac == 0.0 {
        return Some(lo);
    }
    let hi = kth_finite(values, hi_rank, stats.min, stats.max);
    Some(lo + (hi - lo) * frac)
}

/// The k-th smallest finite value (0-based) among the values in `[lo, hi]`.
fn kth_finite(values: &[f32], k: usize, lo: f32, hi: f32) -> f32 {
    const BINS: usize = 4096;
    const GATHER_LIMIT: usize = 1 << 20;
    let (mut lo, mut hi, mut k) = (lo, hi, k);
    for _ in 0..8 {
        if lo >= hi {
            return lo;
        }
        let (lo64, hi64) = (lo as f64, hi as f64);
        let scale = BINS as f64 / (hi64 - lo64);
        let bin_of = |v: f32| (((v as f64 - lo64) * scale) as usize).min(BINS - 1);
        let hist = par_map_reduce(
            values,
            |chunk| {
                let mut h = vec![0usize; BINS];
                for &v in chunk {
                    if v >= lo && v <= hi {
                        h[bin_of(v)] += 1;
                    }
                }
                h
            },
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
        let mut seen = 0usize;
        let mut bin = BINS - 1;
        for (i, &n) in hist.iter().enumerate() {
            if seen + n > k {
                bin = i;
                break;
            }
            seen += n;
        }
        k -= seen;
        let in_bin = |v: f32| v >= lo && v <= hi && bin_of(v) == bin;
        if hist[bin] <= GATHER_LIMIT {
            let mut vals: Vec<f32> = values.iter().copied().filter(|&v| in_bin(v)).collect();
            let k = k.min(vals.len().saturating_sub(1));
            if vals.is_empty() {
                return lo;
            }
            let (_, v, _) = vals.select_nth_unstable_by(k, f32::total_cmp);
            return *v;
        }
        // Narrow the range to this bucket's actual values and go again.
        let (bmin, bmax) = values
            .iter()
            .copied()
            .filter(|&v| in_bin(v))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let _ = in_bin;
        lo = bmin;
        hi = bmax;
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_exclude_non_finite() {
        let v = [
            1.0,
            f32::NAN,
            -2.0,
            f32::INFINITY,
            5.0,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let s = Stats::of(&v);
        assert_eq!((s.count, s.finite, s.nan, s.pos_inf, s.neg_inf), (7, 3, 2, 1, 1));
        assert_eq!((s.min, s.max), (-2.0, 5.0));
        assert!((s.mean - 4.0 / 3.0).abs() < 1e-12);
        assert!(s.has_non_finite());
    }

    #[test]
    fn stats_of_all_nan() {
        let s = Stats::of(&[f32::NAN, f32::NAN]);
        assert_eq!(s.finite, 0);
        assert!(s.min.is_nan() && s.max.is_nan() && s.mean.is_nan());
        assert_eq!(percentile(&[f32::NAN], &Stats::of(&[f32::NAN]), 50.0), None);
    }

    #[test]
    fn stats_parallel_matches_serial() {
        let v: Vec<f32> = (0..3_000_001i64)
            .map(|i| ((i * 7919) % 10007) as f32 - 5000.0)
            .collect();
        let s = Stats::of(&v);
        let p = Partial::of(&v);
        assert_eq!((s.min, s.max, s.finite), (p.min, p.max, p.finite));
        assert!((s.mean - p.sum / p.finite as f64).abs() < 1e-9);
    }

    /// numpy.percentile(np.arange(11) ** 2, q) for the q below.
    #[test]
    fn percentile_matches_numpy_linear() {
        let v: Vec<f32> = (0..11).map(|i| (i * i) as f32).collect();
        let s = Stats::of(&v);
        for (q, want) in [
            (0.0, 0.0),
            (100.0, 100.0),
            (50.0, 25.0),
            (25.0, 6.5),
            (99.0, 98.1),
            (1.0, 0.1),
        ] {
            let got = percentile(&v, &s, q).unwrap();
            assert!((got - want).abs() < 1e-4, "q={q}: got {got}, want {want}");
        }
    }

    #[test]
    fn percentile_ignores_nan_and_handles_heavy_ties() {
        // 3 million zeros, a few values, NaNs: the tie bucket is narrowed, not gathered.
        let mut v = vec![0.0f32; 3_000_000];
        v.extend([f32::NAN, 1.0, 2.0, 3.0, f32::INFINITY]);
        let s = Stats::of(&v);
        assert_eq!(percentile(&v, &s, 50.0), Some(0.0));
        assert_eq!(percentile(&v, &s, 100.0), Some(3.0));
        assert_eq!(percentile(&v, &s, 0.0), Some(0.0));
    }

    #[test]
    fn percentile_large_random_matches_sort() {
        let mut x = 12345u64;
        let v: Vec<f32> = (0..2_500_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        let s = Stats::of(&v);
        let mut sorted = v.clone();
        sorted.sort_by(f32::total_cmp);
        for q in [1.0, 2.0, 50.0, 98.0, 99.0] {
            let pos = q / 100.0 * (sorted.len() - 1) as f64;
            let i = pos.floor() as usize;
            let f = (pos - i as f64) as f32;
            let want = sorted[i] + (sorted[i + 1] - sorted[i]) * f;
            assert_eq!(percentile(&v, &s, q), Some(want), "q={q}");
        }
    }

    #[test]
    fn accumulator_matches_stats_and_bounds_percentiles() {
        let mut x = 99u64;
        let v: Vec<f32> = (0..1_000_000)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (x >> 40) as f32 / (1u64 << 24) as f32;
                if i % 1000 == 0 { f32::NAN } else { (u - 0.3) * 50.0 }
            })
            .collect();
        let mut acc = StatsAccumulator::new(true);
        let mut other = StatsAccumulator::new(true);
        let (a, b) = v.split_at(333_333);
        acc.add(a);
        for c in b.chunks(4096) {
            other.add(c);
        }
        acc.merge(&other);
        let exact = Stats::of(&v);
        let s = acc.stats();
        assert_eq!(
            (s.count, s.finite, s.nan, s.min, s.max),
            (exact.count, exact.finite, exact.nan, exact.min, exact.max)
        );
        for q in [0.0, 1.0, 2.0, 50.0, 98.0, 99.0, 100.0] {
            let want = percentile(&v, &exact, q).unwrap();
            let got = acc.percentile(q).unwrap();
            assert!(
                (got - want).abs() <= want.abs() / 128.0 + 1e-6,
                "q={q}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn bit_keys_are_ordered() {
        let vals = [
            -f32::MAX,
            -1e10,
            -2.5,
            -1.0,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            1.0,
            1.0078125,
            3.0,
            1e10,
            f32::MAX,
        ];
        for w in vals.windows(2) {
            assert!(bits_key(w[0]) <= bits_key(w[1]), "{} {}", w[0], w[1]);
        }
        for &v in &vals {
            let k = bits_key(v);
            assert!(key_floor(k) <= v, "{v}: floor {}", key_floor(k));
            if k < u16::MAX {
                assert!(key_floor(k + 1) > v || key_floor(k + 1) == v && v == 0.0, "{v}");
            }
        }
    }
}
