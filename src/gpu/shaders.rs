//! WGSL sources, assembled from `shaders/` at compile time. Tests validate
//! exactly these strings with naga.

/// Shared normalisation and colormap functions.
pub const COLORMAP_WGSL: &str = include_str!("../../shaders/colormap.wgsl");

/// The heatmap pipeline (colormap.wgsl, heatmap.wgsl).
pub const HEATMAP_WGSL: &str = concat!(
    include_str!("../../shaders/colormap.wgsl"),
    "\n",
    include_str!("../../shaders/heatmap.wgsl")
);

/// Lines, rectangles and triangles with analytic antialiasing.
pub const SHAPES_WGSL: &str = include_str!("../../shaders/shapes.wgsl");

/// The text pipeline (glyph quads from the coverage atlas).
pub const TEXT_WGSL: &str = include_str!("../../shaders/text.wgsl");

/// The out-of-core row reduction (compute).
pub const REDUCE_WGSL: &str = include_str!("../../shaders/reduce.wgsl");

/// Every pipeline's full source, by name, for validation.
pub const ALL: &[(&str, &str)] = &[
    ("heatmap", HEATMAP_WGSL),
    ("shapes", SHAPES_WGSL),
    ("text", TEXT_WGSL),
    ("reduce", REDUCE_WGSL),
];
