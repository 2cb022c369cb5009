//! Layout guarantees, checked on the real embedded font: for every
//! reference figure and several sizes, no text leaves the image, no two
//! text boxes overlap, plot areas stay inside their panels, and ticks read
//! what a user expects.

use actmap::export::demo;
use actmap::layout::{Figure, layout_figure, text_problems};
use actmap::text::Font;

const SIZES: [(u32, u32); 4] = [(640, 480), (1200, 900), (1920, 1080), (3840, 2160)];

fn layout(fig: &Figure) -> actmap::layout::FigureLayout {
    layout_figure(fig, Font::default_sans()).unwrap_or_else(|e| panic!("{}x{}: {e}", fig.width, fig.height))
}

#[test]
fn reference_figures_never_clip_or_overlap() {
    for (w, h) in SIZES {
        for (name, fig) in demo::figures(w, h) {
            let l = layout(&fig);
            let problems = text_problems(&l.scene, Font::default_sans());
            assert!(problems.is_empty(), "{name} at {w}x{h}:\n{}", problems.join("\n"));
            for (p, panel) in l.panels.iter().zip(&fig.panels) {
                assert!(
                    p.plot.right() <= w && p.plot.bottom() <= h,
                    "{name} at {w}x{h}: plot {:?}",
                    p.plot
                );
                // A panel with square cells is as large as its cell allows
                // in one direction only.
                let (wide, tall) = (p.plot.width > w / 4, p.plot.height > h / 5);
                assert!(
                    if panel.aspect.is_some() {
                        wide || tall
                    } else {
                        wide && tall
                    },
                    "{name} at {w}x{h}: tiny plot {:?}",
                    p.plot
                );
                if let Some((bar, _)) = &p.colorbar {
                    assert!(bar.x >= p.plot.right(), "{name}: colorbar overlaps the plot");
                    assert!(bar.right() <= w, "{name}: colorbar leaves the image");
                }
            }
        }
    }
}

#[test]
fn long_labels_and_titles_still_fit() {
    let mut figs = demo::figures(640, 480);
    let (_, fig) = &mut figs[0];
    let p = &mut fig.panels[0];
    p.title = Some("A rather long panel title about layer activations".into());
    p.y.label = Some("Training steps (optimizer updates)".into());
    p.colorbar_label = Some("mean |activation|".into());
    let l = layout(fig);
    let problems = text_problems(&l.scene, Font::default_sans());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn reference_ticks_read_as_described_in_the_seeds() {
    let figs = demo::figures(1200, 900);
    let labels =
        |ticks: &[actmap::layout::ticks::Tick]| ticks.iter().map(|t| t.label.clone()).collect::<Vec<_>>();
    let find = |name: &str| layout(&figs.iter().find(|(n, _)| *n == name).unwrap().1);

    // 000: layers 1..12 on x; steps 0..20000 on y; colorbar 0.05..0.30 by 0.05.
    let l = find("000_layer_steps");
    let p = &l.panels[0];
    assert_eq!(
        labels(&p.x_ticks),
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]
    );
    assert_eq!(p.y_ticks.first().unwrap().label, "0");
    assert_eq!(p.y_ticks.last().unwrap().label, "20000");
    assert_eq!(
        labels(&p.colorbar.as_ref().unwrap().1),
        ["0.05", "0.10", "0.15", "0.20", "0.25", "0.30"]
    );

    // 001: steps written 30k..300k, one per row.
    let l = find("001_layer_steps_long");
    let p = &l.panels[0];
    assert_eq!(
        labels(&p.y_ticks),
        [
            "30k", "60k", "90k", "120k", "150k", "180k", "210k", "240k", "270k", "300k"
        ]
    );
    let cb = labels(&p.colorbar.as_ref().unwrap().1);
    assert_eq!(cb.first().unwrap(), "0.000");
    assert_eq!(cb.last().unwrap(), "0.008");

    // 003: layer 0..28 every 2, digit scale 1..4, colorbar 0.0..0.8.
    let l = find("003_accuracy_breakdown");
    let p = &l.panels[0];
    let x = labels(&p.x_ticks);
    assert_eq!(x.first().unwrap(), "0");
    assert_eq!(x.last().unwrap(), "28");
    assert_eq!(labels(&p.y_ticks), ["1", "2", "3", "4"]);
    assert_eq!(
        labels(&p.colorbar.as_ref().unwrap().1),
        ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"]
    );

    // 004: neurons 0..4000 by 1000, activations -30..30 by 10.
    let l = find("004_neuron_activations");
    let p = &l.panels[0];
    assert_eq!(labels(&p.x_ticks), ["0", "1000", "2000", "3000", "4000"]);
    assert_eq!(
        labels(&p.y_ticks),
        ["\u{2212}30", "\u{2212}20", "\u{2212}10", "0", "10", "20", "30"]
    );
}

