//! `actmap.render` and `actmap.Figure`: arrays + options -> the figure
//! `actmap render` would draw -> pixels, on one GPU context per process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use actmap::export::batch::{self, FigureLook, Job};
use actmap::layout::{Figure as FigureDesc, GridSource};
use actmap::options::FigureOptions;
use actmap::render::spec::{FigureSpec, PanelSpec, parse_colorbar, parse_grid};
use actmap::{Grid, Renderer};
use numpy::ndarray::Array3;
use numpy::{IntoPyArray, PyArray3};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{Array, figure_options};
use crate::errors::{IntoPy, invalid};

/// The process's renderer: made on first use, then shared by every
/// thread (a `Renderer` is `Sync`; concurrent renders each get their own
/// target). A failed start is retried by the next call.
static RENDERER: Mutex<Option<Arc<Renderer>>> = Mutex::new(None);

/// The shared renderer, started (GIL released) when there is none yet.
pub fn renderer(py: Python<'_>) -> PyResult<Arc<Renderer>> {
    py.detach(|| {
        let mut slot = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let r = Arc::new(Renderer::new()?);
        *slot = Some(r.clone());
        Ok(r)
    })
    .py_err(py)
}

/// The GPU adapter the renderer runs on (`llvmpipe ... (Vulkan, Cpu)`).
#[pyfunction]
pub fn adapter(py: Python<'_>) -> PyResult<String> {
    Ok(renderer(py)?.context().describe())
}

/// A rendered figure: RGBA pixels. Shown inline by Jupyter
/// (`_repr_png_`), written with `save`, read with `to_numpy`.
#[pyclass(module = "actmap", name = "Figure", frozen)]
pub struct Figure {
    image: image::RgbaImage,
    png: OnceLock<Vec<u8>>,
    ranges: Vec<Option<(f32, f32)>>,
}

impl Figure {
    /// The pixels and colour ranges of a render (its layout is dropped).
    pub fn from_rendered(rendered: actmap::render::RenderedFigure) -> Figure {
        let ranges = rendered
            .layout
            .panels
            .iter()
            .map(|p| p.norm.map(|n| (n.vmin, n.vmax)))
            .collect();
        Figure {
            image: rendered.image,
            png: OnceLock::new(),
            ranges,
        }
    }

    fn encode(&self) -> actmap::Result<&[u8]> {
        if let Some(p) = self.png.get() {
            return Ok(p);
        }
        let mut out = Vec::new();
        actmap::sink::encode_png(&self.image, &mut out).map_err(|e| actmap::Error::Encode {
            path: PathBuf::from("<memory>"),
            message: e.to_string(),
        })?;
        Ok(self.png.get_or_init(|| out))
    }
}

#[pymethods]
impl Figure {
    /// Width in pixels.
    #[getter]
    fn width(&self) -> u32 {
        self.image.width()
    }

    /// Height in pixels.
    #[getter]
    fn height(&self) -> u32 {
        self.image.height()
    }

    /// The colour range `(vmin, vmax)` each panel was drawn with (`None`
    /// for a line chart), in panel order.
    #[getter]
    fn ranges(&self) -> Vec<Option<(f32, f32)>> {
        self.ranges.clone()
    }

    /// The pixels as a `(height, width, 4)` uint8 RGBA array (a copy).
    fn to_numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray3<u8>>> {
        let (w, h) = (self.image.width() as usize, self.image.height() as usize);
        let pixels = self.image.as_raw().clone();
        let a = Array3::from_shape_vec((h, w, 4), pixels).map_err(|e| invalid(py, e.to_string()))?;
        Ok(a.into_pyarray(py))
    }

    /// The figure as PNG bytes.
    fn to_png<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.encode().map(|b| b.to_vec())).py_err(py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// PNG bytes for IPython and Jupyter, which show the figure inline.
    fn _repr_png_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.to_png(py)
    }

    /// Write the figure to `path` as PNG (written to a temporary file and
    /// renamed, so no half-written file is ever left). Returns the path.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<PathBuf> {
        match path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()) {
            Some(e) if e == "png" => {}
            None => {}
            Some(e) => {
                return Err(invalid(
                    py,
                    format!("{}: actmap writes PNG files, not .{e}", path.display()),
                ));
            }
        }
        py.detach(|| actmap::sink::write_png(&path, &self.image))
            .py_err(py)?;
        Ok(path)
    }

    fn __repr__(&self) -> String {
        format!("<actmap.Figure {}x{}>", self.image.width(), self.image.height())
    }
}

