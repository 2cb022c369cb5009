//! `actmap render` over many inputs: one PNG per file, tensor or slice,
//! with a progress bar, resume (existing outputs are skipped) and a summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use actmap::Renderer;
use actmap::export::batch::{self, BatchOptions, Job};
use actmap::layout::GridSource;

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

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let b = a.batch_args()?;
    let template = batch_panel(&a)?;
    // `-o fig.png` names the one figure of a batch that makes one (a 3-D
    // array as panels); several figures need a directory.
    let png_out = b
        .out
        .filter(|o| o.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) && !o.is_dir());
    let out_dir: PathBuf = match (png_out, b.out) {
        (Some(o), _) => o.parent().map(Path::to_path_buf).unwrap_or_default(),
        (None, Some(o)) => o.to_path_buf(),
        (None, None) => PathBuf::from("."),
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
        axis_names: b.axis_names.to_vec(),
        figure_size: b.size.unwrap_or((1200, 900)),
        figure_scale: b.scale,
        shard: b.shard,
    };
    let mut plan = batch::plan(&files, &opts);
    let early = early
        .into_iter()
        .enumerate()
        .filter(|(i, _)| b.shard.is_none_or(|s| batch::in_shard(*i, s)))
        .map(|(_, f)| f);
    plan.failed.splice(0..0, early);
    if let Some(o) = png_out {
        match plan.jobs.as_mut_slice() {
            [one] => one.output = o.to_path_buf(),
            jobs => anyhow::bail!(
                "{}: several figures need an output directory, not a .png file ({} figures)",
                o.display(),
                jobs.len()
            ),
        }
    }
    for s in &plan.skipped {
        eprintln!("actmap: {}: {}", s.what, s.error);
    }
    if plan.jobs.is_empty() && plan.failed.is_empty() {
        anyhow::bail!(
            "nothing to render: no supported files (.npy, .npz, .safetensors, .csv, .tsv) in the inputs"
        );
    }
    // A target that cannot be written is refused before the GPU starts.
    actmap::sink::prepare_out_dir(&opts.out_dir)?;
    let renderer = Renderer::new()?;
    let _ = ctrlc::set_handler(|| CANCEL.store(true, Ordering::SeqCst));

    let look = batch::FigureLook {
        size: b.size.unwrap_or((1200, 900)),
        scale: b.scale,
        bare: b.bare,
        titled: b.titled,
        axis_names: opts.axis_names.clone(),
    };
    let build = |job: &Job, grids: Vec<GridSource>| batch::job_figure(job, grids, &template, &look);

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
    if !b.quiet || (!summary.failed.is_empty() && summary.stopped.is_none()) {
        eprintln!("{}", summary.line());
    }
    for f in &summary.failed {
        eprintln!("  failed: {}: {}", f.what, f.error);
    }
    if let Some(f) = &summary.stopped {
        anyhow::bail!(
            "writing {} stopped the batch: {}; {} of {} figures are done, the rest are not; \
             run the same command again once the disk has room (finished figures are skipped)",
            f.what,
            f.error,
            summary.rendered + summary.skipped,
            summary.total
        );
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
