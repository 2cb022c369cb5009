#![no_main]
//! TOML figure specs: parsed, then built around small grids (no GPU).

use actmap::Grid;
use actmap::render::spec::FigureSpec;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let p = common::scratch("f.toml", data);
    if let Ok(spec) = FigureSpec::from_file(&p) {
        let grids = (0..spec.panels.len().min(64))
            .map(|i| Grid::from_fn(3, 4, |r, c| (r * 4 + c + i) as f32).unwrap())
            .collect();
        let _ = spec.build_with_grids(grids, p.parent().unwrap());
    }
});
