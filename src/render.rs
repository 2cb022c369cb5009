//! The high-level entry point: a [`Renderer`] turns a [`Grid`] into pixels.
//!
//! ```no_run
//! use actmap::{Grid, RenderOptions, Renderer};
//!
//! let grid = Grid::from_fn(12, 33, |r, c| (r * c) as f32).unwrap();
//! let renderer = Renderer::new().unwrap();
//! let out = renderer.render(&grid, &RenderOptions::default()).unwrap();
//! actmap::sink::write_png("grid.png".as_ref(), &out.image).unwrap();
//! ```

use std::path::Path;
use std::sync::Arc;

use image::RgbaImage;

use crate::error::{Error, Result};
use crate::gpu::target::TARGET_FORMAT;
use crate::gpu::text::TextRenderer;
use crate::gpu::{
    GpuContext, GridTexture, HeatmapParams, HeatmapRenderer, OffscreenTarget, PixelRect, ShapeBatch,
    ShapeRenderer,
};
use crate::input::Grid;
use crate::layout::{
    AxisMapping, Figure, FigureLayout, GridSource, HeatmapItem, HeatmapLayer, Panel, PanelContent, Scene,
    StreamedGrid, layout_figure,
};
use crate::scale::{Aggregate, Colormap, Norm, NormSpec, RowSummary, Stats};
use crate::stream::{ReduceOn, open_rows, summarise_rows};
use crate::text::Font;

/// Where the plain heatmaps of offscreen renders are coloured: those with at
/// most one cell per pixel on evenly spaced axes (small grids, and every
/// grid already reduced to one value per pixel). Heatmaps that aggregate
/// or have uneven coordinates are always drawn by the shader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorOn {
    /// By the heatmap shader, in the render pass.
    Gpu,
    /// On the CPU by the shader's twin (same norm, colormap and special
    /// colours, so the same bytes), copied into the target before the
    /// pass draws axes and text over it.
    Cpu,
}

impl ColorOn {
    /// The default for `ctx`: the GPU, except on a software adapter
    /// (lavapipe, llvmpipe, WARP), where every fragment the shader colours
    /// costs far more than the CPU writing the pixel. `ACTMAP_COLOR=cpu|gpu`
    /// overrides.
    pub fn default_for(ctx: &GpuContext) -> ColorOn {
        match std::env::var("ACTMAP_COLOR").as_deref() {
            Ok("cpu") => ColorOn::Cpu,
            Ok("gpu") => ColorOn::Gpu,
            _ if ctx.adapter.get_info().device_type == wgpu::DeviceType::Cpu => ColorOn::Cpu,
            _ => ColorOn::Gpu,
        }
    }
}

/// Whether `item` over a `rows x cols` grid shows at most one cell per
/// pixel on evenly spaced axes (the shader's `direct` case).
fn is_direct(item: &HeatmapItem, rows: usize, cols: usize) -> bool {
    item.x == AxisMapping::Uniform
        && item.y == AxisMapping::Uniform
        && rows <= item.rect.height as usize
        && cols <= item.rect.width as usize
}

