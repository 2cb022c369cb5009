//! What the live window shows, as pure data: a [`LiveView`] turns a
//! [`StoreSnapshot`] plus the user's zoom, colormap, norm and autoscale
//! choices into an ordinary [`Figure`] (one heatmap panel per channel), the
//! same figure the headless renderer draws. The window only adds overlays.
//!
//! Zooming out on many rows stays cheap: a [`Pyramid`] keeps each channel's
//! rows merged pairwise level by level (with the aggregation mode, so
//! spikes survive), and a view reads the coarsest level that still has two
//! rows per pixel row, copying only the visible cells.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::input::Grid;
use crate::layout::{Axis, CoordMode, Figure, FigureLayout, HeatmapLayer, Panel};
use crate::scale::aggregate::combine;
use crate::scale::{Aggregate, Colormap, NormKind, NormSpec, Stats};

use super::store::{AxisLabels, ChannelSnapshot, StoreSnapshot};

/// How the colour range follows the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Autoscale {
    /// `vmin..vmax` as given.
    Fixed,
    /// The smallest and largest finite values seen so far (grows only).
    Running,
    /// The `(100 - p)`-th to `p`-th percentile of the visible window.
    Robust(f32),
}

impl Autoscale {
    /// Parse `fixed`, `running`, `robust` or `robust:P`.
    pub fn parse(s: &str) -> Result<Autoscale> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fixed" => Ok(Autoscale::Fixed),
            "running" => Ok(Autoscale::Running),
            "robust" => Ok(Autoscale::Robust(99.0)),
            other => match other.strip_prefix("robust:").map(str::parse::<f32>) {
                Some(Ok(p)) if (50.0..=100.0).contains(&p) => Ok(Autoscale::Robust(p)),
                _ => Err(Error::Invalid(format!(
                    "unknown autoscale '{s}'; use fixed, running, robust or robust:P (P in 50..100)"
                ))),
            },
        }
    }

    /// Short name for the status line.
    pub fn name(&self) -> String {
        match self {
            Autoscale::Fixed => "fixed".into(),
            Autoscale::Running => "running min/max".into(),
            Autoscale::Robust(p) => format!("robust {p}%"),
        }
    }
}

/// What the user chose (command-line flags, then keys).
#[derive(Clone, Debug)]
pub struct ViewOptions {
    /// Figure title (the source, by default).
    pub title: Option<String>,
    /// Colormap.
    pub colormap: Colormap,
    /// Norm kind.
    pub norm: NormKind,
    /// Fixed limits (both needed for [`Autoscale::Fixed`]).
    pub vmin: Option<f32>,
    /// Fixed upper limit.
    pub vmax: Option<f32>,
    /// How the range follows the data.
    pub autoscale: Autoscale,
    /// Aggregation when cells outnumber pixels.
    pub aggregate: Aggregate,
    /// One colour scale (one colorbar) for every panel: the union of their
    /// ranges, so several runs compare at a glance.
    pub shared_scale: bool,
    /// Channels not drawn (the page's picker); they keep receiving rows.
    pub hidden: Vec<String>,
    /// Draw the differences of two runs (`b − a/...` channels) instead of
    /// the runs.
    pub diff: bool,
}

impl Default for ViewOptions {
    fn default() -> Self {
        ViewOptions {
            title: None,
            colormap: Colormap::default(),
            norm: NormKind::Linear,
            vmin: None,
            vmax: None,
            autoscale: Autoscale::Running,
            aggregate: Aggregate::Extreme,
            shared_scale: false,
            hidden: Vec::new(),
            diff: false,
        }
    }
}

/// The visible part of a channel, in stored-row and column index
/// coordinates (cell `i` spans `i - 0.5 .. i + 0.5`); `None` = everything.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// Rows shown, `(top, bottom)`.
    pub rows: Option<(f64, f64)>,
    /// Columns shown, `(left, right)`.
    pub cols: Option<(f64, f64)>,
}

/// Where a drawn panel's cells come from, for hover read-outs.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelSource {
    /// Channel name.
    pub channel: String,
    /// The channel's stored rows (level 0).
    pub grid: Arc<Grid>,
    /// Input rows per stored row.
    pub rows_per_stored_row: u64,
    /// Input rows received.
    pub total_rows: u64,
    /// The channel's epoch (see [`ChannelSnapshot::epoch`]).
    pub epoch: u64,
    /// Stored rows per drawn row (2^level).
    pub stored_per_drawn: usize,
    /// Whether the panel draws the channel's grid itself (no crop, level 0),
    /// so a persistent texture with incremental uploads can stand in.
    pub whole: bool,
    /// The smallest and largest training step of each stored row.
    pub steps: Arc<Vec<(i64, i64)>>,
    /// Whether the rows came with training steps (else steps are input
    /// row numbers).
    pub stepped: bool,
    /// The y coordinate of each stored row when rows sit at their steps
    /// (steps increasing); `None`: rows sit at their input row numbers.
    pub centres: Option<Arc<Vec<f64>>>,
    /// Whether the drawn rows are evenly spaced on the y axis (a plain
    /// row-to-pixel mapping draws the same picture).
    pub even: bool,
    /// A 2-D channel: the step of the record drawn.
    pub record_step: Option<i64>,
    /// Text labels of the channel's columns and rows (tokens), for the hover.
    pub labels: AxisLabels,
}

