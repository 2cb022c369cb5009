//! The high-level entry point: a [`Renderer`] turns a [`Grid`] or a
//! [`Figure`] into pixels.
//!

use std::path::Path;
use std::sync::Arc;

use image::RgbaImage;

use crate::error::{Error, Result};
use crate::gpu::heatmap::axis_spans;
use crate::gpu::target::TARGET_FORMAT;
use crate::gpu::text::TextRenderer;
use crate::gpu::{
    GpuContext, GridTexture, HeatmapParams, HeatmapRenderer, OffscreenTarget, PixelRect, ShapeBatch,
    ShapeRenderer,
};
use crate::input::Grid;
use crate::layout::{
    AxisMapping, Figure, FigureLayout, GridSource, HeatmapItem, HeatmapLayer, Panel, PanelContent, Scene,
    SeriesLines, SeriesSummary, StreamSummary, StreamedGrid, StreamedSeries, layout_figure,
};
use crate::render::stream::{PassSpans, ReduceOn, pixel_pass};
use crate::scale::aggregate::AxisSpans;
use crate::scale::{Aggregate, Colormap, Norm, NormSpec, PixelPass, Stats};
use crate::text::Font;

/// Bytes of column partials a pass may keep for all of a plot's bins when
/// the pixels across are not yet known; beyond, the statistics are
/// gathered first so that the pass keeps only the open bins.
const DEFERRED_BYTES: u64 = 96 << 20;

/// The pixel spans of `item` along `grid`'s source rows and across them.
fn pass_spans(grid: &StreamedGrid, item: &HeatmapItem) -> Result<(AxisSpans, AxisSpans)> {
    let x = axis_spans(&item.x, grid.cols as u32, item.rect.width, "x")?;
    let y = axis_spans(&item.y, grid.rows as u32, item.rect.height, "y")?;
    Ok(if grid.transposed { (x, y) } else { (y, x) })
}

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
    let row_bytes = w as usize * 4;
    // The rectangle's rows, split over the cores: a grid reduced to one
    // value per pixel is a few million colours.
    let buf: &mut [u8] = image;
    let mut rows_out: Vec<(u32, &mut [u8])> = buf
        .chunks_mut(stride)
        .skip(item.rect.y as usize)
        .take(h as usize)
        .enumerate()
        .map(|(py, row)| (py as u32, &mut row[x0..x0 + row_bytes]))
        .collect();
    let paint = |part: &mut [(u32, &mut [u8])]| {
        let mut last: Option<u32> = None;
        for i in 0..part.len() {
            let (before, rest) = part.split_at_mut(i);
            let (py, out) = &mut rest[0];
            let p = if item.flip_y { h - 1 - *py } else { *py };
            let r = nearest_cell(p, rows, h);
            // Consecutive pixel rows over the same grid row: copy the row.
            if last == Some(r)
                && let Some((_, prev)) = before.last()
            {
                out.copy_from_slice(prev);
                continue;
            }
            let cells: Vec<[u8; 4]> = grid.row(r as usize).iter().map(|&v| colour(v)).collect();
            for (px, &c) in col_of.iter().enumerate() {
                out[px * 4..px * 4 + 4].copy_from_slice(&cells[c]);
            }
            last = Some(r);
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if threads <= 1 || (w as usize) * (h as usize) < 1 << 18 {
        paint(&mut rows_out);
    } else {
        let per = rows_out.len().div_ceil(threads);
        std::thread::scope(|s| {
            for part in rows_out.chunks_mut(per) {
                s.spawn(|| paint(part));
            }
        });
    }
}

/// The heatmap item drawing `grid` in `layout`, if any.
fn item_of<'a>(layout: &'a FigureLayout, grid: &Arc<StreamedGrid>) -> Option<&'a HeatmapItem> {
    let k = layout
        .grids
        .iter()
        .position(|g| matches!(g, GridSource::Streamed(s) if Arc::ptr_eq(s, grid)))?;
    layout.scene.heatmaps.iter().find(|h| h.grid == k)
}

/// What a streamed grid still needs before `item` can be drawn.
enum Need {
    /// A first pass for the statistics (the pixels depend on them).
    Stats,
    /// A pass folding the rows into the pixels, gathering the statistics
    /// too (`true`) or with them known (`false`: the pixels across are
    /// final, so bins are reduced as they complete).
    Pixels(bool),
    /// Nothing: the summary fits the item.
    Ready,
}

