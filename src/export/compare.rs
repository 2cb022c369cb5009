//! Several run logs in one figure: side by side, a panel per run on one
//! colour scale ([`side_by_side`]), or the difference of two, B − A
//! ([`diff`]), aligned by step value; and the difference of two arrays of
//! one shape ([`diff_arrays`]).
//!
//! The CLI (`actmap render runs/ --key K`, `--diff`) and Python
//! (`actmap.compare`) both draw through here. A difference streams like any
//! run render: [`DiffRows`] reads a block of rows from each run at a time,
//! so two runs of a million steps diff in bounded memory.

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::export::batch::wildcard_match;
use crate::export::runlog::{self, RunFigureOptions, RunJob, axis, streams};
use crate::input::{Grid, GridSelect, LoadOptions, RowSource};
use crate::layout::{ColorbarMode, Figure, GridSource, Panel, RowSourceFactory, StreamFormat, StreamedGrid};
use crate::render::spec::PanelSpec;
use crate::runlog::{ChannelReader, RunReader, StepIndex};

/// The colormap a difference gets unless one is given (red: B above A).
pub const DIFF_CMAP: &str = "RdBu_r";

/// Size and look of the figures drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Text and line scale (`None`: from the size).
    pub scale: Option<f32>,
    /// No titles, ticks or colorbar.
    pub bare: bool,
}

impl Look {
    /// The size, scale and bareness the figure options give (1200x900 by
    /// default).
    pub fn of(o: &crate::options::FigureOptions) -> Look {
        let (width, height) = o.size.unwrap_or((1200, 900));
        Look {
            width,
            height,
            scale: o.scale,
            bare: o.bare,
        }
    }
}

impl Default for Look {
    fn default() -> Look {
        Look {
            width: 1200,
            height: 900,
            scale: None,
            bare: false,
        }
    }
}

/// A figure of `panels` in a near-square grid, one colorbar per panel.
pub fn figure_of(panels: Vec<Panel>, look: &Look) -> Figure {
    let n = panels.len();
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols).max(1);
    Figure {
        width: look.width,
        height: look.height,
        scale: look.scale,
        title: None,
        grid: (rows, cols),
        panels,
        colorbar: ColorbarMode::PerPanel,
        background: [255, 255, 255, 255],
        bare: look.bare,
    }
}

/// A run shown in a comparison, by the name it is shown with.
pub struct NamedRun {
    /// The run's name (its directory's, or `rank N`).
    pub name: String,
    /// The open run.
    pub reader: RunReader,
}

/// One figure of a comparison: a channel (and step), and the runs that
/// have it, by position in the runs given.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// What to draw.
    pub job: RunJob,
    /// The runs that hold the channel.
    pub members: Vec<usize>,
}

/// The figures a comparison of `runs` draws, in the order their channels
/// first appear, with the channels that could not be planned (run, error).
pub fn plan(runs: &[NamedRun], opts: &RunFigureOptions) -> (Vec<Group>, Vec<(String, Error)>) {
    let mut groups: Vec<Group> = Vec::new();
    let mut failed = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let picked = |n: &String| opts.keys.is_empty() || opts.keys.iter().any(|k| wildcard_match(k, n));
        if !run.reader.channel_names().iter().any(picked) {
            continue; // the caller names it under each figure it is left out of
        }
        let (jobs, bad) = runlog::plan(&run.reader, opts);
        failed.extend(
            bad.into_iter()
                .map(|(what, e)| (format!("run '{}': {what}", run.name), e)),
        );
        for job in jobs {
            match groups.iter_mut().find(|g| g.job.stem == job.stem) {
                Some(g) => g.members.push(i),
                None => groups.push(Group {
                    job,
                    members: vec![i],
                }),
            }
        }
    }
    (groups, failed)
}

/// The runs of `runs` a group leaves out (they lack its channel).
pub fn missing<'a>(runs: &'a [NamedRun], group: &Group) -> Vec<&'a str> {
    (0..runs.len())
        .filter(|i| !group.members.contains(i))
        .map(|i| runs[i].name.as_str())
        .collect()
}

/// `channel` or `channel · step S`.
pub fn job_title(job: &RunJob) -> String {
    match job.step {
        Some(s) => format!("{} · step {s}", job.channel),
        None => job.channel.clone(),
    }
}

