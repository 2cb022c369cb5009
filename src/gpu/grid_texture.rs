//! A grid on the GPU: R32Float tiles in one 2-D texture array.
//!
//! A grid wider or taller than `max_texture_dimension_2d` is cut into equal
//! tiles (one per array layer); the shader addresses a cell by tile and
//! local position, so tiles never show a seam.

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::input::Grid;

/// Upload in pieces of about this many bytes, so the staging memory wgpu
/// needs stays small however large the grid.
const UPLOAD_CHUNK_BYTES: usize = 32 << 20;

/// How a grid of `rows x cols` is cut into tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileLayout {
    /// Rows of the grid.
    pub rows: u32,
    /// Columns of the grid.
    pub cols: u32,
    /// Rows per tile.
    pub tile_rows: u32,
    /// Columns per tile.
    pub tile_cols: u32,
    /// Tiles across.
    pub tiles_x: u32,
    /// Tiles down.
    pub tiles_y: u32,
}

impl TileLayout {
    /// Equal tiles of at most `max_dim` along each axis.
    pub fn new(rows: usize, cols: usize, max_dim: u32) -> Result<TileLayout> {
        let to_u32 = |n: usize, what: &str| {
            u32::try_from(n)
                .ok()
                .filter(|&v| v < (1 << 31))
                .ok_or_else(|| Error::Invalid(format!("grid has {n} {what}: too many for the GPU path")))
        };
        let (rows, cols) = (to_u32(rows, "rows")?, to_u32(cols, "columns")?);
        let max_dim = max_dim.max(1);
        let tiles_x = cols.div_ceil(max_dim);
        let tiles_y = rows.div_ceil(max_dim);
        Ok(TileLayout {
            rows,
            cols,
            tile_rows: rows.div_ceil(tiles_y),
            tile_cols: cols.div_ceil(tiles_x),
            tiles_x,
            tiles_y,
        })
    }

    /// Number of tiles (texture array layers).
    pub fn layers(&self) -> u32 {
        self.tiles_x * self.tiles_y
    }
}

/// A grid uploaded to the GPU.
#[derive(Debug)]
pub struct GridTexture {
    /// The R32Float texture array.
    pub texture: wgpu::Texture,
    /// A `D2Array` view of all layers.
    pub view: wgpu::TextureView,
    /// How the grid is tiled.
    pub layout: TileLayout,
}

impl GridTexture {
    /// Upload `grid` with tiles as large as the device allows.
    pub fn upload(ctx: &GpuContext, grid: &Grid) -> Result<Self> {
        Self::upload_tiled(ctx, grid, ctx.max_texture_dim())
    }

    /// Upload `grid` with tiles of at most `max_tile` cells along each axis
    /// (smaller than the device limit only to test tiling).
    pub fn upload_tiled(ctx: &GpuContext, grid: &Grid, max_tile: u32) -> Result<Self> {
        let tex = Self::allocate(ctx, grid.rows(), grid.cols(), max_tile)?;
        tex.write_rows(ctx, 0, grid.cols(), grid.data())?;
        Ok(tex)
    }

