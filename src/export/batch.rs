//! Batch export: many tensors to many PNGs in one run, with one GPU context.
//!
//! 1. [`expand_inputs`] turns paths, directories and glob patterns into files.
//! 2. [`plan`] lists each file's tensors (headers only), applies `--key`
//!    and `--split`, and gives every job a deterministic, collision-free
//!    output name (`stem[_tensor][_i[_j]].png`).
//! 3. [`run`] streams the jobs through three stages that overlap: a loader
//!    thread, GPU rendering on the calling thread, and a pool of PNG
//!    encoders. Queues are bounded, so memory stays flat however many
//!    inputs. Existing outputs are skipped unless `force`; every PNG is
//!    written to a temporary file and renamed; a bad input is recorded and
//!    the batch goes on; a cancel flag (Ctrl-C) stops it cleanly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::input::{self, Grid, GridSelect, LoadOptions, Pick, Tensor};
use crate::layout::{ColorbarMode, Figure, GridSource};
use crate::render::Renderer;
use crate::render::spec::PanelSpec;

/// How to expand and run a batch.
#[derive(Clone, Debug, Default)]
pub struct BatchOptions {
    /// Where the PNGs go.
    pub out_dir: PathBuf,
    /// Tensor name patterns (`*` and `?` wildcards); empty = all.
    pub keys: Vec<String>,
    /// Axes to split into one figure (or panel) per index.
    pub split: Vec<usize>,
    /// Slices of one tensor become panels of one figure instead of figures.
    pub panels: bool,
    /// Overwrite existing outputs.
    pub force: bool,
    /// PNG encoder threads (0 = one per core).
    pub jobs: usize,
    /// Swap rows and columns of every grid.
    pub transpose: bool,
    /// CSV options.
    pub load: LoadOptions,
    /// Names of the leading axes of N-D tensors, for panel titles
    /// (`layer 0 · head 2`); missing ones are [`default_axis_name`]s.
    pub axis_names: Vec<String>,
    /// The figure size and text scale (`None`: from the size), which
    /// decide whether all the maps of a 4-D tensor fit one figure.
    pub figure_size: (u32, u32),
    /// See `figure_size`.
    pub figure_scale: Option<f32>,
    /// `(k, n)`: render only the k-th of n disjoint parts of the batch
    /// (1-based k), so n processes together cover it. `None`: all of it.
    pub shard: Option<(usize, usize)>,
}

/// One figure to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The file.
    pub source: PathBuf,
    /// The tensor inside it (multi-tensor files).
    pub tensor: Option<String>,
    /// The axes the slices index (leading axes of an N-D tensor).
    pub axes: Vec<usize>,
    /// Split indices along `axes`, one entry per panel (an empty entry: no
    /// split).
    pub slices: Vec<Vec<usize>>,
    /// Panel rows and columns when the panels follow two axes (layers as
    /// rows, heads as columns); `None`: a near-square grid.
    pub grid: Option<(usize, usize)>,
    /// How many leading indices all slices share (the figure is about
    /// them: `layer 3` of a 4-D tensor drawn one figure per layer); panel
    /// titles name the rest.
    pub fixed: usize,
    /// Output PNG.
    pub output: PathBuf,
    /// Human-readable name: `acts.safetensors:layer.3 [2]`.
    pub label: String,
}

/// Something that could not be done, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The input (file, tensor, slice).
    pub what: String,
    /// The error, one line.
    pub error: String,
}

/// The jobs of a batch, and the inputs that failed before any job existed.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Figures to make, in input order.
    pub jobs: Vec<Job>,
    /// Unreadable inputs.
    pub failed: Vec<Failure>,
    /// Parts of inputs left out on purpose, with why (an `.npz` member that
    /// is not an array): not failures, but a user should hear of them.
    pub skipped: Vec<Failure>,
}

/// The name of leading axis `axis` when none is given: `layer` and `head`
/// (the axes of `[layers, heads, T, T]` attention and `[layers, tokens, d]`
/// hidden states), then `axis 2`, `axis 3`, ...
pub fn default_axis_name(axis: usize) -> String {
    match axis {
        0 => "layer".into(),
        1 => "head".into(),
        a => format!("axis {a}"),
    }
}

