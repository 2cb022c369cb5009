//! Shared test helpers: one GPU renderer per test binary (the adapter is
//! created once), golden-image comparison.
#![allow(dead_code)]

pub mod golden;

use std::sync::OnceLock;

use actmap::Renderer;

/// The renderer every test in this binary shares (real wgpu on whatever
/// adapter the machine has: lavapipe in CI).
pub fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| match Renderer::new() {
        Ok(r) => {
            eprintln!("GPU adapter: {}", r.context().describe());
            r
        }
        Err(e) => panic!("GPU tests need an adapter (CI installs lavapipe): {e}"),
    })
}

/// Pixel at (x, y) as RGBA.
pub fn px(img: &image::RgbaImage, x: u32, y: u32) -> [u8; 4] {
    img.get_pixel(x, y).0
}
