//! Axis ticks: where they go and what they say.
//!
//! Pure code, no I/O. The locators follow matplotlib's and plotters' habits:
//!
//! * [`linear_ticks`] and [`integer_ticks`] pick "nice" steps `m * 10^k` with
//!   `m` in {1, 2, 2.5, 5}: the smallest step that keeps at most `max_ticks`
//!   ticks inside the range. Tick `i` is computed as `i * m * 10^k` (never
//!   accumulated) with a single rounding (an exact power of ten multiplies or
//!   divides; beyond 1e22 the decimal is parsed), so the value is the double
//!   nearest the decimal it stands for: `0.3`, never `0.30000000000000004`.
//! * [`log_ticks`] puts ticks on decades (`10³`), [`symlog_ticks`] on
//!   `0` and `±10^k` outside the linear threshold.
//! * [`category_ticks`] thins a list of names.
//! * [`fit_ticks`] asks a locator for fewer and fewer ticks until the labels,
//!   as measured by the caller, no longer collide.
//!
//! Labels come from [`format_value`]. Every label of one axis is written with
//! the step's number of decimals, as matplotlib's `ScalarFormatter` does
//! (`0.00, 0.05, 0.10`), and negatives use U+2212 MINUS SIGN (`−5`).
//!
//! No input panics or loops without bound: non-finite ranges give no ticks,
//! and `max_ticks` is capped at 1000.

/// One tick: where it sits (in data coordinates) and what it says.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Position in data coordinates.
    pub value: f64,
    /// Text drawn at the tick.
    pub label: String,
}

/// How numbers are written on an axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TickFormat {
    /// Plain decimals with just enough digits for the step: 0.05, 0.1, 2.5, 20000.
    #[default]
    Plain,
    /// Thousands and millions shortened: 30k, 1.5k, 300k, 2M (k for |v| >= 1000, M for >= 1e6). 0 stays 0.
    Thousands,
}

/// The most ticks any locator returns, whatever `max_ticks` asks for.
const MAX_TICKS: usize = 1000;

/// Relative tolerance (of the range) within which a tick counts as inside it.
const EPS: f64 = 1e-9;

/// Nice mantissas, ascending.
const MANTISSAS: [f64; 4] = [1.0, 2.0, 2.5, 5.0];

/// U+2212 MINUS SIGN, as matplotlib writes negative numbers.
const MINUS: char = '\u{2212}';

/// Ticks at nice multiples `m * 10^k` (m in 1, 2, 2.5, 5) inside `[lo, hi]`.
///
/// The step is the smallest nice one that gives at most `max_ticks` ticks
/// (capped at 1000). Ends count as inside within 1e-9 of the range, so
/// `0.30000000004` counts as `0.3`. `lo > hi` is swapped; `lo == hi` gives one
/// tick at `lo`; a non-finite bound or `max_ticks == 0` gives none. With
/// `max_ticks == 1` the tick is 0 when the range holds it, else a multiple of
/// the largest nice step that has one in range. Labels come from
/// [`format_value`] with the chosen step.
pub fn linear_ticks(lo: f64, hi: f64, max_ticks: usize, fmt: TickFormat) -> Vec<Tick> {
    nice_ticks(lo, hi, max_ticks, fmt, false)
}

/// Ticks at integers for an axis of integer positions (layers 1..12).
///
/// Like [`linear_ticks`], but the step is an integer nice number: 1, 2, 5,
/// 10, 20, 25, 50, ... `(1, 12, 6)` gives 2, 4, ..., 12. A range holding no
/// integer gives no ticks.
pub fn integer_ticks(lo: f64, hi: f64, max_ticks: usize, fmt: TickFormat) -> Vec<Tick> {
    nice_ticks(lo, hi, max_ticks, fmt, true)
}

/// Ticks for a logarithmic axis: the decades `10^k` in `[lo, hi]`, labelled
/// with superscripts (`10⁰`, `10³`, `10⁻²`).
///
/// Both bounds must be finite and positive, else there are no ticks. When
/// there are more decades than `max_ticks`, only the decades whose exponent
/// is a multiple of the smallest stride that fits are kept (so `10⁰` stays
/// when in range). When fewer than 3 decades are in range, the multiples
/// 2·10^k and 5·10^k are added, labelled plainly (`20`, `0.5`), if the total
/// stays within `max_ticks` (else only the 5·10^k ones, else none). A range
/// holding none of these (3..8) falls back to [`linear_ticks`].
pub fn log_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > 0.0) || max_ticks == 0 {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let max = max_ticks.min(MAX_TICKS);
    let (llo, lhi) = (lo.log10(), hi.log10());
    let tol = EPS * (lhi - llo).max(1.0);
    let kmin = (llo - tol).ceil() as i32;
    let kmax = (lhi + tol).floor() as i32;
    let n_dec = if kmax >= kmin {
        (kmax - kmin + 1) as usize
    } else {
        0
    };

    let decades: Vec<i32> = if n_dec <= max {
        (kmin..=kmax).collect()
    } else {
        // The first stride tried always fits (ceil(n / ceil(n / max)) <= max);
        // the loop is a bounded guard.
        let mut kept = Vec::new();
        for stride in n_dec.div_ceil(max)..=n_dec {
            let s = stride as i32;
            let ks: Vec<i32> = (kmin..=kmax).filter(|k| k.rem_euclid(s) == 0).collect();
            if !ks.is_empty() && ks.len() <= max {
                kept = ks;
                break;
            }
        }
        kept
    };
    let mut ticks: Vec<Tick> = decades
        .iter()
        .map(|&k| Tick {
            value: pow10(k),
            label: format!("10{}", superscript(k)),
        })
        .collect();

    if n_dec < 3 {
        let in_range = |v: f64| v > 0.0 && v.log10() >= llo - tol && v.log10() <= lhi + tol;
        for subs in [&[2.0, 5.0][..], &[5.0][..]] {
            let mut extra = Vec::new();
            for k in (kmin - 1)..=kmax {
                for &m in subs {
                    let v = scale10(m, k);
                    if in_range(v) {
                        extra.push(Tick {
                            value: v,
                            label: format_value(v, v, TickFormat::Plain),
                        });
                    }
                }
            }
            if !extra.is_empty() && ticks.len() + extra.len() <= max {
                ticks.extend(extra);
                ticks.sort_by(|a, b| a.value.total_cmp(&b.value));
                break;
            }
        }
    }
    if ticks.is_empty() {
        return linear_ticks(lo, hi, max, TickFormat::Plain);
    }
    ticks
}