/// A slice's title from its axis names and indices: `layer 0 · head 2`.
pub fn slice_title(names: &[String], axes: &[usize], index: &[usize]) -> String {
    axes.iter()
        .zip(index)
        .map(|(&a, i)| {
            let name = names.get(a).cloned().unwrap_or_else(|| default_axis_name(a));
            format!("{name} {i}")
        })
        .collect::<Vec<_>>()
        .join(" \u{b7} ")
}

impl Job {
    /// `acts.safetensors: attn · layer 3`: the file, the tensor and the
    /// indices all of the figure's slices share.
    pub fn short_label(&self, names: &[String]) -> String {
        let file = self
            .source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut s = match &self.tensor {
            Some(t) => format!("{file}: {t}"),
            None => file,
        };
        if let Some(first) = self.slices.first()
            && self.fixed > 0
        {
            let n = self.fixed.min(first.len()).min(self.axes.len());
            s.push_str(&format!(
                " \u{b7} {}",
                slice_title(names, &self.axes[..n], &first[..n])
            ));
        }
        s
    }

    /// The title of panel `i`: its indices beyond the shared ones, named
    /// (`head 2`, or `layer 0 · head 2`); empty for an unsplit tensor.
    pub fn panel_title(&self, i: usize, names: &[String]) -> String {
        let Some(slice) = self.slices.get(i) else {
            return String::new();
        };
        let from = self.fixed.min(slice.len()).min(self.axes.len());
        slice_title(names, &self.axes[from..], &slice[from..])
    }
}

/// How the figures of a batch look, beyond each panel's own options.
#[derive(Clone, Debug, PartialEq)]
pub struct FigureLook {
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Text and line scale (`None`: from the size).
    pub scale: Option<f32>,
    /// Data only, no axes or text.
    pub bare: bool,
    /// The template carries its own title (else each figure is titled
    /// after its file, tensor and slice).
    pub titled: bool,
    /// Names of leading axes (see [`BatchOptions::axis_names`]).
    pub axis_names: Vec<String>,
}

/// The figure of `job`: one panel per grid (one per slice), each built
/// from `template`. Several panels share one colorbar and are titled by
/// their slice (`layer 0 · head 2`); panels that follow two axes are
/// labelled like a facet grid (column names over the top row, row names as
/// the first column's y label).
pub fn job_figure(
    job: &Job,
    grids: Vec<GridSource>,
    template: &PanelSpec,
    look: &FigureLook,
) -> Result<Figure> {
    let names = &look.axis_names;
    let n = grids.len();
    let several = n > 1;
    let facet = job
        .grid
        .filter(|&(r, c)| several && r * c == n && job.axes.len() == 2);
    let name = |a: usize| names.get(a).cloned().unwrap_or_else(|| default_axis_name(a));
    let mut panels = Vec::with_capacity(n);
    for (i, grid) in grids.into_iter().enumerate() {
        let mut spec = template.clone();
        if let Some((_, cols)) = facet {
            // Every panel keeps a title and a y label, empty ones where
            // they would repeat, so all maps get the same room.
            let (r, c) = (i / cols, i % cols);
            spec.title = Some(if r == 0 {
                format!("{} {c}", name(job.axes[1]))
            } else {
                String::new()
            });
            let mut y = spec.y.clone().unwrap_or_default();
            y.label = Some(if c == 0 {
                format!("{} {r}", name(job.axes[0]))
            } else {
                String::new()
            });
            spec.y = Some(y);
        } else if several {
            spec.title = Some(job.panel_title(i, names));
        } else if !look.titled {
            spec.title = Some(job.short_label(names));
        }
        panels.push(spec.build_with_source(grid, &job.source, Path::new(""))?);
    }
    let (rows, cols) = job.grid.filter(|(r, c)| r * c == n).unwrap_or_else(|| {
        let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
        (n.div_ceil(cols), cols)
    });
    Ok(Figure {
        width: look.size.0,
        height: look.size.1,
        scale: look.scale,
        title: several.then(|| job.short_label(names)),
        grid: (rows, cols),
        panels,
        colorbar: if several {
            ColorbarMode::Shared
        } else {
            ColorbarMode::PerPanel
        },
        background: [255, 255, 255, 255],
        bare: look.bare,
    })
}

