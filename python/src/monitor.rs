//! `actmap.monitor(run, inline=True)`'s native half: a run log followed
//! into a live store, drawn as the window draws it (the same
//! [`LiveView`] figure, the same renderer), one frame per `frame` call.
//! No server and no thread: the Python side calls `frame` on a timer and
//! updates an IPython display handle with the result.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use actmap::live::follow::Follower;
use actmap::live::{LiveStore, LiveView, StoreOptions, ViewOptions};
use actmap::scale::{Aggregate, Colormap, NormKind};
use pyo3::prelude::*;

use crate::errors::{IntoPy, invalid};
use crate::figure::{Figure, renderer};

struct Inner {
    follower: Follower,
    view: LiveView,
    last_version: Option<u64>,
}

/// The live view's options from keywords: autoscale fixed when both
/// `vmin` and `vmax` are given, the run's path as the default title.
#[allow(clippy::too_many_arguments)]
pub(crate) fn view_options(
    py: Python<'_>,
    path: &std::path::Path,
    cmap: &str,
    norm: &str,
    vmin: Option<f32>,
    vmax: Option<f32>,
    agg: &str,
    title: Option<String>,
) -> PyResult<ViewOptions> {
    let autoscale = if vmin.is_some() && vmax.is_some() {
        actmap::live::Autoscale::Fixed
    } else {
        actmap::live::Autoscale::Running
    };
    Ok(ViewOptions {
        title: Some(title.unwrap_or_else(|| path.display().to_string())),
        colormap: cmap.parse::<Colormap>().py_err(py)?,
        norm: NormKind::parse(norm).py_err(py)?,
        vmin,
        vmax,
        autoscale,
        aggregate: Aggregate::parse(agg).py_err(py)?,
        shared_scale: false,
        hidden: Vec::new(),
        diff: false,
    })
}

/// A run log followed for inline frames.
#[pyclass(module = "actmap._actmap", name = "LiveRun", frozen)]
pub struct LiveRun {
    store: std::sync::Arc<LiveStore>,
    inner: Mutex<Inner>,
    size: (u32, u32),
}

#[pymethods]
impl LiveRun {
    /// Follow the run log at `path` (it may not exist yet), drawn at
    /// `size` with the window's view options.
    #[new]
    #[pyo3(signature = (path, size = (1000, 600), cmap = "magma", norm = "linear", vmin = None, vmax = None, agg = "extreme", title = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        size: (u32, u32),
        cmap: &str,
        norm: &str,
        vmin: Option<f32>,
        vmax: Option<f32>,
        agg: &str,
        title: Option<String>,
    ) -> PyResult<Self> {
        if size.0 == 0 || size.1 == 0 {
            return Err(invalid(py, format!("size {size:?} has a zero side")));
        }
        let view = view_options(py, &path, cmap, norm, vmin, vmax, agg, title)?;
        let store = std::sync::Arc::new(LiveStore::new(StoreOptions::default()).py_err(py)?);
        Ok(LiveRun {
            inner: Mutex::new(Inner {
                follower: Follower::new(&path, store.clone()),
                view: LiveView::new(view),
                last_version: None,
            }),
            store,
            size,
        })
    }

    /// Read what is new in the run log and draw it: a `Figure`, or `None`
    /// when nothing changed since the last frame (`force`: draw anyway) or
    /// no channel has records yet.
    #[pyo3(signature = (force = false))]
    fn frame(&self, py: Python<'_>, force: bool) -> PyResult<Option<Figure>> {
        let renderer = renderer(py)?;
        let rendered = py.detach(|| -> actmap::Result<_> {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            inner.follower.poll(&AtomicBool::new(false));
            let snap = self.store.snapshot();
            if !force && inner.last_version == Some(snap.version) {
                return Ok(None);
            }
            inner.last_version = Some(snap.version);
            let Some((fig, _)) = inner.view.figure(&snap, self.size.0, self.size.1)? else {
                return Ok(None);
            };
            renderer.render_figure(&fig).map(Some)
        });
        Ok(rendered.py_err(py)?.map(Figure::from_rendered))
    }

    /// What the follower last said (`following runs/exp1`, a problem).
    fn status(&self) -> String {
        let snap = self.store.snapshot();
        snap.problems.last().cloned().unwrap_or(snap.status)
    }
}
