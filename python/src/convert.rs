//! Python values -> the library's: keyword dicts -> [`FigureOptions`]
//! (through serde, the same definition as the CLI's flags), float32
//! arrays -> [`Grid`]s that read numpy's buffer in place.

use std::sync::Arc;

use actmap::Grid;
use actmap::options::{self, FigureOptions};
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

use crate::errors::{invalid, type_error};

/// A Python value as JSON, for serde. Numbers, strings, booleans, `None`
/// and (nested) lists or tuples of them; anything with `__index__` is an
/// integer and anything with `__float__` a float (numpy scalars).
fn to_json(py: Python<'_>, key: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::Null);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Value::String(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() || (!v.is_instance_of::<PyFloat>() && v.hasattr("__index__")?) {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = v.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(py, format!("keyword '{key}': {v} is out of range")));
    }
    if v.is_instance_of::<PyFloat>() || v.hasattr("__float__")? {
        let f: f64 = v.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| invalid(py, format!("keyword '{key}': {f} is not a finite number")));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            out.push(to_json(py, key, &item?)?);
        }
        return Ok(Value::Array(out));
    }
    Err(type_error(
        py,
        format!(
            "keyword '{key}': cannot use a {} here",
            v.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ),
    ))
}

/// The options of a keyword dict (`None` values mean the default).
/// Unknown keywords raise `ArgumentTypeError` (a `TypeError`) naming the
/// closest valid one; a value of the wrong type `ArgumentTypeError`; a bad
/// value `InvalidArgumentError`.
pub fn figure_options(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
    func: &str,
) -> PyResult<FigureOptions> {
    let Some(kwargs) = kwargs else {
        return Ok(FigureOptions::default());
    };
    let names = options::accepted_names();
    let mut map = Map::new();
    for (k, v) in kwargs.iter() {
        let key: String = k
            .extract()
            .map_err(|_| type_error(py, format!("{func}() keywords must be strings")))?;
        if !names.contains(&key) {
            let mut msg =
                options::unknown_message("keyword argument", &key, names.iter().map(String::as_str));
            msg = format!("{func}() got an {}", msg.trim_start_matches("unknown "));
            return Err(type_error(
                py,
                msg.replacen("keyword argument", "unexpected keyword argument", 1),
            ));
        }
        if v.is_none() {
            continue;
        }
        let value = to_json(py, &key, &v)?;
        map.insert(key, value);
    }
    match serde_json::from_value::<FigureOptions>(Value::Object(map.clone())) {
        Ok(o) => Ok(o),
        Err(whole) => {
            // Name the keyword: the first that fails alone.
            for (k, v) in map {
                let one = Value::Object(Map::from_iter([(k.clone(), v)]));
                if let Err(e) = serde_json::from_value::<FigureOptions>(one) {
                    let msg = format!("{func}(): keyword '{k}': {e}");
                    return Err(if e.to_string().starts_with("invalid type") {
                        type_error(py, msg)
                    } else {
                        invalid(py, msg)
                    });
                }
            }
            Err(invalid(py, format!("{func}(): {whole}")))
        }
    }
}

/// A float32 array's buffer, kept alive by a reference to the array.
struct NumpyValues {
    _owner: Py<PyAny>,
    ptr: *const f32,
    len: usize,
}

// SAFETY: the buffer belongs to a numpy array this struct holds a strong
// reference to, so it outlives the struct; it is only read. (Python code
// may still write to the array from another thread while a render reads
// it, as with every zero-copy binding: the picture may then mix old and
// new values, nothing worse for plain f32s.)
unsafe impl Send for NumpyValues {}
unsafe impl Sync for NumpyValues {}

impl AsRef<[f32]> for NumpyValues {
    fn as_ref(&self) -> &[f32] {
        // SAFETY: see above; `ptr..ptr+len` lies inside the array's buffer.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A C-contiguous float32 array, as the Python layer hands it over.
pub struct Array<'py> {
    array: PyReadonlyArrayDyn<'py, f32>,
    /// What to call it in messages (`array`, `input 2`).
    pub name: String,
}

impl<'py> Array<'py> {
    /// Take `obj` (a C-contiguous float32 numpy array) named `name`.
    pub fn new(py: Python<'py>, obj: &Bound<'py, PyAny>, name: String) -> PyResult<Self> {
        let array: PyReadonlyArrayDyn<'py, f32> = obj
            .extract()
            .map_err(|_| type_error(py, format!("{name}: expected a float32 numpy array")))?;
        if !array.is_c_contiguous() {
            return Err(type_error(py, format!("{name}: expected a C-contiguous array")));
        }
        if array.len() == 0 {
            return Err(invalid(
                py,
                format!("{name}: shape {:?} has no values", array.shape()),
            ));
        }
        Ok(Array { array, name })
    }

