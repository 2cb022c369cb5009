//! Where the time of a small figure goes (a 32 x 48 grid at 1200 x 900, with
//! title, axes and colorbar, as `actmap render` of a batch draws it): layout,
//! the whole GPU render with readback, an empty scene (clear + readback
//! only), the same figure without its heatmap, and PNG encoding.
//!
//! Run: `cargo bench --bench small`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use actmap::layout::{Axis, Figure, HeatmapLayer, Panel, Scene, layout_figure};
use actmap::{Grid, Renderer, sink};
use criterion::{Criterion, criterion_group, criterion_main};

fn figure(rows: usize, cols: usize) -> Figure {
    let mut rng = actmap::export::demo::Rng::new(3);
    let grid = Grid::from_fn(rows, cols, |_, _| rng.uniform()).expect("shape");
    let mut panel = Panel::heatmap(HeatmapLayer::new(Arc::new(grid)));
    panel.title = Some(format!("t{rows}x{cols}.npy"));
    panel.x = Axis::labelled("column");
    panel.y = Axis::labelled("row");
    Figure::single(panel, 1200, 900)
}

fn small(c: &mut Criterion) {
    let renderer = Renderer::new().expect("GPU adapter (install mesa-vulkan-drivers)");
    eprintln!("adapter: {}", renderer.context().describe());
    let font = actmap::text::Font::default_sans();
    let mut g = c.benchmark_group("small_1200x900");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(2));
    for (rows, cols) in [(32usize, 48usize), (4, 29)] {
        let fig = figure(rows, cols);
        g.bench_function(format!("layout_{rows}x{cols}"), |b| {
            b.iter(|| black_box(layout_figure(&fig, font).expect("layout")))
        });
        g.bench_function(format!("render_figure_{rows}x{cols}"), |b| {
            b.iter(|| black_box(renderer.render_figure(&fig).expect("render")))
        });
        let laid = layout_figure(&fig, font).expect("layout");
        let no_heatmap = Scene {
            heatmaps: Vec::new(),
            ..laid.scene.clone()
        };
        g.bench_function(format!("draw_without_heatmap_{rows}x{cols}"), |b| {
            b.iter(|| black_box(renderer.draw_scene(&no_heatmap, &[]).expect("draw")))
        });
    }
    let empty = Scene {
        width: 1200,
        height: 900,
        background: [255, 255, 255, 255],
        ..Default::default()
    };
    g.bench_function("draw_empty_scene", |b| {
        b.iter(|| black_box(renderer.draw_scene(&empty, &[]).expect("draw")))
    });
    let image = renderer.render_figure(&figure(32, 48)).expect("render").image;
    g.bench_function("encode_png", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            sink::encode_png(&image, &mut out).expect("encode");
            black_box(out)
        })
    });
    g.finish();
}

criterion_group!(benches, small);
criterion_main!(benches);
