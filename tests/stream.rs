//! Out-of-core rendering: a heatmap streamed from a `.npy` file, reduced on
//! the CPU or by the GPU compute pass, must be the same picture as the
//! whole grid drawn from memory, for every aggregation mode, with NaN, inf
//! and spikes; and a file that goes bad mid-stream is a clear error. The
//! same for a CSV table.

mod common;

use std::path::Path;
use std::sync::Arc;

use actmap::layout::{Figure, GridSource, HeatmapLayer, Panel, StreamFormat, StreamedGrid};
use actmap::stream::ReduceOn;
use actmap::{Aggregate, Grid, NormSpec, Renderer};
use common::{actmap, stderr};

/// 2500 x 700 values with NaN, +-inf and two planted spikes.
fn test_grid() -> Grid {
    let mut x = 42u64;
    let g = Grid::from_fn(2500, 700, |_, _| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 1.5
    })
    .unwrap();
    let cols = g.cols();
    let mut data = g.into_data();
    data[17 * cols + 5] = f32::NAN;
    data[1200 * cols + 600] = f32::INFINITY;
    data[1900 * cols + 33] = f32::NEG_INFINITY;
    data[1717 * cols + 444] = 40.0;
    data[333 * cols + 111] = -30.0;
    Grid::new(2500, 700, data).unwrap()
}

fn write_npy(path: &Path, g: &Grid) {
    actmap::sink::write_npy_f32(path, &[g.rows(), g.cols()], g.data()).unwrap();
}

fn figure(grid: GridSource, mode: Aggregate, origin_lower: bool) -> Figure {
    let mut h = HeatmapLayer::with_source(grid);
    h.aggregate = mode;
    h.origin_lower = origin_lower;
    let mut panel = Panel::heatmap(h);
    panel.title = Some("streamed".into());
    Figure::single(panel, 900, 560)
}

fn streamed(path: &Path, g: &Grid) -> GridSource {
    let header = actmap::input::npy::read_npy_header(path).unwrap();
    let slice = actmap::input::ArraySlice::npy(path, &header, &[]).unwrap();
    assert_eq!((slice.rows, slice.cols), (g.rows(), g.cols()));
    GridSource::Streamed(Arc::new(StreamedGrid::of_array(slice)))
}

fn renderer_on(on: ReduceOn) -> Renderer {
    Renderer::with_context(common::renderer().context().clone()).with_reduce_on(on)
}

#[test]
fn streamed_figure_is_the_in_memory_figure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let g = test_grid();
    write_npy(&path, &g);
    let memory = GridSource::Memory(Arc::new(g.clone()));
    for on in [ReduceOn::Cpu, ReduceOn::Gpu] {
        let r = renderer_on(on);
        for mode in Aggregate::ALL {
            for origin_lower in [false, true] {
                let want = r
                    .render_figure(&figure(memory.clone(), mode, origin_lower))
                    .unwrap();
                let got = r
                    .render_figure(&figure(streamed(&path, &g), mode, origin_lower))
                    .unwrap();
                assert_eq!(got.layout.panels[0].stats.nan, 1);
                assert_eq!(got.layout.panels[0].stats.pos_inf, 1);
                assert_eq!(got.layout.panels[0].stats.max, 40.0);
                assert_eq!(got.layout.panels[0].norm, want.layout.panels[0].norm);
                let (a, b) = (want.image.as_raw(), got.image.as_raw());
                // Mean sums in another order: allow one level of rounding.
                let tol = if mode == Aggregate::Mean { 1 } else { 0 };
                let bad = a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > tol).count();
                assert_eq!(
                    bad, 0,
                    "{on:?} {mode:?} origin_lower={origin_lower}: {bad} bytes differ"
                );
            }
        }
    }
}

#[test]
fn streamed_spikes_survive_and_nan_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let g = test_grid();
    write_npy(&path, &g);
    let out = renderer_on(ReduceOn::Gpu)
        .render_figure(&figure(streamed(&path, &g), Aggregate::Extreme, false))
        .unwrap();
    let plot = out.layout.panels[0].plot;
    let pixels: Vec<[u8; 4]> = (plot.y..plot.bottom())
        .flat_map(|y| (plot.x..plot.right()).map(move |x| (x, y)))
        .map(|(x, y)| out.image.get_pixel(x, y).0)
        .collect();
    let lut = actmap::Colormap::default().lut();
    let (magma_top, magma_bottom) = (lut[255], lut[0]);
    assert!(pixels.contains(&magma_top), "the +40 spike is drawn");
    assert!(pixels.contains(&magma_bottom), "the -30 spike is drawn");
    assert!(pixels.contains(&[255, 0, 255, 255]), "the NaN is drawn");
}

#[test]
fn robust_range_of_a_streamed_grid_is_close_to_the_exact_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let g = test_grid();
    write_npy(&path, &g);
    let with_robust = |src| {
        let mut f = figure(src, Aggregate::Extreme, false);
        if let actmap::layout::PanelContent::Heatmap(h) = &mut f.panels[0].content {
            h.norm = NormSpec {
                robust: Some(99.0),
                ..NormSpec::default()
            };
        }
        f
    };
    let r = renderer_on(ReduceOn::Cpu);
    let exact = r
        .render_figure(&with_robust(GridSource::Memory(Arc::new(g.clone()))))
        .unwrap()
        .layout
        .panels[0]
        .norm
        .unwrap();
    let approx = r
        .render_figure(&with_robust(streamed(&path, &g)))
        .unwrap()
        .layout
        .panels[0]
        .norm
        .unwrap();
    for (a, e) in [(approx.vmin, exact.vmin), (approx.vmax, exact.vmax)] {
        assert!(
            (a - e).abs() <= e.abs() / 128.0 + 1e-6,
            "robust limit {a} vs exact {e}"
        );
    }
}

