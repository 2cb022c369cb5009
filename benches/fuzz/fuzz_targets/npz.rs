#![no_main]
//! `.npz` archives: listing, reading every member, and `load`.

use actmap::input::{LoadOptions, describe, list_npz, load_all, read_npz};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let p = common::scratch("f.npz", data);
    let _ = list_npz(&p);
    if let Ok(ts) = read_npz(&p, None) {
        for t in ts {
            assert_eq!(t.data.len(), t.shape.iter().product::<usize>());
        }
    }
    let _ = describe(&p);
    let _ = load_all(&p, &LoadOptions::default());
});
