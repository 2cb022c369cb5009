//! Figures rendered on the GPU, checked the way a reader would look at
//! them: spikes where they belong, readable annotations, rows at their
//! true positions.

mod common;

use actmap::export::demo;
use actmap::layout::{LineLayer, PanelContent};
use common::{px, renderer};

fn find(name: &str, w: u32, h: u32) -> actmap::layout::Figure {
    demo::figures(w, h)
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

fn is_line_colour(p: [u8; 4]) -> bool {
    // tab:cyan #17becf, or its antialiased blend with white.
    p[0] < 200 && p[1] > 150 && p[2] > 170 && (p[2] as i32 - p[0] as i32) > 40
}

#[test]
fn every_spike_of_the_neuron_line_reaches_its_value() {
    // 640 px: 4096 points over ~500 columns (min/max path); 3840 px: fewer
    // points than columns (plain polyline).
    for (w, h) in [(640, 480), (1200, 900), (3840, 2160)] {
        let fig = find("004_neuron_activations", w, h);
        let out = renderer().render_figure(&fig).unwrap();
        let p = &out.layout.panels[0];
        let PanelContent::Lines(LineLayer { series, .. }) = &fig.panels[0].content else {
            panic!()
        };
        let values = &series[0].values;
        let (x0, x1) = p.x_window;
        let (top, bottom) = p.y_window;
        for (idx, want) in [(2450usize, -35.0f32), (1550, 28.0), (800, -25.0), (150, 26.0)] {
            assert_eq!(values[idx], want);
            let x = p.plot.x as f64 + (idx as f64 - x0) / (x1 - x0) * p.plot.width as f64;
            let y = p.plot.y as f64 + (want as f64 - top) / (bottom - top) * p.plot.height as f64;
            let (xi, yi) = (x as i64, y as i64);
            let found = (-3..=3).any(|dx| {
                (-3..=3).any(|dy| {
                    let (qx, qy) = ((xi + dx) as u32, (yi + dy) as u32);
                    is_line_colour(px(&out.image, qx, qy))
                })
            });
            assert!(
                found,
                "{w}x{h}: no line near neuron {idx} = {want} at ({x:.1}, {y:.1})"
            );
        }
    }
}

#[test]
fn annotations_are_white_on_dark_cells_and_black_on_light_ones() {
    let fig = find("003_accuracy_breakdown", 1200, 900);
    let out = renderer().render_figure(&fig).unwrap();
    let texts = &out.layout.scene.texts;
    let cells: Vec<_> = texts
        .iter()
        .filter(|t| t.text.contains('.') && t.color[3] == 255)
        .collect();
    assert!(
        cells.len() >= 4 * 29,
        "expected one annotation per cell, got {}",
        cells.len()
    );
    // Digit scale 1 at layer 28 is ~0.8 (dark blue): white text. Layer 0 is ~0.0 (white cell): black.
    let dark = cells.iter().filter(|t| t.color == [255, 255, 255, 255]).count();
    let light = cells.iter().filter(|t| t.color == [0, 0, 0, 255]).count();
    assert!(dark > 0 && light > 0, "dark {dark}, light {light}");
    // And the rendered pixels agree: the darkest pixel inside a white-text
    // annotation box is not darker than the cell around it.
    let font = actmap::text::Font::default_sans();
    let t = cells.iter().find(|t| t.color == [255, 255, 255, 255]).unwrap();
    let b = font.bounds(t);
    let brightest = (b.x as u32..(b.x + b.w) as u32)
        .flat_map(|x| (b.y as u32..(b.y + b.h) as u32).map(move |y| (x, y)))
        .map(|(x, y)| px(&out.image, x, y))
        .map(|p| p[0] as u32 + p[1] as u32 + p[2] as u32)
        .max()
        .unwrap();
    assert!(
        brightest > 600,
        "white annotation '{}' has no bright pixels ({brightest})",
        t.text
    );
}

#[test]
fn uneven_steps_give_rows_proportional_heights() {
    let fig = find("000_layer_steps", 1200, 900);
    let out = renderer().render_figure(&fig).unwrap();
    let p = &out.layout.panels[0];
    // Walk down the middle of layer 1 (bright) / layer 4 boundary column and
    // measure the run lengths of identical colours in the layer-9 column.
    let x = p.plot.x + p.plot.width * 17 / 24; // centre of layer 9
    let mut runs = Vec::new();
    let mut last = px(&out.image, x, p.plot.y);
    let mut len = 0;
    for y in p.plot.y..p.plot.bottom() {
        let c = px(&out.image, x, y);
        if c == last {
            len += 1;
        } else {
            runs.push(len);
            len = 1;
            last = c;
        }
    }
    runs.push(len);
    // Steps 0 and 150 are 150 apart; the last rows are 1000 apart: the
    // bottom rows are ~6.7x taller than the second row.
    let second = runs[1] as f64;
    let last_full = runs[runs.len() - 2] as f64;
    let ratio = last_full / second;
    assert!((5.5..8.0).contains(&ratio), "row heights {runs:?}: ratio {ratio}");
}

#[test]
fn scale_two_doubles_text_and_stays_clean() {
    let mut fig = find("003_accuracy_breakdown", 1200, 900);
    fig.scale = Some(1.0);
    let one = actmap::layout::layout_figure(&fig, actmap::text::Font::default_sans()).unwrap();
    fig.width *= 2;
    fig.height *= 2;
    fig.scale = Some(2.0);
    let two = actmap::layout::layout_figure(&fig, actmap::text::Font::default_sans()).unwrap();
    let size = |l: &actmap::layout::FigureLayout| l.scene.texts.iter().map(|t| t.size_px).fold(0.0, f32::max);
    assert_eq!(size(&two), 2.0 * size(&one));
    assert!(actmap::layout::text_problems(&two.scene, actmap::text::Font::default_sans()).is_empty());
}