/// Ticks for a symmetric-log axis: 0 (when in range) and `±10^k` for the
/// decades from the one holding `linthresh` outwards, labelled like
/// [`log_ticks`] (`−10²`, `10⁰`).
///
/// When they exceed `max_ticks`, every n-th decade counted from the
/// innermost one is kept, the same ones on both sides; if even one decade a
/// side is too many, only 0 remains. A range lying strictly inside the linear
/// region `(−linthresh, linthresh)`, or holding none of these ticks, gets
/// [`linear_ticks`]. `linthresh` must be finite and positive, else there are
/// no ticks.
pub fn symlog_ticks(lo: f64, hi: f64, linthresh: f64, max_ticks: usize) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite() && linthresh.is_finite() && linthresh > 0.0) || max_ticks == 0 {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let max = max_ticks.min(MAX_TICKS);
    if lo > -linthresh && hi < linthresh {
        return linear_ticks(lo, hi, max, TickFormat::Plain);
    }
    const LOG_TOL: f64 = 1e-9;
    // 10^-324 is no longer a double.
    let kmin = ((linthresh.log10() + LOG_TOL).floor() as i32).max(-323);
    let floor_log = |x: f64| (x.log10() + LOG_TOL).floor() as i32;
    let ceil_log = |x: f64| (x.log10() - LOG_TOL).ceil() as i32;
    // Exponent ranges (inclusive, possibly empty) of +10^k and -10^k in range.
    let pos = if hi > 0.0 {
        let from = if lo > 0.0 { kmin.max(ceil_log(lo)) } else { kmin };
        (from, floor_log(hi))
    } else {
        (1, 0)
    };
    let neg = if lo < 0.0 {
        let from = if hi < 0.0 { kmin.max(ceil_log(-hi)) } else { kmin };
        (from, floor_log(-lo))
    } else {
        (1, 0)
    };
    let zero = lo <= 0.0 && hi >= 0.0;
    let top = pos.1.max(neg.1);
    let span = if top >= kmin { (top - kmin + 1) as usize } else { 1 };

    let keep = |(a, b): (i32, i32), stride: i32| -> Vec<i32> {
        (a..=b).filter(|k| (k - kmin).rem_euclid(stride) == 0).collect()
    };
    let mut chosen = None;
    for stride in 1..=span {
        let s = stride as i32;
        let (p, n) = (keep(pos, s), keep(neg, s));
        if usize::from(zero) + p.len() + n.len() <= max {
            chosen = Some((p, n));
            break;
        }
    }
    let (p, n) = chosen.unwrap_or_default();
    let mut ticks: Vec<Tick> = n
        .iter()
        .rev()
        .map(|&k| Tick {
            value: -pow10(k),
            label: format!("{MINUS}10{}", superscript(k)),
        })
        .collect();
    if zero {
        ticks.push(Tick {
            value: 0.0,
            label: "0".to_string(),
        });
    }
    ticks.extend(p.iter().map(|&k| Tick {
        value: pow10(k),
        label: format!("10{}", superscript(k)),
    }));
    if ticks.is_empty() {
        return linear_ticks(lo, hi, max, TickFormat::Plain);
    }
    ticks
}

/// Every n-th category label, starting at index 0, with n the smallest
/// integer for which at most `max_ticks` labels remain. Returns
/// `(index, label)` pairs.
pub fn category_ticks(labels: &[String], max_ticks: usize) -> Vec<(usize, String)> {
    if labels.is_empty() || max_ticks == 0 {
        return Vec::new();
    }
    let stride = labels.len().div_ceil(max_ticks).max(1);
    labels
        .iter()
        .enumerate()
        .step_by(stride)
        .map(|(i, l)| (i, l.clone()))
        .collect()
}

/// Picks the most ticks whose labels do not collide.
///
/// Calls `make(k)` for `k` from `(axis_length / (min_gap + 1)).min(50)` down
/// to 2 and returns the first candidate whose labels, each `label_extent`
/// pixels long along the axis and centred on `position(value)` pixels, are
/// separated from their neighbours by at least `min_gap` pixels. Labels may
/// overhang the axis ends (the layout reserves margins for that). If none
/// fits, returns `make(1)`. A NaN or infinite position counts as a collision;
/// a NaN extent counts as zero.
pub fn fit_ticks(
    make: impl Fn(usize) -> Vec<Tick>,
    label_extent: impl Fn(&str) -> f64,
    axis_length: f64,
    min_gap: f64,
    position: impl Fn(f64) -> f64,
) -> Vec<Tick> {
    let gap = min_gap.max(0.0); // NaN -> 0
    let start = (axis_length / (gap + 1.0)).min(50.0);
    let start = if start >= 1.0 { start as usize } else { 1 }; // NaN -> 1
    for k in (2..=start).rev() {
        let ticks = make(k);
        if labels_fit(&ticks, &label_extent, gap, &position) {
            return ticks;
        }
    }
    make(1)
}

/// Whether consecutive labels (ordered along the axis) leave `gap` pixels.
fn labels_fit(
    ticks: &[Tick],
    label_extent: &impl Fn(&str) -> f64,
    gap: f64,
    position: &impl Fn(f64) -> f64,
) -> bool {
    if ticks.len() < 2 {
        return true;
    }
    let mut spans = Vec::with_capacity(ticks.len());
    for t in ticks {
        let centre = position(t.value);
        let half = label_extent(&t.label).max(0.0) / 2.0;
        if !centre.is_finite() || !half.is_finite() {
            return false;
        }
        spans.push((centre, centre - half, centre + half));
    }
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    spans.windows(2).all(|w| w[1].1 - w[0].2 >= gap)
}

