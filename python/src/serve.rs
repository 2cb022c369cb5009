//! `actmap.serve(run)` and `Run.show()`'s native half: the browser view
//! of a run log (`actmap serve RUN`), served from this process on its own
//! threads (the HTTP server on a tokio thread, one render thread per
//! browser, a thread following the run log), drawing on the process's one
//! GPU context. Nothing here holds the GIL while it runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actmap::live::{LiveStore, SourceHandle, SourceSpec, StoreOptions, spawn_source};
use actmap::serve::{FrameFormat, ServeOptions, ServerHandle, is_loopback, serve_with};
use pyo3::prelude::*;

use crate::errors::{IntoPy, invalid};
use crate::figure::renderer;
use crate::monitor::view_options;

/// A running browser view of a run log.
#[pyclass(module = "actmap._actmap", name = "Server", frozen)]
pub struct Server {
    running: Mutex<Option<(ServerHandle, SourceHandle)>>,
    url: String,
    addr: SocketAddr,
}

#[pymethods]
impl Server {
    /// Serve the run log at `path` (it may not exist yet) on `bind`
    /// (`HOST:PORT`; port 0 picks a free one), with a fresh random token.
    #[new]
    #[pyo3(signature = (path, bind = "127.0.0.1:8787", cmap = "magma", norm = "linear", vmin = None, vmax = None, agg = "extreme", title = None, max_clients = 8, max_fps = 30.0, frame_format = "png", allow_hosts = Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        bind: &str,
        cmap: &str,
        norm: &str,
        vmin: Option<f32>,
        vmax: Option<f32>,
        agg: &str,
        title: Option<String>,
        max_clients: usize,
        max_fps: f64,
        frame_format: &str,
        allow_hosts: Vec<String>,
    ) -> PyResult<Self> {
        let bind: SocketAddr = bind.parse().map_err(|_| {
            invalid(
                py,
                format!("bind '{bind}' is not HOST:PORT with HOST an IP address (e.g. 127.0.0.1:8787)"),
            )
        })?;
        let opts = ServeOptions {
            bind,
            view: view_options(py, &path, cmap, norm, vmin, vmax, agg, title)?,
            max_clients,
            max_fps,
            frame_format: frame_format.parse::<FrameFormat>().py_err(py)?,
            allowed_hosts: allow_hosts,
            ..ServeOptions::default()
        };
        let renderer = renderer(py)?;
        let (server, source) = py
            .detach(|| -> actmap::Result<_> {
                let store = Arc::new(LiveStore::new(StoreOptions::default())?);
                let source = spawn_source(&SourceSpec::RunLog(path), &Default::default(), store.clone())?;
                let server = serve_with(store, opts, Some(renderer))?;
                Ok((server, source))
            })
            .py_err(py)?;
        Ok(Server {
            url: server.url().to_string(),
            addr: server.local_addr(),
            running: Mutex::new(Some((server, source))),
        })
    }

    /// The page's address with its token (`http://127.0.0.1:8787/?token=...`).
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The port listened on.
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Whether only this machine can connect (a loopback address).
    #[getter]
    fn loopback(&self) -> bool {
        is_loopback(&self.addr)
    }

    /// Whether it still serves.
    #[getter]
    fn running(&self) -> bool {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Browsers watching now.
    #[getter]
    fn clients(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, |(s, _)| s.clients())
    }

    /// Stop serving: close every connection and stop following the run.
    fn stop(&self, py: Python<'_>) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((server, source)) = running {
            py.detach(move || {
                server.stop();
                source.stop();
            });
        }
    }
}