/// The latest step of a 2-D channel `job` draws in `run`: the job's, or
/// when it is only the first run's latest (no `--step`, no `--split`), this
/// run's own latest.
fn step_for(run: &RunReader, job: &RunJob, opts: &RunFigureOptions) -> Result<RunJob> {
    let Some(step) = job.step else {
        return Ok(job.clone());
    };
    if opts.step.is_some() || opts.split {
        return Ok(job.clone());
    }
    let index = run
        .channel(&job.channel)?
        .step_index()?
        .range(opts.steps.0, opts.steps.1);
    let latest = index.steps().last().copied().unwrap_or(step);
    Ok(RunJob {
        step: Some(latest),
        ..job.clone()
    })
}

/// A panel per run of `group`, titled by the run, on one colour scale.
pub fn side_by_side(
    runs: &[NamedRun],
    group: &Group,
    template: &PanelSpec,
    opts: &RunFigureOptions,
    look: &Look,
) -> Result<Figure> {
    let mut panels = Vec::with_capacity(group.members.len());
    let mut steps = Vec::new();
    for &i in &group.members {
        let run = &runs[i];
        let job = step_for(&run.reader, &group.job, opts)?;
        let mut t = template.clone();
        t.title = Some(match job.step {
            Some(s) if group.job.step != Some(s) => format!("{} · step {s}", run.name),
            _ => run.name.clone(),
        });
        steps.push(job.step);
        panels.push(runlog::panel(&run.reader, &job, &t, opts)?);
    }
    let mut fig = figure_of(panels, look);
    fig.colorbar = ColorbarMode::Shared;
    if !look.bare {
        // A 2-D channel whose runs end at different steps: each panel says its own.
        let one_step = steps.iter().all(|s| *s == group.job.step);
        fig.title = Some(if one_step {
            job_title(&group.job)
        } else {
            group.job.channel.clone()
        });
    }
    Ok(fig)
}

/// B − A, row by row: two sources of equally many rows, the first `cols`
/// values of each (the columns both have).
pub struct DiffRows {
    a: Box<dyn RowSource>,
    b: Box<dyn RowSource>,
    cols: usize,
    what: String,
    buf_a: Vec<f32>,
    buf_b: Vec<f32>,
}

impl DiffRows {
    /// `b − a` over the first `cols` columns; `what` names the pair in errors.
    pub fn new(
        a: Box<dyn RowSource>,
        b: Box<dyn RowSource>,
        cols: usize,
        what: impl Into<String>,
    ) -> Result<DiffRows> {
        let what = what.into();
        if a.rows() != b.rows() || cols > a.cols().min(b.cols()) {
            return Err(Error::Invalid(format!(
                "{what}: cannot subtract {} x {} values from {} x {} ({cols} columns asked)",
                a.rows(),
                a.cols(),
                b.rows(),
                b.cols()
            )));
        }
        Ok(DiffRows {
            a,
            b,
            cols,
            what,
            buf_a: Vec::new(),
            buf_b: Vec::new(),
        })
    }
}

