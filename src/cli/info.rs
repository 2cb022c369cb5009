//! `actmap info FILE`: what is in a file: every tensor's dtype, shape and
//! statistics, and safetensors metadata; `actmap info RUN`: a run log's
//! channels, shapes, dtypes, records, step ranges and last writes.

use std::path::{Path, PathBuf};

use actmap::input::{self, LoadOptions, safetensors::SafetensorsFile};
use actmap::runlog::{ChannelInfo, RunReader};
use actmap::{Stats, Tensor};
use clap::Args;

use super::json;

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(1_700_000_003.5), "2023-11-14 22:13:23 UTC");
        assert_eq!(super::utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    }
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The file (.npy, .npz, .safetensors, .csv, .tsv), or a run log directory.
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{}", (v * 1e6).round() / 1e6)
    }
}

fn stats_json(t: &Tensor, s: &Stats) -> String {
    let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
    format!(
        "\"dtype\": {}, \"shape\": [{}], \"cells\": {}, \"finite\": {}, \"min\": {}, \"max\": {}, \"mean\": {}, \"nan\": {}, \"pos_inf\": {}, \"neg_inf\": {}",
        json::string(t.dtype.name()),
        shape.join(", "),
        s.count,
        s.finite,
        json::number(s.min as f64),
        json::number(s.max as f64),
        json::number(s.mean),
        s.nan,
        s.pos_inf,
        s.neg_inf
    )
}

fn metadata(path: &Path) -> Vec<(String, String)> {
    let is_st = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    if is_st {
        SafetensorsFile::open(path)
            .map(|f| f.metadata)
            .unwrap_or_default()
    } else {
        Vec::new()
    }
}

pub use actmap::runlog::utc;

fn ago(secs: f64) -> String {
    let d = (actmap::runlog::now() - secs).max(0.0);
    match d {
        d if d < 120.0 => format!("{d:.0} s ago"),
        d if d < 7200.0 => format!("{:.0} min ago", d / 60.0),
        d if d < 172800.0 => format!("{:.0} h ago", d / 3600.0),
        d => format!("{:.0} days ago", d / 86400.0),
    }
}

/// A collection (a directory of runs): one line per run.
fn collection(args: &InfoArgs, runs: &[std::path::PathBuf]) -> anyhow::Result<()> {
    struct Row {
        name: String,
        ranks: Option<Vec<u32>>,
        channels: usize,
        records: u64,
        steps: Option<(i64, i64)>,
        last: Option<f64>,
        error: Option<String>,
    }
    let mut rows = Vec::new();
    for run in runs {
        let name = run
            .file_name()
            .map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into_owned());
        let ranks = actmap::runlog::ranks(run).ok().flatten();
        let mut row = Row {
            name,
            ranks,
            channels: 0,
            records: 0,
            steps: None,
            last: None,
            error: None,
        };
        match RunReader::open(run) {
            Ok(reader) => {
                for (_, i) in reader.info() {
                    let Ok(c) = i else { continue };
                    row.channels += 1;
                    row.records = row.records.max(c.rows);
                    let s = &c.summary;
                    if let Some((a, b)) = s.steps {
                        row.steps = Some(row.steps.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
                    }
                    if let Some(t) = s.last_write {
                        row.last = Some(row.last.map_or(t, |l: f64| l.max(t)));
                    }
                }
            }
            Err(e) => row.error = Some(e.to_string()),
        }
        rows.push(row);
    }
    let rank_list = |r: &Option<Vec<u32>>| {
        r.as_ref()
            .map(|r| r.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    };
    if args.json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"name\": {}, \"ranks\": {}, \"channels\": {}, \"records\": {}, \"steps\": {}, \"last_write\": {}, \"error\": {}}}",
                    json::string(&r.name),
                    rank_list(&r.ranks).map_or("null".into(), |l| format!("[{}]", l.join(", "))),
                    r.channels,
                    r.records,
                    r.steps.map_or("null".into(), |(a, b)| format!("[{a}, {b}]")),
                    r.last.map_or("null".into(), json::number),
                    r.error.as_deref().map_or("null".into(), json::string),
                )
            })
            .collect();
        println!(
            "{{\"collection\": {}, \"runs\": [{}]}}",
            json::string(&args.file.display().to_string()),
            items.join(", ")
        );
        return Ok(());
    }
    println!(
        "{}: {} run{}",
        args.file.display(),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                rank_list(&r.ranks).map_or("-".into(), |l| l.join(",")),
                r.error.as_ref().map_or(r.channels.to_string(), |_| "?".into()),
                r.steps.map_or("-".into(), |(a, b)| format!("{a} .. {b}")),
                r.error
                    .clone()
                    .unwrap_or_else(|| r.last.map_or("-".into(), |t| format!("{} ({})", utc(t), ago(t)))),
            ]
        })
        .collect();
    print_table(&["run", "ranks", "channels", "steps", "last write"], &table, &[2]);
    Ok(())
}

