//! Aggregation: how the cells that fall into one output pixel become one
//! value. This is the CPU twin of the loop in `shaders/heatmap.wgsl`; both
//! use [`cell_span`] so that every cell lands in at least one pixel and no
//! spike is lost when a 20000-row grid is drawn 1080 pixels tall.

use crate::error::{Error, Result};
use crate::input::Grid;

/// How the cells covered by one pixel are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(u32)]
pub enum Aggregate {
    /// The value farthest from the norm's centre, sign kept: a +28 spike and
    /// a -35 dip both survive; on a tie the larger value. The default.
    #[default]
    Extreme = 0,
    /// The largest value.
    Max = 1,
    /// The smallest value.
    Min = 2,
    /// The mean of the covered cells.
    Mean = 3,
    /// The single cell under the pixel centre (what plain image resampling
    /// does: fast, but can drop spikes).
    Nearest = 4,
}

impl Aggregate {
    /// All modes, in CLI order.
    pub const ALL: [Aggregate; 5] = [
        Aggregate::Extreme,
        Aggregate::Max,
        Aggregate::Min,
        Aggregate::Mean,
        Aggregate::Nearest,
    ];

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Extreme => "extreme",
            Aggregate::Max => "max",
            Aggregate::Min => "min",
            Aggregate::Mean => "mean",
            Aggregate::Nearest => "nearest",
        }
    }

    /// Parse a CLI name.
    pub fn parse(name: &str) -> Result<Aggregate> {
        Aggregate::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown aggregation '{name}'; choose one of extreme, max, min, mean, nearest"
                ))
            })
    }
}

/// The cells `[start, end)` along one axis that output pixel `p` of `pixels`
/// covers, for an axis of `cells` cells.
///
/// Downsampling (`cells >= pixels`): every cell that overlaps the pixel,
/// so each cell belongs to at least one pixel. Upsampling: the one cell
/// under the pixel centre. Integer arithmetic, overflow-free for
/// `pixels <= 65535`, identical in the shader.
pub fn cell_span(p: u32, cells: u32, pixels: u32) -> (u32, u32) {
    if cells < pixels {
        let c = nearest_cell(p, cells, pixels);
        return (c, c + 1);
    }
    let q = cells / pixels;
    let r = cells % pixels;
    let start = p * q + (p * r) / pixels;
    let end = (p + 1) * q + ((p + 1) * r).div_ceil(pixels);
    (start, end.min(cells))
}

/// The cells `[start, end)` that pixel `p` of `pixels` covers on an axis
/// whose cells have `edges` (increasing, cells + 1 values), the pixels
/// showing the data window `[v0, v1]`. `None` when the pixel is outside the
/// grid. A pixel straddling two cells that are both wider than it takes the
/// one under its centre; otherwise every overlapped cell counts, so narrow
/// cells are never lost. The twin of `edge_span` in the heatmap shader.
pub fn edge_span(p: u32, edges: &[f32], pixels: u32, v0: f32, v1: f32) -> Option<(u32, u32)> {
    let cells = edges.len().checked_sub(1)? as u32;
    let step = (v1 - v0) / pixels as f32;
    let a = v0 + p as f32 * step;
    let b = v0 + (p + 1) as f32 * step;
    let start = (edges.partition_point(|&e| e <= a) as u32).max(1) - 1;
    let end = (edges.partition_point(|&e| e < b) as u32).min(cells);
    if start >= end {
        return None;
    }
    if end - start == 2 {
        let mid = edges[start as usize + 1];
        let wide = mid - edges[start as usize] > step && edges[end as usize] - mid > step;
        if wide {
            return Some(if (a + b) * 0.5 < mid {
                (start, start + 1)
            } else {
                (start + 1, end)
            });
        }
    }
    Some((start, end))
}

