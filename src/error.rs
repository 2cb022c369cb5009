//! The library's error type. Every message names the input it is about and
//! says what is wrong with it, in one line a user can act on.

use std::path::PathBuf;

/// Everything that can go wrong in actmap's library code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to read or write a file.
    ///
    /// The OS error is part of the message (not also a `source()`, so an
    /// error chain printed by `anyhow` says the cause once).
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// A file was read but its content is not what it claims to be
    /// (corrupt or truncated header, unsupported dtype, ragged CSV, ...).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file involved.
        path: PathBuf,
        /// What is wrong, with line/column or byte counts where known.
        message: String,
    },
    /// An option or argument is invalid (unknown colormap, bad size, bad range).
    #[error("{0}")]
    Invalid(String),
    /// No GPU adapter (not even a software one) could be found.
    #[error("no GPU adapter found: {details}")]
    NoAdapter {
        /// What wgpu reported, and what to do about it.
        details: String,
    },
    /// The GPU device reported an error (out of memory, validation, lost device).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Encoding or writing an image failed.
    #[error("{}: cannot write image: {message}", path.display())]
    Encode {
        /// The output file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// Shorthand for `Result<T, actmap::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Format`] about `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Io`] about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }
}
