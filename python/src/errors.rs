//! actmap's errors as Python exceptions (the classes live in
//! `actmap/errors.py`, so they can derive from two built-ins at once).

use pyo3::prelude::*;
use pyo3::types::PyType;

/// The exception class `name` of `actmap.errors`.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py.import("actmap.errors")?.getattr(name)?.cast_into::<PyType>()?)
}

/// An exception of class `name` with `message`.
pub fn raise(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    match class(py, name).and_then(|c| c.call1((message.clone(),))) {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// `actmap.InvalidArgumentError` (a `ValueError`): a bad value.
pub fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "InvalidArgumentError", message)
}

/// `actmap.ArgumentTypeError` (a `TypeError`): an unknown keyword or a
/// value of the wrong type.
pub fn type_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "ArgumentTypeError", message)
}

/// The exception for a library error: files that cannot be read or
/// written are `FileError` (an `OSError`, with `errno` and `filename`),
/// files that are not what they claim `FormatError` (a `ValueError`, with
/// `filename`), bad options `InvalidArgumentError`, GPU trouble
/// `GpuError` (a `RuntimeError`).
pub fn to_py(py: Python<'_>, e: actmap::Error) -> PyErr {
    let message = e.to_string();
    let (name, path, errno) = match &e {
        actmap::Error::Io { path, cause } => ("FileError", Some(path.clone()), cause.raw_os_error()),
        actmap::Error::Encode { path, .. } => ("FileError", Some(path.clone()), None),
        actmap::Error::Format { path, .. } => ("FormatError", Some(path.clone()), None),
        actmap::Error::Invalid(_) => ("InvalidArgumentError", None, None),
        actmap::Error::NoAdapter { .. } | actmap::Error::Gpu(_) => ("GpuError", None, None),
        _ => ("Error", None, None),
    };
    if name == "FileError" {
        // An error the library made (a missing parent directory) has no
        // OS code but a kind, and its own words.
        let (errno, strerror) = match &e {
            actmap::Error::Io { cause, .. } if errno.is_none() => match errno_of_kind(cause.kind()) {
                Some(n) => (Some(n), Some(cause.to_string())),
                None => (None, None),
            },
            _ => (errno, None),
        };
        return file_error(py, message, errno, path.as_deref(), strerror);
    }
    let err = raise(py, name, message);
    if let Some(p) = path {
        let _ = err
            .value(py)
            .setattr("filename", p.to_string_lossy().into_owned());
    }
    err
}

/// The errno of an I/O error kind, for errors without an OS code.
fn errno_of_kind(kind: std::io::ErrorKind) -> Option<i32> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::NotFound => 2,
        K::PermissionDenied => 13,
        K::AlreadyExists => 17,
        K::NotADirectory => 20,
        K::StorageFull => 28,
        K::ReadOnlyFilesystem => 30,
        _ => return None,
    })
}

/// `actmap.FileError` (an `OSError`, and the built-in subclass for
/// `errno`): `message` where there is no errno, else `strerror` (default:
/// the system's words for `errno`) with `errno` and `filename`.
pub fn file_error(
    py: Python<'_>,
    message: String,
    errno: Option<i32>,
    filename: Option<&std::path::Path>,
    strerror: Option<String>,
) -> PyErr {
    let filename = filename.map(|p| p.to_string_lossy().into_owned());
    let made = py
        .import("actmap.errors")
        .and_then(|m| m.getattr("_file_error"))
        .and_then(|f| f.call1((message, errno, filename, strerror)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// `Result<T, actmap::Error>` -> `PyResult<T>`.
pub trait IntoPy<T> {
    /// Raise the error as its Python exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPy<T> for actmap::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
