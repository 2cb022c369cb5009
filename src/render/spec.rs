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
use crate::input::{self, Grid, GridSelect, LoadOptions, Pick};
use crate::layout::ticks::TickFormat;
use crate::layout::{
    Axis, ColorbarMode, CoordMode, Figure, GridSource, HeatmapLayer, LineLayer, Panel, PanelContent, Series,
    StreamFormat, StreamedGrid, StreamedSeries,
};

use crate::options::{CoordsSpec, FigureOptions, LabelsSpec, PanelOptions};
use crate::render::parse_color;
pub use crate::render::stream::STREAM_MIN_BYTES;
use crate::scale::{Aggregate, Colormap, NormKind, NormSpec};

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
    /// Text labels for the cells (tokens): a list, or a `.txt` (one a
    /// line, verbatim) or `.json` file; wins over `categories`.
    pub ticklabels: Option<LabelsSpec>,
    /// Visible range `[low, high]` (line charts).
    pub limits: Option<[f64; 2]>,
}

/// One panel: its input, title and axes, and the per-panel options
/// ([`PanelOptions`], the same definition as the CLI's flags and the
/// Python keywords, flattened: `cmap = "magma"` sits in `[[panel]]`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PanelSpec {
    /// Data file.
    pub input: String,
    /// Panel title.
    #[serde(default)]
    pub title: Option<String>,
    /// How the panel looks.
    #[serde(flatten)]
    pub options: PanelOptions,
    /// Horizontal axis.
    #[serde(default)]
    pub x: Option<AxisSpec>,
    /// Vertical axis.
    #[serde(default)]
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

impl PanelSpec {
    /// The panel the options `o` describe for the input named `input`,
    /// titled `title`.
    pub fn from_options(o: &FigureOptions, input: &str, title: Option<String>) -> Result<PanelSpec> {
        let axis = |label: &Option<String>,
                    coords: &Option<CoordsSpec>,
                    format: &Option<String>,
                    ticklabels: &Option<LabelsSpec>,
                    limits: Option<[f64; 2]>| AxisSpec {
            label: label.clone(),
            coords: coords.clone(),
            mode: o.coords.clone(),
            format: format.clone(),
            categories: None,
            ticklabels: ticklabels.clone(),
            limits,
        };
        Ok(PanelSpec {
            input: input.to_string(),
            title,
            options: o.panel.clone(),
            x: Some(axis(&o.xlabel, &o.x_coords, &o.x_format, &o.xticklabels, None)),
            y: Some(axis(
                &o.ylabel,
                &o.y_coords,
                &o.y_format,
                &o.yticklabels,
                o.ylim()?,
            )),
        })
    }
}

impl FigureSpec {
    /// The figure the options `o` describe, one panel per input (named by
    /// `inputs`); `titles`, when given, must name every panel.
    pub fn from_options(o: &FigureOptions, inputs: &[String]) -> Result<FigureSpec> {
        if inputs.is_empty() {
            return Err(Error::Invalid("no input".into()));
        }
        if !o.titles.is_empty() && o.titles.len() != inputs.len() {
            return Err(Error::Invalid(format!(
                "titles has {} names for {} inputs",
                o.titles.len(),
                inputs.len()
            )));
        }
        let several = inputs.len() > 1;
        let panels = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let title = o
                    .titles
                    .get(i)
                    .cloned()
                    .or_else(|| if several { None } else { o.title.clone() });
                PanelSpec::from_options(o, input, title)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FigureSpec {
            width: o.size.map(|s| s.0),
            height: o.size.map(|s| s.1),
            scale: o.scale,
            title: if several { o.title.clone() } else { None },
            grid: o.grid.clone(),
            colorbar: o.colorbar.clone(),
            background: None,
            bare: Some(o.bare),
            panels,
        })
    }
}

/// Parse `RxC` (e.g. `2x2`).
pub fn parse_grid(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::Invalid(format!("bad grid '{s}': expected ROWSxCOLS, e.g. 2x2"));
    let (r, c) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let r: usize = r.trim().parse().map_err(|_| bad())?;
    let c: usize = c.trim().parse().map_err(|_| bad())?;
    if r == 0 || c == 0 || r.checked_mul(c).is_none_or(|n| n > 64) {
        return Err(bad());
    }
    Ok((r, c))
}

