//! The layout engine: [`Figure`] -> [`Scene`]. Pure code: it measures text
//! with the embedded font, picks ticks that fit, and places every
//! rectangle so that nothing is clipped or overlaps, whatever the labels.

use super::figure::{
    Axis, ColorbarMode, CoordMode, Figure, GridSource, HeatmapLayer, LineLayer, Panel, PanelContent, Rgba,
};
use super::format::NumberFormat;
use super::scene::{AxisMapping, HeatmapItem, PixelRect, Primitive, Scene};
use super::ticks::{self, Tick, TickFormat};
use crate::error::{Error, Result};

use crate::scale::aggregate::edges_from_centres;
use crate::scale::norm::Transform;
use crate::scale::{Colormap, Norm, NormSpec, Stats};
use crate::text::{Font, HAlign, Rotation, TextRun, VAlign};

/// matplotlib's default colour cycle (tab10).
pub const TAB10: [Rgba; 10] = [
    [0x1f, 0x77, 0xb4, 255],
    [0xff, 0x7f, 0x0e, 255],
    [0x2c, 0xa0, 0x2c, 255],
    [0xd6, 0x27, 0x28, 255],
    [0x94, 0x67, 0xbd, 255],
    [0x8c, 0x56, 0x4b, 255],
    [0xe3, 0x77, 0xc2, 255],
    [0x7f, 0x7f, 0x7f, 255],
    [0xbc, 0xbd, 0x22, 255],
    [0x17, 0xbe, 0xcf, 255],
];

const TEXT: Rgba = [0, 0, 0, 255];

/// Sizes in pixels for one figure scale.
#[derive(Clone, Copy, Debug)]
struct Style {
    tick_px: f32,
    label_px: f32,
    title_px: f32,
    suptitle_px: f32,
    annot_px: f32,
    pad: f32,
    tick_len: f32,
    line: f32,
    cbar_w: f32,
    cbar_gap: f32,
}

impl Style {
    fn new(s: f32) -> Style {
        Style {
            tick_px: 13.0 * s,
            label_px: 14.0 * s,
            title_px: 16.0 * s,
            suptitle_px: 18.0 * s,
            annot_px: 12.0 * s,
            pad: 6.0 * s,
            tick_len: 5.0 * s,
            line: (1.0 * s).round().max(1.0),
            cbar_w: 18.0 * s,
            cbar_gap: 14.0 * s,
        }
    }
}

/// Where a panel ended up, and what its axes show (for tests, hover
/// read-outs and the window).
#[derive(Clone, Debug, PartialEq)]
pub struct PanelInfo {
    /// The data area.
    pub plot: PixelRect,
    /// Ticks along the bottom.
    pub x_ticks: Vec<Tick>,
    /// Ticks along the left.
    pub y_ticks: Vec<Tick>,
    /// Colorbar bar rectangle and its ticks, if this panel has one.
    pub colorbar: Option<(PixelRect, Vec<Tick>)>,
    /// Resolved colour normalisation (heatmaps).
    pub norm: Option<Norm>,
    /// Statistics of the panel's data.
    pub stats: Stats,
    /// Data value at the left and right edges of the plot.
    pub x_window: (f64, f64),
    /// Data value at the top and bottom edges of the plot.
    pub y_window: (f64, f64),
}

/// A laid-out figure: the scene plus the grids its heatmap items refer to.
#[derive(Clone, Debug)]
pub struct FigureLayout {
    /// What to draw.
    pub scene: Scene,
    /// Grids referenced by `scene.heatmaps[i].grid`.
    pub grids: Vec<GridSource>,
    /// Per-panel geometry, in `figure.panels` order.
    pub panels: Vec<PanelInfo>,
}

#[derive(Clone, Debug)]
enum TickSource {
    Numeric { integer: bool, format: TickFormat },
    Categories(Vec<String>),
}

/// One axis: the data values at its two ends and how to label it.
#[derive(Clone, Debug)]
struct AxisModel {
    /// Value at the left (x) or top (y) end.
    start: f64,
    /// Value at the right (x) or bottom (y) end.
    end: f64,
    ticks: TickSource,
    mapping: AxisMapping,
    flip: bool,
    /// The number of discrete heatmap cells along the axis (0 for continuous axes).
    cells: usize,
}

impl AxisModel {
    fn frac(&self, v: f64) -> f64 {
        (v - self.start) / (self.end - self.start)
    }

    fn lo_hi(&self) -> (f64, f64) {
        (self.start.min(self.end), self.start.max(self.end))
    }

    fn make_ticks(&self, max: usize) -> Vec<Tick> {
        let (lo, hi) = self.lo_hi();
        match &self.ticks {
            TickSource::Numeric {
                integer: true,
                format,
            } => ticks::integer_ticks(lo, hi, max, *format),
            TickSource::Numeric {
                integer: false,
                format,
            } => ticks::linear_ticks(lo, hi, max, *format),
            TickSource::Categories(labels) => ticks::category_ticks(labels, max)
                .into_iter()
                .map(|(i, label)| Tick {
                    value: i as f64,
                    label,
                })
                .collect(),
        }
        .into_iter()
        .filter(|t| t.value >= lo - 1e-9 * (hi - lo).abs() && t.value <= hi + 1e-9 * (hi - lo).abs())
        .collect()
    }
}

fn coord_label(v: f64, all: &[f64], format: TickFormat) -> String {
    let integral = all.iter().all(|c| c.fract() == 0.0);
    let step = if integral {
        1.0
    } else {
        all.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .filter(|d| *d > 0.0)
            .fold(f64::INFINITY, f64::min)
    };
    let step = if step.is_finite() { step } else { 1.0 };
    // Categories print every coordinate as it is: 150 stays 150 even in a
    // thousands axis (1.5k only when it is >= 1000).
    ticks::format_value(v, step.min(1.0).max(if integral { 1.0 } else { step }), format)
}

fn heatmap_axis(axis: &Axis, n: usize, name: &str, reversed: bool) -> Result<AxisModel> {
    let uniform = |ticks| AxisModel {
        start: -0.5,
        end: n as f64 - 0.5,
        ticks,
        mapping: AxisMapping::Uniform,
        flip: false,
        cells: n,
    };
    let mut m = if let Some(cats) = &axis.categories {
        if cats.len() != n {
            return Err(Error::Invalid(format!(
                "{name} tick labels: {} labels for {n} {}",
                cats.len(),
                if name == "x" { "columns" } else { "rows" }
            )));
        }
        uniform(TickSource::Categories(cats.clone()))
    } else if let Some(coords) = &axis.coords {
        if coords.len() != n {
            return Err(Error::Invalid(format!(
                "{name} coordinates: {} values for {n} cells",
                coords.len()
            )));
        }
        if coords.iter().any(|c| !c.is_finite()) {
            return Err(Error::Invalid(format!(
                "{name} coordinates must be finite numbers"
            )));
        }
        match axis.mode {
            CoordMode::Index => uniform(TickSource::Categories(
                coords
                    .iter()
                    .map(|&c| coord_label(c, coords, axis.format))
                    .collect(),
            )),
            CoordMode::True => {
                let edges = edges_from_centres(coords)
                    .filter(|e| e.windows(2).all(|w| w[0] < w[1]))
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "{name} coordinates must be strictly increasing to place cells at their true \
                             positions; use --coords index to draw them evenly"
                        ))
                    })?;
                let integer = coords.iter().all(|c| c.fract() == 0.0) && n > 1 && {
                    let span = coords[n - 1] - coords[0];
                    span <= 200.0
                };
                AxisModel {
                    start: edges[0],
                    end: edges[n],
                    ticks: TickSource::Numeric {
                        integer,
                        format: axis.format,
                    },
                    mapping: AxisMapping::Edges {
                        view: (edges[0] as f32, edges[n] as f32),
                        edges: edges.iter().map(|&e| e as f32).collect(),
                    },
                    flip: false,
                    cells: if integer { n } else { 0 },
                }
            }
        }
    } else {
        uniform(TickSource::Numeric {
            integer: true,
            format: axis.format,
        })
    };
    if reversed {
        std::mem::swap(&mut m.start, &mut m.end);
        m.flip = true;
    }
    Ok(m)
}

