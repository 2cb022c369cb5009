//! GPU layer: one shared context, grid textures, renderers and targets.
//!
//! Renderers follow a prepare-then-draw pattern: `HeatmapRenderer` holds
//! only the pipeline; `prepare` builds a `HeatmapDrawData` (uniforms, bind
//! group) for one view of one grid; `draw` records it into the caller's
//! render pass, so an offscreen PNG and a window share one code path.

pub mod context;
pub mod grid_texture;
pub mod heatmap;
pub mod reduce;
pub mod shaders;
pub mod shapes;
pub mod target;
pub mod text;

pub use context::GpuContext;
pub use grid_texture::GridTexture;
pub use heatmap::{AxisMapping, HeatmapDrawData, HeatmapParams, HeatmapRenderer, PixelRect};
pub use reduce::RowReducer;
pub use shapes::{ShapeBatch, ShapeDrawData, ShapeRenderer};
pub use target::OffscreenTarget;
pub use text::{TextDrawData, TextRenderer};

/// Linear-light value of an sRGB-encoded 8-bit channel: what the GPU
/// re-encodes to the same byte when writing to an sRGB target.
pub(crate) fn srgb_to_linear(c: u8) -> f32 {
    let c = c as f32 / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// An sRGB RGBA8 colour as linear floats for a shader (alpha stays linear).
pub(crate) fn linear_rgba(c: [u8; 4]) -> [f32; 4] {
    [
        srgb_to_linear(c[0]),
        srgb_to_linear(c[1]),
        srgb_to_linear(c[2]),
        c[3] as f32 / 255.0,
    ]
}
