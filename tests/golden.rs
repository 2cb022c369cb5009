//! Golden images of the built-in reference datasets, rendered through the
//! real pipeline and compared perceptually with tests/golden/*.png.
//!
//! Tolerance: mean CIE76 ΔE <= 0.5 and at most 0.1% of pixels with ΔE > 10.
//! lavapipe reproduces the references exactly (ΔE 0); the slack is for real
//! GPUs, whose log/exp may round a value across a colormap entry boundary.
//! Refresh with `ACTMAP_UPDATE_GOLDEN=1 cargo test --test golden`.

mod common;

use actmap::export::demo;
use actmap::{NormKind, NormSpec, RenderOptions};
use common::{golden, renderer};

const MEAN_DELTA_E: f64 = 0.5;
const OUTLIER_FRACTION: f64 = 0.001;

#[test]
fn demo_datasets_match_their_references() {
    for d in demo::all() {
        let mut o = RenderOptions {
            width: 480,
            height: 360,
            colormap: d.cmap.parse().unwrap(),
            ..Default::default()
        };
        if d.grid.rows() == 1 {
            (o.width, o.height) = (1024, 48);
            o.norm = NormSpec {
                kind: NormKind::Centered { vcenter: 0.0 },
                ..Default::default()
            };
        }
        let out = renderer().render(&d.grid, &o).unwrap();
        golden::check(
            &format!("bare_{}", d.name),
            &out.image,
            MEAN_DELTA_E,
            OUTLIER_FRACTION,
        );
    }
}

/// The five reference figures (text, axes, colorbars): the README gallery.
/// Text antialiasing may differ slightly between GPUs, hence a looser
/// tolerance than the bare data renders: mean ΔE <= 1.0, at most 0.5% of
/// pixels with ΔE > 10.
#[test]
fn reference_figures_match_their_references() {
    for (name, fig) in demo::figures(1200, 900) {
        let out = renderer().render_figure(&fig).unwrap();
        golden::check(&format!("fig_{name}"), &out.image, 1.0, 0.005);
    }
}

#[test]
fn golden_check_detects_a_changed_picture() {
    // The comparison itself must be able to fail: a different colormap is
    // far outside the tolerance.
    let d = demo::accuracy_breakdown();
    let o = RenderOptions {
        width: 480,
        height: 360,
        colormap: "viridis".parse().unwrap(),
        ..Default::default()
    };
    let out = renderer().render(&d.grid, &o).unwrap();
    let reference = image::open(golden::reference_path("bare_003_accuracy_breakdown"))
        .unwrap()
        .to_rgba8();
    let mean: f64 = out
        .image
        .pixels()
        .zip(reference.pixels())
        .map(|(a, b)| golden::delta_e(a.0, b.0))
        .sum::<f64>()
        / (480.0 * 360.0);
    assert!(mean > 10.0 * MEAN_DELTA_E, "mean ΔE {mean}");
}
