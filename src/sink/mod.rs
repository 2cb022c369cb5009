//! Sinks: where rendered pixels go.

pub mod npy;
pub mod png;

pub use npy::write_npy_f32;
pub use png::{encode_png, write_png};
