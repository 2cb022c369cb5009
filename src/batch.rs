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
use crate::input::{self, Grid, GridSelect, LoadOptions, Tensor};
use crate::layout::Figure;
use crate::render::Renderer;

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
}

/// One figure to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The file.
    pub source: PathBuf,
    /// The tensor inside it (multi-tensor files).
    pub tensor: Option<String>,
    /// Split indices, one entry per panel (an empty entry: no split).
    pub slices: Vec<Vec<usize>>,
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

/// An error's message without the file name (the failure already names it).
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
            let slices = if opts.split.is_empty() {
                if shape.len() > 2 {
                    plan.failed.push(Failure {
                        what,
                        error: format!(
                            "shape {:?} is {}-D: pick slices with --split 0 (one figure per index of axis 0)",
                            shape,
                            shape.len()
                        ),
                    });
                    continue;
                }
                vec![Vec::new()]
            } else {
                let bad_axis = opts.split.iter().find(|&&a| a >= shape.len());
                if let Some(a) = bad_axis {
                    plan.failed.push(Failure {
                        what,
                        error: format!("--split axis {a} does not exist in shape {shape:?}"),
                    });
                    continue;
                }
                if shape.len() - opts.split.len() > 2 {
                    plan.failed.push(Failure {
                        what,
                        error: format!(
                            "--split {:?} leaves {} dimensions of shape {shape:?}; split more axes",
                            opts.split,
                            shape.len() - opts.split.len()
                        ),
                    });
                    continue;
                }
                let dims: Vec<usize> = opts.split.iter().map(|&a| shape[a]).collect();
                combinations(&dims)
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
            let groups: Vec<Vec<Vec<usize>>> = if opts.panels {
                vec![slices]
            } else {
                slices.into_iter().map(|s| vec![s]).collect()
            };
            for g in groups {
                let suffix = match g.as_slice() {
                    [one] if !one.is_empty() => {
                        format!(
                            "_{}",
                            one.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("_")
                        )
                    }
                    _ => String::new(),
                };
                let label = match g.as_slice() {
                    [one] if !one.is_empty() => format!("{what} {one:?}"),
                    _ => what.clone(),
                };
                raw.push((
                    fi,
                    Job {
                        source: file.clone(),
                        tensor: name.clone(),
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
    plan
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

/// Figure builder: the job and its grids (one per panel) -> a figure.
pub type BuildFigure<'a> = dyn Fn(&Job, Vec<Grid>) -> Result<Figure> + Sync + 'a;

fn load_job(
    job: &Job,
    opts: &BatchOptions,
    cache: &mut Option<(PathBuf, Option<String>, Arc<Tensor>)>,
) -> Result<Vec<Grid>> {
    let select = GridSelect {
        index: Vec::new(),
        transpose: opts.transpose,
    };
    // An unsplit tensor is used once: no cache, no copy.
    if let [only] = job.slices.as_slice()
        && only.is_empty()
    {
        let t = input::load_tensor(&job.source, job.tensor.as_deref(), &opts.load)?;
        return Ok(vec![t.into_grid(&select)?]);
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
    job.slices
        .iter()
        .map(|s| {
            if s.is_empty() {
                (*tensor).clone().into_grid(&select)
            } else {
                tensor.slice_axes(&opts.split, s)?.into_grid(&select)
            }
        })
        .collect()
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
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::io(&opts.out_dir, e))?;
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
        let (load_tx, load_rx) = sync_channel::<(usize, Result<Vec<Grid>>)>(2);
        let (enc_tx, enc_rx) = sync_channel::<(usize, image::RgbaImage)>(encoders * 2);
        let enc_rx = Arc::new(Mutex::new(enc_rx));
        let (done_tx, done_rx) = channel::<(usize, Result<()>)>();
        let todo = &todo;
        s.spawn(move || {
            let mut cache = None;
            for &i in todo {
                if cancel.load(Ordering::Relaxed) {
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
                Err(e) => summary.failed.push(Failure {
                    what: plan.jobs[i].label.clone(),
                    error: detail(&e),
                }),
            }
            summary.elapsed = start.elapsed();
            progress(summary, &plan.jobs[i]);
        };
        for (i, grids) in load_rx.iter() {
            if cancel.load(Ordering::Relaxed) {
                break;
            }
            let rendered = grids
                .and_then(|g| build(&plan.jobs[i], g))
                .and_then(|fig| renderer.render_figure(&fig));
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
        // A 3-D array without --split is refused with advice; with it, one job per slice.
        let p = plan(&[a.join("cube.npy")], &opts);
        assert!(p.jobs.is_empty() && p.failed[0].error.contains("--split 0"));
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

    #[test]
    fn combinations_are_row_major() {
        assert_eq!(
            combinations(&[2, 2]),
            [vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        assert_eq!(combinations(&[]), [Vec::<usize>::new()]);
    }
}