/// Whether `rows x cols` panels fit a `width x height` figure at a
/// readable size (a cell of about 120 px a side at scale 1: title, ticks
/// and a map of 60 px or more). `scale` as [`Figure::scale`].
pub fn panels_fit(rows: usize, cols: usize, (width, height): (u32, u32), scale: Option<f32>) -> bool {
    let scale = scale
        .map(f64::from)
        .unwrap_or_else(|| (width as f64 / 1280.0).min(height as f64 / 960.0).max(1.0));
    let side = 120.0 * scale;
    cols as f64 * side <= width as f64 && rows as f64 * side <= height as f64
}

/// An error's message without the file name (the failure already names it).
/// A write error that every later write to the output would repeat (a
/// full or read-only file system, a quota): the batch stops at the first.
fn stops_the_batch(e: &Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(e, Error::Io { cause, .. }
        if matches!(cause.kind(), K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem))
}

fn detail(e: &Error) -> String {
    match e {
        Error::Format { message, .. } => message.clone(),
        Error::Io { cause: source, .. } => source.to_string(),
        e => e.to_string(),
    }
}

/// `*` (any run) and `?` (one character) wildcard match.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn supported(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| input::EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, failed: &mut Vec<Failure>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            failed.push(Failure {
                what: dir.display().to_string(),
                error: e.to_string(),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out, failed);
        } else if supported(&p) {
            out.push(p);
        }
    }
}

/// Files named by `inputs`: files as given, directories walked recursively
/// (supported extensions, sorted), and glob patterns (`*`, `?`) in the
/// file-name part expanded when the shell did not.
pub fn expand_inputs(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<Failure>) {
    let (mut files, mut failed) = (Vec::new(), Vec::new());
    for input in inputs {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if input.is_dir() {
            walk(input, &mut files, &mut failed);
        } else if !input.exists() && (name.contains('*') || name.contains('?')) {
            let dir = match input.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let mut matched: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
                        .map(|e| {
                            if input.parent().is_some_and(|p| !p.as_os_str().is_empty()) {
                                e.path()
                            } else {
                                PathBuf::from(e.file_name())
                            }
                        })
                        .filter(|p| p.is_file())
                        .collect()
                })
                .unwrap_or_default();
            matched.sort();
            if matched.is_empty() {
                failed.push(Failure {
                    what: input.display().to_string(),
                    error: "no file matches this pattern".into(),
                });
            }
            files.extend(matched);
        } else {
            files.push(input.clone());
        }
    }
    (files, failed)
}

fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    out.trim_matches('.').to_string()
}

/// Every index combination of `dims` (row-major).
fn combinations(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|p| (0..d).map(move |i| [p.clone(), vec![i]].concat()))
            .collect();
    }
    out
}

/// How a tensor is cut into 2-D maps: what [`slicing`] decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slicing {
    /// The axes the slices index (leading axes of an N-D tensor).
    pub axes: Vec<usize>,
    /// One index per axis of `axes` for each slice; a single empty entry
    /// when the tensor is 1-D or 2-D (no slicing).
    pub slices: Vec<Vec<usize>>,
    /// The slices are the panels of one figure (else one figure each).
    pub panels: bool,
    /// Panel rows and columns when the panels follow two axes.
    pub grid: Option<(usize, usize)>,
    /// One figure per index of the first axis, with its slices as panels
    /// (a 4-D tensor whose maps do not all fit one figure).
    pub per_first: bool,
}

/// How a tensor of `shape` is cut into 2-D maps. Without `split`, a 3-D
/// tensor becomes one figure of its 2-D slices along axis 0; a 4-D one a
/// grid of its first two axes (rows and columns) when that many panels
/// fit a `size` figure at `scale` ([`panels_fit`]), else one figure per
/// index of the first axis. `split` names the axes to cut along instead
/// (`panels`: the slices are panels of one figure; two split axes are its
/// rows and columns). The error says what is wrong with `split` or why
/// the tensor needs one.
pub fn slicing(
    shape: &[usize],
    split: &[usize],
    panels: bool,
    size: (u32, u32),
    scale: Option<f32>,
) -> std::result::Result<Slicing, String> {
    let mut s = Slicing {
        axes: split.to_vec(),
        slices: vec![Vec::new()],
        panels,
        grid: None,
        per_first: false,
    };
    if split.is_empty() {
        match shape.len() {
            0..=2 => {}
            3 => {
                s.axes = vec![0];
                s.panels = true;
                s.slices = combinations(&shape[..1]);
            }
            4 => {
                s.axes = vec![0, 1];
                if panels_fit(shape[0], shape[1], size, scale) {
                    s.panels = true;
                    s.grid = Some((shape[0], shape[1]));
                } else {
                    s.per_first = true;
                }
                s.slices = combinations(&shape[..2]);
            }
            n => {
                return Err(format!(
                    "shape {shape:?} is {n}-D: pick slices with --split, e.g. --split 0,1,2 \
                     (one figure per index of the first {} axes)",
                    n - 2
                ));
            }
        }
        return Ok(s);
    }
    if let Some(a) = split.iter().find(|&&a| a >= shape.len()) {
        return Err(format!("--split axis {a} does not exist in shape {shape:?}"));
    }
    if shape.len() - split.len() > 2 {
        return Err(format!(
            "--split {split:?} leaves {} dimensions of shape {shape:?}; split more axes",
            shape.len() - split.len()
        ));
    }
    let dims: Vec<usize> = split.iter().map(|&a| shape[a]).collect();
    // Panels of two split axes follow them: rows and columns.
    if let [r, c] = dims[..] {
        s.grid = Some((r, c));
    }
    s.slices = combinations(&dims);
    Ok(s)
}

