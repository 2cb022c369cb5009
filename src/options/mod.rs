//! The figure options, defined once for every front end.
//!
//! [`FigureOptions`] (with the per-panel [`PanelOptions`] flattened into
//! it) is the one definition of how a figure looks: its fields derive
//! `clap::Args`, so they are the flags of `actmap render` (`x_coords` is
//! `--x-coords`), and `serde::Deserialize`, so the same names are the
//! Python keywords (`actmap.render(a, x_coords=steps)`: the Python module
//! deserializes its keyword dict into this struct) and [`PanelOptions`]
//! is flattened into each `[[panel]]` of a TOML spec
//! ([`crate::render::spec::PanelSpec`]). A new option added here is a new
//! flag, a new keyword and (per panel) a new TOML key at once.
//!
//! This module is the vocabulary only: it depends on nothing but
//! [`crate::error`], and what the options *mean* (loading coordinates,
//! building a [`crate::layout::Figure`]) lives with the code that does it
//! ([`crate::render::spec`]). [`names`] lists the options and suggests the
//! closest name for a typo; `values` holds the deserializers for the
//! shapes a value takes in Python and TOML.
//!
//! Values people write in Python come in more shapes than on a command
//! line: `size=(1920, 1080)` or `"1920x1080"`, `annotate=True` or
//! `".1f"`, `robust=True` (2nd..98th percentiles, as seaborn) or `99`,
//! `aspect=2` or `"equal"`, `index=3` or `[3, 0]`; the deserializers below
//! take each of them (and TOML takes them too).

pub mod names;
mod values;

use serde::Deserialize;

use crate::error::{Error, Result};
pub use names::{
    ALIASES, OptionInfo, SYNONYMS, accepted_names, closest, option_names, panel_option_names, unknown_message,
};
use values::{annotate, grid, one_or_many, robust, size, string_or_bool, string_or_number};

/// Coordinates: inline numbers or a file (.npy/.csv) holding them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CoordsSpec {
    /// Inline values.
    Values(Vec<f64>),
    /// A file of values (any shape; flattened).
    File(String),
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
}

/// Text labels for the cells along an axis (tokens, categories): inline
/// strings or a file holding them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum LabelsSpec {
    /// Inline labels (a Python list of strings, as
    /// `tokenizer.convert_ids_to_tokens(ids)` returns it).
    List(Vec<String>),
    /// A `.txt` file (one label a line, kept verbatim) or a `.json` list.
    File(String),
}

impl LabelsSpec {
    /// Parse a CLI value: a path ending in `.txt` or `.json` is a file,
    /// anything else a comma-separated list (`[CLS],The,cat`).
    pub fn from_arg(s: &str) -> LabelsSpec {
        let lower = s.to_ascii_lowercase();
        if lower.ends_with(".txt") || lower.ends_with(".json") {
            LabelsSpec::File(s.to_string())
        } else {
            LabelsSpec::List(s.split(',').map(str::to_string).collect())
        }
    }
}