/// Writes `v` as a label on an axis whose ticks are `step` apart.
///
/// * Decimals: as many as the step's last significant digit needs, the same
///   for every label of the axis: step 0.05 gives `0.05, 0.10, 0.15`, step
///   2.5 gives `0.0, 2.5, 5.0`, step 0.002 gives `0.000, 0.002`, step 5000
///   gives `20000`. Zero is written like its neighbours (`0.000`).
/// * Scientific short form (`1e-5`, `2.5e9`, trailing mantissa zeros
///   dropped) for `|v| >= 1e9`, and for `|v| < 1e-3` when `step < 1e-4`
///   (zero is then `0`); plain integers below 1e9 (`300000`). An axis that
///   straddles 1e-3 with such a step mixes the forms (`9.5e-4`, `0.00100`).
/// * [`TickFormat::Thousands`]: `|v| < 1000` as plain; from 1000 `k`, from
///   1e6 `M`, with the step's decimals and trailing zeros dropped: step 500
///   gives `500, 1k, 1.5k`; from 1e12 scientific.
/// * Negatives use U+2212 (`−5`); a value that rounds to zero, `-0.0`
///   included, has no sign.
/// * `step` zero or non-finite: decimals from `v` itself, at most 6
///   significant digits. `v` NaN or infinite: `NaN`, `∞`, `−∞`.
pub fn format_value(v: f64, step: f64, fmt: TickFormat) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "∞".to_string()
        } else {
            format!("{MINUS}∞")
        };
    }
    let mag = v.abs();
    let (step, last) = if step.is_finite() && step != 0.0 {
        (step.abs(), last_digit_exp(step.abs(), 15))
    } else if mag != 0.0 {
        (mag, last_digit_exp(mag, 6))
    } else {
        (1.0, 0)
    };
    let body = match fmt {
        TickFormat::Thousands if (1e3..1e12).contains(&mag) => {
            let kilo = if mag < 1e6 {
                scaled(mag, last, 3, "k")
            } else {
                None
            };
            match kilo {
                Some(s) => s,
                None => scaled(mag, last, 6, "M").unwrap_or_else(|| plain_or_sci(mag, step, last)),
            }
        }
        _ => plain_or_sci(mag, step, last),
    };
    let nonzero = body
        .split('e')
        .next()
        .is_some_and(|m| m.chars().any(|c| matches!(c, '1'..='9')));
    if v < 0.0 && nonzero {
        format!("{MINUS}{body}")
    } else {
        body
    }
}

/// `mag / 10^p` with unit suffix, decimals from the step, trailing zeros
/// dropped; `None` when it rounds to 1000 or more of the unit.
fn scaled(mag: f64, last: i32, p: i32, unit: &str) -> Option<String> {
    let decimals = (p - last).clamp(0, 17) as usize;
    let s = format!("{:.*}", decimals, mag / pow10(p));
    if p < 6 && !s.parse::<f64>().is_ok_and(|x| x < 1000.0) {
        return None;
    }
    Some(format!("{}{unit}", trim_zeros(&s)))
}

/// A non-negative magnitude in plain decimals or scientific short form.
fn plain_or_sci(mag: f64, step: f64, last: i32) -> String {
    if mag == 0.0 && step < 1e-4 {
        "0".to_string()
    } else if mag >= 1e9 || (mag < 1e-3 && step < 1e-4) {
        let decimals = (decimal_exp(mag) - last).clamp(0, 16) as usize;
        let s = format!("{:.*e}", decimals, mag);
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        }
    } else {
        format!("{:.*}", (-last).clamp(0, 17) as usize, mag)
    }
}

/// Drops trailing zeros (and a bare point) after a decimal point.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The decimal exponent of `x > 0`: 2 for 250, -3 for 0.001.
fn decimal_exp(x: f64) -> i32 {
    let s = format!("{x:e}");
    s.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0)
}

/// The decimal exponent of the last significant digit of `x > 0`, using at
/// most `max_sig` significant digits: 0 for 5, -2 for 0.25, 3 for 25000.
fn last_digit_exp(x: f64, max_sig: usize) -> i32 {
    let mut last = 0;
    for sig in 1..=max_sig.max(1) {
        let s = format!("{:.*e}", sig - 1, x);
        let exp: i32 = s.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
        last = exp - (sig as i32 - 1);
        let back: f64 = s.parse().unwrap_or(f64::NAN);
        if (back - x).abs() <= 1e-9 * x {
            break;
        }
    }
    last
}

/// `x * 10^k` with a single rounding: multiplying or dividing by an exact
/// power of ten up to 1e22, parsing `"{x}e{k}"` beyond. So `3 * 10^-1` is the
/// double nearest 0.3 and `25 * 10^298` the one nearest 2.5e299.
fn scale10(x: f64, k: i32) -> f64 {
    const TABLE: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17,
        1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if !x.is_finite() {
        return x;
    }
    match k {
        0..=22 => x * TABLE[k as usize],
        -22..=-1 => x / TABLE[(-k) as usize],
        _ => format!("{x}e{k}").parse().unwrap_or(f64::NAN),
    }
}

/// `10^k` for any `k`, the double nearest the decimal.
fn pow10(k: i32) -> f64 {
    scale10(1.0, k)
}

/// `k` in Unicode superscripts: `⁻²`.
fn superscript(k: i32) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '\u{207B}',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

/// A nice step `m * 10^k`.
#[derive(Clone, Copy, Debug)]
struct Step {
    m: f64,
    k: i32,
}

impl Step {
    /// The step as a number.
    fn size(self) -> f64 {
        scale10(self.m, self.k)
    }

    /// The `i`-th multiple, `-0.0` turned into `0.0`.
    fn at(self, i: f64) -> f64 {
        let v = scale10(i * self.m, self.k);
        if v == 0.0 { 0.0 } else { v }
    }

    /// First and last multiple index inside `[lo, hi]` (within the
    /// tolerance); `first > last` when none is. `None` when the step is not
    /// usable at this scale (infinite, or subnormal and so imprecise).
    fn index_range(self, lo: f64, hi: f64) -> Option<(f64, f64)> {
        let s = self.size();
        if !(s.is_finite() && s >= f64::MIN_POSITIVE) {
            return None;
        }
        let (a, b) = (lo / s, hi / s);
        let tol = EPS * (b - a);
        if !(a.is_finite() && b.is_finite() && tol.is_finite()) {
            return None;
        }
        let (first, last) = ((a - tol).ceil(), (b + tol).floor());
        // Guard against index space losing the range (lo / s underflowing to 0).
        let slack = EPS * (hi - lo) + 1e-15 * lo.abs().max(hi.abs());
        if first <= last && !(self.at(first) >= lo - slack && self.at(last) <= hi + slack) {
            return None;
        }
        Some((first, last))
    }
}