impl PanelSource {
    /// The input-row range stored row `r` stands for.
    pub fn input_rows(&self, r: usize) -> (u64, u64) {
        let b = self.rows_per_stored_row;
        (r as u64 * b, r as u64 * b + b - 1)
    }

    /// The stored row (fractional) at data coordinate `y` of the y axis.
    pub fn stored_at(&self, y: f64) -> f64 {
        let Some(c) = self.centres.as_deref().filter(|c| c.len() > 1) else {
            return match &self.centres {
                Some(_) => y - self.centres.as_ref().map_or(0.0, |c| c[0]),
                None => to_stored(y, self.rows_per_stored_row),
            };
        };
        let n = c.len();
        let i = c.partition_point(|&v| v <= y).clamp(1, n - 1);
        (i - 1) as f64 + (y - c[i - 1]) / (c[i] - c[i - 1])
    }

    /// The y coordinate of stored row `r` (fractional, inverse of
    /// [`stored_at`](Self::stored_at)).
    pub fn y_of(&self, r: f64) -> f64 {
        match self.centres.as_deref() {
            Some(c) if c.len() > 1 => {
                let n = c.len();
                let i = (r.floor().max(0.0) as usize).min(n - 2);
                c[i] + (r - i as f64) * (c[i + 1] - c[i])
            }
            Some(c) => c[0] + r,
            None => (r + 0.5) * self.rows_per_stored_row as f64 - 0.5,
        }
    }
}

/// Pairwise-merged levels of one channel's stored rows: level `k` row `i`
/// combines stored rows `i * 2^k .. (i + 1) * 2^k`.
#[derive(Clone, Debug)]
pub struct Pyramid {
    levels: Vec<Arc<Grid>>,
}

impl Pyramid {
    /// Levels of `grid` down to at most `min_rows` rows, merged with `mode`
    /// around `centre`.
    pub fn build(grid: Arc<Grid>, min_rows: usize, mode: Aggregate, centre: f32) -> Result<Pyramid> {
        let mut levels = vec![grid];
        loop {
            let last = levels[levels.len() - 1].clone();
            if last.rows() <= min_rows.max(1) {
                break;
            }
            let (rows, cols) = (last.rows().div_ceil(2), last.cols());
            let mut data = Vec::with_capacity(rows * cols);
            for r in 0..rows {
                let a = last.row(2 * r);
                match last.rows() > 2 * r + 1 {
                    true => {
                        let b = last.row(2 * r + 1);
                        data.extend(a.iter().zip(b).map(|(&x, &y)| merge(mode, x, y, centre)));
                    }
                    false => data.extend_from_slice(a),
                }
            }
            levels.push(Arc::new(Grid::new(rows, cols, data)?));
        }
        Ok(Pyramid { levels })
    }

    /// Level `k` (clamped to the coarsest).
    pub fn level(&self, k: usize) -> &Arc<Grid> {
        &self.levels[k.min(self.levels.len() - 1)]
    }

    /// Number of levels (1 = only the stored rows).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Always false: level 0 exists.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Two cells merged: NaN wins (as in the shader), mean averages.
fn merge(mode: Aggregate, a: f32, b: f32, centre: f32) -> f32 {
    match mode {
        Aggregate::Mean if a.is_nan() || b.is_nan() => f32::NAN,
        Aggregate::Mean => (a + b) * 0.5,
        Aggregate::Nearest => a,
        m => combine([a, b], m, centre),
    }
}

/// What a cached pyramid was built from: the channel version and, for a
/// 2-D channel, the record's step.
type PyramidKey = (u64, Option<i64>);

/// The live view state: options, per-channel windows, running ranges and
/// pyramids.
#[derive(Debug, Default)]
pub struct LiveView {
    /// The user's choices.
    pub opts: ViewOptions,
    windows: HashMap<String, Window>,
    running: HashMap<String, (f32, f32)>,
    pyramids: HashMap<String, (PyramidKey, Arc<Pyramid>)>,
    ranged: HashMap<String, u64>,
    /// 2-D channels: the step picked (absent: the latest).
    picked: HashMap<String, i64>,
}

impl LiveView {
    /// A view with `opts` and nothing zoomed.
    pub fn new(opts: ViewOptions) -> Self {
        LiveView {
            opts,
            ..Default::default()
        }
    }

    /// The window of `channel`.
    pub fn window(&self, channel: &str) -> Window {
        self.windows.get(channel).copied().unwrap_or_default()
    }

