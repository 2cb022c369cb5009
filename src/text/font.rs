//! The embedded font, text measurement and the layout of one run.
//!
//! Layout is shared by [`Font::bounds`] and the GPU text renderer, so the box
//! a run reports is exactly the box its glyphs are placed in: the run origin
//! (pen start on the baseline) is snapped to a whole pixel, each glyph's
//! origin is the pen position (advances plus kerning) rounded to a whole
//! pixel from there, and the box spans the full advance width and the
//! font's ascent to descent at that size.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// DejaVu Sans, matplotlib's default font (licence in `fonts/LICENSE-DejaVu.txt`).
/// The embedded DejaVu Sans TrueType file.
pub static DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// The size, in pixels per em, fontdue flattens glyph outlines for. Its
/// default (40) leaves visible facets on curves of large glyphs; labels at
/// `--scale 2` or 3 reach 60-100 px, so flatten for 200 (finer segments,
/// same look below).
const OUTLINE_SCALE: f32 = 200.0;

/// Sizes are rounded to 1/`SIZE_STEPS` px: glyphs are rasterized and
/// cached at these steps, and layout uses the same rounded size.
pub(crate) const SIZE_STEPS: f32 = 4.0;

/// A size rounded to the steps glyphs are rasterized at; 0 for sizes that
/// are not finite and positive (such text is empty).
pub(crate) fn quantize_size(size_px: f32) -> f32 {
    if size_px.is_finite() && size_px > 0.0 {
        (size_px * SIZE_STEPS).round() / SIZE_STEPS
    } else {
        0.0
    }
}

/// Round half up to a whole pixel (`f32::round` rounds halves away from
/// zero, which would make layout depend on which side of 0 a run is).
fn snap(v: f32) -> f32 {
    (v + 0.5).floor()
}

/// A rectangle in pixels, y down.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

impl Rect {
    /// Right edge.
    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    /// Bottom edge.
    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    /// Whether the point lies inside (left/top edges in, right/bottom out).
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && x < self.right() && y >= self.y && y < self.bottom()
    }

    /// Whether the two rectangles share any area (touching edges do not).
    pub fn intersects(&self, other: &Rect) -> bool {
        self.x < other.right() && other.x < self.right() && self.y < other.bottom() && other.y < self.bottom()
    }
}

/// The size of a string at some pixel size.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct TextMetrics {
    /// Sum of advance widths and kerning.
    pub width: f32,
    /// Font ascent above the baseline (the same for every string).
    pub ascent: f32,
    /// Font descent below the baseline, positive (the same for every string).
    pub descent: f32,
    /// `ascent + descent`.
    pub height: f32,
}

/// Horizontal anchoring of a run, along its reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HAlign {
    /// The anchor is at the start of the text.
    #[default]
    Left,
    /// The anchor is at the middle of the advance width.
    Center,
    /// The anchor is at the end of the text.
    Right,
}

/// Vertical anchoring of a run, across its reading direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VAlign {
    /// The anchor is at the font's ascent line.
    Top,
    /// The anchor is half-way between ascent and descent lines.
    Middle,
    /// The anchor is on the baseline.
    #[default]
    Baseline,
    /// The anchor is at the font's descent line.
    Bottom,
}

/// Orientation of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Rotation {
    /// Left to right.
    #[default]
    None,
    /// Turned 90° counter-clockwise: reads bottom to top, glyph tops face
    /// left (y-axis labels). Alignment applies in the text's own frame:
    /// `HAlign` along the (now vertical) reading direction, `VAlign` across it.
    Ccw90,
}

/// One line of text to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct TextRun {
    /// The text (one line).
    pub text: String,
    /// Anchor x, in target pixels.
    pub x: f32,
    /// Anchor y, in target pixels (y down).
    pub y: f32,
    /// Em size in pixels.
    pub size_px: f32,
    /// Colour, sRGB RGBA.
    pub color: [u8; 4],
    /// Horizontal anchoring.
    pub h_align: HAlign,
    /// Vertical anchoring.
    pub v_align: VAlign,
    /// Orientation.
    pub rotation: Rotation,
}

impl TextRun {
    /// Black, left-aligned text with its baseline start at (`x`, `y`).
    pub fn new(text: impl Into<String>, x: f32, y: f32, size_px: f32) -> Self {
        TextRun {
            text: text.into(),
            x,
            y,
            size_px,
            color: [0, 0, 0, 255],
            h_align: HAlign::Left,
            v_align: VAlign::Baseline,
            rotation: Rotation::None,
        }
    }

