//! Figures of a run log: one heatmap per channel with the training steps as
//! true coordinates (uneven logging intervals at their positions, as
//! `--y-coords` places rows), or for a channel of 2-D records, the record of
//! one step.
//!
//! [`plan`] picks channels (`--key`), steps (`--steps A:B`) and, for 2-D
//! channels, the records to draw (the latest, `--step N`, or every step with
//! `--split`); [`panel`] builds each figure's panel from a template
//! [`PanelSpec`] (the command line's colour, norm and label options), so a
//! run log draws exactly as the same data from `.npy` files would.

use std::path::Path;

use crate::error::{Error, Result};
use crate::export::batch::wildcard_match;
use crate::input::{Grid, RowSource};
use crate::layout::{GridSource, Panel, RowSourceFactory, StreamFormat, StreamedGrid};
use crate::options::CoordsSpec;
use crate::render::spec::{AxisSpec, PanelSpec};
use crate::render::stream::{Policy, STREAM_MIN_BYTES};
use crate::runlog::{ChannelReader, RunReader, StepIndex};
use std::sync::Arc;

/// Most values a channel drawn in memory may have (a larger one streams).
pub const MAX_IN_MEMORY_VALUES: usize = 1 << 28;

/// What to draw from a run log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFigureOptions {
    /// Channel name patterns (`*`, `?`); empty: every channel.
    pub keys: Vec<String>,
    /// Only steps in `lo..=hi` (either end open).
    pub steps: (Option<i64>, Option<i64>),
    /// 2-D channels: the record of this step (default: the latest).
    pub step: Option<i64>,
    /// 2-D channels: one figure per step.
    pub split: bool,
    /// Steps along x instead of y.
    pub transpose: bool,
}

/// One figure to draw: a channel, and for a 2-D channel the step.
#[derive(Clone, Debug, PartialEq)]
pub struct RunJob {
    /// Channel name.
    pub channel: String,
    /// The step of the 2-D record drawn.
    pub step: Option<i64>,
    /// A file name for it, without extension (`blocks.0_attn_step1500`).
    pub stem: String,
}