/// How one panel looks: the per-panel options, also the keys of a TOML
/// `[[panel]]` (see the [module docs](self)).
#[derive(clap::Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct PanelOptions {
    /// heatmap (default) or line (1-D data, or --rows of a grid).
    #[arg(long)]
    pub kind: Option<String>,
    /// Pick a 2-D slice of a 3-D or higher array: one index per leading axis, e.g. 3 or 3,0.
    #[arg(long, value_delimiter = ',')]
    #[serde(deserialize_with = "one_or_many")]
    pub index: Vec<usize>,
    /// Swap rows and columns.
    #[arg(long)]
    pub transpose: bool,
    /// Colormap: magma inferno plasma viridis cividis turbo Blues Greys RdBu
    /// coolwarm; append _r to reverse.
    #[arg(long)]
    pub cmap: Option<String>,
    /// Normalisation: linear, log, symlog, centered.
    #[arg(long)]
    pub norm: Option<String>,
    /// Lower colour limit (default: smallest finite value).
    #[arg(long, allow_hyphen_values = true)]
    pub vmin: Option<f32>,
    /// Upper colour limit (default: largest finite value).
    #[arg(long, allow_hyphen_values = true)]
    pub vmax: Option<f32>,
    /// Centre of a diverging map (implies --norm centered).
    #[arg(long, allow_hyphen_values = true)]
    pub vcenter: Option<f32>,
    /// Symlog: half-width of the linear region (default: 1% of the largest |limit|).
    #[arg(long)]
    pub linthresh: Option<f32>,
    /// Automatic limits from the (100-P)th..Pth percentiles, e.g. 99 (Python
    /// and TOML also take true: 98, seaborn's robust).
    #[arg(long, value_name = "P")]
    #[serde(deserialize_with = "robust")]
    pub robust: Option<f32>,
    /// How cells sharing a pixel combine: extreme (keeps every spike), max, min, mean, nearest.
    #[arg(long)]
    pub agg: Option<String>,
    /// Colour of NaN cells [default: #ff00ff].
    #[arg(long)]
    pub nan_color: Option<String>,
    /// Colour of +inf cells [default: #ffffff].
    #[arg(long)]
    pub posinf_color: Option<String>,
    /// Colour of -inf cells [default: #000000].
    #[arg(long)]
    pub neginf_color: Option<String>,
    /// Print each cell's value (format like .2f, .1e, d, .0%): --annotate or --annotate=.1f.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = ".2f", value_name = "FMT")]
    #[serde(deserialize_with = "annotate")]
    pub annotate: Option<String>,
    /// Row 0 at the top (upper, default) or the bottom (lower).
    #[arg(long)]
    pub origin: Option<String>,
    /// Cell shape: auto (fill the space), equal (square cells) or a number
    /// (height over width) [default: equal for square grids, else auto].
    #[arg(long)]
    #[serde(deserialize_with = "string_or_number")]
    pub aspect: Option<String>,
    /// Colorbar label.
    #[arg(long)]
    #[serde(alias = "colorbar_label")]
    pub cbar_label: Option<String>,
    /// Line charts: rows of the grid to draw.
    #[arg(long, value_delimiter = ',')]
    #[serde(deserialize_with = "one_or_many")]
    pub rows: Vec<usize>,
    /// Line charts: legend labels, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Line charts: line colours (#rrggbb), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub colors: Vec<String>,
    /// Line charts: mark the K largest |values| with their index.
    #[arg(long, value_name = "K")]
    pub mark_top: Option<usize>,
    /// Line charts: line width in pixels at scale 1 [default: 1.5].
    #[arg(long)]
    pub line_width: Option<f32>,
}

