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

/// Three runs of one channel (a collection), written with deterministic
/// values: baseline, a run whose columns 20..28 drift up from step 200,
/// and one logged every 20 steps instead of 10 that stops at step 300.
fn write_collection(root: &std::path::Path) {
    use actmap::runlog::{RunWriter, WriterOptions};
    std::fs::create_dir_all(root).unwrap();
    for (name, drift, every, last) in [
        ("baseline", 0.0f32, 10, 500),
        ("lr3e-4", 1.0, 10, 500),
        ("wd0.1", -0.5, 20, 300),
    ] {
        let w = RunWriter::open(root.join(name), WriterOptions::default()).unwrap();
        for step in (0..=last).step_by(every) {
            let row: Vec<f32> = (0..64)
                .map(|c| {
                    let base = ((c as f32) / 6.0 + step as f32 / 90.0).sin();
                    let d = if (20..28).contains(&c) && step > 200 {
                        drift * (step - 200) as f32 / 300.0
                    } else {
                        0.0
                    };
                    base + d
                })
                .collect();
            w.append("mlp.out", Some(step as i64), 0.0, &[64], &row).unwrap();
        }
        w.close().unwrap();
    }
}

/// `actmap render runs/ --key mlp.out` and `render runs/baseline
/// runs/lr3e-4 --diff`: the figures a user compares runs with (titles,
/// one shared colorbar; the diverging map centred on 0), at the figure
/// tolerance.
#[test]
fn run_comparisons_match_their_references() {
    use actmap::export::compare::{self, Look, NamedRun};
    use actmap::export::runlog::RunFigureOptions;
    use actmap::render::spec::PanelSpec;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    write_collection(&root);
    let runs: Vec<NamedRun> = actmap::runlog::collection(&root)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|p| NamedRun {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            reader: actmap::runlog::RunReader::open(&p).unwrap(),
        })
        .collect();
    let opts = RunFigureOptions {
        keys: vec!["mlp.out".into()],
        ..Default::default()
    };
    let template = PanelSpec::from_options(&Default::default(), "", None).unwrap();
    let (groups, failed) = compare::plan(&runs, &opts);
    assert!(failed.is_empty());
    let look = Look {
        width: 1200,
        height: 500,
        ..Default::default()
    };
    let fig = compare::side_by_side(&runs, &groups[0], &template, &opts, &look).unwrap();
    let out = renderer().render_figure(&fig).unwrap();
    golden::check("fig_runs_side_by_side", &out.image, 1.0, 0.005);
    let look = Look {
        width: 800,
        height: 600,
        ..Default::default()
    };
    let (fig, notes) = compare::diff(&runs[0], &runs[1], &groups[0], &template, &opts, &look).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    let out = renderer().render_figure(&fig).unwrap();
    golden::check("fig_runs_diff", &out.image, 1.0, 0.005);
}
