//! Input layer: files -> [`Tensor`] -> [`Grid`]. No GPU code here.

pub mod csv;
pub mod grid;
pub mod npy;
pub mod npz;
pub mod safetensors;
pub mod tensor;

use std::path::Path;

pub use csv::CsvOptions;
pub use grid::Grid;
pub use npy::NpyRowReader;

/// Rows of a 2-D table read a block at a time (for grids too large to
/// hold): the out-of-core renderer consumes any of these.
pub trait RowSource: Send {
    /// Rows in the table.
    fn rows(&self) -> usize;
    /// Values per row.
    fn cols(&self) -> usize;
    /// Index of the next row to be read.
    fn position(&self) -> usize;
    /// Read up to `max_rows` rows into `out` (replacing its contents),
    /// returning how many were read, 0 at the end.
    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> crate::error::Result<usize>;
}

pub use npz::{list_npz, read_npz, skipped_npz_members};
pub use safetensors::{SafetensorsFile, SafetensorsInfo, read_safetensors};
pub use tensor::{DType, GridSelect, Tensor};

use crate::error::{Error, Result};

/// How many names the error for a file of several tensors lists.
const NAMES_SHOWN: usize = 5;

/// Options for [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// CSV/TSV parsing options (ignored for other formats).
    pub csv: CsvOptions,
}

fn unsupported(path: &Path, ext: &str) -> Error {
    Error::format(
        path,
        format!(
            "unsupported file type {:?}: expected .npy, .npz, .safetensors, .csv, .tsv or .txt",
            if ext.is_empty() {
                "(no extension)".to_string()
            } else {
                format!(".{ext}")
            }
        ),
    )
}

/// Read a file by its extension: `.npy`, `.npz`, `.safetensors`, `.csv`,
/// `.tsv`, `.txt`. An `.npz` or `.safetensors` file must hold exactly one
/// tensor; use [`load_all`] (or the readers in [`npz`] and [`safetensors`])
/// for files of several.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Tensor> {
    let ext = extension(path);
    match ext.as_str() {
        "npy" => npy::read_npy(path),
        "csv" | "tsv" | "txt" => csv::read_csv(path, &opts.csv),
        "safetensors" => {
            let file = SafetensorsFile::open(path)?;
            match file.tensors.as_slice() {
                [one] => file.read(one),
                all => Err(not_one(path, all.iter().map(|t| t.name.as_str()))),
            }
        }
        "npz" => {
            let members = npz::list_npz(path)?;
            match members.as_slice() {
                [(one, _)] => {
                    let keep = |key: &str| key == one;
                    let mut tensors = npz::read_npz(path, Some(&keep))?;
                    // One member listed and kept; the archive read twice could
                    // only differ if the file changed in between.
                    tensors
                        .pop()
                        .ok_or_else(|| Error::format(path, format!("array {} vanished", quote(one))))
                }
                all => Err(not_one(path, all.iter().map(|(name, _)| name.as_str()))),
            }
        }
        _ => Err(unsupported(path, &ext)),
    }
}

/// Read every tensor of a file: all arrays of an `.npz` archive or a
/// `.safetensors` file (each with its `name` set), or the one array of any
/// other supported file.
pub fn load_all(path: &Path, opts: &LoadOptions) -> Result<Vec<Tensor>> {
    match extension(path).as_str() {
        "safetensors" => safetensors::read_safetensors(path),
        "npz" => npz::read_npz(path, None),
        _ => Ok(vec![load(path, opts)?]),
    }
}

/// File extensions actmap reads.
pub const EXTENSIONS: &[&str] = &["npy", "npz", "safetensors", "csv", "tsv", "txt"];

/// What a file holds, without reading its data: each tensor's name (None
/// in single-array files) and shape (empty for CSV, whose shape is only
/// known after parsing; it is always 2-D).
///
/// `.safetensors` and `.npz` tensors are always named, even when a file
/// holds only one; their headers are read, not their data.
pub fn describe(path: &Path) -> Result<Vec<(Option<String>, Vec<usize>)>> {
    match extension(path).as_str() {
        "npy" => Ok(vec![(None, npy::read_npy_header(path)?.shape)]),
        "csv" | "tsv" | "txt" => Ok(vec![(None, Vec::new())]),
        "safetensors" => Ok(SafetensorsFile::open(path)?
            .tensors
            .into_iter()
            .map(|t| (Some(t.name), t.shape))
            .collect()),
        "npz" => Ok(npz::list_npz(path)?
            .into_iter()
            .map(|(name, header)| (Some(name), header.shape))
            .collect()),
        _ => load(path, &LoadOptions::default()).map(|t| vec![(None, t.shape)]),
    }
}