/// How a figure looks: [`PanelOptions`] for every panel, plus the
/// figure's size, titles, axes and panel grid (see the [module docs](self)).
#[derive(clap::Args, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FigureOptions {
    /// Image size, WIDTHxHEIGHT [default: 1200x900].
    #[arg(long, value_parser = parse_size_arg, value_name = "WxH")]
    #[serde(deserialize_with = "size")]
    pub size: Option<(u32, u32)>,
    /// Text and line scale (default: from the size; 2 for high-DPI output).
    #[arg(long)]
    pub scale: Option<f32>,
    /// Title (the panel's; with several panels, the figure's).
    #[arg(long)]
    pub title: Option<String>,
    /// Panel titles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub titles: Vec<String>,
    /// Horizontal axis label.
    #[arg(long)]
    pub xlabel: Option<String>,
    /// Vertical axis label.
    #[arg(long)]
    pub ylabel: Option<String>,
    /// Column coordinates: a file (.npy/.csv) or a list like 1,2,4,8.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_coords_arg, value_name = "FILE|LIST")]
    pub x_coords: Option<CoordsSpec>,
    /// Row coordinates (e.g. training steps): a file or a list.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_coords_arg, value_name = "FILE|LIST")]
    pub y_coords: Option<CoordsSpec>,
    /// Column labels (tokens): a .txt file (one a line, verbatim), a .json
    /// list, or a comma-separated list; one per column.
    #[arg(long, value_parser = parse_labels_arg, value_name = "FILE|LIST")]
    pub xticklabels: Option<LabelsSpec>,
    /// Row labels (tokens): a .txt file, a .json list or a comma-separated
    /// list; one per row.
    #[arg(long, value_parser = parse_labels_arg, value_name = "FILE|LIST")]
    pub yticklabels: Option<LabelsSpec>,
    /// true: cells at their coordinates (edges halfway between); index:
    /// evenly spaced, coordinates as tick labels.
    #[arg(long, value_name = "true|index")]
    #[serde(deserialize_with = "string_or_bool")]
    pub coords: Option<String>,
    /// Tick numbers on the x axis: plain or k (30k, 1.5M).
    #[arg(long)]
    pub x_format: Option<String>,
    /// Tick numbers on the y axis: plain or k.
    #[arg(long)]
    pub y_format: Option<String>,
    /// Line charts: y range LOW,HIGH.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_name = "LOW,HIGH"
    )]
    pub ylim: Vec<f64>,
    /// Panel grid ROWSxCOLS for several inputs, e.g. 2x2.
    #[arg(long)]
    #[serde(deserialize_with = "grid")]
    pub grid: Option<String>,
    /// Colorbars: per-panel, shared, none.
    #[arg(long)]
    pub colorbar: Option<String>,
    /// Data only, filling the whole image: no axes, text or colorbar.
    #[arg(long)]
    pub bare: bool,
    /// N-D tensors: one slice per index along these axes, e.g. 0 or 0,1 (a
    /// batch makes one figure per slice; with --panels, and in Python,
    /// they are the panels of one figure; bare --split: axis 0; for a run
    /// log's 2-D records, one figure per step).
    #[arg(long, value_delimiter = ',', num_args = 0..=1, default_missing_value = "0")]
    #[serde(deserialize_with = "one_or_many")]
    pub split: Vec<usize>,
    /// N-D tensors: names of the leading axes for panel titles, e.g.
    /// layer,head [default: layer,head].
    #[arg(long, value_delimiter = ',')]
    pub axis_names: Vec<String>,
    /// The options of every panel.
    #[command(flatten)]
    #[serde(flatten)]
    pub panel: PanelOptions,
}

/// Where each option of [`FigureOptions`] lives in a TOML spec, when that
/// is not a `[[panel]]` key of the same name. `None`: the option has no
/// TOML key (it picks slices of one input, which a spec names itself).
pub const TOML_KEYS: &[(&str, Option<&str>)] = &[
    ("size", Some("width, height")),
    ("scale", Some("scale (top level)")),
    (
        "title",
        Some("title (top level with several panels, else the panel's)"),
    ),
    ("titles", Some("title of each [[panel]]")),
    ("xlabel", Some("x.label")),
    ("ylabel", Some("y.label")),
    ("x_coords", Some("x.coords")),
    ("y_coords", Some("y.coords")),
    ("xticklabels", Some("x.ticklabels")),
    ("yticklabels", Some("y.ticklabels")),
    ("coords", Some("x.mode, y.mode")),
    ("x_format", Some("x.format")),
    ("y_format", Some("y.format")),
    ("ylim", Some("y.limits")),
    ("grid", Some("grid (top level)")),
    ("colorbar", Some("colorbar (top level)")),
    ("bare", Some("bare (top level)")),
    ("cbar_label", Some("cbar_label or colorbar_label")),
    ("split", None),
    ("axis_names", None),
];

impl FigureOptions {
    /// The `ylim` pair, checked.
    pub fn ylim(&self) -> Result<Option<[f64; 2]>> {
        Ok(match self.ylim.as_slice() {
            [] => None,
            [lo, hi] => Some([*lo, *hi]),
            v => {
                return Err(Error::Invalid(format!(
                    "ylim takes LOW,HIGH (two numbers), got {} values",
                    v.len()
                )));
            }
        })
    }
}

