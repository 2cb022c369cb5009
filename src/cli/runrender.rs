//! `actmap render RUN`: figures of a run log. `-o fig.png` draws the
//! channels picked as panels of one figure; a directory (or no `-o`) gets
//! one PNG per channel (per step with `--split` for 2-D records).

use std::path::{Path, PathBuf};
use std::time::Instant;

use actmap::Renderer;
use actmap::export::runlog::{self, RunFigureOptions, RunJob};
use actmap::layout::{ColorbarMode, Figure};
use actmap::runlog::RunReader;

use super::render::{RenderArgs, batch_panel};

fn figure(panels: Vec<actmap::layout::Panel>, w: u32, h: u32, scale: Option<f32>, bare: bool) -> Figure {
    let n = panels.len();
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols).max(1);
    Figure {
        width: w,
        height: h,
        scale,
        title: None,
        grid: (rows, cols),
        panels,
        colorbar: ColorbarMode::PerPanel,
        background: [255, 255, 255, 255],
        bare,
    }
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let run = a.run_log().map(Path::to_path_buf).unwrap_or_default();
    if let Some(flag) = a.not_for_runs() {
        anyhow::bail!(
            "{flag} does not apply to a run log; pick channels with --key and steps with --steps/--step"
        );
    }
    let b = a.batch_args()?;
    if b.inputs.len() > 1 {
        anyhow::bail!(
            "render one run log at a time ({} inputs given, {} is a run log)",
            b.inputs.len(),
            run.display()
        );
    }
    let run = actmap::runlog::rank_path(&run, a.rank)?;
    let (steps, step) = a.step_args();
    if !b.split.is_empty() && b.split != [0] {
        anyhow::bail!("a run log splits its 2-D records by step only: --split (or --split 0)");
    }
    if !b.split.is_empty() && step.is_some() {
        anyhow::bail!("--split draws every step; --step picks one: give one of them");
    }
    let opts = RunFigureOptions {
        keys: b.keys.to_vec(),
        steps: steps
            .map(runlog::parse_steps)
            .transpose()?
            .unwrap_or((None, None)),
        step,
        split: !b.split.is_empty(),
        transpose: b.transpose,
    };
    let template = batch_panel(&a)?;
    let reader = RunReader::open(&run)?;
    let (jobs, failed) = runlog::plan(&reader, &opts);
    for (what, e) in &failed {
        eprintln!("actmap: error: {what}: {e}");
    }
    damage_warnings(&reader, jobs.iter().map(|j| j.channel.as_str()));
    if jobs.is_empty() {
        if failed.is_empty() {
            anyhow::bail!("{}: the run log has no channels yet", run.display());
        }
        anyhow::bail!("nothing to render ({} failed)", failed.len());
    }
    let (w, h) = b.size.unwrap_or((1200, 900));
    let renderer = Renderer::new()?;
    let one_file = b
        .out
        .filter(|o| o.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) && !o.is_dir());
    let mut errors = failed.len();
    if let Some(out) = one_file {
        let mut panels = Vec::with_capacity(jobs.len());
        for job in &jobs {
            panels.push(runlog::panel(&reader, job, &template, &opts)?);
        }
        let fig = figure(panels, w, h, b.scale, b.bare);
        renderer.render_figure_png(&fig, out)?;
        if !b.quiet {
            eprintln!("wrote {}", out.display());
        }
    } else {
        let dir: PathBuf = b.out.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let mut skipped = 0;
        for job in &jobs {
            let out = dir.join(format!("{}.png", job.stem));
            if out.exists() && !b.force {
                skipped += 1;
                continue;
            }
            let r = runlog::panel(&reader, job, &template, &opts)
                .and_then(|p| renderer.render_figure_png(&figure(vec![p], w, h, b.scale, b.bare), &out));
            match r {
                Ok(_) if !b.quiet => eprintln!("wrote {}", out.display()),
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    eprintln!("actmap: error: {}: {e}", label(job));
                }
            }
        }
        if skipped > 0 && !b.quiet {
            eprintln!("skipped {skipped} figures that exist (--force redraws them)");
        }
    }
    if !b.quiet {
        eprintln!("{} figures in {:.2} s", jobs.len(), t0.elapsed().as_secs_f64());
    }
    if errors > 0 {
        anyhow::bail!("{errors} channels failed (listed above)");
    }
    Ok(())
}

/// One warning line per damaged channel drawn (and for the run's own
/// metadata): the figure shows the records that can be read.
fn damage_warnings<'a>(reader: &RunReader, channels: impl Iterator<Item = &'a str>) {
    for d in reader.damage() {
        eprintln!("actmap: warning: {}: {}", d.file.display(), d.why);
    }
    let mut said = std::collections::HashSet::new();
    let mut any = false;
    for name in channels {
        if !said.insert(name) {
            continue;
        }
        if let Some(note) = reader.channel(name).ok().and_then(|c| c.damage_note()) {
            eprintln!("actmap: warning: {}: {note}", reader.path().display());
            any = true;
        }
    }
    if any || !reader.damage().is_empty() {
        eprintln!(
            "actmap: warning: the figures show lost records as NaN at their steps; `actmap repair {}` rewrites the run keeping every readable record",
            reader.path().display()
        );
    }
}

fn label(job: &RunJob) -> String {
    match job.step {
        Some(s) => format!("channel '{}' step {s}", job.channel),
        None => format!("channel '{}'", job.channel),
    }
}