/// Shared body of [`linear_ticks`] and [`integer_ticks`].
fn nice_ticks(lo: f64, hi: f64, max_ticks: usize, fmt: TickFormat, integer: bool) -> Vec<Tick> {
    if !(lo.is_finite() && hi.is_finite()) || max_ticks == 0 {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let max = max_ticks.min(MAX_TICKS);
    let tick = |v: f64, step: f64| Tick {
        value: v,
        label: format_value(v, step, fmt),
    };
    if integer {
        // Any integer in range at all?
        let unit = Step { m: 1.0, k: 0 };
        if !unit
            .index_range(lo, hi)
            .is_some_and(|(first, last)| first <= last)
        {
            return Vec::new();
        }
    }
    if lo == hi {
        let step = if integer { 1.0 } else { f64::NAN };
        return vec![tick(if lo == 0.0 { 0.0 } else { lo }, step)];
    }
    if max == 1 {
        return single_tick(lo, hi, integer)
            .map_or_else(|| vec![tick(lo, f64::NAN)], |(v, s)| vec![tick(v, s)]);
    }
    let Some((step, first, last)) = choose_step(lo, hi, max, integer) else {
        return single_tick(lo, hi, integer)
            .map_or_else(|| vec![tick(lo, f64::NAN)], |(v, s)| vec![tick(v, s)]);
    };
    // Near 2^53 consecutive indices (times 2.5) stop being distinct doubles:
    // the range is a point at this precision.
    if first.abs().max(last.abs()) >= 1e15 {
        return single_tick(lo, hi, integer)
            .map_or_else(|| vec![tick(lo, f64::NAN)], |(v, s)| vec![tick(v, s)]);
    }
    let count = (last - first + 1.0) as usize; // 1..=max, checked by choose_step
    let size = step.size();
    (0..count)
        .map(|n| tick(step.at(first + n as f64), size))
        .collect()
}

/// Candidate steps from `k` upwards, in ascending order.
fn steps_from(k: i32, integer: bool) -> impl Iterator<Item = Step> {
    // 700 decades cover every finite double; the bound keeps the loop finite.
    (k..k.saturating_add(700))
        .flat_map(|k| MANTISSAS.iter().map(move |&m| Step { m, k }))
        .filter(move |s| !integer || s.k > 0 || (s.k == 0 && s.m != 2.5))
}

/// The smallest nice step with 1..=max ticks in `[lo, hi]` (`lo < hi`), with
/// its first and last index.
fn choose_step(lo: f64, hi: f64, max: usize, integer: bool) -> Option<(Step, f64, f64)> {
    // log10(span / max) without overflowing the span.
    let half_span = hi * 0.5 - lo * 0.5;
    let target = half_span.log10() + std::f64::consts::LOG10_2 - (max as f64).log10();
    // One decade below the target: every smaller step gives > 10 * max ticks.
    let k0 = if target.is_finite() {
        (target.floor() as i32).clamp(-400, 400) - 1
    } else {
        -400
    };
    let k0 = if integer { k0.max(0) } else { k0 };
    for step in steps_from(k0, integer) {
        if step.k > 310 {
            break;
        }
        if let Some((first, last)) = step.index_range(lo, hi) {
            let count = last - first + 1.0;
            if count >= 1.0 && count <= max as f64 {
                return Some((step, first, last));
            }
        }
    }
    None
}

/// The single nicest tick in `[lo, hi]`: 0 if in range, else the multiple of
/// the largest nice step that has one in range. Returns the value and the
/// step (for the label).
fn single_tick(lo: f64, hi: f64, integer: bool) -> Option<(f64, f64)> {
    if lo <= 0.0 && hi >= 0.0 {
        return Some((0.0, 1.0));
    }
    let mag = lo.abs().max(hi.abs());
    let mut k = (mag.log10().ceil() as i32).clamp(-400, 310) + 1;
    for _ in 0..800 {
        if integer && k < 0 {
            break;
        }
        for &m in MANTISSAS.iter().rev() {
            if integer && k == 0 && m == 2.5 {
                continue;
            }
            let step = Step { m, k };
            if let Some((first, last)) = step.index_range(lo, hi) {
                let v = step.at(first);
                if first <= last && v.is_finite() {
                    return Some((v, step.size()));
                }
            }
        }
        k -= 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use TickFormat::{Plain, Thousands};

    fn values(t: &[Tick]) -> Vec<f64> {
        t.iter().map(|t| t.value).collect()
    }

    fn labels(t: &[Tick]) -> Vec<&str> {
        t.iter().map(|t| t.label.as_str()).collect()
    }

    type Case<'a> = (f64, f64, usize, TickFormat, &'a [f64], &'a [&'a str]);
    type LogCase<'a> = (f64, f64, usize, &'a [f64], &'a [&'a str]);
    type SymlogCase<'a> = (f64, f64, f64, usize, &'a [f64], &'a [&'a str]);

    #[test]
    fn linear_table() {
        let cases: &[Case] = &[
            (
                0.05,
                0.30,
                6,
                Plain,
                &[0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
                &["0.05", "0.10", "0.15", "0.20", "0.25", "0.30"],
            ),
            (
                0.0,
                0.008,
                5,
                Plain,
                &[0.0, 0.002, 0.004, 0.006, 0.008],
                &["0.000", "0.002", "0.004", "0.006", "0.008"],
            ),
            (
                -30.0,
                30.0,
                7,
                Plain,
                &[-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0],
                &["−30", "−20", "−10", "0", "10", "20", "30"],
            ),
            (
                -35.0,
                28.0,
                8,
                Plain,
                &[-30.0, -20.0, -10.0, 0.0, 10.0, 20.0],
                &["−30", "−20", "−10", "0", "10", "20"],
            ),
            (
                0.0,
                20000.0,
                5,
                Plain,
                &[0.0, 5000.0, 10000.0, 15000.0, 20000.0],
                &["0", "5000", "10000", "15000", "20000"],
            ),
            // Step 25000 would give 11 ticks, so 50000 (30k is not a nice step).
            (
                30000.0,
                300000.0,
                10,
                Thousands,
                &[50e3, 100e3, 150e3, 200e3, 250e3, 300e3],
                &["50k", "100k", "150k", "200k", "250k", "300k"],
            ),
            (
                0.0,
                1e6,
                5,
                Plain,
                &[0.0, 250e3, 500e3, 750e3, 1e6],
                &["0", "250000", "500000", "750000", "1000000"],
            ),
            (
                0.0,
                1e6,
                5,
                Thousands,
                &[0.0, 250e3, 500e3, 750e3, 1e6],
                &["0", "250k", "500k", "750k", "1M"],
            ),
            (
                0.0,
                2.5e6,
                6,
                Thousands,
                &[0.0, 0.5e6, 1e6, 1.5e6, 2e6, 2.5e6],
                &["0", "500k", "1M", "1.5M", "2M", "2.5M"],
            ),
            (
                0.0,
                2000.0,
                5,
                Thousands,
                &[0.0, 500.0, 1000.0, 1500.0, 2000.0],
                &["0", "500", "1k", "1.5k", "2k"],
            ),
            (
                -2000.0,
                0.0,
                3,
                Thousands,
                &[-2000.0, -1000.0, 0.0],
                &["−2k", "−1k", "0"],
            ),
            (0.1, 0.3, 3, Plain, &[0.1, 0.2, 0.3], &["0.1", "0.2", "0.3"]),
            // Floating noise at the ends still counts as inside.
            (
                0.1,
                0.30000000000000004,
                3,
                Plain,
                &[0.1, 0.2, 0.3],
                &["0.1", "0.2", "0.3"],
            ),
            (
                0.1,
                0.29999999999,
                3,
                Plain,
                &[0.1, 0.2, 0.3],
                &["0.1", "0.2", "0.3"],
            ),
            (
                0.1 + 0.2 - 0.2,
                0.1 + 0.2,
                3,
                Plain,
                &[0.1, 0.2, 0.3],
                &["0.1", "0.2", "0.3"],
            ),
            (
                0.0,
                0.7,
                8,
                Plain,
                &[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
                &["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"],
            ),
            (
                1e-7,
                5e-7,
                5,
                Plain,
                &[1e-7, 2e-7, 3e-7, 4e-7, 5e-7],
                &["1e-7", "2e-7", "3e-7", "4e-7", "5e-7"],
            ),
            (
                0.0,
                2e-4,
                5,
                Plain,
                &[0.0, 5e-5, 1e-4, 1.5e-4, 2e-4],
                &["0", "5e-5", "1e-4", "1.5e-4", "2e-4"],
            ),
            (
                0.0,
                1e-3,
                6,
                Plain,
                &[0.0, 2e-4, 4e-4, 6e-4, 8e-4, 1e-3],
                &["0.0000", "0.0002", "0.0004", "0.0006", "0.0008", "0.0010"],
            ),
            (
                0.0,
                5e9,
                6,
                Plain,
                &[0.0, 1e9, 2e9, 3e9, 4e9, 5e9],
                &["0", "1e9", "2e9", "3e9", "4e9", "5e9"],
            ),
            (
                0.0,
                10.0,
                5,
                Plain,
                &[0.0, 2.5, 5.0, 7.5, 10.0],
                &["0.0", "2.5", "5.0", "7.5", "10.0"],
            ),
            (
                0.0,
                1.0,
                10,
                Plain,
                &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                &["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"],
            ),
            (
                -1.0,
                1.0,
                5,
                Plain,
                &[-1.0, -0.5, 0.0, 0.5, 1.0],
                &["−1.0", "−0.5", "0.0", "0.5", "1.0"],
            ),
            (
                -0.25,
                0.25,
                5,
                Plain,
                &[-0.2, -0.1, 0.0, 0.1, 0.2],
                &["−0.2", "−0.1", "0.0", "0.1", "0.2"],
            ),
            (
                0.0,
                1e300,
                5,
                Plain,
                &[0.0, 2.5e299, 5e299, 7.5e299, 1e300],
                &["0", "2.5e299", "5e299", "7.5e299", "1e300"],
            ),
            // Reversed ranges are swapped.
            (0.3, 0.1, 3, Plain, &[0.1, 0.2, 0.3], &["0.1", "0.2", "0.3"]),
            (
                30.0,
                -30.0,
                7,
                Plain,
                &[-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0],
                &["−30", "−20", "−10", "0", "10", "20", "30"],
            ),
            // A point gives one tick at it.
            (2.5, 2.5, 5, Plain, &[2.5], &["2.5"]),
            (-0.0, 0.0, 5, Plain, &[0.0], &["0"]),
            (30000.0, 30000.0, 5, Thousands, &[30000.0], &["30k"]),
            // One tick: 0 if in range, else the nicest multiple.
            (-0.3, 0.7, 1, Plain, &[0.0], &["0"]),
            (0.31, 0.37, 1, Plain, &[0.35], &["0.35"]),
            (120.0, 180.0, 1, Plain, &[150.0], &["150"]),
            (-180.0, -120.0, 1, Plain, &[-150.0], &["−150"]),
            (1.0, 1.0 + f64::EPSILON, 5, Plain, &[1.0], &["1"]),
        ];
        for &(lo, hi, max, fmt, want_v, want_l) in cases {
            let t = linear_ticks(lo, hi, max, fmt);
            assert_eq!(values(&t), want_v, "values of ({lo}, {hi}, {max}, {fmt:?})");
            assert_eq!(labels(&t), want_l, "labels of ({lo}, {hi}, {max}, {fmt:?})");
        }
    }

    #[test]
    fn linear_empty() {
        let cases: &[(f64, f64, usize)] = &[
            (f64::NAN, 1.0, 5),
            (0.0, f64::NAN, 5),
            (0.0, f64::INFINITY, 5),
            (f64::NEG_INFINITY, 0.0, 5),
            (0.0, 1.0, 0),
        ];
        for &(lo, hi, max) in cases {
            assert_eq!(linear_ticks(lo, hi, max, Plain), vec![], "({lo}, {hi}, {max})");
            assert_eq!(integer_ticks(lo, hi, max, Plain), vec![], "({lo}, {hi}, {max})");
        }
    }

    /// Every locator output must be short, finite, ascending, inside the
    /// range and (for more than one tick) distinctly labelled.
    fn check_sane(t: &[Tick], lo: f64, hi: f64, max: usize, what: &str) {
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        assert!(t.len() <= max.min(MAX_TICKS), "{what}: {} ticks", t.len());
        let tol = (hi - lo).abs() * 1e-6 + hi.abs().max(lo.abs()) * 1e-12;
        for w in t.windows(2) {
            assert!(w[0].value < w[1].value, "{what}: not ascending {:?}", t);
            assert_ne!(w[0].label, w[1].label, "{what}: duplicate label {:?}", t);
        }
        for tick in t {
            assert!(tick.value.is_finite(), "{what}: {tick:?}");
            assert!(
                tick.value >= lo - tol && tick.value <= hi + tol,
                "{what}: {tick:?} outside"
            );
            assert!(
                !tick.label.is_empty() && !tick.label.contains("NaN"),
                "{what}: {tick:?}"
            );
        }
    }

    #[test]
    fn linear_never_misbehaves() {
        let ranges: &[(f64, f64)] = &[
            (0.0, 1e300),
            (-1e308, 1e308),
            (-f64::MAX, f64::MAX),
            (1.0, 1.0 + 1e-12),
            (1e300, 1e300 * (1.0 + 1e-15)),
            (1e300, 1e300 * (1.0 + 1e-9)),
            (5e-324, 1e-323),
            (0.0, 5e-324),
            (0.0, f64::MIN_POSITIVE),
            (-1e-300, 1e-300),
            (123456.789, 123456.79),
            (-0.0, 1e-20),
            (0.999, 1.001),
            (-7.3, 1234.5),
        ];
        for &(lo, hi) in ranges {
            for max in [1, 2, 3, 5, 7, 10, 1000, usize::MAX] {
                for fmt in [Plain, Thousands] {
                    let what = format!("linear({lo:e}, {hi:e}, {max}, {fmt:?})");
                    let t = linear_ticks(lo, hi, max, fmt);
                    assert!(!t.is_empty(), "{what}");
                    check_sane(&t, lo, hi, max, &what);
                    let t = integer_ticks(lo, hi, max, fmt);
                    check_sane(&t, lo, hi, max, &format!("integer {what}"));
                }
            }
        }
        // The tiny range still gets several distinct ticks.
        let t = linear_ticks(1.0, 1.0 + 1e-12, 5, Plain);
        assert!(t.len() >= 3, "{t:?}");
        // A huge request is capped.
        assert_eq!(integer_ticks(0.0, 1e6, usize::MAX, Plain).len(), 1000 / 2 + 1);
    }

    #[test]
    fn integer_table() {
        let cases: &[(f64, f64, usize, &[f64])] = &[
            (
                1.0,
                12.0,
                12,
                &[1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
            ),
            (1.0, 12.0, 6, &[2., 4., 6., 8., 10., 12.]),
            (
                0.0,
                28.0,
                15,
                &[
                    0., 2., 4., 6., 8., 10., 12., 14., 16., 18., 20., 22., 24., 26., 28.,
                ],
            ),
            (1.0, 4.0, 10, &[1., 2., 3., 4.]),
            (1.0, 4.0, 2, &[2., 4.]),
            (0.0, 100.0, 5, &[0., 25., 50., 75., 100.]),
            (0.0, 10.0, 4, &[0., 5., 10.]),
            (0.5, 1.5, 5, &[1.0]),
            (3.0, 3.0, 5, &[3.0]),
            (0.2, 0.8, 5, &[]),
            (2.5, 2.5, 5, &[]),
            (7.0, 13.0, 1, &[10.0]),
        ];
        for &(lo, hi, max, want) in cases {
            let t = integer_ticks(lo, hi, max, Plain);
            assert_eq!(values(&t), want, "({lo}, {hi}, {max})");
            let want_l: Vec<String> = want.iter().map(|v| format!("{v}")).collect();
            assert_eq!(labels(&t), want_l, "labels of ({lo}, {hi}, {max})");
        }
        let t = integer_ticks(0.0, 30000.0, 4, Thousands);
        assert_eq!(labels(&t), ["0", "10k", "20k", "30k"]);
    }

    #[test]
    fn log_table() {
        let cases: &[LogCase] = &[
            (
                1.0,
                1000.0,
                10,
                &[1.0, 10.0, 100.0, 1000.0],
                &["10⁰", "10¹", "10²", "10³"],
            ),
            (
                1000.0,
                1.0,
                10,
                &[1.0, 10.0, 100.0, 1000.0],
                &["10⁰", "10¹", "10²", "10³"],
            ),
            (0.01, 100.0, 3, &[0.01, 1.0, 100.0], &["10⁻²", "10⁰", "10²"]),
            (
                0.01,
                100.0,
                10,
                &[0.01, 0.1, 1.0, 10.0, 100.0],
                &["10⁻²", "10⁻¹", "10⁰", "10¹", "10²"],
            ),
            (
                2.0,
                80.0,
                10,
                &[2.0, 5.0, 10.0, 20.0, 50.0],
                &["2", "5", "10¹", "20", "50"],
            ),
            (2.0, 80.0, 3, &[5.0, 10.0, 50.0], &["5", "10¹", "50"]),
            (2.0, 80.0, 1, &[10.0], &["10¹"]),
            (0.1, 10.0, 10, &[0.1, 1.0, 10.0], &["10⁻¹", "10⁰", "10¹"]),
            (0.5, 3.0, 10, &[0.5, 1.0, 2.0], &["0.5", "10⁰", "2"]),
            (0.15, 3.0, 10, &[0.2, 0.5, 1.0, 2.0], &["0.2", "0.5", "10⁰", "2"]),
            (2e-5, 8e-5, 10, &[2e-5, 5e-5], &["2e-5", "5e-5"]),
            (
                1e-300,
                1e300,
                7,
                &[1e-258, 1e-172, 1e-86, 1.0, 1e86, 1e172, 1e258],
                &["10⁻²⁵⁸", "10⁻¹⁷²", "10⁻⁸⁶", "10⁰", "10⁸⁶", "10¹⁷²", "10²⁵⁸"],
            ),
            // No decade, 2x or 5x in range: linear ticks.
            (6.0, 8.0, 3, &[6.0, 7.0, 8.0], &["6", "7", "8"]),
        ];
        for &(lo, hi, max, want_v, want_l) in cases {
            let t = log_ticks(lo, hi, max);
            assert_eq!(values(&t), want_v, "({lo}, {hi}, {max})");
            assert_eq!(labels(&t), want_l, "({lo}, {hi}, {max})");
        }
        for (lo, hi) in [(0.0, 10.0), (-1.0, 10.0), (f64::NAN, 10.0), (1.0, f64::INFINITY)] {
            assert_eq!(log_ticks(lo, hi, 10), vec![], "({lo}, {hi})");
        }
        assert_eq!(log_ticks(1.0, 10.0, 0), vec![]);
        for (lo, hi) in [(5e-324, f64::MAX), (1.0, 1.0), (1.0, 1.0 + 1e-12), (3.0, 3.0)] {
            for max in [1, 2, 3, 10, usize::MAX] {
                let t = log_ticks(lo, hi, max);
                check_sane(&t, lo, hi, max, &format!("log({lo:e}, {hi:e}, {max})"));
            }
        }
    }

    #[test]
    fn symlog_table() {
        let cases: &[SymlogCase] = &[
            (
                -100.0,
                100.0,
                1.0,
                10,
                &[-100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0],
                &["−10²", "−10¹", "−10⁰", "0", "10⁰", "10¹", "10²"],
            ),
            (
                -1e6,
                1e6,
                1.0,
                7,
                &[-1e6, -1e3, -1.0, 0.0, 1.0, 1e3, 1e6],
                &["−10⁶", "−10³", "−10⁰", "0", "10⁰", "10³", "10⁶"],
            ),
            (
                -1000.0,
                50.0,
                10.0,
                10,
                &[-1000.0, -100.0, -10.0, 0.0, 10.0],
                &["−10³", "−10²", "−10¹", "0", "10¹"],
            ),
            // linthresh 3 lives in decade 10⁰.
            (
                0.0,
                100.0,
                3.0,
                10,
                &[0.0, 1.0, 10.0, 100.0],
                &["0", "10⁰", "10¹", "10²"],
            ),
            (
                5.0,
                5000.0,
                1.0,
                10,
                &[10.0, 100.0, 1000.0],
                &["10¹", "10²", "10³"],
            ),
            (
                -5000.0,
                -5.0,
                1.0,
                10,
                &[-1000.0, -100.0, -10.0],
                &["−10³", "−10²", "−10¹"],
            ),
            (-100.0, 100.0, 1.0, 2, &[0.0], &["0"]),
            (-100.0, 100.0, 1.0, 3, &[-1.0, 0.0, 1.0], &["−10⁰", "0", "10⁰"]),
            // Inside the linear region: linear ticks.
            (
                -0.5,
                0.5,
                1.0,
                5,
                &[-0.4, -0.2, 0.0, 0.2, 0.4],
                &["−0.4", "−0.2", "0.0", "0.2", "0.4"],
            ),
            // No decade in range outside the linear region: linear ticks.
            (2.0, 8.0, 1.0, 4, &[2.0, 4.0, 6.0, 8.0], &["2", "4", "6", "8"]),
        ];
        for &(lo, hi, lt, max, want_v, want_l) in cases {
            let t = symlog_ticks(lo, hi, lt, max);
            assert_eq!(values(&t), want_v, "({lo}, {hi}, {lt}, {max})");
            assert_eq!(labels(&t), want_l, "({lo}, {hi}, {lt}, {max})");
        }
        for (lo, hi, lt) in [
            (-1.0, 1.0, 0.0),
            (-1.0, 1.0, -1.0),
            (-1.0, 1.0, f64::NAN),
            (f64::NAN, 1.0, 1.0),
        ] {
            assert_eq!(symlog_ticks(lo, hi, lt, 10), vec![], "({lo}, {hi}, {lt})");
        }
        for (lo, hi, lt) in [
            (-f64::MAX, f64::MAX, 5e-324),
            (-1e300, 1e-300, 1e-300),
            (0.0, 0.0, 1.0),
        ] {
            for max in [1, 2, 3, 10, usize::MAX] {
                let t = symlog_ticks(lo, hi, lt, max);
                assert!(!t.is_empty());
                check_sane(&t, lo, hi, max, &format!("symlog({lo:e}, {hi:e}, {lt:e}, {max})"));
            }
        }
    }

    #[test]
    fn category_table() {
        let names: Vec<String> = (0..10).map(|i| format!("L{i}")).collect();
        let cases: &[(usize, usize, &[usize])] = &[
            (10, 10, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            (10, 100, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            (10, 5, &[0, 2, 4, 6, 8]),
            (10, 4, &[0, 3, 6, 9]),
            (10, 3, &[0, 4, 8]),
            (10, 1, &[0]),
            (10, 0, &[]),
            (0, 5, &[]),
            (7, 3, &[0, 3, 6]),
        ];
        for &(len, max, want) in cases {
            let got = category_ticks(&names[..len], max);
            let want: Vec<(usize, String)> = want.iter().map(|&i| (i, format!("L{i}"))).collect();
            assert_eq!(got, want, "({len}, {max})");
        }
    }

    /// Recomputes the gaps between consecutive labels, in pixels.
    fn gaps(t: &[Tick], px_per_char: f64, pos: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut spans: Vec<(f64, f64)> = t
            .iter()
            .map(|t| {
                let (c, w) = (pos(t.value), t.label.chars().count() as f64 * px_per_char);
                (c - w / 2.0, c + w / 2.0)
            })
            .collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        spans.windows(2).map(|w| w[1].0 - w[0].1).collect()
    }

    #[test]
    fn fit_ticks_drops_until_no_overlap() {
        let extent = |s: &str| 7.0 * s.chars().count() as f64;
        // (lo, hi, axis length, gap, y axis?)
        let cases: &[(f64, f64, f64, f64, bool)] = &[
            (0.0, 20000.0, 120.0, 6.0, false),
            (0.0, 20000.0, 400.0, 6.0, false),
            (0.0, 0.008, 90.0, 4.0, true),
            (-35.0, 28.0, 60.0, 8.0, false),
            (0.0, 1.0, 1000.0, 10.0, false),
        ];
        for &(lo, hi, len, gap, flip) in cases {
            let pos = move |v: f64| {
                let p = (v - lo) / (hi - lo) * len;
                if flip { len - p } else { p }
            };
            let make = |k: usize| linear_ticks(lo, hi, k, Plain);
            let t = fit_ticks(make, extent, len, gap, pos);
            assert!(!t.is_empty(), "({lo}, {hi}, {len})");
            assert!(
                gaps(&t, 7.0, pos).iter().all(|&g| g >= gap),
                "({lo}, {hi}, {len}) overlap: {t:?}"
            );
            // Maximal: the next richer candidate would have collided (or there is none).
            let richer = (t.len() + 1..=50)
                .map(make)
                .find(|c| c.len() > t.len() && c.len() <= (len / (gap + 1.0)) as usize);
            if let Some(r) = richer {
                assert!(
                    gaps(&r, 7.0, pos).iter().any(|&g| g < gap),
                    "({lo}, {hi}, {len}): {r:?} fits"
                );
            }
        }
        // On a short axis ticks are dropped.
        let short = fit_ticks(
            |k| linear_ticks(0.0, 20000.0, k, Plain),
            extent,
            60.0,
            6.0,
            |v| v / 20000.0 * 60.0,
        );
        assert_eq!(labels(&short), ["0", "20000"]);
        let long = fit_ticks(
            |k| linear_ticks(0.0, 20000.0, k, Plain),
            extent,
            250.0,
            6.0,
            |v| v / 20000.0 * 250.0,
        );
        assert_eq!(labels(&long), ["0", "5000", "10000", "15000", "20000"]);
        // Broken measures and axes never panic and fall back to make(1).
        let one = linear_ticks(0.0, 1.0, 1, Plain);
        assert_eq!(
            fit_ticks(
                |k| linear_ticks(0.0, 1.0, k, Plain),
                extent,
                500.0,
                2.0,
                |_| f64::NAN
            ),
            one
        );
        assert_eq!(
            fit_ticks(
                |k| linear_ticks(0.0, 1.0, k, Plain),
                |_| f64::INFINITY,
                500.0,
                2.0,
                |v| v
            ),
            one
        );
        assert_eq!(
            fit_ticks(
                |k| linear_ticks(0.0, 1.0, k, Plain),
                extent,
                f64::NAN,
                f64::NAN,
                |v| v
            ),
            one
        );
        assert_eq!(
            fit_ticks(|k| linear_ticks(0.0, 1.0, k, Plain), extent, -5.0, 2.0, |v| v),
            one
        );
        let nan_extent = fit_ticks(
            |k| linear_ticks(0.0, 1.0, k, Plain),
            |_| f64::NAN,
            500.0,
            2.0,
            |v| v * 500.0,
        );
        assert!(nan_extent.len() > 1);
    }

    #[test]
    fn format_table() {
        let cases: &[(f64, f64, TickFormat, &str)] = &[
            (0.05, 0.05, Plain, "0.05"),
            (0.1, 0.05, Plain, "0.10"),
            (0.30000000000000004, 0.1, Plain, "0.3"),
            (1.00000000001, 0.5, Plain, "1.0"),
            (2.5, 2.5, Plain, "2.5"),
            (5.0, 2.5, Plain, "5.0"),
            (0.5, 0.25, Plain, "0.50"),
            (20000.0, 5000.0, Plain, "20000"),
            (300000.0, 50000.0, Plain, "300000"),
            (999999999.0, 1.0, Plain, "999999999"),
            (1e9, 1e8, Plain, "1e9"),
            (2.5e9, 5e8, Plain, "2.5e9"),
            (1e-5, 1e-5, Plain, "1e-5"),
            (1.5e-7, 5e-8, Plain, "1.5e-7"),
            (2e-7, 5e-8, Plain, "2e-7"),
            (-3e-7, 1e-7, Plain, "−3e-7"),
            (0.0, 1e-5, Plain, "0"),
            (0.0, 0.002, Plain, "0.000"),
            (-0.0, 1.0, Plain, "0"),
            (-0.0, 0.1, Plain, "0.0"),
            (-1e-17, 0.1, Plain, "0.0"),
            (-5.0, 1.0, Plain, "−5"),
            (-0.25, 0.05, Plain, "−0.25"),
            (30000.0, 10000.0, Thousands, "30k"),
            (1500.0, 500.0, Thousands, "1.5k"),
            (10000.0, 500.0, Thousands, "10k"),
            (150.0, 50.0, Thousands, "150"),
            (300000.0, 50000.0, Thousands, "300k"),
            (2500000.0, 500000.0, Thousands, "2.5M"),
            (2000000.0, 500000.0, Thousands, "2M"),
            (-30000.0, 10000.0, Thousands, "−30k"),
            (0.0, 10000.0, Thousands, "0"),
            (999999.0, 1.0, Thousands, "999.999k"),
            (999999.9, 1.0, Thousands, "1M"),
            (2.5e9, 5e8, Thousands, "2500M"),
            (3e12, 1e12, Thousands, "3e12"),
            (0.5, 0.1, Thousands, "0.5"),
            // No usable step: the value's own digits, at most 6 significant.
            (0.3, f64::NAN, Plain, "0.3"),
            (1.0 / 3.0, 0.0, Plain, "0.333333"),
            (1234567.0, f64::INFINITY, Plain, "1234567"),
            (0.0, f64::NAN, Plain, "0"),
            // A negative step counts as its magnitude.
            (0.2, -0.1, Plain, "0.2"),
            (f64::NAN, 1.0, Plain, "NaN"),
            (f64::INFINITY, 1.0, Plain, "∞"),
            (f64::NEG_INFINITY, 1.0, Plain, "−∞"),
            (1.0, 1e-300, Plain, "1.00000000000000000"),
            (f64::MAX, 1e300, Plain, "1.79769313e308"),
            (5e-324, 5e-324, Plain, "5e-324"),
        ];
        for &(v, step, fmt, want) in cases {
            assert_eq!(
                format_value(v, step, fmt),
                want,
                "format_value({v:e}, {step:e}, {fmt:?})"
            );
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(superscript(-12), "⁻¹²");
        assert_eq!(superscript(3), "³");
        assert_eq!(superscript(4567890), "⁴⁵⁶⁷⁸⁹⁰");
        assert_eq!(pow10(-1), 0.1);
        assert_eq!(pow10(-2), 0.01);
        assert_eq!(pow10(22), 1e22);
        assert_eq!(pow10(23), 1e23);
        assert_eq!(pow10(300), 1e300);
        assert_eq!(pow10(-320), 1e-320);
        assert_eq!(pow10(309), f64::INFINITY);
        assert_eq!(last_digit_exp(0.25, 15), -2);
        assert_eq!(last_digit_exp(25000.0, 15), 3);
        assert_eq!(last_digit_exp(0.1 + 0.2, 15), -1);
    }
}
