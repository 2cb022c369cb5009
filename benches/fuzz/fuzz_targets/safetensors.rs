#![no_main]
//! `.safetensors`: the header and every tensor.

use actmap::input::SafetensorsFile;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let p = common::scratch("f.safetensors", data);
    if let Ok(f) = SafetensorsFile::open(&p) {
        for t in &f.tensors {
            if let Ok(v) = f.read(t) {
                assert_eq!(v.data.len(), v.shape.iter().product::<usize>());
            }
        }
    }
});