/// Render `inputs` (`(float32 C-contiguous array, name)` pairs, one per
/// panel) with the keyword options `kwargs`, as `actmap render` would
/// with the same flags. `func` names the caller in messages.
#[pyfunction]
#[pyo3(signature = (inputs, kwargs = None, func = "render"))]
pub fn render(
    py: Python<'_>,
    inputs: Vec<(Bound<'_, PyAny>, String)>,
    kwargs: Option<Bound<'_, PyDict>>,
    func: &str,
) -> PyResult<Figure> {
    let opts = figure_options(py, kwargs.as_ref(), func)?;
    if inputs.is_empty() {
        return Err(invalid(py, format!("{func}(): nothing to draw (an empty list)")));
    }
    let arrays = inputs
        .into_iter()
        .map(|(a, name)| Array::new(py, &a, name))
        .collect::<PyResult<Vec<_>>>()?;
    let figure = describe(py, &arrays, &opts)?;
    let renderer = renderer(py)?;
    let rendered = py.detach(|| renderer.render_figure(&figure)).py_err(py)?;
    let fig = Figure::from_rendered(rendered);
    // The figure and layout held the arrays' buffers: let go of them here,
    // with the GIL held.
    drop(figure);
    Ok(fig)
}

/// The figure `actmap render` would describe for these arrays and options.
fn describe(py: Python<'_>, arrays: &[Array<'_>], opts: &FigureOptions) -> PyResult<FigureDesc> {
    let nd = arrays.len() == 1 && arrays[0].shape().len() > 2 && opts.panel.index.is_empty();
    if nd {
        return describe_nd(py, &arrays[0], opts);
    }
    if !opts.split.is_empty() {
        return Err(invalid(py, "split= cuts one 3-D or 4-D array into panels"));
    }
    let mut grids = Vec::with_capacity(arrays.len());
    for a in arrays {
        let shape = a.shape();
        let grid = if opts.panel.index.is_empty() {
            a.grid_2d(py)?
        } else if shape.len() > 2 {
            a.slice(py, &opts.panel.index)?
        } else {
            return Err(invalid(
                py,
                format!(
                    "{}: index= picks a slice of a 3-D or higher array; this one has shape {shape:?}",
                    a.name
                ),
            ));
        };
        grids.push(oriented(grid, opts));
    }
    let names: Vec<String> = arrays.iter().map(|a| a.name.clone()).collect();
    let spec = FigureSpec::from_options(opts, &names).py_err(py)?;
    spec.build_with_grids(grids, Path::new("")).py_err(py)
}

fn oriented(grid: Grid, opts: &FigureOptions) -> Grid {
    if opts.panel.transpose {
        grid.transposed()
    } else {
        grid
    }
}

/// An N-D array as panels: its 2-D slices along `split` (default: axis 0
/// of a 3-D array; the first two axes of a 4-D one, as a facet grid),
/// laid out as `actmap render` lays out the panels of one tensor.
fn describe_nd(py: Python<'_>, a: &Array<'_>, opts: &FigureOptions) -> PyResult<FigureDesc> {
    let shape = a.shape();
    let size = opts.size.unwrap_or((1200, 900));
    let sl = batch::slicing(&shape, &opts.split, true, size, opts.scale)
        .map_err(|e| invalid(py, format!("{}: {}", a.name, e.replace("--split", "split="))))?;
    if sl.per_first {
        return Err(invalid(
            py,
            format!(
                "{}: shape {shape:?} has {} maps, too many for one {}x{} figure; \
                 pick a layer with index=, or make the figure larger with size=",
                a.name,
                shape[0] * shape[1],
                size.0,
                size.1
            ),
        ));
    }
    let mut grids = Vec::with_capacity(sl.slices.len());
    for s in &sl.slices {
        let g = if s.is_empty() {
            a.grid_2d(py)?
        } else {
            a.slice_along(py, &sl.axes, s)?
        };
        grids.push(GridSource::Memory(Arc::new(oriented(g, opts))));
    }
    let job = Job {
        source: PathBuf::from(&a.name),
        tensor: None,
        axes: sl.axes,
        slices: sl.slices,
        grid: sl.grid,
        fixed: 0,
        output: PathBuf::new(),
        label: a.name.clone(),
    };
    let template = PanelSpec::from_options(opts, &a.name, opts.title.clone()).py_err(py)?;
    let look = FigureLook {
        size,
        scale: opts.scale,
        bare: opts.bare,
        titled: true,
        axis_names: opts.axis_names.clone(),
    };
    let mut fig = batch::job_figure(&job, grids, &template, &look).py_err(py)?;
    if fig.panels.len() > 1 {
        fig.title = opts.title.clone();
    }
    if let Some(c) = &opts.colorbar {
        fig.colorbar = parse_colorbar(Some(c)).py_err(py)?;
    }
    if let Some(g) = &opts.grid {
        let (r, c) = parse_grid(g).py_err(py)?;
        if r * c < fig.panels.len() {
            return Err(invalid(
                py,
                format!("a {r}x{c} grid cannot hold {} panels", fig.panels.len()),
            ));
        }
        fig.grid = (r, c);
    }
    Ok(fig)
}
