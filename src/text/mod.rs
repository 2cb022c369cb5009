//! Text: the embedded font, measuring and single-line layout, on the CPU.
//!
//! Figures are labelled in DejaVu Sans (matplotlib's default font), which is
//! compiled into the program, so a PNG looks the same on every machine. This
//! module is pure and deterministic: [`Font::measure`] gives a string's size
//! and [`Font::bounds`] the exact box a [`TextRun`] occupies once drawn, so
//! figure layout can prove that nothing overlaps or is clipped before
//! anything touches the GPU. [`crate::gpu::TextRenderer`] draws runs from a
//! glyph atlas with the very same layout.
//!
//! Conventions: pixels, y down; sizes are em sizes in pixels (a 10 pt label
//! at 100 dpi is `10.0 * 100.0 / 72.0` px) and are rounded to 1/4 px, the
//! steps glyphs are rasterized at. A run is one line: no wrapping, no
//! shaping beyond pair kerning, characters missing from the font are drawn
//! as the font's missing-glyph box.

pub mod font;

pub use font::{DEJAVU_SANS, Font, HAlign, Rect, Rotation, TextMetrics, TextRun, VAlign};