/// What [`describe`] and the loaders leave out of a file, with why, one
/// line each: members of an `.npz` archive that are not `.npy` arrays.
/// Empty for every other kind of file (and when the file cannot be read:
/// the loaders report that).
pub fn skipped_members(path: &Path) -> Vec<String> {
    if extension(path) != "npz" {
        return Vec::new();
    }
    npz::skipped_npz_members(path)
        .unwrap_or_default()
        .into_iter()
        .map(|m| format!("member {} skipped: not a .npy array", quote(&m)))
        .collect()
}

/// One tensor of a file: by name in multi-tensor files, the only one otherwise.
pub fn load_tensor(path: &Path, name: Option<&str>, opts: &LoadOptions) -> Result<Tensor> {
    let Some(n) = name else {
        return load(path, opts);
    };
    match extension(path).as_str() {
        "safetensors" => {
            let file = SafetensorsFile::open(path)?;
            match file.get(n) {
                Some(t) => file.read(t),
                None => Err(no_such(path, n, file.tensors.iter().map(|t| t.name.as_str()))),
            }
        }
        "npz" => {
            let keep = |key: &str| key == n;
            let mut tensors = npz::read_npz(path, Some(&keep))?;
            match tensors.len() {
                0 => {
                    let members = npz::list_npz(path)?;
                    Err(no_such(path, n, members.iter().map(|(key, _)| key.as_str())))
                }
                // A key can repeat only in a malformed archive: take the first.
                _ => Ok(tensors.swap_remove(0)),
            }
        }
        _ => Err(Error::format(path, format!("no tensor named {}", quote(n)))),
    }
}

pub(crate) fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Read a file and pick a 2-D grid from it.
pub fn load_grid(path: &Path, opts: &LoadOptions, select: &GridSelect) -> Result<Grid> {
    load(path, opts)?.into_grid(select)
}

/// The error for a file that holds no tensor or several, where one is needed.
fn not_one<'a>(path: &Path, names: impl ExactSizeIterator<Item = &'a str>) -> Error {
    let message = match names.len() {
        0 => "the file holds no tensors".to_string(),
        count => format!(
            "the file holds {count} tensors ({}); pick one with --key",
            name_list(names)
        ),
    };
    Error::format(path, message)
}

/// The error for a tensor name that a file does not have.
fn no_such<'a>(path: &Path, name: &str, names: impl ExactSizeIterator<Item = &'a str>) -> Error {
    let holds = match names.len() {
        0 => "the file holds no tensors".to_string(),
        _ => format!("the file holds {}", name_list(names)),
    };
    Error::format(path, format!("no tensor named {} ({holds})", quote(name)))
}

/// `'a', 'b', 'c', 'd', 'e', and 9 more`: the first few names.
fn name_list<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let count = names.len();
    let mut shown: Vec<String> = names.take(NAMES_SHOWN).map(quote).collect();
    if count > NAMES_SHOWN {
        shown.push(format!("and {} more", count - NAMES_SHOWN));
    }
    shown.join(", ")
}

/// `'name'` for error messages, with control characters escaped so that a
/// message stays on one line.
pub(crate) fn quote(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('\'');
    for c in name.chars() {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_keeps_messages_on_one_line() {
        assert_eq!(quote("layer.0"), "'layer.0'");
        assert_eq!(quote("a\nb\tc\u{7f}"), "'a\\nb\\tc\\u{7f}'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn several_tensors_are_named() {
        let msg = |names: &[&str]| not_one(Path::new("f.npz"), names.iter().copied()).to_string();
        assert_eq!(msg(&[]), "f.npz: the file holds no tensors");
        assert_eq!(
            msg(&["a", "b"]),
            "f.npz: the file holds 2 tensors ('a', 'b'); pick one with --key"
        );
        assert_eq!(
            msg(&["a", "b", "c", "d", "e", "f", "g"]),
            "f.npz: the file holds 7 tensors ('a', 'b', 'c', 'd', 'e', and 2 more); pick one with --key"
        );
    }

    #[test]
    fn missing_names_list_the_others() {
        let msg = |names: &[&str]| no_such(Path::new("f.npz"), "x", names.iter().copied()).to_string();
        assert_eq!(msg(&[]), "f.npz: no tensor named 'x' (the file holds no tensors)");
        assert_eq!(
            msg(&["a", "b"]),
            "f.npz: no tensor named 'x' (the file holds 'a', 'b')"
        );
        assert_eq!(
            msg(&["1", "2", "3", "4", "5", "6"]),
            "f.npz: no tensor named 'x' (the file holds '1', '2', '3', '4', '5', and 1 more)"
        );
    }

    #[test]
    fn unsupported_extensions() {
        let e = load(Path::new("x.pt"), &LoadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pt: unsupported file type \".pt\": expected .npy, .npz, .safetensors, .csv, .tsv or .txt"
        );
        let e = load_all(Path::new("noext"), &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("\"(no extension)\""), "{e}");
        // Extensions are matched case-insensitively.
        let e = load(Path::new("/no/such/X.SAFETENSORS"), &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }
}