    /// The shape.
    pub fn shape(&self) -> Vec<usize> {
        self.array.shape().to_vec()
    }

    /// Rows `rows x cols` of values starting at element `offset`, read in
    /// place (no copy).
    pub fn grid(&self, py: Python<'py>, offset: usize, rows: usize, cols: usize) -> PyResult<Grid> {
        let all = self
            .array
            .as_slice()
            .map_err(|_| type_error(py, format!("{}: expected a C-contiguous array", self.name)))?;
        let n = rows.saturating_mul(cols);
        if offset.checked_add(n).is_none_or(|end| end > all.len()) {
            return Err(invalid(py, format!("{}: slice out of range", self.name)));
        }
        let values = NumpyValues {
            _owner: self.array.as_any().clone().unbind(),
            ptr: all[offset..].as_ptr(),
            len: n,
        };
        Grid::from_shared(rows, cols, Arc::new(values))
            .map_err(|e| invalid(py, format!("{}: {e}", self.name)))
    }

    /// The values, read in place.
    pub fn values(&self) -> PyResult<&[f32]> {
        self.array
            .as_slice()
            .map_err(|_| pyo3::exceptions::PyTypeError::new_err("expected a C-contiguous array"))
    }

    /// The values as the one 2-D grid they are (a 1-D array is one row).
    pub fn grid_2d(&self, py: Python<'py>) -> PyResult<Grid> {
        match self.shape()[..] {
            [n] => self.grid(py, 0, 1, n),
            [r, c] => self.grid(py, 0, r, c),
            [] => Err(invalid(
                py,
                format!(
                    "{}: a single number (0-D) is not a grid; pass an array",
                    self.name
                ),
            )),
            ref s => Err(invalid(
                py,
                format!(
                    "{}: shape {s:?} is {}-D; pick a 2-D slice with index=, or split=",
                    self.name,
                    s.len()
                ),
            )),
        }
    }

    /// The 2-D slice at `index` of the leading axes (`index.len()` =
    /// ndim - 2), in place.
    pub fn slice(&self, py: Python<'py>, index: &[usize]) -> PyResult<Grid> {
        let shape = self.shape();
        if shape.len() < 2 || index.len() != shape.len() - 2 {
            return Err(invalid(
                py,
                format!(
                    "{}: index {index:?} does not pick a 2-D slice of shape {shape:?} (give {} indices)",
                    self.name,
                    shape.len().saturating_sub(2)
                ),
            ));
        }
        let mut offset = 0;
        let mut stride: usize = shape[shape.len() - 2] * shape[shape.len() - 1];
        for (axis, &i) in index.iter().enumerate().rev() {
            if i >= shape[axis] {
                return Err(invalid(
                    py,
                    format!(
                        "{}: index {i} is out of range for axis {axis} of shape {shape:?}",
                        self.name
                    ),
                ));
            }
            offset += i * stride;
            stride *= shape[axis];
        }
        let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        self.grid(py, offset, r, c)
    }

    /// The 2-D slice where the `axes` have the indices `at` (any axes, the
    /// other two kept in order): read in place when `axes` are the leading
    /// ones, else copied.
    pub fn slice_along(&self, py: Python<'py>, axes: &[usize], at: &[usize]) -> PyResult<Grid> {
        let shape = self.shape();
        if axes.iter().enumerate().all(|(i, &a)| a == i) && axes.len() + 2 == shape.len() {
            return self.slice(py, at);
        }
        let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
        let strides: Vec<usize> = (0..shape.len())
            .map(|a| shape[a + 1..].iter().product())
            .collect();
        let (rows, cols, rs, cs) = match kept[..] {
            [r, c] => (shape[r], shape[c], strides[r], strides[c]),
            [c] => (1, shape[c], 0, strides[c]),
            _ => {
                return Err(invalid(
                    py,
                    format!("{}: split {axes:?} of shape {shape:?}", self.name),
                ));
            }
        };
        let base: usize = axes.iter().zip(at).map(|(&a, &i)| i * strides[a]).sum();
        let all = self.values()?;
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                out.push(all[base + r * rs + c * cs]);
            }
        }
        Grid::new(rows, cols, out).map_err(|e| invalid(py, format!("{}: {e}", self.name)))
    }
}
