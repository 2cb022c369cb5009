//! A scene: what a figure looks like in pixels, ready to draw. Pure data,
//! produced by the layout and consumed by the GPU renderers.

use crate::scale::{Aggregate, Colormap, Norm};
use crate::text::TextRun;

/// A rectangle in target pixels (origin top-left).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PixelRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl PixelRect {
    /// The whole of a `width x height` target.
    pub fn full(width: u32, height: u32) -> Self {
        PixelRect {
            x: 0,
            y: 0,
            width,
            height,
        }
    }
}

/// How the cells of one axis sit in data coordinates.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum AxisMapping {
    /// Cells evenly spaced, the whole axis fills the rectangle.
    #[default]
    Uniform,
    /// Cell `i` spans `[edges[i], edges[i + 1]]` (increasing, `cells + 1`
    /// values), and the rectangle shows the data window `view` (low, high).
    Edges {
        /// Cell edges.
        edges: Vec<f32>,
        /// Data window across the rectangle.
        view: (f32, f32),
    },
}

impl PixelRect {
    /// Right edge (exclusive).
    pub fn right(&self) -> u32 {
        self.x + self.width
    }

    /// Bottom edge (exclusive).
    pub fn bottom(&self) -> u32 {
        self.y + self.height
    }
}

/// A geometric primitive in pixels (y down), colours sRGB.
#[derive(Clone, Debug, PartialEq)]
pub enum Primitive {
    /// A filled axis-aligned rectangle.
    Rect {
        /// Left, top, width, height.
        rect: [f32; 4],
        /// Fill colour.
        color: [u8; 4],
    },
    /// An antialiased line segment.
    Line {
        /// Start.
        p0: [f32; 2],
        /// End.
        p1: [f32; 2],
        /// Width in pixels.
        width: f32,
        /// Colour.
        color: [u8; 4],
    },
    /// A connected antialiased line.
    Polyline {
        /// Vertices.
        points: Vec<[f32; 2]>,
        /// Width in pixels.
        width: f32,
        /// Colour.
        color: [u8; 4],
    },
    /// A filled triangle.
    Triangle {
        /// Corners.
        points: [[f32; 2]; 3],
        /// Fill colour.
        color: [u8; 4],
    },
}

/// One heatmap to draw: which grid, where, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct HeatmapItem {
    /// Index of the grid in the figure's list of grids.
    pub grid: usize,
    /// Where it goes.
    pub rect: PixelRect,
    /// Column placement.
    pub x: AxisMapping,
    /// Row placement.
    pub y: AxisMapping,
    /// Last column at the left.
    pub flip_x: bool,
    /// Last row at the top.
    pub flip_y: bool,
    /// Resolved normalisation.
    pub norm: Norm,
    /// Colormap.
    pub colormap: Colormap,
    /// Aggregation when cells outnumber pixels.
    pub aggregate: Aggregate,
    /// NaN, +inf, -inf colours.
    pub special_colors: [[u8; 4]; 3],
}

/// Everything to draw for one figure, in drawing order: background,
/// heatmaps, clipped shapes (plot contents), shapes, text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Background colour.
    pub background: [u8; 4],
    /// Heatmaps (data and colorbars).
    pub heatmaps: Vec<HeatmapItem>,
    /// Shapes, each with an optional clip rectangle.
    pub shapes: Vec<(Option<PixelRect>, Primitive)>,
    /// Text runs.
    pub texts: Vec<TextRun>,
}