/// Parse `1920x1080`.
pub fn parse_size(s: &str) -> Result<(u32, u32)> {
    let bad = || Error::Invalid(format!("bad size '{s}': expected WIDTHxHEIGHT, e.g. 1920x1080"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

fn parse_size_arg(s: &str) -> std::result::Result<(u32, u32), String> {
    parse_size(s).map_err(|e| e.to_string())
}

fn parse_labels_arg(s: &str) -> std::result::Result<LabelsSpec, String> {
    Ok(LabelsSpec::from_arg(s))
}

fn parse_coords_arg(s: &str) -> std::result::Result<CoordsSpec, String> {
    Ok(CoordsSpec::from_arg(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_a_flag_and_a_keyword() {
        let names = option_names();
        let find = |n: &str| names.iter().find(|o| o.name == n).unwrap();
        assert_eq!(find("x_coords").flag, "--x-coords");
        assert_eq!(find("cmap").flag, "--cmap");
        assert_eq!(find("bare").value, None);
        assert!(find("vmin").help.contains("Lower colour limit"));
        // Every flag is a serde field of the same name (a null may be the
        // wrong type for it, but never an unknown field).
        for o in &names {
            let v = serde_json::json!({ o.name.as_str(): serde_json::Value::Null });
            if let Err(e) = serde_json::from_value::<FigureOptions>(v) {
                assert!(!e.to_string().contains("unknown field"), "{}: {e}", o.name);
            }
        }
        let e = serde_json::from_value::<FigureOptions>(serde_json::json!({"cmapp": null})).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn every_option_has_a_place_in_a_toml_spec_or_says_why_not() {
        let panel = panel_option_names();
        for o in option_names() {
            assert!(
                panel.contains(&o.name) || TOML_KEYS.iter().any(|(n, _)| *n == o.name),
                "{}: neither a [[panel]] key nor in TOML_KEYS",
                o.name
            );
        }
    }

    #[test]
    fn python_shapes_of_values() {
        let o: FigureOptions = serde_json::from_value(serde_json::json!({
            "size": [800, 600], "annotate": true, "robust": true, "aspect": 2,
            "index": 3, "grid": [2, 2], "colorbar_label": "a", "vmin": 0, "coords": false,
        }))
        .unwrap();
        assert_eq!(o.size, Some((800, 600)));
        assert_eq!(o.panel.annotate.as_deref(), Some(".2f"));
        assert_eq!(o.panel.robust, Some(98.0));
        assert_eq!(o.panel.aspect.as_deref(), Some("2"));
        assert_eq!(o.panel.index, vec![3]);
        assert_eq!(o.grid.as_deref(), Some("2x2"));
        assert_eq!(o.panel.cbar_label.as_deref(), Some("a"));
        assert_eq!(o.panel.vmin, Some(0.0));
        assert_eq!(o.coords.as_deref(), Some("index"));
        let o: FigureOptions = serde_json::from_value(serde_json::json!({"size": "1920x1080"})).unwrap();
        assert_eq!(o.size, Some((1920, 1080)));
        assert!(serde_json::from_value::<FigureOptions>(serde_json::json!({"size": "19x"})).is_err());
        assert!(serde_json::from_value::<FigureOptions>(serde_json::json!({"cmapp": "x"})).is_err());
    }

    #[test]
    fn closest_names() {
        let names = accepted_names();
        let known = || names.iter().map(String::as_str);
        assert_eq!(closest("cmapp", known()), Some("cmap"));
        assert_eq!(closest("xlable", known()), Some("xlabel"));
        assert_eq!(closest("colormap", known()), Some("cmap"));
        assert_eq!(closest("figsize", known()), Some("size"));
        assert_eq!(closest("colorbars", known()), Some("colorbar"));
        assert_eq!(closest("v_min", known()), Some("vmin"));
        assert_eq!(closest("zzzzzzzz", known()), None);
        assert_eq!(
            unknown_message("keyword argument", "cmapp", known()),
            "unknown keyword argument 'cmapp' (did you mean 'cmap'?)"
        );
    }
}