    /// An uninitialised texture for a `rows x cols` grid, filled later with
    /// [`GridTexture::write_rows`] (a live window's growing history).
    pub fn allocate(ctx: &GpuContext, rows: usize, cols: usize, max_tile: u32) -> Result<Self> {
        let limits = ctx.device.limits();
        let layout = TileLayout::new(rows, cols, max_tile.min(limits.max_texture_dimension_2d))?;
        if layout.layers() > limits.max_texture_array_layers {
            return Err(Error::Invalid(format!(
                "a {} x {} grid needs {} tiles of {} x {}, more than this GPU's {} texture layers",
                layout.rows,
                layout.cols,
                layout.layers(),
                layout.tile_rows,
                layout.tile_cols,
                limits.max_texture_array_layers
            )));
        }
        // The GL backend reads a one-layer 2-D array as zeros: give it two.
        let layers = if ctx.backend() == wgpu::Backend::Gl {
            layout.layers().max(2)
        } else {
            layout.layers()
        };
        let size = wgpu::Extent3d {
            width: layout.tile_cols,
            height: layout.tile_rows,
            depth_or_array_layers: layers,
        };
        let texture = ctx.scoped("allocating the grid texture", || {
            ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("GridTexture::tiles"),
                size,
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::R32Float,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        let tex = GridTexture {
            view: texture.create_view(&wgpu::TextureViewDescriptor {
                label: Some("GridTexture::view"),
                dimension: Some(wgpu::TextureViewDimension::D2Array),
                ..Default::default()
            }),
            texture,
            layout,
        };
        Ok(tex)
    }

    /// The same texture drawn as a grid of only its first `rows` rows (the
    /// rows written so far).
    pub fn first_rows(&self, rows: usize) -> GridTexture {
        let mut layout = self.layout;
        layout.rows = (rows as u32).min(layout.rows);
        GridTexture {
            texture: self.texture.clone(),
            view: self.view.clone(),
            layout,
        }
    }

    /// Write whole grid rows starting at grid row `first_row`; `data` holds
    /// `k * cols` values, row-major. Only the tiles those rows touch change.
    pub fn write_rows(&self, ctx: &GpuContext, first_row: usize, cols: usize, data: &[f32]) -> Result<()> {
        let l = self.layout;
        if cols != l.cols as usize || !data.len().is_multiple_of(cols) {
            return Err(Error::Invalid(format!(
                "row data of {} values does not fit rows of {} columns",
                data.len(),
                l.cols
            )));
        }
        let n_rows = data.len() / cols;
        if first_row + n_rows > l.rows as usize {
            return Err(Error::Invalid(format!(
                "rows {first_row}..{} are outside a grid of {} rows",
                first_row + n_rows,
                l.rows
            )));
        }
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let row_bytes = cols * 4;
        let (tr, tc) = (l.tile_rows as usize, l.tile_cols as usize);
        let chunk_rows = (UPLOAD_CHUNK_BYTES / (tc.min(cols) * 4)).max(1);
        let end_row = first_row + n_rows;
        ctx.scoped("uploading the grid", || {
            let mut r = first_row;
            while r < end_row {
                let ty = r / tr;
                let tile_end = ((ty + 1) * tr).min(end_row);
                let h = (tile_end - r).min(chunk_rows);
                for tx in 0..l.tiles_x as usize {
                    let c0 = tx * tc;
                    let w = tc.min(cols - c0);
                    let offset = (r - first_row) * row_bytes + c0 * 4;
                    ctx.queue.write_texture(
                        wgpu::TexelCopyTextureInfo {
                            texture: &self.texture,
                            mip_level: 0,
                            origin: wgpu::Origin3d {
                                x: 0,
                                y: (r - ty * tr) as u32,
                                z: (ty * l.tiles_x as usize + tx) as u32,
                            },
                            aspect: wgpu::TextureAspect::All,
                        },
                        &bytes[offset..],
                        wgpu::TexelCopyBufferLayout {
                            offset: 0,
                            bytes_per_row: Some(row_bytes as u32),
                            rows_per_image: None,
                        },
                        wgpu::Extent3d {
                            width: w as u32,
                            height: h as u32,
                            depth_or_array_layers: 1,
                        },
                    );
                }
                // Flush each chunk so its staging copy is freed before the next.
                ctx.queue.submit([]);
                let _ = ctx.device.poll(wgpu::PollType::wait_indefinitely());
                r += h;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_layouts() {
        let l = TileLayout::new(20000, 4096, 16384).unwrap();
        assert_eq!(
            (l.tiles_x, l.tiles_y, l.tile_rows, l.tile_cols),
            (1, 2, 10000, 4096)
        );
        let l = TileLayout::new(7, 5, 3).unwrap();
        assert_eq!((l.tiles_x, l.tiles_y, l.tile_rows, l.tile_cols), (2, 3, 3, 3));
        assert_eq!(l.layers(), 6);
        let l = TileLayout::new(12, 33, 16384).unwrap();
        assert_eq!((l.tiles_x, l.tiles_y, l.tile_rows, l.tile_cols), (1, 1, 12, 33));
    }
}