    /// With `h_align` and `v_align`.
    pub fn aligned(mut self, h_align: HAlign, v_align: VAlign) -> Self {
        self.h_align = h_align;
        self.v_align = v_align;
        self
    }

    /// With `color` (sRGB RGBA).
    pub fn colored(mut self, color: [u8; 4]) -> Self {
        self.color = color;
        self
    }

    /// With `rotation`.
    pub fn rotated(mut self, rotation: Rotation) -> Self {
        self.rotation = rotation;
        self
    }
}

/// One glyph of a laid-out run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PlacedGlyph {
    /// Glyph index in the font.
    pub glyph: u16,
    /// Whole pixels from the run origin along the reading direction.
    pub offset: f32,
}

/// A run placed on the pixel grid.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RunLayout {
    /// The size glyphs are rasterized at (quantized).
    pub size_px: f32,
    /// Pen start on the baseline, in whole target pixels.
    pub origin: [f32; 2],
    /// Orientation.
    pub rotation: Rotation,
    /// The glyphs, in order.
    pub glyphs: Vec<PlacedGlyph>,
    /// The metrics box (see [`Font::bounds`]).
    pub bounds: Rect,
}

/// A parsed font. Parse once and share ([`Font::default_sans`]).
#[derive(Debug)]
pub struct Font {
    inner: fontdue::Font,
    /// Ascent per pixel of em size.
    ascent_per_px: f32,
    /// Descent (positive) per pixel of em size.
    descent_per_px: f32,
}

impl Font {
    /// Parse a TrueType/OpenType font.
    pub fn from_bytes(bytes: &[u8]) -> Result<Font> {
        let settings = fontdue::FontSettings {
            scale: OUTLINE_SCALE,
            ..Default::default()
        };
        let inner = fontdue::Font::from_bytes(bytes, settings)
            .map_err(|e| Error::Invalid(format!("cannot read font: {e}")))?;
        let line = inner
            .horizontal_line_metrics(1.0)
            .ok_or_else(|| Error::Invalid("cannot read font: it has no horizontal line metrics".into()))?;
        Ok(Font {
            inner,
            ascent_per_px: line.ascent,
            descent_per_px: -line.descent,
        })
    }

