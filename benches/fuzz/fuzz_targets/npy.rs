#![no_main]
//! `.npy` from memory and from a file, whole and streamed by rows.

use std::path::Path;

use actmap::input::npy::{NpyRowReader, parse_npy, read_npy_header};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = parse_npy(data, Path::new("f.npy")) {
        assert_eq!(t.data.len(), t.shape.iter().product::<usize>());
    }
    let p = common::scratch("f.npy", data);
    let _ = read_npy_header(&p);
    if let Ok(mut r) = NpyRowReader::open(&p) {
        let mut out = Vec::new();
        while let Ok(n) = r.read_rows(64, &mut out) {
            if n == 0 {
                break;
            }
        }
    }
});