    /// Set the window of `channel`.
    pub fn set_window(&mut self, channel: &str, w: Window) {
        self.windows.insert(channel.to_string(), w);
    }

    /// Show everything again.
    pub fn reset(&mut self) {
        self.windows.clear();
    }

    /// Forget the running colour ranges (after a norm or autoscale change).
    pub fn reset_ranges(&mut self) {
        self.running.clear();
        self.ranged.clear();
    }

    /// Show the record of `step` of the 2-D channel `channel` (`None`: always
    /// the latest). A step no longer kept falls back to the latest.
    pub fn pick_step(&mut self, channel: &str, step: Option<i64>) {
        match step {
            Some(s) => self.picked.insert(channel.to_string(), s),
            None => self.picked.remove(channel),
        };
    }

    /// The step picked for a 2-D channel (`None`: following the latest).
    pub fn picked_step(&self, channel: &str) -> Option<i64> {
        self.picked.get(channel).copied()
    }

    /// Step through the records of 2-D channels: `delta` records later
    /// (negative: earlier) than the one shown, for `channel` or every 2-D
    /// channel of `snap`. Going past the latest follows the latest again.
    pub fn step_records(&mut self, snap: &StoreSnapshot, channel: Option<&str>, delta: i64) {
        for ch in snap
            .channels
            .iter()
            .filter(|c| c.is_2d() && !c.records.is_empty())
        {
            if channel.is_some_and(|n| n != ch.name) {
                continue;
            }
            let steps = ch.record_steps();
            let last = steps.len() - 1;
            let at = self
                .picked
                .get(&ch.name)
                .and_then(|p| steps.iter().position(|s| s == p))
                .unwrap_or(last);
            let to = (at as i64 + delta).clamp(0, last as i64) as usize;
            let follow = to == last && delta > 0;
            self.pick_step(&ch.name, (!follow).then(|| steps[to]));
        }
    }

    /// Panel grid for `n` channels: one column up to three, then near-square.
    pub fn panel_grid(n: usize) -> (usize, usize) {
        if n <= 3 {
            return (n.max(1), 1);
        }
        let cols = (n as f64).sqrt().ceil() as usize;
        (n.div_ceil(cols), cols)
    }

    /// The figure for `snap` at `width x height`, and where each panel's
    /// cells come from (`None` when no channel has rows yet).
    pub fn figure(
        &mut self,
        snap: &StoreSnapshot,
        width: u32,
        height: u32,
    ) -> Result<Option<(Figure, Vec<PanelSource>)>> {
        let channels: Vec<&ChannelSnapshot> = snap
            .channels
            .iter()
            .filter(|c| c.grid.is_some() || !c.records.is_empty())
            .filter(|c| !self.opts.hidden.contains(&c.name))
            .filter(|c| crate::live::follow::is_diff_channel(&c.name) == self.opts.diff)
            .collect();
        if channels.is_empty() {
            return Ok(None);
        }
        let (grid_rows, grid_cols) = Self::panel_grid(channels.len());
        // About the plot's height.
        let plot_h = (height as usize / grid_rows).max(16);
        let mut panels = Vec::with_capacity(channels.len());
        let mut sources = Vec::with_capacity(channels.len());
        for ch in channels {
            let (panel, source) = self.panel(ch, plot_h)?;
            panels.push(panel);
            sources.push(source);
        }
        let fig = Figure {
            title: self.opts.title.clone(),
            grid: (grid_rows, grid_cols),
            colorbar: if self.opts.shared_scale {
                crate::layout::ColorbarMode::Shared
            } else {
                crate::layout::ColorbarMode::PerPanel
            },
            panels,
            ..Figure::single(
                Panel::heatmap(HeatmapLayer::new(Grid::new(1, 1, vec![0.0])?)),
                width,
                height,
            )
        };
        Ok(Some((fig, sources)))
    }

