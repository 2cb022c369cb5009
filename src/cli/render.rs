//! `actmap render FILE... -o OUT.png`: one figure from one or more files
//! (panels with --grid), or from a TOML spec.

use std::path::{Path, PathBuf};
use std::time::Instant;

use actmap::Renderer;
use actmap::input::{CsvOptions, LoadOptions};
use actmap::options::FigureOptions;
use actmap::render::spec::{FigureSpec, PanelSpec};
use actmap::render::stream::ReduceOn;
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
    /// How the figure looks: one definition with the TOML spec and the
    /// Python keywords (actmap::options).
    #[command(flatten)]
    pub fig: FigureOptions,
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
    /// Run logs: only the steps A:B (also A:, :B, or one step A).
    #[arg(long, value_name = "A:B", allow_hyphen_values = true)]
    steps: Option<String>,
    /// Run logs: the step whose 2-D records to draw (default: the latest).
    #[arg(long, allow_hyphen_values = true)]
    step: Option<i64>,
    /// Distributed run logs (RUN/rank<N>/): the rank to draw (default: the
    /// lowest), or `all`: the ranks as panels on one colour scale.
    #[arg(long, value_name = "N|all")]
    pub rank: Option<String>,
    /// Run collections (a directory of runs): only the runs whose names
    /// match (wildcards * and ?), comma-separated.
    #[arg(long, value_name = "PAT", value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Two runs (or two arrays of one shape: two files, or two --key
    /// members of one): one figure of B − A on a diverging map centred on 0,
    /// runs aligned by step.
    #[arg(long)]
    pub diff: bool,
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
    Ok(actmap::options::parse_size(s)?)
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
    if !a.fig.titles.is_empty() && a.fig.titles.len() != a.inputs.len() {
        anyhow::bail!(
            "--titles has {} names for {} inputs",
            a.fig.titles.len(),
            a.inputs.len()
        );
    }
    let inputs: Vec<String> = a
        .inputs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    Ok(FigureSpec::from_options(&a.fig, &inputs)?)
}

/// Whether the flags ask for one figure (panels or a spec) or a batch.
pub fn is_batch(a: &RenderArgs) -> bool {
    if a.spec.is_some() || a.fig.grid.is_some() {
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
    let line = a.fig.panel.kind.as_deref().is_some_and(|k| k.starts_with("line"));
    a.inputs.len() > 1
        || !a.fig.split.is_empty()
        || !a.key.is_empty()
        || a.panels
        || a.shard.is_some()
        || (a.fig.panel.index.is_empty() && !line && a.inputs.iter().any(|p| n_d(p)))
        || a.inputs
            .iter()
            .any(|p| p.is_dir() || (!p.exists() && p.to_string_lossy().contains(['*', '?'])))
        || a.inputs.iter().any(|p| multi_tensor(p))
}

/// The template panel for batch jobs (input, index and transpose unused).
pub fn batch_panel(a: &RenderArgs) -> anyhow::Result<PanelSpec> {
    Ok(PanelSpec::from_options(&a.fig, "", a.fig.title.clone())?)
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
    /// The run log among the inputs (or a directory of runs), if one is.
    pub fn run_log(&self) -> Option<&Path> {
        self.inputs
            .iter()
            .find(|p| {
                actmap::runlog::is_run_log(p) || actmap::runlog::collection(p).is_ok_and(|c| c.is_some())
            })
            .map(PathBuf::as_path)
    }

    /// The inputs as given.
    pub fn input_paths(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// `--steps` and `--step`.
    pub fn step_args(&self) -> (Option<&str>, Option<i64>) {
        (self.steps.as_deref(), self.step)
    }

    /// Options a run log cannot use, if any was given.
    pub fn not_for_runs(&self) -> Option<&'static str> {
        if self.spec.is_some() {
            Some("--spec")
        } else if !self.fig.panel.index.is_empty() {
            Some("--index")
        } else if self.fig.grid.is_some() {
            Some("--grid")
        } else if self.panels {
            Some("--panels")
        } else {
            None
        }
    }

    pub fn batch_args(&self) -> anyhow::Result<BatchArgs<'_>> {
        if !self.fig.panel.index.is_empty() {
            anyhow::bail!("--index picks one slice; in a batch use --split AXIS to render every slice");
        }
        Ok(BatchArgs {
            inputs: &self.inputs,
            out: self.out.as_deref(),
            size: self.fig.size,
            scale: self.fig.scale,
            keys: &self.key,
            split: &self.fig.split,
            panels: self.panels,
            force: self.force,
            jobs: self.jobs.unwrap_or(0),
            quiet: self.quiet,
            transpose: self.fig.panel.transpose,
            load: load_options(self)?,
            bare: self.fig.bare,
            titled: self.fig.title.is_some(),
            shard: self
                .shard
                .as_deref()
                .map(actmap::export::batch::parse_shard)
                .transpose()?,
            axis_names: &self.fig.axis_names,
        })
    }
}

