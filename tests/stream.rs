//! Out-of-core rendering: a heatmap streamed from a `.npy` file, reduced on
//! the CPU or by the GPU compute pass, must be the same picture as the
//! whole grid drawn from memory, for every aggregation mode, with NaN, inf
//! and spikes; and a file that goes bad mid-stream is a clear error. The
//! same for a CSV table.

mod common;

use std::path::Path;
use std::sync::Arc;

use actmap::input::{Pick, RowSource};
use actmap::layout::{Figure, GridSource, HeatmapLayer, Panel, RowSourceFactory, StreamFormat, StreamedGrid};
use actmap::render::stream::ReduceOn;
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
    let slice = actmap::input::ArraySlice::npy(path, &header, &Pick::Leading(&[])).unwrap();
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

// ---- every layout a user brings stays on the streamed path -----------------

/// A `.npy` file's bytes: `values` in the file's order (C, or Fortran when
/// `fortran`), little-endian f32.
fn npy_bytes(shape: &[usize], values: &[f32], fortran: bool) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    let pad = 64 - (10 + dict.len() + 1) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad % 64));
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// The C-order values of an array whose element at C index `i` is `f(i)`,
/// reordered to Fortran order.
fn fortran_order(shape: &[usize], c: &[f32]) -> Vec<f32> {
    let n = c.len();
    let mut out = vec![0.0f32; n];
    for (i, &v) in c.iter().enumerate() {
        // C index -> multi-index -> Fortran index.
        let (mut rest, mut f, mut stride) = (i, 0usize, 1usize);
        let mut idx = vec![0usize; shape.len()];
        for d in (0..shape.len()).rev() {
            idx[d] = rest % shape[d];
            rest /= shape[d];
        }
        for d in 0..shape.len() {
            f += idx[d] * stride;
            stride *= shape[d];
        }
        out[f] = v;
    }
    out
}

fn write_safetensors(path: &Path, tensors: &[(&str, &[usize], &[f32])]) {
    let mut header = String::from("{");
    let mut data = Vec::new();
    for (i, (name, shape, values)) in tensors.iter().enumerate() {
        let begin = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        if i > 0 {
            header.push(',');
        }
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{begin},{}]}}",
            dims.join(","),
            data.len()
        ));
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(path, bytes).unwrap();
}

