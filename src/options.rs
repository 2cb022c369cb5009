//! The figure options, defined once for every front end.
//!
//! [`FigureOptions`] (with the per-panel [`PanelOptions`] flattened into
//! it) is the one definition of how a figure looks: its fields derive
//! `clap::Args`, so they are the flags of `actmap render` (`x_coords` is
//! `--x-coords`), and `serde::Deserialize`, so the same names are the
//! Python keywords (`actmap.render(a, x_coords=steps)`: the Python module
//! deserializes its keyword dict into this struct) and [`PanelOptions`]
//! is flattened into each `[[panel]]` of a TOML spec
//! ([`crate::spec::PanelSpec`]). A new option added here is a new flag, a
//! new keyword and (per panel) a new TOML key at once.
//!
//! Values people write in Python come in more shapes than on a command
//! line: `size=(1920, 1080)` or `"1920x1080"`, `annotate=True` or
//! `".1f"`, `robust=True` (2nd..98th percentiles, as seaborn) or `99`,
//! `aspect=2` or `"equal"`, `index=3` or `[3, 0]`; the deserializers below
//! take each of them (and TOML takes them too).

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::spec::{AxisSpec, CoordsSpec, FigureSpec, PanelSpec};

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

/// Every option's name (the Python keyword; the CLI flag is `--` and the
/// name with `-` for `_`), with its help text and value name, in the
/// order of the CLI's help.
pub fn option_names() -> Vec<OptionInfo> {
    use clap::Args;
    let mut cmd = FigureOptions::augment_args(clap::Command::new("options").disable_help_flag(true));
    cmd.build();
    cmd.get_arguments()
        .map(|a| OptionInfo {
            name: a.get_id().as_str().to_string(),
            flag: format!("--{}", a.get_long().unwrap_or_default()),
            value: a
                .get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .filter(|_| a.get_num_args().is_some_and(|n| n.takes_values())),
            help: a.get_help().map(|h| h.to_string()).unwrap_or_default(),
        })
        .collect()
}

/// The names of the per-panel options ([`PanelOptions`]: the keys of a
/// TOML `[[panel]]` besides `input`, `title`, `x` and `y`).
pub fn panel_option_names() -> Vec<String> {
    use clap::Args;
    let cmd = PanelOptions::augment_args(clap::Command::new("panel"));
    cmd.get_arguments()
        .map(|a| a.get_id().as_str().to_string())
        .collect()
}

/// One option of [`FigureOptions`], as [`option_names`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionInfo {
    /// The field, Python keyword and TOML key (`x_coords`).
    pub name: String,
    /// The CLI flag (`--x-coords`).
    pub flag: String,
    /// The CLI value name (`FILE|LIST`), `None` for a switch.
    pub value: Option<String>,
    /// What it does.
    pub help: String,
}

/// Other names accepted for an option (serde aliases).
pub const ALIASES: &[(&str, &str)] = &[("colorbar_label", "cbar_label")];

/// Names people bring from matplotlib and seaborn, and the option that
/// does that here (only used to suggest a name, never accepted).
pub const SYNONYMS: &[(&str, &str)] = &[
    ("colormap", "cmap"),
    ("figsize", "size"),
    ("dpi", "scale"),
    ("aggregate", "agg"),
    ("cbar", "colorbar"),
    ("fmt", "annotate"),
    ("annot", "annotate"),
    ("xticklabels", "x_coords"),
    ("yticklabels", "y_coords"),
    ("center", "vcenter"),
    ("suptitle", "title"),
    ("linewidth", "line_width"),
    ("lw", "line_width"),
    ("color", "colors"),
];

/// The valid name closest to `unknown` among `known`, when one is close
/// enough to be a likely typo (`cmapp` -> `cmap`, `xlable` -> `xlabel`)
/// or is matplotlib's or seaborn's word for it (`colormap` -> `cmap`).
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let u = unknown.to_ascii_lowercase();
    let known: Vec<&'a str> = known.into_iter().collect();
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == u)
        && let Some(k) = known.iter().find(|k| *k == to)
    {
        return Some(k);
    }
    known
        .into_iter()
        .map(|k| {
            let d = strsim::damerau_levenshtein(&u, k);
            // A prefix or a contained word counts as close too (`color` -> `colorbar`).
            let contained = k.contains(u.as_str()) || u.contains(k);
            (if contained { d.min(2) } else { d }, k)
        })
        .filter(|&(d, k)| d <= 2.max(k.len() / 3))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// The names a keyword dict or a figure-level table may use: every
/// option's name and its aliases.
pub fn accepted_names() -> Vec<String> {
    let mut names: Vec<String> = option_names().into_iter().map(|o| o.name).collect();
    names.extend(ALIASES.iter().map(|(a, _)| a.to_string()));
    names
}

