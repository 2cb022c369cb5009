//! `actmap watch SOURCE` and `actmap show FILE`: the live window.

use std::path::PathBuf;
use std::sync::Arc;

use actmap::input::{self, GridSelect, LoadOptions};
use actmap::live::store::MAX_STORE_VALUES;
use actmap::live::{
    Autoscale, LiveStore, SourceOptions, SourceSpec, StoreOptions, ViewOptions, WireFormat, spawn_source,
};
use actmap::runlog::{RunWriter, WriterOptions};
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
    /// `-` (stdin), `tcp://HOST:PORT`, `unix:///PATH`, a run log directory
    /// (followed as it grows), or a file: `.npy` re-read whenever it is
    /// replaced, `.csv/.tsv/.txt/.f32` followed as they grow.
    source: String,
    /// Values per row: N for rows without a channel name (needed for raw
    /// .f32 files), NAME=N for a named channel; comma-separated.
    #[arg(long, value_delimiter = ',')]
    cols: Vec<String>,
    /// Also record everything the window receives to this run log.
    #[arg(long, value_name = "RUN")]
    record: Option<PathBuf>,
    /// With --record: longest time, in seconds, records wait before they
    /// are written.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    flush_every: f64,
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
    let (plain, named) = super::record::parse_cols(&a.cols)?;
    let store = Arc::new(LiveStore::new(StoreOptions {
        capacity_rows: a.history,
        aggregate: opts.view.aggregate,
        expected_cols: plain,
        channel_cols: named,
        ..Default::default()
    })?);
    let recorder = match &a.record {
        Some(run) => {
            if matches!(&spec, SourceSpec::RunLog(p) if p == run) {
                anyhow::bail!("{}: cannot record a run log into itself", run.display());
            }
            if !(a.flush_every.is_finite() && a.flush_every > 0.0 && a.flush_every <= 3600.0) {
                anyhow::bail!(
                    "--flush-every must be between 0 and 3600 seconds, got {}",
                    a.flush_every
                );
            }
            let w = RunWriter::open(
                run,
                WriterOptions {
                    flush_every: std::time::Duration::from_secs_f64(a.flush_every),
                    ..Default::default()
                },
            )?;
            if let Some(pid) = w.took_over_lock() {
                eprintln!(
                    "{}: took over the lock of pid {pid}, which is no longer running",
                    run.display()
                );
            }
            let w = Arc::new(w);
            store.set_recorder(Some(w.clone()));
            // Ctrl-C closes the window, and the log is flushed.
            let s2 = store.clone();
            let _ = ctrlc::set_handler(move || s2.request_close());
            Some(w)
        }
        None => None,
    };
    let source_opts = SourceOptions {
        format: a.format.parse::<WireFormat>()?,
        cols: plain,
    };
    let handle = spawn_source(&spec, &source_opts, store.clone())?;
    if let Some(addr) = handle.local_addr() {
        eprintln!("listening on tcp://{addr}");
    }
    let result = window::run(store.clone(), opts);
    // Closing the window closes sockets and stops file watching; a stdin
    // reader is left to the process exit (the writer then sees a closed pipe).
    handle.stop();
    store.set_recorder(None);
    if let (Some(w), Some(run)) = (recorder, &a.record) {
        w.close()
            .with_context(|| format!("finishing {}", run.display()))?;
    }
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