fn write_npz(path: &Path, members: &[(&str, Vec<u8>)], deflated: bool) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let method = if deflated {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in members {
        zip.start_file(format!("{name}.npy"), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// 1200 x 333 values with NaN, +-inf and two planted spikes; `seed` varies them.
fn small_grid(seed: u64) -> Grid {
    let mut x = seed;
    let mut data: Vec<f32> = (0..1200 * 333)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 1.5
        })
        .collect();
    data[17 * 333 + 5] = f32::NAN;
    data[900 * 333 + 300] = f32::INFINITY;
    data[901 * 333 + 33] = f32::NEG_INFINITY;
    data[717 * 333 + 44] = 40.0;
    data[333 * 333 + 111] = -30.0;
    Grid::new(1200, 333, data).unwrap()
}

/// Uneven, increasing coordinates (logging steps that grow).
fn steps(n: usize) -> Vec<f64> {
    let mut s = 0.0;
    (0..n)
        .map(|i| {
            s += if i % 10 == 0 { 37.0 } else { 1.0 + (i % 3) as f64 };
            s
        })
        .collect()
}

fn coords_figure(
    grid: GridSource,
    mode: Aggregate,
    origin_lower: bool,
    x: Option<Vec<f64>>,
    y: Option<Vec<f64>>,
) -> Figure {
    let mut f = figure(grid, mode, origin_lower);
    f.panels[0].x.coords = x;
    f.panels[0].y.coords = y;
    f
}

/// The streamed figure is the in-memory one, byte for byte (mean: one
/// level of rounding), for each reduction, mode and origin given.
fn assert_same_pictures(
    what: &str,
    memory: &Grid,
    streamed: &GridSource,
    x: Option<Vec<f64>>,
    y: Option<Vec<f64>>,
    modes: &[Aggregate],
    origins: &[bool],
) {
    let memory = GridSource::Memory(Arc::new(memory.clone()));
    for on in [ReduceOn::Cpu, ReduceOn::Gpu] {
        let r = renderer_on(on);
        for &mode in modes {
            for &origin_lower in origins {
                let fig = |g: &GridSource| coords_figure(g.clone(), mode, origin_lower, x.clone(), y.clone());
                let want = r.render_figure(&fig(&memory)).unwrap();
                let got = r.render_figure(&fig(streamed)).unwrap();
                let (ws, gs) = (want.layout.panels[0].stats, got.layout.panels[0].stats);
                assert_eq!(
                    (gs.nan, gs.pos_inf, gs.neg_inf, gs.max, gs.min),
                    (ws.nan, ws.pos_inf, ws.neg_inf, ws.max, ws.min),
                    "{what}"
                );
                assert_eq!(got.layout.panels[0].norm, want.layout.panels[0].norm, "{what}");
                assert_eq!(got.layout.panels[0].plot, want.layout.panels[0].plot, "{what}");
                let (a, b) = (want.image.as_raw(), got.image.as_raw());
                let tol = if mode == Aggregate::Mean { 1 } else { 0 };
                let bad = a.iter().zip(b).filter(|(p, q)| p.abs_diff(**q) > tol).count();
                if bad > 0 {
                    let dir = std::env::temp_dir();
                    let _ = want.image.save(dir.join(format!("stream-{what}-memory.png")));
                    let _ = got.image.save(dir.join(format!("stream-{what}-streamed.png")));
                }
                assert_eq!(
                    bad, 0,
                    "{what}: {on:?} {mode:?} origin_lower={origin_lower}: {bad} bytes differ"
                );
            }
        }
    }
}

fn npy_source(path: &Path, index: &[usize]) -> StreamedGrid {
    let header = actmap::input::npy::read_npy_header(path).unwrap();
    let slice = actmap::input::ArraySlice::npy(path, &header, &Pick::Leading(index)).unwrap();
    StreamedGrid::of_array(slice)
}

#[test]
fn transposed_and_uneven_grids_stream_to_the_in_memory_picture() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let g = test_grid();
    write_npy(&path, &g);
    let plain = npy_source(&path, &[]);
    let transposed = GridSource::Streamed(Arc::new(plain.clone().transpose()));
    let plain = GridSource::Streamed(Arc::new(plain));
    let all = Aggregate::ALL;
    // Rows at uneven steps (the seed figures' training steps).
    assert_same_pictures(
        "uneven-y",
        &g,
        &plain,
        None,
        Some(steps(g.rows())),
        &all,
        &[false, true],
    );
    // Rows of the file become columns of the picture.
    let t = g.transposed();
    assert_same_pictures("transposed", &t, &transposed, None, None, &all, &[false, true]);
    // ... at uneven steps along x, and uneven coordinates on both axes.
    assert_same_pictures(
        "transposed-uneven",
        &t,
        &transposed,
        Some(steps(t.cols())),
        Some(steps(t.rows())),
        &all,
        &[false, true],
    );
}

#[test]
fn coordinates_of_any_length_draw_in_memory_and_streamed() {
    // More coordinates than a texture row holds (16384 on lavapipe).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.npy");
    let mut x = 7u64;
    let g = Grid::from_fn(20_000, 16, |_, _| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 40) as f32 / (1u64 << 24) as f32
    })
    .unwrap();
    let mut data = g.into_data();
    data[19_999 * 16 + 7] = 50.0;
    let g = Grid::new(20_000, 16, data).unwrap();
    write_npy(&path, &g);
    let streamed = GridSource::Streamed(Arc::new(npy_source(&path, &[])));
    let modes = [Aggregate::Extreme, Aggregate::Mean, Aggregate::Nearest];
    assert_same_pictures(
        "20000-steps",
        &g,
        &streamed,
        None,
        Some(steps(20_000)),
        &modes,
        &[false, true],
    );
    // The spike in the last row, at the last (widest) step, is drawn.
    let out = renderer_on(ReduceOn::Gpu)
        .render_figure(&coords_figure(
            GridSource::Memory(Arc::new(g)),
            Aggregate::Extreme,
            false,
            None,
            Some(steps(20_000)),
        ))
        .unwrap();
    let plot = out.layout.panels[0].plot;
    let top = actmap::Colormap::default().lut()[255];
    let found = (plot.x..plot.right()).any(|x| out.image.get_pixel(x, plot.bottom() - 1).0 == top);
    assert!(found, "the spike at the last step is drawn");
}