/// Expand `files` into jobs.
pub fn plan(files: &[PathBuf], opts: &BatchOptions) -> Plan {
    let mut plan = Plan::default();
    // (file index, job) before naming.
    let mut raw: Vec<(usize, Job, String)> = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        let tensors = match input::describe(file) {
            Ok(t) => t,
            Err(e) => {
                plan.failed.push(Failure {
                    what: file.display().to_string(),
                    error: detail(&e),
                });
                continue;
            }
        };
        for why in input::skipped_members(file) {
            plan.skipped.push(Failure {
                what: file.display().to_string(),
                error: why,
            });
        }
        let multi = tensors.len() > 1 || tensors.iter().any(|(n, _)| n.is_some());
        let mut matched = 0;
        for (name, shape) in tensors {
            if let Some(n) = &name
                && !opts.keys.is_empty()
                && !opts.keys.iter().any(|k| wildcard_match(k, n))
            {
                continue;
            }
            matched += 1;
            let what = match &name {
                Some(n) => format!("{}:{n}", file.display()),
                None => file.display().to_string(),
            };
            let Slicing {
                axes,
                slices,
                panels,
                grid,
                per_first,
            } = match slicing(
                &shape,
                &opts.split,
                opts.panels,
                opts.figure_size,
                opts.figure_scale,
            ) {
                Ok(s) => s,
                Err(error) => {
                    plan.failed.push(Failure { what, error });
                    continue;
                }
            };
            let stem = sanitize(
                &file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            let base = match (&name, multi) {
                (Some(n), _) => format!("{stem}_{}", sanitize(n)),
                (None, _) => stem,
            };
            // (slices of one figure, the indices its name and label carry)
            let groups: Vec<(Vec<Vec<usize>>, Vec<usize>)> = if per_first {
                (0..shape[0])
                    .map(|i| (slices.iter().filter(|s| s[0] == i).cloned().collect(), vec![i]))
                    .collect()
            } else if panels {
                vec![(slices, Vec::new())]
            } else {
                slices.into_iter().map(|s| (vec![s.clone()], s)).collect()
            };
            for (g, id) in groups {
                let suffix: String = id.iter().map(|i| format!("_{i}")).collect();
                let label = if id.is_empty() {
                    what.clone()
                } else {
                    format!("{what} {}", slice_title(&opts.axis_names, &axes[..id.len()], &id))
                };
                raw.push((
                    fi,
                    Job {
                        source: file.clone(),
                        tensor: name.clone(),
                        axes: axes.clone(),
                        grid: if panels && !per_first { grid } else { None },
                        fixed: id.len(),
                        slices: g,
                        output: PathBuf::new(),
                        label,
                    },
                    format!("{base}{suffix}"),
                ));
            }
        }
        if matched == 0 && !opts.keys.is_empty() {
            plan.failed.push(Failure {
                what: file.display().to_string(),
                error: format!("no tensor matches --key {}", opts.keys.join(",")),
            });
        }
    }
    // Names that collide (a.npy in two directories) get their parent
    // directories prefixed; any that still collide get a counter, in input order.
    let mut count: HashMap<String, usize> = HashMap::new();
    for (_, _, n) in &raw {
        *count.entry(n.to_ascii_lowercase()).or_default() += 1;
    }
    let mut used: HashMap<String, usize> = HashMap::new();
    for (fi, mut job, name) in raw {
        let mut name = name;
        if count[&name.to_ascii_lowercase()] > 1 {
            let parent = files[fi]
                .parent()
                .map(|p| sanitize(&p.to_string_lossy().replace(['/', '\\'], "_")))
                .unwrap_or_default();
            if !parent.is_empty() {
                name = format!("{parent}_{name}");
            }
        }
        let n = used.entry(name.to_ascii_lowercase()).or_default();
        *n += 1;
        if *n > 1 {
            name = format!("{name}_{n}");
        }
        job.output = opts.out_dir.join(format!("{name}.png"));
        plan.jobs.push(job);
    }
    // A shard keeps every n-th job, failure and note of the whole plan
    // (names were given over the whole plan, so they are the same in
    // every shard): the n shards are disjoint and together cover it.
    if let Some(shard) = opts.shard {
        fn keep<T>(v: &mut Vec<T>, shard: (usize, usize)) {
            let all = std::mem::take(v);
            *v = all
                .into_iter()
                .enumerate()
                .filter(|(i, _)| in_shard(*i, shard))
                .map(|(_, x)| x)
                .collect();
        }
        keep(&mut plan.jobs, shard);
        keep(&mut plan.failed, shard);
        keep(&mut plan.skipped, shard);
    }
    plan
}

