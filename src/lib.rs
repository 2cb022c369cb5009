//! # actmap
//!
//! GPU-accelerated heatmaps of neural-network activations. Grids are
//! uploaded as `R32Float` textures and colormapped in WGSL shaders, so a
//! 20,000 x 4,096 activation dump draws as fast as a 12 x 33 one.
//!
//! Data flows through layers, each importing only those above it here:
//!
//! 1. [`input`]: files (`.npy`, `.npz`, `.safetensors`, CSV/TSV) -> [`Tensor`]
//!    -> [`Grid`] (f32, 2-D).
//! 2. [`scale`]: statistics, normalisation ([`NormSpec`] -> [`Norm`]),
//!    colormaps ([`Colormap`]) and aggregation ([`Aggregate`]); pure code,
//!    the CPU twin of the shaders.
//! 3. [`text`]: the embedded font, measured and rasterized on the CPU.
//! 4. [`layout`]: figure descriptions ([`layout::Figure`]), ticks, and the
//!    engine that places panels, axes, colorbars and text in pixels
//!    ([`layout::Scene`]), measuring text so nothing clips or overlaps.
//! 5. [`gpu`]: the shared [`gpu::GpuContext`], tiled grid textures, and the
//!    heatmap, shape and text renderers (prepare, then draw into a render
//!    pass), plus the offscreen target with readback.
//! 6. [`sink`]: PNG and `.npy` files, written atomically.
//! 7. [`options`]: the figure options' vocabulary (the CLI's flags, the
//!    Python keywords, the TOML keys), depending on nothing but the errors.
//! 8. [`render`]: [`Renderer`]: figure -> layout -> one GPU pass -> pixels,
//!    its out-of-core passes ([`render::stream`]) and figure specs
//!    ([`render::spec`]: TOML or the options -> [`layout::Figure`]).
//! 9. [`runlog`]: the run log (a Zarr v3 group) written and read.
//! 10. [`export`]: many figures to files ([`export::batch`]), a run log's
//!     figures ([`export::runlog`]) and the reference data
//!     ([`export::demo`]).
//! 11. [`live`]: live sources, the bounded store and the one interaction
//!     controller; its front ends, `window` (winit) and `serve` (the
//!     browser view), each behind the cargo feature of the same name.
//!
//! ```no_run
//! use actmap::{input, RenderOptions, Renderer};
//!
//! let grid = input::load_grid("acts.npy".as_ref(), &Default::default(), &Default::default())?;
//! let opts = RenderOptions { colormap: "viridis".parse()?, ..Default::default() };
//! Renderer::new()?.render_png(&grid, &opts, "acts.png".as_ref())?;
//! # Ok::<(), actmap::Error>(())
//! ```
//!
//! When the grid has more cells than the image has pixels, each pixel
//! shows an aggregate of every cell it covers ([`Aggregate::Extreme`] by
//! default), so no spike is lost. NaN and ±inf get their own colours and
//! never enter the automatic colour range.
#![warn(missing_docs)]

pub mod error;
pub mod export;
pub mod gpu;
pub mod input;
pub mod layout;
pub mod live;
pub mod options;
pub mod render;
pub mod runlog;
pub mod scale;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sink;
pub mod text;
#[cfg(feature = "window")]
pub mod window;

pub use error::{Error, Result};
pub use input::{Grid, Tensor};
pub use render::{ColorOn, RenderOptions, Rendered, Renderer, Rgba, parse_color};
pub use scale::{Aggregate, Colormap, Norm, NormKind, NormSpec, Stats};

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