fn run_log(args: &InfoArgs) -> anyhow::Result<()> {
    let path = &args.file;
    if let Some(runs) = actmap::runlog::collection(path)? {
        return collection(args, &runs);
    }
    let Some(ranks) = actmap::runlog::ranks(path)? else {
        if let Some(js) = one_run(path, args.json)? {
            println!("{js}");
        }
        return Ok(());
    };
    let list = ranks.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ");
    if !args.json {
        println!(
            "{}: distributed run, ranks: {}",
            path.display(),
            if list.is_empty() { "none yet" } else { &list }
        );
    }
    let mut parts = Vec::new();
    let mut failed = 0;
    for r in &ranks {
        let dir = path.join(format!("rank{r}"));
        if !args.json {
            print!("rank {r}: ");
        }
        match one_run(&dir, args.json) {
            Ok(Some(js)) => parts.push(format!("{{\"rank\": {r}, \"run\": {js}}}")),
            Ok(None) => {}
            Err(e) => {
                failed += 1;
                eprintln!("actmap: error: rank {r}: {e:#}");
            }
        }
    }
    if args.json {
        println!(
            "{{\"run\": {}, \"ranks\": [{}]}}",
            json::string(&path.display().to_string()),
            parts.join(", ")
        );
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} ranks could not be read (listed above)",
            ranks.len()
        );
    }
    Ok(())
}

