//! `actmap render FILE... -o OUT.png`: one figure from one or more files
//! (panels with --grid), or from a TOML spec.

use std::path::{Path, PathBuf};
use std::time::Instant;

use actmap::Renderer;
use actmap::input::{CsvOptions, LoadOptions};
use actmap::spec::{AxisSpec, CoordsSpec, FigureSpec, PanelSpec};
use clap::Args;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Input files: .npy (any numeric dtype), .csv, .tsv. Several need --grid.
    inputs: Vec<PathBuf>,
    /// A TOML figure spec (see README) instead of input files.
    #[arg(long, conflicts_with = "inputs")]
    spec: Option<PathBuf>,
    /// Output PNG (default: the first input's name with .png). A directory
    /// puts <stem>.png inside it.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Colormap: magma inferno plasma viridis cividis turbo Blues Greys RdBu
    /// coolwarm; append _r to reverse.
    #[arg(long)]
    cmap: Option<String>,
    /// Image size, WIDTHxHEIGHT [default: 1200x900].
    #[arg(long)]
    size: Option<String>,
    /// Text and line scale (default: from the size; 2 for high-DPI output).
    #[arg(long)]
    scale: Option<f32>,
    /// Normalisation: linear, log, symlog, centered.
    #[arg(long)]
    norm: Option<String>,
    /// Lower colour limit (default: smallest finite value).
    #[arg(long, allow_hyphen_values = true)]
    vmin: Option<f32>,
    /// Upper colour limit (default: largest finite value).
    #[arg(long, allow_hyphen_values = true)]
    vmax: Option<f32>,
    /// Centre of a diverging map (implies --norm centered).
    #[arg(long, allow_hyphen_values = true)]
    vcenter: Option<f32>,
    /// Symlog: half-width of the linear region (default: 1% of the largest |limit|).
    #[arg(long)]
    linthresh: Option<f32>,
    /// Automatic limits from the (100-P)th..Pth percentiles, e.g. 99.
    #[arg(long, value_name = "P")]
    robust: Option<f32>,
    /// How cells sharing a pixel combine: extreme (keeps every spike), max, min, mean, nearest.
    #[arg(long)]
    agg: Option<String>,
    /// Colour of NaN cells [default: #ff00ff].
    #[arg(long)]
    nan_color: Option<String>,
    /// Colour of +inf cells [default: #ffffff].
    #[arg(long)]
    posinf_color: Option<String>,
    /// Colour of -inf cells [default: #000000].
    #[arg(long)]
    neginf_color: Option<String>,
    /// Data only, filling the whole image: no axes, text or colorbar.
    #[arg(long)]
    bare: bool,
    /// Swap rows and columns.
    #[arg(long)]
    transpose: bool,
    /// Pick a 2-D slice of a 3-D or higher array: one index per leading axis, e.g. 3 or 3,0.
    #[arg(long, value_delimiter = ',')]
    index: Vec<usize>,
    /// Title (the panel's; with several panels, the figure's).
    #[arg(long)]
    title: Option<String>,
    /// Panel titles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    titles: Vec<String>,
    /// Horizontal axis label.
    #[arg(long)]
    xlabel: Option<String>,
    /// Vertical axis label.
    #[arg(long)]
    ylabel: Option<String>,
    /// Column coordinates: a file (.npy/.csv) or a list like 1,2,4,8.
    #[arg(long, allow_hyphen_values = true)]
    x_coords: Option<String>,
    /// Row coordinates (e.g. training steps): a file or a list.
    #[arg(long, allow_hyphen_values = true)]
    y_coords: Option<String>,
    /// true: cells at their coordinates (edges halfway between); index:
    /// evenly spaced, coordinates as tick labels.
    #[arg(long, value_name = "true|index")]
    coords: Option<String>,
    /// Tick numbers on the x axis: plain or k (30k, 1.5M).
    #[arg(long)]
    x_format: Option<String>,
    /// Tick numbers on the y axis: plain or k.
    #[arg(long)]
    y_format: Option<String>,
    /// Panel grid ROWSxCOLS for several inputs, e.g. 2x2.
    #[arg(long)]
    grid: Option<String>,
    /// Colorbars: per-panel, shared, none.
    #[arg(long)]
    colorbar: Option<String>,
    /// Colorbar label.
    #[arg(long)]
    cbar_label: Option<String>,
    /// Print each cell's value (format like .2f, .1e, d, .0%): --annotate or --annotate=.1f.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = ".2f", value_name = "FMT")]
    annotate: Option<String>,
    /// Row 0 at the top (upper, default) or the bottom (lower).
    #[arg(long)]
    origin: Option<String>,
    /// Cell shape: auto (fill the space), equal (square cells) or a number
    /// (height over width) [default: equal for square grids, else auto].
    #[arg(long)]
    aspect: Option<String>,
    /// heatmap (default) or line (1-D data, or --rows of a grid).
    #[arg(long)]
    kind: Option<String>,
    /// Line charts: rows of the grid to draw.
    #[arg(long, value_delimiter = ',')]
    rows: Vec<usize>,
    /// Line charts: legend labels, comma-separated.
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// Line charts: mark the K largest |values| with their index.
    #[arg(long, value_name = "K")]
    mark_top: Option<usize>,
    /// Line charts: line width in pixels at scale 1 [default: 1.5].
    #[arg(long)]
    line_width: Option<f32>,
    /// Line charts: y range LOW,HIGH.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_name = "LOW,HIGH"
    )]
    ylim: Vec<f64>,
    /// CSV delimiter (default: tab for .tsv, else detected).
    #[arg(long)]
    delimiter: Option<char>,
    /// CSV: the first row is a header (default: detected).
    #[arg(long, value_name = "yes|no")]
    header: Option<YesNo>,
    /// CSV: the first column holds row labels (default: detected).
    #[arg(long, value_name = "yes|no")]
    row_labels: Option<YesNo>,
    /// Batch: tensor names to render (wildcards * and ?), comma-separated.
    #[arg(long, value_delimiter = ',')]
    key: Vec<String>,
    /// Batch: one figure per index along these axes of 3-D/4-D tensors, e.g. 0 or 0,1
    /// (bare --split: axis 0; for a run log's 2-D records, one figure per step).
    #[arg(long, value_delimiter = ',', num_args = 0..=1, default_missing_value = "0")]
    split: Vec<usize>,
    /// Run logs: only the steps A:B (also A:, :B, or one step A).
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    steps: Option<String>,
    /// Run logs: the step whose 2-D records to draw (default: the latest).
    #[arg(long, allow_hyphen_values = true)]
    step: Option<i64>,
    /// Batch: the --split slices of a tensor become panels of one figure.
    #[arg(long)]
    panels: bool,
    /// Batch: overwrite outputs that already exist (default: skip them, so a run resumes).
    #[arg(long)]
    force: bool,
    /// Batch: PNG encoder threads [default: one per core].
    #[arg(long)]
    jobs: Option<usize>,
    /// Batch: render only part K of N (e.g. 3/8), so N processes (a Slurm
    /// array, GNU parallel) split the batch; the parts are disjoint and
    /// together cover it, each resumable.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// N-D tensors: names of the leading axes for panel titles, e.g.
    /// layer,head [default: layer,head].
    #[arg(long, value_delimiter = ',')]
    axis_names: Vec<String>,
    /// No progress output (errors and the failure summary still print).
    #[arg(short, long)]
    quiet: bool,
    /// Print the adapter, the colour range and timings.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum YesNo {
    Yes,
    No,
}

