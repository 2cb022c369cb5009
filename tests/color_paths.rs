//! Plain heatmaps (at most one cell per pixel, evenly spaced) are coloured
//! on the CPU on software adapters and by the shader on real GPUs: both
//! paths must give the same bytes, pixel for pixel, whatever the figure.

mod common;

use std::sync::Arc;

use actmap::export::demo;
use actmap::layout::{Axis, ColorbarMode, Figure, HeatmapLayer, Panel};
use actmap::{ColorOn, Grid, NormKind, NormSpec, Renderer};
use common::renderer;

fn both() -> (Renderer, Renderer) {
    let ctx = renderer().context().clone();
    (
        Renderer::with_context(ctx.clone()).with_color_on(ColorOn::Cpu),
        Renderer::with_context(ctx).with_color_on(ColorOn::Gpu),
    )
}

fn same_pixels(name: &str, fig: &Figure, cpu: &Renderer, gpu: &Renderer) {
    let a = cpu.render_figure(fig).unwrap().image;
    let b = gpu.render_figure(fig).unwrap().image;
    assert_eq!(a.dimensions(), b.dimensions(), "{name}");
    let differing: Vec<(u32, u32)> = a
        .enumerate_pixels()
        .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
        .map(|(x, y, _)| (x, y))
        .take(5)
        .collect();
    assert!(
        differing.is_empty(),
        "{name}: CPU and shader colouring differ, first at {differing:?}"
    );
}

fn heatmap(grid: Grid) -> HeatmapLayer {
    HeatmapLayer::new(Arc::new(grid))
}

#[test]
fn the_reference_figures_come_out_the_same_either_way() {
    let (cpu, gpu) = both();
    for (size, scale) in [((480, 360), None), ((1200, 900), None), ((640, 480), Some(2.0))] {
        for (name, mut fig) in demo::figures(size.0, size.1) {
            fig.scale = scale;
            same_pixels(&format!("{name} at {size:?}"), &fig, &cpu, &gpu);
        }
    }
}

#[test]
fn specials_norms_flips_and_alpha_come_out_the_same_either_way() {
    let (cpu, gpu) = both();
    // Values spanning zero with NaN and both infinities, 7 x 9 cells.
    let grid = Grid::from_fn(7, 9, |r, c| match (r * 9 + c) % 17 {
        3 => f32::NAN,
        8 => f32::INFINITY,
        11 => f32::NEG_INFINITY,
        k => (k as f32 - 7.0) * 0.37 * if r % 2 == 0 { 1.0 } else { 10.0 },
    })
    .unwrap();
    let positive = Grid::from_fn(5, 6, |r, c| 0.01 * 10f32.powf((r * 6 + c) as f32 / 7.0)).unwrap();
    let norms = [
        NormSpec::default(),
        NormSpec {
            kind: NormKind::Centered { vcenter: 0.5 },
            ..Default::default()
        },
        NormSpec {
            kind: NormKind::SymLog {
                linthresh: Some(0.3),
                linscale: 1.0,
            },
            ..Default::default()
        },
        NormSpec {
            vmin: Some(-1.0),
            vmax: Some(2.5),
            ..Default::default()
        },
    ];
    for (i, norm) in norms.into_iter().enumerate() {
        for origin_lower in [false, true] {
            let mut layer = heatmap(grid.clone());
            layer.norm = norm;
            layer.origin_lower = origin_lower;
            layer.colormap = ["RdBu_r", "viridis", "coolwarm", "magma"][i].parse().unwrap();
            // Special colours with alpha, over a transparent background.
            layer.special_colors = [[0, 255, 0, 128], [255, 255, 0, 255], [0, 0, 255, 64]];
            let mut fig = Figure::single(Panel::heatmap(layer), 333, 251);
            fig.background = [0, 0, 0, 0];
            same_pixels(
                &format!("norm {i}, origin_lower {origin_lower}"),
                &fig,
                &cpu,
                &gpu,
            );
            fig.bare = true;
            same_pixels(&format!("bare, norm {i}"), &fig, &cpu, &gpu);
        }
    }
    let mut log = heatmap(positive);
    log.norm = NormSpec {
        kind: NormKind::Log,
        ..Default::default()
    };
    same_pixels("log", &Figure::single(Panel::heatmap(log), 300, 220), &cpu, &gpu);
}

#[test]
fn panels_and_grids_the_size_of_the_plot_come_out_the_same_either_way() {
    let (cpu, gpu) = both();
    // A bare figure whose grid is exactly one cell per pixel.
    let exact = Grid::from_fn(90, 120, |r, c| ((r * 31 + c * 17) % 101) as f32).unwrap();
    let mut fig = Figure::single(Panel::heatmap(heatmap(exact)), 120, 90);
    fig.bare = true;
    same_pixels("one cell per pixel", &fig, &cpu, &gpu);
    // Panels sharing a colorbar, one of them too large to colour directly
    // (aggregated by the shader in both renderers), one with uneven rows.
    let small = Grid::from_fn(4, 5, |r, c| (r + c) as f32).unwrap();
    let big = Grid::from_fn(900, 40, |r, c| ((r * 7 + c) % 13) as f32).unwrap();
    let mut uneven = Panel::heatmap(heatmap(small.clone()));
    uneven.y = Axis {
        coords: Some(vec![0.0, 1.0, 5.0, 6.0]),
        ..Default::default()
    };
    let panels = vec![
        Panel::heatmap(heatmap(small.clone())),
        Panel::heatmap(heatmap(big)),
        uneven,
        Panel::heatmap(heatmap(small)),
    ];
    let fig = Figure {
        grid: (2, 2),
        panels,
        colorbar: ColorbarMode::Shared,
        title: Some("mixed".into()),
        ..Figure::single(
            Panel::heatmap(heatmap(Grid::from_fn(1, 1, |_, _| 0.0).unwrap())),
            640,
            480,
        )
    };
    same_pixels("mixed panels", &fig, &cpu, &gpu);
}
