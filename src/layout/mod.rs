//! Layout layer (pure, no GPU): figure descriptions, ticks, number
//! formats, and the engine that places everything in pixels.

pub mod engine;
pub mod figure;
pub mod format;
pub mod scene;
pub mod ticks;

pub use engine::{FigureLayout, PanelInfo, layout_figure, text_problems};
pub use figure::{
    Axis, ColorbarMode, CoordMode, Figure, GridSource, HeatmapLayer, LineLayer, Panel, PanelContent,
    RowSourceFactory, Series, SeriesLines, SeriesSummary, StreamFormat, StreamSummary, StreamedGrid,
    StreamedSeries,
};
pub use scene::{AxisMapping, HeatmapItem, PixelRect, Primitive, Scene};
