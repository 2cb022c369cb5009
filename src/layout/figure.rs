//! Figure description: what to draw, independent of pixels. A [`Figure`] is
//! a grid of [`Panel`]s; each panel is a heatmap or a line chart with two
//! [`Axis`] descriptions. [`crate::layout::layout_figure`] turns it into a
//! [`crate::layout::Scene`].

use std::path::PathBuf;
use std::sync::Arc;

use super::ticks::TickFormat;
use crate::input::Grid;
use crate::input::csv::CsvPlan;
use crate::scale::{Aggregate, Colormap, NormSpec, RowSummary, Stats, StatsAccumulator};

/// An sRGB colour with alpha.
pub type Rgba = [u8; 4];

/// How cell coordinates are used on a heatmap axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CoordMode {
    /// Cells at their true positions, edges halfway between coordinates
    /// (matplotlib's `pcolormesh(shading="nearest")`); numeric ticks.
    #[default]
    True,
    /// Cells evenly spaced, coordinates written as tick labels (seaborn's
    /// `heatmap(xticklabels=...)`).
    Index,
}

/// One axis of a panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axis {
    /// Axis label.
    pub label: Option<String>,
    /// Coordinates of the cells (heatmap) or points (line chart); `None`
    /// means 0, 1, 2, ...
    pub coords: Option<Vec<f64>>,
    /// How heatmap coordinates are used.
    pub mode: CoordMode,
    /// Text labels for the cells (categorical axis; wins over `coords`).
    pub categories: Option<Vec<String>>,
    /// Number formatting of tick labels.
    pub format: TickFormat,
    /// Data range to show (line charts: y limits); `None` = automatic.
    pub limits: Option<(f64, f64)>,
}

impl Axis {
    /// An axis with a label.
    pub fn labelled(label: impl Into<String>) -> Self {
        Axis {
            label: Some(label.into()),
            ..Default::default()
        }
    }
}

/// A colormapped grid.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapLayer {
    /// The data (rows drawn top to bottom unless `origin_lower`).
    pub grid: GridSource,
    /// Colormap.
    pub colormap: Colormap,
    /// Normalisation.
    pub norm: NormSpec,
    /// Aggregation when cells outnumber pixels.
    pub aggregate: Aggregate,
    /// NaN, +inf and -inf colours.
    pub special_colors: [Rgba; 3],
    /// Print each cell's value in it with this format (`.2f`, `.1e`, `d`,
    /// `.0%`), when the cells are large enough.
    pub annotate: Option<String>,
    /// Row 0 at the bottom (matplotlib `origin="lower"`).
    pub origin_lower: bool,
}

impl HeatmapLayer {
    /// A heatmap of `grid` with default styling (magma, linear auto range).
    pub fn new(grid: impl Into<Arc<Grid>>) -> Self {
        HeatmapLayer::with_source(GridSource::Memory(grid.into()))
    }

    /// A heatmap of `source` (in memory or streamed) with default styling.
    pub fn with_source(source: GridSource) -> Self {
        HeatmapLayer {
            grid: source,
            colormap: Colormap::default(),
            norm: NormSpec::default(),
            aggregate: Aggregate::default(),
            special_colors: [[255, 0, 255, 255], [255, 255, 255, 255], [0, 0, 0, 255]],
            annotate: None,
            origin_lower: false,
        }
    }
}

/// The cells a heatmap draws: in memory, or streamed from a file.
#[derive(Clone, Debug)]
pub enum GridSource {
    /// A grid held in memory.
    Memory(Arc<Grid>),
    /// A `.npy` file read block by block, never held whole.
    Streamed(Arc<StreamedGrid>),
}

impl GridSource {
    /// Rows of the grid.
    pub fn rows(&self) -> usize {
        match self {
            GridSource::Memory(g) => g.rows(),
            GridSource::Streamed(s) => s.rows,
        }
    }

    /// Columns of the grid.
    pub fn cols(&self) -> usize {
        match self {
            GridSource::Memory(g) => g.cols(),
            GridSource::Streamed(s) => s.cols,
        }
    }

    /// The grid, when it is in memory.
    pub fn memory(&self) -> Option<&Arc<Grid>> {
        match self {
            GridSource::Memory(g) => Some(g),
            GridSource::Streamed(_) => None,
        }
    }
}

