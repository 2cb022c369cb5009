//! `actmap info FILE`: what is in a file: every tensor's dtype, shape and
//! statistics, and safetensors metadata.

use std::path::{Path, PathBuf};

use actmap::input::{self, LoadOptions, safetensors::SafetensorsFile};
use actmap::{Stats, Tensor};
use clap::Args;

use super::json;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The file (.npy, .npz, .safetensors, .csv, .tsv).
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

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
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