fn series_stats(layer: &LineLayer) -> Stats {
    let mut all = Stats::of(&[]);
    for s in &layer.series {
        let st = match &s.streamed {
            Some(streamed) => match &streamed.summary {
                Some(sum) => sum.stats.stats(),
                // Before the first pass: a 0..1 placeholder.
                None => Stats::of(&[0.0, 1.0]),
            },
            None => Stats::of(&s.values),
        };
        all = if all.count == 0 {
            st
        } else {
            Stats {
                count: all.count + st.count,
                finite: all.finite + st.finite,
                nan: all.nan + st.nan,
                pos_inf: all.pos_inf + st.pos_inf,
                neg_inf: all.neg_inf + st.neg_inf,
                min: all.min.min(st.min),
                max: all.max.max(st.max),
                mean: (all.mean * all.finite as f64 + st.mean * st.finite as f64)
                    / (all.finite + st.finite).max(1) as f64,
            }
        };
    }
    all
}

fn line_axes(panel: &Panel, layer: &LineLayer, stats: &Stats) -> Result<(AxisModel, AxisModel)> {
    let n = layer.series.iter().map(|s| s.len()).max().unwrap_or(0);
    if n == 0 {
        return Err(Error::Invalid("line chart has no points".into()));
    }
    let (x0, x1, integer) = match &panel.x.coords {
        Some(c) => {
            if layer.series.iter().any(|s| s.len() != c.len()) {
                return Err(Error::Invalid(format!(
                    "x coordinates: {} values, but a series has {} points",
                    c.len(),
                    n
                )));
            }
            let lo = c.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = c.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() || !hi.is_finite() {
                return Err(Error::Invalid("x coordinates must be finite numbers".into()));
            }
            (lo, hi, false)
        }
        None => (0.0, (n - 1) as f64, true),
    };
    let (x0, x1) = panel
        .x
        .limits
        .unwrap_or(if x0 == x1 { (x0 - 0.5, x1 + 0.5) } else { (x0, x1) });
    let (lo, hi) = match panel.y.limits {
        Some(l) => l,
        None if stats.finite == 0 => (0.0, 1.0),
        None => {
            let (lo, hi) = (stats.min as f64, stats.max as f64);
            let m = if hi > lo {
                (hi - lo) * 0.05
            } else {
                lo.abs().max(1.0) * 0.05
            };
            (lo - m, hi + m)
        }
    };
    let ordered = |a: f64, b: f64| a.is_finite() && b.is_finite() && a < b;
    if !ordered(lo, hi) || !ordered(x0, x1) {
        return Err(Error::Invalid(format!(
            "axis limits must be finite and increasing, got {lo}..{hi}"
        )));
    }
    let x = AxisModel {
        start: x0,
        end: x1,
        ticks: TickSource::Numeric {
            integer,
            format: panel.x.format,
        },
        mapping: AxisMapping::Uniform,
        flip: false,
        cells: 0,
    };
    let y = AxisModel {
        start: hi,
        end: lo,
        ticks: TickSource::Numeric {
            integer: false,
            format: panel.y.format,
        },
        mapping: AxisMapping::Uniform,
        flip: false,
        cells: 0,
    };
    Ok((x, y))
}

/// A panel with its data statistics, norm and axis models resolved.
struct Prepared<'a> {
    panel: &'a Panel,
    stats: Stats,
    norm: Option<Norm>,
    x: AxisModel,
    y: AxisModel,
}

fn prepare_panels(fig: &Figure) -> Result<Vec<Prepared<'_>>> {
    let mut out = Vec::with_capacity(fig.panels.len());
    for (i, panel) in fig.panels.iter().enumerate() {
        let which = if fig.panels.len() > 1 {
            format!("panel {}: ", i + 1)
        } else {
            String::new()
        };
        let with_panel = |e: Error| match e {
            Error::Invalid(m) => Error::Invalid(format!("{which}{m}")),
            e => e,
        };
        let p = match &panel.content {
            PanelContent::Heatmap(h) => {
                let (stats, norm) = match &h.grid {
                    GridSource::Memory(g) => {
                        let stats = Stats::of(g.data());
                        (stats, h.norm.resolve(g.data(), &stats))
                    }
                    GridSource::Streamed(s) => {
                        let stats = s.stats();
                        (stats, h.norm.resolve_with(&stats, |q| s.percentile(q)))
                    }
                };
                let norm = norm.map_err(with_panel)?;
                let x = heatmap_axis(&panel.x, h.grid.cols(), "x", false).map_err(with_panel)?;
                let y = heatmap_axis(&panel.y, h.grid.rows(), "y", h.origin_lower).map_err(with_panel)?;
                Prepared {
                    panel,
                    stats,
                    norm: Some(norm),
                    x,
                    y,
                }
            }
            PanelContent::Lines(l) => {
                let stats = series_stats(l);
                let (x, y) = line_axes(panel, l, &stats).map_err(with_panel)?;
                Prepared {
                    panel,
                    stats,
                    norm: None,
                    x,
                    y,
                }
            }
        };
        out.push(p);
    }
    if fig.colorbar == ColorbarMode::Shared {
        let norms: Vec<Norm> = out.iter().filter_map(|p| p.norm).collect();
        if let Some(first) = norms.first() {
            let vmin = norms.iter().map(|n| n.vmin).fold(f32::INFINITY, f32::min);
            let vmax = norms.iter().map(|n| n.vmax).fold(f32::NEG_INFINITY, f32::max);
            let (lo, hi) = (
                norms.iter().any(|n| n.clipped_low),
                norms.iter().any(|n| n.clipped_high),
            );
            let shared = Norm {
                vmin,
                vmax,
                clipped_low: lo,
                clipped_high: hi,
                ..*first
            };
            // Re-resolve centred/log/symlog parameters over the shared range.
            let spec = out.iter().find_map(|p| match &p.panel.content {
                PanelContent::Heatmap(h) => Some(h.norm),
                _ => None,
            });
            let resolved = match spec {
                Some(s) => NormSpec {
                    vmin: Some(vmin),
                    vmax: Some(vmax),
                    robust: None,
                    ..s
                }
                .resolve(&[], &Stats::of(&[]))
                .map(|n| Norm {
                    clipped_low: lo,
                    clipped_high: hi,
                    ..n
                })
                .unwrap_or(shared),
                None => shared,
            };
            for p in out.iter_mut().filter(|p| p.norm.is_some()) {
                p.norm = Some(resolved);
            }
        }
    }
    Ok(out)
}

