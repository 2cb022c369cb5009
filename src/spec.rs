//! Figure specifications: a TOML file (or the CLI's flags) describing a
//! whole figure, with inputs named by path, so a figure can be regenerated
//! exactly. `FigureSpec` -> [`crate::layout::Figure`] via [`FigureSpec::build`].
//!
//! ```toml
//! width = 1200
//! height = 900
//! title = "NTM memory"
//! grid = "2x2"
//! colorbar = "shared"          # per-panel (default), shared, none
//!
//! [[panel]]
//! input = "inputs.npy"         # relative to this file
//! title = "Inputs"
//! cmap = "coolwarm"
//! vmin = 0.0
//! vmax = 1.0
//! x = { label = "Time" }
//! y = { label = "Location" }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::input::{self, Grid, GridSelect, LoadOptions};
use crate::layout::ticks::TickFormat;
use crate::layout::{
    Axis, ColorbarMode, CoordMode, Figure, GridSource, HeatmapLayer, LineLayer, Panel, PanelContent, Series,
    StreamFormat, StreamedGrid,
};

/// Heatmap inputs with at least this much data are streamed, not loaded.
pub const STREAM_MIN_BYTES: u64 = 64 << 20;
use crate::render::parse_color;
use crate::scale::{Aggregate, Colormap, NormKind, NormSpec};

/// Coordinates: inline numbers or a file (.npy/.csv) holding them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CoordsSpec {
    /// Inline values.
    Values(Vec<f64>),
    /// A file of values (any shape; flattened).
    File(String),
}

/// One axis.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// Label.
    pub label: Option<String>,
    /// Cell/point coordinates.
    pub coords: Option<CoordsSpec>,
    /// `true` (cells at their coordinates, default) or `index` (even cells, coordinates as labels).
    pub mode: Option<String>,
    /// `plain` or `k` (30k, 1.5M).
    pub format: Option<String>,
    /// Text labels for the cells.
    pub categories: Option<Vec<String>>,
    /// Visible range `[low, high]` (line charts).
    pub limits: Option<[f64; 2]>,
}

/// One panel.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PanelSpec {
    /// Data file.
    pub input: String,
    /// `heatmap` (default) or `line`.
    pub kind: Option<String>,
    /// Indices into the leading axes of a 3-D+ array.
    pub index: Option<Vec<usize>>,
    /// Swap rows and columns.
    pub transpose: Option<bool>,
    /// Panel title.
    pub title: Option<String>,
    /// Colormap name.
    pub cmap: Option<String>,
    /// `linear`, `log`, `symlog`, `centered`.
    pub norm: Option<String>,
    /// Lower colour limit.
    pub vmin: Option<f32>,
    /// Upper colour limit.
    pub vmax: Option<f32>,
    /// Centre of a centred norm.
    pub vcenter: Option<f32>,
    /// Symlog linear threshold.
    pub linthresh: Option<f32>,
    /// Robust percentile for automatic limits.
    pub robust: Option<f32>,
    /// Aggregation: extreme, max, min, mean, nearest.
    pub agg: Option<String>,
    /// Annotation format, e.g. `.2f`.
    pub annotate: Option<String>,
    /// `upper` (row 0 at the top, default) or `lower`.
    pub origin: Option<String>,
    /// NaN colour.
    pub nan_color: Option<String>,
    /// +inf colour.
    pub posinf_color: Option<String>,
    /// -inf colour.
    pub neginf_color: Option<String>,
    /// Colorbar label.
    pub colorbar_label: Option<String>,
    /// Line charts: rows of a 2-D input to draw (default: all, up to 10).
    pub rows: Option<Vec<usize>>,
    /// Line charts: legend labels, one per line.
    pub labels: Option<Vec<String>>,
    /// Line charts: line colours.
    pub colors: Option<Vec<String>>,
    /// Line charts: mark the k largest |values| with their index.
    pub mark_top: Option<usize>,
    /// Line charts: line width in pixels at scale 1 (default 1.5).
    pub line_width: Option<f32>,
    /// Heatmap cell shape: `auto` (fill the space), `equal` (square cells)
    /// or a number (a cell's height over its width). Default: `equal` for
    /// a grid with as many rows as columns (an attention map), else `auto`.
    pub aspect: Option<String>,
    /// Horizontal axis.
    pub x: Option<AxisSpec>,
    /// Vertical axis.
    pub y: Option<AxisSpec>,
}

