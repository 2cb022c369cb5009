//! Drawing a [`LiveFrame`] with the shared [`Renderer`]: into a window's
//! surface texture, or offscreen into an image (the browser's frames).
//!
//! Each channel whose whole history is shown keeps a persistent texture:
//! only rows stored since the last frame are uploaded (all of them again
//! only after the history merged pairs of rows to stay bounded). On a
//! software adapter, many rows per pixel row are folded on the CPU first
//! and drawn one value per pixel, as `actmap render` does: the same pixels.

use std::collections::HashMap;
use std::sync::Arc;

use image::RgbaImage;

use crate::error::{Error, Result};
use crate::gpu::{GridTexture, OffscreenTarget};
use crate::layout::{AxisMapping, GridSource};
use crate::live::controller::{LiveFrame, memory_grid};
use crate::render::Renderer;

/// A channel's texture kept across frames: rows `0..written` are uploaded.
#[derive(Debug)]
struct Persistent {
    tex: GridTexture,
    written: usize,
    bin: u64,
    epoch: u64,
}

/// Counters of what drawing did (for `-v` lines and benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrawStats {
    /// Frames drawn.
    pub frames: u64,
    /// History rows uploaded into persistent textures.
    pub uploaded_rows: u64,
    /// Heatmaps drawn from a CPU pre-reduction.
    pub reduced_frames: u64,
}

/// Per-view GPU state for drawing live frames: persistent channel textures.
#[derive(Debug)]
pub struct LiveDrawer {
    textures: HashMap<String, Persistent>,
    capacity: usize,
    /// The target of offscreen frames with overlays.
    target: Option<OffscreenTarget>,
    /// What drawing did so far.
    pub stats: DrawStats,
}

impl LiveDrawer {
    /// A drawer for a store whose histories keep `capacity_rows` rows.
    pub fn new(capacity_rows: usize) -> Self {
        LiveDrawer {
            textures: HashMap::new(),
            capacity: capacity_rows.max(2).next_multiple_of(2),
            target: None,
            stats: DrawStats::default(),
        }
    }

    /// Draw `frame` (figure, then overlay) into `view`, a texture of the
    /// renderer's format and the frame's size.
    pub fn draw_to(
        &mut self,
        renderer: &Renderer,
        frame: &mut LiveFrame,
        view: &wgpu::TextureView,
    ) -> Result<()> {
        self.pre_reduce(renderer, frame)?;
        let needed = vec![true; frame.grids.len()];
        let textures = self.textures_for(renderer, frame, &needed)?;
        let textures: Vec<GridTexture> = textures.into_iter().flatten().collect();
        renderer.draw_scene_to(&frame.scene, &textures, view)?;
        if !frame.overlay.shapes.is_empty() || !frame.overlay.texts.is_empty() {
            renderer.draw_scene_over(&frame.overlay, &[], view)?;
        }
        self.stats.frames += 1;
        Ok(())
    }

    /// Draw `frame` offscreen and read the pixels back, as
    /// [`Renderer::render_figure`] draws (plain heatmaps coloured on the CPU
    /// on a software adapter). The renderer must draw the offscreen format
    /// ([`Renderer::new`] / `with_context`).
    pub fn draw_image(&mut self, renderer: &Renderer, frame: &mut LiveFrame) -> Result<RgbaImage> {
        self.pre_reduce(renderer, frame)?;
        let with_overlay = !frame.overlay.shapes.is_empty() || !frame.overlay.texts.is_empty();
        if with_overlay {
            // The overlay goes over the figure's text in a second pass on
            // the same target: everything on the GPU.
            let ctx = renderer.context().clone();
            let (w, h) = (frame.scene.width, frame.scene.height);
            if self
                .target
                .as_ref()
                .is_none_or(|t| (t.width(), t.height()) != (w, h))
            {
                self.target = Some(OffscreenTarget::new(&ctx, w, h)?);
            }
            let needed = vec![true; frame.grids.len()];
            let textures: Vec<GridTexture> = self
                .textures_for(renderer, frame, &needed)?
                .into_iter()
                .flatten()
                .collect();
            let target = self
                .target
                .as_ref()
                .ok_or_else(|| Error::Gpu("no offscreen target".into()))?;
            renderer.draw_scene_to(&frame.scene, &textures, &target.view)?;
            renderer.draw_scene_over(&frame.overlay, &[], &target.view)?;
            self.stats.frames += 1;
            return target.read_rgba(&ctx);
        }
        let on_cpu = renderer.colored_on_cpu(&frame.scene, &frame.grids);
        let needed: Vec<bool> = (0..frame.grids.len())
            .map(|i| {
                frame
                    .scene
                    .heatmaps
                    .iter()
                    .zip(&on_cpu)
                    .any(|(h, &cpu)| h.grid == i && !cpu)
            })
            .collect();
        let textures = self.textures_for(renderer, frame, &needed)?;
        let image = renderer.draw_layout(&frame.scene, &frame.grids, &|g| {
            textures.get(g).and_then(Option::as_ref)
        })?;
        self.stats.frames += 1;
        Ok(image)
    }