fn need(grid: &StreamedGrid, item: &HeatmapItem) -> Result<Need> {
    let (along, across) = pass_spans(grid, item)?;
    let Some(summary) = &grid.summary else {
        let bins = crate::scale::summary::bins_of(&along).len() as u64;
        let deferred = bins * grid.source_shape().1 as u64 * 9;
        return Ok(if grid.transposed || deferred > DEFERRED_BYTES {
            Need::Stats
        } else {
            Need::Pixels(true)
        });
    };
    Ok(match &summary.pixels {
        Some(p) if p.along() == &along && p.fits(&across) => Need::Ready,
        _ => Need::Pixels(false),
    })
}

/// Pass over the streamed grids of `fig` as its layout needs (see
/// [`crate::render::stream`]), so that every one carries a summary that fits its
/// plot: `fig` itself when there is nothing to do. `ctx` is needed for
/// [`ReduceOn::Gpu`]. [`Renderer::render_figure`] does this itself; call it
/// first to do the passes while the GPU starts ([`Renderer::spawn`]).
pub fn summarise_figure<'a>(
    fig: &'a Figure,
    ctx: Option<&GpuContext>,
    on: ReduceOn,
) -> Result<std::borrow::Cow<'a, Figure>> {
    let streamed = |f: &Figure| {
        f.panels.iter().any(|p| match &p.content {
            PanelContent::Heatmap(h) => matches!(h.grid, GridSource::Streamed(_)),
            PanelContent::Lines(l) => l.series.iter().any(|s| s.streamed.is_some()),
        })
    };
    let mut fig = std::borrow::Cow::Borrowed(fig);
    if !streamed(&fig) {
        return Ok(fig);
    }
    let font = Font::default_sans();
    // Each round: lay out with what is known (placeholder statistics
    // before the first pass), then pass over what the layout needs. A
    // plain grid needs one round, a transposed one or a line two
    // (statistics, then pixels); more only if a plot changed size.
    for _ in 0..4 {
        let layout = layout_figure(&fig, font)?;
        let mut todo = Vec::new();
        let mut lines_todo = Vec::new();
        for (i, panel) in fig.panels.iter().enumerate() {
            match &panel.content {
                PanelContent::Heatmap(h) => {
                    let GridSource::Streamed(s) = &h.grid else {
                        continue;
                    };
                    let Some(item) = item_of(&layout, s) else {
                        continue;
                    };
                    match need(s, item)? {
                        Need::Ready => {}
                        n => todo.push((i, n, pass_spans(s, item)?)),
                    }
                }
                PanelContent::Lines(l) => {
                    let Some(info) = layout.panels.get(i) else {
                        continue;
                    };
                    let key = (info.plot.x, info.plot.width, info.x_window.0, info.x_window.1);
                    for (k, s) in l.series.iter().enumerate() {
                        let Some(st) = &s.streamed else {
                            continue;
                        };
                        let ready = st
                            .summary
                            .as_ref()
                            .is_some_and(|sum| sum.lines.as_ref().is_some_and(|ln| ln.key == key));
                        if !ready {
                            lines_todo.push((i, k, info.clone()));
                        }
                    }
                }
            }
        }
        if todo.is_empty() && lines_todo.is_empty() {
            return Ok(fig);
        }
        let owned = fig.to_mut();
        for (i, k, info) in lines_todo {
            let coords = owned.panels[i].x.coords.clone();
            let PanelContent::Lines(l) = &mut owned.panels[i].content else {
                continue;
            };
            let top_k = l.mark_top;
            let Some(st) = l.series.get_mut(k).and_then(|s| s.streamed.as_mut()) else {
                continue;
            };
            let summary = match &st.summary {
                // First the statistics: the y axis, and the plot's size, depend on them.
                None => {
                    let (stats, top) = crate::render::stream::series_stats_pass(st, top_k)?;
                    SeriesSummary {
                        stats,
                        top,
                        lines: None,
                    }
                }
                Some(old) => {
                    let x_of = |j: usize| crate::layout::engine::line_x(&info, coords.as_deref(), j);
                    let lines = crate::render::stream::series_lines_pass(st, info.plot.width, &x_of)?;
                    SeriesSummary {
                        lines: Some(SeriesLines {
                            key: (info.plot.x, info.plot.width, info.x_window.0, info.x_window.1),
                            lines,
                        }),
                        ..(**old).clone()
                    }
                }
            };
            *st = Arc::new(StreamedSeries {
                summary: Some(Arc::new(summary)),
                ..(**st).clone()
            });
        }
        for (i, n, (along, across)) in todo {
            let PanelContent::Heatmap(h) = &mut owned.panels[i].content else {
                continue;
            };
            let GridSource::Streamed(s) = &h.grid else {
                continue;
            };
            let percentiles = h.norm.robust.is_some();
            let summary = match n {
                Need::Stats => StreamSummary {
                    stats: crate::render::stream::stats_pass(s, percentiles)?,
                    pixels: None,
                },
                Need::Pixels(with_stats) => {
                    let spans = PassSpans {
                        along,
                        across: (!with_stats).then_some(across),
                    };
                    let (stats, pass) =
                        pixel_pass(ctx, s, spans, h.aggregate, with_stats.then_some(percentiles), on)?;
                    let stats = match (stats, &s.summary) {
                        (Some(st), _) => st,
                        (None, Some(old)) => old.stats.clone(),
                        (None, None) => crate::render::stream::stats_pass(s, percentiles)?,
                    };
                    StreamSummary {
                        stats,
                        pixels: Some(Arc::new(pass)),
                    }
                }
                Need::Ready => continue,
            };
            h.grid = GridSource::Streamed(Arc::new(StreamedGrid {
                summary: Some(Arc::new(summary)),
                ..(**s).clone()
            }));
        }
    }
    Err(Error::Invalid(
        "the plot size kept changing between layouts; cannot draw the streamed data".into(),
    ))
}

