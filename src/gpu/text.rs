//! The text renderer: pipeline and glyph atlas (long-lived), draw data (per
//! set of runs).
//!
//! Glyphs are rasterized on the CPU (fontdue) at the exact, 1/4-px
//! quantized size they are drawn at, cached in an R8Unorm coverage atlas and
//! drawn as one instanced quad each, placed on whole target pixels so every
//! atlas texel lands on exactly one pixel (upright or turned 90°). Layout is
//! [`Font::layout`](crate::text::Font), the same code [`Font::bounds`]
//! uses, so drawn text sits exactly in the box layout reserved for it.

use std::collections::{HashMap, HashSet};

use wgpu::util::DeviceExt;

use super::shaders::TEXT_WGSL;
use super::{GpuContext, linear_rgba};
use crate::error::{Error, Result};
use crate::text::Font;
use crate::text::font::{Rotation, SIZE_STEPS, TextRun};

/// First atlas side, in texels (grows by doubling when full).
const INITIAL_ATLAS: u32 = 512;
/// Largest atlas side even where the GPU allows more: 8192² R8 is 64 MiB,
/// room for tens of thousands of label glyphs.
const MAX_ATLAS: u32 = 8192;
/// Empty texels right of and below each glyph in the atlas.
const PAD: u32 = 1;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GlyphInstance {
    pos: [f32; 2],
    size: [f32; 2],
    uv: [f32; 2],
    color: [f32; 4],
    rotation: u32,
}

const INSTANCE_ATTRIBUTES: [wgpu::VertexAttribute; 5] = wgpu::vertex_attr_array![
    0 => Float32x2,
    1 => Float32x2,
    2 => Float32x2,
    3 => Float32x4,
    4 => Uint32,
];

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Uniforms {
    target_size: [f32; 4],
}

/// A glyph at one size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct GlyphKey {
    glyph: u16,
    /// Size in 1/`SIZE_STEPS` px.
    size_steps: u32,
}

#[derive(Debug)]
struct CachedGlyph {
    /// Bitmap's left edge right of the glyph origin.
    xmin: i32,
    /// Bitmap's bottom edge above the baseline.
    ymin: i32,
    width: u32,
    height: u32,
    /// Coverage, row-major from the top; kept to re-pack when the atlas grows.
    bitmap: Vec<u8>,
    /// Top-left texel in the atlas; `None` for blank glyphs (spaces).
    slot: Option<[u32; 2]>,
}

impl CachedGlyph {
    fn needs_slot(&self) -> bool {
        self.width > 0 && self.height > 0
    }

    fn area(&self) -> u64 {
        (self.width + PAD) as u64 * (self.height + PAD) as u64
    }
}

/// Shelf packing: rows of glyphs, each row as tall as its first glyph.
#[derive(Debug)]
struct ShelfPacker {
    size: u32,
    shelves: Vec<Shelf>,
    /// Top of the free space below the last shelf.
    bottom: u32,
}

#[derive(Debug)]
struct Shelf {
    y: u32,
    height: u32,
    /// Left of the free space in this shelf.
    x: u32,
}

impl ShelfPacker {
    fn new(size: u32) -> Self {
        ShelfPacker {
            size,
            shelves: Vec::new(),
            bottom: 0,
        }
    }

    /// Room for a `w x h` bitmap (plus padding): its top-left texel.
    fn alloc(&mut self, w: u32, h: u32) -> Option<[u32; 2]> {
        let (w, h) = (w + PAD, h + PAD);
        if w > self.size || h > self.size {
            return None;
        }
        let fits = |s: &Shelf| s.height >= h && self.size - s.x >= w;
        // The lowest shelf that fits without wasting much height, else a
        // new shelf, else any shelf that fits.
        let snug = self
            .shelves
            .iter()
            .enumerate()
            .filter(|(_, s)| fits(s) && s.height <= h + h / 4 + 1)
            .min_by_key(|(_, s)| s.height)
            .map(|(i, _)| i);
        let index = match snug {
            Some(i) => i,
            None if self.size - self.bottom >= h => {
                self.shelves.push(Shelf {
                    y: self.bottom,
                    height: h,
                    x: 0,
                });
                self.bottom += h;
                self.shelves.len() - 1
            }
            None => self
                .shelves
                .iter()
                .enumerate()
                .filter(|(_, s)| fits(s))
                .min_by_key(|(_, s)| s.height)
                .map(|(i, _)| i)?,
        };
        let shelf = &mut self.shelves[index];
        let at = [shelf.x, shelf.y];
        shelf.x += w;
        Some(at)
    }
}