/// A float rectangle.
#[derive(Clone, Copy, Debug)]
struct Area {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// How a text run hangs off its anchor point.
type Anchor = (HAlign, VAlign, Rotation);

struct Builder<'f> {
    font: &'f Font,
    st: Style,
    scene: Scene,
    grids: Vec<GridSource>,
}

fn snap(v: f32, width: f32) -> f32 {
    if (width.round() as i32) % 2 == 1 {
        v.floor() + 0.5
    } else {
        v.round()
    }
}

impl Builder<'_> {
    fn text(&mut self, text: impl Into<String>, x: f32, y: f32, size: f32, anchor: Anchor) {
        self.text_colored(text, x, y, size, anchor, TEXT);
    }

    fn text_colored(
        &mut self,
        text: impl Into<String>,
        x: f32,
        y: f32,
        size: f32,
        anchor: Anchor,
        color: Rgba,
    ) {
        let (h, v, rot) = anchor;
        let text = text.into();
        if text.is_empty() {
            return;
        }
        self.scene.texts.push(TextRun {
            text,
            x,
            y,
            size_px: size,
            color,
            h_align: h,
            v_align: v,
            rotation: rot,
        });
    }

    fn shape(&mut self, clip: Option<PixelRect>, p: Primitive) {
        self.scene.shapes.push((clip, p));
    }

    fn line_h(&self, size: f32) -> f32 {
        self.font.measure("0", size).height
    }

    fn width(&self, s: &str, size: f32) -> f32 {
        self.font.measure(s, size).width
    }

    /// Ticks for an axis of `len` pixels whose labels take `extent` along it.
    fn fit(&self, m: &AxisModel, len: f32, vertical: bool) -> Vec<Tick> {
        let st = self.st;
        let lh = self.line_h(st.tick_px);
        let gap = if vertical { st.pad * 0.5 } else { st.pad * 1.5 };
        // matplotlib's tick space: one label per 3 font sizes across, 2 up.
        let space = ((len / (if vertical { 2.0 } else { 3.0 } * st.tick_px)).floor() as usize).max(2);
        let cap = match m.ticks {
            // Few discrete cells (Layer 1..12, 0..28): every cell or every other.
            TickSource::Numeric { integer: true, .. } if m.cells > 0 && m.cells <= 2 * space => space,
            // Continuous axes: a few round numbers.
            TickSource::Numeric { .. } => space.min(if vertical { 10 } else { 6 }),
            TickSource::Categories(_) => usize::MAX,
        };
        ticks::fit_ticks(
            |k| m.make_ticks(k.min(cap)),
            |label| {
                if vertical {
                    lh as f64
                } else {
                    self.width(label, st.tick_px) as f64
                }
            },
            len as f64,
            gap as f64,
            |v| m.frac(v) * len as f64,
        )
    }

    /// Ticks for an x axis of `len` pixels and whether their labels are
    /// turned 90°: text labels (tokens) that cannot all be written across
    /// are turned to read upwards, one line high along the axis, and then
    /// thinned to every k-th (k the smallest that fits, from the first
    /// label) if they still do not fit. `rotate` forces the choice (the
    /// final pass keeps what the space was reserved for).
    fn fit_x(&self, m: &AxisModel, len: f32, rotate: Option<bool>) -> (Vec<Tick>, bool) {
        let TickSource::Categories(cats) = &m.ticks else {
            return (self.fit(m, len, false), false);
        };
        let across = || self.fit(m, len, false);
        let turned = || {
            let st = self.st;
            let lh = self.line_h(st.tick_px) as f64;
            ticks::fit_ticks(
                |k| m.make_ticks(k),
                |_| lh,
                len as f64,
                (st.pad * 0.5) as f64,
                |v| m.frac(v) * len as f64,
            )
        };
        match rotate {
            Some(false) => (across(), false),
            Some(true) => (turned(), true),
            None => {
                let t = across();
                if t.len() >= cats.len() {
                    (t, false)
                } else {
                    (turned(), true)
                }
            }
        }
    }

    /// Extent of an x axis' tick labels across the axis (their height, or
    /// the longest label's width when they are turned).
    fn x_label_depth(&self, ticks: &[Tick], rotated: bool) -> f32 {
        if rotated {
            self.max_width(ticks)
        } else {
            self.line_h(self.st.tick_px)
        }
    }

    fn colorbar_ticks(&self, norm: &Norm, len: f32) -> Vec<Tick> {
        let lh = self.line_h(self.st.tick_px) as f64;
        // Via the shortest decimal: 0.05f32 is 0.05, not 0.0500000007.
        let widen = |v: f32| format!("{v}").parse::<f64>().unwrap_or(v as f64);
        let (lo, hi) = (widen(norm.vmin), widen(norm.vmax));
        let make = |k: usize| match norm.transform {
            Transform::Linear => ticks::linear_ticks(lo, hi, k, TickFormat::Plain),
            Transform::Log => ticks::log_ticks(lo, hi, k),
            Transform::SymLog => ticks::symlog_ticks(lo, hi, norm.linthresh as f64, k),
        };
        let cap = ((len / (2.0 * self.st.tick_px)).floor() as usize).clamp(2, 10);
        ticks::fit_ticks(
            |k| {
                make(k.min(cap))
                    .into_iter()
                    .filter(|t| {
                        let f = norm.normalize(t.value as f32);
                        (-1e-4..=1.0001).contains(&f)
                    })
                    .collect()
            },
            |_| lh,
            len as f64,
            (self.st.pad * 0.5) as f64,
            |v| norm.normalize(v as f32) as f64 * len as f64,
        )
    }

    fn max_width(&self, ticks: &[Tick]) -> f32 {
        ticks
            .iter()
            .map(|t| self.width(&t.label, self.st.tick_px))
            .fold(0.0, f32::max)
    }
}

/// `every 4th label`, when a text-labelled axis shows only every k-th label.
fn thinned_note(m: &AxisModel, ticks: &[Tick]) -> Option<String> {
    let TickSource::Categories(cats) = &m.ticks else {
        return None;
    };
    if ticks.len() >= cats.len() || ticks.len() < 2 {
        return None;
    }
    let k = (ticks[1].value - ticks[0].value).round() as usize;
    let suffix = match (k % 10, k % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    };
    Some(format!("every {k}{suffix} label"))
}

/// Colorbar furniture sizes: arrow heights and NaN swatch.
struct CbarExtras {
    top: f32,
    bottom: f32,
}

fn cbar_extras(st: &Style, norm: &Norm, has_nan: bool) -> CbarExtras {
    let arrow = st.cbar_w * 0.8;
    CbarExtras {
        top: if norm.clipped_high { arrow } else { 0.0 },
        bottom: if norm.clipped_low { arrow } else { 0.0 }
            + if has_nan { st.cbar_w + st.pad * 1.5 } else { 0.0 },
    }
}