    /// DejaVu Sans, embedded in the program and parsed on first use.
    pub fn default_sans() -> &'static Font {
        static FONT: OnceLock<Font> = OnceLock::new();
        FONT.get_or_init(|| {
            // Embedded at compile time and covered by tests: not user input.
            Font::from_bytes(DEJAVU_SANS).expect("the embedded DejaVu Sans font is valid")
        })
    }

    /// The font's full name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Whether the font has a glyph for `c` (others draw as a box).
    pub fn has_glyph(&self, c: char) -> bool {
        self.inner.has_glyph(c)
    }

    /// Ascent and descent at `size_px`, with zero width.
    pub fn line_metrics(&self, size_px: f32) -> TextMetrics {
        let size = quantize_size(size_px);
        let ascent = self.ascent_per_px * size;
        let descent = self.descent_per_px * size;
        TextMetrics {
            width: 0.0,
            ascent,
            descent,
            height: ascent + descent,
        }
    }

    /// Width (advances plus kerning) and the font's ascent/descent for
    /// `text` at `size_px` (rounded to 1/4 px, like drawn text).
    pub fn measure(&self, text: &str, size_px: f32) -> TextMetrics {
        let size = quantize_size(size_px);
        TextMetrics {
            width: self.walk(text, size, |_, _| {}),
            ..self.line_metrics(size)
        }
    }

    /// The box `run` occupies when drawn: the full advance width by ascent
    /// to descent, after snapping the run origin to whole pixels; for
    /// [`Rotation::Ccw90`] the box turned with the text (tall and narrow).
    /// Glyph ink stays inside it except for antialiasing at the edges and
    /// the rare glyph whose outline pokes past its advance or the font's
    /// ascent (accented capitals, some symbols).
    pub fn bounds(&self, run: &TextRun) -> Rect {
        let size = quantize_size(run.size_px);
        let width = self.walk(&run.text, size, |_, _| {});
        self.frame(run, size, width).1
    }

    /// Place `run` on the pixel grid.
    pub(crate) fn layout(&self, run: &TextRun) -> RunLayout {
        let size = quantize_size(run.size_px);
        let mut glyphs = Vec::with_capacity(run.text.len());
        let width = self.walk(&run.text, size, |glyph, pen| {
            glyphs.push(PlacedGlyph {
                glyph,
                offset: snap(pen),
            })
        });
        let (origin, bounds) = self.frame(run, size, width);
        RunLayout {
            size_px: size,
            origin,
            rotation: run.rotation,
            glyphs,
            bounds,
        }
    }

    /// Glyph placement metrics (bitmap box relative to the glyph origin).
    pub(crate) fn glyph_metrics(&self, glyph: u16, size_px: f32) -> fontdue::Metrics {
        self.inner.metrics_indexed(glyph, size_px)
    }

    /// Coverage bitmap of `glyph` at `size_px`, rows top to bottom.
    pub(crate) fn rasterize(&self, glyph: u16, size_px: f32) -> (fontdue::Metrics, Vec<u8>) {
        self.inner.rasterize_indexed(glyph, size_px)
    }

    /// Call `f(glyph, pen_x)` for each character at quantized `size`;
    /// returns the total advance width.
    fn walk(&self, text: &str, size: f32, mut f: impl FnMut(u16, f32)) -> f32 {
        if size <= 0.0 {
            return 0.0;
        }
        let mut pen = 0.0f32;
        let mut prev: Option<u16> = None;
        for c in text.chars() {
            let glyph = self.inner.lookup_glyph_index(c);
            if let Some(p) = prev {
                pen += self.inner.horizontal_kern_indexed(p, glyph, size).unwrap_or(0.0);
            }
            f(glyph, pen);
            pen += self.inner.metrics_indexed(glyph, size).advance_width;
            prev = Some(glyph);
        }
        pen
    }

    /// Snapped origin (pen start on the baseline) and metrics box of `run`
    /// with advance width `width` at quantized `size`.
    fn frame(&self, run: &TextRun, size: f32, width: f32) -> ([f32; 2], Rect) {
        let ascent = self.ascent_per_px * size;
        let descent = self.descent_per_px * size;
        // In the text's own frame (x along the reading direction, y down
        // across it), relative to the anchor.
        let start = match run.h_align {
            HAlign::Left => 0.0,
            HAlign::Center => -0.5 * width,
            HAlign::Right => -width,
        };
        let baseline = match run.v_align {
            VAlign::Top => ascent,
            VAlign::Middle => 0.5 * (ascent - descent),
            VAlign::Baseline => 0.0,
            VAlign::Bottom => -descent,
        };
        match run.rotation {
            Rotation::None => {
                let origin = [snap(run.x + start), snap(run.y + baseline)];
                let bounds = Rect {
                    x: origin[0],
                    y: origin[1] - ascent,
                    w: width,
                    h: ascent + descent,
                };
                (origin, bounds)
            }
            Rotation::Ccw90 => {
                // Local (u, v) lands at anchor + (v, -u).
                let origin = [snap(run.x + baseline), snap(run.y - start)];
                let bounds = Rect {
                    x: origin[0] - ascent,
                    y: origin[1] - width,
                    w: ascent + descent,
                    h: width,
                };
                (origin, bounds)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> &'static Font {
        Font::default_sans()
    }

    #[test]
    fn embedded_font_is_dejavu_sans() {
        assert_eq!(font().name(), Some("DejaVu Sans"));
        for c in ['0', 'A', 'µ', 'Δ', '−', '³'] {
            assert!(font().has_glyph(c), "{c:?}");
        }
    }

    #[test]
    fn width_grows_with_length() {
        let mut last = 0.0;
        for n in 1..12 {
            let w = font().measure(&"8".repeat(n), 13.0).width;
            assert!(w > last, "{n} eights: {w} <= {last}");
            last = w;
        }
        assert_eq!(font().measure("", 13.0).width, 0.0);
    }

    #[test]
    fn metrics_scale_with_size() {
        let a = font().measure("Layer 12 · head 3", 10.0);
        let b = font().measure("Layer 12 · head 3", 20.0);
        assert!((b.width / a.width - 2.0).abs() < 1e-4, "{a:?} {b:?}");
        assert!((b.ascent / a.ascent - 2.0).abs() < 1e-4);
        assert!((b.descent / a.descent - 2.0).abs() < 1e-4);
        assert!((a.height - (a.ascent + a.descent)).abs() < 1e-6);
        // DejaVu Sans: ascent 1901/2048 em, descent 483/2048 em.
        assert!((a.ascent - 9.2822).abs() < 1e-3, "{a:?}");
        assert!((a.descent - 2.3584).abs() < 1e-3, "{a:?}");
    }

    #[test]
    fn ascent_and_descent_do_not_depend_on_the_string() {
        let a = font().measure("ace", 13.0);
        let b = font().measure("Ägypten", 13.0);
        assert_eq!((a.ascent, a.descent), (b.ascent, b.descent));
    }

    #[test]
    fn kerning_tightens_av() {
        let av = font().measure("AV", 40.0).width;
        let sum = font().measure("A", 40.0).width + font().measure("V", 40.0).width;
        assert!(av < sum - 1.0, "AV {av} vs A+V {sum}");
    }

    #[test]
    fn sizes_round_to_quarter_pixels() {
        assert_eq!(font().measure("x", 13.1), font().measure("x", 13.0));
        assert_ne!(font().measure("x", 13.2), font().measure("x", 13.0));
        for bad in [0.0, -3.0, f32::NAN, f32::INFINITY] {
            let m = font().measure("x", bad);
            assert_eq!(m, TextMetrics::default(), "size {bad}");
        }
    }

    #[test]
    fn bounds_follow_alignment() {
        let m = font().measure("0.25", 13.0);
        let run = TextRun::new("0.25", 100.0, 50.0, 13.0);
        let b = font().bounds(&run);
        assert_eq!((b.x, b.w, b.h), (100.0, m.width, m.height));
        assert_eq!(b.y, 50.0 - m.ascent);
        let r = font().bounds(&run.clone().aligned(HAlign::Right, VAlign::Top));
        assert!(
            (r.right() - 100.0).abs() <= 0.5 && (r.y - 50.0).abs() <= 0.5,
            "{r:?}"
        );
        let c = font().bounds(&run.clone().aligned(HAlign::Center, VAlign::Middle));
        assert!((c.x + c.w / 2.0 - 100.0).abs() <= 0.5, "{c:?}");
        assert!((c.y + c.h / 2.0 - 50.0).abs() <= 0.5, "{c:?}");
        let d = font().bounds(&run.clone().aligned(HAlign::Left, VAlign::Bottom));
        assert!((d.bottom() - 50.0).abs() <= 0.5, "{d:?}");
    }

    #[test]
    fn rotated_bounds_are_the_box_turned() {
        let run = TextRun::new("activation", 40.0, 300.0, 13.0)
            .aligned(HAlign::Center, VAlign::Bottom)
            .rotated(Rotation::Ccw90);
        let m = font().measure("activation", 13.0);
        let b = font().bounds(&run);
        assert_eq!((b.w, b.h), (m.height, m.width));
        // Centred along y about the anchor, glyph bottoms (descent) at x = 40.
        assert!((b.y + b.h / 2.0 - 300.0).abs() <= 0.5, "{b:?}");
        assert!((b.right() - 40.0).abs() <= 0.5, "{b:?}");
    }

    #[test]
    fn layout_snaps_to_whole_pixels_and_matches_bounds() {
        let run = TextRun::new("AVAV 1.5", 10.3, 20.7, 13.0).aligned(HAlign::Center, VAlign::Middle);
        let l = font().layout(&run);
        assert_eq!(l.bounds, font().bounds(&run));
        assert!(l.origin.iter().all(|v| v.fract() == 0.0), "{:?}", l.origin);
        assert!(l.glyphs.iter().all(|g| g.offset.fract() == 0.0));
        assert_eq!(l.glyphs.len(), 8);
        assert_eq!(l.glyphs[0].offset, 0.0);
        // Translating the anchor by whole pixels translates everything.
        let moved = font().layout(&TextRun {
            x: run.x + 7.0,
            y: run.y - 3.0,
            ..run.clone()
        });
        assert_eq!(moved.glyphs, l.glyphs);
        assert_eq!(moved.origin, [l.origin[0] + 7.0, l.origin[1] - 3.0]);
    }

    #[test]
    fn rect_helpers() {
        let a = Rect {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 5.0,
        };
        let b = Rect { x: 10.0, ..a };
        assert!(!a.intersects(&b));
        assert!(a.intersects(&Rect { x: 9.5, ..a }));
        assert!(a.contains(0.0, 0.0) && !a.contains(10.0, 1.0));
    }
}