/// Colour `item`'s rectangle of `image` from `grid` as the direct heatmap
/// shader does: the cell under each pixel centre, NaN and ±inf in their
/// colours, finite values through the norm and the colormap.
fn paint_heatmap(image: &mut RgbaImage, item: &HeatmapItem, grid: &Grid) {
    use crate::scale::aggregate::nearest_cell;
    let (w, h) = (item.rect.width, item.rect.height);
    let (rows, cols) = (grid.rows() as u32, grid.cols() as u32);
    let lut = item.colormap.lut();
    let [nan, pos_inf, neg_inf] = item.special_colors;
    let colour = |v: f32| -> [u8; 4] {
        if v.is_nan() {
            nan
        } else if v == f32::INFINITY {
            pos_inf
        } else if v == f32::NEG_INFINITY {
            neg_inf
        } else {
            lut[Colormap::index(item.norm.normalize(v))]
        }
    };
    let col_of: Vec<usize> = (0..w)
        .map(|px| {
            let p = if item.flip_x { w - 1 - px } else { px };
            nearest_cell(p, cols, w) as usize
        })
        .collect();
    let stride = image.width() as usize * 4;
    let x0 = item.rect.x as usize * 4;
    let buf: &mut [u8] = image;
    let mut last: Option<(u32, usize)> = None;
    for py in 0..h {
        let p = if item.flip_y { h - 1 - py } else { py };
        let r = nearest_cell(p, rows, h);
        let start = (item.rect.y + py) as usize * stride + x0;
        match last {
            // Consecutive pixel rows over the same grid row: copy the row.
            Some((lr, from)) if lr == r => buf.copy_within(from..from + w as usize * 4, start),
            _ => {
                let cells: Vec<[u8; 4]> = grid.row(r as usize).iter().map(|&v| colour(v)).collect();
                for (px, &c) in col_of.iter().enumerate() {
                    buf[start + px * 4..start + px * 4 + 4].copy_from_slice(&cells[c]);
                }
            }
        }
        last = Some((r, start));
    }
}

/// Streamed heatmaps of `fig` that need a pass: (panel index, plot height)
/// for each one without a summary or with one made for another height.
fn streamed_to_summarise(fig: &Figure, layout: &FigureLayout) -> Vec<(usize, u32)> {
    let mut todo = Vec::new();
    for (i, panel) in fig.panels.iter().enumerate() {
        let PanelContent::Heatmap(h) = &panel.content else {
            continue;
        };
        let GridSource::Streamed(s) = &h.grid else {
            continue;
        };
        let Some(info) = layout.panels.get(i) else {
            continue;
        };
        let height = info.plot.height;
        if s.summary.as_ref().is_none_or(|sum| sum.rows.height() != height) {
            todo.push((i, height));
        }
    }
    todo
}

/// The values `item` shows, one per pixel of its rectangle (drawn 1:1 by
/// the heatmap shader, which then aggregates nothing).
fn one_per_pixel(sum: &RowSummary, item: &HeatmapItem) -> Result<Grid> {
    let (w, h) = (item.rect.width, item.rect.height);
    Grid::new(h as usize, w as usize, sum.finish(w, item.norm.centre))
}

/// An sRGB colour with alpha.
pub type Rgba = [u8; 4];

/// Parse `#rrggbb`, `#rrggbbaa`, `#rgb` or a few names (`white`, `black`,
/// `magenta`, `cyan`, `gray`/`grey`, `transparent`).
pub fn parse_color(s: &str) -> Result<Rgba> {
    let named = match s.to_ascii_lowercase().as_str() {
        "white" => Some([255, 255, 255, 255]),
        "black" => Some([0, 0, 0, 255]),
        "magenta" => Some([255, 0, 255, 255]),
        "cyan" => Some([0, 255, 255, 255]),
        "lime" | "green" => Some([0, 255, 0, 255]),
        "gray" | "grey" => Some([128, 128, 128, 255]),
        "transparent" | "none" => Some([0, 0, 0, 0]),
        _ => None,
    };
    if let Some(c) = named {
        return Ok(c);
    }
    let bad = || Error::Invalid(format!("'{s}' is not a colour: use #rrggbb, #rrggbbaa or #rgb"));
    let hex = s.strip_prefix('#').ok_or_else(bad)?;
    if !hex.is_ascii() {
        return Err(bad());
    }
    let nib = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).map_err(|_| bad());
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    match hex.len() {
        3 => Ok([nib(0)? * 17, nib(1)? * 17, nib(2)? * 17, 255]),
        6 => Ok([byte(0)?, byte(2)?, byte(4)?, 255]),
        8 => Ok([byte(0)?, byte(2)?, byte(4)?, byte(6)?]),
        _ => Err(bad()),
    }
}