/// Which cells every pixel of one axis covers: the span rules of
/// [`cell_span`] (evenly spaced cells) or [`edge_span`] (cells at their
/// coordinates) evaluated once per pixel. The heatmap shader, the GPU row
/// reduction and the CPU passes all read these tables, so every path
/// aggregates exactly the same cells, whatever the number of cells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisSpans {
    /// Cells along the axis.
    pub cells: u32,
    /// Per pixel, the cells `[start, end)` it covers; `start == end` for a
    /// pixel outside the grid (uneven coordinates shown in a wider window).
    pub spans: Vec<(u32, u32)>,
    /// Per pixel, the one cell [`Aggregate::Nearest`] takes.
    pub nearest: Vec<u32>,
}

impl AxisSpans {
    /// `cells` evenly spaced cells over `pixels` pixels ([`cell_span`];
    /// nearest: the cell under the pixel centre).
    pub fn uniform(cells: u32, pixels: u32) -> AxisSpans {
        AxisSpans {
            cells,
            spans: (0..pixels).map(|p| cell_span(p, cells, pixels)).collect(),
            nearest: (0..pixels).map(|p| nearest_cell(p, cells, pixels)).collect(),
        }
    }

    /// Cells with `edges` (increasing, cells + 1 values) in the data window
    /// `view` across `pixels` pixels ([`edge_span`]; nearest: the middle
    /// cell of the span).
    pub fn edges(edges: &[f32], pixels: u32, view: (f32, f32)) -> AxisSpans {
        let cells = edges.len().saturating_sub(1) as u32;
        let spans: Vec<(u32, u32)> = (0..pixels)
            .map(|p| edge_span(p, edges, pixels, view.0, view.1).unwrap_or((0, 0)))
            .collect();
        let nearest = spans.iter().map(|&(a, b)| (a + b) / 2).collect();
        AxisSpans {
            cells,
            spans,
            nearest,
        }
    }

    /// Pixels along the axis.
    pub fn pixels(&self) -> u32 {
        self.spans.len() as u32
    }

    /// The pixels `[first, last)` that cover some cell (all of them for
    /// evenly spaced cells; uneven ones may leave pixels at either end
    /// outside the grid).
    pub fn inside(&self) -> (u32, u32) {
        let first = self.spans.iter().position(|&(a, b)| a < b);
        let last = self.spans.iter().rposition(|&(a, b)| a < b);
        match (first, last) {
            (Some(f), Some(l)) => (f as u32, l as u32 + 1),
            _ => (0, 0),
        }
    }
}

/// Cell edges for cells centred on `coords` (like matplotlib's pcolormesh
/// with `shading="nearest"`): midpoints between neighbours, the outer edges
/// half a step beyond the first and last coordinate. `None` unless the
/// coordinates are finite and strictly monotonic; decreasing coordinates give
/// decreasing edges.
pub fn edges_from_centres(coords: &[f64]) -> Option<Vec<f64>> {
    if coords.iter().any(|c| !c.is_finite()) {
        return None;
    }
    let n = coords.len();
    match n {
        0 => return None,
        1 => return Some(vec![coords[0] - 0.5, coords[0] + 0.5]),
        _ => {}
    }
    let increasing = coords[1] > coords[0];
    if coords
        .windows(2)
        .any(|w| if increasing { w[1] <= w[0] } else { w[1] >= w[0] })
    {
        return None;
    }
    let mut e = Vec::with_capacity(n + 1);
    e.push(coords[0] - (coords[1] - coords[0]) / 2.0);
    e.extend(coords.windows(2).map(|w| (w[0] + w[1]) / 2.0));
    e.push(coords[n - 1] + (coords[n - 1] - coords[n - 2]) / 2.0);
    Some(e)
}

/// The cell under the centre of pixel `p`: `floor((p + 0.5) * cells / pixels)`.
pub fn nearest_cell(p: u32, cells: u32, pixels: u32) -> u32 {
    ((2 * p as u64 + 1) * cells as u64 / (2 * pixels as u64)) as u32
}

