//! `Grid`: the 2-D f32 array every renderer draws.

use std::sync::Arc;

use crate::error::{Error, Result};

/// Values a grid borrows from their owner instead of copying them (a
/// numpy array's buffer, a memory map): anything that derefs to `[f32]`.
pub type SharedValues = Arc<dyn AsRef<[f32]> + Send + Sync>;

/// Where a grid's values live.
#[derive(Clone)]
enum Values {
    Owned(Vec<f32>),
    Shared(SharedValues),
}

impl Values {
    fn as_slice(&self) -> &[f32] {
        match self {
            Values::Owned(v) => v,
            Values::Shared(s) => (**s).as_ref(),
        }
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A 2-D array of f32 values, row-major: `data[r * cols + c]`.
///
/// Row 0 is drawn at the top of a heatmap, column 0 at the left.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    rows: usize,
    cols: usize,
    data: Values,
    /// Optional labels for the rows (from a CSV row-label column).
    pub row_labels: Option<Vec<String>>,
    /// Optional labels for the columns (from a CSV header).
    pub col_labels: Option<Vec<String>>,
}

impl Grid {
    /// A grid of `rows x cols` values in row-major order.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        Self::with_values(rows, cols, Values::Owned(data))
    }

    /// A grid of `rows x cols` values in row-major order that stay where
    /// they are (no copy): the grid keeps `data` alive and reads it.
    pub fn from_shared(rows: usize, cols: usize, data: SharedValues) -> Result<Self> {
        Self::with_values(rows, cols, Values::Shared(data))
    }

    fn with_values(rows: usize, cols: usize, data: Values) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Invalid(format!(
                "empty grid: {rows} x {cols} has no cells"
            )));
        }
        match rows.checked_mul(cols) {
            Some(n) if n == data.as_slice().len() => Ok(Grid {
                rows,
                cols,
                data,
                row_labels: None,
                col_labels: None,
            }),
            _ => Err(Error::Invalid(format!(
                "a {rows} x {cols} grid needs {} values, got {}",
                rows.saturating_mul(cols),
                data.as_slice().len()
            ))),
        }
    }

    /// A grid whose cell `(r, c)` is `f(r, c)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f32) -> Result<Self> {
        let mut data = Vec::with_capacity(rows.saturating_mul(cols));
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Grid::new(rows, cols, data)
    }

    /// Number of rows (drawn top to bottom).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (drawn left to right).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All values, row-major.
    pub fn data(&self) -> &[f32] {
        self.data.as_slice()
    }

    /// Whether the values are borrowed from another owner ([`Grid::from_shared`]).
    pub fn is_shared(&self) -> bool {
        matches!(self.data, Values::Shared(_))
    }

    /// One row.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data()[r * self.cols..(r + 1) * self.cols]
    }

    /// The value at `(r, c)`, or `None` outside the grid.
    pub fn get(&self, r: usize, c: usize) -> Option<f32> {
        (r < self.rows && c < self.cols).then(|| self.data()[r * self.cols + c])
    }

    /// Give back the values (copied when they were shared).
    pub fn into_data(self) -> Vec<f32> {
        match self.data {
            Values::Owned(v) => v,
            Values::Shared(s) => (*s).as_ref().to_vec(),
        }
    }

    /// Rows and columns swapped (labels swap too).
    pub fn transposed(&self) -> Grid {
        let (rows, cols) = (self.rows, self.cols);
        let data = self.data();
        let mut out = vec![0.0f32; rows * cols];
        // Blocked transpose: stays cache-friendly on large grids.
        const B: usize = 64;
        for r0 in (0..rows).step_by(B) {
            for c0 in (0..cols).step_by(B) {
                for r in r0..(r0 + B).min(rows) {
                    for c in c0..(c0 + B).min(cols) {
                        out[c * rows + r] = data[r * cols + c];
                    }
                }
            }
        }
        Grid {
            rows: cols,
            cols: rows,
            data: Values::Owned(out),
            row_labels: self.col_labels.clone(),
            col_labels: self.row_labels.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_are_read_in_place() {
        let owner: Arc<Vec<f32>> = Arc::new((0..12).map(|v| v as f32).collect());
        let ptr = owner.as_ptr();
        let g = Grid::from_shared(3, 4, owner.clone()).unwrap();
        assert!(g.is_shared());
        assert_eq!(g.data().as_ptr(), ptr, "no copy");
        assert_eq!(g.row(1), &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(g.get(2, 3), Some(11.0));
        assert_eq!(g, Grid::new(3, 4, owner.to_vec()).unwrap());
        assert_eq!(g.transposed().get(3, 2), Some(11.0));
        assert_eq!(g.clone().into_data(), *owner);
        assert!(Grid::from_shared(5, 4, owner).is_err());
    }
}