/// A whole figure.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// Width in pixels (default 1200).
    pub width: Option<u32>,
    /// Height in pixels (default 900).
    pub height: Option<u32>,
    /// Text and line scale (default: from the size).
    pub scale: Option<f32>,
    /// Figure title.
    pub title: Option<String>,
    /// Panel grid, `"2x2"` (default: one row of all panels).
    pub grid: Option<String>,
    /// `per-panel`, `shared`, `none`.
    pub colorbar: Option<String>,
    /// Background colour.
    pub background: Option<String>,
    /// Data only, no axes.
    pub bare: Option<bool>,
    /// The panels.
    #[serde(rename = "panel", default)]
    pub panels: Vec<PanelSpec>,
}

/// Parse `RxC` (e.g. `2x2`).
pub fn parse_grid(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::Invalid(format!("bad grid '{s}': expected ROWSxCOLS, e.g. 2x2"));
    let (r, c) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let r: usize = r.trim().parse().map_err(|_| bad())?;
    let c: usize = c.trim().parse().map_err(|_| bad())?;
    if r == 0 || c == 0 || r * c > 64 {
        return Err(bad());
    }
    Ok((r, c))
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

impl CoordsSpec {
    /// Parse a CLI value: a comma-separated list of numbers or a file path.
    pub fn from_arg(s: &str) -> CoordsSpec {
        let nums: Option<Vec<f64>> = s.split(',').map(|t| t.trim().parse().ok()).collect();
        match nums {
            Some(v) if !v.is_empty() => CoordsSpec::Values(v),
            _ => CoordsSpec::File(s.to_string()),
        }
    }

    fn load(&self, base: &Path) -> Result<Vec<f64>> {
        match self {
            CoordsSpec::Values(v) => Ok(v.clone()),
            CoordsSpec::File(f) => {
                let t = input::load(&resolve(base, f), &LoadOptions::default())?;
                Ok(t.data.iter().map(|&v| v as f64).collect())
            }
        }
    }
}

fn tick_format(s: Option<&str>) -> Result<TickFormat> {
    match s.map(|s| s.to_ascii_lowercase()) {
        None => Ok(TickFormat::Plain),
        Some(s) if s == "plain" => Ok(TickFormat::Plain),
        Some(s) if s == "k" || s == "thousands" => Ok(TickFormat::Thousands),
        Some(s) => Err(Error::Invalid(format!(
            "unknown tick format '{s}'; use plain or k"
        ))),
    }
}

impl AxisSpec {
    fn build(&self, base: &Path) -> Result<Axis> {
        let mode = match self.mode.as_deref().map(|m| m.to_ascii_lowercase()) {
            None => CoordMode::True,
            Some(m) if m == "true" => CoordMode::True,
            Some(m) if m == "index" => CoordMode::Index,
            Some(m) => {
                return Err(Error::Invalid(format!(
                    "unknown coords mode '{m}'; use true or index"
                )));
            }
        };
        let limits = match self.limits {
            Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => Some((lo, hi)),
            Some([lo, hi]) => {
                return Err(Error::Invalid(format!(
                    "limits {lo},{hi} must be finite, low < high"
                )));
            }
            None => None,
        };
        Ok(Axis {
            label: self.label.clone(),
            coords: self.coords.as_ref().map(|c| c.load(base)).transpose()?,
            mode,
            categories: self.categories.clone(),
            format: tick_format(self.format.as_deref())?,
            limits,
        })
    }
}

impl PanelSpec {
    fn norm(&self) -> Result<NormSpec> {
        let mut kind = NormKind::parse(self.norm.as_deref().unwrap_or("linear"))?;
        match (&mut kind, self.vcenter) {
            (NormKind::Centered { vcenter }, Some(c)) => *vcenter = c,
            (NormKind::Linear, Some(c)) => kind = NormKind::Centered { vcenter: c },
            (_, Some(_)) => return Err(Error::Invalid("vcenter applies to the centered norm".into())),
            _ => {}
        }
        match (&mut kind, self.linthresh) {
            (NormKind::SymLog { linthresh, .. }, t) => *linthresh = t,
            (_, Some(_)) => return Err(Error::Invalid("linthresh applies to the symlog norm".into())),
            _ => {}
        }
        Ok(NormSpec {
            kind,
            vmin: self.vmin,
            vmax: self.vmax,
            robust: self.robust,
        })
    }

    /// Load the input and build the panel; `load` holds CSV options.
    pub fn build(&self, base: &Path, load: &LoadOptions) -> Result<Panel> {
        let path = resolve(base, &self.input);
        let select = GridSelect {
            index: self.index.clone().unwrap_or_default(),
            transpose: self.transpose.unwrap_or(false),
        };
        if let Some(streamed) = self.streamed(&path, load)? {
            return self.build_from(GridSource::Streamed(Arc::new(streamed)), &path, base);
        }
        let grid = input::load_grid(&path, load, &select)?;
        self.build_with_grid(grid, &path, base)
    }

    /// Build the panel around an already loaded `grid` (read from `path`;
    /// `self.input`, `index` and `transpose` are not used).
    pub fn build_with_grid(&self, grid: Grid, path: &Path, base: &Path) -> Result<Panel> {
        self.build_from(GridSource::Memory(Arc::new(grid)), path, base)
    }

    /// Whether this panel's input is drawn by streaming it (a large 1-D or
    /// 2-D `.npy` heatmap, or a large CSV/TSV/text table without quotes,
    /// with nothing that needs the values in memory), and if so the
    /// streamed grid. `ACTMAP_STREAM=always|never` overrides the size rule
    /// (files over 64 MiB of data stream). A streamed table's column names
    /// and row labels are not drawn (numeric ticks instead).
    fn streamed(&self, path: &Path, load: &LoadOptions) -> Result<Option<StreamedGrid>> {
        let kind = self.kind.as_deref().unwrap_or("heatmap");
        let coords = |a: &Option<AxisSpec>| a.as_ref().is_some_and(|a| a.coords.is_some());
        let ext = input::extension(path);
        let csv = matches!(ext.as_str(), "csv" | "tsv" | "txt");
        if !(ext == "npy" || csv)
            || !kind.eq_ignore_ascii_case("heatmap")
            || self.index.as_ref().is_some_and(|i| !i.is_empty())
            || self.transpose == Some(true)
            || self.annotate.is_some()
            || coords(&self.x)
            || coords(&self.y)
        {
            return Ok(None);
        }
        let policy = std::env::var("ACTMAP_STREAM").unwrap_or_default();
        if policy == "never" {
            return Ok(None);
        }
        if csv {
            let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
            if !(len >= STREAM_MIN_BYTES || policy == "always") {
                return Ok(None);
            }
            // The first pass; tables it cannot stream are read in memory.
            let Some(plan) = input::csv::CsvPlan::new(path, &load.csv)? else {
                return Ok(None);
            };
            let (rows, cols) = (plan.rows(), plan.cols());
            return Ok(Some(StreamedGrid {
                path: path.to_path_buf(),
                format: StreamFormat::Csv(Arc::new(plan)),
                rows,
                cols,
                summary: None,
            }));
        }
        let header = input::npy::read_npy_header(path)?;
        let (rows, cols) = match header.shape.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            _ => return Ok(None),
        };
        let big = header.data_len() as u64 >= STREAM_MIN_BYTES;
        if (header.fortran_order && rows > 1 && cols > 1)
            || rows == 0
            || cols == 0
            || !(big || policy == "always")
        {
            return Ok(None);
        }
        Ok(Some(StreamedGrid {
            path: path.to_path_buf(),
            format: StreamFormat::Npy,
            rows,
            cols,
            summary: None,
        }))
    }

    fn build_from(&self, source: GridSource, path: &Path, base: &Path) -> Result<Panel> {
        let path = path.to_path_buf();
        let mut x = self.x.clone().unwrap_or_default().build(base)?;
        let mut y = self.y.clone().unwrap_or_default().build(base)?;
        // CSV headers and row labels become categorical ticks.
        if let GridSource::Memory(grid) = &source {
            if x.categories.is_none() && x.coords.is_none() {
                x.categories = grid.col_labels.clone();
            }
            if y.categories.is_none() && y.coords.is_none() {
                y.categories = grid.row_labels.clone();
            }
        }
        let kind = self.kind.as_deref().unwrap_or("heatmap").to_ascii_lowercase();
        let mut panel = match kind.as_str() {
            "heatmap" => {
                let mut h = HeatmapLayer::with_source(source);
                h.colormap = self.cmap.as_deref().unwrap_or("magma").parse::<Colormap>()?;
                h.norm = self.norm()?;
                h.aggregate = Aggregate::parse(self.agg.as_deref().unwrap_or("extreme"))?;
                h.annotate = self.annotate.clone();
                if let Some(a) = &h.annotate {
                    crate::layout::format::NumberFormat::parse(a)?;
                }
                h.origin_lower = match self.origin.as_deref() {
                    None | Some("upper") => false,
                    Some("lower") => true,
                    Some(o) => {
                        return Err(Error::Invalid(format!(
                            "unknown origin '{o}'; use upper or lower"
                        )));
                    }
                };
                for (i, c) in [&self.nan_color, &self.posinf_color, &self.neginf_color]
                    .into_iter()
                    .enumerate()
                {
                    if let Some(c) = c {
                        h.special_colors[i] = parse_color(c)?;
                    }
                }
                Panel::heatmap(h)
            }
            "line" | "lines" => {
                let GridSource::Memory(grid) = source else {
                    return Err(Error::Invalid("a line chart cannot be streamed".into()));
                };
                let rows: Vec<usize> = match &self.rows {
                    Some(r) => r.clone(),
                    None if grid.rows() <= 10 => (0..grid.rows()).collect(),
                    None => {
                        return Err(Error::format(
                            &path,
                            format!(
                                "{} rows is too many lines for one chart; pick some with --rows 0,1,2",
                                grid.rows()
                            ),
                        ));
                    }
                };
                let mut series = Vec::with_capacity(rows.len());
                for (i, &r) in rows.iter().enumerate() {
                    if r >= grid.rows() {
                        return Err(Error::format(
                            &path,
                            format!("row {r} is out of range: the grid has {} rows", grid.rows()),
                        ));
                    }
                    let color = match self.colors.as_ref().and_then(|c| c.get(i)) {
                        Some(c) => Some(parse_color(c)?),
                        None => None,
                    };
                    series.push(Series {
                        label: self.labels.as_ref().and_then(|l| l.get(i).cloned()),
                        values: Arc::new(grid.row(r).to_vec()),
                        color,
                    });
                }
                Panel::lines(LineLayer {
                    series,
                    mark_top: self.mark_top.unwrap_or(0),
                    line_width: match self.line_width {
                        Some(w) if !(w.is_finite() && w > 0.0) => {
                            return Err(Error::Invalid(format!("line width must be positive, got {w}")));
                        }
                        w => w,
                    },
                })
            }
            k => {
                return Err(Error::Invalid(format!(
                    "unknown panel kind '{k}'; use heatmap or line"
                )));
            }
        };
        panel.title = self.title.clone();
        panel.x = x;
        panel.y = y;
        panel.colorbar_label = self.colorbar_label.clone();
        if let PanelContent::Heatmap(h) = &panel.content {
            panel.aspect = parse_aspect(self.aspect.as_deref(), h.grid.rows(), h.grid.cols())?;
        }
        Ok(panel)
    }
}

