//! Shapes: rectangles, antialiased lines and polylines, triangles; for
//! axes, ticks, colorbar frames, line charts and legends.
//!
//! [`ShapeBatch`] is built on the CPU (pure geometry, pixel coordinates,
//! y down); [`ShapeRenderer`] draws it. A batch is split into segments,
//! each with an optional clip rectangle (a panel's plot area).

use wgpu::util::DeviceExt;

use super::shaders::SHAPES_WGSL;
use super::{GpuContext, PixelRect, linear_rgba};
use crate::layout::Primitive;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct Vertex {
    position: [f32; 2],
    color: [f32; 4],
    aa: [f32; 2],
}

/// Half width used for fills: coverage is 1 everywhere.
const FILL: f32 = 1.0e6;

/// Geometry to draw, in target pixels (origin top-left, y down).
#[derive(Clone, Debug, Default)]
pub struct ShapeBatch {
    vertices: Vec<Vertex>,
    /// (clip, first vertex) for each segment.
    segments: Vec<(Option<PixelRect>, u32)>,
}

impl ShapeBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// Clip what is added from now on to `clip` (or nothing for `None`).
    pub fn set_clip(&mut self, clip: Option<PixelRect>) {
        let start = self.vertices.len() as u32;
        match self.segments.last_mut() {
            Some((c, s)) if *s == start => *c = clip,
            _ => self.segments.push((clip, start)),
        }
    }

    fn push(&mut self, p: [f32; 2], color: [f32; 4], aa: [f32; 2]) {
        if self.segments.is_empty() {
            self.segments.push((None, 0));
        }
        self.vertices.push(Vertex {
            position: p,
            color,
            aa,
        });
    }

    /// A filled triangle (not antialiased: for arrows and markers whose
    /// edges are drawn separately or don't need it).
    pub fn triangle(&mut self, a: [f32; 2], b: [f32; 2], c: [f32; 2], color: [u8; 4]) {
        let col = linear_rgba(color);
        for p in [a, b, c] {
            self.push(p, col, [0.0, FILL]);
        }
    }

    /// A filled axis-aligned rectangle.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: [u8; 4]) {
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        let (a, b, c, d) = ([x, y], [x + w, y], [x + w, y + h], [x, y + h]);
        self.triangle(a, b, c, color);
        self.triangle(a, c, d, color);
    }

    /// The outline of a rectangle with lines of `width` centred on its edges.
    pub fn rect_outline(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, color: [u8; 4]) {
        let hw = width / 2.0;
        self.line([x - hw, y], [x + w + hw, y], width, color);
        self.line([x - hw, y + h], [x + w + hw, y + h], width, color);
        self.line([x, y], [x, y + h], width, color);
        self.line([x + w, y], [x + w, y + h], width, color);
    }

    /// An antialiased straight line of `width` pixels with butt ends.
    pub fn line(&mut self, p0: [f32; 2], p1: [f32; 2], width: f32, color: [u8; 4]) {
        let (dx, dy) = (p1[0] - p0[0], p1[1] - p0[1]);
        let len = (dx * dx + dy * dy).sqrt();
        if len == 0.0 || !len.is_finite() || width <= 0.0 {
            return;
        }
        let (nx, ny) = (-dy / len, dx / len);
        // Extend the quad by one pixel beyond the half width for the AA fringe.
        let hw = width / 2.0;
        let e = hw + 1.0;
        let col = linear_rgba(color);
        let v = |p: [f32; 2], s: f32| ([p[0] + nx * e * s, p[1] + ny * e * s], [e * s, hw]);
        let (a, aa_a) = v(p0, 1.0);
        let (b, aa_b) = v(p1, 1.0);
        let (c, aa_c) = v(p1, -1.0);
        let (d, aa_d) = v(p0, -1.0);
        for (p, aa) in [(a, aa_a), (b, aa_b), (c, aa_c), (a, aa_a), (c, aa_c), (d, aa_d)] {
            self.push(p, col, aa);
        }
    }

    /// A batch holding the primitives of a scene, in order, with their clips.
    pub fn from_primitives(items: &[(Option<PixelRect>, Primitive)]) -> Self {
        let mut b = ShapeBatch::new();
        let mut clip: Option<Option<PixelRect>> = None;
        for (c, p) in items {
            if clip != Some(*c) {
                b.set_clip(*c);
                clip = Some(*c);
            }
            match p {
                Primitive::Rect { rect, color } => b.rect(rect[0], rect[1], rect[2], rect[3], *color),
                Primitive::Line { p0, p1, width, color } => b.line(*p0, *p1, *width, *color),
                Primitive::Polyline { points, width, color } => b.polyline(points, *width, *color),
                Primitive::Triangle { points, color } => b.triangle(points[0], points[1], points[2], *color),
            }
        }
        b
    }

    /// A connected line through `points` (joints filled with short overlaps).
    pub fn polyline(&mut self, points: &[[f32; 2]], width: f32, color: [u8; 4]) {
        for w in points.windows(2) {
            let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
            let len = (dx * dx + dy * dy).sqrt();
            if len == 0.0 {
                continue;
            }
            // Extend each segment by half the width at both ends so joints close.
            let ext = (width / 2.0) / len;
            let a = [w[0][0] - dx * ext, w[0][1] - dy * ext];
            let b = [w[1][0] + dx * ext, w[1][1] + dy * ext];
            self.line(a, b, width, color);
        }
    }
}