/// How to draw a grid. `Default` gives magma, automatic linear range,
/// signed-extreme aggregation and a 1200x900 image.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// The colormap.
    pub colormap: Colormap,
    /// Normalisation and colour limits.
    pub norm: NormSpec,
    /// How cells sharing a pixel combine when the grid is larger than the image.
    pub aggregate: Aggregate,
    /// Colour of NaN cells (default magenta, in no built-in colormap).
    pub nan_color: Rgba,
    /// Colour of +inf cells (default white).
    pub pos_inf_color: Rgba,
    /// Colour of -inf cells (default black).
    pub neg_inf_color: Rgba,
    /// Colour behind the data.
    pub background: Rgba,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 1200,
            height: 900,
            colormap: Colormap::default(),
            norm: NormSpec::default(),
            aggregate: Aggregate::default(),
            nan_color: [255, 0, 255, 255],
            pos_inf_color: [255, 255, 255, 255],
            neg_inf_color: [0, 0, 0, 255],
            background: [255, 255, 255, 255],
        }
    }
}

/// A finished render: the pixels, and the statistics and norm used.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The image.
    pub image: RgbaImage,
    /// Statistics of the grid.
    pub stats: Stats,
    /// The resolved normalisation (actual vmin/vmax).
    pub norm: Norm,
}

/// A rendered figure: pixels plus where everything went.
#[derive(Clone, Debug)]
pub struct RenderedFigure {
    /// The image.
    pub image: RgbaImage,
    /// The layout (panel rectangles, ticks, norms, the scene).
    pub layout: FigureLayout,
}

/// Owns a GPU context and the pipelines; reuse one for many renders.
#[derive(Debug)]
pub struct Renderer {
    ctx: Arc<GpuContext>,
    format: wgpu::TextureFormat,
    reduce_on: ReduceOn,
    color_on: ColorOn,
    heatmap: HeatmapRenderer,
    shapes: ShapeRenderer,
    text: std::sync::Mutex<TextRenderer>,
    /// The last offscreen target, kept for the next render of its size (a
    /// render takes it out, so concurrent renders each get their own).
    target: std::sync::Mutex<Option<OffscreenTarget>>,
}

impl Renderer {
    /// A renderer on a new headless GPU context.
    pub fn new() -> Result<Self> {
        // Parsing the font and starting the GPU each take tens of
        // milliseconds: do them at the same time.
        let font = std::thread::spawn(|| {
            Font::default_sans();
        });
        let ctx = GpuContext::new();
        let _ = font.join();
        Ok(Self::with_context(Arc::new(ctx?)))
    }

    /// A renderer on an existing context.
    pub fn with_context(ctx: Arc<GpuContext>) -> Self {
        Self::with_context_format(ctx, TARGET_FORMAT)
    }

    /// A renderer on `ctx` drawing into textures of `format` (a window
    /// surface's); only [`TARGET_FORMAT`] renderers make offscreen images.
    pub fn with_context_format(ctx: Arc<GpuContext>, format: wgpu::TextureFormat) -> Self {
        let heatmap = HeatmapRenderer::new(&ctx, format);
        let shapes = ShapeRenderer::new(&ctx, format);
        let text = std::sync::Mutex::new(TextRenderer::new(&ctx, format));
        ctx.save_pipeline_cache();
        Renderer {
            format,
            reduce_on: ReduceOn::default_for(&ctx),
            color_on: ColorOn::default_for(&ctx),
            ctx,
            heatmap,
            shapes,
            text,
            target: std::sync::Mutex::new(None),
        }
    }

    /// Where streamed grids are reduced (the default depends on the
    /// adapter: see [`ReduceOn::default_for`]).
    pub fn with_reduce_on(mut self, on: ReduceOn) -> Self {
        self.reduce_on = on;
        self
    }

    /// Where plain heatmaps of offscreen renders are coloured (the default
    /// depends on the adapter: see [`ColorOn::default_for`]).
    pub fn with_color_on(mut self, on: ColorOn) -> Self {
        self.color_on = on;
        self
    }