/// Parse `A:B`, `A:`, `:B` or `A` (one step) into a step range.
pub fn parse_steps(s: &str) -> Result<(Option<i64>, Option<i64>)> {
    let bad = || {
        Error::Invalid(format!(
            "bad --steps '{s}': expected A:B, A:, :B or A (integers), e.g. 0:20000"
        ))
    };
    let num = |t: &str| -> Result<Option<i64>> {
        let t = t.trim();
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse().map(Some).map_err(|_| bad())
        }
    };
    let (lo, hi) = match s.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let v = num(s)?.ok_or_else(bad)?;
            (Some(v), Some(v))
        }
    };
    if let (Some(a), Some(b)) = (lo, hi)
        && a > b
    {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn stem_of(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_matches('.')
        .to_string()
}

/// The channels and records to draw, in channel order; a channel that
/// cannot be read is an error in the second list, and the rest go on.
pub fn plan(reader: &RunReader, opts: &RunFigureOptions) -> (Vec<RunJob>, Vec<(String, Error)>) {
    let (mut jobs, mut failed) = (Vec::new(), Vec::new());
    let names: Vec<&String> = reader
        .channel_names()
        .iter()
        .filter(|n| opts.keys.is_empty() || opts.keys.iter().any(|k| wildcard_match(k, n)))
        .collect();
    for name in names {
        let result = (|| -> Result<()> {
            let c = reader.channel(name)?;
            match c.record_shape().len() {
                1 => {
                    jobs.push(RunJob {
                        channel: name.clone(),
                        step: None,
                        stem: stem_of(name),
                    });
                }
                2 => {
                    let index = c.step_index()?.range(opts.steps.0, opts.steps.1);
                    let steps: Vec<i64> = if opts.split {
                        index.steps().to_vec()
                    } else if let Some(s) = opts.step {
                        if index.position(s).is_none() {
                            return Err(Error::Invalid(format!(
                                "channel '{name}' has no record at step {s}{}",
                                match index.steps() {
                                    [] => String::new(),
                                    st => format!(" (steps {} .. {})", st[0], st[st.len() - 1]),
                                }
                            )));
                        }
                        vec![s]
                    } else {
                        index.steps().last().copied().into_iter().collect()
                    };
                    if steps.is_empty() {
                        return Err(Error::Invalid(format!(
                            "channel '{name}' has no records in the steps asked"
                        )));
                    }
                    let several = steps.len() > 1 || opts.split;
                    for s in steps {
                        jobs.push(RunJob {
                            channel: name.clone(),
                            step: Some(s),
                            stem: if several {
                                format!("{}_step{s}", stem_of(name))
                            } else {
                                stem_of(name)
                            },
                        });
                    }
                }
                n => {
                    return Err(Error::Invalid(format!(
                        "channel '{name}' has {n}-D records; actmap draws 1-D and 2-D records"
                    )));
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            failed.push((name.clone(), e));
        }
    }
    if jobs.is_empty() && failed.is_empty() && !opts.keys.is_empty() {
        failed.push((
            reader.path().display().to_string(),
            Error::Invalid(format!(
                "no channel matches --key {} (channels: {})",
                opts.keys.join(","),
                reader.channel_names().join(", ")
            )),
        ));
    }
    (jobs, failed)
}

pub(crate) fn axis(template: &Option<AxisSpec>, label: &str, coords: Option<Vec<f64>>) -> Option<AxisSpec> {
    let mut a = template.clone().unwrap_or_default();
    if a.label.is_none() {
        a.label = Some(label.to_string());
    }
    if let Some(c) = coords {
        a.coords = Some(CoordsSpec::Values(c));
    }
    Some(a)
}

/// The rows of a 1-D channel in step order within `steps`, in memory.
fn rows_in_memory(c: &ChannelReader, index: StepIndex) -> Result<Grid> {
    let (n, cols) = (index.len(), c.record_len());
    if n.saturating_mul(cols) > MAX_IN_MEMORY_VALUES {
        return Err(Error::Invalid(format!(
            "channel '{}': {n} steps x {cols} values is too large to draw in memory; pick steps with --steps A:B",
            c.name()
        )));
    }
    let mut src = c.row_source(index);
    let mut data = Vec::with_capacity(n * cols);
    let mut buf = Vec::new();
    while src.read_rows((4 << 20) / 4 / cols.max(1) + 1, &mut buf)? > 0 {
        data.extend_from_slice(&buf);
    }
    Grid::new(n, cols, data)
}

/// Whether a panel of `n x cols` values streams: a plain heatmap of 64 MiB
/// of values or more (or as `ACTMAP_STREAM` says).
pub(crate) fn streams(spec: &PanelSpec, n: usize, cols: usize) -> bool {
    let kind = spec.options.kind.as_deref().unwrap_or("heatmap");
    if !kind.eq_ignore_ascii_case("heatmap") || spec.options.annotate.is_some() {
        return false;
    }
    let bytes = (n as u64).saturating_mul(cols as u64).saturating_mul(4);
    match Policy::from_env() {
        Policy::Never => false,
        Policy::Auto => bytes >= STREAM_MIN_BYTES,
        Policy::Always => true,
    }
}

/// A 1-D channel's rows within `index` as a streamed grid, read a block of
/// chunks at a time by the out-of-core passes (bounded memory however long
/// the run), when the streaming policy says so (64 MiB of values or more,
/// or `ACTMAP_STREAM`) and the panel draws a plain heatmap.
fn streamed_channel(
    c: &ChannelReader,
    index: &StepIndex,
    spec: &PanelSpec,
    path: &Path,
) -> Option<StreamedGrid> {
    let (n, cols) = (index.len(), c.record_len());
    if !streams(spec, n, cols) {
        return None;
    }
    let (channel, index) = (c.clone(), index.clone());
    let open: RowSourceFactory =
        Arc::new(move || -> Result<Box<dyn RowSource>> { Ok(Box::new(channel.row_source(index.clone()))) });
    let name = format!("{}: channel '{}'", path.display(), c.name());
    Some(StreamedGrid::new(
        c.dir(),
        StreamFormat::rows(name, open),
        n,
        cols,
    ))
}

/// The panel of one job, from `template` (title, labels and coordinates
/// the template leaves unset come from the run: the channel name, `step`,
/// `column`, the steps).
pub fn panel(
    reader: &RunReader,
    job: &RunJob,
    template: &PanelSpec,
    opts: &RunFigureOptions,
) -> Result<Panel> {
    let c = reader.channel(&job.channel)?;
    let mut spec = template.clone();
    spec.input = c.dir().display().to_string();
    let labels = c.column_labels().map(<[String]>::to_vec);
    let path: &Path = reader.path();
    match job.step {
        None => {
            let index = c.step_index()?.range(opts.steps.0, opts.steps.1);
            if index.is_empty() {
                return Err(Error::Invalid(format!(
                    "channel '{}' has no records in the steps asked",
                    job.channel
                )));
            }
            let steps: Vec<f64> = index.steps().iter().map(|&s| s as f64).collect();
            if spec.title.is_none() {
                spec.title = Some(job.channel.clone());
            }
            // One rank's slice of a sharded row sits at its columns.
            let shard = || c.columns().map(|r| r.map(|x| x as f64).collect::<Vec<f64>>());
            if let Some(streamed) = streamed_channel(&c, &index, &spec, path) {
                let streamed = if opts.transpose {
                    spec.x = axis(&template.x, "step", Some(steps));
                    spec.y = axis(&template.y, "column", shard());
                    streamed.transpose()
                } else {
                    spec.x = axis(&template.x, "column", shard());
                    spec.y = axis(&template.y, "step", Some(steps));
                    streamed
                };
                let source = GridSource::Streamed(Arc::new(streamed));
                return spec.build_with_source(source, path, Path::new(""));
            }
            let mut grid = rows_in_memory(&c, index)?;
            if let Some(l) = labels.filter(|l| l.len() == grid.cols()) {
                grid.col_labels = Some(l);
            }
            if opts.transpose {
                let grid = grid.transposed();
                spec.x = axis(&template.x, "step", Some(steps));
                spec.y = axis(&template.y, "column", shard());
                spec.build_with_grid(grid, path, Path::new(""))
            } else {
                spec.x = axis(&template.x, "column", shard());
                spec.y = axis(&template.y, "step", Some(steps));
                spec.build_with_grid(grid, path, Path::new(""))
            }
        }
        Some(step) => {
            let index = c.step_index()?;
            let i = index.position(step).ok_or_else(|| {
                Error::Invalid(format!("channel '{}' has no record at step {step}", job.channel))
            })?;
            let shape = c.record_shape();
            let mut grid = Grid::new(shape[0], shape[1], c.record_at(&index, i)?)?;
            if let Some(l) = labels.filter(|l| l.len() == grid.cols()) {
                grid.col_labels = Some(l);
            }
            if let Some(l) = c.row_labels().filter(|l| l.len() == grid.rows()) {
                grid.row_labels = Some(l.to_vec());
            }
            if spec.title.is_none() {
                spec.title = Some(format!("{} · step {step}", job.channel));
            }
            let grid = if opts.transpose { grid.transposed() } else { grid };
            spec.x = axis(&template.x, "column", None);
            spec.y = axis(&template.y, "row", None);
            spec.build_with_grid(grid, path, Path::new(""))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ranges_parse() {
        assert_eq!(parse_steps("0:20000").unwrap(), (Some(0), Some(20000)));
        assert_eq!(parse_steps(":500").unwrap(), (None, Some(500)));
        assert_eq!(parse_steps("-5:").unwrap(), (Some(-5), None));
        assert_eq!(parse_steps("7").unwrap(), (Some(7), Some(7)));
        for bad in ["a:b", "5:1", "", "1:2:3"] {
            assert!(parse_steps(bad).is_err(), "{bad}");
        }
        assert_eq!(stem_of("blocks.0/attn"), "blocks.0_attn");
    }
}
