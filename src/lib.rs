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
//! 7. [`render`]: [`Renderer`]: figure -> layout -> one GPU pass -> pixels;
//!    [`spec`]: TOML figure specs; [`batch`]: many inputs to many PNGs;
//!    [`demo`]: the built-in reference data and figures; [`live`]: stream
//!    wire formats and the bounded row history for live monitoring (the
//!    window itself is not built yet).
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

pub mod batch;
pub mod demo;
pub mod error;
pub mod gpu;
pub mod input;
pub mod layout;
pub mod live;
pub mod options;
pub mod render;
pub mod runlog;
pub mod runview;
pub mod scale;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sink;
pub mod spec;
pub mod stream;
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
