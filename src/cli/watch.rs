//! `actmap watch SOURCE` and `actmap show FILE`: the live window.

use std::path::PathBuf;
use std::sync::Arc;

use actmap::input::{self, GridSelect, LoadOptions};
use actmap::live::store::MAX_STORE_VALUES;
use actmap::live::{LiveStore, StoreOptions, spawn_source};
use actmap::window::{self, WindowOptions};
use anyhow::Context;

use super::live_args::{FigureArgs, SourceArgs};

/// How the window draws (shared by `watch` and `show`).
#[derive(clap::Args, Debug, Clone)]
pub struct ViewArgs {
    #[command(flatten)]
    figure: FigureArgs,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Directory for PNGs saved with `s`.
    #[arg(long, default_value = ".")]
    save_dir: PathBuf,
}

/// Arguments of `actmap watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    view: ViewArgs,
}

/// Arguments of `actmap show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// A grid file (.npy, .npz, .safetensors, .csv, .tsv).
    file: PathBuf,
    /// Pick a slice of an N-d tensor (as for `actmap render`).
    #[arg(long, value_delimiter = ',')]
    index: Vec<usize>,
    /// Swap rows and columns.
    #[arg(long)]
    transpose: bool,
    /// Column labels (tokens): a .txt file (one a line), a .json list or a comma-separated list.
    #[arg(long, value_name = "FILE|LIST")]
    xticklabels: Option<String>,
    /// Row labels (tokens): a .txt file, a .json list or a comma-separated list.
    #[arg(long, value_name = "FILE|LIST")]
    yticklabels: Option<String>,
    #[command(flatten)]
    view: ViewArgs,
}

fn window_options(v: &ViewArgs, default_title: String) -> anyhow::Result<WindowOptions> {
    let (width, height) = super::render::parse_size(&v.size)?;
    let view = v.figure.view_options(default_title)?;
    let title = view.title.clone().unwrap_or_default();
    Ok(WindowOptions {
        view,
        width,
        height,
        title: format!("actmap — {title}"),
        save_dir: v.save_dir.clone(),
        verbose: v.figure.verbose,
    })
}

pub fn watch(a: WatchArgs) -> anyhow::Result<()> {
    window::check_display()?;
    let mut opts = window_options(&a.view, a.source.source.clone())?;
    let (spec, store_opts, source_opts) = a.source.parse(opts.view.aggregate)?;
    // Several runs compare on one colour scale.
    opts.view.shared_scale |= matches!(
        spec,
        actmap::live::SourceSpec::Runs { .. } | actmap::live::SourceSpec::Ranks(_)
    );
    let store = Arc::new(LiveStore::new(store_opts)?);
    let recorder = a.source.attach_recorder(&spec, &store)?;
    if recorder.is_some() {
        // Ctrl-C closes the window, and the log is flushed.
        let s2 = store.clone();
        let _ = ctrlc::set_handler(move || s2.request_close());
    }
    let handle = spawn_source(&spec, &source_opts, store.clone())?;
    if let Some(addr) = handle.local_addr() {
        eprintln!("listening on tcp://{addr}");
    }
    let result = window::run(store.clone(), opts);
    // Closing the window closes sockets and stops file watching; a stdin
    // reader is left to the process exit (the writer then sees a closed pipe).
    handle.stop();
    a.source.finish_recorder(&store, recorder)?;
    Ok(result?)
}

pub fn show(a: ShowArgs) -> anyhow::Result<()> {
    window::check_display()?;
    let opts = window_options(&a.view, a.file.display().to_string())?;
    let select = GridSelect {
        index: a.index.clone(),
        transpose: a.transpose,
    };
    let grid = input::load_grid(&a.file, &LoadOptions::default(), &select)?;
    // Every row is kept unless the file is beyond the store's memory cap,
    // then pairs of rows are merged (spikes kept).
    let capacity = grid
        .rows()
        .min((MAX_STORE_VALUES / grid.cols().max(1)).max(2))
        .min(1 << 20);
    let store = Arc::new(LiveStore::new(StoreOptions {
        capacity_rows: capacity,
        aggregate: opts.view.aggregate,
        expected_cols: None,
        ..Default::default()
    })?);
    store
        .replace("", grid)
        .with_context(|| format!("showing {}", a.file.display()))?;
    let labels = |l: &Option<String>| -> anyhow::Result<Option<Arc<Vec<String>>>> {
        Ok(match l {
            Some(l) => Some(Arc::new(actmap::render::spec::load_labels(
                &actmap::options::LabelsSpec::from_arg(l),
                std::path::Path::new("."),
            )?)),
            None => None,
        })
    };
    store.set_labels(
        "",
        actmap::live::AxisLabels {
            x: labels(&a.xticklabels)?,
            y: labels(&a.yticklabels)?,
            ..Default::default()
        },
    )?;
    store.set_status(format!("{}", a.file.display()));
    Ok(window::run(store, opts)?)
}