impl PartialEq for GridSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (GridSource::Memory(a), GridSource::Memory(b)) => a == b,
            (GridSource::Streamed(a), GridSource::Streamed(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A heatmap's data streamed from a 1-D or 2-D `.npy` file or a CSV/TSV/text
/// table: only the shape is known until the renderer has passed over the
/// file once, gathering the statistics and the per-pixel-row aggregates of
/// a [`StreamSummary`]. Memory is bounded by the read block and the plot
/// size, never the file.
///
/// A streamed CSV's column names and row labels are not kept: its axes get
/// numeric ticks, where the same table in memory gets categorical ones.
#[derive(Clone, Debug)]
pub struct StreamedGrid {
    /// The file.
    pub path: PathBuf,
    /// How to read it.
    pub format: StreamFormat,
    /// Rows in the file.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// Filled in by the renderer's pass over the file.
    pub summary: Option<Arc<StreamSummary>>,
}

/// The format of a streamed file, with what reading it needs.
#[derive(Clone, Debug)]
pub enum StreamFormat {
    /// A `.npy` array (its header says the rest).
    Npy,
    /// A CSV/TSV/text table, as its first pass decided to read it.
    Csv(Arc<CsvPlan>),
}

/// What one pass over a streamed file leaves.
#[derive(Clone, Debug)]
pub struct StreamSummary {
    /// Statistics (and the histogram for robust percentiles).
    pub stats: StatsAccumulator,
    /// Partial aggregates per pixel row of a plot `rows.height()` tall.
    pub rows: RowSummary,
}

impl StreamedGrid {
    /// Statistics: exact after the pass; before it, a 0..1 placeholder
    /// (only used to find the plot size the pass reduces to).
    pub fn stats(&self) -> Stats {
        match &self.summary {
            Some(s) => s.stats.stats(),
            None => {
                let n = self.rows * self.cols;
                Stats {
                    count: n,
                    finite: n,
                    nan: 0,
                    pos_inf: 0,
                    neg_inf: 0,
                    min: 0.0,
                    max: 1.0,
                    mean: 0.5,
                }
            }
        }
    }

    /// A percentile of the finite values (after the pass, when it kept a histogram).
    pub fn percentile(&self, q: f64) -> Option<f32> {
        self.summary.as_ref().and_then(|s| s.stats.percentile(q))
    }
}

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub label: Option<String>,
    /// Values.
    pub values: Arc<Vec<f32>>,
    /// Line colour; `None` takes the next of matplotlib's tab10 colours.
    pub color: Option<Rgba>,
}

/// Line chart content.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LineLayer {
    /// The lines.
    pub series: Vec<Series>,
    /// Mark the k points of largest |value| (over all series) with their index.
    pub mark_top: usize,
    /// Line width in pixels at scale 1.
    pub line_width: Option<f32>,
}

/// What a panel shows.
#[derive(Clone, Debug, PartialEq)]
pub enum PanelContent {
    /// A heatmap.
    Heatmap(HeatmapLayer),
    /// Line chart.
    Lines(LineLayer),
}

/// One panel: content, axes, title.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Title above the panel.
    pub title: Option<String>,
    /// Content.
    pub content: PanelContent,
    /// Horizontal axis (heatmap columns).
    pub x: Axis,
    /// Vertical axis (heatmap rows).
    pub y: Axis,
    /// Label beside the colorbar.
    pub colorbar_label: Option<String>,
    /// Heatmaps: the height of one data unit on the y axis over one on the
    /// x axis, in pixels (matplotlib's `aspect`): `Some(1.0)` keeps cells
    /// square, shrinking the plot to fit and centring it in its place;
    /// `None` fills the space (matplotlib's `aspect="auto"`).
    pub aspect: Option<f32>,
}

impl Panel {
    /// A heatmap panel with default axes.
    pub fn heatmap(layer: HeatmapLayer) -> Self {
        Panel {
            title: None,
            content: PanelContent::Heatmap(layer),
            x: Axis::default(),
            y: Axis::default(),
            colorbar_label: None,
            aspect: None,
        }
    }

    /// A line chart panel with default axes.
    pub fn lines(layer: LineLayer) -> Self {
        Panel {
            title: None,
            content: PanelContent::Lines(layer),
            x: Axis::default(),
            y: Axis::default(),
            colorbar_label: None,
            aspect: None,
        }
    }
}

/// Colorbars of a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorbarMode {
    /// One colorbar beside each heatmap panel.
    #[default]
    PerPanel,
    /// One colorbar for the whole figure; the colour range covers every
    /// heatmap panel (which then share it), colormap of the first.
    Shared,
    /// No colorbar.
    None,
}

/// A whole figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of text and lines relative to a 1280x960 figure; `None` picks
    /// `max(1, min(width / 1280, height / 960))`, so a 4K export looks like
    /// the HD one, only sharper.
    pub scale: Option<f32>,
    /// Title over all panels.
    pub title: Option<String>,
    /// Panel rows and columns.
    pub grid: (usize, usize),
    /// Panels, row-major.
    pub panels: Vec<Panel>,
    /// Colorbars.
    pub colorbar: ColorbarMode,
    /// Background colour.
    pub background: Rgba,
    /// Draw the data alone, filling the image: no axes, text or colorbar.
    pub bare: bool,
}

impl Figure {
    /// A one-panel figure.
    pub fn single(panel: Panel, width: u32, height: u32) -> Self {
        Figure {
            width,
            height,
            scale: None,
            title: None,
            grid: (1, 1),
            panels: vec![panel],
            colorbar: ColorbarMode::PerPanel,
            background: [255, 255, 255, 255],
            bare: false,
        }
    }

    /// The text/line scale in effect.
    pub fn effective_scale(&self) -> f32 {
        self.scale.unwrap_or_else(|| {
            (self.width as f32 / 1280.0)
                .min(self.height as f32 / 960.0)
                .max(1.0)
        })
    }
}