/// Width a colorbar column needs to the right of its bar's left edge.
fn cbar_column_width(b: &Builder, label: bool, tick_w: f32, has_nan: bool) -> f32 {
    let st = b.st;
    let nan_w = if has_nan { b.width("NaN", st.tick_px) } else { 0.0 };
    st.cbar_w
        + st.tick_len
        + st.pad * 0.5
        + tick_w.max(nan_w)
        + if label {
            st.pad + b.line_h(st.label_px)
        } else {
            0.0
        }
}

struct Colorbar<'a> {
    norm: &'a Norm,
    cmap: Colormap,
    nan: Option<Rgba>,
    label: Option<&'a str>,
}

/// Draw a colorbar whose bar occupies `bar` (x, y, w, h); returns its ticks.
fn draw_colorbar(b: &mut Builder, bar: Area, cb: &Colorbar, ticks: &[Tick]) -> PixelRect {
    let st = b.st;
    let lut = cb.cmap.lut();
    let (x, y, w, h) = (bar.x.round(), bar.y.round(), bar.w.round(), bar.h.round());
    // 256 bands, the first colour at the bottom.
    for (i, &color) in lut.iter().enumerate() {
        let y0 = y + h - (i + 1) as f32 * h / 256.0;
        let y1 = y + h - i as f32 * h / 256.0;
        b.shape(
            None,
            Primitive::Rect {
                rect: [x, y0, w, y1 - y0],
                color,
            },
        );
    }
    let edge = [0, 0, 0, 255];
    let arrow = st.cbar_w * 0.8;
    let mut extend = |pts: [[f32; 2]; 3], color: Rgba| {
        b.shape(None, Primitive::Triangle { points: pts, color });
        for p in [pts[0], pts[1]] {
            b.shape(
                None,
                Primitive::Line {
                    p0: p,
                    p1: pts[2],
                    width: st.line,
                    color: edge,
                },
            );
        }
    };
    if cb.norm.clipped_high {
        extend([[x, y], [x + w, y], [x + w / 2.0, y - arrow]], lut[255]);
    }
    if cb.norm.clipped_low {
        extend([[x, y + h], [x + w, y + h], [x + w / 2.0, y + h + arrow]], lut[0]);
    }
    outline(b, x, y, w, h, st.line);
    let lx = x + w + st.tick_len + st.pad * 0.5;
    for t in ticks {
        let ty = snap(y + h - cb.norm.normalize(t.value as f32) * h, st.line);
        b.shape(
            None,
            Primitive::Line {
                p0: [x + w, ty],
                p1: [x + w + st.tick_len, ty],
                width: st.line,
                color: edge,
            },
        );
        b.text(
            t.label.clone(),
            lx,
            ty,
            st.tick_px,
            (HAlign::Left, VAlign::Middle, Rotation::None),
        );
    }
    if let Some(nan) = cb.nan {
        let top = y + h + if cb.norm.clipped_low { arrow } else { 0.0 } + st.pad * 1.5;
        b.shape(
            None,
            Primitive::Rect {
                rect: [x, top, w, w],
                color: nan,
            },
        );
        outline(b, x, top, w, w, st.line);
        b.text(
            "NaN",
            lx,
            top + w / 2.0,
            st.tick_px,
            (HAlign::Left, VAlign::Middle, Rotation::None),
        );
    }
    if let Some(label) = cb.label {
        let tw = b.max_width(ticks);
        let cx = lx + tw + st.pad + b.line_h(st.label_px) / 2.0;
        b.text(
            label,
            cx,
            y + h / 2.0,
            st.label_px,
            (HAlign::Center, VAlign::Middle, Rotation::Ccw90),
        );
    }
    PixelRect {
        x: x as u32,
        y: y as u32,
        width: w as u32,
        height: h as u32,
    }
}

fn outline(b: &mut Builder, x: f32, y: f32, w: f32, h: f32, lw: f32) {
    // Lines just outside the rectangle, so they never cover data.
    let (x0, y0, x1, y1) = (x - lw / 2.0, y - lw / 2.0, x + w + lw / 2.0, y + h + lw / 2.0);
    let c = [0, 0, 0, 255];
    b.shape(
        None,
        Primitive::Line {
            p0: [x0 - lw / 2.0, y0],
            p1: [x1 + lw / 2.0, y0],
            width: lw,
            color: c,
        },
    );
    b.shape(
        None,
        Primitive::Line {
            p0: [x0 - lw / 2.0, y1],
            p1: [x1 + lw / 2.0, y1],
            width: lw,
            color: c,
        },
    );
    b.shape(
        None,
        Primitive::Line {
            p0: [x0, y0],
            p1: [x0, y1],
            width: lw,
            color: c,
        },
    );
    b.shape(
        None,
        Primitive::Line {
            p0: [x1, y0],
            p1: [x1, y1],
            width: lw,
            color: c,
        },
    );
}

/// `text` at `size`, or smaller (down to 70%) so it is at most `room`
/// wide, or at 70% cut short with an ellipsis when even that is too wide.
fn fit_text(b: &Builder, text: &str, size: f32, room: f32) -> (String, f32) {
    let width = b.width(text, size);
    if width <= room {
        return (text.to_string(), size);
    }
    let smaller = size * (room / width).max(0.7);
    if b.width(text, smaller) <= room {
        return (text.to_string(), smaller);
    }
    let chars: Vec<char> = text.chars().collect();
    for keep in (0..chars.len()).rev() {
        let cut: String = chars[..keep].iter().collect::<String>().trim_end().to_string() + "\u{2026}";
        if b.width(&cut, smaller) <= room || keep == 0 {
            return (cut, smaller);
        }
    }
    (String::new(), smaller)
}

/// The space a panel needs around its plot area.
struct Reserve {
    top: f32,
    bottom: f32,
    left: f32,
    right: f32,
}

