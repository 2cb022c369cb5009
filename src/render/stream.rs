//! Out-of-core rendering: passes over data too large to hold, in row
//! blocks, gathering statistics and per-pixel partial aggregates.
//!
//! A reader thread fills a small pool of blocks (4 MiB each) while the
//! blocks already read are folded in: statistics on the CPU, the rows into
//! a [`PixelPass`] either on the CPU or by a compute pass on the GPU
//! ([`crate::gpu::RowReducer`]). Peak memory is the block pool plus the
//! pass's partials (at most `plot pixels x columns x 9` bytes, usually the
//! picture), whatever the data's size.
//!
//! A grid whose rows are the picture's rows needs one pass. One whose rows
//! are the picture's columns (transposed) folds them into pixel columns,
//! whose width depends on the colour range (the colorbar's labels take
//! room): it gets a first pass for the statistics, then one for the pixels.

use std::path::Path;
use std::sync::{Arc, mpsc};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, RowReducer};
use crate::input::csv::{CsvPlan, CsvRowReader};
use crate::input::{ArraySlice, Grid, LoadOptions, Pick, RowSource, SafetensorsFile};
use crate::layout::engine::{PolylineBuilder, top_order};
use crate::layout::{StreamFormat, StreamedGrid, StreamedSeries};
use crate::scale::aggregate::AxisSpans;
use crate::scale::{Aggregate, PixelPass, StatsAccumulator};

/// Grids with at least this many bytes of values (as f32, or in the file
/// when larger) are streamed, not loaded.
pub const STREAM_MIN_BYTES: u64 = 64 << 20;

/// When inputs are streamed: `ACTMAP_STREAM=always|never`, else by size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Grids of [`STREAM_MIN_BYTES`] or more.
    Auto,
    /// Every grid that can be.
    Always,
    /// None.
    Never,
}

impl Policy {
    /// The policy `ACTMAP_STREAM` asks for.
    pub fn from_env() -> Policy {
        match std::env::var("ACTMAP_STREAM").as_deref() {
            Ok("always") => Policy::Always,
            Ok("never") => Policy::Never,
            _ => Policy::Auto,
        }
    }
}