#[test]
fn uneven_steps_place_cells_at_their_true_rows_or_evenly() {
    use actmap::layout::{AxisMapping, CoordMode};
    let mut figs = demo::figures(1200, 900);
    let fig = &mut figs[0].1;
    let l = layout(fig);
    match &l.scene.heatmaps[0].y {
        AxisMapping::Edges { edges, .. } => {
            assert_eq!(edges[..4], [-75.0, 75.0, 225.0, 400.0]);
            assert_eq!(*edges.last().unwrap(), 20500.0);
        }
        m => panic!("expected edges, got {m:?}"),
    }
    fig.panels[0].y.mode = CoordMode::Index;
    let l = layout(fig);
    assert_eq!(l.scene.heatmaps[0].y, AxisMapping::Uniform);
    // Every step is a label when they fit, written as given.
    let y = &l.panels[0].y_ticks;
    assert!(
        y.iter().any(|t| t.label == "150") && y.iter().any(|t| t.label == "20000"),
        "{y:?}"
    );
}

#[test]
fn many_cells_get_round_numbers_not_one_label_each() {
    use actmap::layout::{HeatmapLayer, Panel, ticks::TickFormat};
    let grid = actmap::Grid::new(300_000, 12, vec![0.0; 300_000 * 12]).unwrap();
    let mut panel = Panel::heatmap(HeatmapLayer::new(grid));
    panel.y.format = TickFormat::Thousands;
    let l = layout(&Figure::single(panel, 1200, 900));
    let y: Vec<&str> = l.panels[0].y_ticks.iter().map(|t| t.label.as_str()).collect();
    assert!(y.len() <= 10, "{y:?}");
    assert_eq!(y[..3], ["0", "50k", "100k"]);
    // The 12 columns still get one label each.
    assert_eq!(l.panels[0].x_ticks.len(), 12);
}

#[test]
fn fixed_aspect_keeps_cells_square_and_centres_the_plot() {
    use actmap::layout::{HeatmapLayer, Panel};
    use std::sync::Arc;
    let plot = |rows: usize, cols: usize, aspect: Option<f32>| {
        let grid = actmap::Grid::from_fn(rows, cols, |r, c| (r + c) as f32).unwrap();
        let mut panel = Panel::heatmap(HeatmapLayer::new(Arc::new(grid)));
        panel.aspect = aspect;
        layout(&Figure::single(panel, 1200, 900)).panels[0].clone()
    };
    // Square grid, square cells: a square plot, centred left to right.
    let auto = plot(20, 20, None);
    let sq = plot(20, 20, Some(1.0));
    assert!(
        auto.plot.width > auto.plot.height + 100,
        "auto fills: {:?}",
        auto.plot
    );
    assert!(sq.plot.width.abs_diff(sq.plot.height) <= 1, "{:?}", sq.plot);
    assert_eq!(sq.plot.height, auto.plot.height);
    let (mid_auto, mid_sq) = (auto.plot.x + auto.plot.width / 2, sq.plot.x + sq.plot.width / 2);
    assert!(mid_auto.abs_diff(mid_sq) <= 1, "centred: {mid_auto} vs {mid_sq}");
    // 10 x 40 cells, square: four times as wide as tall, width-bound.
    let wide = plot(10, 40, Some(1.0));
    let ratio = wide.plot.width as f64 / wide.plot.height as f64;
    assert!((ratio - 4.0).abs() < 0.05, "{:?}", wide.plot);
    assert_eq!(wide.plot.width, plot(10, 40, None).plot.width);
    // Aspect 2: cells twice as tall as wide.
    let tall = plot(20, 20, Some(2.0));
    let ratio = tall.plot.height as f64 / tall.plot.width as f64;
    assert!((ratio - 2.0).abs() < 0.02, "{:?}", tall.plot);
}