/// Whether item `i` (0-based, in plan order) belongs to shard `(k, n)`
/// (1-based k): round robin, so the n shards get nearly equal shares.
pub fn in_shard(i: usize, (k, n): (usize, usize)) -> bool {
    n > 0 && i % n == k.wrapping_sub(1)
}

/// Parse `K/N` (1 <= K <= N), as `--shard` takes it.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        Error::Invalid(format!(
            "bad --shard '{s}': expected K/N with 1 <= K <= N, e.g. 3/8 (the 3rd of 8 parts)"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Counts so far, for progress reports and the final summary.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Jobs in the plan plus inputs that failed before becoming jobs.
    pub total: usize,
    /// PNGs written.
    pub rendered: usize,
    /// Outputs that already existed.
    pub skipped: usize,
    /// What failed, with the reason (inputs and jobs).
    pub failed: Vec<Failure>,
    /// Wall time since the start.
    pub elapsed: Duration,
    /// Stopped by the cancel flag.
    pub interrupted: bool,
    /// The write that stopped the batch: the output's file system is full
    /// or read-only, so every later figure would fail the same way. Its
    /// figure is not in `failed` (nothing of it is left; a rerun makes it).
    pub stopped: Option<Failure>,
}

impl Summary {
    /// Jobs finished one way or another.
    pub fn done(&self) -> usize {
        self.rendered + self.skipped + self.failed.len()
    }

    /// One line: `rendered 997, skipped 0, failed 3 of 1000 in 12.3 s (81.1 figures/s)`.
    pub fn line(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.rendered as f64 / secs
        } else {
            0.0
        };
        format!(
            "{}rendered {}, skipped {}, failed {} of {} in {:.1} s ({:.1} figures/s)",
            if self.interrupted { "interrupted: " } else { "" },
            self.rendered,
            self.skipped,
            self.failed.len(),
            self.total,
            secs,
            rate
        )
    }
}

/// Figure builder: the job and its grids (one per panel, in memory or
/// streamed) -> a figure.
pub type BuildFigure<'a> = dyn Fn(&Job, Vec<GridSource>) -> Result<Figure> + Sync + 'a;

/// The job's grids streamed where they lie, when every one is large enough
/// ([`crate::render::stream::streamed_source`]); `None`: load them.
fn stream_job(job: &Job, opts: &BatchOptions) -> Result<Option<Vec<GridSource>>> {
    let mut out = Vec::with_capacity(job.slices.len());
    for s in &job.slices {
        let pick = if s.is_empty() {
            Pick::Leading(&[])
        } else {
            Pick::Axes {
                axes: &job.axes,
                index: s,
            }
        };
        let Some(grid) =
            crate::render::stream::streamed_source(&job.source, job.tensor.as_deref(), &pick, &opts.load)?
        else {
            return Ok(None);
        };
        let grid = if opts.transpose { grid.transpose() } else { grid };
        out.push(GridSource::Streamed(Arc::new(grid)));
    }
    Ok(Some(out))
}