    /// On a software adapter, a channel shown whole with many rows per
    /// pixel row is folded on the CPU first and drawn one value per pixel
    /// (when its rows are evenly spaced, the plain mapping is the same
    /// picture): its grid in the frame becomes the reduction.
    fn pre_reduce(&mut self, renderer: &Renderer, frame: &mut LiveFrame) -> Result<()> {
        for i in 0..frame.grids.len() {
            let grid = memory_grid(&frame.grids[i])?.clone();
            if !frame.sources.get(i).is_some_and(|s| s.whole && s.even) {
                continue;
            }
            if let Some(item) = frame.scene.heatmaps.iter_mut().find(|h| h.grid == i)
                && let Some(reduced) =
                    renderer.pre_reduce(&grid, item.rect, item.aggregate, item.norm.centre)?
            {
                item.x = AxisMapping::Uniform;
                item.y = AxisMapping::Uniform;
                self.stats.reduced_frames += 1;
                frame.grids[i] = GridSource::Memory(Arc::new(reduced));
                frame.sources[i].whole = false;
            }
        }
        Ok(())
    }

    /// Textures for the frame's grids where `needed`: a channel shown whole
    /// reuses its persistent texture and uploads only new rows; a zoomed,
    /// merged or reduced view uploads its (small) crop.
    fn textures_for(
        &mut self,
        renderer: &Renderer,
        frame: &LiveFrame,
        needed: &[bool],
    ) -> Result<Vec<Option<GridTexture>>> {
        let ctx = renderer.context().clone();
        let capacity = self.capacity;
        let mut out = Vec::with_capacity(frame.grids.len());
        for (i, g) in frame.grids.iter().enumerate() {
            if !needed.get(i).copied().unwrap_or(true) {
                out.push(None);
                continue;
            }
            let grid = memory_grid(g)?;
            let src = frame.sources.get(i);
            let Some(src) = src.filter(|s| s.whole && s.grid.rows() <= capacity) else {
                out.push(Some(GridTexture::upload(&ctx, grid)?));
                continue;
            };
            let (rows, cols) = (grid.rows(), grid.cols());
            let stale = self
                .textures
                .get(&src.channel)
                .is_none_or(|p| p.tex.layout.cols as usize != cols);
            if stale {
                let tex = GridTexture::allocate(&ctx, capacity, cols, ctx.max_texture_dim())?;
                self.textures.insert(
                    src.channel.clone(),
                    Persistent {
                        tex,
                        written: 0,
                        bin: src.rows_per_stored_row,
                        epoch: src.epoch,
                    },
                );
            }
            let p = self
                .textures
                .get_mut(&src.channel)
                .ok_or_else(|| Error::Gpu("texture cache".into()))?;
            if p.bin != src.rows_per_stored_row || rows < p.written || p.epoch != src.epoch {
                // The history merged pairs of rows, or was replaced:
                // everything moved.
                p.written = 0;
                p.bin = src.rows_per_stored_row;
                p.epoch = src.epoch;
            }
            if rows > p.written {
                p.tex
                    .write_rows(&ctx, p.written, cols, &grid.data()[p.written * cols..])?;
                self.stats.uploaded_rows += (rows - p.written) as u64;
                p.written = rows;
            }
            out.push(Some(p.tex.first_rows(rows)));
        }
        Ok(out)
    }
}