#[test]
fn slices_fortran_order_and_containers_stream_to_the_in_memory_picture() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = small_grid(1);
    let others: Vec<Grid> = (2..6).map(small_grid).collect();
    let modes = [Aggregate::Extreme, Aggregate::Mean, Aggregate::Nearest];
    let check = |what: &str, streamed: StreamedGrid, want: &Grid| {
        let src = GridSource::Streamed(Arc::new(streamed));
        assert_same_pictures(what, want, &src, None, None, &modes, &[false]);
    };
    // A slice of a 3-D array: [3, 1200, 333], the grid at index 1.
    let cube: Vec<f32> = [&others[0], &g, &others[1]]
        .iter()
        .flat_map(|x| x.data().to_vec())
        .collect();
    std::fs::write(d.join("cube.npy"), npy_bytes(&[3, 1200, 333], &cube, false)).unwrap();
    check("index-3d", npy_source(&d.join("cube.npy"), &[1]), &g);
    // And of a 4-D one: [2, 2, 1200, 333] at [1, 0].
    let hyper: Vec<f32> = [&others[0], &others[1], &g, &others[2]]
        .iter()
        .flat_map(|x| x.data().to_vec())
        .collect();
    std::fs::write(d.join("hyper.npy"), npy_bytes(&[2, 2, 1200, 333], &hyper, false)).unwrap();
    check("index-4d", npy_source(&d.join("hyper.npy"), &[1, 0]), &g);
    // Fortran order: 2-D, and a slice of a 3-D array (strided cells).
    std::fs::write(
        d.join("f2.npy"),
        npy_bytes(&[1200, 333], &fortran_order(&[1200, 333], g.data()), true),
    )
    .unwrap();
    let f2 = npy_source(&d.join("f2.npy"), &[]);
    assert!(f2.transposed, "a Fortran-order array is read by columns");
    check("fortran-2d", f2, &g);
    std::fs::write(
        d.join("f3.npy"),
        npy_bytes(&[3, 1200, 333], &fortran_order(&[3, 1200, 333], &cube), true),
    )
    .unwrap();
    check("fortran-3d", npy_source(&d.join("f3.npy"), &[1]), &g);
    // A 1-D array: one row, read by columns.
    let row: Vec<f32> = g.data()[..100_000].to_vec();
    std::fs::write(d.join("row.npy"), npy_bytes(&[100_000], &row, false)).unwrap();
    check(
        "1-d",
        npy_source(&d.join("row.npy"), &[]),
        &Grid::new(1, 100_000, row).unwrap(),
    );
    // A .safetensors tensor, whole and sliced.
    write_safetensors(&d.join("one.safetensors"), &[("acts", &[3, 1200, 333], &cube)]);
    let file = actmap::input::SafetensorsFile::open(&d.join("one.safetensors")).unwrap();
    let slice =
        actmap::input::ArraySlice::safetensors(&file, &file.tensors[0], &Pick::Leading(&[1])).unwrap();
    check("safetensors", StreamedGrid::of_array(slice), &g);
    // .npz members, stored and deflated; a deflated slice after others.
    for deflated in [false, true] {
        let npz = d.join(format!("a{deflated}.npz"));
        write_npz(
            &npz,
            &[
                ("first", npy_bytes(&[1200, 333], others[3].data(), false)),
                ("cube", npy_bytes(&[3, 1200, 333], &cube, false)),
            ],
            deflated,
        );
        for (key, index, want) in [("cube", &[1usize][..], &g), ("first", &[][..], &others[3])] {
            let slice = actmap::input::ArraySlice::npz(&npz, key, &Pick::Leading(index))
                .unwrap()
                .unwrap();
            assert_eq!(
                matches!(slice.storage, actmap::input::slice::Storage::Deflated { .. }),
                deflated
            );
            check(
                &format!("npz-{key}-deflated-{deflated}"),
                StreamedGrid::of_array(slice),
                want,
            );
        }
    }
}

/// Rows from memory, as a run log's reader would hand them out.
struct VecRows {
    data: Arc<Vec<f32>>,
    cols: usize,
    next: usize,
}

