//! Arguments shared by the live front ends (`watch`, `show`, `serve`).

use std::path::PathBuf;
use std::sync::Arc;

use actmap::live::{Autoscale, LiveStore, SourceOptions, SourceSpec, StoreOptions, ViewOptions, WireFormat};
use actmap::runlog::{RunWriter, WriterOptions};
use actmap::scale::{Aggregate, Colormap, NormKind};
use anyhow::Context;

/// Where live rows come from and how many are kept.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// `-` (stdin), `tcp://HOST:PORT`, `unix:///PATH`, a run log directory
    /// (followed as it grows), or a file: `.npy` re-read whenever it is
    /// replaced, `.csv/.tsv/.txt/.f32` followed as they grow.
    pub source: String,
    /// More run logs (or directories of runs) to show beside the first:
    /// `watch runs/a runs/b`; each run's channels are named `run/channel`.
    #[arg(value_name = "RUN")]
    pub more: Vec<String>,
    /// Directories of runs: only the runs whose names match (wildcards *
    /// and ?), comma-separated.
    #[arg(long, value_name = "PAT", value_delimiter = ',')]
    pub runs: Vec<String>,
    /// Values per row: N for rows without a channel name (needed for raw
    /// .f32 files), NAME=N for a named channel; comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub cols: Vec<String>,
    /// Also record everything received to this run log.
    #[arg(long, value_name = "RUN")]
    pub record: Option<PathBuf>,
    /// With --record: longest time, in seconds, records wait before they
    /// are written.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub flush_every: f64,
    /// Wire format: auto (binary frames start with AMAP), text or binary.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Rows kept per channel before pairs are merged (memory stays fixed).
    #[arg(long, default_value_t = 2048)]
    pub history: usize,
    /// A distributed run log (RUN/rank<N>/): the rank to follow (default:
    /// the lowest), or `all`: every rank side by side on one colour scale.
    #[arg(long, value_name = "N|all")]
    pub rank: Option<String>,
}

impl SourceArgs {
    /// The parsed source, store options and source options.
    pub fn parse(&self, aggregate: Aggregate) -> anyhow::Result<(SourceSpec, StoreOptions, SourceOptions)> {
        let mut spec = SourceSpec::parse(&self.source)?;
        if !self.more.is_empty() {
            let mut paths = Vec::new();
            for s in std::iter::once(&self.source).chain(&self.more) {
                match SourceSpec::parse(s)? {
                    SourceSpec::RunLog(p) => paths.push(p),
                    SourceSpec::Runs { paths: p, .. } => paths.extend(p),
                    other => {
                        anyhow::bail!("{other}: several sources must all be run logs or directories of runs")
                    }
                }
            }
            spec = SourceSpec::Runs {
                paths,
                patterns: Vec::new(),
            };
        }
        if let SourceSpec::Runs { patterns, .. } = &mut spec {
            patterns.clone_from(&self.runs);
        } else if !self.runs.is_empty() {
            anyhow::bail!(
                "--runs picks runs of a directory of runs; {} is not one",
                self.source
            );
        }
        match self.rank.as_deref() {
            None => {}
            Some(_) if matches!(spec, SourceSpec::Runs { .. }) => {
                anyhow::bail!("--rank follows the ranks of one distributed run; several runs given");
            }
            Some("all") => {
                let SourceSpec::RunLog(run) = &spec else {
                    anyhow::bail!(
                        "--rank all shows the ranks of a distributed run log; {spec} is not a run log"
                    );
                };
                if run.exists() && actmap::runlog::ranks(run)?.is_none() {
                    anyhow::bail!(
                        "{}: --rank all: a single-process run log (rank 0 only)",
                        run.display()
                    );
                }
                spec = SourceSpec::Ranks(run.clone());
            }
            Some(n) => {
                let rank: u32 = n
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--rank takes a rank (0, 1, ...) or 'all', got '{n}'"))?;
                spec = spec.with_rank(rank)?;
            }
        }
        let (plain, named) = super::record::parse_cols(&self.cols)?;
        let store = StoreOptions {
            capacity_rows: self.history,
            aggregate,
            expected_cols: plain,
            channel_cols: named,
            ..Default::default()
        };
        let source = SourceOptions {
            format: self.format.parse::<WireFormat>()?,
            cols: plain,
        };
        Ok((spec, store, source))
    }

    /// With --record: open the run log and attach it to `store`, which then
    /// records everything it accepts.
    pub fn attach_recorder(
        &self,
        spec: &SourceSpec,
        store: &LiveStore,
    ) -> anyhow::Result<Option<Arc<RunWriter>>> {
        let Some(run) = &self.record else {
            return Ok(None);
        };
        if matches!(spec, SourceSpec::RunLog(p) if p == run) {
            anyhow::bail!("{}: cannot record a run log into itself", run.display());
        }
        if !(self.flush_every.is_finite() && self.flush_every > 0.0 && self.flush_every <= 3600.0) {
            anyhow::bail!(
                "--flush-every must be between 0 and 3600 seconds, got {}",
                self.flush_every
            );
        }
        let w = RunWriter::open(
            run,
            WriterOptions {
                flush_every: std::time::Duration::from_secs_f64(self.flush_every),
                ..Default::default()
            },
        )?;
        if let Some(pid) = w.took_over_lock() {
            eprintln!(
                "{}: took over the lock left by {pid}, which is no longer running",
                run.display()
            );
        }
        let w = Arc::new(w);
        store.set_recorder(Some(w.clone()));
        // A window or a server has no loop of its own that could stop on a
        // failed write: a watchdog ends the process with the one line.
        let weak = Arc::downgrade(&w);
        let run = run.clone();
        let _ = std::thread::Builder::new()
            .name("actmap recorder watchdog".into())
            .spawn(move || {
                while let Some(w) = weak.upgrade() {
                    if let Some(e) = w.failure() {
                        eprintln!("actmap: error: {}", super::record::stopped_line(&run, &e));
                        std::process::exit(1);
                    }
                    drop(w);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        Ok(Some(w))
    }

    /// Detach and close the recorder (everything received is written).
    pub fn finish_recorder(&self, store: &LiveStore, recorder: Option<Arc<RunWriter>>) -> anyhow::Result<()> {
        store.set_recorder(None);
        if let (Some(w), Some(run)) = (recorder, &self.record) {
            w.close()
                .with_context(|| format!("finishing {}", run.display()))?;
        }
        Ok(())
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
    /// One colour scale (one colorbar) for every panel (`o` toggles; the
    /// default when several runs are shown).
    #[arg(long)]
    one_scale: bool,
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
            shared_scale: self.one_scale,
            hidden: Vec::new(),
            diff: false,
        })
    }
}
