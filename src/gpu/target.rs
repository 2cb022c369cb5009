//! Offscreen render target with readback to an `RgbaImage`.

use image::RgbaImage;

use super::GpuContext;
use crate::error::{Error, Result};

/// The format of every offscreen target: 8-bit sRGB, like a PNG.
pub const TARGET_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8UnormSrgb;

/// A texture to render into and read back from.
#[derive(Debug)]
pub struct OffscreenTarget {
    texture: wgpu::Texture,
    /// View to use as a colour attachment.
    pub view: wgpu::TextureView,
    width: u32,
    height: u32,
    /// The readback buffer, made on the first read and reused: a batch of
    /// figures of one size renders into one target.
    readback: std::sync::OnceLock<wgpu::Buffer>,
}

impl OffscreenTarget {
    /// A `width x height` target; errors if the GPU cannot make one that size.
    pub fn new(ctx: &GpuContext, width: u32, height: u32) -> Result<Self> {
        Self::check_size(ctx, width, height)?;
        let texture = ctx.scoped("allocating the output image", || {
            ctx.device.create_texture(&wgpu::TextureDescriptor {
                label: Some("OffscreenTarget::texture"),
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: TARGET_FORMAT,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT
                    | wgpu::TextureUsages::COPY_SRC
                    | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        })?;
        let view = texture.create_view(&Default::default());
        Ok(OffscreenTarget {
            texture,
            view,
            width,
            height,
            readback: std::sync::OnceLock::new(),
        })
    }

    /// An error unless this GPU can render a `width x height` image.
    pub fn check_size(ctx: &GpuContext, width: u32, height: u32) -> Result<()> {
        let max = ctx.max_texture_dim();
        if width == 0 || height == 0 || width > max || height > max {
            return Err(Error::Invalid(format!(
                "image size {width}x{height} is not possible: each side must be 1..={max} pixels on this GPU"
            )));
        }
        Ok(())
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Replace the target's pixels with `image` (sRGB bytes, stored as
    /// they are: the same bytes read back). Sizes must match.
    pub fn write_rgba(&self, ctx: &GpuContext, image: &RgbaImage) {
        debug_assert_eq!(image.dimensions(), (self.width, self.height));
        ctx.queue.write_texture(
            self.texture.as_image_copy(),
            image.as_raw(),
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(self.width * 4),
                rows_per_image: None,
            },
            wgpu::Extent3d {
                width: self.width,
                height: self.height,
                depth_or_array_layers: 1,
            },
        );
    }

    /// Copy the target to the CPU (rows padded to 256 bytes on the GPU side,
    /// unpadded here).
    pub fn read_rgba(&self, ctx: &GpuContext) -> Result<RgbaImage> {
        let unpadded = self.width as usize * 4;
        let padded = unpadded.next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT as usize);
        let buffer = match self.readback.get() {
            Some(b) => b,
            None => {
                let b = ctx.scoped("allocating the readback buffer", || {
                    ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("OffscreenTarget::readback"),
                        size: (padded * self.height as usize) as u64,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                })?;
                self.readback.get_or_init(|| b)
            }
        };
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("OffscreenTarget::readback_encoder"),
            });
        encoder.copy_texture_to_buffer(
            self.texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded as u32),
                    rows_per_image: None,
                },
            },
            wgpu::Extent3d {
                width: self.width,
                height: self.height,
                depth_or_array_layers: 1,
            },
        );
        ctx.queue.submit([encoder.finish()]);
        let mapped = ctx.map_read(buffer, "the image")?;
        let mut pixels = Vec::with_capacity(unpadded * self.height as usize);
        for row in mapped.chunks_exact(padded) {
            pixels.extend_from_slice(&row[..unpadded]);
        }
        drop(mapped);
        buffer.unmap();
        RgbaImage::from_raw(self.width, self.height, pixels)
            .ok_or_else(|| Error::Gpu("readback returned the wrong number of bytes".into()))
    }
}
