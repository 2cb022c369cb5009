//! GPU row reduction for out-of-core grids: each block of input rows is
//! written to a storage buffer and a compute pass (`shaders/reduce.wgsl`)
//! folds it into per-pixel-row partial aggregates that stay on the GPU
//! until [`RowReducer::finish`] reads them back as a [`RowSummary`] (a few
//! MiB: plot height x columns), the same one the CPU path produces.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::shaders::REDUCE_WGSL;
use crate::scale::summary::{channels, pixel_rows_touching};
use crate::scale::{Aggregate, RowSummary};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    shape: [u32; 4],
    block: [u32; 4],
}

/// Folds row blocks into a [`RowSummary`] on the GPU.
pub struct RowReducer {
    rows: u32,
    cols: u32,
    height: u32,
    mode: Aggregate,
    pipeline: wgpu::ComputePipeline,
    params: Vec<wgpu::Buffer>,
    blocks: Vec<wgpu::Buffer>,
    bind_groups: Vec<wgpu::BindGroup>,
    /// min, max, sum, count, flags, nearest (4-byte stubs when unused).
    outputs: Vec<(wgpu::Buffer, bool)>,
    next: usize,
    in_flight: Vec<Option<wgpu::SubmissionIndex>>,
}

/// How many blocks may be on their way to the GPU at once.
const SLOTS: usize = 2;

impl RowReducer {
    /// Whether a reduction of `cols` columns to `height` rows, in blocks of
    /// `block_rows` rows, fits the device's storage-buffer limits.
    pub fn fits(ctx: &GpuContext, cols: u32, height: u32, block_rows: u32) -> bool {
        let l = ctx.device.limits();
        let max = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        (cols as u64 * height as u64 * 4) <= max && (cols as u64 * block_rows as u64 * 4) <= max
    }

