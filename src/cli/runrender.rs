//! `actmap render RUN`: figures of a run log. `-o fig.png` draws the
//! channels picked as panels of one figure; a directory (or no `-o`) gets
//! one PNG per channel (per step with `--split` for 2-D records).

use std::path::{Path, PathBuf};
use std::time::Instant;

use actmap::Renderer;
use actmap::export::batch::wildcard_match;
use actmap::export::compare::{self, Group, Look, NamedRun};
use actmap::export::runlog::{self, RunFigureOptions, RunJob};
use actmap::export::shards;
use actmap::layout::Figure;
use actmap::runlog::RunReader;

use super::render::{RenderArgs, batch_panel};

/// `--rank`: one rank, or every rank as panels.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rank {
    One(u32),
    All,
}

fn parse_rank(s: &Option<String>) -> anyhow::Result<Option<Rank>> {
    match s.as_deref() {
        None => Ok(None),
        Some("all") => Ok(Some(Rank::All)),
        Some(n) => n
            .parse()
            .map(|r| Some(Rank::One(r)))
            .map_err(|_| anyhow::anyhow!("--rank takes a rank (0, 1, ...) or 'all', got '{n}'")),
    }
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The run logs a figure draws, with the name each is shown by: every
/// run given, the runs of each collection given (picked by `--runs`), or
/// the ranks of one distributed run (`--rank all`).
fn sources(a: &RenderArgs) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let rank = parse_rank(&a.rank)?;
    let mut runs = Vec::new();
    for p in a.input_paths() {
        if let Some(members) = actmap::runlog::collection(p)? {
            runs.extend(members.into_iter().map(|r| (base_name(&r), r)));
        } else if actmap::runlog::is_run_log(p) {
            runs.push((base_name(p), p.clone()));
        } else {
            anyhow::bail!(
                "{}: not a run log or a directory of runs; a run log renders with other run logs only",
                p.display()
            );
        }
    }
    if !a.runs.is_empty() {
        runs.retain(|(n, _)| a.runs.iter().any(|pat| wildcard_match(pat, n)));
        if runs.is_empty() {
            anyhow::bail!("no run matches --runs {}", a.runs.join(","));
        }
    }
    match rank {
        Some(Rank::All) => {
            let [(name, run)] = &runs[..] else {
                anyhow::bail!("--rank all draws the ranks of one run; {} runs given", runs.len());
            };
            let Some(ranks) = actmap::runlog::ranks(run)? else {
                anyhow::bail!(
                    "{}: --rank all: a single-process run log (rank 0 only)",
                    run.display()
                );
            };
            if ranks.is_empty() {
                anyhow::bail!("{}: a distributed run with no rank written yet", run.display());
            }
            let _ = name;
            Ok(ranks
                .into_iter()
                .map(|r| (format!("rank {r}"), run.join(format!("rank{r}"))))
                .collect())
        }
        rank => {
            let one = match rank {
                Some(Rank::One(r)) => Some(r),
                _ => None,
            };
            runs.into_iter()
                .map(|(n, p)| Ok((n, actmap::runlog::rank_path(&p, one)?)))
                .collect()
        }
    }
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    if let Some(flag) = a.not_for_runs() {
        anyhow::bail!(
            "{flag} does not apply to a run log; pick channels with --key and steps with --steps/--step"
        );
    }
    let b = a.batch_args()?;
    let runs = sources(&a)?;
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
    if runs.len() > 1 || a.diff {
        return compare(&runs, &b, &a.fig, &opts, &template, a.diff, t0);
    }
    let run = runs.into_iter().next().map(|(_, p)| p).unwrap_or_default();
    let reader = RunReader::open(&run)?;
    // A distributed run drawn whole: channels sharded across its ranks
    // (tensor parallel) are drawn as one row.
    let root = a.input_paths().first().cloned().unwrap_or_default();
    let sharded = if a.rank.is_none() {
        shards::sharded(&root)?
    } else {
        Vec::new()
    };
    let draw_panel = |job: &RunJob| -> actmap::Result<actmap::layout::Panel> {
        match sharded.iter().find(|s| s.name == job.channel) {
            Some(sh) if job.step.is_none() => {
                let (panel, notes) = shards::panel(sh, &template, &opts, &root)?;
                for n in notes {
                    eprintln!("actmap: note: {n}");
                }
                Ok(panel)
            }
            _ => runlog::panel(&reader, job, &template, &opts),
        }
    };
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
    let look = Look::of(&a.fig);
    let renderer = Renderer::new()?;
    let one_file = b
        .out
        .filter(|o| o.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) && !o.is_dir());
    let mut errors = failed.len();
    if let Some(out) = one_file {
        actmap::sink::check_out_file(out)?;
        let mut panels = Vec::with_capacity(jobs.len());
        for job in &jobs {
            panels.push(draw_panel(job)?);
        }
        let fig = compare::figure_of(panels, &look);
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
            let r = draw_panel(job)
                .and_then(|p| renderer.render_figure_png(&compare::figure_of(vec![p], &look), &out));
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

/// Several runs (or ranks): for each channel picked, one figure with a
/// panel per run that has it, titled by the run, on one colour scale; or
/// with `--diff`, the figure of B − A.
fn compare(
    runs: &[(String, PathBuf)],
    b: &super::render::BatchArgs<'_>,
    fig: &actmap::options::FigureOptions,
    opts: &RunFigureOptions,
    template: &actmap::render::spec::PanelSpec,
    diff: bool,
    t0: Instant,
) -> anyhow::Result<()> {
    if diff && runs.len() != 2 {
        let names: Vec<&str> = runs.iter().map(|(n, _)| n.as_str()).collect();
        anyhow::bail!(
            "--diff draws B − A of two runs; {} given ({}): name two, or pick two with --runs",
            runs.len(),
            names.join(", ")
        );
    }
    let mut readers = Vec::with_capacity(runs.len());
    for (name, path) in runs {
        let reader = RunReader::open(path).map_err(|e| anyhow::anyhow!("run '{name}': {e}"))?;
        readers.push(NamedRun {
            name: name.clone(),
            reader,
        });
    }
    let (mut groups, failed) = compare::plan(&readers, opts);
    for (i, run) in readers.iter().enumerate() {
        let drawn = groups.iter().filter(|g| g.members.contains(&i));
        damage_warnings(&run.reader, drawn.map(|g| g.job.channel.as_str()));
    }
    let mut errors = failed.len();
    for (what, e) in &failed {
        eprintln!("actmap: error: {what}: {e}");
    }
    if diff {
        // Only the channels both runs have can be subtracted.
        groups.retain(|g| g.members.len() == 2);
    }
    if groups.is_empty() {
        anyhow::bail!(
            "no channel to draw in {} runs{}{}",
            readers.len(),
            if diff { " that both runs have" } else { "" },
            if opts.keys.is_empty() {
                String::new()
            } else {
                format!(" matches --key {}", opts.keys.join(","))
            }
        );
    }
    if !diff {
        for g in &groups {
            let missing = compare::missing(&readers, g);
            if !missing.is_empty() {
                eprintln!(
                    "actmap: warning: {}: not in run{} {}; left out",
                    label(&g.job),
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", ")
                );
            }
        }
    }
    let look = Look::of(fig);
    let renderer = Renderer::new()?;
    let one_file = b
        .out
        .filter(|o| o.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) && !o.is_dir());
    if one_file.is_some() && groups.len() > 1 {
        let names: Vec<String> = groups.iter().take(4).map(|g| label(&g.job)).collect();
        anyhow::bail!(
            "{} channels to draw ({}{}) and -o names one PNG: pick one with --key, or give -o DIR for a figure each",
            groups.len(),
            names.join(", "),
            if groups.len() > 4 { ", ..." } else { "" }
        );
    }
    let draw = |g: &Group| -> actmap::Result<Figure> {
        if diff {
            let (fig, notes) = compare::diff(&readers[0], &readers[1], g, template, opts, &look)?;
            for n in notes {
                eprintln!("actmap: note: {n}");
            }
            Ok(fig)
        } else {
            compare::side_by_side(&readers, g, template, opts, &look)
        }
    };
    let mut written = 0;
    if let Some(out) = one_file {
        actmap::sink::check_out_file(out)?;
        renderer.render_figure_png(&draw(&groups[0])?, out)?;
        written += 1;
        if !b.quiet {
            eprintln!("wrote {}", out.display());
        }
    } else {
        let dir: PathBuf = b.out.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        for g in &groups {
            let stem = if diff {
                format!("{}_diff", g.job.stem)
            } else {
                g.job.stem.clone()
            };
            let out = dir.join(format!("{stem}.png"));
            if out.exists() && !b.force {
                continue;
            }
            match draw(g).and_then(|f| renderer.render_figure_png(&f, &out)) {
                Ok(_) => {
                    written += 1;
                    if !b.quiet {
                        eprintln!("wrote {}", out.display());
                    }
                }
                Err(e) => {
                    errors += 1;
                    eprintln!("actmap: error: {}: {e}", label(&g.job));
                }
            }
        }
    }
    if !b.quiet {
        eprintln!(
            "{written} figures of {} runs in {:.2} s",
            readers.len(),
            t0.elapsed().as_secs_f64()
        );
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