/// A heatmap's aspect from its `--aspect` value: `auto` (None), `equal`
/// (1) or a positive number; unset, square cells for a square grid.
pub fn parse_aspect(value: Option<&str>, rows: usize, cols: usize) -> Result<Option<f32>> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => Ok((rows == cols && rows > 1).then_some(1.0)),
        Some("auto") => Ok(None),
        Some("equal") => Ok(Some(1.0)),
        Some(v) => match v.parse::<f32>() {
            Ok(a) if a.is_finite() && a > 0.0 => Ok(Some(a)),
            _ => Err(Error::Invalid(format!(
                "aspect '{v}' is not auto, equal or a positive number"
            ))),
        },
    }
}

impl FigureSpec {
    /// Read a TOML spec file.
    pub fn from_file(path: &Path) -> Result<FigureSpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::format(path, e.to_string().trim().replace('\n', " ")))
    }

    /// Build the figure; relative paths are resolved against `base`.
    pub fn build(&self, base: &Path, load: &LoadOptions) -> Result<Figure> {
        if self.panels.is_empty() {
            return Err(Error::Invalid(
                "the figure has no panels ([[panel]] tables)".into(),
            ));
        }
        let grid = match &self.grid {
            Some(g) => parse_grid(g)?,
            None => (1, self.panels.len()),
        };
        if grid.0 * grid.1 < self.panels.len() {
            return Err(Error::Invalid(format!(
                "a {}x{} grid cannot hold {} panels",
                grid.0,
                grid.1,
                self.panels.len()
            )));
        }
        let panels = self
            .panels
            .iter()
            .map(|p| p.build(base, load))
            .collect::<Result<Vec<_>>>()?;
        let colorbar = match self.colorbar.as_deref() {
            None | Some("per-panel") | Some("panel") => ColorbarMode::PerPanel,
            Some("shared") => ColorbarMode::Shared,
            Some("none") => ColorbarMode::None,
            Some(c) => {
                return Err(Error::Invalid(format!(
                    "unknown colorbar '{c}'; use per-panel, shared or none"
                )));
            }
        };
        let (width, height) = (self.width.unwrap_or(1200), self.height.unwrap_or(900));
        Ok(Figure {
            width,
            height,
            scale: self.scale,
            title: self.title.clone(),
            grid,
            panels,
            colorbar,
            background: match &self.background {
                Some(c) => parse_color(c)?,
                None => [255, 255, 255, 255],
            },
            bare: self.bare.unwrap_or(false),
        })
    }
}