impl RowSource for DiffRows {
    fn rows(&self) -> usize {
        self.a.rows()
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn position(&self) -> usize {
        self.a.position()
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        out.clear();
        let n = self.a.read_rows(max_rows, &mut self.buf_a)?;
        let m = self.b.read_rows(max_rows, &mut self.buf_b)?;
        if n != m {
            return Err(Error::Invalid(format!(
                "{}: the two sources gave {n} and {m} rows at row {}",
                self.what,
                self.a.position()
            )));
        }
        let (ca, cb, cols) = (self.a.cols(), self.b.cols(), self.cols);
        out.reserve(n * cols);
        for r in 0..n {
            let a = &self.buf_a[r * ca..r * ca + cols];
            let b = &self.buf_b[r * cb..r * cb + cols];
            out.extend(b.iter().zip(a).map(|(b, a)| b - a));
        }
        Ok(n)
    }
}

fn read_all(mut src: Box<dyn RowSource>) -> Result<Vec<f32>> {
    let cols = src.cols().max(1);
    let mut data = Vec::with_capacity(src.rows() * cols);
    let mut buf = Vec::new();
    while src.read_rows((4 << 20) / 4 / cols + 1, &mut buf)? > 0 {
        data.extend_from_slice(&buf);
    }
    Ok(data)
}

/// `a, b, c, ... and N more` of some steps.
fn step_list(steps: &[i64]) -> String {
    const SHOWN: usize = 8;
    let mut s: Vec<String> = steps.iter().take(SHOWN).map(i64::to_string).collect();
    if steps.len() > SHOWN {
        s.push(format!("and {} more", steps.len() - SHOWN));
    }
    s.join(", ")
}

/// The template a difference is drawn with: a diverging map centred on 0
/// with symmetric limits, unless the template says otherwise.
fn diff_template(template: &PanelSpec, title: String) -> PanelSpec {
    let mut spec = template.clone();
    if spec.options.cmap.is_none() {
        spec.options.cmap = Some(DIFF_CMAP.to_string());
    }
    if spec.options.norm.is_none() {
        spec.options.norm = Some("centered".to_string());
    }
    if spec.title.is_none() {
        spec.title = Some(title);
    }
    spec
}

/// What a difference left out: steps or columns only one run has.
pub type Notes = Vec<String>;

/// One figure of `b − a` for `group`'s channel: for a channel of 1-D
/// records, over the steps both runs hold (aligned by step value; those
/// only one has are named in the notes and left out) and the columns both
/// have; for 2-D records, at the step asked or the latest both hold.
pub fn diff(
    a: &NamedRun,
    b: &NamedRun,
    group: &Group,
    template: &PanelSpec,
    opts: &RunFigureOptions,
    look: &Look,
) -> Result<(Figure, Notes)> {
    let name = &group.job.channel;
    let (ca, cb) = (a.reader.channel(name)?, b.reader.channel(name)?);
    let what = format!("channel '{name}', {} − {}", b.name, a.name);
    if ca.record_shape().len() != cb.record_shape().len() {
        return Err(Error::Invalid(format!(
            "{what}: records of {:?} and {:?} values cannot be subtracted",
            ca.record_shape(),
            cb.record_shape()
        )));
    }
    let range =
        |c: &ChannelReader| -> Result<StepIndex> { Ok(c.step_index()?.range(opts.steps.0, opts.steps.1)) };
    let (ia, ib) = (range(&ca)?, range(&cb)?);
    let (ja, jb, only_a, only_b) = ia.intersect(&ib);
    let mut notes = Vec::new();
    let spec = diff_template(template, format!("{} − {}", b.name, a.name));
    let path = b.reader.path();
    let panel = if ca.record_shape().len() == 1 {
        if ja.is_empty() {
            return Err(no_common_step(&what, &a.name, &ia, &b.name, &ib));
        }
        for (run, only) in [(&a.name, &only_a), (&b.name, &only_b)] {
            if !only.is_empty() {
                notes.push(format!(
                    "{what}: {} step{} only in run '{run}' left out: {}",
                    only.len(),
                    if only.len() == 1 { "" } else { "s" },
                    step_list(only)
                ));
            }
        }
        let cols = ca.record_len().min(cb.record_len());
        if ca.record_len() != cb.record_len() {
            notes.push(format!(
                "{what}: run '{}' has {} columns and '{}' {}; the first {cols} are drawn",
                a.name,
                ca.record_len(),
                b.name,
                cb.record_len()
            ));
        }
        diff_rows_panel(&ca, &cb, ja, jb, cols, spec, template, opts, &what, path)?
    } else {
        let step = match group.job.step {
            Some(s) if opts.step.is_some() || opts.split => s,
            _ => *ja
                .steps()
                .last()
                .ok_or_else(|| no_common_step(&what, &a.name, &ia, &b.name, &ib))?,
        };
        let (Some(pa), Some(pb)) = (ja.position(step), jb.position(step)) else {
            let lacking = if ia.position(step).is_none() {
                &a.name
            } else {
                &b.name
            };
            return Err(Error::Invalid(format!(
                "{what}: run '{lacking}' has no record at step {step}"
            )));
        };
        if ca.record_shape() != cb.record_shape() {
            return Err(Error::Invalid(format!(
                "{what}: records of {:?} and {:?} values cannot be subtracted",
                ca.record_shape(),
                cb.record_shape()
            )));
        }
        let (va, vb) = (ca.record_at(&ja, pa)?, cb.record_at(&jb, pb)?);
        let shape = ca.record_shape();
        let d: Vec<f32> = vb.iter().zip(&va).map(|(b, a)| b - a).collect();
        let mut grid = Grid::new(shape[0], shape[1], d)?;
        grid.col_labels = ca
            .column_labels()
            .filter(|l| l.len() == grid.cols())
            .map(<[String]>::to_vec);
        grid.row_labels = ca
            .row_labels()
            .filter(|l| l.len() == grid.rows())
            .map(<[String]>::to_vec);
        let grid = if opts.transpose { grid.transposed() } else { grid };
        let mut spec = spec;
        if template.title.is_none() {
            spec.title = Some(format!("{} − {} · step {step}", b.name, a.name));
        }
        spec.x = axis(&template.x, "column", None);
        spec.y = axis(&template.y, "row", None);
        spec.build_with_grid(grid, path, Path::new(""))?
    };
    let mut fig = figure_of(vec![panel], look);
    if !look.bare {
        fig.title = Some(name.clone());
    }
    Ok((fig, notes))
}

fn no_common_step(what: &str, a: &str, ia: &StepIndex, b: &str, ib: &StepIndex) -> Error {
    let span = |i: &StepIndex| match i.steps() {
        [] => "no steps".to_string(),
        s => format!("steps {} .. {}", s[0], s[s.len() - 1]),
    };
    Error::Invalid(format!(
        "{what}: the runs have no step in common ('{a}': {}, '{b}': {})",
        span(ia),
        span(ib)
    ))
}

#[allow(clippy::too_many_arguments)]
fn diff_rows_panel(
    ca: &ChannelReader,
    cb: &ChannelReader,
    ja: StepIndex,
    jb: StepIndex,
    cols: usize,
    mut spec: PanelSpec,
    template: &PanelSpec,
    opts: &RunFigureOptions,
    what: &str,
    path: &Path,
) -> Result<Panel> {
    let n = ja.len();
    let steps: Vec<f64> = ja.steps().iter().map(|&s| s as f64).collect();
    let (x, y) = if opts.transpose {
        (
            axis(&template.x, "step", Some(steps)),
            axis(&template.y, "column", None),
        )
    } else {
        (
            axis(&template.x, "column", None),
            axis(&template.y, "step", Some(steps)),
        )
    };
    spec.x = x;
    spec.y = y;
    let (a, b, w) = (ca.clone(), cb.clone(), what.to_string());
    let open: RowSourceFactory = Arc::new(move || -> Result<Box<dyn RowSource>> {
        Ok(Box::new(DiffRows::new(
            Box::new(a.row_source(ja.clone())),
            Box::new(b.row_source(jb.clone())),
            cols,
            w.clone(),
        )?))
    });
    if streams(&spec, n, cols) {
        let grid = StreamedGrid::new(cb.dir(), StreamFormat::rows(what, open), n, cols);
        let grid = if opts.transpose { grid.transpose() } else { grid };
        return spec.build_with_source(GridSource::Streamed(Arc::new(grid)), path, Path::new(""));
    }
    if n.saturating_mul(cols) > runlog::MAX_IN_MEMORY_VALUES {
        return Err(Error::Invalid(format!(
            "{what}: {n} steps x {cols} values is too large to draw in memory; pick steps with --steps A:B"
        )));
    }
    let mut grid = Grid::new(n, cols, read_all(open()?)?)?;
    grid.col_labels = ca
        .column_labels()
        .filter(|l| l.len() == cols)
        .map(<[String]>::to_vec);
    let grid = if opts.transpose { grid.transposed() } else { grid };
    spec.build_with_grid(grid, path, Path::new(""))
}

/// One array of a file for [`diff_arrays`]: the file and, in a file of
/// several tensors (`.safetensors`, `.npz`), the member's name.
#[derive(Clone, Copy, Debug)]
pub struct ArrayRef<'a> {
    /// The file.
    pub path: &'a Path,
    /// The member, in a file of several.
    pub key: Option<&'a str>,
}

