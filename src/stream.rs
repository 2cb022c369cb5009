//! Out-of-core rendering: one pass over a file too large to hold, in row
//! blocks, gathering statistics and per-pixel-row aggregates.
//!
//! A reader thread fills a small pool of blocks (4 MiB each) while the
//! blocks already read are folded in: statistics on the CPU, the rows into
//! a [`RowSummary`] either on the CPU or by a compute pass on the GPU
//! ([`crate::gpu::RowReducer`]). Peak memory is the block pool plus the
//! summary (`plot height x columns x 8` bytes), whatever the file's size.

use std::path::Path;
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, RowReducer};
use crate::input::csv::CsvRowReader;
use crate::input::{NpyRowReader, RowSource};
use crate::layout::{StreamFormat, StreamSummary, StreamedGrid};
use crate::scale::{Aggregate, RowSummary, StatsAccumulator};

/// Bytes per block read from the file.
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
        match std::env::var("ACTMAP_REDUCE").as_deref() {
            Ok("cpu") => ReduceOn::Cpu,
            Ok("gpu") => ReduceOn::Gpu,
            _ if ctx.adapter.get_info().device_type == wgpu::DeviceType::Cpu => ReduceOn::Cpu,
            _ => ReduceOn::Gpu,
        }
    }
}

/// Pass once over the `.npy` file at `path`: statistics (with a percentile
/// histogram when `percentiles`) and the rows reduced to `height` pixel rows
/// with `mode`.
pub fn summarise(
    ctx: &GpuContext,
    path: &Path,
    height: u32,
    mode: Aggregate,
    percentiles: bool,
    on: ReduceOn,
) -> Result<StreamSummary> {
    let reader = NpyRowReader::open(path)?;
    summarise_rows(ctx, Box::new(reader), path, height, mode, percentiles, on)
}

/// The rows of a streamed grid, read by the reader of its format.
pub fn open_rows(grid: &StreamedGrid) -> Result<Box<dyn RowSource>> {
    Ok(match &grid.format {
        StreamFormat::Npy => Box::new(NpyRowReader::open(&grid.path)?),
        StreamFormat::Csv(plan) => Box::new(CsvRowReader::with_plan(&grid.path, plan)?),
    })
}

/// [`summarise`] over any [`RowSource`] (`path` names it in errors).
pub fn summarise_rows(
    ctx: &GpuContext,
    mut reader: Box<dyn RowSource>,
    path: &Path,
    height: u32,
    mode: Aggregate,
    percentiles: bool,
    on: ReduceOn,
) -> Result<StreamSummary> {
    let (rows, cols) = (reader.rows(), reader.cols());
    let (rows32, cols32) = match (u32::try_from(rows), u32::try_from(cols)) {
        (Ok(r), Ok(c)) if r < u32::MAX / 2 && c < u32::MAX / 2 => (r, c),
        _ => {
            return Err(Error::format(
                path,
                format!("{rows} x {cols} is too large to draw (at most 2^31 rows and columns)"),
            ));
        }
    };
    let block_rows = (BLOCK_BYTES / 4 / cols).max(1);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let mut reducer = match on {
        ReduceOn::Gpu => Reducer::Gpu(RowReducer::new(
            ctx,
            rows32,
            cols32,
            height,
            mode,
            block_rows as u32,
        )?),
        ReduceOn::Cpu => Reducer::Cpu(RowSummary::new(rows32, cols32, height, mode)),
    };
    let mut stats: Vec<StatsAccumulator> = (0..threads).map(|_| StatsAccumulator::new(percentiles)).collect();

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
        for block in full_rx.iter() {
            let (first, buf) = block?;
            let first = first as u32;
            match &mut reducer {
                Reducer::Gpu(g) => {
                    g.add_block(ctx, first, &buf)?;
                    fold_stats(&mut stats, &buf, cols);
                }
                Reducer::Cpu(sum) => sum.add_block_with_stats(first, &buf, &mut stats),
            }
            // The reader may have stopped after an error: ignore a closed pool.
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        Ok(())
    })?;
    let summary = match reducer {
        Reducer::Gpu(g) => g.finish(ctx)?,
        Reducer::Cpu(s) => s,
    };
    let mut acc = StatsAccumulator::new(percentiles);
    for s in &stats {
        acc.merge(s);
    }
    Ok(StreamSummary {
        stats: acc,
        rows: summary,
    })
}

enum Reducer {
    Cpu(RowSummary),
    Gpu(RowReducer),
}

/// Statistics of a block, split by rows over the accumulators' threads.
fn fold_stats(stats: &mut [StatsAccumulator], block: &[f32], cols: usize) {
    let rows = block.len() / cols;
    let per = rows.div_ceil(stats.len()).max(1) * cols;
    std::thread::scope(|s| {
        for (acc, part) in stats.iter_mut().zip(block.chunks(per)) {
            s.spawn(move || acc.add(part));
        }
    });
}