/// `unknown option 'cmapp' (did you mean 'cmap'?)`, for a name not in
/// `known`; `what` says what kind of name it is (`keyword argument`).
pub fn unknown_message<'a>(what: &str, unknown: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match closest(unknown, known) {
        Some(k) => format!("unknown {what} '{unknown}' (did you mean '{k}'?)"),
        None => format!("unknown {what} '{unknown}'"),
    }
}

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

    /// The panel these options describe for the input named `input`,
    /// titled `title`.
    pub fn panel_spec(&self, input: &str, title: Option<String>) -> Result<PanelSpec> {
        let axis = |label: &Option<String>,
                    coords: &Option<CoordsSpec>,
                    format: &Option<String>,
                    limits: Option<[f64; 2]>| AxisSpec {
            label: label.clone(),
            coords: coords.clone(),
            mode: self.coords.clone(),
            format: format.clone(),
            categories: None,
            limits,
        };
        Ok(PanelSpec {
            input: input.to_string(),
            title,
            options: self.panel.clone(),
            x: Some(axis(&self.xlabel, &self.x_coords, &self.x_format, None)),
            y: Some(axis(&self.ylabel, &self.y_coords, &self.y_format, self.ylim()?)),
        })
    }

    /// The figure these options describe, one panel per input (named by
    /// `inputs`); `titles`, when given, must name every panel.
    pub fn figure_spec(&self, inputs: &[String]) -> Result<FigureSpec> {
        if inputs.is_empty() {
            return Err(Error::Invalid("no input".into()));
        }
        if !self.titles.is_empty() && self.titles.len() != inputs.len() {
            return Err(Error::Invalid(format!(
                "titles has {} names for {} inputs",
                self.titles.len(),
                inputs.len()
            )));
        }
        let several = inputs.len() > 1;
        let panels = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let title = self
                    .titles
                    .get(i)
                    .cloned()
                    .or_else(|| if several { None } else { self.title.clone() });
                self.panel_spec(input, title)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FigureSpec {
            width: self.size.map(|s| s.0),
            height: self.size.map(|s| s.1),
            scale: self.scale,
            title: if several { self.title.clone() } else { None },
            grid: self.grid.clone(),
            colorbar: self.colorbar.clone(),
            background: None,
            bare: Some(self.bare),
            panels,
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

fn parse_coords_arg(s: &str) -> std::result::Result<CoordsSpec, String> {
    Ok(CoordsSpec::from_arg(s))
}

// Deserializers for the shapes values take in Python and TOML.

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

fn one_or_many<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(v)) => vec![v],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrPair {
    Str(String),
    Pair(u32, u32),
}

fn size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<(u32, u32)>, D::Error> {
    use serde::de::Error as _;
    match Option::<StrOrPair>::deserialize(d)? {
        None => Ok(None),
        Some(StrOrPair::Str(s)) => parse_size(&s).map(Some).map_err(D::Error::custom),
        Some(StrOrPair::Pair(w, h)) if w > 0 && h > 0 => Ok(Some((w, h))),
        Some(StrOrPair::Pair(w, h)) => Err(D::Error::custom(format!("size ({w}, {h}) has a zero side"))),
    }
}

fn grid<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<StrOrPair>::deserialize(d)? {
        None => None,
        Some(StrOrPair::Str(s)) => Some(s),
        Some(StrOrPair::Pair(r, c)) => Some(format!("{r}x{c}")),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOr<T> {
    Bool(bool),
    Value(T),
}

fn annotate<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<BoolOr<String>>::deserialize(d)? {
        None | Some(BoolOr::Bool(false)) => None,
        Some(BoolOr::Bool(true)) => Some(".2f".into()),
        Some(BoolOr::Value(f)) => Some(f),
    })
}

fn robust<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f32>, D::Error> {
    Ok(match Option::<BoolOr<f32>>::deserialize(d)? {
        None | Some(BoolOr::Bool(false)) => None,
        Some(BoolOr::Bool(true)) => Some(98.0),
        Some(BoolOr::Value(p)) => Some(p),
    })
}

fn string_or_bool<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<BoolOr<String>>::deserialize(d)? {
        None => None,
        Some(BoolOr::Bool(b)) => Some(if b { "true" } else { "index" }.into()),
        Some(BoolOr::Value(s)) => Some(s),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Num(f64),
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<StrOrNum>::deserialize(d)? {
        None => None,
        Some(StrOrNum::Str(s)) => Some(s),
        Some(StrOrNum::Num(n)) => Some(n.to_string()),
    })
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
        // Per-panel options parse from a [[panel]] table by their names.
        let spec: crate::spec::FigureSpec = toml::from_str(
            "[[panel]]\ninput = \"a.npy\"\ncmap = \"viridis\"\nrows = [0, 2]\ncolorbar_label = \"v\"\nannotate = true\n",
        )
        .unwrap();
        let p = &spec.panels[0].options;
        assert_eq!(p.cmap.as_deref(), Some("viridis"));
        assert_eq!(p.rows, vec![0, 2]);
        assert_eq!(p.cbar_label.as_deref(), Some("v"));
        assert_eq!(p.annotate.as_deref(), Some(".2f"));
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