    /// The GPU context.
    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The heatmap pipeline.
    pub fn heatmap(&self) -> &HeatmapRenderer {
        &self.heatmap
    }

    /// Render `grid` filling the whole image (the data alone, no axes):
    /// a bare one-panel figure.
    pub fn render(&self, grid: &Grid, opts: &RenderOptions) -> Result<Rendered> {
        let mut layer = HeatmapLayer::new(Arc::new(grid.clone()));
        layer.colormap = opts.colormap;
        layer.norm = opts.norm;
        layer.aggregate = opts.aggregate;
        layer.special_colors = [opts.nan_color, opts.pos_inf_color, opts.neg_inf_color];
        let fig = Figure {
            background: opts.background,
            bare: true,
            ..Figure::single(Panel::heatmap(layer), opts.width, opts.height)
        };
        let out = self.render_figure(&fig)?;
        let panel = &out.layout.panels[0];
        Ok(Rendered {
            image: out.image,
            stats: panel.stats,
            norm: panel.norm.unwrap_or_else(|| Norm::linear(0.0, 1.0)),
        })
    }

    /// Render an already uploaded grid with a resolved norm, filling the
    /// image (the data alone). The same path as figures: a one-heatmap scene.
    pub fn draw(&self, texture: &GridTexture, norm: &Norm, opts: &RenderOptions) -> Result<RgbaImage> {
        let scene = Scene {
            width: opts.width,
            height: opts.height,
            background: opts.background,
            heatmaps: vec![HeatmapItem {
                grid: 0,
                rect: PixelRect::full(opts.width, opts.height),
                x: AxisMapping::Uniform,
                y: AxisMapping::Uniform,
                flip_x: false,
                flip_y: false,
                norm: *norm,
                colormap: opts.colormap,
                aggregate: opts.aggregate,
                special_colors: [opts.nan_color, opts.pos_inf_color, opts.neg_inf_color],
            }],
            ..Default::default()
        };
        self.draw_scene(&scene, std::slice::from_ref(texture))
    }