fn load_job(
    job: &Job,
    opts: &BatchOptions,
    cache: &mut Option<(PathBuf, Option<String>, Arc<Tensor>)>,
) -> Result<Vec<GridSource>> {
    // Large tensors and slices are read in place while they are drawn.
    if let Ok(Some(streamed)) = stream_job(job, opts) {
        return Ok(streamed);
    }
    let memory = |grids: Result<Vec<Grid>>| -> Result<Vec<GridSource>> {
        Ok(grids?
            .into_iter()
            .map(|g| GridSource::Memory(Arc::new(g)))
            .collect())
    };
    let select = GridSelect {
        index: Vec::new(),
        transpose: opts.transpose,
    };
    // An unsplit tensor is used once: no cache, no copy.
    if let [only] = job.slices.as_slice()
        && only.is_empty()
    {
        let t = input::load_tensor(&job.source, job.tensor.as_deref(), &opts.load)?;
        return memory(Ok(vec![t.into_grid(&select)?]));
    }
    let tensor = match cache {
        Some((p, n, t)) if *p == job.source && *n == job.tensor => t.clone(),
        _ => {
            let t = Arc::new(input::load_tensor(
                &job.source,
                job.tensor.as_deref(),
                &opts.load,
            )?);
            *cache = Some((job.source.clone(), job.tensor.clone(), t.clone()));
            t
        }
    };
    memory(
        job.slices
            .iter()
            .map(|s| {
                if s.is_empty() {
                    (*tensor).clone().into_grid(&select)
                } else {
                    tensor.slice_axes(&job.axes, s)?.into_grid(&select)
                }
            })
            .collect(),
    )
}