    fn panel(&mut self, ch: &ChannelSnapshot, plot_h: usize) -> Result<(Panel, PanelSource)> {
        // A 2-D channel draws one record: the step picked, or the latest.
        let record = if ch.records.is_empty() {
            None
        } else {
            let pick = self.picked.get(&ch.name).copied();
            let i = pick
                .and_then(|p| ch.records.iter().position(|(s, _)| *s == p))
                .unwrap_or(ch.records.len() - 1);
            Some((i, ch.records[i].0, ch.records[i].1.clone()))
        };
        let grid = match &record {
            Some((_, _, g)) => g.clone(),
            None => ch
                .grid
                .clone()
                .ok_or_else(|| Error::Invalid("channel has no rows".into()))?,
        };
        let (rows, cols) = (grid.rows(), grid.cols());
        let w = self.window(&ch.name);
        let span = |range: Option<(f64, f64)>, n: usize| -> (usize, usize) {
            let (a, b) = range.unwrap_or((-0.5, n as f64 - 0.5));
            let lo = ((a + 0.5).floor().max(0.0) as usize).min(n - 1);
            let hi = ((b + 0.5).ceil().max(lo as f64 + 1.0) as usize)
                .min(n)
                .max(lo + 1);
            (lo, hi)
        };
        let (r0, r1) = span(w.rows, rows);
        let (c0, c1) = span(w.cols, cols);
        // Up to 8 rows per pixel row the shader aggregates them as it draws
        // (a live history of 2048 rows stays one texture, updated by row);
        // beyond that a merged level keeps drawing cheap.
        let mut level = 0;
        while (r1 - r0) >> level > 8 * plot_h {
            level += 1;
        }
        let bin = ch.rows_per_stored_row.max(1);
        let norm_centre = match self.opts.norm {
            NormKind::Centered { vcenter } => vcenter,
            _ => 0.0,
        };
        let whole = level == 0 && (r0, r1, c0, c1) == (0, rows, 0, cols);
        let (cells, first_drawn) = if whole {
            (grid.clone(), 0)
        } else {
            let src = if level == 0 {
                grid.clone()
            } else {
                let key = (ch.version, record.as_ref().map(|r| r.1));
                self.pyramid(&ch.name, key, &grid, plot_h, norm_centre)?
                    .level(level)
                    .clone()
            };
            let (i0, i1) = (r0 >> level, r1.div_ceil(1 << level).min(src.rows()));
            let mut data = Vec::with_capacity((i1 - i0) * (c1 - c0));
            for i in i0..i1 {
                data.extend_from_slice(&src.row(i)[c0..c1]);
            }
            (Arc::new(Grid::new(i1 - i0, c1 - c0, data)?), i0)
        };
        // Running range: every stored value seen (the stored rows keep each
        // input row's extremes when the mode is extreme, max or min).
        if self.opts.autoscale == Autoscale::Running
            && (record.is_some() || self.ranged.get(&ch.name) != Some(&ch.version))
        {
            let s = Stats::of(grid.data());
            if s.finite > 0 {
                let e = self.running.entry(ch.name.clone()).or_insert((s.min, s.max));
                *e = (e.0.min(s.min), e.1.max(s.max));
            }
            self.ranged.insert(ch.name.clone(), ch.version);
        }
        let mut h = HeatmapLayer::new(cells.clone());
        h.colormap = self.opts.colormap;
        h.aggregate = self.opts.aggregate;
        h.norm = NormSpec {
            kind: self.opts.norm,
            ..NormSpec::default()
        };
        match self.opts.autoscale {
            Autoscale::Fixed => {
                h.norm.vmin = self.opts.vmin;
                h.norm.vmax = self.opts.vmax;
            }
            Autoscale::Running => {
                let r = self.running.get(&ch.name).copied();
                h.norm.vmin = self.opts.vmin.or(r.map(|r| r.0));
                h.norm.vmax = self.opts.vmax.or(r.map(|r| r.1));
            }
            Autoscale::Robust(p) => h.norm.robust = Some(p),
        }
        let mut panel = Panel::heatmap(h);
        panel.x = Axis::labelled("column");
        let off = ch.labels.x_offset as f64;
        if c0 > 0 || c1 < cols || off > 0.0 {
            panel.x.coords = Some((c0..c1).map(|c| c as f64 + off).collect());
            panel.x.mode = CoordMode::True;
        } else if let Some(x) = ch.labels.x.as_ref().filter(|x| x.len() == cols) {
            // Token labels on the axis while all columns show (a zoomed
            // view keeps column numbers; the hover names the token).
            panel.x.categories = Some(x.to_vec());
        }
        let per = 1usize << level;
        if let Some((i, step, _)) = &record {
            let name = if ch.name.is_empty() {
                String::new()
            } else {
                format!("{} · ", ch.name)
            };
            panel.title = Some(format!(
                "{name}step {step} · {} of {} kept{}",
                i + 1,
                ch.records.len(),
                if self.picked.contains_key(&ch.name) {
                    ""
                } else {
                    " (latest)"
                }
            ));
            panel.y = Axis::labelled("row");
            if let Some(y) = ch.labels.y.as_ref().filter(|y| whole && y.len() == cells.rows()) {
                panel.y.categories = Some(y.to_vec());
            }
            if !whole {
                panel.y.coords = Some(
                    (0..cells.rows())
                        .map(|k| ((first_drawn + k) * per) as f64 + (per as f64 - 1.0) / 2.0)
                        .collect(),
                );
                panel.y.mode = CoordMode::True;
            }
            let source = PanelSource {
                channel: ch.name.clone(),
                grid,
                rows_per_stored_row: 1,
                total_rows: ch.total_rows,
                epoch: ch.epoch,
                stored_per_drawn: per,
                // Records change under the same version: upload each frame.
                whole: false,
                steps: Arc::new(Vec::new()),
                stepped: true,
                centres: None,
                even: true,
                record_step: Some(*step),
                labels: ch.labels.clone(),
            };
            return Ok((panel, source));
        }
        let mut title = if ch.name.is_empty() {
            format!("{} rows", ch.total_rows)
        } else {
            format!("{} · {} rows", ch.name, ch.total_rows)
        };
        if bin > 1 {
            title.push_str(&format!(" · {bin} per stored row"));
        }
        panel.title = Some(title);
        let steps = &ch.steps;
        // Rows sit at their steps when steps increase (always, for rows
        // counted without steps); a resumed run shows rows in arrival order.
        let by_step = steps.len() == rows && steps.windows(2).all(|w| w[1].0 > w[0].1);
        let identity = bin == 1
            && steps
                .iter()
                .enumerate()
                .all(|(i, &(a, b))| a == i as i64 && b == i as i64);
        let centre_of = |s0: usize, s1: usize| (steps[s0].0 as f64 + steps[s1 - 1].1 as f64) * 0.5;
        panel.y = Axis::labelled(if by_step && ch.stepped {
            "step"
        } else if bin > 1 {
            "input row (stored rows merged)"
        } else {
            "row"
        });
        let mut even = true;
        let centres = if by_step && !identity {
            let c: Vec<f64> = (0..rows).map(|i| centre_of(i, i + 1)).collect();
            Some(Arc::new(c))
        } else {
            None
        };
        // Cells off their index positions (cropped, merged or binned rows,
        // rows at their steps) are placed by their coordinates: ticks show
        // true steps or rows, and columns.
        if !whole || !identity {
            let coords: Vec<f64> = (0..cells.rows())
                .map(|i| {
                    let s0 = (first_drawn + i) * per;
                    let s1 = ((first_drawn + i + 1) * per).min(rows);
                    if by_step {
                        centre_of(s0, s1)
                    } else {
                        // Centre of input rows [s0 * bin, s1 * bin).
                        (s0 as f64 + s1 as f64) * 0.5 * bin as f64 - 0.5
                    }
                })
                .collect();
            if let (Some(a), Some(b)) = (coords.first(), coords.last())
                && coords.len() > 2
            {
                let d = (b - a) / (coords.len() - 1) as f64;
                even = coords
                    .windows(2)
                    .all(|w| ((w[1] - w[0]) - d).abs() <= 1e-6 * d.abs().max(1.0));
            }
            panel.y.coords = Some(coords);
            panel.y.mode = CoordMode::True;
        }
        let source = PanelSource {
            channel: ch.name.clone(),
            grid,
            rows_per_stored_row: bin,
            total_rows: ch.total_rows,
            epoch: ch.epoch,
            stored_per_drawn: per,
            whole,
            steps: ch.steps.clone(),
            stepped: ch.stepped,
            centres,
            even,
            record_step: None,
            labels: ch.labels.clone(),
        };
        Ok((panel, source))
    }