    /// A reducer for a `rows x cols` grid drawn `height` pixels tall,
    /// receiving blocks of at most `block_rows` rows.
    pub fn new(
        ctx: &GpuContext,
        rows: u32,
        cols: u32,
        height: u32,
        mode: Aggregate,
        block_rows: u32,
    ) -> Result<RowReducer> {
        if !Self::fits(ctx, cols, height, block_rows) {
            return Err(Error::Gpu(format!(
                "a {cols}-column reduction to {height} rows exceeds this GPU's storage-buffer limit"
            )));
        }
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("RowReducer::shader"),
            source: wgpu::ShaderSource::Wgsl(REDUCE_WGSL.into()),
        });
        let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let mut entries = vec![
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            storage(1, true),
        ];
        entries.extend((2..8).map(|b| storage(b, false)));
        let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("RowReducer::bind_group_layout"),
            entries: &entries,
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("RowReducer::pipeline_layout"),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("RowReducer::pipeline"),
            layout: Some(&layout),
            module: &module,
            entry_point: Some("reduce_rows"),
            compilation_options: Default::default(),
            cache: ctx.pipeline_cache(),
        });

        let n = cols as u64 * height as u64;
        let (mn, mx, mean, near) = channels(mode);
        let nearest = mode == Aggregate::Nearest;
        let init_f32 = |v: f32| bytemuck::cast_slice::<f32, u8>(&vec![v; n as usize]).to_vec();
        let make = |label: &str, used: bool, fill: Option<Vec<u8>>| -> Result<(wgpu::Buffer, bool)> {
            let size = if used { n * 4 } else { 4 };
            let buf = ctx.scoped("allocating the reduction buffers", || {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?;
            // Fresh buffers are zeroed; min/max/nearest start elsewhere.
            if let (true, Some(bytes)) = (used, fill) {
                ctx.queue.write_buffer(&buf, 0, &bytes);
            }
            Ok((buf, used))
        };
        let outputs = vec![
            make("RowReducer::min", mn, Some(init_f32(f32::MAX)))?,
            make("RowReducer::max", mx, Some(init_f32(-f32::MAX)))?,
            make("RowReducer::sum", mean, None)?,
            make("RowReducer::count", mean, None)?,
            make("RowReducer::flags", !nearest, None)?,
            make("RowReducer::nearest", near, Some(init_f32(f32::NAN)))?,
        ];
        let mut params = Vec::new();
        let mut blocks = Vec::new();
        let mut bind_groups = Vec::new();
        for _ in 0..SLOTS {
            let p = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("RowReducer::params"),
                size: std::mem::size_of::<ReduceParams>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let b = ctx.scoped("allocating the block buffer", || {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("RowReducer::block"),
                    size: cols as u64 * block_rows as u64 * 4,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })?;
            let mut group = vec![
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: p.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: b.as_entire_binding(),
                },
            ];
            group.extend(
                outputs
                    .iter()
                    .enumerate()
                    .map(|(i, (buf, _))| wgpu::BindGroupEntry {
                        binding: 2 + i as u32,
                        resource: buf.as_entire_binding(),
                    }),
            );
            bind_groups.push(device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("RowReducer::bind_group"),
                layout: &bgl,
                entries: &group,
            }));
            params.push(p);
            blocks.push(b);
        }
        ctx.take_errors()?;
        ctx.save_pipeline_cache();
        Ok(RowReducer {
            rows,
            cols,
            height,
            mode,
            pipeline,
            params,
            blocks,
            bind_groups,
            outputs,
            next: 0,
            in_flight: vec![None; SLOTS],
        })
    }

    /// Fold rows `first_row ..` (`block.len() / cols` of them) in.
    pub fn add_block(&mut self, ctx: &GpuContext, first_row: u32, block: &[f32]) -> Result<()> {
        let n_rows = (block.len() / self.cols as usize) as u32;
        if n_rows == 0 {
            return Ok(());
        }
        let slot = self.next % SLOTS;
        self.next += 1;
        // Reuse a slot only once the GPU is done with its last block, so
        // at most SLOTS blocks of staging memory are alive.
        if let Some(idx) = self.in_flight[slot].take() {
            ctx.device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(idx),
                    timeout: None,
                })
                .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;
        }
        let (p0, p1) = pixel_rows_touching(self.rows, self.height, first_row, first_row + n_rows);
        let params = ReduceParams {
            shape: [self.rows, self.cols, self.height, self.mode as u32],
            block: [first_row, n_rows, p0, 0],
        };
        ctx.queue
            .write_buffer(&self.params[slot], 0, bytemuck::bytes_of(&params));
        ctx.queue
            .write_buffer(&self.blocks[slot], 0, bytemuck::cast_slice(block));
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("RowReducer::encoder"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("RowReducer::pass"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_groups[slot], &[]);
            pass.dispatch_workgroups(self.cols.div_ceil(64), p1 - p0, 1);
        }
        self.in_flight[slot] = Some(ctx.queue.submit([encoder.finish()]));
        ctx.take_errors()
    }

    /// Read the aggregates back.
    pub fn finish(self, ctx: &GpuContext) -> Result<RowSummary> {
        let mut summary = RowSummary::new(self.rows, self.cols, self.height, self.mode);
        // Flags are u32 on the GPU (no 8-bit storage in WGSL), u8 in the summary.
        let mut flags = vec![0u32; summary.flags.len()];
        let targets: [&mut [u8]; 6] = [
            bytemuck::cast_slice_mut(summary.min.as_mut_slice()),
            bytemuck::cast_slice_mut(summary.max.as_mut_slice()),
            bytemuck::cast_slice_mut(summary.sum.as_mut_slice()),
            bytemuck::cast_slice_mut(summary.count.as_mut_slice()),
            bytemuck::cast_slice_mut(flags.as_mut_slice()),
            bytemuck::cast_slice_mut(summary.nearest.as_mut_slice()),
        ];
        for ((buf, used), target) in self.outputs.iter().zip(targets) {
            if *used && !target.is_empty() {
                read_buffer(ctx, buf, target)?;
            }
        }
        for (f, g) in summary.flags.iter_mut().zip(flags) {
            *f = g as u8;
        }
        Ok(summary)
    }
}

/// Copy `buf` (at least `out.len()` bytes) into `out`.
fn read_buffer(ctx: &GpuContext, buf: &wgpu::Buffer, out: &mut [u8]) -> Result<()> {
    let size = out.len() as u64;
    let staging = ctx.scoped("allocating a readback buffer", || {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("RowReducer::readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })?;
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("RowReducer::readback_encoder"),
        });
    encoder.copy_buffer_to_buffer(buf, 0, &staging, 0, size);
    ctx.queue.submit([encoder.finish()]);
    let view = ctx.map_read(&staging, "the reduction")?;
    out.copy_from_slice(&view);
    drop(view);
    staging.unmap();
    Ok(())
}
