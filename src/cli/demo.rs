//! `actmap demo`: the five reference figures from built-in data, plus the
//! data itself as .npy so `actmap render` can be tried on it.

use std::path::Path;

use actmap::export::demo;
use actmap::{Renderer, sink};
use anyhow::Context;

pub fn run(out: &Path, width: u32, height: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create directory", out.display()))?;
    let renderer = Renderer::new()?;
    for d in demo::all() {
        let npy = out.join(format!("{}.npy", d.name));
        sink::write_npy_f32(&npy, &[d.grid.rows(), d.grid.cols()], d.grid.data())?;
    }
    for (name, fig) in demo::figures(width, height) {
        let png = out.join(format!("{name}.png"));
        renderer.render_figure_png(&fig, &png)?;
        eprintln!("wrote {}", png.display());
    }
    Ok(())
}