/// The grid `pick` chooses from a file's tensor (`tensor` names it in a
/// `.safetensors` or `.npz` file; `None`: the file's only one), streamed
/// where it lies when the policy ([`Policy::from_env`]) says so and it can
/// be: an array of a `.npy` (C or Fortran order), `.safetensors` or `.npz`
/// (stored or deflated) file, or a CSV/TSV/text table without quotes (no
/// index). `Ok(None)`: load it instead.
pub fn streamed_source(
    path: &Path,
    tensor: Option<&str>,
    pick: &Pick<'_>,
    load: &LoadOptions,
) -> Result<Option<StreamedGrid>> {
    let policy = Policy::from_env();
    if policy == Policy::Never {
        return Ok(None);
    }
    let big = |values: u64, bytes: u64| {
        policy == Policy::Always || values.saturating_mul(4).max(bytes) >= STREAM_MIN_BYTES
    };
    let slice = match crate::input::extension(path).as_str() {
        "csv" | "tsv" | "txt" => {
            if tensor.is_some() || !matches!(pick, Pick::Leading([])) {
                return Ok(None);
            }
            let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
            if !big(0, len) {
                return Ok(None);
            }
            // The first pass; tables it cannot stream are read in memory.
            let Some(plan) = CsvPlan::new(path, &load.csv)? else {
                return Ok(None);
            };
            let (rows, cols) = (plan.rows(), plan.cols());
            return Ok(Some(StreamedGrid::new(
                path,
                StreamFormat::Csv(Arc::new(plan)),
                rows,
                cols,
            )));
        }
        "npy" if tensor.is_none() => {
            let header = crate::input::npy::read_npy_header(path)?;
            ArraySlice::npy(path, &header, pick)?
        }
        "safetensors" => {
            let file = SafetensorsFile::open(path)?;
            let t = match (tensor, file.tensors.as_slice()) {
                (Some(name), _) => file.get(name),
                (None, [one]) => Some(one),
                _ => None,
            };
            let Some(t) = t else {
                return Ok(None);
            };
            ArraySlice::safetensors(&file, t, pick)?
        }
        "npz" => {
            let key = match tensor {
                Some(k) => k.to_string(),
                None => match crate::input::list_npz(path)?.as_slice() {
                    [(k, _)] => k.clone(),
                    _ => return Ok(None),
                },
            };
            match ArraySlice::npz(path, &key, pick)? {
                Some(s) => s,
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    if !big(slice.len(), slice.bytes()) {
        return Ok(None);
    }
    Ok(Some(StreamedGrid::of_array(slice)))
}

/// Bytes per block read from the source.
pub const BLOCK_BYTES: usize = 4 << 20;

/// Where the row reduction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOn {
    /// On the CPU, over all cores.
    Cpu,
    /// As a compute pass on the GPU.
    Gpu,
}

impl ReduceOn {
    /// The default for `ctx`: the GPU, except on a software adapter
    /// (lavapipe, llvmpipe, WARP), where the "GPU" is these same cores and
    /// handing it the data is one more copy. `ACTMAP_REDUCE=cpu|gpu`
    /// overrides.
    pub fn default_for(ctx: &GpuContext) -> ReduceOn {
        Self::for_device(ctx.adapter.get_info().device_type)
    }

    /// The default for an adapter of `device_type` (see [`ReduceOn::default_for`]).
    pub fn for_device(device_type: wgpu::DeviceType) -> ReduceOn {
        match Self::from_env() {
            Some(on) => on,
            None if device_type == wgpu::DeviceType::Cpu => ReduceOn::Cpu,
            None => ReduceOn::Gpu,
        }
    }

    /// What `ACTMAP_REDUCE=cpu|gpu` asks for, if set.
    pub fn from_env() -> Option<ReduceOn> {
        match std::env::var("ACTMAP_REDUCE").as_deref() {
            Ok("cpu") => Some(ReduceOn::Cpu),
            Ok("gpu") => Some(ReduceOn::Gpu),
            _ => None,
        }
    }
}

/// A fresh reader of `grid`'s source rows (checked to have the grid's shape).
pub fn open_rows(grid: &StreamedGrid) -> Result<Box<dyn RowSource>> {
    let reader: Box<dyn RowSource> = match &grid.format {
        StreamFormat::Array(slice) => Box::new(slice.open()?),
        StreamFormat::Csv(plan) => Box::new(CsvRowReader::with_plan(&grid.path, plan)?),
        StreamFormat::Rows { open, .. } => open()?,
    };
    let want = grid.source_shape();
    if (reader.rows(), reader.cols()) != want {
        let name = match &grid.format {
            StreamFormat::Rows { name, .. } => format!("{name}: "),
            _ => String::new(),
        };
        return Err(Error::format(
            &grid.path,
            format!(
                "{name}the source holds {} x {} values, the grid to draw expects {} x {}",
                reader.rows(),
                reader.cols(),
                want.0,
                want.1
            ),
        ));
    }
    Ok(reader)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

/// Threads folding the blocks the reader thread hands over. One keeps up
/// with reading from the page cache (folding a block takes about half as
/// long as copying it in), and leaves the other cores to the reader and to
/// the GPU starting meanwhile; a percentile histogram, slower per value,
/// gets them all.
fn fold_threads(percentiles: bool) -> usize {
    if percentiles { threads() } else { 1 }
}

/// Rows `cols` values wide per block.
fn block_rows(cols: usize) -> usize {
    (BLOCK_BYTES / 4 / cols.max(1)).max(1)
}

/// Read every row of `reader` on a reader thread, handing each block
/// (first row, values) to `fold` on this one.
fn drive(
    reader: Box<dyn RowSource>,
    block_rows: usize,
    fold: impl FnMut(u32, &[f32]) -> Result<()>,
) -> Result<()> {
    drive_with(reader, block_rows, &mut |_| {}, fold)
}

/// [`drive`], with `on_read` called on the reader thread with each block
/// right after reading it, while it is in that core's cache (statistics,
/// say, so that the reader and the folding thread share the work).
fn drive_with(
    mut reader: Box<dyn RowSource>,
    block_rows: usize,
    on_read: &mut (dyn FnMut(&[f32]) + Send),
    mut fold: impl FnMut(u32, &[f32]) -> Result<()>,
) -> Result<()> {
    let cols = reader.cols();
    // Reader thread -> full blocks; empty blocks come back for reuse.
    let (full_tx, full_rx) = mpsc::sync_channel::<Result<(usize, Vec<f32>)>>(1);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<f32>>();
    // Two blocks: one being read while the other is folded in.
    for _ in 0..2 {
        let _ = empty_tx.send(Vec::with_capacity(block_rows * cols));
    }
    std::thread::scope(|s| -> Result<()> {
        s.spawn(move || {
            while let Ok(mut buf) = empty_rx.recv() {
                let first = reader.position();
                match reader.read_rows(block_rows, &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {
                        on_read(&buf);
                        if full_tx.send(Ok((first, buf))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = full_tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        let mut result = Ok(());
        for block in full_rx.iter() {
            let (first, buf) = match block {
                Ok(b) => b,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if let Err(e) = fold(first as u32, &buf) {
                result = Err(e);
                break;
            }
            // The reader may have stopped after an error: ignore a closed pool.
            let _ = empty_tx.send(buf);
        }
        // Closing the pool stops the reader at its next block.
        drop(empty_tx);
        drop(full_rx);
        result
    })
}

/// All of `grid`'s values in memory, as the picture's rows (for a figure
/// that needs them, such as a line chart of several rows of a streamed
/// table): the same grid loading the file gives.
pub fn load_all(grid: &StreamedGrid) -> Result<Grid> {
    let mut reader = open_rows(grid)?;
    let (rows, cols) = grid.source_shape();
    let mut data: Vec<f32> = Vec::new();
    data.try_reserve_exact(rows.saturating_mul(cols)).map_err(|_| {
        Error::format(
            &grid.path,
            format!("out of memory: cannot hold {rows} x {cols} values"),
        )
    })?;
    let mut buf = Vec::new();
    while reader.read_rows(block_rows(cols), &mut buf)? > 0 {
        data.extend_from_slice(&buf);
    }
    let g = Grid::new(rows, cols, data)?;
    Ok(if grid.transposed { g.transposed() } else { g })
}

/// The picture of `grid` is at most 2^31 - 1 cells along each axis.
fn shape32(grid: &StreamedGrid) -> Result<(u32, u32)> {
    let (rows, cols) = grid.source_shape();
    match (u32::try_from(rows), u32::try_from(cols)) {
        (Ok(r), Ok(c)) if r < u32::MAX / 2 && c < u32::MAX / 2 => Ok((r, c)),
        _ => Err(Error::format(
            &grid.path,
            format!("{rows} x {cols} is too large to draw (at most 2^31 rows and columns)"),
        )),
    }
}

/// A pass over `grid` gathering only its statistics (with a percentile
/// histogram when `percentiles`).
pub fn stats_pass(grid: &StreamedGrid, percentiles: bool) -> Result<StatsAccumulator> {
    shape32(grid)?;
    let reader = open_rows(grid)?;
    let cols = reader.cols();
    // The reader takes the first quarter of each block's statistics (in its
    // cache, so cheaper), this thread the rest: the two keep pace on two
    // cores, and no thread is started per block.
    let split = |block: &[f32]| (block.len() / cols.max(1)).div_ceil(4) * cols;
    let mut near = StatsAccumulator::new(percentiles);
    let mut far = StatsAccumulator::new(percentiles);
    drive_with(
        reader,
        block_rows(cols),
        &mut |block| near.add(&block[..split(block)]),
        |_, block| {
            far.add(&block[split(block)..]);
            Ok(())
        },
    )?;
    let stats = [near, far];
    Ok(merged(&stats, percentiles))
}

/// What a pixel pass needs: the spans of the pixels along the source's rows
/// (`along`), and those across them when known (`across`: then the pass
/// keeps only the open bins and the picture).
#[derive(Clone, Debug)]
pub struct PassSpans {
    /// Pixels along the source's rows (y for a plain grid, x when transposed).
    pub along: AxisSpans,
    /// Pixels across (the other axis), when known before the pass.
    pub across: Option<AxisSpans>,
}

/// A pass over `grid` folding its rows into pixels with `mode`, gathering
/// the statistics too when `stats` is `Some(percentiles)`. `ctx` is needed
/// for [`ReduceOn::Gpu`] (without it, or when the GPU's limits are too
/// small, the CPU folds).
pub fn pixel_pass(
    ctx: Option<&GpuContext>,
    grid: &StreamedGrid,
    spans: PassSpans,
    mode: Aggregate,
    stats: Option<bool>,
    on: ReduceOn,
) -> Result<(Option<StatsAccumulator>, PixelPass)> {
    let (rows, cols) = shape32(grid)?;
    let reader = open_rows(grid)?;
    let block = block_rows(cols as usize);
    let percentiles = stats.unwrap_or(false);
    let threads = fold_threads(percentiles);
    let mut pass = PixelPass::new(rows, cols, spans.along, spans.across, mode);
    let mut accs: Vec<StatsAccumulator> = match stats {
        Some(p) => (0..threads).map(|_| StatsAccumulator::new(p)).collect(),
        None => Vec::new(),
    };
    let gpu = match (on, ctx) {
        (ReduceOn::Gpu, Some(ctx)) if RowReducer::fits(ctx, cols, pass.bins().len(), block as u32) => {
            Some(ctx)
        }
        _ => None,
    };
    if let Some(ctx) = gpu {
        let mut reducer = RowReducer::new(ctx, &pass, block as u32)?;
        drive(reader, block, |first, buf| {
            reducer.add_block(ctx, first, buf)?;
            if !accs.is_empty() {
                fold_stats(&mut accs, buf, cols as usize);
            }
            Ok(())
        })?;
        reducer.finish(ctx, &mut pass)?;
    } else {
        if threads == 1 && !accs.is_empty() {
            // The reader gathers the statistics of each block it has just
            // read (in its cache), this thread folds: the work in two.
            let mut near = StatsAccumulator::new(percentiles);
            drive_with(reader, block, &mut |buf| near.add(buf), |first, buf| {
                pass.add_block(first, buf, threads);
                Ok(())
            })?;
            accs = vec![near];
        } else {
            drive(reader, block, |first, buf| {
                if accs.is_empty() {
                    pass.add_block(first, buf, threads);
                } else {
                    pass.add_block_with_stats(first, buf, &mut accs);
                }
                Ok(())
            })?;
        }
    }
    let stats = stats.map(|_| merged(&accs, percentiles));
    Ok((stats, pass))
}

/// A fresh reader of a streamed series: `len` rows of one value.
fn open_series(series: &StreamedSeries) -> Result<Box<dyn RowSource>> {
    let grid = StreamedGrid {
        path: series.path.clone(),
        format: series.format.clone(),
        rows: 1,
        cols: series.len,
        transposed: true,
        summary: None,
    };
    open_rows(&grid)
}

/// A pass over a streamed series gathering its statistics and its `top_k`
/// finite values of largest magnitude with their indices (in
/// [`crate::layout::engine::top_order`]).
pub fn series_stats_pass(
    series: &StreamedSeries,
    top_k: usize,
) -> Result<(StatsAccumulator, Vec<(f32, usize)>)> {
    let reader = open_series(series)?;
    let mut stats: Vec<StatsAccumulator> = (0..threads()).map(|_| StatsAccumulator::new(false)).collect();
    let mut top: Vec<(f32, usize)> = Vec::new();
    // Magnitude of the k-th candidate kept so far (a later value must beat it:
    // on a tie the lower index, seen first, wins).
    let mut bar = -1.0f32;
    drive(reader, block_rows(1), |first, block| {
        fold_stats(&mut stats, block, 1);
        if top_k > 0 {
            for (j, &v) in block.iter().enumerate() {
                if v.is_finite() && v.abs() > bar {
                    top.push((v, first as usize + j));
                    if top.len() >= 2 * top_k.max(16) {
                        top.select_nth_unstable_by(top_k - 1, top_order);
                        top.truncate(top_k);
                        bar = top.iter().map(|t| t.0.abs()).fold(f32::INFINITY, f32::min);
                    }
                }
            }
        }
        Ok(())
    })?;
    if top.len() > top_k {
        if top_k > 0 {
            top.select_nth_unstable_by(top_k - 1, top_order);
        }
        top.truncate(top_k);
    }
    top.sort_by(top_order);
    Ok((merged(&stats, false), top))
}

/// A pass placing a streamed series' points on a plot `width_px` pixels
/// wide, point `i` at `x_of(i)` pixels: the lines (x in pixels, y a data
/// value) the chart of the values in memory draws.
pub fn series_lines_pass(
    series: &StreamedSeries,
    width_px: u32,
    x_of: &dyn Fn(usize) -> f32,
) -> Result<Vec<Vec<[f32; 2]>>> {
    let reader = open_series(series)?;
    let mut b = PolylineBuilder::new(series.len, width_px);
    drive(reader, block_rows(1), |first, block| {
        for (j, &v) in block.iter().enumerate() {
            b.push(x_of(first as usize + j), v);
        }
        Ok(())
    })?;
    Ok(b.finish())
}

fn merged(parts: &[StatsAccumulator], percentiles: bool) -> StatsAccumulator {
    let mut acc = StatsAccumulator::new(percentiles);
    for s in parts {
        acc.merge(s);
    }
    acc
}

/// Statistics of a block, split by rows over the accumulators' threads.
fn fold_stats(stats: &mut [StatsAccumulator], block: &[f32], cols: usize) {
    if let [one] = stats {
        one.add(block);
        return;
    }
    let rows = block.len() / cols.max(1);
    let per = rows.div_ceil(stats.len().max(1)).max(1) * cols.max(1);
    std::thread::scope(|s| {
        for (acc, part) in stats.iter_mut().zip(block.chunks(per)) {
            s.spawn(move || acc.add(part));
        }
    });
}