impl From<YesNo> for bool {
    fn from(v: YesNo) -> bool {
        matches!(v, YesNo::Yes)
    }
}

/// Parse `1920x1080`.
pub fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("bad --size '{s}': expected WIDTHxHEIGHT, e.g. 1920x1080");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

fn output_path(first: &Path, out: Option<&Path>) -> PathBuf {
    let stem = first
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "out".into());
    let mut file = PathBuf::from(stem);
    file.set_extension("png");
    match out {
        None => file,
        Some(o) if o.is_dir() || o.as_os_str().to_string_lossy().ends_with('/') => o.join(file),
        Some(o) => o.to_path_buf(),
    }
}

/// The figure the flags describe, as a spec (one panel per input).
fn spec_from_args(a: &RenderArgs) -> anyhow::Result<FigureSpec> {
    if a.inputs.is_empty() {
        anyhow::bail!("no input: give one or more files, or --spec FIGURE.toml");
    }
    if !a.titles.is_empty() && a.titles.len() != a.inputs.len() {
        anyhow::bail!(
            "--titles has {} names for {} inputs",
            a.titles.len(),
            a.inputs.len()
        );
    }
    let ylim = ylim(a)?;
    let several = a.inputs.len() > 1;
    let panels = a
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            panel_spec(
                a,
                input,
                a.titles
                    .get(i)
                    .cloned()
                    .or_else(|| if several { None } else { a.title.clone() }),
                ylim,
            )
        })
        .collect();
    Ok(FigureSpec {
        width: None,
        height: None,
        scale: a.scale,
        title: if several { a.title.clone() } else { None },
        grid: a.grid.clone(),
        colorbar: a.colorbar.clone(),
        background: None,
        bare: Some(a.bare),
        panels,
    })
}