impl std::fmt::Display for ArrayRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.key {
            Some(k) => write!(f, "{} '{k}'", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

fn shape_of(r: &ArrayRef<'_>) -> Result<Vec<usize>> {
    let tensors = crate::input::describe(r.path)?;
    let found = match r.key {
        Some(k) => tensors.iter().find(|(n, _)| n.as_deref() == Some(k)),
        None if tensors.len() == 1 => tensors.first(),
        None => {
            return Err(Error::format(
                r.path,
                format!("the file holds {} tensors; pick one with --key", tensors.len()),
            ));
        }
    };
    found
        .map(|(_, s)| s.clone())
        .ok_or_else(|| Error::format(r.path, format!("no tensor named '{}'", r.key.unwrap_or_default())))
}

/// The panel of `b − a`, two arrays of one shape (the slice `--index`
/// picks of an N-D pair), on a diverging map centred on 0. Large arrays
/// stream (both read a block of rows at a time).
pub fn diff_arrays(
    a: ArrayRef<'_>,
    b: ArrayRef<'_>,
    template: &PanelSpec,
    load: &LoadOptions,
) -> Result<Panel> {
    let (sa, sb) = (shape_of(&a)?, shape_of(&b)?);
    let what = format!("{b} − {a}");
    if sa != sb {
        return Err(Error::Invalid(format!(
            "--diff needs two arrays of one shape: {a} is {sa:?} and {b} is {sb:?}"
        )));
    }
    let name = |r: &ArrayRef<'_>| {
        r.key
            .map(str::to_string)
            .or_else(|| r.path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default()
    };
    let spec = diff_template(template, format!("{} − {}", name(&b), name(&a)));
    let index = template.options.index.clone();
    let pick = crate::input::slice::Pick::Leading(&index);
    let ga = crate::render::stream::streamed_source(a.path, a.key, &pick, load)?;
    let gb = crate::render::stream::streamed_source(b.path, b.key, &pick, load)?;
    if let (Some(ga), Some(gb)) = (ga, gb)
        && !ga.transposed
        && !gb.transposed
        && ga.source_shape() == gb.source_shape()
        && streams(&spec, ga.rows, ga.cols)
    {
        let (rows, cols) = (ga.rows, ga.cols);
        let w = what.clone();
        let open: RowSourceFactory = Arc::new(move || -> Result<Box<dyn RowSource>> {
            let (ra, rb) = (
                crate::render::stream::open_rows(&ga)?,
                crate::render::stream::open_rows(&gb)?,
            );
            Ok(Box::new(DiffRows::new(ra, rb, cols, w.clone())?))
        });
        let grid = StreamedGrid::new(b.path, StreamFormat::rows(what, open), rows, cols);
        let grid = if spec.options.transpose {
            grid.transpose()
        } else {
            grid
        };
        return spec.build_with_source(GridSource::Streamed(Arc::new(grid)), b.path, Path::new(""));
    }
    let select = GridSelect {
        index,
        transpose: spec.options.transpose,
    };
    let ta = crate::input::load_tensor(a.path, a.key, load)?.into_grid(&select)?;
    let tb = crate::input::load_tensor(b.path, b.key, load)?.into_grid(&select)?;
    let d: Vec<f32> = tb.data().iter().zip(ta.data()).map(|(b, a)| b - a).collect();
    let grid = Grid::new(tb.rows(), tb.cols(), d)?;
    spec.build_with_grid(grid, b.path, Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rows {
        data: Vec<f32>,
        cols: usize,
        pos: usize,
    }

    impl RowSource for Rows {
        fn rows(&self) -> usize {
            self.data.len() / self.cols
        }
        fn cols(&self) -> usize {
            self.cols
        }
        fn position(&self) -> usize {
            self.pos
        }
        fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
            let n = max_rows.min(self.rows() - self.pos);
            out.clear();
            out.extend_from_slice(&self.data[self.pos * self.cols..(self.pos + n) * self.cols]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn diff_rows_subtract_the_common_columns() {
        let a = Rows {
            data: vec![1., 2., 3., 4., 5., 6.],
            cols: 3,
            pos: 0,
        };
        let b = Rows {
            data: vec![10., 20., 30., 40.],
            cols: 2,
            pos: 0,
        };
        let mut d = DiffRows::new(Box::new(a), Box::new(b), 2, "t").unwrap();
        let mut out = Vec::new();
        assert_eq!(d.read_rows(1, &mut out).unwrap(), 1);
        assert_eq!(out, [9., 18.]);
        assert_eq!(d.read_rows(5, &mut out).unwrap(), 1);
        assert_eq!(out, [26., 35.]);
        assert_eq!(d.read_rows(5, &mut out).unwrap(), 0);
    }

    #[test]
    fn steps_align_by_value() {
        let a = StepIndex::from_steps(&[0, 10, 20, 30, 40]);
        // A resumed run: steps 20.. written again after a restart at 20.
        let b = StepIndex::from_steps(&[0, 5, 10, 20, 30, 20, 30, 45]);
        let (ja, jb, only_a, only_b) = a.intersect(&b);
        assert_eq!(ja.steps(), [0, 10, 20, 30]);
        assert_eq!(jb.steps(), [0, 10, 20, 30]);
        assert_eq!((0..4).map(|i| ja.row(i)).collect::<Vec<_>>(), [0, 1, 2, 3]);
        // The latest write of each step: rows 5 and 6 for 20 and 30.
        assert_eq!((0..4).map(|i| jb.row(i)).collect::<Vec<_>>(), [0, 2, 5, 6]);
        assert_eq!(only_a, [40]);
        assert_eq!(only_b, [5, 45]);
        assert_eq!(
            step_list(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
            "1, 2, 3, 4, 5, 6, 7, 8, and 2 more"
        );
    }
}