#[derive(Debug)]
struct Atlas {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    packer: ShelfPacker,
}

impl Atlas {
    fn new(ctx: &GpuContext, size: u32) -> Result<Self> {
        let texture = ctx.scoped("allocating the glyph atlas", || {
            ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("TextRenderer::atlas"),
                size: wgpu::Extent3d {
                    width: size,
                    height: size,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        let view = texture.create_view(&Default::default());
        Ok(Atlas {
            texture,
            view,
            packer: ShelfPacker::new(size),
        })
    }

    fn size(&self) -> u32 {
        self.packer.size
    }

    /// Copy `bytes` (`w` texels per row) into the texture at `at`.
    fn write(&self, ctx: &GpuContext, at: [u32; 2], w: u32, h: u32, bytes: &[u8]) {
        ctx.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &self.texture,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: at[0],
                    y: at[1],
                    z: 0,
                },
                aspect: wgpu::TextureAspect::All,
            },
            bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(w),
                rows_per_image: None,
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
    }
}

/// The text pipeline and its glyph atlas. Create once per target format;
/// `prepare` as often as the text changes, `draw` many times.
#[derive(Debug)]
pub struct TextRenderer {
    pipeline: wgpu::RenderPipeline,
    bind_group_layout: wgpu::BindGroupLayout,
    font: &'static Font,
    atlas: Option<Atlas>,
    cache: HashMap<GlyphKey, CachedGlyph>,
}

/// Prepared text: glyph quads and bindings for one target size.
#[derive(Debug)]
pub struct TextDrawData {
    bind_group: Option<wgpu::BindGroup>,
    instances: Option<wgpu::Buffer>,
    count: u32,
    target: [u32; 2],
}

impl TextDrawData {
    /// Number of glyph quads (blank glyphs such as spaces have none).
    pub fn glyph_count(&self) -> u32 {
        self.count
    }
}

impl TextRenderer {
    /// Build the pipeline for targets of `format`, drawing in DejaVu Sans.
    /// The atlas is allocated on first use.
    pub fn new(ctx: &GpuContext, format: wgpu::TextureFormat) -> Self {
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("TextRenderer::shader"),
            source: wgpu::ShaderSource::Wgsl(TEXT_WGSL.into()),
        });
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("TextRenderer::bind_group_layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("TextRenderer::pipeline_layout"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("TextRenderer::render_pipeline"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[Some(wgpu::VertexBufferLayout {
                    array_stride: std::mem::size_of::<GlyphInstance>() as wgpu::BufferAddress,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &INSTANCE_ATTRIBUTES,
                })],
            },
            primitive: wgpu::PrimitiveState {
                topology: wgpu::PrimitiveTopology::TriangleStrip,
                ..Default::default()
            },
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
        TextRenderer {
            pipeline,
            bind_group_layout,
            font: Font::default_sans(),
            atlas: None,
            cache: HashMap::new(),
        }
    }

    /// The font runs are drawn in (for measuring and [`Font::bounds`]).
    pub fn font(&self) -> &'static Font {
        self.font
    }

    /// Side of the glyph atlas in texels (0 before the first glyph).
    pub fn atlas_size(&self) -> u32 {
        self.atlas.as_ref().map_or(0, Atlas::size)
    }

    /// Lay out `runs` for a `target_width x target_height` target (the one
    /// the draw data will be drawn into), rasterize and upload glyphs not
    /// yet in the atlas, and build the glyph quads.
    ///
    /// Draw data from earlier calls stays valid: glyphs already in an atlas
    /// never move; when the atlas is full a new, larger one replaces it and
    /// older draw data keep the old one alive.
    pub fn prepare(
        &mut self,
        ctx: &GpuContext,
        runs: &[TextRun],
        target_width: u32,
        target_height: u32,
    ) -> Result<TextDrawData> {
        if target_width == 0 || target_height == 0 {
            return Err(Error::Invalid(format!(
                "cannot draw text into an empty target ({target_width} x {target_height} pixels)"
            )));
        }
        for run in runs {
            if !(run.x.is_finite() && run.y.is_finite() && run.size_px.is_finite() && run.size_px >= 0.0) {
                return Err(Error::Invalid(format!(
                    "text {:?}: position ({}, {}) and size {} px must be finite numbers, the size not negative",
                    run.text, run.x, run.y, run.size_px
                )));
            }
        }
        let layouts: Vec<_> = runs.iter().map(|r| self.font.layout(r)).collect();

        // Rasterize what the cache lacks.
        let max_side = ctx.max_texture_dim().min(MAX_ATLAS);
        let mut used = HashSet::new();
        let mut fresh = Vec::new();
        for l in &layouts {
            let size_steps = (l.size_px * SIZE_STEPS) as u32;
            for g in &l.glyphs {
                let key = GlyphKey {
                    glyph: g.glyph,
                    size_steps,
                };
                if !used.insert(key) {
                    continue;
                }
                if let Some(cached) = self.cache.get(&key) {
                    // Rasterized by an earlier call that failed before placing it.
                    if cached.needs_slot() && cached.slot.is_none() {
                        fresh.push(key);
                    }
                    continue;
                }
                let m = self.font.glyph_metrics(g.glyph, l.size_px);
                if m.width as u64 + PAD as u64 > max_side as u64
                    || m.height as u64 + PAD as u64 > max_side as u64
                {
                    return Err(Error::Invalid(format!(
                        "text at {} px is too large to draw: a glyph of {} x {} pixels does not fit in the \
                         glyph atlas ({max_side} x {max_side} on this GPU)",
                        l.size_px, m.width, m.height
                    )));
                }
                let (m, bitmap) = self.font.rasterize(g.glyph, l.size_px);
                let glyph = CachedGlyph {
                    xmin: m.xmin,
                    ymin: m.ymin,
                    width: m.width as u32,
                    height: m.height as u32,
                    bitmap,
                    slot: None,
                };
                if glyph.needs_slot() {
                    fresh.push(key);
                }
                self.cache.insert(key, glyph);
            }
        }

        // Place and upload them: into free atlas space if there is room,
        // else into a new atlas with everything re-packed.
        if (!fresh.is_empty() || self.atlas.is_none()) && !self.place_in_current(ctx, &fresh) {
            self.rebuild(ctx, &used, max_side)?;
        }
        let Some(atlas) = &self.atlas else {
            return Err(Error::Gpu("the glyph atlas is missing".into()));
        };

        let mut instances = Vec::new();
        for (run, l) in runs.iter().zip(&layouts) {
            if run.color[3] == 0 {
                continue;
            }
            let color = linear_rgba(run.color);
            let size_steps = (l.size_px * SIZE_STEPS) as u32;
            let [ox, oy] = l.origin;
            for g in &l.glyphs {
                let key = GlyphKey {
                    glyph: g.glyph,
                    size_steps,
                };
                let Some(cached) = self.cache.get(&key) else {
                    continue;
                };
                let Some(slot) = cached.slot else {
                    continue;
                };
                // Bitmap top-left in the run's own frame (x along the text, y down).
                let lx = g.offset + cached.xmin as f32;
                let ly = -(cached.ymin as f32 + cached.height as f32);
                let (pos, rotation) = match l.rotation {
                    Rotation::None => ([ox + lx, oy + ly], 0),
                    Rotation::Ccw90 => ([ox + ly, oy - lx], 1),
                };
                instances.push(GlyphInstance {
                    pos,
                    size: [cached.width as f32, cached.height as f32],
                    uv: [slot[0] as f32, slot[1] as f32],
                    color,
                    rotation,
                });
            }
        }

        let device = &ctx.device;
        let count = u32::try_from(instances.len())
            .map_err(|_| Error::Invalid(format!("too much text: {} glyphs", instances.len())))?;
        if count == 0 {
            return Ok(TextDrawData {
                bind_group: None,
                instances: None,
                count,
                target: [target_width, target_height],
            });
        }
        let instance_buffer = ctx.scoped("uploading text", || {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("TextDrawData::instances"),
                contents: bytemuck::cast_slice(&instances),
                usage: wgpu::BufferUsages::VERTEX,
            })
        })?;
        let uniforms = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("TextDrawData::uniforms"),
            contents: bytemuck::bytes_of(&Uniforms {
                target_size: [target_width as f32, target_height as f32, 0.0, 0.0],
            }),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("TextDrawData::bind_group"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniforms.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&atlas.view),
                },
            ],
        });
        Ok(TextDrawData {
            bind_group: Some(bind_group),
            instances: Some(instance_buffer),
            count,
            target: [target_width, target_height],
        })
    }

    /// Record `data` into `pass`. Resets viewport and scissor to the whole
    /// target (the size given to `prepare`, which must be the pass's).
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, data: &TextDrawData) {
        let (Some(bind_group), Some(instances)) = (&data.bind_group, &data.instances) else {
            return;
        };
        let [w, h] = data.target;
        pass.set_viewport(0.0, 0.0, w as f32, h as f32, 0.0, 1.0);
        pass.set_scissor_rect(0, 0, w, h);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.set_vertex_buffer(0, instances.slice(..));
        pass.draw(0..4, 0..data.count);
    }

    /// Put `fresh` glyphs into free space of the current atlas and upload
    /// them; false (nothing uploaded) if there is no atlas or no room.
    fn place_in_current(&mut self, ctx: &GpuContext, fresh: &[GlyphKey]) -> bool {
        let Some(atlas) = &mut self.atlas else {
            return false;
        };
        let mut slots = Vec::with_capacity(fresh.len());
        for key in fresh {
            let Some(g) = self.cache.get(key) else {
                continue;
            };
            match atlas.packer.alloc(g.width, g.height) {
                Some(at) => slots.push((*key, at)),
                // Abandon the half-filled packer: `rebuild` starts afresh.
                None => return false,
            }
        }
        for (key, at) in slots {
            if let Some(g) = self.cache.get_mut(&key) {
                atlas.write(ctx, at, g.width, g.height, &g.bitmap);
                g.slot = Some(at);
            }
        }
        true
    }

    /// Re-pack into a new atlas: the same size keeping only `used` glyphs
    /// if they fill at most half of it, else doubling sizes keeping
    /// everything, else the largest size keeping only `used`.
    fn rebuild(&mut self, ctx: &GpuContext, used: &HashSet<GlyphKey>, max_side: u32) -> Result<()> {
        let current = self
            .atlas
            .as_ref()
            .map_or(INITIAL_ATLAS.min(max_side), Atlas::size);
        let used_area: u64 = used
            .iter()
            .filter_map(|k| self.cache.get(k))
            .map(CachedGlyph::area)
            .sum();
        let mut attempts = Vec::new();
        if self.atlas.is_none() || used_area * 2 <= current as u64 * current as u64 {
            attempts.push((current, self.atlas.is_some()));
        }
        let mut side = current;
        while side < max_side {
            side = side.saturating_mul(2).min(max_side);
            attempts.push((side, false));
        }
        attempts.push((max_side, true));

        for (side, used_only) in attempts {
            let mut keys: Vec<GlyphKey> = self
                .cache
                .iter()
                .filter(|(k, g)| g.needs_slot() && (!used_only || used.contains(k)))
                .map(|(k, _)| *k)
                .collect();
            // Tallest first packs shelves tightly; the key makes it deterministic.
            keys.sort_by_key(|k| {
                let g = &self.cache[k];
                (std::cmp::Reverse(g.height), std::cmp::Reverse(g.width), *k)
            });
            let mut packer = ShelfPacker::new(side);
            let slots: Option<Vec<_>> = keys
                .iter()
                .map(|k| {
                    packer
                        .alloc(self.cache[k].width, self.cache[k].height)
                        .map(|at| (*k, at))
                })
                .collect();
            let Some(slots) = slots else {
                continue;
            };
            if used_only {
                self.cache.retain(|k, _| used.contains(k));
            }
            let mut atlas = Atlas::new(ctx, side)?;
            // One upload of the used rows, composed on the CPU.
            let rows = packer.bottom.min(side);
            let mut pixels = vec![0u8; side as usize * rows as usize];
            for g in self.cache.values_mut() {
                g.slot = None;
            }
            for (key, at) in slots {
                let Some(g) = self.cache.get_mut(&key) else {
                    continue;
                };
                for (r, row) in g.bitmap.chunks_exact(g.width as usize).enumerate() {
                    let start = (at[1] as usize + r) * side as usize + at[0] as usize;
                    pixels[start..start + row.len()].copy_from_slice(row);
                }
                g.slot = Some(at);
            }
            if rows > 0 {
                atlas.write(ctx, [0, 0], side, rows, &pixels);
            }
            atlas.packer = packer;
            self.atlas = Some(atlas);
            return Ok(());
        }
        Err(Error::Invalid(format!(
            "the text needs more glyphs than fit in the largest glyph atlas ({max_side} x {max_side}): \
             use fewer text sizes"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelves_pack_without_overlap() {
        let mut p = ShelfPacker::new(64);
        let mut boxes = Vec::new();
        let sizes = [
            (10, 12),
            (8, 12),
            (20, 5),
            (7, 13),
            (30, 30),
            (3, 3),
            (12, 12),
            (40, 4),
        ];
        for &(w, h) in sizes.iter().cycle().take(40) {
            match p.alloc(w, h) {
                Some([x, y]) => {
                    assert!(x + w + PAD <= 64 && y + h + PAD <= 64);
                    boxes.push((x, y, w + PAD, h + PAD));
                }
                None => break,
            }
        }
        assert!(boxes.len() > 8, "{}", boxes.len());
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let apart = a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        assert_eq!(ShelfPacker::new(16).alloc(16, 2), None);
    }
}