/// Parse a colorbar mode: `per-panel` (default), `shared` or `none`.
pub fn parse_colorbar(s: Option<&str>) -> Result<ColorbarMode> {
    match s {
        None | Some("per-panel") | Some("panel") => Ok(ColorbarMode::PerPanel),
        Some("shared") => Ok(ColorbarMode::Shared),
        Some("none") => Ok(ColorbarMode::None),
        Some(c) => Err(Error::Invalid(format!(
            "unknown colorbar '{c}'; use per-panel, shared or none"
        ))),
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The values of `coords`, read from its file (relative to `base`) if it names one.
fn load_coords(coords: &CoordsSpec, base: &Path) -> Result<Vec<f64>> {
    match coords {
        CoordsSpec::Values(v) => Ok(v.clone()),
        CoordsSpec::File(f) => {
            let t = input::load(&resolve(base, f), &LoadOptions::default())?;
            Ok(t.data.iter().map(|&v| v as f64).collect())
        }
    }
}

/// The labels `spec` names, read from its file (relative to `base`) if
/// it names one: a `.txt` file holds one label a line, kept verbatim
/// (spaces, `Ġ`/`▁` prefixes), a `.json` file a list of strings (numbers
/// are written as they are). Control characters are made visible
/// ([`visible_label`]): a `"\n"` token is drawn as `\n`.
pub fn load_labels(spec: &LabelsSpec, base: &Path) -> Result<Vec<String>> {
    let labels = match spec {
        LabelsSpec::List(v) => v.clone(),
        LabelsSpec::File(f) => {
            let path = resolve(base, f);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Error::Invalid(format!("tick labels {}: {e}", path.display())))?;
            if f.to_ascii_lowercase().ends_with(".json") {
                let bad = |why: String| {
                    Error::Invalid(format!(
                        "tick labels {}: expected a JSON list of strings ({why})",
                        path.display()
                    ))
                };
                let v: Vec<serde_json::Value> =
                    serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
                v.into_iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        serde_json::Value::String(s) => Ok(s),
                        serde_json::Value::Number(n) => Ok(n.to_string()),
                        other => Err(bad(format!("item {i} is {other}"))),
                    })
                    .collect::<Result<Vec<_>>>()?
            } else {
                let body = text.strip_suffix('\n').unwrap_or(&text);
                let body = body.strip_suffix('\r').unwrap_or(body);
                if body.is_empty() && text.is_empty() {
                    Vec::new()
                } else {
                    body.split('\n')
                        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
                        .collect()
                }
            }
        }
    };
    Ok(labels.iter().map(|l| visible_label(l)).collect())
}

/// A label as it is drawn: control characters written out (`\n`, `\t`,
/// `\r`, `\u{1b}`), everything else as it is.
pub fn visible_label(l: &str) -> String {
    if !l.chars().any(char::is_control) {
        return l.to_string();
    }
    l.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\t' => "\\t".to_string(),
            '\r' => "\\r".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
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
            coords: self.coords.as_ref().map(|c| load_coords(c, base)).transpose()?,
            mode,
            categories: match &self.ticklabels {
                Some(t) => Some(load_labels(t, base)?),
                None => self.categories.clone(),
            },
            format: tick_format(self.format.as_deref())?,
            limits,
        })
    }
}

impl PanelSpec {
    fn norm(&self) -> Result<NormSpec> {
        let mut kind = NormKind::parse(self.options.norm.as_deref().unwrap_or("linear"))?;
        match (&mut kind, self.options.vcenter) {
            (NormKind::Centered { vcenter }, Some(c)) => *vcenter = c,
            (NormKind::Linear, Some(c)) => kind = NormKind::Centered { vcenter: c },
            (_, Some(_)) => return Err(Error::Invalid("vcenter applies to the centered norm".into())),
            _ => {}
        }
        match (&mut kind, self.options.linthresh) {
            (NormKind::SymLog { linthresh, .. }, t) => *linthresh = t,
            (_, Some(_)) => return Err(Error::Invalid("linthresh applies to the symlog norm".into())),
            _ => {}
        }
        Ok(NormSpec {
            kind,
            vmin: self.options.vmin,
            vmax: self.options.vmax,
            robust: self.options.robust,
        })
    }