/// One figure: from the input files (panels with --grid) or a spec.
pub fn single(a: RenderArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let load = load_options(&a)?;
    let size = a.fig.size;
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
    if a.fig.scale.is_some() {
        spec.scale = a.fig.scale;
    }
    let out = output_path(&first, a.out.as_deref());
    // Refused before any work when the PNG cannot be written there.
    actmap::sink::check_out_file(&out)?;
    // The GPU starts while the inputs are read, and streamed grids are
    // folded on the CPU meanwhile: reading them is most of the work, and the
    // GPU takes a while to start (ACTMAP_REDUCE=gpu folds them on the GPU,
    // once started).
    let pending = Renderer::spawn();
    let figure = spec.build(&base, &load)?;
    let figure = if ReduceOn::from_env() != Some(ReduceOn::Gpu) {
        let summarised = match actmap::render::summarise_figure(&figure, None, ReduceOn::Cpu)? {
            std::borrow::Cow::Owned(f) => Some(f),
            std::borrow::Cow::Borrowed(_) => None,
        };
        summarised.unwrap_or(figure)
    } else {
        figure
    };
    let t_load = t0.elapsed();
    let renderer = pending.wait()?;
    let t_gpu = t0.elapsed();
    let rendered = renderer.render_owned_figure_png(figure, &out)?;
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
            "load (and passes over streamed data while the GPU starts) {:.0} ms, GPU init (rest) {:.0} ms, render+write {:.0} ms",
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

/// `render A B --diff`: the figure of B − A, two arrays of one shape (two
/// files, a `--key` member of each, or two `--key` members of one file).
pub fn diff(a: RenderArgs) -> anyhow::Result<()> {
    use actmap::export::compare::{self, ArrayRef, Look};
    let t0 = Instant::now();
    if a.spec.is_some() || a.fig.grid.is_some() || a.panels || !a.fig.split.is_empty() || a.shard.is_some() {
        anyhow::bail!(
            "--diff draws one figure of two arrays: it takes no --spec, --grid, --panels, --split or --shard"
        );
    }
    let keys: Vec<&str> = a.key.iter().map(String::as_str).collect();
    let (ra, rb) = match (a.inputs.as_slice(), keys.as_slice()) {
        ([f], [ka, kb]) => (
            ArrayRef {
                path: f,
                key: Some(*ka),
            },
            ArrayRef {
                path: f,
                key: Some(*kb),
            },
        ),
        ([fa, fb], []) => (ArrayRef { path: fa, key: None }, ArrayRef { path: fb, key: None }),
        ([fa, fb], [k]) => (
            ArrayRef {
                path: fa,
                key: Some(*k),
            },
            ArrayRef {
                path: fb,
                key: Some(*k),
            },
        ),
        _ => anyhow::bail!(
            "--diff takes two arrays: two files (A B, with --key K for a member of each), or one file with --key A,B; got {} file{} and {} key{}",
            a.inputs.len(),
            if a.inputs.len() == 1 { "" } else { "s" },
            keys.len(),
            if keys.len() == 1 { "" } else { "s" }
        ),
    };
    for k in [ra.key, rb.key].into_iter().flatten() {
        if k.contains(['*', '?']) {
            anyhow::bail!("--diff: --key names one member each, not a pattern ('{k}')");
        }
    }
    let load = load_options(&a)?;
    let out = match &a.out {
        Some(o) if o.is_dir() || o.as_os_str().to_string_lossy().ends_with('/') => {
            o.join(format!("{}_diff.png", stem(rb.path, rb.key)))
        }
        Some(o) => o.clone(),
        None => PathBuf::from(format!("{}_diff.png", stem(rb.path, rb.key))),
    };
    actmap::sink::check_out_file(&out)?;
    let pending = Renderer::spawn();
    let template = batch_panel(&a)?;
    let panel = compare::diff_arrays(ra, rb, &template, &load)?;
    let fig = compare::figure_of(vec![panel], &Look::of(&a.fig));
    let renderer = pending.wait()?;
    renderer.render_figure_png(&fig, &out)?;
    if !a.quiet {
        eprintln!("wrote {} in {:.2} s", out.display(), t0.elapsed().as_secs_f64());
    }
    Ok(())
}

fn stem(path: &Path, key: Option<&str>) -> String {
    let s = key
        .map(str::to_string)
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "out".into());
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
