//! `Tensor`: an n-dimensional array as read from a file, converted to f32.

use std::fmt;
use std::path::{Path, PathBuf};

use super::grid::Grid;
use crate::error::{Error, Result};

/// The element type an array had in its file, before conversion to f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// bool
    Bool,
    /// signed integers
    I8,
    /// 16-bit signed integer
    I16,
    /// 32-bit signed integer
    I32,
    /// 64-bit signed integer
    I64,
    /// unsigned integers
    U8,
    /// 16-bit unsigned integer
    U16,
    /// 32-bit unsigned integer
    U32,
    /// 64-bit unsigned integer
    U64,
    /// IEEE half precision
    F16,
    /// bfloat16
    BF16,
    /// single precision
    F32,
    /// double precision
    F64,
}

impl DType {
    /// numpy's name for the type (`float32`, `int8`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::U8 => "uint8",
            DType::U16 => "uint16",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An n-dimensional array, row-major (C order), values converted to f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Where it came from (used in error messages).
    pub source: PathBuf,
    /// The tensor's name inside a multi-tensor file (.safetensors, .npz).
    pub name: Option<String>,
    /// The element type in the file.
    pub dtype: DType,
    /// Shape, outermost axis first. Empty for a 0-d array.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in C order.
    pub data: Vec<f32>,
    /// Optional labels for the rows of a 2-D table (CSV row-label column).
    pub row_labels: Option<Vec<String>>,
    /// Optional labels for the columns of a 2-D table (CSV header row).
    pub col_labels: Option<Vec<String>>,
}

/// How to turn a tensor into a 2-D grid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GridSelect {
    /// Indices into the leading axes of an array with more than two
    /// dimensions: `[3]` picks `a[3]` of a 3-D array.
    pub index: Vec<usize>,
    /// Swap rows and columns.
    pub transpose: bool,
}

fn shape_str(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

impl Tensor {
    /// A tensor from a shape and C-order data.
    pub fn new(source: impl Into<PathBuf>, dtype: DType, shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let source = source.into();
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::format(
                source,
                format!(
                    "shape {} needs {} values, got {}",
                    shape_str(&shape),
                    n,
                    data.len()
                ),
            ));
        }
        Ok(Tensor {
            source,
            name: None,
            dtype,
            shape,
            data,
            row_labels: None,
            col_labels: None,
        })
    }

    /// The shape as numpy prints it: `(20000, 4096)`.
    pub fn shape_string(&self) -> String {
        shape_str(&self.shape)
    }

    /// The slice at `index` along each of `axes` (distinct, in range):
    /// those axes are removed, the others keep their order.
    pub fn slice_axes(&self, axes: &[usize], index: &[usize]) -> Result<Tensor> {
        let nd = self.shape.len();
        let bad = |m: String| Error::format(&self.source, m);
        if axes.len() != index.len() {
            return Err(bad(format!(
                "{} split axes but {} indices",
                axes.len(),
                index.len()
            )));
        }
        for (k, (&a, &i)) in axes.iter().zip(index).enumerate() {
            if a >= nd {
                return Err(bad(format!(
                    "--split axis {a} does not exist: the array of shape {} has {nd} axes",
                    self.shape_string()
                )));
            }
            if axes[..k].contains(&a) {
                return Err(bad(format!("--split names axis {a} twice")));
            }
            if i >= self.shape[a] {
                return Err(bad(format!(
                    "index {i} is out of range for axis {a} of size {}",
                    self.shape[a]
                )));
            }
        }
        // Row-major strides, then walk the kept axes.
        let mut strides = vec![1usize; nd];
        for d in (0..nd.saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * self.shape[d + 1];
        }
        let base: usize = axes.iter().zip(index).map(|(&a, &i)| i * strides[a]).sum();
        let kept: Vec<usize> = (0..nd).filter(|d| !axes.contains(d)).collect();
        let shape: Vec<usize> = kept.iter().map(|&d| self.shape[d]).collect();
        let n: usize = shape.iter().product();
        let mut data = Vec::with_capacity(n);
        let mut counter = vec![0usize; kept.len()];
        for _ in 0..n {
            let off: usize = base
                + kept
                    .iter()
                    .zip(&counter)
                    .map(|(&d, &c)| c * strides[d])
                    .sum::<usize>();
            data.push(self.data[off]);
            for k in (0..kept.len()).rev() {
                counter[k] += 1;
                if counter[k] < shape[k] {
                    break;
                }
                counter[k] = 0;
            }
        }
        Ok(Tensor {
            source: self.source.clone(),
            name: self.name.clone(),
            dtype: self.dtype,
            shape,
            data,
            row_labels: None,
            col_labels: None,
        })
    }

    /// The file this tensor came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Turn into a 2-D grid: a 1-D array becomes a 1 x N grid; an array of
    /// more than two dimensions needs `select.index` to pick a 2-D slice.
    pub fn into_grid(self, select: &GridSelect) -> Result<Grid> {
        let nd = self.shape.len();
        let (rows, cols) = grid_of(&self.source, &self.shape, &select.index)?;
        let mut offset = 0usize;
        let mut stride: usize = self.shape.iter().product();
        for (axis, &i) in select.index.iter().enumerate() {
            stride /= self.shape[axis].max(1);
            offset += i * stride;
        }
        let data = if offset == 0 && rows * cols == self.data.len() {
            self.data
        } else {
            self.data[offset..offset + rows * cols].to_vec()
        };
        let mut grid = Grid::new(rows, cols, data)?;
        if nd == 2 {
            grid.row_labels = self.row_labels;
            grid.col_labels = self.col_labels;
        }
        Ok(if select.transpose { grid.transposed() } else { grid })
    }
}

/// The `rows x cols` grid that `index` (one index for each leading axis)
/// picks from an array of `shape`, with the checks and messages of
/// [`Tensor::into_grid`]; `source` names the file in errors.
pub fn grid_of(source: &Path, shape: &[usize], index: &[usize]) -> Result<(usize, usize)> {
    let nd = shape.len();
    if nd == 0 {
        return Err(Error::format(
            source,
            "0-d array (a single scalar) cannot be drawn as a grid",
        ));
    }
    let lead = nd.saturating_sub(2);
    if index.len() != lead {
        let msg = if lead == 0 {
            format!(
                "array of shape {} is {}-D; --index applies only to arrays of 3 or more dimensions",
                shape_str(shape),
                nd
            )
        } else {
            let example: Vec<String> = (0..lead).map(|_| "0".to_string()).collect();
            format!(
                "array of shape {} is {}-D; pick a 2-D slice with --index {} (one index for each of the first {} axes)",
                shape_str(shape),
                nd,
                example.join(","),
                lead
            )
        };
        return Err(Error::format(source, msg));
    }
    for (axis, &i) in index.iter().enumerate() {
        let dim = shape[axis];
        if i >= dim {
            return Err(Error::format(
                source,
                format!(
                    "--index {i} is out of range for axis {axis} of size {dim} (shape {})",
                    shape_str(shape)
                ),
            ));
        }
    }
    let (rows, cols) = if nd == 1 {
        (1, shape[0])
    } else {
        (shape[nd - 2], shape[nd - 1])
    };
    if rows == 0 || cols == 0 {
        return Err(Error::format(
            source,
            format!("empty grid: shape {} has no cells", shape_str(shape)),
        ));
    }
    Ok((rows, cols))
}