fn ylim(a: &RenderArgs) -> anyhow::Result<Option<[f64; 2]>> {
    Ok(match a.ylim.as_slice() {
        [] => None,
        [lo, hi] => Some([*lo, *hi]),
        v => anyhow::bail!("--ylim takes LOW,HIGH (two numbers), got {} values", v.len()),
    })
}

/// The panel the flags describe for one input.
fn panel_spec(a: &RenderArgs, input: &Path, title: Option<String>, ylim: Option<[f64; 2]>) -> PanelSpec {
    let axis = |label: &Option<String>,
                coords: &Option<String>,
                format: &Option<String>,
                limits: Option<[f64; 2]>| {
        AxisSpec {
            label: label.clone(),
            coords: coords.as_deref().map(CoordsSpec::from_arg),
            mode: a.coords.clone(),
            format: format.clone(),
            categories: None,
            limits,
        }
    };
    PanelSpec {
        input: input.to_string_lossy().into_owned(),
        kind: a.kind.clone(),
        index: (!a.index.is_empty()).then(|| a.index.clone()),
        transpose: Some(a.transpose),
        title,
        cmap: a.cmap.clone(),
        norm: a.norm.clone(),
        vmin: a.vmin,
        vmax: a.vmax,
        vcenter: a.vcenter,
        linthresh: a.linthresh,
        robust: a.robust,
        agg: a.agg.clone(),
        annotate: a.annotate.clone(),
        origin: a.origin.clone(),
        aspect: a.aspect.clone(),
        nan_color: a.nan_color.clone(),
        posinf_color: a.posinf_color.clone(),
        neginf_color: a.neginf_color.clone(),
        colorbar_label: a.cbar_label.clone(),
        rows: (!a.rows.is_empty()).then(|| a.rows.clone()),
        labels: (!a.labels.is_empty()).then(|| a.labels.clone()),
        colors: None,
        mark_top: a.mark_top,
        line_width: a.line_width,
        x: Some(axis(&a.xlabel, &a.x_coords, &a.x_format, None)),
        y: Some(axis(&a.ylabel, &a.y_coords, &a.y_format, ylim)),
    }
}

/// Whether the flags ask for one figure (panels or a spec) or a batch.
pub fn is_batch(a: &RenderArgs) -> bool {
    if a.spec.is_some() || a.grid.is_some() {
        return false;
    }
    let multi_tensor = |p: &Path| {
        actmap::input::describe(p)
            .map(|t| t.len() > 1 || t.iter().any(|(n, _)| n.is_some()))
            .unwrap_or(false)
    };
    // An N-D array without --index renders as panels, through the batch.
    let n_d = |p: &Path| {
        actmap::input::describe(p)
            .map(|t| t.iter().any(|(_, shape)| shape.len() > 2))
            .unwrap_or(false)
    };
    let line = a.kind.as_deref().is_some_and(|k| k.starts_with("line"));
    a.inputs.len() > 1
        || !a.split.is_empty()
        || !a.key.is_empty()
        || a.panels
        || a.shard.is_some()
        || (a.index.is_empty() && !line && a.inputs.iter().any(|p| n_d(p)))
        || a.inputs
            .iter()
            .any(|p| p.is_dir() || (!p.exists() && p.to_string_lossy().contains(['*', '?'])))
        || a.inputs.iter().any(|p| multi_tensor(p))
}

/// The template panel for batch jobs (input, index and transpose unused).
pub fn batch_panel(a: &RenderArgs) -> anyhow::Result<PanelSpec> {
    Ok(panel_spec(a, Path::new(""), a.title.clone(), ylim(a)?))
}

