//! GPU row reduction for out-of-core grids: each block of input rows is
//! written to a storage buffer and a compute pass (`shaders/reduce.wgsl`)
//! folds it into the column partials of the bins of a [`PixelPass`] that
//! stay on the GPU until [`RowReducer::finish`] reads them back into the
//! pass (bins x columns), the same partials the CPU path leaves.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::shaders::REDUCE_WGSL;
use crate::scale::Aggregate;
use crate::scale::summary::{Bin, PixelPass, channels};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    shape: [u32; 4],
    block: [u32; 4],
}

/// Folds row blocks into the column partials of a [`PixelPass`]'s bins on
/// the GPU.
pub struct RowReducer {
    cols: u32,
    mode: Aggregate,
    bins: Vec<Bin>,
    _bin_table: wgpu::Buffer,
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
    /// Whether a reduction of `cols` columns into `bins` bins, in blocks of
    /// `block_rows` rows, fits the device's storage-buffer limits.
    pub fn fits(ctx: &GpuContext, cols: u32, bins: usize, block_rows: u32) -> bool {
        let l = ctx.device.limits();
        let max = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        (cols as u64 * bins.max(1) as u64 * 4) <= max
            && (cols as u64 * block_rows as u64 * 4) <= max
            && (bins.max(1) as u64 * 16) <= max
    }

    /// A reducer for the rows of `pass`, receiving blocks of at most
    /// `block_rows` rows.
    pub fn new(ctx: &GpuContext, pass: &PixelPass, block_rows: u32) -> Result<RowReducer> {
        let (cols, mode) = (pass.cols(), pass.mode());
        let bins = pass.bins().to_vec();
        if !Self::fits(ctx, cols, bins.len(), block_rows) {
            return Err(Error::Gpu(format!(
                "a {cols}-column reduction into {} bins exceeds this GPU's storage-buffer limit",
                bins.len()
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
        entries.push(storage(8, true));
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

        let n = cols as u64 * bins.len().max(1) as u64;
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
        let table: Vec<[u32; 4]> = bins.iter().map(|b| [b.start, b.end, b.nearest, 0]).collect();
        let table = if table.is_empty() { vec![[0u32; 4]] } else { table };
        let bin_table = ctx.scoped("allocating the bin table", || {
            wgpu::util::DeviceExt::create_buffer_init(
                device,
                &wgpu::util::BufferInitDescriptor {
                    label: Some("RowReducer::bins"),
                    contents: bytemuck::cast_slice(&table),
                    usage: wgpu::BufferUsages::STORAGE,
                },
            )
        })?;
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
            group.push(wgpu::BindGroupEntry {
                binding: 8,
                resource: bin_table.as_entire_binding(),
            });
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
            cols,
            mode,
            bins,
            _bin_table: bin_table,
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
        let end = first_row.saturating_add(n_rows);
        let b0 = self.bins.partition_point(|b| b.end <= first_row);
        let b1 = self.bins.partition_point(|b| b.start < end).max(b0);
        if b0 == b1 {
            // Rows no pixel shows (outside the view): nothing to fold.
            return Ok(());
        }
        let params = ReduceParams {
            shape: [self.cols, self.mode as u32, self.bins.len() as u32, 0],
            block: [first_row, n_rows, b0 as u32, 0],
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
            pass.dispatch_workgroups(self.cols.div_ceil(64), (b1 - b0) as u32, 1);
        }
        self.in_flight[slot] = Some(ctx.queue.submit([encoder.finish()]));
        ctx.take_errors()
    }

    /// Read the column partials of every bin back into `pass` (the pass
    /// this reducer was made for).
    pub fn finish(self, ctx: &GpuContext, pass: &mut PixelPass) -> Result<()> {
        let cols = self.cols as usize;
        let n = cols * self.bins.len();
        if n == 0 {
            return Ok(());
        }
        for (i, (buf, used)) in self.outputs.iter().enumerate() {
            if !*used {
                continue;
            }
            let mut bytes = vec![0u8; n * 4];
            read_buffer(ctx, buf, &mut bytes)?;
            for b in 0..self.bins.len() {
                let Some(part) = pass.partials_mut(b) else {
                    continue;
                };
                let src = &bytes[b * cols * 4..(b + 1) * cols * 4];
                let words = src.chunks_exact(4).map(|w| [w[0], w[1], w[2], w[3]]);
                match i {
                    0 => part
                        .min
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = f32::from_le_bytes(w)),
                    1 => part
                        .max
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = f32::from_le_bytes(w)),
                    2 => part
                        .sum
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = f32::from_le_bytes(w)),
                    3 => part
                        .count
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = u32::from_le_bytes(w)),
                    // Flags are u32 on the GPU (no 8-bit storage in WGSL), u8 here.
                    4 => part
                        .flags
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = u32::from_le_bytes(w) as u8),
                    _ => part
                        .nearest
                        .iter_mut()
                        .zip(words)
                        .for_each(|(d, w)| *d = f32::from_le_bytes(w)),
                }
            }
        }
        Ok(())
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