    fn pyramid(
        &mut self,
        name: &str,
        key: PyramidKey,
        grid: &Arc<Grid>,
        plot_h: usize,
        centre: f32,
    ) -> Result<Arc<Pyramid>> {
        if let Some((v, p)) = self.pyramids.get(name)
            && *v == key
        {
            return Ok(p.clone());
        }
        let p = Arc::new(Pyramid::build(grid.clone(), plot_h, self.opts.aggregate, centre)?);
        self.pyramids.insert(name.to_string(), (key, p.clone()));
        Ok(p)
    }

    /// Zoom the channel under pixel `at` by `factor` (< 1 zooms in) around
    /// the data point there; `axes` = (rows, columns) picks the axes.
    pub fn zoom_at(
        &mut self,
        layout: &FigureLayout,
        sources: &[PanelSource],
        at: (f64, f64),
        factor: f64,
        axes: (bool, bool),
    ) {
        let (rows, cols) = axes;
        let Some((src, (dx, dy))) = hit(layout, at.0, at.1).and_then(|(i, d)| Some((sources.get(i)?, d)))
        else {
            return;
        };
        let mut w = self.window(&src.channel);
        let (nr, nc) = (src.grid.rows() as f64, src.grid.cols() as f64);
        // Data under the cursor, in stored-row and column index units.
        let (sr, sc) = (src.stored_at(dy), dx - src.labels.x_offset as f64);
        let scale = |range: Option<(f64, f64)>, n: f64, at: f64| {
            let (a, b) = range.unwrap_or((-0.5, n - 0.5));
            let (na, nb) = (at - (at - a) * factor, at + (b - at) * factor);
            clamp_window(na, nb, n)
        };
        if rows {
            w.rows = scale(w.rows, nr, sr);
        }
        if cols {
            w.cols = scale(w.cols, nc, sc);
        }
        self.set_window(&src.channel, w);
    }