    /// Load the input and build the panel; `load` holds CSV options.
    pub fn build(&self, base: &Path, load: &LoadOptions) -> Result<Panel> {
        let path = resolve(base, &self.input);
        let select = GridSelect {
            index: self.options.index.clone(),
            transpose: self.options.transpose,
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

    /// Build the panel around a grid in memory or streamed (read from
    /// `path`; `self.input`, `index` and `transpose` are not used).
    pub fn build_with_source(&self, source: GridSource, path: &Path, base: &Path) -> Result<Panel> {
        self.build_from(source, path, base)
    }

    /// Whether this panel's input is drawn by streaming it, and if so the
    /// streamed grid: a line chart of a long 1-D array, or a heatmap of a
    /// large array (a `.npy` file in C or
    /// Fortran order, the slice `index` picks from a 3-D/4-D one, the one
    /// tensor of a `.safetensors` file or member of an `.npz` archive) or a
    /// large CSV/TSV/text table without quotes, transposed or not, cells
    /// evenly spaced or at their coordinates, unless it needs the values in
    /// memory (`annotate`). `ACTMAP_STREAM=always|never` overrides the size
    /// rule (grids of over 64 MiB of values stream). A streamed table's
    /// column names and row labels are not drawn (numeric ticks instead).
    fn streamed(&self, path: &Path, load: &LoadOptions) -> Result<Option<StreamedGrid>> {
        let kind = self
            .options
            .kind
            .as_deref()
            .unwrap_or("heatmap")
            .to_ascii_lowercase();
        let line = kind == "line" || kind == "lines";
        if !(kind == "heatmap" || line) || self.options.annotate.is_some() {
            return Ok(None);
        }
        let index = self.options.index.clone();
        let Some(grid) = crate::render::stream::streamed_source(path, None, &Pick::Leading(&index), load)?
        else {
            return Ok(None);
        };
        // A line chart streams one long 1-D array, read one value at a time.
        let one_row = grid.rows == 1 && grid.transposed && matches!(grid.format, StreamFormat::Array(_));
        if line && !(one_row && !self.options.transpose && matches!(self.options.rows.as_slice(), [] | [0])) {
            return Ok(None);
        }
        Ok(Some(if self.options.transpose {
            grid.transpose()
        } else {
            grid
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
        let kind = self
            .options
            .kind
            .as_deref()
            .unwrap_or("heatmap")
            .to_ascii_lowercase();
        let mut panel = match kind.as_str() {
            "heatmap" => {
                let mut h = HeatmapLayer::with_source(source);
                h.colormap = self
                    .options
                    .cmap
                    .as_deref()
                    .unwrap_or("magma")
                    .parse::<Colormap>()?;
                h.norm = self.norm()?;
                h.aggregate = Aggregate::parse(self.options.agg.as_deref().unwrap_or("extreme"))?;
                h.annotate = self.options.annotate.clone();
                if let Some(a) = &h.annotate {
                    crate::layout::format::NumberFormat::parse(a)?;
                }
                h.origin_lower = match self.options.origin.as_deref() {
                    None | Some("upper") => false,
                    Some("lower") => true,
                    Some(o) => {
                        return Err(Error::Invalid(format!(
                            "unknown origin '{o}'; use upper or lower"
                        )));
                    }
                };
                for (i, c) in [
                    &self.options.nan_color,
                    &self.options.posinf_color,
                    &self.options.neginf_color,
                ]
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
                let color = |i: usize| -> Result<Option<crate::render::Rgba>> {
                    match self.options.colors.get(i) {
                        Some(c) => Ok(Some(parse_color(c)?)),
                        None => Ok(None),
                    }
                };
                let label = |i: usize| self.options.labels.get(i).cloned();
                // Several rows of a streamed grid (a batch's line charts of
                // large 2-D tensors): in memory, as loading them would.
                let source = match source {
                    GridSource::Streamed(s) if !(s.rows == 1 && s.transposed) => {
                        GridSource::Memory(Arc::new(crate::render::stream::load_all(&s)?))
                    }
                    other => other,
                };
                let series = match source {
                    // A long 1-D array, read one value per row (see `streamed`).
                    GridSource::Streamed(s) => vec![Series {
                        label: label(0),
                        values: Arc::new(Vec::new()),
                        color: color(0)?,
                        streamed: Some(Arc::new(StreamedSeries {
                            path: s.path.clone(),
                            format: s.format.clone(),
                            len: s.cols,
                            summary: None,
                        })),
                    }],
                    GridSource::Memory(grid) => {
                        let rows: Vec<usize> = match &self.options.rows {
                            r if !r.is_empty() => r.clone(),
                            _ if grid.rows() <= 10 => (0..grid.rows()).collect(),
                            _ => {
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
                            series.push(Series {
                                label: label(i),
                                values: Arc::new(grid.row(r).to_vec()),
                                color: color(i)?,
                                streamed: None,
                            });
                        }
                        series
                    }
                };
                Panel::lines(LineLayer {
                    series,
                    mark_top: self.options.mark_top.unwrap_or(0),
                    line_width: match self.options.line_width {
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
        panel.colorbar_label = self.options.cbar_label.clone();
        if let PanelContent::Heatmap(h) = &panel.content {
            panel.aspect = parse_aspect(self.options.aspect.as_deref(), h.grid.rows(), h.grid.cols())?;
        }
        Ok(panel)
    }
}

/// ` (did you mean 'cmap'?)` for a TOML error about an unknown key.
fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = &message[message.find("unknown field `")? + 15..];
    let key = &rest[..rest.find('`')?];
    let mut known: Vec<String> = crate::options::panel_option_names();
    known.extend(crate::options::ALIASES.iter().map(|(a, _)| a.to_string()));
    let other = [
        "input",
        "title",
        "x",
        "y",
        "width",
        "height",
        "scale",
        "grid",
        "colorbar",
        "background",
        "bare",
        "panel",
        "label",
        "coords",
        "mode",
        "format",
        "categories",
        "ticklabels",
        "limits",
    ];
    known.extend(other.iter().map(|s| s.to_string()));
    crate::options::closest(key, known.iter().map(String::as_str)).map(|k| format!(" (did you mean '{k}'?)"))
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
        toml::from_str(&text).map_err(|e| {
            let mut message = e.to_string().trim().replace('\n', " ");
            if let Some(hint) = unknown_key_hint(&message) {
                message.push_str(&hint);
            }
            Error::format(path, message)
        })
    }

    /// Build the figure; relative paths are resolved against `base`.
    pub fn build(&self, base: &Path, load: &LoadOptions) -> Result<Figure> {
        let grid = self.panel_grid()?;
        let panels = self
            .panels
            .iter()
            .map(|p| p.build(base, load))
            .collect::<Result<Vec<_>>>()?;
        self.assemble(grid, panels)
    }

    /// Build the figure around grids already in memory, one per panel in
    /// order (the panels' `input`s only name them in messages; `index`
    /// and `transpose` are not applied): what the Python module draws.
    pub fn build_with_grids(&self, grids: Vec<Grid>, base: &Path) -> Result<Figure> {
        let grid = self.panel_grid()?;
        if grids.len() != self.panels.len() {
            return Err(Error::Invalid(format!(
                "{} grids for {} panels",
                grids.len(),
                self.panels.len()
            )));
        }
        let panels = self
            .panels
            .iter()
            .zip(grids)
            .map(|(p, g)| p.build_with_grid(g, Path::new(&p.input), base))
            .collect::<Result<Vec<_>>>()?;
        self.assemble(grid, panels)
    }

    /// The panel grid (rows, columns), checked against the panel count.
    fn panel_grid(&self) -> Result<(usize, usize)> {
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
        Ok(grid)
    }

    fn assemble(&self, grid: (usize, usize), panels: Vec<Panel>) -> Result<Figure> {
        let colorbar = parse_colorbar(self.colorbar.as_deref())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_panel_options_are_panel_keys() {
        // The per-panel options parse from a [[panel]] table by their names.
        let spec: FigureSpec = toml::from_str(
            "[[panel]]\ninput = \"a.npy\"\ncmap = \"viridis\"\nrows = [0, 2]\ncolorbar_label = \"v\"\nannotate = true\n",
        )
        .unwrap();
        let p = &spec.panels[0].options;
        assert_eq!(p.cmap.as_deref(), Some("viridis"));
        assert_eq!(p.rows, vec![0, 2]);
        assert_eq!(p.cbar_label.as_deref(), Some("v"));
        assert_eq!(p.annotate.as_deref(), Some(".2f"));
    }
}