impl RowSource for VecRows {
    fn rows(&self) -> usize {
        self.data.len() / self.cols
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn position(&self) -> usize {
        self.next
    }
    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> actmap::Result<usize> {
        let n = max_rows.min(self.rows() - self.next);
        out.clear();
        out.extend_from_slice(&self.data[self.next * self.cols..(self.next + n) * self.cols]);
        self.next += n;
        Ok(n)
    }
}

#[test]
fn any_row_source_plugs_in_with_steps_as_coordinates() {
    let g = test_grid();
    let data = Arc::new(g.data().to_vec());
    let cols = g.cols();
    let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = opened.clone();
    let open: RowSourceFactory = Arc::new(move || -> actmap::Result<Box<dyn RowSource>> {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(Box::new(VecRows {
            data: data.clone(),
            cols,
            next: 0,
        }))
    });
    let grid = StreamedGrid::new(
        "run.zarr",
        StreamFormat::rows("channel 'act'", open.clone()),
        g.rows(),
        cols,
    );
    let src = GridSource::Streamed(Arc::new(grid.clone()));
    let all = Aggregate::ALL;
    assert_same_pictures(
        "rows-steps",
        &g,
        &src,
        None,
        Some(steps(g.rows())),
        &all,
        &[false, true],
    );
    assert!(opened.load(std::sync::atomic::Ordering::SeqCst) > 0);
    // Transposed: steps along x.
    let t = GridSource::Streamed(Arc::new(grid.transpose()));
    assert_same_pictures(
        "rows-transposed",
        &g.transposed(),
        &t,
        Some(steps(g.rows())),
        None,
        &[Aggregate::Extreme],
        &[false],
    );
    // A reader that does not hold the rows promised is an error naming both.
    let wrong = StreamedGrid::new(
        "run.zarr",
        StreamFormat::rows("channel 'act'", open),
        g.rows() + 1,
        cols,
    );
    let e = renderer_on(ReduceOn::Cpu)
        .render_figure(&figure(
            GridSource::Streamed(Arc::new(wrong)),
            Aggregate::Extreme,
            false,
        ))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("run.zarr") && e.contains("channel 'act'") && e.contains("2501 x 700"),
        "{e}"
    );
}

/// Every PNG under `dir`, by name, with its pixels.
fn pictures(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, image::open(&p).unwrap().to_rgba8().into_raw())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn cli_streams_every_variant_to_the_in_memory_figure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = small_grid(9);
    write_npy(&d.join("g.npy"), &g);
    let cube: Vec<f32> = [small_grid(3), g.clone()]
        .iter()
        .flat_map(|x| x.data().to_vec())
        .collect();
    std::fs::write(d.join("cube.npy"), npy_bytes(&[2, 1200, 333], &cube, false)).unwrap();
    std::fs::write(
        d.join("f.npy"),
        npy_bytes(&[1200, 333], &fortran_order(&[1200, 333], g.data()), true),
    )
    .unwrap();
    write_safetensors(&d.join("one.safetensors"), &[("acts", &[2, 1200, 333], &cube)]);
    write_npz(
        &d.join("z.npz"),
        &[("acts", npy_bytes(&[2, 1200, 333], &cube, false))],
        true,
    );
    let steps: Vec<String> = steps(1200).iter().map(|s| s.to_string()).collect();
    std::fs::write(d.join("steps.csv"), steps.join("\n")).unwrap();
    let run = |args: &[&str], policy: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args(args)
            .current_dir(d)
            .env("ACTMAP_STREAM", policy)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?} {policy}: {}", stderr(&o));
        image::open(d.join("out.png")).unwrap().to_rgba8()
    };
    let cases: [&[&str]; 5] = [
        &["g.npy", "--transpose"],
        &["g.npy", "--y-coords", "steps.csv", "--origin", "lower"],
        &["g.npy", "--transpose", "--x-coords", "steps.csv", "--agg", "max"],
        &["cube.npy", "--index", "1"],
        &["f.npy", "--y-coords", "steps.csv"],
    ];
    for case in cases {
        let mut args = vec!["render"];
        args.extend_from_slice(case);
        args.extend_from_slice(&["-o", "out.png", "--size", "640x400"]);
        assert!(
            run(&args, "always") == run(&args, "never"),
            "{case:?}: streamed and in-memory figures differ"
        );
    }

    // Batch: the multi-tensor files numpy and safetensors wrote, every
    // tensor and slice streamed or loaded: the same figures, the same failures.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/batch");
    for f in [
        "acts.safetensors",
        "attn.npz",
        "attn_compressed.npz",
        "corrupt.npz",
    ] {
        std::fs::copy(fixtures.join(f), d.join(f)).unwrap();
    }
    // Line charts of several rows of a streamed tensor are read into memory:
    // the same figures as loading them.
    let rows: Vec<f32> = small_grid(4).data()[..60_000].to_vec();
    write_npz(
        &d.join("rows.npz"),
        &[("acts", npy_bytes(&[3, 20_000], &rows, false))],
        false,
    );
    let mut lines = Vec::new();
    for policy in ["always", "never"] {
        let out = format!("lines-{policy}");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args([
                "render", "rows.npz", "--kind", "line", "-o", &out, "--size", "600x300", "-q",
            ])
            .current_dir(d)
            .env("ACTMAP_STREAM", policy)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        lines.push(pictures(&d.join(&out)));
    }
    assert_eq!(lines[0].len(), 1);
    assert!(lines[0] == lines[1], "streamed and loaded line charts differ");
    let mut results = Vec::new();
    for (policy, transpose) in [
        ("always", false),
        ("never", false),
        ("always", true),
        ("never", true),
    ] {
        let out = format!("batch-{policy}-{transpose}");
        let mut args = vec![
            "render",
            "acts.safetensors",
            "attn.npz",
            "attn_compressed.npz",
            "corrupt.npz",
            "one.safetensors",
            "z.npz",
            "--split",
            "0",
            "-o",
            &out,
            "--size",
            "400x300",
            "-q",
        ];
        if transpose {
            args.push("--transpose");
        }
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args(&args)
            .current_dir(d)
            .env("ACTMAP_STREAM", policy)
            .output()
            .unwrap();
        let failures: Vec<String> = stderr(&o)
            .lines()
            .filter(|l| l.contains("failed:"))
            .map(String::from)
            .collect();
        results.push((o.status.code(), failures, pictures(&d.join(&out))));
    }
    assert!(
        results[0].2.len() >= 8,
        "{:?}",
        results[0].2.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    assert_eq!(results[0].0, results[1].0);
    assert_eq!(
        results[0].1, results[1].1,
        "the same inputs fail, with the same words"
    );
    let names = |r: &[(String, Vec<u8>)]| r.iter().map(|p| p.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&results[0].2), names(&results[1].2));
    for (a, b) in results[0].2.iter().zip(&results[1].2) {
        assert!(a.1 == b.1, "{}: streamed and loaded batch figures differ", a.0);
    }
}

