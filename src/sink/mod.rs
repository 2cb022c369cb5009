//! Sinks: where rendered pixels go.

pub mod png;

pub use png::{encode_png, write_png};
