//! Input layer: files -> [`Tensor`] -> [`Grid`]. No GPU code here.

pub mod csv;
pub mod grid;
pub mod npy;
pub mod tensor;

use std::path::Path;

pub use csv::CsvOptions;
pub use grid::Grid;
pub use tensor::{DType, GridSelect, Tensor};

use crate::error::{Error, Result};

/// Options for [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// CSV/TSV parsing options (ignored for other formats).
    pub csv: CsvOptions,
}

/// Read a file by its extension: `.npy`, `.csv`, `.tsv`, `.txt`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Tensor> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "npy" => npy::read_npy(path),
        "csv" | "tsv" | "txt" => csv::read_csv(path, &opts.csv),
        _ => Err(Error::format(
            path,
            format!(
                "unsupported file type {:?}: expected .npy, .csv, .tsv or .txt",
                if ext.is_empty() {
                    "(no extension)".to_string()
                } else {
                    format!(".{ext}")
                }
            ),
        )),
    }
}

/// File extensions actmap reads.
pub const EXTENSIONS: &[&str] = &["npy", "npz", "safetensors", "csv", "tsv", "txt"];

/// What a file holds, without reading its data: each tensor's name (None
/// in single-array files) and shape (empty for CSV, whose shape is only
/// known after parsing; it is always 2-D).
pub fn describe(path: &Path) -> Result<Vec<(Option<String>, Vec<usize>)>> {
    match extension(path).as_str() {
        "npy" => Ok(vec![(None, npy::read_npy_header(path)?.shape)]),
        "csv" | "tsv" | "txt" => Ok(vec![(None, Vec::new())]),
        _ => load(path, &LoadOptions::default()).map(|t| vec![(None, t.shape)]),
    }
}

/// One tensor of a file: by name in multi-tensor files, the only one otherwise.
pub fn load_tensor(path: &Path, name: Option<&str>, opts: &LoadOptions) -> Result<Tensor> {
    match name {
        None => load(path, opts),
        Some(n) => Err(Error::format(path, format!("no tensor named '{n}'"))),
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Read a file and pick a 2-D grid from it.
pub fn load_grid(path: &Path, opts: &LoadOptions, select: &GridSelect) -> Result<Grid> {
    load(path, opts)?.into_grid(select)
}
