//! The heatmap renderer: pipeline (long-lived) and draw data (per view).

use wgpu::util::DeviceExt;

use super::shaders::HEATMAP_WGSL;
use super::{GpuContext, GridTexture, linear_rgba};
use crate::error::{Error, Result};
pub use crate::layout::scene::{AxisMapping, PixelRect};
use crate::scale::aggregate::nearest_cell;
use crate::scale::{Aggregate, Colormap, Norm};

/// Everything that decides how one heatmap view looks.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapParams {
    /// Where in the target the data goes.
    pub rect: PixelRect,
    /// Value -> colormap position.
    pub norm: Norm,
    /// The colormap.
    pub colormap: Colormap,
    /// How cells sharing a pixel combine.
    pub aggregate: Aggregate,
    /// Colour of NaN cells (sRGB RGBA).
    pub nan_color: [u8; 4],
    /// Colour of +inf cells.
    pub pos_inf_color: [u8; 4],
    /// Colour of -inf cells.
    pub neg_inf_color: [u8; 4],
    /// Horizontal cell placement (columns).
    pub x: AxisMapping,
    /// Vertical cell placement (rows).
    pub y: AxisMapping,
    /// Draw the last column at the left.
    pub flip_x: bool,
    /// Draw the last row at the top (matplotlib's `origin="lower"`).
    pub flip_y: bool,
}

impl HeatmapParams {
    /// Uniform cells filling `rect`, row 0 at the top.
    pub fn new(rect: PixelRect, norm: Norm, colormap: Colormap) -> Self {
        HeatmapParams {
            rect,
            norm,
            colormap,
            aggregate: Aggregate::default(),
            nan_color: [255, 0, 255, 255],
            pos_inf_color: [255, 255, 255, 255],
            neg_inf_color: [0, 0, 0, 255],
            x: AxisMapping::Uniform,
            y: AxisMapping::Uniform,
            flip_x: false,
            flip_y: false,
        }
    }
}

const FLAG_FLIP_X: u32 = 1;
const FLAG_FLIP_Y: u32 = 2;
const FLAG_EDGES_X: u32 = 4;
const FLAG_EDGES_Y: u32 = 8;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Uniforms {
    rect: [u32; 4],
    grid: [u32; 4],
    mode: [u32; 4],
    norm: [f32; 4],
    misc: [f32; 4],
    view: [f32; 4],
    nan_color: [f32; 4],
    pos_inf_color: [f32; 4],
    neg_inf_color: [f32; 4],
}

/// The heatmap pipelines. Create once per target format, draw many.
///
/// Each pipeline is compiled on first use (a software adapter compiles
/// shaders to machine code, tens of milliseconds each, and a render whose
/// heatmaps are coloured on the CPU needs none).
#[derive(Debug)]
pub struct HeatmapRenderer {
    module: wgpu::ShaderModule,
    layout: wgpu::PipelineLayout,
    format: wgpu::TextureFormat,
    /// Aggregates every cell under each pixel.
    pipeline: std::sync::OnceLock<wgpu::RenderPipeline>,
    /// The same shader specialised (`direct`) for at most one cell per
    /// pixel on evenly spaced axes: no aggregation loop at all.
    direct: std::sync::OnceLock<wgpu::RenderPipeline>,
    bind_group_layout: wgpu::BindGroupLayout,
}

/// One prepared heatmap view: uniforms and bindings for one grid texture.
#[derive(Debug)]
pub struct HeatmapDrawData {
    bind_group: wgpu::BindGroup,
    rect: PixelRect,
    direct: bool,
}

