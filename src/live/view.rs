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

use super::store::{ChannelSnapshot, StoreSnapshot};

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
}

impl PanelSource {
    /// The input-row range stored row `r` stands for.
    pub fn input_rows(&self, r: usize) -> (u64, u64) {
        let b = self.rows_per_stored_row;
        (r as u64 * b, r as u64 * b + b - 1)
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

/// The live view state: options, per-channel windows, running ranges and
/// pyramids.
#[derive(Debug, Default)]
pub struct LiveView {
    /// The user's choices.
    pub opts: ViewOptions,
    windows: HashMap<String, Window>,
    running: HashMap<String, (f32, f32)>,
    pyramids: HashMap<String, (u64, Arc<Pyramid>)>,
    ranged: HashMap<String, u64>,
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
        let channels: Vec<&ChannelSnapshot> = snap.channels.iter().filter(|c| c.grid.is_some()).collect();
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
        let grid = ch
            .grid
            .clone()
            .ok_or_else(|| Error::Invalid("channel has no rows".into()))?;
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
                self.pyramid(ch, &grid, plot_h, norm_centre)?.level(level).clone()
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
        if self.opts.autoscale == Autoscale::Running && self.ranged.get(&ch.name) != Some(&ch.version) {
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
        let mut title = if ch.name.is_empty() {
            format!("{} rows", ch.total_rows)
        } else {
            format!("{} · {} rows", ch.name, ch.total_rows)
        };
        if bin > 1 {
            title.push_str(&format!(" · {bin} per stored row"));
        }
        panel.title = Some(title);
        panel.x = Axis::labelled("column");
        panel.y = Axis::labelled(if bin > 1 {
            "input row (stored rows merged)"
        } else {
            "row"
        });
        // Cells off their index positions (cropped, merged or binned rows)
        // are placed by their coordinates: ticks show true row and column.
        if !whole || bin > 1 {
            let per = 1usize << level;
            let coords: Vec<f64> = (0..cells.rows())
                .map(|i| {
                    let s0 = (first_drawn + i) * per;
                    let s1 = ((first_drawn + i + 1) * per).min(rows);
                    // Centre of input rows [s0 * bin, s1 * bin).
                    (s0 as f64 + s1 as f64) * 0.5 * bin as f64 - 0.5
                })
                .collect();
            panel.y.coords = Some(coords);
            panel.y.mode = CoordMode::True;
            if c0 > 0 || c1 < cols {
                panel.x.coords = Some((c0..c1).map(|c| c as f64).collect());
                panel.x.mode = CoordMode::True;
            }
        }
        let source = PanelSource {
            channel: ch.name.clone(),
            grid,
            rows_per_stored_row: bin,
            total_rows: ch.total_rows,
            epoch: ch.epoch,
            stored_per_drawn: 1 << level,
            whole,
        };
        Ok((panel, source))
    }

    fn pyramid(
        &mut self,
        ch: &ChannelSnapshot,
        grid: &Arc<Grid>,
        plot_h: usize,
        centre: f32,
    ) -> Result<Arc<Pyramid>> {
        if let Some((v, p)) = self.pyramids.get(&ch.name)
            && *v == ch.version
        {
            return Ok(p.clone());
        }
        let p = Arc::new(Pyramid::build(grid.clone(), plot_h, self.opts.aggregate, centre)?);
        self.pyramids.insert(ch.name.clone(), (ch.version, p.clone()));
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
        let (sr, sc) = (to_stored(dy, src.rows_per_stored_row), dx);
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

/// The read-out for pixel `(x, y)`: channel, input row(s), column, value.
pub fn hover_text(layout: &FigureLayout, sources: &[PanelSource], x: f64, y: f64) -> Option<String> {
    let (i, (dx, dy)) = hit(layout, x, y)?;
    let src = sources.get(i)?;
    let col = dx.round();
    let stored = to_stored(dy, src.rows_per_stored_row).round();
    if col < 0.0 || stored < 0.0 {
        return None;
    }
    let (r, c) = (stored as usize, col as usize);
    let v = src.grid.get(r, c)?;
    let (a, b) = src.input_rows(r);
    let rows = if a == b {
        format!("row {a}")
    } else {
        format!("rows {a}–{b}")
    };
    let name = if src.channel.is_empty() {
        String::new()
    } else {
        format!("{} · ", src.channel)
    };
    Some(format!("{name}{rows} · column {c} · value {v}"))
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
                version: 1,
                epoch: 0,
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

    #[test]
    fn windows_stay_inside_the_grid() {
        assert_eq!(clamp_window(-10.0, 200.0, 100.0), None);
        assert_eq!(clamp_window(-10.0, 10.0, 100.0), Some((-0.5, 19.5)));
        assert_eq!(clamp_window(5.0, 5.1, 100.0), Some((5.0, 6.0)));
        assert_eq!(Autoscale::parse("robust:98").unwrap(), Autoscale::Robust(98.0));
        assert!(Autoscale::parse("sometimes").is_err());
    }
}