/// One run log's listing: printed as text, or returned as JSON.
fn one_run(path: &std::path::Path, as_json: bool) -> anyhow::Result<Option<String>> {
    let reader = RunReader::open(path)?;
    let info = reader.info();
    let name = path.display().to_string();
    // A live writer on any host sharing the filesystem (its lock is
    // tested, not its pid).
    let writer = actmap::runlog::lock_holder(path).ok().flatten();
    let failed = info.iter().filter(|(_, i)| i.is_err()).count();
    let mut js = None;
    if as_json {
        let channels: Vec<String> = info
            .iter()
            .map(|(n, i)| match i {
                Ok(c) => {
                    let shape: Vec<String> = c.record_shape.iter().map(|d| d.to_string()).collect();
                    let s = &c.summary;
                    let damage: Vec<String> = c
                        .damage
                        .iter()
                        .map(|d| {
                            format!(
                                "{{\"array\": {}, \"records\": [{}, {}], \"file\": {}, \"why\": {}}}",
                                json::string(&d.array),
                                d.rows.start,
                                d.rows.end,
                                json::string(&d.file.display().to_string()),
                                json::string(&d.why)
                            )
                        })
                        .collect();
                    format!(
                        "{{\"name\": {}, \"record_shape\": [{}], \"dtype\": {}, \"records\": {}, \"steps\": {}, \"distinct_steps\": {}, \"backwards\": {}, \"last_write\": {}, \"lost\": {}, \"columns\": {}, \"damage\": [{}], \"repaired\": [{}]}}",
                        json::string(n),
                        shape.join(", "),
                        json::string(&c.dtype),
                        c.rows,
                        s.steps.map_or("null".into(), |(a, b)| format!("[{a}, {b}]")),
                        s.distinct_steps,
                        s.backwards,
                        s.last_write.map_or("null".into(), json::number),
                        s.lost,
                        c.columns.as_ref().map_or("null".into(), |r| format!("[{}, {}]", r.start, r.end)),
                        damage.join(", "),
                        c.repaired.iter().map(|r| json::string(r)).collect::<Vec<_>>().join(", "),
                    )
                }
                Err(e) => format!("{{\"name\": {}, \"error\": {}}}", json::string(n), json::string(&e.to_string())),
            })
            .collect();
        js = Some(format!(
            "{{\"run\": {}, \"writer_pid\": {}, \"writer_host\": {}, \"channels\": [{}]}}",
            json::string(&name),
            writer.as_ref().map_or("null".into(), |o| o.pid.to_string()),
            writer.as_ref().map_or("null".into(), |o| json::string(&o.host)),
            channels.join(", ")
        ));
    } else {
        println!(
            "{name}: run log, {} channel{}{}",
            info.len(),
            if info.len() == 1 { "" } else { "s" },
            writer.map_or(String::new(), |o| format!(", being recorded by {o}"))
        );
        if !info.is_empty() {
            let rows: Vec<Vec<String>> = info
                .iter()
                .filter_map(|(n, i)| i.as_ref().ok().map(|c| (n, c)))
                .map(|(n, c)| {
                    let s = &c.summary;
                    let shape: Vec<String> = c.record_shape.iter().map(|d| d.to_string()).collect();
                    let steps = match s.steps {
                        Some((a, b)) => {
                            let mut t = format!("{a} .. {b} ({} steps)", s.distinct_steps);
                            if s.backwards > 0 {
                                t.push_str(&format!(", {} rewritten", s.backwards));
                            }
                            t
                        }
                        None => "-".into(),
                    };
                    vec![
                        n.clone(),
                        match &c.columns {
                            Some(r) => format!("[{}] (columns {}..{})", shape.join(", "), r.start, r.end),
                            None => format!("[{}]", shape.join(", ")),
                        },
                        c.dtype.clone(),
                        if s.lost > 0 {
                            format!("{} ({} lost)", c.rows, s.lost)
                        } else {
                            c.rows.to_string()
                        },
                        steps,
                        s.last_write
                            .map_or("-".into(), |t| format!("{} ({})", utc(t), ago(t))),
                    ]
                })
                .collect();
            print_table(
                &["channel", "shape", "dtype", "records", "steps", "last write"],
                &rows,
                &[3],
            );
        }
        print_damage(&reader, &info);
    }
    for (n, i) in &info {
        if let Err(e) = i {
            eprintln!("actmap: error: channel '{n}': {e}");
        }
    }
    if failed > 0 {
        if let Some(js) = js {
            println!("{js}");
        }
        anyhow::bail!(
            "{failed} of {} channels could not be read (listed above)",
            info.len()
        );
    }
    Ok(js)
}

