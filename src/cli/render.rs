//! `actmap render FILE -o OUT.png`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use actmap::input::{self, CsvOptions, GridSelect, LoadOptions};
use actmap::{Aggregate, Colormap, NormKind, NormSpec, RenderOptions, Renderer, parse_color};
use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Input file: .npy (any numeric dtype), .csv, .tsv.
    input: PathBuf,
    /// Output PNG (default: the input's name with .png, in the current
    /// directory). A directory puts <stem>.png inside it.
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Colormap: magma inferno plasma viridis cividis turbo Blues Greys RdBu
    /// coolwarm; append _r to reverse.
    #[arg(long, default_value = "magma")]
    cmap: String,
    /// Image size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1200x900")]
    size: String,
    /// Normalisation: linear, log, symlog, centered.
    #[arg(long, default_value = "linear")]
    norm: String,
    /// Lower colour limit (default: smallest finite value).
    #[arg(long, allow_hyphen_values = true)]
    vmin: Option<f32>,
    /// Upper colour limit (default: largest finite value).
    #[arg(long, allow_hyphen_values = true)]
    vmax: Option<f32>,
    /// Centre of a diverging map (implies --norm centered).
    #[arg(long, allow_hyphen_values = true)]
    vcenter: Option<f32>,
    /// Symlog: half-width of the linear region (default: 1% of the largest |limit|).
    #[arg(long)]
    linthresh: Option<f32>,
    /// Automatic limits from the (100-P)th..Pth percentiles, e.g. 99.
    #[arg(long, value_name = "P")]
    robust: Option<f32>,
    /// How cells sharing a pixel combine: extreme (keeps every spike), max, min, mean, nearest.
    #[arg(long, default_value = "extreme")]
    agg: String,
    /// Colour of NaN cells.
    #[arg(long, default_value = "#ff00ff")]
    nan_color: String,
    /// Colour of +inf cells.
    #[arg(long, default_value = "#ffffff")]
    posinf_color: String,
    /// Colour of -inf cells.
    #[arg(long, default_value = "#000000")]
    neginf_color: String,
    /// Data only, filling the whole image: no axes, no colorbar.
    #[arg(long)]
    bare: bool,
    /// Swap rows and columns.
    #[arg(long)]
    transpose: bool,
    /// Pick a 2-D slice of a 3-D or higher array: one index per leading axis, e.g. 3 or 3,0.
    #[arg(long, value_delimiter = ',')]
    index: Vec<usize>,
    /// CSV delimiter (default: tab for .tsv, else detected).
    #[arg(long)]
    delimiter: Option<char>,
    /// CSV: the first row is a header (default: detected).
    #[arg(long, value_name = "yes|no")]
    header: Option<YesNo>,
    /// CSV: the first column holds row labels (default: detected).
    #[arg(long, value_name = "yes|no")]
    row_labels: Option<YesNo>,
    /// Print the adapter, the colour range and timings.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum YesNo {
    Yes,
    No,
}

impl From<YesNo> for bool {
    fn from(v: YesNo) -> bool {
        matches!(v, YesNo::Yes)
    }
}

/// Parse `1920x1080`.
pub fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let bad = || anyhow::anyhow!("bad --size '{s}': expected WIDTHxHEIGHT, e.g. 1920x1080");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

fn output_path(input: &Path, out: Option<&Path>) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| "out".into());
    let mut file = PathBuf::from(stem);
    file.set_extension("png");
    match out {
        None => file,
        Some(o) if o.is_dir() || o.as_os_str().to_string_lossy().ends_with('/') => o.join(file),
        Some(o) => o.to_path_buf(),
    }
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let t0 = Instant::now();
    // Validate every option before touching the file or the GPU.
    let colormap: Colormap = a.cmap.parse()?;
    let (width, height) = parse_size(&a.size)?;
    let mut kind = NormKind::parse(&a.norm)?;
    match (&mut kind, a.vcenter) {
        (NormKind::Centered { vcenter }, Some(c)) => *vcenter = c,
        (NormKind::Linear, Some(c)) => kind = NormKind::Centered { vcenter: c },
        (_, Some(_)) => anyhow::bail!("--vcenter applies to --norm centered, not --norm {}", a.norm),
        _ => {}
    }
    if let NormKind::SymLog { linthresh, .. } = &mut kind {
        *linthresh = a.linthresh;
    } else if a.linthresh.is_some() {
        anyhow::bail!("--linthresh applies to --norm symlog");
    }
    let opts = RenderOptions {
        width,
        height,
        colormap,
        norm: NormSpec {
            kind,
            vmin: a.vmin,
            vmax: a.vmax,
            robust: a.robust,
        },
        aggregate: Aggregate::parse(&a.agg)?,
        nan_color: parse_color(&a.nan_color).context("--nan-color")?,
        pos_inf_color: parse_color(&a.posinf_color).context("--posinf-color")?,
        neg_inf_color: parse_color(&a.neginf_color).context("--neginf-color")?,
        ..Default::default()
    };
    let delimiter = match a.delimiter {
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => anyhow::bail!("--delimiter must be an ASCII character, got '{c}'"),
        None => None,
    };
    let load = LoadOptions {
        csv: CsvOptions {
            delimiter,
            header: a.header.map(Into::into),
            row_labels: a.row_labels.map(Into::into),
        },
    };
    let select = GridSelect {
        index: a.index.clone(),
        transpose: a.transpose,
    };
    let out = output_path(&a.input, a.out.as_deref());
    let grid = input::load_grid(&a.input, &load, &select)?;
    let t_load = t0.elapsed();
    let renderer = Renderer::new()?;
    let t_gpu = t0.elapsed();
    // Until figure layout lands, every render is the data alone (--bare).
    let _ = a.bare;
    let rendered = renderer.render_png(&grid, &opts, &out)?;
    if a.verbose {
        eprintln!("adapter: {}", renderer.context().describe());
        eprintln!(
            "grid {} x {}, colour range {} .. {} ({:?}), NaN {}, +inf {}, -inf {}",
            grid.rows(),
            grid.cols(),
            rendered.norm.vmin,
            rendered.norm.vmax,
            rendered.norm.transform,
            rendered.stats.nan,
            rendered.stats.pos_inf,
            rendered.stats.neg_inf
        );
        eprintln!(
            "load {:.0} ms, GPU init {:.0} ms, render+write {:.0} ms",
            t_load.as_secs_f64() * 1e3,
            (t_gpu - t_load).as_secs_f64() * 1e3,
            (t0.elapsed() - t_gpu).as_secs_f64() * 1e3
        );
    }
    eprintln!("wrote {}", out.display());
    Ok(())
}
