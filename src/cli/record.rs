//! `actmap record SOURCE -o RUN`: a live stream into a run log, with no
//! window: rows with their steps are appended until the source ends or the
//! recorder is stopped (Ctrl-C, SIGTERM), and flushed at least every
//! `--flush-every` seconds.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actmap::live::{
    LiveStore, RankFilter, SourceOptions, SourceSpec, StoreOptions, WireFormat, spawn_source,
};
use actmap::runlog::{RunWriter, WriterOptions};
use anyhow::Context;

/// Set by Ctrl-C or SIGTERM: stop, flush, exit.
static STOP: AtomicBool = AtomicBool::new(false);

/// Arguments of `actmap record`.
#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// `-` (stdin), `tcp://HOST:PORT`, `unix:///PATH`, or a file followed as
    /// it grows (.csv/.tsv/.txt/.f32).
    source: String,
    /// The run log directory (created; an existing run is appended to).
    #[arg(short, long)]
    out: PathBuf,
    /// Values per row: N for rows without a channel name (and raw .f32
    /// files), NAME=N for a named channel; comma-separated.
    #[arg(long, value_delimiter = ',')]
    cols: Vec<String>,
    /// Wire format: auto (binary frames start with AMAP), text or binary.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Longest time, in seconds, records wait before they are written and
    /// visible (what a killed recorder can lose).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    flush_every: f64,
    /// fsync every flush (survives a power cut; slower).
    #[arg(long)]
    sync: bool,
    /// No progress output (problems still print).
    #[arg(short, long)]
    quiet: bool,
    /// This recorder is rank N of a distributed job: it writes RUN/rankN/
    /// (the run's other ranks write theirs beside it).
    #[arg(long, value_name = "N")]
    rank: Option<u32>,
}

/// The one line a recorder stops with when its run log's writer failed
/// (a full disk, a file the system refused).
pub fn stopped_line(run: &std::path::Path, e: &actmap::Error) -> String {
    format!(
        "recording to {} stopped: {e}; the records flushed before it are kept",
        run.display()
    )
}

/// Widths from `--cols`: the unnamed channel's, and named channels'.
pub type Widths = (Option<usize>, Vec<(String, usize)>);

/// `--cols` values: `N` (the unnamed channel) and `NAME=N`.
pub fn parse_cols(cols: &[String]) -> anyhow::Result<Widths> {
    let mut plain = None;
    let mut named = Vec::new();
    for c in cols {
        let bad = || {
            anyhow::anyhow!(
                "bad --cols '{c}': expected N or NAME=N (N at least 1), e.g. --cols 4096 or --cols layers=12,acts=4096"
            )
        };
        let (name, n) = match c.rsplit_once('=') {
            Some((name, n)) => (Some(name.trim()), n),
            None => (None, c.as_str()),
        };
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        match name {
            Some("") => return Err(bad()),
            Some(name) => named.push((name.to_string(), n)),
            None => plain = Some(n),
        }
    }
    Ok((plain, named))
}