fn layout_panel(b: &mut Builder, cell: Area, p: &Prepared, own_cbar: bool) -> Result<PanelInfo> {
    let st = b.st;
    let th = b.line_h(st.tick_px);
    let lh = b.line_h(st.label_px);
    let panel = p.panel;
    let has_nan = p.stats.nan > 0;
    let cbar = own_cbar.then_some(p.norm).flatten();
    let fixed = Reserve {
        top: st.pad
            + if panel.title.is_some() {
                b.line_h(st.title_px) + st.pad
            } else {
                th / 2.0
            },
        bottom: st.pad
            + st.tick_len
            + st.pad * 0.5
            + th
            + if panel.x.label.is_some() { st.pad + lh } else { 0.0 },
        left: st.pad + if panel.y.label.is_some() { lh + st.pad } else { 0.0 } + st.tick_len + st.pad * 0.5,
        right: st.pad,
    };
    let (mut yw, mut cbw, mut over_r, mut over_l) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    // Extra depth of turned x labels beyond one line, and whether they are turned.
    let (mut xh, mut rotated) = (0.0f32, false);
    let mut plot = Area {
        x: 0.0,
        y: 0.0,
        w: 0.0,
        h: 0.0,
    };
    for _ in 0..5 {
        let cb_col = match cbar {
            Some(_) => st.cbar_gap + cbar_column_width(b, panel.colorbar_label.is_some(), cbw, has_nan),
            None => 0.0,
        };
        plot = Area {
            x: cell.x + fixed.left + yw + over_l,
            y: cell.y + fixed.top,
            w: cell.w - fixed.left - yw - over_l - fixed.right - cb_col - over_r,
            h: cell.h - fixed.top - fixed.bottom - xh,
        };
        if plot.w < 8.0 || plot.h < 8.0 {
            return Err(Error::Invalid(format!(
                "the figure is too small for its labels: {:.0} x {:.0} pixels per panel leave no room to plot \
                 (use a larger --size or a smaller --scale)",
                cell.w, cell.h
            )));
        }
        let yt = b.fit(&p.y, plot.h, true);
        let (xt, turned) = b.fit_x(&p.x, plot.w, None);
        let new_xh = b.x_label_depth(&xt, turned) - th;
        let (mut new_cbw, mut cb_len) = (0.0, 0.0);
        if let Some(norm) = &cbar {
            let ex = cbar_extras(&st, norm, has_nan);
            cb_len = plot.h - ex.top - ex.bottom;
            new_cbw = b.max_width(&b.colorbar_ticks(norm, cb_len.max(1.0)));
        }
        let new_yw = b.max_width(&yt);
        // x labels are centred on their ticks: the outer ones may stick out.
        let right_room = fixed.right + cb_col + over_r;
        let (mut need_r, mut need_l) = (0.0f32, 0.0f32);
        for t in &xt {
            let px = p.x.frac(t.value) as f32 * plot.w;
            let half = if turned {
                th / 2.0
            } else {
                b.width(&t.label, st.tick_px) / 2.0
            };
            need_r = need_r.max(px + half - plot.w - (right_room - st.pad));
            need_l = need_l.max(half - px - (fixed.left + yw + over_l - st.pad));
        }
        let converged = (new_yw - yw).abs() < 0.5
            && (new_cbw - cbw).abs() < 0.5
            && (new_xh - xh).abs() < 0.5
            && turned == rotated
            && need_r <= 0.5
            && need_l <= 0.5
            && (cbar.is_none() || cb_len > 8.0);
        if converged {
            break;
        }
        yw = new_yw;
        cbw = new_cbw;
        xh = new_xh;
        rotated = turned;
        over_r += need_r.max(0.0);
        over_l += need_l.max(0.0);
    }
    // A fixed aspect (square cells): shrink the plot to it, centred.
    if let (Some(aspect), PanelContent::Heatmap(_)) = (panel.aspect, &panel.content) {
        let (dx, dy) = ((p.x.end - p.x.start).abs(), (p.y.end - p.y.start).abs());
        let want = aspect as f64 * dy / dx;
        if want.is_finite() && want > 0.0 {
            let want = want as f32;
            if plot.h > plot.w * want {
                let h = plot.w * want;
                plot.y += (plot.h - h) / 2.0;
                plot.h = h;
            } else {
                let w = plot.h / want;
                plot.x += (plot.w - w) / 2.0;
                plot.w = w;
            }
        }
    }
    // Whole pixels for the data area.
    let px0 = plot.x.ceil();
    let py0 = plot.y.ceil();
    let rect = PixelRect {
        x: px0 as u32,
        y: py0 as u32,
        width: ((plot.x + plot.w).floor() - px0).max(1.0) as u32,
        height: ((plot.y + plot.h).floor() - py0).max(1.0) as u32,
    };
    let (pw, ph) = (rect.width as f32, rect.height as f32);
    let (rx, ry) = (rect.x as f32, rect.y as f32);
    // Ticks may shift slightly after rounding: recompute for the final size.
    let yt = b.fit(&p.y, ph, true);
    let (xt, _) = b.fit_x(&p.x, pw, Some(rotated));

    match &panel.content {
        PanelContent::Heatmap(h) => heatmap_content(b, rect, p, h)?,
        PanelContent::Lines(l) => line_content(b, rect, p, l),
    }

    // Spines and ticks.
    outline(b, rx, ry, pw, ph, st.line);
    let black = [0, 0, 0, 255];
    for t in &xt {
        let x = snap(rx + p.x.frac(t.value) as f32 * pw, st.line);
        let y = ry + ph + st.line;
        b.shape(
            None,
            Primitive::Line {
                p0: [x, y],
                p1: [x, y + st.tick_len],
                width: st.line,
                color: black,
            },
        );
        let ly = ry + ph + st.line + st.tick_len + st.pad * 0.5;
        if rotated {
            b.text(
                t.label.clone(),
                x,
                ly,
                st.tick_px,
                (HAlign::Right, VAlign::Middle, Rotation::Ccw90),
            );
        } else {
            b.text(
                t.label.clone(),
                x,
                ly,
                st.tick_px,
                (HAlign::Center, VAlign::Top, Rotation::None),
            );
        }
    }
    for t in &yt {
        let y = snap(ry + p.y.frac(t.value) as f32 * ph, st.line);
        let x = rx - st.line;
        b.shape(
            None,
            Primitive::Line {
                p0: [x, y],
                p1: [x - st.tick_len, y],
                width: st.line,
                color: black,
            },
        );
        let lx = rx - st.line - st.tick_len - st.pad * 0.5;
        b.text(
            t.label.clone(),
            lx,
            y,
            st.tick_px,
            (HAlign::Right, VAlign::Middle, Rotation::None),
        );
    }
    if let Some(title) = &panel.title {
        // Centred over the plot, within the panel's cell: a title wider than
        // that is set smaller, then shortened, never into its neighbours.
        let centre = rx + pw / 2.0;
        let room = 2.0 * (centre - cell.x).min(cell.x + cell.w - centre) - st.pad;
        let (text, size) = fit_text(b, title, st.title_px, room);
        b.text(
            text,
            centre,
            ry - st.pad,
            size,
            (HAlign::Center, VAlign::Bottom, Rotation::None),
        );
    }
    if let Some(label) = &panel.x.label {
        let y = ry + ph + st.line + st.tick_len + st.pad * 0.5 + th + xh.max(0.0) + st.pad;
        let label = match thinned_note(&p.x, &xt) {
            Some(note) => format!("{label} ({note})"),
            None => label.clone(),
        };
        b.text(
            label,
            rx + pw / 2.0,
            y,
            st.label_px,
            (HAlign::Center, VAlign::Top, Rotation::None),
        );
    }
    if let Some(label) = &panel.y.label {
        let label = &match thinned_note(&p.y, &yt) {
            Some(note) => format!("{label} ({note})"),
            None => label.clone(),
        };
        let x = rx - st.line - st.tick_len - st.pad * 0.5 - b.max_width(&yt) - st.pad - lh / 2.0;
        b.text(
            label.clone(),
            x,
            ry + ph / 2.0,
            st.label_px,
            (HAlign::Center, VAlign::Middle, Rotation::Ccw90),
        );
    }
    let mut colorbar = None;
    if let Some(norm) = &cbar {
        let ex = cbar_extras(&st, norm, has_nan);
        let bar = Area {
            x: rx + pw + st.cbar_gap,
            y: ry + ex.top,
            w: st.cbar_w,
            h: ph - ex.top - ex.bottom,
        };
        let cbt = b.colorbar_ticks(norm, bar.h.round());
        let (cmap, nan) = match &panel.content {
            PanelContent::Heatmap(h) => (h.colormap, has_nan.then_some(h.special_colors[0])),
            PanelContent::Lines(_) => (Colormap::default(), None),
        };
        let cb = Colorbar {
            norm,
            cmap,
            nan,
            label: panel.colorbar_label.as_deref(),
        };
        let r = draw_colorbar(b, bar, &cb, &cbt);
        colorbar = Some((r, cbt));
    }
    Ok(PanelInfo {
        plot: rect,
        x_ticks: xt,
        y_ticks: yt,
        colorbar,
        norm: p.norm,
        stats: p.stats,
        x_window: (p.x.start, p.x.end),
        y_window: (p.y.start, p.y.end),
    })
}

