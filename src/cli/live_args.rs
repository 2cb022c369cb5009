//! Arguments shared by the live front ends (`watch`, `show`, `serve`).

use actmap::live::{Autoscale, SourceOptions, SourceSpec, StoreOptions, ViewOptions, WireFormat};
use actmap::scale::{Aggregate, Colormap, NormKind};

/// Where live rows come from and how many are kept.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// `-` (stdin), `tcp://HOST:PORT`, `unix:///PATH`, or a file: `.npy`
    /// re-read whenever it is replaced, `.csv/.tsv/.txt/.f32` followed as
    /// they grow.
    pub source: String,
    /// Values per row (needed for raw .f32 files; checks every other source).
    #[arg(long)]
    pub cols: Option<usize>,
    /// Wire format: auto (binary frames start with AMAP), text or binary.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Rows kept per channel before pairs are merged (memory stays fixed).
    #[arg(long, default_value_t = 2048)]
    pub history: usize,
}

impl SourceArgs {
    /// The parsed source, store options and source options.
    pub fn parse(&self, aggregate: Aggregate) -> anyhow::Result<(SourceSpec, StoreOptions, SourceOptions)> {
        let spec = SourceSpec::parse(&self.source)?;
        let store = StoreOptions {
            capacity_rows: self.history,
            aggregate,
            expected_cols: self.cols,
        };
        let source = SourceOptions {
            format: self.format.parse::<WireFormat>()?,
            cols: self.cols,
        };
        Ok((spec, store, source))
    }
}

/// How a live figure is drawn (the keys change it afterwards).
#[derive(clap::Args, Debug, Clone)]
pub struct FigureArgs {
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
    /// Figure title (default: the source).
    #[arg(long)]
    pub title: Option<String>,
    /// One line per frame on stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

impl FigureArgs {
    /// The view options, titled `default_title` unless --title is given.
    pub fn view_options(&self, default_title: String) -> anyhow::Result<ViewOptions> {
        let autoscale = match &self.autoscale {
            Some(a) => Autoscale::parse(a)?,
            None if self.vmin.is_some() && self.vmax.is_some() => Autoscale::Fixed,
            None => Autoscale::Running,
        };
        if autoscale == Autoscale::Fixed && (self.vmin.is_none() || self.vmax.is_none()) {
            anyhow::bail!("--autoscale fixed needs both --vmin and --vmax");
        }
        Ok(ViewOptions {
            title: Some(self.title.clone().unwrap_or(default_title)),
            colormap: self.cmap.parse::<Colormap>()?,
            norm: NormKind::parse(&self.norm)?,
            vmin: self.vmin,
            vmax: self.vmax,
            autoscale,
            aggregate: Aggregate::parse(&self.agg)?,
        })
    }
}