impl HeatmapRenderer {
    /// Build the pipeline for targets of `format`.
    pub fn new(ctx: &GpuContext, format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("HeatmapRenderer::shader"),
            source: wgpu::ShaderSource::Wgsl(HEATMAP_WGSL.into()),
        });
        let texture_entry = |binding, dim| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: dim,
                multisampled: false,
            },
            count: None,
        };
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("HeatmapRenderer::bind_group_layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1, wgpu::TextureViewDimension::D2Array),
                texture_entry(2, wgpu::TextureViewDimension::D2),
                texture_entry(3, wgpu::TextureViewDimension::D2),
                wgpu::BindGroupLayoutEntry {
                    binding: 4,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Uint,
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("HeatmapRenderer::pipeline_layout"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        HeatmapRenderer {
            module,
            layout,
            format,
            pipeline: std::sync::OnceLock::new(),
            direct: std::sync::OnceLock::new(),
            bind_group_layout,
        }
    }

    /// The pipeline for `direct` draws or the aggregating one, compiled
    /// now if this is its first use.
    fn pipeline_for(&self, ctx: &GpuContext, direct: bool) -> &wgpu::RenderPipeline {
        let (cell, label, value) = if direct {
            (&self.direct, "HeatmapRenderer::direct_pipeline", 1.0)
        } else {
            (&self.pipeline, "HeatmapRenderer::render_pipeline", 0.0)
        };
        cell.get_or_init(|| {
            let p = ctx
                .device
                .create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                    label: Some(label),
                    layout: Some(&self.layout),
                    vertex: wgpu::VertexState {
                        module: &self.module,
                        entry_point: Some("vs_main"),
                        compilation_options: Default::default(),
                        buffers: &[],
                    },
                    primitive: wgpu::PrimitiveState::default(),
                    depth_stencil: None,
                    multisample: wgpu::MultisampleState::default(),
                    fragment: Some(wgpu::FragmentState {
                        module: &self.module,
                        entry_point: Some("fs_main"),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            constants: &[("direct", value)],
                            ..Default::default()
                        },
                        targets: &[Some(wgpu::ColorTargetState {
                            format: self.format,
                            blend: None,
                            write_mask: wgpu::ColorWrites::ALL,
                        })],
                    }),
                    multiview_mask: None,
                    cache: ctx.pipeline_cache(),
                });
            ctx.save_pipeline_cache();
            p
        })
    }

    /// Prepare one view of `grid` with `params`.
    pub fn prepare(
        &self,
        ctx: &GpuContext,
        grid: &GridTexture,
        params: &HeatmapParams,
    ) -> Result<HeatmapDrawData> {
        let r = params.rect;
        if r.width == 0 || r.height == 0 {
            return Err(Error::Invalid(format!(
                "the plot area is empty ({} x {} pixels)",
                r.width, r.height
            )));
        }
        let l = grid.layout;
        let (offset, scale) = params.norm.offset_scale();
        let mut flags = 0;
        flags |= if params.flip_x { FLAG_FLIP_X } else { 0 };
        flags |= if params.flip_y { FLAG_FLIP_Y } else { 0 };
        let mut view = [0.0f32; 4];
        let mut edge_rows: [&[f32]; 2] = [&[], &[]];
        let axes = [
            (&params.x, l.cols, FLAG_EDGES_X),
            (&params.y, l.rows, FLAG_EDGES_Y),
        ];
        for (axis, (mapping, cells, flag)) in axes.into_iter().enumerate() {
            if let AxisMapping::Edges {
                edges,
                view: (lo, hi),
            } = mapping
            {
                let name = if axis == 0 { "x" } else { "y" };
                if edges.len() != cells as usize + 1 {
                    return Err(Error::Invalid(format!(
                        "{name} coordinates: {} cells need {} edges, got {}",
                        cells,
                        cells + 1,
                        edges.len()
                    )));
                }
                let increasing = edges.windows(2).all(|w| w[0] < w[1]) && edges.iter().all(|e| e.is_finite());
                if !increasing || lo.partial_cmp(hi) != Some(std::cmp::Ordering::Less) {
                    return Err(Error::Invalid(format!(
                        "{name} coordinates must be finite and strictly increasing"
                    )));
                }
                if edges.len() as u32 > ctx.max_texture_dim() {
                    return Err(Error::Invalid(format!(
                        "{name} coordinates for {cells} cells exceed this GPU's texture size ({}); \
                         draw that axis evenly (--coords index)",
                        ctx.max_texture_dim()
                    )));
                }
                view[axis * 2] = *lo;
                view[axis * 2 + 1] = *hi;
                edge_rows[axis] = edges;
                flags |= flag;
            }
        }
        let u = Uniforms {
            rect: [r.x, r.y, r.width, r.height],
            grid: [l.rows, l.cols, l.tile_rows, l.tile_cols],
            mode: [
                l.tiles_x,
                params.aggregate as u32,
                params.norm.transform as u32,
                flags,
            ],
            norm: [offset, scale, params.norm.linthresh, params.norm.linscale_adj],
            misc: [params.norm.centre, 0.0, 0.0, 0.0],
            view,
            nan_color: linear_rgba(params.nan_color),
            pos_inf_color: linear_rgba(params.pos_inf_color),
            neg_inf_color: linear_rgba(params.neg_inf_color),
        };
        let device = &ctx.device;
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("HeatmapDrawData::uniforms"),
            contents: bytemuck::bytes_of(&u),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let lut = params.colormap.lut();
        let lut_texture = device.create_texture_with_data(
            &ctx.queue,
            &wgpu::TextureDescriptor {
                label: Some("HeatmapDrawData::colormap"),
                size: wgpu::Extent3d {
                    width: 256,
                    height: 1,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8UnormSrgb,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            bytemuck::cast_slice(&lut),
        );
        let lut_view = lut_texture.create_view(&Default::default());
        let edges_width = edge_rows.iter().map(|e| e.len()).max().unwrap_or(0).max(1);
        let mut edge_texels = vec![0.0f32; edges_width * 2];
        for (axis, row) in edge_rows.iter().enumerate() {
            edge_texels[axis * edges_width..axis * edges_width + row.len()].copy_from_slice(row);
        }
        let edges_texture = device.create_texture_with_data(
            &ctx.queue,
            &wgpu::TextureDescriptor {
                label: Some("HeatmapDrawData::edges"),
                size: wgpu::Extent3d {
                    width: edges_width as u32,
                    height: 2,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            bytemuck::cast_slice(&edge_texels),
        );
        let edges_view = edges_texture.create_view(&Default::default());
        let direct = params.x == AxisMapping::Uniform
            && params.y == AxisMapping::Uniform
            && l.rows <= r.height
            && l.cols <= r.width;
        let map_texels = if direct { cell_map(&l, r) } else { vec![[0u32; 2]] };
        let map_width = (map_texels.len() / 2).max(1) as u32;
        let map_texture = device.create_texture_with_data(
            &ctx.queue,
            &wgpu::TextureDescriptor {
                label: Some("HeatmapDrawData::cell_map"),
                size: wgpu::Extent3d {
                    width: map_width,
                    height: if direct { 2 } else { 1 },
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rg32Uint,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            bytemuck::cast_slice(&map_texels),
        );
        let map_view = map_texture.create_view(&Default::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("HeatmapDrawData::bind_group"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniforms.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&grid.view),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&lut_view),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&edges_view),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::TextureView(&map_view),
                },
            ],
        });
        self.pipeline_for(ctx, direct);
        Ok(HeatmapDrawData {
            bind_group,
            rect: r,
            direct,
        })
    }

    /// Record `data` into `pass`, clipped to its rectangle.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, data: &HeatmapDrawData) {
        let r = data.rect;
        pass.set_viewport(r.x as f32, r.y as f32, r.width as f32, r.height as f32, 0.0, 1.0);
        pass.set_scissor_rect(r.x, r.y, r.width, r.height);
        // `prepare` compiled the pipeline this draw needs.
        let Some(pipeline) = (if data.direct { &self.direct } else { &self.pipeline }).get() else {
            return;
        };
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &data.bind_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

/// The direct pipeline's `cell_map`: for each pixel column (row 0) and
/// pixel row (row 1) of `rect`, the cell under its centre as (index within
/// its tile, tile index), `width = max(rect width, rect height)` texels a row.
fn cell_map(l: &super::grid_texture::TileLayout, rect: PixelRect) -> Vec<[u32; 2]> {
    let w = rect.width.max(rect.height) as usize;
    let mut out = vec![[0u32; 2]; 2 * w];
    for (row, (pixels, cells, per_tile)) in [
        (rect.width, l.cols, l.tile_cols),
        (rect.height, l.rows, l.tile_rows),
    ]
    .into_iter()
    .enumerate()
    {
        for p in 0..pixels {
            let c = nearest_cell(p, cells, pixels);
            out[row * w + p as usize] = [c % per_tile, c / per_tile];
        }
    }
    out
}