    /// Pan panel `i` (or every panel when `None`) by a fraction of its
    /// visible window.
    pub fn pan(&mut self, sources: &[PanelSource], panel: Option<usize>, frac_rows: f64, frac_cols: f64) {
        for (i, src) in sources.iter().enumerate() {
            if panel.is_some_and(|p| p != i) {
                continue;
            }
            let mut w = self.window(&src.channel);
            let (nr, nc) = (src.grid.rows() as f64, src.grid.cols() as f64);
            let shift = |range: Option<(f64, f64)>, n: f64, frac: f64| {
                let (a, b) = range.unwrap_or((-0.5, n - 0.5));
                let d = (b - a) * frac;
                let d = d.clamp(-0.5 - a, n - 0.5 - b);
                clamp_window(a + d, b + d, n)
            };
            if frac_rows != 0.0 {
                w.rows = shift(w.rows, nr, frac_rows);
            }
            if frac_cols != 0.0 {
                w.cols = shift(w.cols, nc, frac_cols);
            }
            self.set_window(&src.channel, w);
        }
    }

    /// Zoom every panel around its centre.
    pub fn zoom_centre(&mut self, sources: &[PanelSource], factor: f64) {
        for src in sources {
            let mut w = self.window(&src.channel);
            let (nr, nc) = (src.grid.rows() as f64, src.grid.cols() as f64);
            let scale = |range: Option<(f64, f64)>, n: f64| {
                let (a, b) = range.unwrap_or((-0.5, n - 0.5));
                let m = (a + b) * 0.5;
                clamp_window(m - (m - a) * factor, m + (b - m) * factor, n)
            };
            w.rows = scale(w.rows, nr);
            w.cols = scale(w.cols, nc);
            self.set_window(&src.channel, w);
        }
    }
}

/// Input-row coordinate `y` as a stored-row index coordinate.
fn to_stored(y: f64, bin: u64) -> f64 {
    (y + 0.5) / bin as f64 - 0.5
}

/// A window inside `[-0.5, n - 0.5]`, at least one cell wide; `None` when
/// it covers everything.
fn clamp_window(a: f64, b: f64, n: f64) -> Option<(f64, f64)> {
    let width = (b - a).clamp(1.0, n);
    let a = a.clamp(-0.5, n - 0.5 - width);
    let b = a + width;
    if a <= -0.5 + 1e-9 && b >= n - 0.5 - 1e-9 {
        None
    } else {
        Some((a, b))
    }
}

/// The panel under pixel `(x, y)` and the data coordinates there.
pub fn hit(layout: &FigureLayout, x: f64, y: f64) -> Option<(usize, (f64, f64))> {
    layout.panels.iter().enumerate().find_map(|(i, p)| {
        let r = p.plot;
        let inside = x >= r.x as f64 && x < r.right() as f64 && y >= r.y as f64 && y < r.bottom() as f64;
        inside.then(|| {
            let fx = (x - r.x as f64) / r.width as f64;
            let fy = (y - r.y as f64) / r.height as f64;
            let dx = p.x_window.0 + (p.x_window.1 - p.x_window.0) * fx;
            let dy = p.y_window.0 + (p.y_window.1 - p.y_window.0) * fy;
            (i, (dx, dy))
        })
    })
}

/// The read-out for pixel `(x, y)`: channel, step(s) or input row(s),
/// column, value.
pub fn hover_text(layout: &FigureLayout, sources: &[PanelSource], x: f64, y: f64) -> Option<String> {
    let (i, (dx, dy)) = hit(layout, x, y)?;
    let src = sources.get(i)?;
    let col = (dx - src.labels.x_offset as f64).round();
    let stored = src.stored_at(dy).round();
    if col < 0.0 || stored < 0.0 {
        return None;
    }
    let (r, c) = (stored as usize, col as usize);
    let v = src.grid.get(r, c)?;
    let name = if src.channel.is_empty() {
        String::new()
    } else {
        format!("{} · ", src.channel)
    };
    let label = |l: &Option<Arc<Vec<String>>>, i: usize| match l.as_ref().and_then(|l| l.get(i)) {
        Some(t) => format!(" {t:?}"),
        None => String::new(),
    };
    let (xl, yl) = (label(&src.labels.x, c), label(&src.labels.y, r));
    if let Some(step) = src.record_step {
        return Some(format!(
            "{name}step {step} · row {r}{yl} · column {}{xl} · value {v}",
            c as u64 + src.labels.x_offset
        ));
    }
    let (a, b) = src.input_rows(r);
    let rows = if a == b {
        format!("row {a}{}", label(&src.labels.y, a as usize))
    } else {
        format!("rows {a}–{b}")
    };
    let steps = match src.steps.get(r) {
        Some(&(s0, s1)) if src.stepped && s0 == s1 => format!("step {s0}"),
        Some(&(s0, s1)) if src.stepped => format!("steps {s0}–{s1} ({rows})"),
        _ => rows,
    };
    Some(format!(
        "{name}{steps} · column {}{xl} · value {v}",
        c as u64 + src.labels.x_offset
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(rows: usize, cols: usize) -> StoreSnapshot {
        let g = Grid::from_fn(rows, cols, |r, c| (r * cols + c) as f32).unwrap();
        StoreSnapshot {
            version: 1,
            channels: vec![ChannelSnapshot {
                name: "acts".into(),
                cols,
                total_rows: rows as u64,
                rows_per_stored_row: 1,
                grid: Some(Arc::new(g)),
                steps: Arc::new((0..rows as i64).map(|i| (i, i)).collect()),
                stepped: false,
                last_step: Some(rows as i64 - 1),
                record_shape: vec![cols],
                records: Vec::new(),
                version: 1,
                epoch: 0,
                labels: Default::default(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn whole_view_shares_the_grid_and_zoom_crops_with_true_coordinates() {
        let s = snap(100, 40);
        let mut v = LiveView::new(ViewOptions::default());
        let (fig, src) = v.figure(&s, 640, 480).unwrap().unwrap();
        assert!(src[0].whole);
        let crate::layout::PanelContent::Heatmap(h) = &fig.panels[0].content else {
            panic!("heatmap expected")
        };
        assert!(Arc::ptr_eq(
            h.grid.memory().unwrap(),
            s.channels[0].grid.as_ref().unwrap()
        ));
        v.set_window(
            "acts",
            Window {
                rows: Some((9.5, 19.5)),
                cols: Some((4.5, 9.5)),
            },
        );
        let (fig, src) = v.figure(&s, 640, 480).unwrap().unwrap();
        assert!(!src[0].whole);
        let crate::layout::PanelContent::Heatmap(h) = &fig.panels[0].content else {
            panic!("heatmap expected")
        };
        let g = h.grid.memory().unwrap();
        assert_eq!((g.rows(), g.cols()), (10, 5));
        assert_eq!(g.get(0, 0), Some((10 * 40 + 5) as f32));
        assert_eq!(fig.panels[0].y.coords.as_ref().unwrap()[0], 10.0);
        assert_eq!(fig.panels[0].x.coords.as_ref().unwrap()[0], 5.0);
    }

    #[test]
    fn many_rows_use_a_merged_level_that_keeps_spikes() {
        let mut s = snap(20000, 8);
        let mut data = s.channels[0].grid.as_ref().unwrap().data().to_vec();
        data.iter_mut().for_each(|v| *v = 0.0);
        data[13333 * 8 + 2] = 99.0;
        s.channels[0].grid = Some(Arc::new(Grid::new(20000, 8, data).unwrap()));
        let mut v = LiveView::new(ViewOptions::default());
        let (fig, src) = v.figure(&s, 640, 480).unwrap().unwrap();
        assert!(src[0].stored_per_drawn > 1);
        let crate::layout::PanelContent::Heatmap(h) = &fig.panels[0].content else {
            panic!("heatmap expected")
        };
        let g = h.grid.memory().unwrap();
        assert!(g.rows() <= 8 * 480);
        assert_eq!(g.data().iter().filter(|&&x| x == 99.0).count(), 1);
    }

    fn stepped_store(steps: &[i64]) -> crate::live::LiveStore {
        let s = crate::live::LiveStore::new(crate::live::StoreOptions::default()).unwrap();
        for (i, &st) in steps.iter().enumerate() {
            let row: Vec<f32> = (0..4).map(|c| (i * 10 + c) as f32).collect();
            s.push_records("acts", Some(&[st]), &[4], &row).unwrap();
        }
        s
    }

    /// The pixel at the centre of the cell at data coordinates `(x, y)`.
    fn pixel_at(layout: &FigureLayout, x: f64, y: f64) -> (f64, f64) {
        let p = &layout.panels[0];
        let r = p.plot;
        let fx = (x - p.x_window.0) / (p.x_window.1 - p.x_window.0);
        let fy = (y - p.y_window.0) / (p.y_window.1 - p.y_window.0);
        (
            r.x as f64 + fx * r.width as f64,
            r.y as f64 + fy * r.height as f64,
        )
    }

    #[test]
    fn rows_sit_at_their_steps_and_hover_names_the_step() {
        let steps = [0, 150, 300, 500, 1000, 2000];
        let store = stepped_store(&steps);
        let mut v = LiveView::new(ViewOptions::default());
        let (fig, src) = v.figure(&store.snapshot(), 640, 480).unwrap().unwrap();
        let p = &fig.panels[0];
        assert_eq!(p.y.label.as_deref(), Some("step"));
        assert_eq!(
            p.y.coords.as_deref(),
            Some(&[0.0, 150.0, 300.0, 500.0, 1000.0, 2000.0][..])
        );
        assert!(!src[0].even);
        assert_eq!(src[0].stored_at(1000.0), 4.0);
        assert_eq!(src[0].stored_at(1500.0), 4.5);
        assert_eq!(src[0].y_of(4.5), 1500.0);
        let layout = crate::layout::layout_figure(&fig, crate::text::Font::default_sans()).unwrap();
        let (px, py) = pixel_at(&layout, 2.0, 1000.0);
        assert_eq!(
            hover_text(&layout, &src, px, py).unwrap(),
            "acts · step 1000 · column 2 · value 42"
        );
        // Halfway between 1000 and 2000 is the edge of the two cells.
        let (px, py) = pixel_at(&layout, 1.0, 1600.0);
        assert!(hover_text(&layout, &src, px, py).unwrap().contains("step 2000"));
        // Zooming around step 1000 keeps it under the pointer.
        let (px, py) = pixel_at(&layout, 1.0, 1000.0);
        v.zoom_at(&layout, &src, (px, py), 0.5, (true, false));
        let w = v.window("acts").rows.unwrap();
        assert!(w.0 < 4.0 && w.1 > 4.0, "{w:?}");
    }

    #[test]
    fn a_resumed_run_is_shown_in_arrival_order_with_steps_in_the_hover() {
        let store = stepped_store(&[0, 10, 20, 30, 10, 20]);
        let mut v = LiveView::new(ViewOptions::default());
        let (fig, src) = v.figure(&store.snapshot(), 640, 480).unwrap().unwrap();
        assert_eq!(fig.panels[0].y.label.as_deref(), Some("row"));
        assert!(src[0].centres.is_none());
        let layout = crate::layout::layout_figure(&fig, crate::text::Font::default_sans()).unwrap();
        let (px, py) = pixel_at(&layout, 0.0, 4.0);
        assert_eq!(
            hover_text(&layout, &src, px, py).unwrap(),
            "acts · step 10 · column 0 · value 40"
        );
    }

    #[test]
    fn two_d_records_show_the_latest_or_the_picked_step() {
        let s = crate::live::LiveStore::new(crate::live::StoreOptions::default()).unwrap();
        for step in [100, 200, 300] {
            let m: Vec<f32> = (0..6).map(|i| (step + i) as f32).collect();
            s.push_records("attn", Some(&[step]), &[2, 3], &m).unwrap();
        }
        s.push_rows("loss", 1, &[0.5]).unwrap();
        let snap = s.snapshot();
        let mut v = LiveView::new(ViewOptions::default());
        let shown = |v: &mut LiveView| {
            let (fig, src) = v.figure(&snap, 640, 480).unwrap().unwrap();
            let crate::layout::PanelContent::Heatmap(h) = &fig.panels[0].content else {
                panic!("heatmap expected")
            };
            let g = h.grid.memory().unwrap().clone();
            (
                fig.panels[0].title.clone().unwrap(),
                g.get(0, 0).unwrap(),
                src[0].record_step,
            )
        };
        let (title, v00, step) = shown(&mut v);
        assert_eq!(
            (title.as_str(), v00, step),
            ("attn · step 300 · 3 of 3 kept (latest)", 300.0, Some(300))
        );
        v.step_records(&snap, None, -1);
        assert_eq!(v.picked_step("attn"), Some(200));
        let (title, v00, _) = shown(&mut v);
        assert_eq!((title.as_str(), v00), ("attn · step 200 · 2 of 3 kept", 200.0));
        v.step_records(&snap, Some("attn"), -5);
        assert_eq!(v.picked_step("attn"), Some(100));
        v.step_records(&snap, None, 9);
        assert_eq!(v.picked_step("attn"), None, "past the end follows the latest");
        v.pick_step("attn", Some(100));
        assert_eq!(shown(&mut v).1, 100.0);
        // A step no longer kept falls back to the latest.
        v.pick_step("attn", Some(5));
        assert_eq!(shown(&mut v).2, Some(300));
        let (fig, src) = v.figure(&snap, 640, 480).unwrap().unwrap();
        assert_eq!(fig.panels.len(), 2);
        let layout = crate::layout::layout_figure(&fig, crate::text::Font::default_sans()).unwrap();
        let (px, py) = pixel_at(&layout, 2.0, 1.0);
        assert_eq!(
            hover_text(&layout, &src, px, py).unwrap(),
            "attn · step 300 · row 1 · column 2 · value 305"
        );
    }

    #[test]
    fn windows_stay_inside_the_grid() {
        assert_eq!(clamp_window(-10.0, 200.0, 100.0), None);
        assert_eq!(clamp_window(-10.0, 10.0, 100.0), Some((-0.5, 19.5)));
        assert_eq!(clamp_window(5.0, 5.1, 100.0), Some((5.0, 6.0)));
        assert_eq!(Autoscale::parse("robust:98").unwrap(), Autoscale::Robust(98.0));
        assert!(Autoscale::parse("sometimes").is_err());
    }
}