/// Combine `values` with `mode`; `centre` is the norm's centre (for
/// [`Aggregate::Extreme`]). NaN wins: a pixel covering any NaN is NaN, so
/// numerical problems are never hidden. For `Nearest`, pass one value.
pub fn combine(values: impl IntoIterator<Item = f32>, mode: Aggregate, centre: f32) -> f32 {
    let mut acc: Option<f32> = None;
    let mut sum = 0.0f32;
    let mut n = 0u32;
    for v in values {
        if v.is_nan() {
            return f32::NAN;
        }
        n += 1;
        sum += v;
        acc = Some(match (acc, mode) {
            (None, _) => v,
            (Some(a), Aggregate::Extreme) => {
                let (dv, da) = ((v - centre).abs(), (a - centre).abs());
                if dv > da || (dv == da && v > a) { v } else { a }
            }
            (Some(a), Aggregate::Max) => a.max(v),
            (Some(a), Aggregate::Min) => a.min(v),
            (Some(a), Aggregate::Mean | Aggregate::Nearest) => a,
        });
    }
    match mode {
        Aggregate::Mean if n > 0 => sum / n as f32,
        _ => acc.unwrap_or(f32::NAN),
    }
}

/// Reduce `grid` to `width x height` values, one per output pixel, row-major
/// (the CPU twin of what the heatmap shader draws).
pub fn reduce(grid: &Grid, width: u32, height: u32, mode: Aggregate, centre: f32) -> Vec<f32> {
    let (rows, cols) = (grid.rows() as u32, grid.cols() as u32);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for py in 0..height {
        let (r0, r1) = cell_span(py, rows, height);
        for px in 0..width {
            let (c0, c1) = cell_span(px, cols, width);
            let cells = (r0..r1).flat_map(|r| (c0..c1).map(move |c| (r, c)));
            let v = if mode == Aggregate::Nearest {
                let r = nearest_cell(py, rows, height);
                let c = nearest_cell(px, cols, width);
                grid.get(r as usize, c as usize).unwrap_or(f32::NAN)
            } else {
                combine(
                    cells.map(|(r, c)| grid.data()[r as usize * cols as usize + c as usize]),
                    mode,
                    centre,
                )
            };
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_every_cell_when_downsampling() {
        for (cells, pixels) in [
            (20000u32, 1080u32),
            (4096, 1920),
            (13, 4),
            (1080, 1080),
            (7, 7),
            (100_000, 2160),
        ] {
            let mut covered = vec![false; cells as usize];
            let mut last_end = 0;
            for p in 0..pixels {
                let (s, e) = cell_span(p, cells, pixels);
                assert!(s < e && e <= cells, "p={p} {s}..{e} of {cells}");
                assert!(s <= last_end, "gap before pixel {p}");
                last_end = e;
                covered[s as usize..e as usize].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c), "{cells} -> {pixels}");
        }
    }

    #[test]
    fn spans_when_upsampling_pick_the_cell_under_the_centre() {
        // 4 cells over 10 pixels: centres at (p + 0.5) * 0.4 = 0.2, 0.6, 1.0, 1.4, ... 3.8
        let got: Vec<u32> = (0..10).map(|p| cell_span(p, 4, 10).0).collect();
        assert_eq!(got, [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]);
        assert!((0..10).all(|p| cell_span(p, 4, 10).1 == cell_span(p, 4, 10).0 + 1));
    }

    #[test]
    fn spans_table() {
        // 10 cells over 4 pixels: [0,3) [2,5) [5,8) [7,10)
        let got: Vec<(u32, u32)> = (0..4).map(|p| cell_span(p, 10, 4)).collect();
        assert_eq!(got, [(0, 3), (2, 5), (5, 8), (7, 10)]);
        assert_eq!(cell_span(0, 8, 4), (0, 2));
        assert_eq!(cell_span(3, 8, 4), (6, 8));
    }

    #[test]
    fn combine_modes() {
        let v = [0.5, -35.0, 28.0, 1.0];
        assert_eq!(combine(v, Aggregate::Extreme, 0.0), -35.0);
        assert_eq!(combine(v, Aggregate::Extreme, -30.0), 28.0);
        assert_eq!(combine(v, Aggregate::Max, 0.0), 28.0);
        assert_eq!(combine(v, Aggregate::Min, 0.0), -35.0);
        assert_eq!(combine(v, Aggregate::Mean, 0.0), (0.5 - 35.0 + 28.0 + 1.0) / 4.0);
        assert!(combine([1.0, f32::NAN], Aggregate::Max, 0.0).is_nan());
        assert_eq!(
            combine([1.0, f32::INFINITY], Aggregate::Extreme, 0.0),
            f32::INFINITY
        );
        assert_eq!(
            combine([1.0, f32::NEG_INFINITY, 5.0], Aggregate::Min, 0.0),
            f32::NEG_INFINITY
        );
    }

    #[test]
    fn one_hot_cell_survives_reduction() {
        let mut g = vec![0.0f32; 2000 * 409];
        g[1234 * 409 + 321] = 7.0;
        let grid = Grid::new(2000, 409, g).unwrap();
        let out = reduce(&grid, 192, 108, Aggregate::Extreme, 0.0);
        assert!(out.contains(&7.0));
        let out = reduce(&grid, 192, 108, Aggregate::Mean, 0.0);
        assert!(out.iter().any(|&v| v > 0.0));
    }

    #[test]
    fn edge_spans_keep_narrow_cells_and_split_wide_ones_at_the_centre() {
        // Cells [0,10) [10,11) [11,21): 21 units over 7 pixels of 3 units.
        let edges = [0.0, 10.0, 11.0, 21.0];
        let spans: Vec<_> = (0..7).map(|p| edge_span(p, &edges, 7, 0.0, 21.0)).collect();
        assert_eq!(
            spans[3],
            Some((0, 3)),
            "pixel 9..12 holds the narrow cell and both neighbours"
        );
        assert_eq!(spans[0], Some((0, 1)));
        assert_eq!(spans[6], Some((2, 3)));
        // A view wider than the grid: pixels beyond it are outside.
        assert_eq!(edge_span(0, &edges, 10, -30.0, 21.0), None);
        // Two wide cells straddled: the centre decides.
        let e2 = [0.0, 10.0, 20.0];
        // Pixel 8..12 has its centre on the edge at 10: it belongs to the upper cell.
        assert_eq!(edge_span(2, &e2, 5, 0.0, 20.0), Some((1, 2)));
        assert_eq!(edge_span(1, &e2, 5, 0.0, 20.0), Some((0, 1)));
    }

    #[test]
    fn edges_from_centres_matches_pcolormesh_nearest() {
        let e = edges_from_centres(&[0.0, 150.0, 300.0, 500.0, 1000.0]).unwrap();
        assert_eq!(e, [-75.0, 75.0, 225.0, 400.0, 750.0, 1250.0]);
        assert_eq!(edges_from_centres(&[3.0]).unwrap(), [2.5, 3.5]);
        assert_eq!(edges_from_centres(&[2.0, 1.0]).unwrap(), [2.5, 1.5, 0.5]);
        assert!(edges_from_centres(&[1.0, 1.0]).is_none());
        assert!(edges_from_centres(&[1.0, f64::NAN]).is_none());
        assert!(edges_from_centres(&[]).is_none());
    }

    #[test]
    fn parse_names() {
        for a in Aggregate::ALL {
            assert_eq!(Aggregate::parse(a.name()).unwrap(), a);
        }
        assert!(
            Aggregate::parse("median")
                .unwrap_err()
                .to_string()
                .contains("extreme, max")
        );
    }
}