fn heatmap_content(b: &mut Builder, rect: PixelRect, p: &Prepared, h: &HeatmapLayer) -> Result<()> {
    let norm = p
        .norm
        .ok_or_else(|| Error::Invalid("heatmap without a norm".into()))?;
    b.grids.push(h.grid.clone());
    b.scene.heatmaps.push(HeatmapItem {
        grid: b.grids.len() - 1,
        rect,
        x: p.x.mapping.clone(),
        y: p.y.mapping.clone(),
        flip_x: p.x.flip,
        flip_y: p.y.flip,
        norm,
        colormap: h.colormap,
        aggregate: h.aggregate,
        special_colors: h.special_colors,
    });
    if let Some(spec) = &h.annotate {
        annotate(b, rect, p, h, &norm, &NumberFormat::parse(spec)?);
    }
    Ok(())
}

/// Relative luminance of an sRGB colour (WCAG), 0 = black, 1 = white.
pub fn luminance(c: Rgba) -> f32 {
    let lin = |v: u8| {
        let v = v as f32 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
}

fn cell_edges(m: &AxisModel, n: usize) -> Vec<f64> {
    match &m.mapping {
        AxisMapping::Edges { edges, .. } => edges.iter().map(|&e| e as f64).collect(),
        AxisMapping::Uniform => (0..=n).map(|i| i as f64 - 0.5).collect(),
    }
}

fn annotate(
    b: &mut Builder,
    rect: PixelRect,
    p: &Prepared,
    h: &HeatmapLayer,
    norm: &Norm,
    fmt: &NumberFormat,
) {
    let Some(g) = h.grid.memory() else {
        return;
    };
    if g.rows() * g.cols() > 10_000 {
        return;
    }
    let (rx, ry, pw, ph) = (
        rect.x as f32,
        rect.y as f32,
        rect.width as f32,
        rect.height as f32,
    );
    let xe: Vec<f32> = cell_edges(&p.x, g.cols())
        .iter()
        .map(|&v| rx + p.x.frac(v) as f32 * pw)
        .collect();
    let ye: Vec<f32> = cell_edges(&p.y, g.rows())
        .iter()
        .map(|&v| ry + p.y.frac(v) as f32 * ph)
        .collect();
    let labels: Vec<String> = g.data().iter().map(|&v| fmt.format(v as f64)).collect();
    // One size for all cells: the largest that fits every label, down to 60%.
    let mut size = b.st.annot_px;
    let fits = |size: f32| {
        let lh = b.line_h(size);
        (0..g.rows()).all(|r| {
            (0..g.cols()).all(|c| {
                let w = (xe[c + 1] - xe[c]).abs();
                let hh = (ye[r + 1] - ye[r]).abs();
                b.width(&labels[r * g.cols() + c], size) + 2.0 <= w && lh <= hh
            })
        })
    };
    while !fits(size) {
        size *= 0.9;
        if size < b.st.annot_px * 0.6 {
            return;
        }
    }
    for r in 0..g.rows() {
        for c in 0..g.cols() {
            let v = g.data()[r * g.cols() + c];
            let cell = if v.is_nan() {
                h.special_colors[0]
            } else if v == f32::INFINITY {
                h.special_colors[1]
            } else if v == f32::NEG_INFINITY {
                h.special_colors[2]
            } else {
                h.colormap.map(norm.normalize(v))
            };
            let color = if luminance(cell) > 0.408 {
                [0, 0, 0, 255]
            } else {
                [255, 255, 255, 255]
            };
            let (cx, cy) = ((xe[c] + xe[c + 1]) / 2.0, (ye[r] + ye[r + 1]) / 2.0);
            b.text_colored(
                labels[r * g.cols() + c].clone(),
                cx,
                cy,
                size,
                (HAlign::Center, VAlign::Middle, Rotation::None),
                color,
            );
        }
    }
}

/// Points of one series in pixels: a plain polyline when there are fewer
/// points than pixel columns, else for each column its first, min, max
/// and last value, so no spike is lost. NaN breaks the line.
pub fn series_polylines(
    values: &[f32],
    xs: &dyn Fn(usize) -> f32,
    ys: &dyn Fn(f32) -> f32,
    width_px: u32,
) -> Vec<Vec<[f32; 2]>> {
    let mut b = PolylineBuilder::new(values.len(), width_px);
    for (i, &v) in values.iter().enumerate() {
        b.push(xs(i), v);
    }
    map_values(b.finish(), ys)
}

/// `lines` (x in pixels, y a data value) with y in pixels: `ys`, infinite
/// values at the far end of the axis.
pub fn map_values(mut lines: Vec<Vec<[f32; 2]>>, ys: &dyn Fn(f32) -> f32) -> Vec<Vec<[f32; 2]>> {
    for p in lines.iter_mut().flatten() {
        let v = p[1];
        p[1] = if v.is_infinite() {
            ys(v.signum() * f32::MAX)
        } else {
            ys(v)
        };
    }
    lines
}

/// The points of one series, built value by value in order (the rule of
/// [`series_polylines`]), with y left a data value: the same whether the
/// values are in memory or streamed past once.
#[derive(Clone, Debug)]
pub struct PolylineBuilder {
    columns: bool,
    lines: Vec<Vec<[f32; 2]>>,
    /// Column, first, min, max, last.
    col: Option<(i64, f32, f32, f32, f32)>,
}

impl PolylineBuilder {
    /// A builder for `points` values drawn `width_px` pixels wide.
    pub fn new(points: usize, width_px: u32) -> Self {
        PolylineBuilder {
            columns: points > width_px as usize,
            lines: vec![Vec::new()],
            col: None,
        }
    }

    fn flush(&mut self) {
        if let Some(c) = self.col.take() {
            let x = c.0 as f32 + 0.5;
            if let Some(l) = self.lines.last_mut() {
                for v in [c.1, c.2, c.3, c.4] {
                    l.push([x, v]);
                }
            }
        }
    }

    /// The next value, at `x` pixels.
    pub fn push(&mut self, x: f32, v: f32) {
        if v.is_nan() {
            self.flush();
            self.lines.push(Vec::new());
            return;
        }
        if !self.columns {
            if let Some(l) = self.lines.last_mut() {
                l.push([x, v]);
            }
            return;
        }
        let cx = x.floor() as i64;
        match self.col {
            Some(c) if c.0 == cx => self.col = Some((cx, c.1, c.2.min(v), c.3.max(v), v)),
            _ => {
                self.flush();
                self.col = Some((cx, v, v, v, v));
            }
        }
    }

    /// The lines (x in pixels, y a data value).
    pub fn finish(mut self) -> Vec<Vec<[f32; 2]>> {
        self.flush();
        self.lines.retain(|l| !l.is_empty());
        self.lines
    }
}

/// Where a line chart puts point `i` across: `info`'s plot and x window,
/// with the axis' coordinates when it has some (the mapping the layout
/// draws with, for a pass over streamed values to use).
pub fn line_x(info: &PanelInfo, coords: Option<&[f64]>, i: usize) -> f32 {
    let v = coords.and_then(|c| c.get(i)).copied().unwrap_or(i as f64);
    let (start, end) = info.x_window;
    info.plot.x as f32 + ((v - start) / (end - start)) as f32 * info.plot.width as f32
}

fn line_content(b: &mut Builder, rect: PixelRect, p: &Prepared, l: &LineLayer) {
    let st = b.st;
    let (rx, ry, pw, ph) = (
        rect.x as f32,
        rect.y as f32,
        rect.width as f32,
        rect.height as f32,
    );
    let xs_coords = p.panel.x.coords.as_ref();
    let x_of = |i: usize| -> f32 {
        let v = xs_coords.and_then(|c| c.get(i)).copied().unwrap_or(i as f64);
        rx + p.x.frac(v) as f32 * pw
    };
    let y_of = |v: f32| -> f32 { (ry + p.y.frac(v as f64) as f32 * ph).clamp(ry - ph, ry + 2.0 * ph) };
    let width = l.line_width.unwrap_or(1.5) * st.line.max(st.tick_px / 13.0);
    let mut legend = Vec::new();
    for (i, s) in l.series.iter().enumerate() {
        let color = s.color.unwrap_or(TAB10[i % TAB10.len()]);
        let lines = match &s.streamed {
            // Streamed: the points the pass left for this plot, if it was
            // made for it (the first layout only sizes the plot).
            Some(streamed) => match streamed.summary.as_ref().and_then(|sum| sum.lines.as_ref()) {
                Some(l) if l.key == (rect.x, rect.width, p.x.start, p.x.end) => {
                    map_values(l.lines.clone(), &y_of)
                }
                _ => Vec::new(),
            },
            None => series_polylines(&s.values, &x_of, &y_of, rect.width),
        };
        for line in lines {
            if line.len() == 1 {
                let [x, y] = line[0];
                b.shape(
                    Some(rect),
                    Primitive::Rect {
                        rect: [x - width, y - width, 2.0 * width, 2.0 * width],
                        color,
                    },
                );
            } else {
                b.shape(
                    Some(rect),
                    Primitive::Polyline {
                        points: line,
                        width,
                        color,
                    },
                );
            }
        }
        if let Some(label) = &s.label {
            legend.push((label.clone(), color));
        }
    }
    if l.mark_top > 0 {
        mark_top(b, rect, p, l, &x_of, &y_of);
    }
    if !legend.is_empty() {
        let lh = b.line_h(st.tick_px);
        let sw = 24.0 * st.tick_px / 13.0;
        let w = legend
            .iter()
            .map(|(t, _)| b.width(t, st.tick_px))
            .fold(0.0, f32::max)
            + sw
            + st.pad * 3.0;
        let h = legend.len() as f32 * (lh + st.pad * 0.5) + st.pad * 1.5;
        let (x0, y0) = (rx + pw - w - st.pad, ry + st.pad);
        b.shape(
            Some(rect),
            Primitive::Rect {
                rect: [x0, y0, w, h],
                color: [255, 255, 255, 230],
            },
        );
        let frame = [204, 204, 204, 255];
        let (x1, y1) = (x0 + w, y0 + h);
        for (p0, p1) in [
            ([x0, y0], [x1, y0]),
            ([x0, y1], [x1, y1]),
            ([x0, y0], [x0, y1]),
            ([x1, y0], [x1, y1]),
        ] {
            b.shape(
                Some(rect),
                Primitive::Line {
                    p0,
                    p1,
                    width: st.line,
                    color: frame,
                },
            );
        }
        for (i, (text, color)) in legend.into_iter().enumerate() {
            let cy = y0 + st.pad + i as f32 * (lh + st.pad * 0.5) + lh / 2.0;
            b.shape(
                Some(rect),
                Primitive::Line {
                    p0: [x0 + st.pad, cy],
                    p1: [x0 + st.pad + sw, cy],
                    width,
                    color,
                },
            );
            b.text(
                text,
                x0 + st.pad * 2.0 + sw,
                cy,
                st.tick_px,
                (HAlign::Left, VAlign::Middle, Rotation::None),
            );
        }
    }
}

fn mark_top(
    b: &mut Builder,
    rect: PixelRect,
    p: &Prepared,
    l: &LineLayer,
    x_of: &dyn Fn(usize) -> f32,
    y_of: &dyn Fn(f32) -> f32,
) {
    let st = b.st;
    let mut all: Vec<(f32, usize)> = l
        .series
        .iter()
        .flat_map(|s| {
            let streamed = s.streamed.as_ref().and_then(|st| st.summary.as_ref());
            let top = streamed.map(|sum| sum.top.clone()).unwrap_or_default();
            s.values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| (v, i))
                .chain(top)
        })
        .collect();
    let k = l.mark_top.min(all.len());
    if k == 0 {
        return;
    }
    all.select_nth_unstable_by(k - 1, top_order);
    all.truncate(k);
    // Largest first: they get their labels before smaller ones crowd them.
    all.sort_by(top_order);
    let r = 3.5 * st.tick_px / 13.0;
    let mut placed: Vec<[f32; 4]> = Vec::new();
    for (v, i) in all {
        let (x, y) = (x_of(i), y_of(v));
        // A diamond marker.
        let red = [214, 39, 40, 255];
        b.shape(
            Some(rect),
            Primitive::Triangle {
                points: [[x - r, y], [x, y - r], [x + r, y]],
                color: red,
            },
        );
        b.shape(
            Some(rect),
            Primitive::Triangle {
                points: [[x - r, y], [x, y + r], [x + r, y]],
                color: red,
            },
        );
        let label = format!("{i}");
        let w = b.width(&label, st.tick_px * 0.9);
        let lh = b.line_h(st.tick_px * 0.9);
        let above = v >= 0.0;
        let ly = if above { y - r - 2.0 - lh } else { y + r + 2.0 };
        let lx = (x - w / 2.0).clamp(rect.x as f32 + 2.0, (rect.x + rect.width) as f32 - w - 2.0);
        let ly = ly.clamp(rect.y as f32 + 2.0, (rect.y + rect.height) as f32 - lh - 2.0);
        let bx = [lx, ly, lx + w, ly + lh];
        if placed
            .iter()
            .any(|o| bx[0] < o[2] && o[0] < bx[2] && bx[1] < o[3] && o[1] < bx[3])
        {
            continue;
        }
        placed.push(bx);
        b.text(
            label,
            lx,
            ly,
            st.tick_px * 0.9,
            (HAlign::Left, VAlign::Top, Rotation::None),
        );
    }
    let _ = p;
}

