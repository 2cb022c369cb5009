//! Scale layer (pure, no GPU): statistics, normalisation, colormaps and
//! aggregation rules. Every function here has a GPU counterpart in
//! `shaders/` and serves as its CPU twin in tests.

pub mod aggregate;
pub mod colormap;
pub mod colormap_data;
pub mod norm;
pub mod stats;
pub mod summary;

pub use aggregate::Aggregate;
pub use colormap::{Colormap, ColormapKind};
pub use norm::{Norm, NormKind, NormSpec};
pub use stats::{Stats, StatsAccumulator};
pub use summary::{PixelPass, PixelSummary};
