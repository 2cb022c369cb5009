//! `actmap.runs` and `actmap.compare`: what a directory of runs holds, and
//! the figure of several runs side by side or of the difference of two,
//! drawn by `actmap::export::compare` as `actmap render RUN RUN` draws it.

use std::path::PathBuf;

use actmap::export::compare::{self as cmp, Look, NamedRun};
use actmap::export::runlog::RunFigureOptions;
use actmap::render::spec::PanelSpec;
use actmap::runlog::RunReader;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::figure_options;
use crate::errors::{IntoPy, invalid};
use crate::figure::{Figure, renderer};

/// One channel as `run_info` reports it: name, record shape, records,
/// distinct steps, (first, last) step, last write (Unix s), records lost.
type ChannelRow = (
    String,
    Vec<usize>,
    u64,
    usize,
    Option<(i64, i64)>,
    Option<f64>,
    u64,
);

/// The channels of the run log at `path` (of each rank of a distributed
/// run): `[(rank or None, [channel rows])]`. A channel that cannot be read
/// raises, naming it.
#[pyfunction]
pub fn run_info(py: Python<'_>, path: PathBuf) -> PyResult<Vec<(Option<u32>, Vec<ChannelRow>)>> {
    py.detach(|| -> actmap::Result<_> {
        let targets: Vec<(Option<u32>, PathBuf)> = match actmap::runlog::ranks(&path)? {
            Some(ranks) => ranks
                .into_iter()
                .map(|r| (Some(r), path.join(format!("rank{r}"))))
                .collect(),
            None => vec![(None, path.clone())],
        };
        let mut out = Vec::new();
        for (rank, p) in targets {
            let reader = RunReader::open(&p)?;
            let mut rows = Vec::new();
            for (name, info) in reader.info() {
                let i = info
                    .map_err(|e| actmap::Error::Invalid(format!("{}: channel '{name}': {e}", p.display())))?;
                let s = i.summary;
                rows.push((
                    i.name,
                    i.record_shape,
                    s.rows,
                    s.distinct_steps,
                    s.steps,
                    s.last_write,
                    s.lost,
                ));
            }
            out.push((rank, rows));
        }
        Ok(out)
    })
    .py_err(py)
}

/// The run logs of a collection (a directory of runs), sorted; `None` when
/// `path` is not one.
#[pyfunction]
pub fn collection(py: Python<'_>, path: PathBuf) -> PyResult<Option<Vec<String>>> {
    let runs = py.detach(|| actmap::runlog::collection(&path)).py_err(py)?;
    Ok(runs.map(|r| r.into_iter().map(|p| p.to_string_lossy().into_owned()).collect()))
}

/// The figure of `runs` (`(name, path)` pairs) for the one channel `keys`
/// pick: side by side on one colour scale, or `diff`: the second minus the
/// first. Returns the figure and the notes a difference leaves (steps or
/// columns only one run has).
#[pyfunction]
#[pyo3(signature = (runs, keys, diff, step = None, steps = (None, None), rank = None, kwargs = None))]
#[allow(clippy::too_many_arguments)]
pub fn compare(
    py: Python<'_>,
    runs: Vec<(String, PathBuf)>,
    keys: Vec<String>,
    diff: bool,
    step: Option<i64>,
    steps: (Option<i64>, Option<i64>),
    rank: Option<u32>,
    kwargs: Option<Bound<'_, PyDict>>,
) -> PyResult<(Figure, Vec<String>)> {
    let fig_opts = figure_options(py, kwargs.as_ref(), "compare")?;
    if diff && runs.len() != 2 {
        return Err(invalid(
            py,
            format!("compare(diff=True) draws b − a of two runs; {} given", runs.len()),
        ));
    }
    if runs.is_empty() {
        return Err(invalid(py, "compare(): no runs given"));
    }
    let template = PanelSpec::from_options(&fig_opts, "", fig_opts.title.clone()).py_err(py)?;
    let look = Look::of(&fig_opts);
    let opts = RunFigureOptions {
        keys,
        steps,
        step,
        split: false,
        transpose: fig_opts.panel.transpose,
    };
    let renderer = renderer(py)?;
    let (rendered, notes) = py
        .detach(|| -> actmap::Result<_> {
            let mut readers = Vec::with_capacity(runs.len());
            for (name, path) in runs {
                let p = actmap::runlog::rank_path(&path, rank)?;
                let reader =
                    RunReader::open(&p).map_err(|e| actmap::Error::Invalid(format!("run '{name}': {e}")))?;
                readers.push(NamedRun { name, reader });
            }
            let (mut groups, failed) = cmp::plan(&readers, &opts);
            if let Some((what, e)) = failed.into_iter().next() {
                return Err(actmap::Error::Invalid(format!("{what}: {e}")));
            }
            if diff {
                groups.retain(|g| g.members.len() == 2);
            }
            let group = match groups.as_slice() {
                [one] => one,
                [] => {
                    return Err(actmap::Error::Invalid(format!(
                        "no channel to draw{}{}",
                        if diff { " that both runs have" } else { "" },
                        if opts.keys.is_empty() {
                            String::new()
                        } else {
                            format!(" matches key={}", opts.keys.join(","))
                        }
                    )));
                }
                many => {
                    let names: Vec<String> = many.iter().map(|g| format!("'{}'", g.job.channel)).collect();
                    return Err(actmap::Error::Invalid(format!(
                        "key= picks one channel to draw; the runs hold {}",
                        names.join(", ")
                    )));
                }
            };
            let (fig, notes) = if diff {
                cmp::diff(&readers[0], &readers[1], group, &template, &opts, &look)?
            } else {
                let missing = cmp::missing(&readers, group);
                let notes = if missing.is_empty() {
                    Vec::new()
                } else {
                    vec![format!(
                        "channel '{}': not in run{} {}; left out",
                        group.job.channel,
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    )]
                };
                (
                    cmp::side_by_side(&readers, group, &template, &opts, &look)?,
                    notes,
                )
            };
            Ok((renderer.render_figure(&fig)?, notes))
        })
        .py_err(py)?;
    Ok((Figure::from_rendered(rendered), notes))
}