#[test]
fn long_lines_stream_to_the_in_memory_chart() {
    use actmap::layout::{LineLayer, Series, StreamedSeries};
    let dir = tempfile::tempdir().unwrap();
    for (n, mark_top) in [(300_000usize, 5usize), (700, 3)] {
        let mut x = 11u64;
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 6.0 - 3.0
            })
            .collect();
        v[n / 3] = 28.0;
        v[n / 2] = -35.0;
        v[n / 5] = f32::NAN;
        v[n / 5 + 1] = f32::NAN;
        v[2 * n / 3] = f32::INFINITY;
        let path = dir.path().join(format!("line{n}.npy"));
        std::fs::write(&path, npy_bytes(&[n], &v, false)).unwrap();
        let slice = npy_source(&path, &[]);
        let chart = |series: Series| {
            let mut p = Panel::lines(LineLayer {
                series: vec![series],
                mark_top,
                line_width: None,
            });
            p.title = Some("neurons".into());
            Figure::single(p, 900, 500)
        };
        let memory = chart(Series::of(v.clone()));
        let streamed = chart(Series {
            values: Arc::new(Vec::new()),
            streamed: Some(Arc::new(StreamedSeries {
                path: path.clone(),
                format: slice.format.clone(),
                len: n,
                summary: None,
            })),
            ..Series::of(Vec::new())
        });
        let r = renderer_on(ReduceOn::Cpu);
        let want = r.render_figure(&memory).unwrap();
        let got = r.render_figure(&streamed).unwrap();
        assert_eq!(
            got.layout.panels[0].plot, want.layout.panels[0].plot,
            "{n} points"
        );
        assert_eq!(got.layout.panels[0].stats.max, 28.0);
        let bad = want
            .image
            .pixels()
            .zip(got.image.pixels())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(bad, 0, "{n} points: {bad} pixels differ");
    }
    // The CLI streams a long 1-D line: the same PNG as loaded.
    let d = dir.path();
    let run = |policy: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args([
                "render",
                "line300000.npy",
                "--kind",
                "line",
                "--mark-top",
                "4",
                "-o",
                "l.png",
                "--size",
                "800x400",
            ])
            .current_dir(d)
            .env("ACTMAP_STREAM", policy)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        image::open(d.join("l.png")).unwrap().to_rgba8()
    };
    assert!(
        run("always") == run("never"),
        "streamed and loaded line charts differ"
    );
}
