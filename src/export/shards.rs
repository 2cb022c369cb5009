//! A channel sharded across the ranks of a tensor-parallel job, drawn as
//! one row.
//!
//! Under tensor parallelism each rank holds a slice of a layer's columns
//! and logs that slice: `run.log("mlp.out", local, step=s,
//! columns=slice(lo, hi))` in Python, [`crate::runlog::RunWriter::set_columns`]
//! in Rust. Every rank's run log keeps its own records, as any channel,
//! with the `values` array's `columns` attribute saying where they belong
//! (`[lo, hi]`). [`sharded`] finds such channels in a distributed run and
//! [`panel`] draws the whole row: each rank's slice at its columns, over
//! the steps every rank logged, read a block of rows of each rank at a
//! time ([`ShardRows`]), so a long run stays out of core. Columns no rank
//! logged are NaN, and named.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::export::compare::Notes;
use crate::export::runlog::{RunFigureOptions, axis, streams};
use crate::input::{Grid, RowSource};
use crate::layout::{GridSource, Panel, RowSourceFactory, StreamFormat, StreamedGrid};
use crate::render::spec::PanelSpec;
use crate::runlog::{ChannelReader, RunReader, RunRows, StepIndex};

/// One rank's slice of a sharded channel.
#[derive(Clone)]
pub struct Shard {
    /// The rank that logged it.
    pub rank: u32,
    /// Its records.
    pub channel: ChannelReader,
    /// The columns of the whole row they hold.
    pub columns: Range<u64>,
}

/// A channel whose ranks each log a slice of its columns.
#[derive(Clone)]
pub struct Sharded {
    /// Channel name.
    pub name: String,
    /// The slices, by rank.
    pub shards: Vec<Shard>,
}

impl Sharded {
    /// Columns of the whole row: up to the last slice's end.
    pub fn width(&self) -> u64 {
        self.shards.iter().map(|s| s.columns.end).max().unwrap_or(0)
    }
}

/// The sharded channels of the distributed run at `root` (none for a
/// single-process run), in the order the lowest rank created them.
pub fn sharded(root: &Path) -> Result<Vec<Sharded>> {
    let Some(ranks) = crate::runlog::ranks(root)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Sharded> = Vec::new();
    for rank in ranks {
        let reader = RunReader::open(root.join(format!("rank{rank}")))?;
        for name in reader.channel_names() {
            let Ok(channel) = reader.channel(name) else {
                continue; // a damaged channel is drawn (and named) rank by rank
            };
            let Some(columns) = channel.columns() else {
                continue;
            };
            let shard = Shard {
                rank,
                channel,
                columns,
            };
            match out.iter_mut().find(|s| &s.name == name) {
                Some(s) => s.shards.push(shard),
                None => out.push(Sharded {
                    name: name.clone(),
                    shards: vec![shard],
                }),
            }
        }
    }
    Ok(out)
}

/// The whole row from each rank's slice, step by step: NaN where no rank
/// logged a column; where slices overlap, the higher rank's values.
pub struct ShardRows {
    parts: Vec<(RunRows, usize)>,
    rows: usize,
    cols: usize,
    pos: usize,
    buf: Vec<f32>,
}

impl RowSource for ShardRows {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn position(&self) -> usize {
        self.pos
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        let n = max_rows.min(self.rows - self.pos);
        out.clear();
        out.resize(n * self.cols, f32::NAN);
        for (part, start) in &mut self.parts {
            let w = part.cols();
            let got = part.read_rows(n, &mut self.buf)?;
            if got != n {
                return Err(Error::Invalid(format!(
                    "a shard gave {got} rows where {n} were expected at row {}",
                    self.pos
                )));
            }
            for r in 0..n {
                out[r * self.cols + *start..r * self.cols + *start + w]
                    .copy_from_slice(&self.buf[r * w..(r + 1) * w]);
            }
        }
        self.pos += n;
        Ok(n)
    }
}

/// Ranges of `0..width` that no slice covers.
fn gaps(mut covered: Vec<Range<u64>>, width: u64) -> Vec<Range<u64>> {
    covered.sort_by_key(|r| r.start);
    let (mut at, mut out) = (0, Vec::new());
    for r in covered {
        if r.start > at {
            out.push(at..r.start);
        }
        at = at.max(r.end);
    }
    if at < width {
        out.push(at..width);
    }
    out
}

