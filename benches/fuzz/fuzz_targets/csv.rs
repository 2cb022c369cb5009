#![no_main]
//! CSV/TSV: the in-memory parser (one thread and three must agree) and the
//! streaming row reader. The first byte picks the options.

use std::path::Path;

use actmap::input::RowSource;
use actmap::input::csv::{CsvOptions, CsvRowReader, parse_csv, parse_csv_threads};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, text)) = data.split_first() else { return };
    let delimiter = [None, Some(b','), Some(b'\t'), Some(b';'), Some(b' ')][(pick % 5) as usize];
    let tri = |b: u8| [None, Some(false), Some(true)][(b % 3) as usize];
    let opts = CsvOptions {
        delimiter,
        header: tri(pick >> 3),
        row_labels: tri(pick >> 5),
    };
    let one = parse_csv(text, Path::new("f.csv"), &opts);
    let three = parse_csv_threads(text, Path::new("f.csv"), &opts, 3);
    assert_eq!(one.is_ok(), three.is_ok());
    if let (Ok(a), Ok(b)) = (&one, &three) {
        assert_eq!(a.shape, b.shape);
        assert!(a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    let p = common::scratch("f.csv", text);
    if let Ok(Some(mut r)) = CsvRowReader::open(&p, &opts) {
        let mut out = Vec::new();
        while let Ok(n) = r.read_rows(16, &mut out) {
            if n == 0 {
                break;
            }
        }
    }
});