    /// Lay out and render a whole figure (axes, ticks, colorbars, text).
    ///
    /// Heatmaps streamed from files ([`GridSource::Streamed`]) are passed
    /// over once, reduced to their plot size as they are read, and drawn
    /// one value per pixel: the same picture as the whole grid in memory.
    pub fn render_figure(&self, fig: &Figure) -> Result<RenderedFigure> {
        OffscreenTarget::check_size(&self.ctx, fig.width, fig.height)?;
        let font = Font::default_sans();
        let mut fig = std::borrow::Cow::Borrowed(fig);
        let mut layout = layout_figure(&fig, font)?;
        // A first layout (with placeholder statistics for streamed grids)
        // gives each plot's height; the pass reduces to it and the figure is
        // laid out again with the real statistics. Plot heights do not
        // depend on the data, so a second pass is a safety net.
        for _ in 0..2 {
            let todo = streamed_to_summarise(&fig, &layout);
            if todo.is_empty() {
                break;
            }
            let mut owned = fig.into_owned();
            for (panel, height) in todo {
                if let PanelContent::Heatmap(h) = &mut owned.panels[panel].content
                    && let GridSource::Streamed(s) = &h.grid
                {
                    let on = ReduceOn::default_for(&self.ctx);
                    let summary = summarise_rows(
                        &self.ctx,
                        open_rows(s)?,
                        &s.path,
                        height,
                        h.aggregate,
                        h.norm.robust.is_some(),
                        on,
                    )?;
                    h.grid = GridSource::Streamed(Arc::new(StreamedGrid {
                        summary: Some(Arc::new(summary)),
                        ..(**s).clone()
                    }));
                }
            }
            fig = std::borrow::Cow::Owned(owned);
            layout = layout_figure(&fig, font)?;
        }
        // Streamed grids become their one-value-per-pixel reduction, and the
        // figure holding their summaries goes before drawing: peak memory
        // is the summary or the picture, not both.
        for i in 0..layout.grids.len() {
            let item = layout.scene.heatmaps.iter().find(|h| h.grid == i);
            let reduced = match (&layout.grids[i], item) {
                (GridSource::Memory(g), Some(it))
                    if it.x == AxisMapping::Uniform && it.y == AxisMapping::Uniform =>
                {
                    self.pre_reduce(g, it.rect, it.aggregate, it.norm.centre)?
                }
                (GridSource::Memory(_), _) => None,
                (GridSource::Streamed(s), item) => {
                    let ready = s.summary.as_ref().zip(item).filter(|(sum, item)| {
                        sum.rows.height() == item.rect.height && item.x == AxisMapping::Uniform
                    });
                    let Some((sum, item)) = ready else {
                        return Err(Error::Invalid(format!(
                            "{}: the plot size changed between layouts; cannot draw the streamed grid",
                            s.path.display()
                        )));
                    };
                    Some(one_per_pixel(&sum.rows, item)?)
                }
            };
            if let Some(g) = reduced {
                layout.grids[i] = GridSource::Memory(Arc::new(g));
            }
        }
        drop(fig);
        // Heatmaps the CPU colours need no texture: only the others go up.
        let on_cpu = self.colored_on_cpu(&layout.scene, &layout.grids);
        let textures = layout
            .grids
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let used_on_gpu = layout
                    .scene
                    .heatmaps
                    .iter()
                    .zip(&on_cpu)
                    .any(|(it, &cpu)| it.grid == i && !cpu);
                match g {
                    GridSource::Memory(g) if used_on_gpu => GridTexture::upload(&self.ctx, g).map(Some),
                    GridSource::Memory(_) => Ok(None),
                    GridSource::Streamed(s) => Err(Error::Invalid(format!(
                        "{}: streamed grid left unreduced",
                        s.path.display()
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let image = self.draw_layout_with(&layout.scene, &layout.grids, &on_cpu, &|g| {
            textures.get(g).and_then(Option::as_ref)
        })?;
        Ok(RenderedFigure { image, layout })
    }

    /// For each heatmap of `scene` (whose grids are `grids`): whether an
    /// offscreen draw ([`Self::draw_layout`], [`Self::render_figure`])
    /// colours it on the CPU instead of the shader: plain heatmaps of
    /// in-memory grids with at most one cell per pixel, on a renderer that
    /// colours on the CPU ([`ColorOn`]). Those need no texture.
    pub fn colored_on_cpu(&self, scene: &Scene, grids: &[GridSource]) -> Vec<bool> {
        scene
            .heatmaps
            .iter()
            .map(|it| {
                self.color_on == ColorOn::Cpu
                    && self.format == TARGET_FORMAT
                    && matches!(grids.get(it.grid), Some(GridSource::Memory(g)) if is_direct(it, g.rows(), g.cols()))
            })
            .collect()
    }

    /// Draw a laid-out scene offscreen and read it back, as
    /// [`Self::render_figure`] does: heatmaps [`Self::colored_on_cpu`]
    /// picks are coloured from `grids` on the CPU, the others drawn by the
    /// shader from `texture(grid index)`.
    pub fn draw_layout<'t>(
        &self,
        scene: &Scene,
        grids: &[GridSource],
        texture: &dyn Fn(usize) -> Option<&'t GridTexture>,
    ) -> Result<RgbaImage> {
        let on_cpu = self.colored_on_cpu(scene, grids);
        self.draw_layout_with(scene, grids, &on_cpu, texture)
    }

    fn draw_layout_with<'t>(
        &self,
        scene: &Scene,
        grids: &[GridSource],
        on_cpu: &[bool],
        texture: &dyn Fn(usize) -> Option<&'t GridTexture>,
    ) -> Result<RgbaImage> {
        let base = on_cpu.iter().any(|&c| c).then(|| {
            let mut base = RgbaImage::from_pixel(scene.width, scene.height, image::Rgba(scene.background));
            for (item, _) in scene.heatmaps.iter().zip(on_cpu).filter(|(_, c)| **c) {
                if let Some(GridSource::Memory(g)) = grids.get(item.grid) {
                    paint_heatmap(&mut base, item, g);
                }
            }
            base
        });
        let target = self.take_target(scene.width, scene.height)?;
        if let Some(base) = &base {
            target.write_rgba(&self.ctx, base);
        }
        let drawn = |i: usize| !on_cpu.get(i).copied().unwrap_or(false);
        self.encode_scene_some(scene, texture, &target.view, base.is_none(), &drawn)?;
        let image = target.read_rgba(&self.ctx)?;
        self.keep_target(target);
        Ok(image)
    }

    /// The values a heatmap of `grid` drawn evenly into `rect` shows, one
    /// per pixel, when it pays to compute them on the CPU first: on a
    /// software adapter with more than two rows per pixel row, the rows
    /// are folded once on all cores instead of every fragment re-reading
    /// its column's rows. `None` otherwise (draw `grid` itself).
    pub fn pre_reduce(
        &self,
        grid: &Grid,
        rect: PixelRect,
        mode: Aggregate,
        centre: f32,
    ) -> Result<Option<Grid>> {
        let fits = |n: usize| u32::try_from(n).is_ok_and(|v| v < u32::MAX / 2);
        if self.reduce_on != ReduceOn::Cpu
            || grid.rows() <= 2 * rect.height as usize
            || !fits(grid.rows())
            || !fits(grid.cols())
        {
            return Ok(None);
        }
        let mut sum = RowSummary::new(grid.rows() as u32, grid.cols() as u32, rect.height, mode);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let block = (crate::stream::BLOCK_BYTES / 4 / grid.cols()).max(1) * grid.cols();
        for (b, chunk) in grid.data().chunks(block).enumerate() {
            sum.add_block((b * block / grid.cols()) as u32, chunk, threads);
        }
        let (w, h) = (rect.width, rect.height);
        Ok(Some(Grid::new(h as usize, w as usize, sum.finish(w, centre))?))
    }

    /// A `width x height` offscreen target: the kept one when it has that
    /// size, else a new one. Give it back with [`Self::keep_target`].
    fn take_target(&self, width: u32, height: u32) -> Result<OffscreenTarget> {
        if self.format != TARGET_FORMAT {
            return Err(Error::Invalid(format!(
                "this renderer draws {:?}, offscreen images need {TARGET_FORMAT:?}",
                self.format
            )));
        }
        let kept = self.target.lock().ok().and_then(|mut t| t.take());
        match kept {
            Some(t) if t.width() == width && t.height() == height => Ok(t),
            _ => OffscreenTarget::new(&self.ctx, width, height),
        }
    }

    fn keep_target(&self, target: OffscreenTarget) {
        if let Ok(mut t) = self.target.lock() {
            *t = Some(target);
        }
    }

    /// Draw a laid-out scene whose heatmaps refer to `textures` by index.
    pub fn draw_scene(&self, scene: &Scene, textures: &[GridTexture]) -> Result<RgbaImage> {
        let target = self.take_target(scene.width, scene.height)?;
        self.draw_scene_to(scene, textures, &target.view)?;
        let image = target.read_rgba(&self.ctx)?;
        self.keep_target(target);
        Ok(image)
    }

    /// Draw a laid-out scene into `view` (a `scene.width x scene.height`
    /// texture of this renderer's format: a window's surface, say) and
    /// submit the work.
    pub fn draw_scene_to(
        &self,
        scene: &Scene,
        textures: &[GridTexture],
        view: &wgpu::TextureView,
    ) -> Result<()> {
        self.encode_scene(scene, textures, view, true)
    }

    /// Draw `scene` on top of what `view` already holds (no clear): an
    /// overlay whose shapes must cover the text drawn before it.
    pub fn draw_scene_over(
        &self,
        scene: &Scene,
        textures: &[GridTexture],
        view: &wgpu::TextureView,
    ) -> Result<()> {
        self.encode_scene(scene, textures, view, false)
    }

    fn encode_scene(
        &self,
        scene: &Scene,
        textures: &[GridTexture],
        view: &wgpu::TextureView,
        clear: bool,
    ) -> Result<()> {
        self.encode_scene_some(scene, &|g| textures.get(g), view, clear, &|_| true)
    }

    /// Encode and submit `scene` into `view`, drawing the heatmaps for which
    /// `drawn(heatmap index)` holds (the others are already in the target),
    /// each from the texture `texture(grid index)`.
    fn encode_scene_some<'t>(
        &self,
        scene: &Scene,
        texture: &dyn Fn(usize) -> Option<&'t GridTexture>,
        view: &wgpu::TextureView,
        clear: bool,
        drawn: &dyn Fn(usize) -> bool,
    ) -> Result<()> {
        let ctx = &self.ctx;
        let heatmaps = scene
            .heatmaps
            .iter()
            .enumerate()
            .filter(|(i, _)| drawn(*i))
            .map(|(_, h)| {
                let tex = texture(h.grid)
                    .ok_or_else(|| Error::Invalid(format!("scene refers to missing grid {}", h.grid)))?;
                let params = HeatmapParams {
                    rect: h.rect,
                    norm: h.norm,
                    colormap: h.colormap,
                    aggregate: h.aggregate,
                    nan_color: h.special_colors[0],
                    pos_inf_color: h.special_colors[1],
                    neg_inf_color: h.special_colors[2],
                    x: h.x.clone(),
                    y: h.y.clone(),
                    flip_x: h.flip_x,
                    flip_y: h.flip_y,
                };
                self.heatmap.prepare(ctx, tex, &params)
            })
            .collect::<Result<Vec<_>>>()?;
        let shapes = self.shapes.prepare(
            ctx,
            &ShapeBatch::from_primitives(&scene.shapes),
            scene.width,
            scene.height,
        );
        let mut text = match self.text.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        let texts = text.prepare(ctx, &scene.texts, scene.width, scene.height)?;
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("Renderer::scene_encoder"),
            });
        {
            let bg = crate::gpu::linear_rgba(scene.background);
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("Renderer::scene_pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: if clear {
                            wgpu::LoadOp::Clear(wgpu::Color {
                                r: bg[0] as f64,
                                g: bg[1] as f64,
                                b: bg[2] as f64,
                                a: bg[3] as f64,
                            })
                        } else {
                            wgpu::LoadOp::Load
                        },
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            for h in &heatmaps {
                self.heatmap.draw(&mut pass, h);
            }
            self.shapes.draw(&mut pass, &shapes);
            text.draw(&mut pass, &texts);
        }
        ctx.queue.submit([encoder.finish()]);
        ctx.take_errors()
    }

    /// Render a figure and write it to `path` as PNG (atomically).
    pub fn render_figure_png(&self, fig: &Figure, path: &Path) -> Result<RenderedFigure> {
        let out = self.render_figure(fig)?;
        crate::sink::write_png(path, &out.image)?;
        Ok(out)
    }

    /// Render `grid` and write it to `path` as PNG (atomically).
    pub fn render_png(&self, grid: &Grid, opts: &RenderOptions, path: &Path) -> Result<Rendered> {
        let out = self.render(grid, opts)?;
        crate::sink::write_png(path, &out.image)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(parse_color("#ff0080").unwrap(), [255, 0, 128, 255]);
        assert_eq!(parse_color("#f08").unwrap(), [255, 0, 136, 255]);
        assert_eq!(parse_color("#11223344").unwrap(), [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(parse_color("Magenta").unwrap(), [255, 0, 255, 255]);
        assert!(
            parse_color("red-ish")
                .unwrap_err()
                .to_string()
                .contains("#rrggbb")
        );
        assert!(parse_color("#12345").is_err());
        assert!(parse_color("#ééé").is_err());
    }
}