#[test]
fn cli_streams_large_files_and_reports_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let g = test_grid();
    write_npy(&dir.path().join("big.npy"), &g);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args(args)
            .current_dir(dir.path())
            .env("ACTMAP_STREAM", "always")
            .output()
            .unwrap()
    };
    let o = run(&["render", "big.npy", "-o", "big.png", "--size", "640x400"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let streamed = image::open(dir.path().join("big.png")).unwrap().to_rgba8();
    let o = actmap(
        &["render", "big.npy", "-o", "mem.png", "--size", "640x400"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let memory = image::open(dir.path().join("mem.png")).unwrap().to_rgba8();
    assert!(streamed == memory, "streamed and in-memory CLI figures differ");

    // A header that promises more rows than the file holds.
    let bytes = std::fs::read(dir.path().join("big.npy")).unwrap();
    std::fs::write(dir.path().join("cut.npy"), &bytes[..bytes.len() - 5000]).unwrap();
    let o = run(&["render", "cut.npy", "-o", "cut.png"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("cut.npy") && err.contains("truncated"), "{err}");
    assert!(!dir.path().join("cut.png").exists());
}

/// `g` as CSV text (shortest round-trip decimals, so it reads back
/// exactly), with a header and row labels if `labelled`.
fn csv_text(g: &Grid, labelled: bool) -> String {
    let mut s = String::new();
    if labelled {
        s.push_str("layer");
        for c in 0..g.cols() {
            s.push_str(&format!(",n{c}"));
        }
        s.push('\n');
    }
    for (r, row) in g.data().chunks(g.cols()).enumerate() {
        if labelled {
            s.push_str(&format!("r{r},"));
        }
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

fn streamed_csv(path: &Path) -> GridSource {
    let plan = actmap::input::csv::CsvPlan::new(path, &Default::default())
        .unwrap()
        .expect("streamable");
    GridSource::Streamed(Arc::new(StreamedGrid::new(
        path,
        StreamFormat::Csv(Arc::new(plan.clone())),
        plan.rows(),
        plan.cols(),
    )))
}

#[test]
fn streamed_csv_is_the_in_memory_figure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let g = test_grid();
    std::fs::write(&path, csv_text(&g, true)).unwrap();
    let memory = GridSource::Memory(Arc::new(g.clone()));
    let r = renderer_on(ReduceOn::Cpu);
    for mode in [Aggregate::Extreme, Aggregate::Mean] {
        let want = r.render_figure(&figure(memory.clone(), mode, false)).unwrap();
        let got = r
            .render_figure(&figure(streamed_csv(&path), mode, false))
            .unwrap();
        assert_eq!(got.layout.panels[0].stats.nan, 1);
        assert_eq!(got.layout.panels[0].stats.max, 40.0);
        assert_eq!(got.layout.panels[0].norm, want.layout.panels[0].norm);
        let (a, b) = (want.image.as_raw(), got.image.as_raw());
        let tol = if mode == Aggregate::Mean { 1 } else { 0 };
        let bad = a.iter().zip(b).filter(|(x, y)| x.abs_diff(**y) > tol).count();
        assert_eq!(bad, 0, "{mode:?}: {bad} bytes differ");
    }
}

#[test]
fn cli_streams_csv_and_reports_bad_cells() {
    let dir = tempfile::tempdir().unwrap();
    let g = test_grid();
    std::fs::write(dir.path().join("big.csv"), csv_text(&g, false)).unwrap();
    let run = |args: &[&str], policy: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args(args)
            .current_dir(dir.path())
            .env("ACTMAP_STREAM", policy)
            .output()
            .unwrap()
    };
    let picture = |name: &str, policy: &str| {
        let o = run(&["render", name, "-o", "out.png", "--size", "640x400"], policy);
        assert!(o.status.success(), "{}", stderr(&o));
        image::open(dir.path().join("out.png")).unwrap().to_rgba8()
    };
    assert!(
        picture("big.csv", "always") == picture("big.csv", "never"),
        "streamed and in-memory CLI figures differ"
    );
    // Labels become tick labels in memory only: the streamed figure differs,
    // which shows that it was streamed.
    std::fs::write(dir.path().join("labelled.csv"), csv_text(&g, true)).unwrap();
    assert!(picture("labelled.csv", "always") != picture("labelled.csv", "never"));

    // A bad cell deep in the file: the in-memory parser's message, no PNG.
    let mut text = csv_text(&g, false);
    let at = text.match_indices('\n').nth(2399).unwrap().0 + 1;
    let comma = at + text[at..].find(',').unwrap();
    text.insert_str(comma + 1, "oops");
    std::fs::write(dir.path().join("bad.csv"), text).unwrap();
    let mut errors = Vec::new();
    for policy in ["always", "never"] {
        let o = run(&["render", "bad.csv", "-o", "bad.png"], policy);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("bad.csv") && err.contains("line 2401, column 2: 'oops"),
            "{err}"
        );
        assert!(!dir.path().join("bad.png").exists());
        errors.push(err);
    }
    assert_eq!(errors[0], errors[1]);
}
