//! `actmap watch SOURCE` and `actmap show FILE`: the live window.

use std::path::PathBuf;
use std::sync::Arc;

use actmap::input::{self, GridSelect, LoadOptions};
use actmap::live::store::MAX_STORE_VALUES;
use actmap::live::{
    Autoscale, LiveStore, SourceOptions, SourceSpec, StoreOptions, ViewOptions, WireFormat, spawn_source,
};
use actmap::scale::{Aggregate, Colormap, NormKind};
use actmap::window::{self, WindowOptions};
use anyhow::Context;

/// How the window draws (shared by `watch` and `show`).
#[derive(clap::Args, Debug, Clone)]
pub struct ViewArgs {
    /// Colormap (magma, viridis, RdBu_r, ...; `c` cycles in the window).
    #[arg(long, default_value = "magma")]
    cmap: String,
    /// Norm: linear, log, symlog or centered (`n` cycles).
    #[arg(long, default_value = "linear")]
    norm: String,
    /// Lower end of the colour range (with --vmax, a fixed range).
    #[arg(long, allow_hyphen_values = true)]
    vmin: Option<f32>,
    /// Upper end of the colour range.
    #[arg(long, allow_hyphen_values = true)]
    vmax: Option<f32>,
    /// How the range follows the data: running (min/max so far), robust[:P]
    /// (percentiles of the visible window) or fixed (--vmin/--vmax).
    #[arg(long)]
    autoscale: Option<String>,
    /// Aggregation when rows or columns outnumber pixels.
    #[arg(long, default_value = "extreme")]
    agg: String,
    /// Window size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Figure title (default: the source).
    #[arg(long)]
    title: Option<String>,
    /// Directory for PNGs saved with `s`.
    #[arg(long, default_value = ".")]
    save_dir: PathBuf,
    /// One line per frame on stderr.
    #[arg(short, long)]
    verbose: bool,
}

/// Arguments of `actmap watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// `-` (stdin), `tcp://HOST:PORT`, `unix:///PATH`, or a file: `.npy`
    /// re-read whenever it is replaced, `.csv/.tsv/.txt/.f32` followed as
    /// they grow.
    source: String,
    /// Values per row (needed for raw .f32 files; checks every other source).
    #[arg(long)]
    cols: Option<usize>,
    /// Wire format: auto (binary frames start with AMAP), text or binary.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Rows kept per channel before pairs are merged (memory stays fixed).
    #[arg(long, default_value_t = 2048)]
    history: usize,
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
    #[command(flatten)]
    view: ViewArgs,
}

fn window_options(v: &ViewArgs, default_title: String) -> anyhow::Result<WindowOptions> {
    let (width, height) = super::render::parse_size(&v.size)?;
    let autoscale = match &v.autoscale {
        Some(a) => Autoscale::parse(a)?,
        None if v.vmin.is_some() && v.vmax.is_some() => Autoscale::Fixed,
        None => Autoscale::Running,
    };
    if autoscale == Autoscale::Fixed && (v.vmin.is_none() || v.vmax.is_none()) {
        anyhow::bail!("--autoscale fixed needs both --vmin and --vmax");
    }
    let title = v.title.clone().unwrap_or(default_title);
    Ok(WindowOptions {
        view: ViewOptions {
            title: Some(title.clone()),
            colormap: v.cmap.parse::<Colormap>()?,
            norm: NormKind::parse(&v.norm)?,
            vmin: v.vmin,
            vmax: v.vmax,
            autoscale,
            aggregate: Aggregate::parse(&v.agg)?,
        },
        width,
        height,
        title: format!("actmap — {title}"),
        save_dir: v.save_dir.clone(),
        verbose: v.verbose,
    })
}

pub fn watch(a: WatchArgs) -> anyhow::Result<()> {
    window::check_display()?;
    let opts = window_options(&a.view, a.source.clone())?;
    let spec = SourceSpec::parse(&a.source)?;
    let store = Arc::new(LiveStore::new(StoreOptions {
        capacity_rows: a.history,
        aggregate: opts.view.aggregate,
        expected_cols: a.cols,
        ..Default::default()
    })?);
    let source_opts = SourceOptions {
        format: a.format.parse::<WireFormat>()?,
        cols: a.cols,
    };
    let handle = spawn_source(&spec, &source_opts, store.clone())?;
    if let Some(addr) = handle.local_addr() {
        eprintln!("listening on tcp://{addr}");
    }
    let result = window::run(store, opts);
    // Closing the window closes sockets and stops file watching; a stdin
    // reader is left to the process exit (the writer then sees a closed pipe).
    handle.stop();
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
    store.set_status(format!("{}", a.file.display()));
    Ok(window::run(store, opts)?)
}
