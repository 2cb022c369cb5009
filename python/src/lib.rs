//! `actmap._actmap`: the native half of the `actmap` Python package, a
//! thin layer over the `actmap` crate. The Python half (`python/actmap/`)
//! turns torch tensors, lists and anything with `__array__` into float32
//! numpy arrays and keyword values into plain Python values; this module
//! deserializes the keywords into the library's one definition of the
//! options ([`actmap::options::FigureOptions`], also the CLI's flags),
//! builds the figure as `actmap render` does and renders it on the one GPU
//! context of the process, with the GIL released.

mod compare;
mod convert;
mod errors;
mod figure;
mod monitor;
mod run;
#[cfg(feature = "serve")]
mod serve;

// The `actmap` command (`python -m actmap`, and the console script pip
// installs): the same sources as the binary's CLI, compiled in here, so
// the package needs no second executable and the CLI crate no pyo3.
#[path = "../../src/cli/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod cli;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Run the `actmap` command line `argv` (program name first) in this
/// process, with the GIL released; returns the exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    i32::from(py.detach(|| cli::run(argv)))
}

/// Every figure option: `(keyword, CLI flag, value name or None, help,
/// TOML key)`, in the CLI's order: what `help(actmap.render)` and the
/// README's keyword table are made from.
#[pyfunction]
fn options() -> Vec<(String, String, Option<String>, String, String)> {
    use actmap::options::{TOML_KEYS, option_names};
    option_names()
        .into_iter()
        .map(|o| {
            let toml = match TOML_KEYS.iter().find(|(n, _)| *n == o.name) {
                Some((_, Some(t))) => t.to_string(),
                Some((_, None)) => String::new(),
                None => o.name.clone(),
            };
            (o.name, o.flag, o.value, o.help, toml)
        })
        .collect()
}

/// Check a keyword dict against the option definition (what `render`
/// does first), raising as `render` would.
#[pyfunction]
#[pyo3(signature = (kwargs, func = "render"))]
fn check_options(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>, func: &str) -> PyResult<()> {
    convert::figure_options(py, kwargs, func).map(|_| ())
}

/// Where rank `rank` of a distributed job writes (`root/rank<N>`), making
/// `root` a distributed run first when it is new
/// ([`actmap::runlog::rank_dir`]).
#[pyfunction]
fn rank_dir(py: Python<'_>, root: std::path::PathBuf, rank: u32) -> PyResult<String> {
    use errors::IntoPy;
    let dir = py.detach(|| actmap::runlog::rank_dir(&root, rank)).py_err(py)?;
    Ok(dir.to_string_lossy().into_owned())
}

#[pymodule]
fn _actmap(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<figure::Figure>()?;
    m.add_class::<run::RunLog>()?;
    m.add_class::<monitor::LiveRun>()?;
    #[cfg(feature = "serve")]
    m.add_class::<serve::Server>()?;
    m.add_function(wrap_pyfunction!(figure::render, m)?)?;
    m.add_function(wrap_pyfunction!(figure::adapter, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(options, m)?)?;
    m.add_function(wrap_pyfunction!(check_options, m)?)?;
    m.add_function(wrap_pyfunction!(rank_dir, m)?)?;
    m.add_function(wrap_pyfunction!(compare::compare, m)?)?;
    m.add_function(wrap_pyfunction!(compare::run_info, m)?)?;
    m.add_function(wrap_pyfunction!(compare::collection, m)?)?;
    Ok(())
}
