//! `actmap info FILE`: what is in a file.

use std::path::PathBuf;

use actmap::input::{self, LoadOptions};
use actmap::{Stats, Tensor};
use clap::Args;

use super::json;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The file (.npy, .csv, .tsv).
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

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let t: Tensor = input::load(&args.file, &LoadOptions::default())?;
    let s = Stats::of(&t.data);
    let name = args.file.display().to_string();
    if args.json {
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        println!(
            "{{\"file\": {}, \"dtype\": {}, \"shape\": [{}], \"cells\": {}, \"finite\": {}, \"min\": {}, \"max\": {}, \"mean\": {}, \"nan\": {}, \"pos_inf\": {}, \"neg_inf\": {}}}",
            json::string(&name),
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
        );
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
    Ok(())
}