/// A table under a heading row, two spaces in: every column padded to its
/// widest cell (those in `right` aligned right), the last left as it is.
fn print_table(head: &[&str], rows: &[Vec<String>], right: &[usize]) {
    let width = |k: usize| {
        rows.iter()
            .map(|r| r[k].chars().count())
            .chain([head[k].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (k, c) in cells.iter().enumerate() {
            out.push_str("  ");
            if k + 1 == cells.len() {
                out.push_str(c);
            } else if right.contains(&k) {
                out.push_str(&format!("{c:>w$}", w = widths[k]));
            } else {
                out.push_str(&format!("{c:w$}", w = widths[k]));
            }
        }
        out.trim_end().to_string()
    };
    println!("{}", line(head.to_vec()));
    for r in rows {
        println!("{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// The damaged files of a run, one line each, and what repair would do.
fn print_damage(reader: &RunReader, info: &[(String, actmap::Result<ChannelInfo>)]) {
    let mut lines = Vec::new();
    for d in reader.damage() {
        lines.push(format!("  {}: {}", d.file.display(), d.why));
    }
    let (mut lost, mut channels) = (0, 0);
    for (n, i) in info {
        let Ok(c) = i else { continue };
        if c.damage.is_empty() {
            continue;
        }
        channels += 1;
        lost += c.summary.lost;
        for d in &c.damage {
            let what = if d.rows.is_empty() {
                String::new()
            } else if d.array == actmap::runlog::TIME {
                format!(
                    " (write times of records {}..{} unknown)",
                    d.rows.start, d.rows.end
                )
            } else {
                format!(" (records {}..{} lost)", d.rows.start, d.rows.end)
            };
            lines.push(format!("  channel '{n}': {}: {}{what}", d.file.display(), d.why));
        }
    }
    let repaired: Vec<String> = info
        .iter()
        .filter_map(|(n, i)| i.as_ref().ok().map(|c| (n, c)))
        .flat_map(|(n, c)| c.repaired.iter().map(move |r| format!("  channel '{n}': {r}")))
        .collect();
    if !repaired.is_empty() {
        println!("repaired earlier:");
        for l in &repaired {
            println!("{l}");
        }
    }
    if lines.is_empty() {
        return;
    }
    println!("damaged:");
    for l in &lines {
        println!("{l}");
    }
    if lost == 0 {
        println!(
            "no records lost; `actmap repair {}` rewrites the damaged metadata",
            reader.path().display()
        );
        return;
    }
    println!(
        "{lost} records lost in {channels} channel{}; `actmap repair {}` rewrites the run keeping every readable record",
        if channels == 1 { "" } else { "s" },
        reader.path().display()
    );
}

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    // `actmap info RUN | head` ends quietly when `head` has read enough,
    // as `ls` and `cat` do, rather than panicking on the closed pipe.
    // (Only here: the commands that serve sockets keep SIGPIPE ignored.)
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any
    // thread is started has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    if args.file.is_dir() {
        return run_log(&args);
    }
    let path = &args.file;
    let name = path.display().to_string();
    let described = input::describe(path)?;
    let named = described.iter().any(|(n, _)| n.is_some());
    if !named {
        // One array: the flat record scripts already rely on.
        let t = input::load(path, &LoadOptions::default())?;
        let s = Stats::of(&t.data);
        if args.json {
            println!("{{\"file\": {}, {}}}", json::string(&name), stats_json(&t, &s));
        } else {
            println!("{name}");
            println!("  dtype   {}", t.dtype);
            println!("  shape   {}", t.shape_string());
            println!("  cells   {}", s.count);
            println!("  min     {}", fmt_num(s.min as f64));
            println!("  max     {}", fmt_num(s.max as f64));
            println!("  mean    {}", fmt_num(s.mean));
            println!("  NaN     {}", s.nan);
            println!("  +inf    {}", s.pos_inf);
            println!("  -inf    {}", s.neg_inf);
        }
        return Ok(());
    }
    let meta = metadata(path);
    let skipped = input::skipped_members(path);
    let mut rows = Vec::with_capacity(described.len());
    for (tname, _) in &described {
        // One tensor at a time: memory bounded by the largest.
        let t = input::load_tensor(path, tname.as_deref(), &LoadOptions::default())?;
        let s = Stats::of(&t.data);
        rows.push((
            tname.clone().unwrap_or_default(),
            t.dtype,
            t.shape_string(),
            s,
            stats_json(&t, &s),
        ));
    }
    if args.json {
        let meta: Vec<String> = meta
            .iter()
            .map(|(k, v)| format!("{}: {}", json::string(k), json::string(v)))
            .collect();
        let tensors: Vec<String> = rows
            .iter()
            .map(|r| format!("{{\"name\": {}, {}}}", json::string(&r.0), r.4))
            .collect();
        let skipped: Vec<String> = skipped.iter().map(|s| json::string(s)).collect();
        println!(
            "{{\"file\": {}, \"metadata\": {{{}}}, \"tensors\": [{}], \"skipped\": [{}]}}",
            json::string(&name),
            meta.join(", "),
            tensors.join(", "),
            skipped.join(", ")
        );
        return Ok(());
    }
    println!("{name}: {} tensors", rows.len());
    for (i, (k, v)) in meta.iter().enumerate() {
        println!("  {} {k} = {v}", if i == 0 { "metadata" } else { "        " });
    }
    let w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(4).max(4);
    let ws = rows.iter().map(|r| r.2.len()).max().unwrap_or(5).max(5);
    println!(
        "  {:w$}  {:8}  {:ws$}  {:>10}  {:>10}  {:>10}  {:>5}  {:>5}  {:>5}",
        "name", "dtype", "shape", "min", "max", "mean", "NaN", "+inf", "-inf"
    );
    for (k, dtype, shape, s, _) in &rows {
        println!(
            "  {k:w$}  {:8}  {shape:ws$}  {:>10}  {:>10}  {:>10}  {:>5}  {:>5}  {:>5}",
            dtype.name(),
            fmt_num(s.min as f64),
            fmt_num(s.max as f64),
            fmt_num(s.mean),
            s.nan,
            s.pos_inf,
            s.neg_inf
        );
    }
    for why in &skipped {
        println!("  {why}");
    }
    Ok(())
}