/// The values `item` shows from `pass` (one per pixel of its rectangle,
/// drawn 1:1 by the heatmap shader, which then aggregates nothing) and the
/// item that draws them: its rectangle cut to the pixels inside the grid.
fn one_per_pixel(
    pass: &PixelPass,
    transposed: bool,
    item: &HeatmapItem,
    along: &AxisSpans,
    across: &AxisSpans,
) -> Result<Option<(Grid, HeatmapItem)>> {
    if pass.along() != along {
        return Ok(None);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(values) = pass.values(across, item.norm.centre, threads) else {
        return Ok(None);
    };
    let c_n = across.pixels() as usize;
    let (x_in, y_in) = if transposed {
        (along.inside(), across.inside())
    } else {
        (across.inside(), along.inside())
    };
    let (w, h) = ((x_in.1 - x_in.0) as usize, (y_in.1 - y_in.0) as usize);
    if w == 0 || h == 0 {
        return Err(Error::Invalid(
            "no cell of the grid falls inside the plot (its coordinates lie outside the axis window)".into(),
        ));
    }
    if !transposed && w == c_n && h * w == values.len() {
        // Every pixel inside, rows in order: the values are the grid.
        return Ok(Some((Grid::new(h, w, values)?, crop_item(item, x_in, y_in))));
    }
    let mut out = Vec::with_capacity(w * h);
    for y in y_in.0..y_in.1 {
        for x in x_in.0..x_in.1 {
            let (a, c) = if transposed { (x, y) } else { (y, x) };
            out.push(values[a as usize * c_n + c as usize]);
        }
    }
    let grid = Grid::new(h, w, out)?;
    Ok(Some((grid, crop_item(item, x_in, y_in))))
}

/// `item` drawing a grid of one value per pixel of the pixel ranges
/// `x_in` and `y_in` of its rectangle (counted before any flip).
fn crop_item(item: &HeatmapItem, x_in: (u32, u32), y_in: (u32, u32)) -> HeatmapItem {
    let r = item.rect;
    let (x0, x1) = if item.flip_x {
        (r.width - x_in.1, r.width - x_in.0)
    } else {
        x_in
    };
    let (y0, y1) = if item.flip_y {
        (r.height - y_in.1, r.height - y_in.0)
    } else {
        y_in
    };
    HeatmapItem {
        rect: PixelRect {
            x: r.x + x0,
            y: r.y + y0,
            width: x1 - x0,
            height: y1 - y0,
        },
        x: AxisMapping::Uniform,
        y: AxisMapping::Uniform,
        ..item.clone()
    }
}

/// Fold an in-memory grid into the pixels of `along` (rows) x `across`
/// (columns), in blocks on all cores.
fn fold_in_memory(grid: &Grid, along: AxisSpans, across: AxisSpans, mode: Aggregate) -> PixelPass {
    let (rows, cols) = (grid.rows() as u32, grid.cols() as u32);
    let mut pass = PixelPass::new(rows, cols, along, Some(across), mode);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let block = (crate::render::stream::BLOCK_BYTES / 4 / grid.cols().max(1)).max(1) * grid.cols();
    for (b, chunk) in grid.data().chunks(block.max(1)).enumerate() {
        pass.add_block((b * block / grid.cols().max(1)) as u32, chunk, threads);
    }
    pass
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

/// A [`Renderer`] starting on another thread ([`Renderer::spawn`]).
/// Dropping it waits for the start-up to end: a process must not exit
/// while a thread is inside the GPU driver's initialisation.
#[derive(Debug)]
pub struct PendingRenderer {
    adapter: std::sync::mpsc::Receiver<wgpu::DeviceType>,
    device_type: std::sync::OnceLock<Option<wgpu::DeviceType>>,
    handle: Option<std::thread::JoinHandle<Result<Renderer>>>,
}

impl Drop for PendingRenderer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl PendingRenderer {
    /// The kind of adapter being started, once it is picked (blocks until
    /// then; `None` when no adapter could be had: [`PendingRenderer::wait`]
    /// says why).
    pub fn device_type(&self) -> Option<wgpu::DeviceType> {
        *self.device_type.get_or_init(|| self.adapter.recv().ok())
    }

    /// Where streamed grids are best reduced on the adapter being started
    /// ([`ReduceOn::for_device`]); [`ReduceOn::Cpu`] without an adapter.
    pub fn reduce_on(&self) -> ReduceOn {
        match self.device_type() {
            Some(t) => ReduceOn::for_device(t),
            None => ReduceOn::Cpu,
        }
    }

    /// The renderer, once started.
    pub fn wait(mut self) -> Result<Renderer> {
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(Error::Gpu("the GPU start-up thread panicked".into()))),
            None => Err(Error::Gpu("the GPU start-up was already waited for".into())),
        }
    }
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

    /// Start a renderer on another thread: GPU start-up (instance, adapter,
    /// device, pipelines, font) takes tens of milliseconds that the caller
    /// can spend reading data, such as the passes over streamed grids
    /// ([`summarise_figure`]).
    ///
    /// ```no_run
    /// # fn figure() -> actmap::layout::Figure { todo!() }
    /// let pending = actmap::Renderer::spawn();
    /// let fig = figure();
    /// // Fold streamed grids on the CPU while the GPU starts, when it is a
    /// // software adapter (on a real GPU the passes run there, after).
    /// let on = pending.reduce_on();
    /// let fig = actmap::render::summarise_figure(&fig, None, on).unwrap().into_owned();
    /// let renderer = pending.wait().unwrap();
    /// let out = renderer.render_figure(&fig).unwrap();
    /// ```
    pub fn spawn() -> PendingRenderer {
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let font = std::thread::spawn(|| {
                Font::default_sans();
            });
            let ctx = GpuContext::new_reporting(|info| {
                let _ = tx.send(info.device_type);
            });
            let _ = font.join();
            let renderer = Self::with_context(Arc::new(ctx?));
            renderer.warm_up();
            Ok(renderer)
        });
        PendingRenderer {
            adapter: rx,
            device_type: std::sync::OnceLock::new(),
            handle: Some(handle),
        }
    }

    /// Render a tiny figure once: a software rasterizer (llvmpipe)
    /// compiles each pipeline's code on its first draw, tens of
    /// milliseconds that [`Renderer::spawn`] spends while the caller reads
    /// data rather than on the first real figure. Failures are ignored (the
    /// real render reports them).
    pub fn warm_up(&self) {
        let Ok(grid) = Grid::new(2, 2, vec![0.0, 1.0, f32::NAN, 0.5]) else {
            return;
        };
        let mut panel = Panel::heatmap(HeatmapLayer::new(Arc::new(grid)));
        panel.title = Some("0".into());
        let _ = self.render_figure(&Figure::single(panel, 320, 240));
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
        self.render_cow(std::borrow::Cow::Borrowed(fig))
    }

    /// [`Renderer::render_figure`] taking the figure, so that what its
    /// streamed grids' summaries hold is freed before drawing.
    pub fn render_owned_figure(&self, fig: Figure) -> Result<RenderedFigure> {
        self.render_cow(std::borrow::Cow::Owned(fig))
    }

    fn render_cow(&self, fig: std::borrow::Cow<'_, Figure>) -> Result<RenderedFigure> {
        OffscreenTarget::check_size(&self.ctx, fig.width, fig.height)?;
        let font = Font::default_sans();
        let summarised = match summarise_figure(&fig, Some(&self.ctx), self.reduce_on)? {
            std::borrow::Cow::Owned(f) => Some(f),
            std::borrow::Cow::Borrowed(_) => None,
        };
        let fig = match summarised {
            Some(f) => std::borrow::Cow::Owned(f),
            None => fig,
        };
        let mut layout = layout_figure(&fig, font)?;
        // Streamed grids become their one-value-per-pixel reduction, and
        // in-memory ones with many rows per pixel too on a software adapter;
        // the figure holding the summaries goes before drawing: peak memory
        // is the summaries or the picture, not both.
        for i in 0..layout.grids.len() {
            let Some(k) = layout.scene.heatmaps.iter().position(|h| h.grid == i) else {
                continue;
            };
            let item = &layout.scene.heatmaps[k];
            let reduced = match &layout.grids[i] {
                GridSource::Memory(g) => self.pre_reduce_item(g, item)?,
                GridSource::Streamed(s) => {
                    let (along, across) = pass_spans(s, item)?;
                    let pass = s.summary.as_ref().and_then(|sum| sum.pixels.clone());
                    let drawn = match pass {
                        Some(p) => one_per_pixel(&p, s.transposed, item, &along, &across)?,
                        None => None,
                    };
                    let Some(d) = drawn else {
                        return Err(Error::Invalid(format!(
                            "{}: the plot size changed between layouts; cannot draw the streamed grid",
                            s.path.display()
                        )));
                    };
                    Some(d)
                }
            };
            if let Some((g, new_item)) = reduced {
                layout.grids[i] = GridSource::Memory(Arc::new(g));
                layout.scene.heatmaps[k] = new_item;
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

    /// [`Renderer::pre_reduce`] for a laid-out item, cells evenly spaced or
    /// at their coordinates: the grid of one value per pixel and the item
    /// drawing it, or `None` (draw `grid` with `item` itself).
    fn pre_reduce_item(&self, grid: &Grid, item: &HeatmapItem) -> Result<Option<(Grid, HeatmapItem)>> {
        let fits = |n: usize| u32::try_from(n).is_ok_and(|v| v < u32::MAX / 2);
        if self.reduce_on != ReduceOn::Cpu
            || grid.rows() <= 2 * item.rect.height as usize
            || !fits(grid.rows())
            || !fits(grid.cols())
        {
            return Ok(None);
        }
        let (rows, cols) = (grid.rows() as u32, grid.cols() as u32);
        let y = axis_spans(&item.y, rows, item.rect.height, "y")?;
        let x = axis_spans(&item.x, cols, item.rect.width, "x")?;
        let pass = fold_in_memory(grid, y.clone(), x.clone(), item.aggregate);
        one_per_pixel(&pass, false, item, &y, &x)
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
        let (rows, cols) = (grid.rows() as u32, grid.cols() as u32);
        let (y, x) = (
            AxisSpans::uniform(rows, rect.height),
            AxisSpans::uniform(cols, rect.width),
        );
        let pass = fold_in_memory(grid, y, x.clone(), mode);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let Some(values) = pass.values(&x, centre, threads) else {
            return Ok(None);
        };
        let (w, h) = (rect.width, rect.height);
        Ok(Some(Grid::new(h as usize, w as usize, values)?))
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

    /// [`Renderer::render_figure_png`] taking the figure (see
    /// [`Renderer::render_owned_figure`]).
    pub fn render_owned_figure_png(&self, fig: Figure, path: &Path) -> Result<RenderedFigure> {
        let out = self.render_owned_figure(fig)?;
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
