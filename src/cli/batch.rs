//! `actmap render` over many inputs: one PNG per file, tensor or slice,
//! with a progress bar, resume (existing outputs are skipped) and a summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use actmap::batch::{self, BatchOptions, Job};
use actmap::layout::{ColorbarMode, Figure};
use actmap::{Grid, Renderer};

use super::render::{RenderArgs, batch_panel};

/// Set by Ctrl-C: the batch stops after the work in flight.
static CANCEL: AtomicBool = AtomicBool::new(false);

/// The batch was stopped by Ctrl-C (exit code 130).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; run the same command again to resume (finished figures are kept)")
    }
}

impl std::error::Error for Interrupted {}

fn short_label(job: &Job) -> String {
    let file = job
        .source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s = match &job.tensor {
        Some(t) => format!("{file}: {t}"),
        None => file,
    };
    if let [one] = job.slices.as_slice()
        && !one.is_empty()
    {
        s.push_str(&format!(" {one:?}"));
    }
    s
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let b = a.batch_args()?;
    let template = batch_panel(&a)?;
    let out_dir: PathBuf = match b.out {
        Some(o) if o.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) && !o.is_dir() => {
            anyhow::bail!(
                "{}: several figures need an output directory, not a .png file",
                o.display()
            )
        }
        Some(o) => o.to_path_buf(),
        None => PathBuf::from("."),
    };
    let (files, early) = batch::expand_inputs(b.inputs);
    let opts = BatchOptions {
        out_dir,
        keys: b.keys.to_vec(),
        split: b.split.to_vec(),
        panels: b.panels,
        force: b.force,
        jobs: b.jobs,
        transpose: b.transpose,
        load: b.load.clone(),
    };
    let mut plan = batch::plan(&files, &opts);
    plan.failed.splice(0..0, early);
    for s in &plan.skipped {
        eprintln!("actmap: {}: {}", s.what, s.error);
    }
    if plan.jobs.is_empty() && plan.failed.is_empty() {
        anyhow::bail!(
            "nothing to render: no supported files (.npy, .npz, .safetensors, .csv, .tsv) in the inputs"
        );
    }
    let renderer = Renderer::new()?;
    let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst));

    let (w, h) = b.size.unwrap_or((1200, 900));
    let build = |job: &Job, grids: Vec<Grid>| -> actmap::Result<Figure> {
        let mut panels = Vec::with_capacity(grids.len());
        let several = grids.len() > 1;
        for (grid, slice) in grids.into_iter().zip(&job.slices) {
            let mut spec = template.clone();
            if several {
                spec.title = Some(format!("{slice:?}"));
            } else if !b.titled {
                spec.title = Some(short_label(job));
            }
            panels.push(spec.build_with_grid(grid, &job.source, Path::new(""))?);
        }
        let n = panels.len();
        let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
        let rows = n.div_ceil(cols);
        Ok(Figure {
            width: w,
            height: h,
            scale: b.scale,
            title: several.then(|| short_label(job)),
            grid: (rows, cols),
            panels,
            colorbar: if several {
                ColorbarMode::Shared
            } else {
                ColorbarMode::PerPanel
            },
            background: [255, 255, 255, 255],
            bare: b.bare,
        })
    };

    let terminal = std::io::stderr().is_terminal();
    let bar = (!b.quiet && terminal).then(|| {
        let bar = indicatif::ProgressBar::new((plan.jobs.len() + plan.failed.len()) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} figures  {rate}  ETA {eta}  {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.1}/s", s.per_sec());
                },
            ),
        );
        bar
    });
    let total = plan.jobs.len() + plan.failed.len();
    let mut last_failed = plan.failed.len();
    let mut progress = |s: &batch::Summary, job: &Job| {
        if let Some(bar) = &bar {
            bar.set_position(s.done() as u64);
            bar.set_message(job.output.display().to_string());
        } else if !b.quiet {
            let status = if s.failed.len() > last_failed {
                "failed"
            } else {
                "ok"
            };
            eprintln!("[{}/{total}] {status} {}", s.done(), job.output.display());
        }
        last_failed = s.failed.len();
    };
    let summary = batch::run(&renderer, &plan, &opts, &build, &CANCEL, &mut progress)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if !b.quiet || !summary.failed.is_empty() {
        eprintln!("{}", summary.line());
    }
    for f in &summary.failed {
        eprintln!("  failed: {}: {}", f.what, f.error);
    }
    if summary.interrupted {
        return Err(Interrupted.into());
    }
    if !summary.failed.is_empty() {
        anyhow::bail!(
            "{} of {} inputs failed (listed above)",
            summary.failed.len(),
            summary.total
        );
    }
    Ok(())
}