/// The panel of `sh` as one row per step: the steps every rank logged
/// (the others named in the notes), each rank's slice at its columns.
pub fn panel(
    sh: &Sharded,
    template: &PanelSpec,
    opts: &RunFigureOptions,
    path: &Path,
) -> Result<(Panel, Notes)> {
    let mut notes = Vec::new();
    let name = &sh.name;
    let indexes: Vec<StepIndex> = sh
        .shards
        .iter()
        .map(|s| Ok(s.channel.step_index()?.range(opts.steps.0, opts.steps.1)))
        .collect::<Result<_>>()?;
    // The steps every rank has.
    let mut common = indexes[0].clone();
    for idx in &indexes[1..] {
        common = common.intersect(idx).0;
    }
    if common.is_empty() {
        return Err(Error::Invalid(format!(
            "channel '{name}': its shards (ranks {}) have no step in common",
            ranks(sh)
        )));
    }
    let mut parts = Vec::with_capacity(sh.shards.len());
    for (s, idx) in sh.shards.iter().zip(&indexes) {
        let (mine, _, only, _) = idx.intersect(&common);
        if !only.is_empty() {
            notes.push(format!(
                "channel '{name}': {} step{} only rank {} logged left out",
                only.len(),
                if only.len() == 1 { "" } else { "s" },
                s.rank
            ));
        }
        parts.push((s.channel.clone(), mine, s.columns.start as usize));
    }
    let width = sh.width();
    let missing = gaps(sh.shards.iter().map(|s| s.columns.clone()).collect(), width);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|r| format!("{}..{}", r.start, r.end))
            .collect();
        notes.push(format!(
            "channel '{name}': columns {} logged by no rank (drawn as NaN)",
            list.join(", ")
        ));
    }
    let (n, cols) = (common.len(), width as usize);
    let steps: Vec<f64> = common.steps().iter().map(|&s| s as f64).collect();
    let mut spec = template.clone();
    spec.input = sh.shards[0].channel.dir().display().to_string();
    if spec.title.is_none() {
        spec.title = Some(format!("{name} · ranks {}", ranks(sh)));
    }
    if opts.transpose {
        spec.x = axis(&template.x, "step", Some(steps));
        spec.y = axis(&template.y, "column", None);
    } else {
        spec.x = axis(&template.x, "column", None);
        spec.y = axis(&template.y, "step", Some(steps));
    }
    let open: RowSourceFactory = Arc::new(move || -> Result<Box<dyn RowSource>> {
        Ok(Box::new(ShardRows {
            parts: parts
                .iter()
                .map(|(c, idx, start)| (c.row_source(idx.clone()), *start))
                .collect(),
            rows: n,
            cols,
            pos: 0,
            buf: Vec::new(),
        }))
    });
    let what = format!("{}: channel '{name}' (all ranks)", path.display());
    let panel = if streams(&spec, n, cols) {
        let grid = StreamedGrid::new(path, StreamFormat::rows(what, open), n, cols);
        let grid = if opts.transpose { grid.transpose() } else { grid };
        spec.build_with_source(GridSource::Streamed(Arc::new(grid)), path, Path::new(""))?
    } else {
        if n.saturating_mul(cols) > crate::export::runlog::MAX_IN_MEMORY_VALUES {
            return Err(Error::Invalid(format!(
                "{what}: {n} steps x {cols} values is too large to draw in memory; pick steps with --steps A:B"
            )));
        }
        let mut src = open()?;
        let mut data = Vec::with_capacity(n * cols);
        let mut buf = Vec::new();
        while src.read_rows((4 << 20) / 4 / cols.max(1) + 1, &mut buf)? > 0 {
            data.extend_from_slice(&buf);
        }
        let grid = Grid::new(n, cols, data)?;
        let grid = if opts.transpose { grid.transposed() } else { grid };
        spec.build_with_grid(grid, path, Path::new(""))?
    };
    Ok((panel, notes))
}

fn ranks(sh: &Sharded) -> String {
    let r: Vec<String> = sh.shards.iter().map(|s| s.rank.to_string()).collect();
    r.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_slices() {
        assert_eq!(gaps(vec![4..8, 0..4], 8), Vec::<Range<u64>>::new());
        assert_eq!(gaps(vec![0..2, 4..6], 8), vec![2..4, 6..8]);
        assert_eq!(gaps(vec![2..6, 0..4], 6), Vec::<Range<u64>>::new());
    }
}