/// Run `plan`: load, render and encode with overlap. `progress` is called
/// after every job; `cancel` stops the batch between jobs (work in flight
/// is finished, nothing half-written is left).
pub fn run(
    renderer: &Renderer,
    plan: &Plan,
    opts: &BatchOptions,
    build: &BuildFigure,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(&Summary, &Job),
) -> Result<Summary> {
    let start = Instant::now();
    crate::sink::prepare_out_dir(&opts.out_dir)?;
    // Set by a write that every later write would repeat (a full disk).
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let mut summary = Summary {
        total: plan.jobs.len() + plan.failed.len(),
        failed: plan.failed.clone(),
        ..Default::default()
    };
    let mut todo = Vec::new();
    for (i, job) in plan.jobs.iter().enumerate() {
        if !opts.force && job.output.exists() {
            summary.skipped += 1;
            summary.elapsed = start.elapsed();
            progress(&summary, job);
        } else {
            todo.push(i);
        }
    }
    let encoders = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.jobs
    };
    std::thread::scope(|s| {
        let (load_tx, load_rx) = sync_channel::<(usize, Result<Vec<GridSource>>)>(2);
        let (enc_tx, enc_rx) = sync_channel::<(usize, image::RgbaImage)>(encoders * 2);
        let enc_rx = Arc::new(Mutex::new(enc_rx));
        let (done_tx, done_rx) = channel::<(usize, Result<()>)>();
        let todo = &todo;
        s.spawn(move || {
            let mut cache = None;
            for &i in todo {
                if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                    break;
                }
                let grids = load_job(&plan.jobs[i], opts, &mut cache);
                if load_tx.send((i, grids)).is_err() {
                    break;
                }
            }
        });
        for _ in 0..encoders {
            let rx = enc_rx.clone();
            let done = done_tx.clone();
            s.spawn(move || {
                loop {
                    let msg = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => break,
                    };
                    let Ok((i, image)) = msg else { break };
                    if stop.load(Ordering::Relaxed) {
                        // The disk failed: figures not yet written are left to a rerun.
                        continue;
                    }
                    let r = crate::sink::write_png(&plan.jobs[i].output, &image);
                    if done.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut record = |summary: &mut Summary, i: usize, r: Result<()>| {
            match r {
                Ok(()) => summary.rendered += 1,
                Err(e) if stops_the_batch(&e) => {
                    stop.store(true, Ordering::Relaxed);
                    if summary.stopped.is_some() {
                        // Another write in flight when the disk failed.
                        return;
                    }
                    summary.stopped = Some(Failure {
                        what: plan.jobs[i].label.clone(),
                        error: e.to_string(),
                    });
                }
                Err(e) => summary.failed.push(Failure {
                    what: plan.jobs[i].label.clone(),
                    error: detail(&e),
                }),
            }
            summary.elapsed = start.elapsed();
            progress(summary, &plan.jobs[i]);
        };
        for (i, grids) in load_rx.iter() {
            if cancel.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                break;
            }
            let rendered = grids
                .and_then(|g| build(&plan.jobs[i], g))
                .and_then(|fig| renderer.render_owned_figure(fig));
            match rendered {
                Ok(out) => {
                    if enc_tx.send((i, out.image)).is_err() {
                        break;
                    }
                }
                Err(e) => record(&mut summary, i, Err(e)),
            }
            while let Ok((j, r)) = done_rx.try_recv() {
                record(&mut summary, j, r);
            }
        }
        drop(load_rx);
        drop(enc_tx);
        for (j, r) in done_rx.iter() {
            record(&mut summary, j, r);
        }
    });
    summary.interrupted = cancel.load(Ordering::Relaxed);
    summary.elapsed = start.elapsed();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (p, t, want) in [
            ("*", "anything", true),
            ("layer.*.attn", "layer.3.attn", true),
            ("layer.*.attn", "layer.3.mlp", false),
            ("*attn*", "blocks.0.attn.q", true),
            ("w?", "w1", true),
            ("w?", "w12", false),
            ("", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
        ] {
            assert_eq!(wildcard_match(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn names_are_deterministic_and_collision_free() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("run1"), dir.path().join("run2"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for d in [&a, &b] {
            crate::sink::write_npy_f32(&d.join("acts.npy"), &[2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        }
        crate::sink::write_npy_f32(&a.join("cube.npy"), &[3, 2, 2], &[0.0; 12]).unwrap();
        let opts = BatchOptions {
            out_dir: PathBuf::from("out"),
            ..Default::default()
        };
        let files = vec![a.join("acts.npy"), b.join("acts.npy")];
        let p = plan(&files, &opts);
        assert_eq!(p.jobs.len(), 2);
        assert_ne!(p.jobs[0].output, p.jobs[1].output);
        assert!(
            p.jobs[0].output.to_string_lossy().contains("run1"),
            "{:?}",
            p.jobs[0].output
        );
        assert_eq!(plan(&files, &opts).jobs, p.jobs, "same input, same names");
        // A 3-D array without --split is one figure, a panel per index of
        // axis 0; with --split 0, one figure per slice.
        let p = plan(&[a.join("cube.npy")], &opts);
        assert!(p.failed.is_empty(), "{:?}", p.failed);
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.jobs[0].slices, [vec![0], vec![1], vec![2]]);
        assert_eq!(p.jobs[0].axes, [0]);
        let split = BatchOptions {
            split: vec![0],
            ..opts.clone()
        };
        let p = plan(&[a.join("cube.npy")], &split);
        let names: Vec<String> = p
            .jobs
            .iter()
            .map(|j| j.output.file_name().unwrap().to_string_lossy().into())
            .collect();
        assert_eq!(names, ["cube_0.png", "cube_1.png", "cube_2.png"]);
        let panels = BatchOptions {
            panels: true,
            ..split
        };
        let p = plan(&[a.join("cube.npy")], &panels);
        assert_eq!(p.jobs.len(), 1);
        assert_eq!(p.jobs[0].slices.len(), 3);
    }

    fn names(p: &Plan) -> Vec<String> {
        p.jobs
            .iter()
            .map(|j| j.output.file_name().unwrap().to_string_lossy().into())
            .collect()
    }

    #[test]
    fn four_d_tensors_follow_their_axes() {
        let dir = tempfile::tempdir().unwrap();
        let attn = dir.path().join("attn.npy");
        let cells = |l: usize, h: usize| vec![0.5f32; l * h * 4 * 4];
        let opts = |size| BatchOptions {
            out_dir: PathBuf::from("out"),
            figure_size: size,
            figure_scale: Some(1.0),
            ..Default::default()
        };
        // 6 layers x 8 heads fit 1200 x 900: one figure, layers as rows.
        crate::sink::write_npy_f32(&attn, &[6, 8, 4, 4], &cells(6, 8)).unwrap();
        let p = plan(std::slice::from_ref(&attn), &opts((1200, 900)));
        assert_eq!(names(&p), ["attn.png"]);
        let job = &p.jobs[0];
        assert_eq!(
            (job.grid, job.axes.as_slice(), job.slices.len()),
            (Some((6, 8)), &[0, 1][..], 48)
        );
        assert_eq!(job.slices[9], [1, 1]);
        // 12 x 12 do not: one figure per layer, its heads as panels.
        crate::sink::write_npy_f32(&attn, &[12, 12, 4, 4], &cells(12, 12)).unwrap();
        let p = plan(std::slice::from_ref(&attn), &opts((1200, 900)));
        assert_eq!(p.jobs.len(), 12);
        assert_eq!(names(&p)[..3], ["attn_0.png", "attn_1.png", "attn_2.png"]);
        let job = &p.jobs[3];
        assert_eq!(job.grid, None);
        assert_eq!(job.fixed, 1);
        assert!(job.slices.iter().enumerate().all(|(h, s)| s == &[3, h]));
        let named = vec!["block".to_string(), "head".to_string()];
        assert_eq!(job.panel_title(2, &named), "head 2");
        assert_eq!(job.short_label(&named), "attn.npy \u{b7} block 3");
        // ... unless the figure is large enough for them.
        let p = plan(std::slice::from_ref(&attn), &opts((1600, 1600)));
        assert_eq!(p.jobs.len(), 1);
        // 5-D: asks for --split.
        crate::sink::write_npy_f32(&attn, &[2, 2, 2, 2, 2], &[0.0; 32]).unwrap();
        let p = plan(std::slice::from_ref(&attn), &opts((1200, 900)));
        assert!(p.failed[0].error.contains("--split 0,1,2"), "{:?}", p.failed);
    }

    #[test]
    fn facet_figures_label_rows_and_columns_once() {
        let job = Job {
            source: PathBuf::from("acts.safetensors"),
            tensor: Some("attn".into()),
            axes: vec![0, 1],
            slices: combinations(&[2, 3]),
            grid: Some((2, 3)),
            fixed: 0,
            output: PathBuf::from("x.png"),
            label: String::new(),
        };
        let grids = (0..6)
            .map(|_| GridSource::Memory(Arc::new(Grid::from_fn(4, 4, |r, c| (r * c) as f32).unwrap())))
            .collect();
        let look = FigureLook {
            size: (1200, 900),
            scale: None,
            bare: false,
            titled: false,
            axis_names: vec!["layer".into(), "head".into()],
        };
        let fig = job_figure(&job, grids, &PanelSpec::default(), &look).unwrap();
        assert_eq!(fig.grid, (2, 3));
        assert_eq!(fig.title.as_deref(), Some("acts.safetensors: attn"));
        let titles: Vec<&str> = fig.panels.iter().map(|p| p.title.as_deref().unwrap()).collect();
        assert_eq!(titles, ["head 0", "head 1", "head 2", "", "", ""]);
        let ylabels: Vec<&str> = fig.panels.iter().map(|p| p.y.label.as_deref().unwrap()).collect();
        assert_eq!(ylabels, ["layer 0", "", "", "layer 1", "", ""]);
        // Square maps keep square cells.
        assert!(fig.panels.iter().all(|p| p.aspect == Some(1.0)));
        assert_eq!(fig.colorbar, ColorbarMode::Shared);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_batch() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..7)
            .map(|i| {
                let f = dir.path().join(format!("g{i}.npy"));
                crate::sink::write_npy_f32(&f, &[2, 2], &[i as f32; 4]).unwrap();
                f
            })
            .collect();
        let all = names(&plan(&files, &BatchOptions::default()));
        let mut seen = Vec::new();
        for k in 1..=3 {
            let opts = BatchOptions {
                shard: Some((k, 3)),
                ..Default::default()
            };
            let part = names(&plan(&files, &opts));
            assert!(part.len() == 2 || part.len() == 3, "{part:?}");
            assert!(part.iter().all(|n| !seen.contains(n)), "shards overlap");
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, all);
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "1/-2"] {
            assert!(parse_shard(bad).unwrap_err().to_string().contains("K/N"), "{bad}");
        }
        assert_eq!(parse_shard(" 2/8").unwrap(), (2, 8));
    }

    #[test]
    fn combinations_are_row_major() {
        assert_eq!(
            combinations(&[2, 2]),
            [vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        assert_eq!(combinations(&[]), [Vec::<usize>::new()]);
    }
}