/// The order `mark_top` picks points in: larger magnitude first, then the
/// lower index (a total order, so values streamed past once pick the same).
pub fn top_order(a: &(f32, usize), b: &(f32, usize)) -> std::cmp::Ordering {
    b.0.abs().total_cmp(&a.0.abs()).then(a.1.cmp(&b.1))
}

/// Lay out `fig`: pick ticks, measure text, place panels, colorbars and titles.
pub fn layout_figure(fig: &Figure, font: &Font) -> Result<FigureLayout> {
    if fig.width == 0 || fig.height == 0 {
        return Err(Error::Invalid(format!(
            "figure size {}x{} is empty",
            fig.width, fig.height
        )));
    }
    let (rows, cols) = fig.grid;
    if rows == 0 || cols == 0 || rows * cols < fig.panels.len() {
        return Err(Error::Invalid(format!(
            "a {rows}x{cols} panel grid cannot hold {} panels",
            fig.panels.len()
        )));
    }
    if fig.panels.is_empty() {
        return Err(Error::Invalid("the figure has no panels".into()));
    }
    let prepared = prepare_panels(fig)?;
    let s = fig.effective_scale();
    if !(s.is_finite() && s > 0.0) {
        return Err(Error::Invalid(format!("--scale must be positive, got {s}")));
    }
    let mut b = Builder {
        font,
        st: Style::new(s),
        scene: Scene {
            width: fig.width,
            height: fig.height,
            background: fig.background,
            ..Default::default()
        },
        grids: Vec::new(),
    };
    let st = b.st;
    let (fw, fh) = (fig.width as f32, fig.height as f32);
    let mut infos = Vec::with_capacity(prepared.len());

    if fig.bare {
        for (i, p) in prepared.iter().enumerate() {
            let (r, c) = (i / cols, i % cols);
            let x0 = (c as f32 * fw / cols as f32).round();
            let x1 = ((c + 1) as f32 * fw / cols as f32).round();
            let y0 = (r as f32 * fh / rows as f32).round();
            let y1 = ((r + 1) as f32 * fh / rows as f32).round();
            let rect = PixelRect {
                x: x0 as u32,
                y: y0 as u32,
                width: (x1 - x0).max(1.0) as u32,
                height: (y1 - y0).max(1.0) as u32,
            };
            match &p.panel.content {
                PanelContent::Heatmap(h) => heatmap_content(&mut b, rect, p, h)?,
                PanelContent::Lines(l) => line_content(&mut b, rect, p, l),
            }
            infos.push(PanelInfo {
                plot: rect,
                x_ticks: Vec::new(),
                y_ticks: Vec::new(),
                colorbar: None,
                norm: p.norm,
                stats: p.stats,
                x_window: (p.x.start, p.x.end),
                y_window: (p.y.start, p.y.end),
            });
        }
        return Ok(FigureLayout {
            scene: b.scene,
            grids: b.grids,
            panels: infos,
        });
    }

    let mut top = 0.0;
    if let Some(title) = &fig.title {
        b.text(
            title.clone(),
            fw / 2.0,
            st.pad * 1.5,
            st.suptitle_px,
            (HAlign::Center, VAlign::Top, Rotation::None),
        );
        top = st.pad * 1.5 + b.line_h(st.suptitle_px);
    }
    let shared = fig.colorbar == ColorbarMode::Shared;
    let shared_norm = if shared {
        prepared.iter().find_map(|p| p.norm)
    } else {
        None
    };
    let shared_nan = shared && prepared.iter().any(|p| p.norm.is_some() && p.stats.nan > 0);
    let shared_label = prepared.iter().find_map(|p| p.panel.colorbar_label.as_deref());
    let mut right_col = 0.0;
    if let Some(norm) = &shared_norm {
        let est = b.colorbar_ticks(norm, (fh - top) * 0.8);
        right_col = st.cbar_gap
            + cbar_column_width(&b, shared_label.is_some(), b.max_width(&est), shared_nan)
            + st.pad;
    }
    let area = Area {
        x: 0.0,
        y: top,
        w: fw - right_col,
        h: fh - top,
    };
    for (i, p) in prepared.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let cell = Area {
            x: area.x + c as f32 * area.w / cols as f32,
            y: area.y + r as f32 * area.h / rows as f32,
            w: area.w / cols as f32,
            h: area.h / rows as f32,
        };
        let own = fig.colorbar == ColorbarMode::PerPanel && p.norm.is_some();
        infos.push(layout_panel(&mut b, cell, p, own)?);
    }
    if let Some(norm) = &shared_norm {
        let heat: Vec<&PanelInfo> = infos.iter().filter(|i| i.norm.is_some()).collect();
        let y0 = heat.iter().map(|i| i.plot.y).min().unwrap_or(0) as f32;
        let y1 = heat.iter().map(|i| i.plot.bottom()).max().unwrap_or(0) as f32;
        let x = fw - right_col + st.cbar_gap;
        let ex = cbar_extras(&st, norm, shared_nan);
        let bar = Area {
            x,
            y: y0 + ex.top,
            w: st.cbar_w,
            h: (y1 - y0 - ex.top - ex.bottom).max(8.0),
        };
        let shared_ticks = b.colorbar_ticks(norm, bar.h.round());
        let (cmap, nan) = prepared
            .iter()
            .find_map(|p| match &p.panel.content {
                PanelContent::Heatmap(h) => Some((h.colormap, shared_nan.then_some(h.special_colors[0]))),
                _ => None,
            })
            .unwrap_or((Colormap::default(), None));
        let cb = Colorbar {
            norm,
            cmap,
            nan,
            label: shared_label,
        };
        let r = draw_colorbar(&mut b, bar, &cb, &shared_ticks);
        for info in infos.iter_mut().filter(|i| i.norm.is_some()) {
            info.colorbar = Some((r, shared_ticks.clone()));
        }
    }
    Ok(FigureLayout {
        scene: b.scene,
        grids: b.grids,
        panels: infos,
    })
}

/// Every pair of text boxes that overlap, and every box that leaves the
/// image: empty when the layout is clean. Used by tests at many sizes.
pub fn text_problems(scene: &Scene, font: &Font) -> Vec<String> {
    let mut problems = Vec::new();
    let boxes: Vec<_> = scene.texts.iter().map(|t| (t, font.bounds(t))).collect();
    for (t, r) in &boxes {
        if r.x < -0.5
            || r.y < -0.5
            || r.x + r.w > scene.width as f32 + 0.5
            || r.y + r.h > scene.height as f32 + 0.5
        {
            problems.push(format!(
                "'{}' at {:?} leaves the {}x{} image",
                t.text, r, scene.width, scene.height
            ));
        }
    }
    for i in 0..boxes.len() {
        for j in i + 1..boxes.len() {
            let (a, b) = (&boxes[i].1, &boxes[j].1);
            let overlap_x = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
            let overlap_y = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
            if overlap_x > 0.5 && overlap_y > 0.5 {
                problems.push(format!("'{}' overlaps '{}'", boxes[i].0.text, boxes[j].0.text));
            }
        }
    }
    problems
}
