//! Figures to pixels: the [`Renderer`] (figure -> layout -> one GPU pass
//! -> pixels), the out-of-core passes that fold a grid too big to load
//! into per-pixel aggregates ([`stream`]), and figure specifications
//! ([`spec`]: a TOML file or the command line's flags, described by
//! [`crate::options`], turned into a [`crate::layout::Figure`]).
//!
//! ```no_run
//! use actmap::{Grid, RenderOptions, Renderer};
//!
//! let grid = Grid::from_fn(12, 33, |r, c| (r * c) as f32).unwrap();
//! let renderer = Renderer::new().unwrap();
//! let out = renderer.render(&grid, &RenderOptions::default()).unwrap();
//! actmap::sink::write_png("grid.png".as_ref(), &out.image).unwrap();
//! ```

mod renderer;
pub mod spec;
pub mod stream;

pub use renderer::*;
