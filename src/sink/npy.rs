//! Write f32 arrays as `.npy` (format 1.0, little-endian, C order), so
//! data that actmap generates can be read back by numpy or by actmap.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `data` with `shape` to `path` as a float32 `.npy` file (atomically:
/// a temporary file is renamed over `path`).
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let n: usize = shape.iter().product();
    if n != data.len() {
        return Err(Error::Invalid(format!(
            "shape {shape:?} needs {n} values, got {}",
            data.len()
        )));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    // Pad so that magic (6) + version (2) + length (2) + header is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let tmp = path.with_extension("npy.tmp");
    let result = (|| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        w.write_all(b"\x93NUMPY\x01\x00")?;
        w.write_all(&(header.len() as u16).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        for v in data {
            w.write_all(&v.to_le_bytes())?;
        }
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