/// Long-lived shape pipeline.
#[derive(Debug)]
pub struct ShapeRenderer {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
}

/// A prepared batch.
#[derive(Debug)]
pub struct ShapeDrawData {
    vertices: Option<wgpu::Buffer>,
    bind_group: wgpu::BindGroup,
    segments: Vec<(Option<PixelRect>, std::ops::Range<u32>)>,
    target: (u32, u32),
}

impl ShapeRenderer {
    /// Build the pipeline for targets of `format` (alpha blended).
    pub fn new(ctx: &GpuContext, format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("ShapeRenderer::shader"),
            source: wgpu::ShaderSource::Wgsl(SHAPES_WGSL.into()),
        });
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("ShapeRenderer::bind_group_layout"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("ShapeRenderer::pipeline_layout"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x4, 2 => Float32x2];
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("ShapeRenderer::render_pipeline"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<Vertex>() as u64,
                    step_mode: wgpu::VertexStepMode::Vertex,
                    attributes: &attributes,
                })],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: Some(wgpu::BlendState::ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: ctx.pipeline_cache(),
        });
        ShapeRenderer {
            pipeline,
            bind_group_layout,
        }
    }

    /// Upload `batch` for a `width x height` target.
    pub fn prepare(&self, ctx: &GpuContext, batch: &ShapeBatch, width: u32, height: u32) -> ShapeDrawData {
        let device = &ctx.device;
        let globals: [f32; 4] = [width as f32, height as f32, 0.0, 0.0];
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("ShapeDrawData::globals"),
            contents: bytemuck::cast_slice(&globals),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("ShapeDrawData::bind_group"),
            layout: &self.bind_group_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniforms.as_entire_binding(),
            }],
        });
        let vertices = (!batch.vertices.is_empty()).then(|| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("ShapeDrawData::vertices"),
                contents: bytemuck::cast_slice(&batch.vertices),
                usage: wgpu::BufferUsages::VERTEX,
            })
        });
        let n = batch.vertices.len() as u32;
        let segments = batch
            .segments
            .iter()
            .enumerate()
            .map(|(i, (clip, start))| {
                let end = batch.segments.get(i + 1).map_or(n, |s| s.1);
                (*clip, *start..end)
            })
            .filter(|(_, r)| !r.is_empty())
            .collect();
        ShapeDrawData {
            vertices,
            bind_group,
            segments,
            target: (width, height),
        }
    }

    /// Record `data` into `pass`.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, data: &ShapeDrawData) {
        let Some(vb) = &data.vertices else { return };
        let (w, h) = data.target;
        pass.set_viewport(0.0, 0.0, w as f32, h as f32, 0.0, 1.0);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &data.bind_group, &[]);
        pass.set_vertex_buffer(0, vb.slice(..));
        for (clip, range) in &data.segments {
            let r = clip.unwrap_or(PixelRect::full(w, h));
            // Clamp the scissor to the target; skip what lies fully outside.
            let (x0, y0) = (r.x.min(w), r.y.min(h));
            let (x1, y1) = ((r.x + r.width).min(w), (r.y + r.height).min(h));
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            pass.set_scissor_rect(x0, y0, x1 - x0, y1 - y0);
            pass.draw(range.clone(), 0..1);
        }
    }
}
