//! PNG output, written atomically: a temporary file next to the target is
//! renamed over it once complete, so no reader ever sees half a PNG.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, RgbaImage};

use crate::error::{Error, Result};

/// Encode `image` as PNG with fast compression (10-20 ms for 1920x1080,
/// against about a second for the default level, for ~20% smaller files).
pub fn encode_png(image: &RgbaImage, out: &mut impl Write) -> std::result::Result<(), image::ImageError> {
    PngEncoder::new_with_quality(out, CompressionType::Fast, FilterType::Adaptive).write_image(
        image.as_raw(),
        image.width(),
        image.height(),
        ExtendedColorType::Rgba8,
    )
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    path.with_file_name(tmp)
}

/// A file that remembers the first error a write of it gave.
struct KeepError {
    file: std::fs::File,
    error: Option<std::io::Error>,
}

impl Write for KeepError {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).inspect_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().inspect_err(|e| self.keep(e))
    }
}

impl KeepError {
    fn keep(&mut self, e: &std::io::Error) {
        if self.error.is_none()
            && let Some(code) = e.raw_os_error()
        {
            self.error = Some(std::io::Error::from_raw_os_error(code));
        }
    }
}

/// Write `image` to `path` as PNG: encode into a temporary file in the same
/// directory, then rename. On any error the temporary file is removed and
/// an existing file at `path` is left untouched.
pub fn write_png(path: &Path, image: &RgbaImage) -> Result<()> {
    if path.file_name().is_none() {
        return Err(Error::Encode {
            path: path.into(),
            message: "not a file name".into(),
        });
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, KeepError { file, error: None });
        let encoded = encode_png(image, &mut w);
        let flushed = w.flush();
        // A failed write (a full disk) keeps its errno: the encoder passes
        // it on as text only.
        if let Some(e) = w.get_mut().error.take() {
            return Err(Error::io(path, e));
        }
        encoded.map_err(|e| match e {
            image::ImageError::IoError(e) => Error::io(path, e),
            e => Error::Encode {
                path: path.into(),
                message: e.to_string(),
            },
        })?;
        flushed.map_err(|e| Error::io(path, e))?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