/// Fields the batch runner needs.
pub struct BatchArgs<'a> {
    pub inputs: &'a [PathBuf],
    pub out: Option<&'a Path>,
    pub size: Option<(u32, u32)>,
    pub scale: Option<f32>,
    pub keys: &'a [String],
    pub split: &'a [usize],
    pub panels: bool,
    pub force: bool,
    pub jobs: usize,
    pub quiet: bool,
    pub transpose: bool,
    pub load: LoadOptions,
    pub bare: bool,
    pub titled: bool,
    pub shard: Option<(usize, usize)>,
    pub axis_names: &'a [String],
}

fn load_options(a: &RenderArgs) -> anyhow::Result<LoadOptions> {
    let delimiter = match a.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => anyhow::bail!("--delimiter must be an ASCII character, got '{c}'"),
        None => None,
    };
    Ok(LoadOptions {
        csv: CsvOptions {
            delimiter,
            header: a.header.map(Into::into),
            row_labels: a.row_labels.map(Into::into),
        },
    })
}

impl RenderArgs {
    /// The run log among the inputs, if one is.
    pub fn run_log(&self) -> Option<&Path> {
        self.inputs
            .iter()
            .find(|p| actmap::runlog::is_run_log(p))
            .map(PathBuf::as_path)
    }

    /// `--steps` and `--step`.
    pub fn step_args(&self) -> (Option<&str>, Option<i64>) {
        (self.steps.as_deref(), self.step)
    }

    /// Options a run log cannot use, if any was given.
    pub fn not_for_runs(&self) -> Option<&'static str> {
        if self.spec.is_some() {
            Some("--spec")
        } else if !self.index.is_empty() {
            Some("--index")
        } else if self.grid.is_some() {
            Some("--grid")
        } else if self.panels {
            Some("--panels")
        } else {
            None
        }
    }

    pub fn batch_args(&self) -> anyhow::Result<BatchArgs<'_>> {
        if !self.index.is_empty() {
            anyhow::bail!("--index picks one slice; in a batch use --split AXIS to render every slice");
        }
        Ok(BatchArgs {
            inputs: &self.inputs,
            out: self.out.as_deref(),
            size: self.size.as_deref().map(parse_size).transpose()?,
            scale: self.scale,
            keys: &self.key,
            split: &self.split,
            panels: self.panels,
            force: self.force,
            jobs: self.jobs.unwrap_or(0),
            quiet: self.quiet,
            transpose: self.transpose,
            load: load_options(self)?,
            bare: self.bare,
            titled: self.title.is_some(),
            shard: self
                .shard
                .as_deref()
                .map(actmap::batch::parse_shard)
                .transpose()?,
            axis_names: &self.axis_names,
        })
    }
}

/// One figure: from the input files (panels with --grid) or a spec.
pub fn single(a: RenderArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let load = load_options(&a)?;
    let size = a.size.as_deref().map(parse_size).transpose()?;
    let (mut spec, base, first) = match &a.spec {
        Some(path) => {
            let spec = FigureSpec::from_file(path)?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (spec, base, path.clone())
        }
        None => (spec_from_args(&a)?, PathBuf::new(), a.inputs[0].clone()),
    };
    if let Some((w, h)) = size {
        spec.width = Some(w);
        spec.height = Some(h);
    }
    if a.scale.is_some() {
        spec.scale = a.scale;
    }
    let out = output_path(&first, a.out.as_deref());
    let figure = spec.build(&base, &load)?;
    let t_load = t0.elapsed();
    let renderer = Renderer::new()?;
    let t_gpu = t0.elapsed();
    let rendered = renderer.render_figure_png(&figure, &out)?;
    if a.verbose {
        eprintln!("adapter: {}", renderer.context().describe());
        for (i, p) in rendered.layout.panels.iter().enumerate() {
            let range = p
                .norm
                .map(|n| format!(", colour range {} .. {} ({:?})", n.vmin, n.vmax, n.transform));
            eprintln!(
                "panel {}: plot {}x{} px{}, NaN {}, +inf {}, -inf {}",
                i + 1,
                p.plot.width,
                p.plot.height,
                range.unwrap_or_default(),
                p.stats.nan,
                p.stats.pos_inf,
                p.stats.neg_inf
            );
        }
        eprintln!(
            "load {:.0} ms, GPU init {:.0} ms, render+write {:.0} ms",
            t_load.as_secs_f64() * 1e3,
            (t_gpu - t_load).as_secs_f64() * 1e3,
            (t0.elapsed() - t_gpu).as_secs_f64() * 1e3
        );
    }
    eprintln!("wrote {}", out.display());
    if a.verbose {
        eprintln!("total {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
    Ok(())
}
