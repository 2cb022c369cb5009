//! `actmap demo`: the built-in reference datasets, as .npy and PNG.

use std::path::Path;

use actmap::{RenderOptions, Renderer, demo, sink};
use anyhow::Context;

pub fn run(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create directory", out.display()))?;
    let renderer = Renderer::new()?;
    for d in demo::all() {
        let npy = out.join(format!("{}.npy", d.name));
        sink::write_npy_f32(&npy, &[d.grid.rows(), d.grid.cols()], d.grid.data())?;
        let (w, h) = if d.grid.rows() == 1 {
            (1024, 64)
        } else {
            (800, 600)
        };
        let opts = RenderOptions {
            width: w,
            height: h,
            colormap: d.cmap.parse()?,
            ..Default::default()
        };
        let png = out.join(format!("{}.png", d.name));
        renderer.render_png(&d.grid, &opts, &png)?;
        eprintln!("wrote {} and {}", npy.display(), png.display());
    }
    Ok(())
}