pub fn run(a: RecordArgs) -> anyhow::Result<()> {
    let spec = SourceSpec::parse(&a.source)?;
    if matches!(spec, SourceSpec::Runs { .. }) {
        anyhow::bail!(
            "{}: a directory of runs; record reads one stream or run log into one run",
            a.source
        );
    }
    if let SourceSpec::RunLog(p) = &spec {
        if !p.is_dir() {
            anyhow::bail!(
                "{}: no such file; record reads -, tcp://HOST:PORT, unix:PATH or a growing .csv/.tsv/.txt/.f32 file",
                a.source
            );
        }
        let same = |x: &std::path::Path| std::fs::canonicalize(x).ok();
        if same(p).is_some() && same(p) == same(&a.out) {
            anyhow::bail!("{}: cannot record a run log into itself", a.out.display());
        }
    }
    if !(a.flush_every.is_finite() && a.flush_every > 0.0 && a.flush_every <= 3600.0) {
        anyhow::bail!(
            "--flush-every must be between 0 and 3600 seconds, got {}",
            a.flush_every
        );
    }
    let (plain, named) = parse_cols(&a.cols)?;
    let out = match a.rank {
        Some(r) => actmap::runlog::rank_dir(&a.out, r)?,
        None => a.out.clone(),
    };
    let writer = RunWriter::open(
        &out,
        WriterOptions {
            flush_every: Duration::from_secs_f64(a.flush_every),
            sync: a.sync,
            ..Default::default()
        },
    )?;
    if let Some(pid) = writer.took_over_lock() {
        eprintln!(
            "{}: took over the lock left by {pid}, which is no longer running",
            a.out.display()
        );
    }
    let writer = Arc::new(writer);
    let store = Arc::new(LiveStore::new(StoreOptions {
        expected_cols: plain,
        channel_cols: named,
        keep_rows: false,
        // Frames that say their rank go to that rank's recorder only.
        ranks: match a.rank {
            Some(r) => RankFilter::Only(r),
            None => RankFilter::Single,
        },
        ..Default::default()
    })?);
    store.set_recorder(Some(writer.clone()));
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let handle = spawn_source(
        &spec,
        &SourceOptions {
            format: a.format.parse::<WireFormat>()?,
            cols: plain,
        },
        store.clone(),
    )?;
    if let Some(addr) = handle.local_addr() {
        eprintln!("listening on tcp://{addr}");
    }
    if !a.quiet {
        eprintln!("recording {} to {}", handle.name(), a.out.display());
    }
    let start = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let mut last_report = Instant::now();
    let mut problems_seen = 0u64;
    let mut version = 0;
    let totals = |snap: &actmap::live::StoreSnapshot| {
        snap.channels.iter().fold((0u64, 0u64), |(r, b), c| {
            (r + c.total_rows, b + c.total_rows * c.cols as u64 * 4)
        })
    };
    let ended = loop {
        if STOP.load(Ordering::SeqCst) {
            break false;
        }
        if let Some(e) = writer.failure() {
            handle.stop();
            store.set_recorder(None);
            if terminal && !a.quiet {
                eprintln!();
            }
            anyhow::bail!("{}", stopped_line(&a.out, &e));
        }
        version = store.wait_for_change(version, Duration::from_millis(200));
        let snap = store.snapshot();
        // New problems, as they come (the store keeps the latest 20).
        if snap.problem_count > problems_seen {
            let new = (snap.problem_count - problems_seen) as usize;
            for p in snap.problems.iter().skip(snap.problems.len().saturating_sub(new)) {
                eprintln!("actmap: {p}");
            }
            problems_seen = snap.problem_count;
        }
        if !a.quiet && last_report.elapsed() >= Duration::from_secs(2) {
            let (rows, bytes) = totals(&snap);
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            let line = format!(
                "{rows} records in {} channels, {:.1} MB ({:.1} MB/s) · {}",
                snap.channels.len(),
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / secs,
                snap.status
            );
            if terminal {
                eprint!("\r\x1b[K{line}");
            } else {
                eprintln!("{line}");
            }
            last_report = Instant::now();
        }
        if snap.ended {
            break true;
        }
    };
    handle.stop();
    store.set_recorder(None);
    let snap = store.snapshot();
    writer
        .close()
        .with_context(|| format!("finishing {}", a.out.display()))?;
    if terminal && !a.quiet {
        eprintln!();
    }
    let (rows, bytes) = totals(&snap);
    if !a.quiet {
        eprintln!(
            "recorded {rows} records ({:.1} MB) in {} channels to {} in {:.1} s{}",
            bytes as f64 / 1e6,
            snap.channels.len(),
            a.out.display(),
            start.elapsed().as_secs_f64(),
            if ended { "" } else { " (stopped)" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cols_lists() {
        let s = |v: &[&str]| parse_cols(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&["4096"]).unwrap(), (Some(4096), vec![]));
        assert_eq!(
            s(&["layers=12", "acts=4096", "8"]).unwrap(),
            (Some(8), vec![("layers".into(), 12), ("acts".into(), 4096)])
        );
        for bad in [&["0"][..], &["x"], &["=3"], &["a=0"], &["a=b"]] {
            assert!(s(bad).is_err(), "{bad:?}");
        }
    }
}
