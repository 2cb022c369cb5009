//! Phases of `actmap render` on a 20000 x 4096 f32 grid (328 MB) into a
//! 1920x1080 image: load (.npy from disk), stats (range for the norm),
//! upload (grid -> R32Float tiles), render+readback, PNG encode.
//!
//! The `stream_*` group compares the out-of-core pass (stats + row
//! reduction while reading the file in blocks) on the CPU and as a GPU
//! compute pass, the `startup` group the pieces of a cold start, and the
//! `csv` group CSV parsing, sequential against parallel
//! (`cargo bench --bench phases -- csv`), and against the `csv` crate's
//! tokeniser.
//!
//! The `live_frame` group times one browser-view frame at 1280x720 (a
//! 2048-row history of 1024 noisy columns): building the frame (snapshot,
//! figure, layout), drawing it offscreen with readback, and encoding it as
//! PNG (fast, RGB or RGBA) or lossless WebP, with the bytes each makes
//! (`cargo bench --bench phases -- live_frame`).
//!
//! Run: `cargo bench --bench phases` (set ACTMAP_BENCH_ROWS to change the size).

use std::hint::black_box;
use std::time::Duration;

use actmap::gpu::{GpuContext, GridTexture};
use actmap::layout::StreamedGrid;
use actmap::render::stream::{PassSpans, ReduceOn, pixel_pass, stats_pass};
use actmap::scale::aggregate::AxisSpans;
use actmap::{Aggregate, Grid, NormSpec, RenderOptions, Renderer, Stats, input, sink};
use criterion::{Criterion, criterion_group, criterion_main};

fn make_grid(rows: usize, cols: usize) -> Grid {
    let mut rng = actmap::export::demo::Rng::new(42);
    let mut g = Grid::from_fn(rows, cols, |_, _| rng.uniform() * 6.0 - 3.0).expect("shape");
    let _ = &mut g;
    let mut data = g.into_data();
    // Six outlier neurons, as in the README's truthfulness example.
    for (i, c) in [17usize, 900, 1555, 2450, 3001, 4000].into_iter().enumerate() {
        data[(i * 3331 % rows) * cols + c] = if i % 2 == 0 { 28.0 } else { -35.0 };
    }
    Grid::new(rows, cols, data).expect("shape")
}

fn phases(c: &mut Criterion) {
    let rows: usize = std::env::var("ACTMAP_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let cols = 4096;
    let grid = make_grid(rows, cols);
    let dir = tempfile::tempdir().expect("tempdir");
    let npy = dir.path().join("grid.npy");
    sink::write_npy_f32(&npy, &[rows, cols], grid.data()).expect("write npy");

    let renderer = Renderer::new().expect("GPU adapter (install mesa-vulkan-drivers)");
    eprintln!("adapter: {}", renderer.context().describe());
    let opts = RenderOptions {
        width: 1920,
        height: 1080,
        ..Default::default()
    };
    let stats = Stats::of(grid.data());
    let norm = NormSpec::default().resolve(grid.data(), &stats).expect("norm");
    let texture = GridTexture::upload(renderer.context(), &grid).expect("upload");
    let image = renderer.draw(&texture, &norm, &opts).expect("draw");

    let mut g = c.benchmark_group(format!("phases_{rows}x{cols}"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    g.bench_function("load_npy", |b| {
        b.iter(|| black_box(input::load(&npy, &Default::default()).expect("load")))
    });
    g.bench_function("stats_and_norm", |b| {
        b.iter(|| {
            let s = Stats::of(grid.data());
            black_box(NormSpec::default().resolve(grid.data(), &s).expect("norm"))
        })
    });
    g.bench_function("upload", |b| {
        b.iter(|| black_box(GridTexture::upload(renderer.context(), &grid).expect("upload")))
    });
    g.bench_function("render_readback_1920x1080", |b| {
        b.iter(|| black_box(renderer.draw(&texture, &norm, &opts).expect("draw")))
    });
    g.bench_function("encode_png_1920x1080", |b| {
        b.iter(|| {
            let mut buf = Vec::with_capacity(4 << 20);
            sink::encode_png(&image, &mut buf).expect("encode");
            black_box(buf)
        })
    });
    g.finish();

    // Out-of-core: one pass over the file, reduced to a 1031-row plot (the
    // plot height of a 1920x1080 figure), on each side.
    let mut g = c.benchmark_group(format!("stream_{rows}x{cols}"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    let header = input::npy::read_npy_header(&npy).expect("header");
    let slice = input::ArraySlice::npy(&npy, &header, &input::Pick::Leading(&[])).expect("slice");
    let plain = StreamedGrid::of_array(slice);
    let transposed = plain.clone().transpose();
    for (name, on) in [("cpu", ReduceOn::Cpu), ("gpu_compute", ReduceOn::Gpu)] {
        g.bench_function(format!("summarise_{name}"), |b| {
            b.iter(|| {
                let spans = PassSpans {
                    along: AxisSpans::uniform(rows as u32, 1031),
                    across: None,
                };
                black_box(
                    pixel_pass(
                        Some(renderer.context()),
                        &plain,
                        spans,
                        Aggregate::Extreme,
                        Some(false),
                        on,
                    )
                    .expect("pass"),
                )
            })
        });
    }
    // Transposed: the statistics first, then the rows folded into 1700
    // pixel columns with the 1031 pixel rows known.
    g.bench_function("stats_only", |b| {
        b.iter(|| black_box(stats_pass(&transposed, false).expect("stats")))
    });
    g.bench_function("transposed_pixels_cpu", |b| {
        b.iter(|| {
            let spans = PassSpans {
                along: AxisSpans::uniform(rows as u32, 1700),
                across: Some(AxisSpans::uniform(cols as u32, 1031)),
            };
            black_box(
                pixel_pass(None, &transposed, spans, Aggregate::Extreme, None, ReduceOn::Cpu).expect("pass"),
            )
        })
    });
    g.finish();
}

/// What a cold start costs: GPU context (instance, adapter, device), the
/// pipelines, the embedded font.
fn startup(c: &mut Criterion) {
    let mut g = c.benchmark_group("startup");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("gpu_context", |b| {
        b.iter(|| black_box(GpuContext::new().expect("adapter")))
    });
    let ctx = std::sync::Arc::new(GpuContext::new().expect("adapter"));
    g.bench_function("pipelines", |b| {
        b.iter(|| black_box(Renderer::with_context(ctx.clone())))
    });
    g.bench_function("font_parse", |b| {
        b.iter(|| black_box(actmap::text::Font::from_bytes(actmap::text::DEJAVU_SANS).expect("font")))
    });
    g.finish();
}

/// CSV parsing in memory: the sequential parser against the parallel one
/// (all cores), on a tall and a wide table.
fn csv(c: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("csv");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    for (rows, cols) in [(300_000usize, 12usize), (20_000, 512)] {
        let mut rng = actmap::export::demo::Rng::new(7);
        let mut text = String::with_capacity(rows * cols * 10);
        for _ in 0..rows {
            for c in 0..cols {
                if c > 0 {
                    text.push(',');
                }
                text.push_str(&format!("{:.5}", rng.uniform() * 6.0 - 3.0));
            }
            text.push('\n');
        }
        let path = std::path::Path::new("bench.csv");
        let opts = input::CsvOptions::default();
        eprintln!("csv {rows}x{cols}: {} MB, {threads} threads", text.len() >> 20);
        for (name, t) in [("sequential", 1), ("parallel", threads)] {
            g.bench_function(format!("parse_{rows}x{cols}_{name}"), |b| {
                b.iter(|| {
                    black_box(input::csv::parse_csv_threads(text.as_bytes(), path, &opts, t).expect("parse"))
                })
            });
        }
        // The `csv` crate doing the tokenising, with the same number
        // parsing (`str::parse::<f32>`) and nothing else (no detection, no
        // labels, no threads): the least a `csv`-crate parser would cost.
        g.bench_function(format!("parse_{rows}x{cols}_csv_crate"), |b| {
            b.iter(|| {
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(text.as_bytes());
                let mut record = csv::ByteRecord::new();
                let mut out: Vec<f32> = Vec::with_capacity(rows * cols);
                while r.read_byte_record(&mut record).expect("record") {
                    for f in record.iter() {
                        let s = std::str::from_utf8(f).expect("utf-8");
                        out.push(s.trim().parse::<f32>().unwrap_or(f32::NAN));
                    }
                }
                black_box(out)
            })
        });
    }
    g.finish();
}

#[cfg(feature = "serve")]
fn live_frame(c: &mut Criterion) {
    use actmap::live::{Controller, ControllerOptions, LiveDrawer, LiveStore, StoreOptions};
    use actmap::serve::{FrameFormat, encode_frame};
    use std::sync::Arc;

    let store = Arc::new(LiveStore::new(StoreOptions::default()).expect("store"));
    let mut rng = actmap::export::demo::Rng::new(7);
    for r in 0..2048 {
        let row: Vec<f32> = (0..1024)
            .map(|c| ((r as f32 * 0.02 + c as f32 * 0.01).sin()) + 0.6 * (rng.uniform() - 0.5))
            .collect();
        store.push_rows("acts", 1024, &row).expect("push");
    }
    let renderer = Renderer::new().expect("GPU adapter");
    let mut control = Controller::new(
        store.clone(),
        ControllerOptions {
            chrome: false,
            width: 1280,
            height: 720,
            ..Default::default()
        },
    );
    let mut drawer = LiveDrawer::new(2048);
    let frame = control.frame().expect("frame");
    let image = drawer.draw_image(&renderer, &mut frame.clone()).expect("draw");
    let rgba_png = {
        let mut v = Vec::new();
        sink::encode_png(&image, &mut v).expect("png");
        v.len()
    };
    let rgb_png = encode_frame(&image, FrameFormat::Png).expect("png").len();
    let webp = encode_frame(&image, FrameFormat::WebP).expect("webp").len();
    eprintln!(
        "live_frame 1280x720 noisy bytes: PNG fast RGB {rgb_png}, PNG fast RGBA {rgba_png}, lossless WebP {webp}"
    );
    // The same history without the noise: smooth waves compress better.
    let smooth_store = Arc::new(LiveStore::new(StoreOptions::default()).expect("store"));
    for r in 0..2048 {
        let row: Vec<f32> = (0..1024)
            .map(|c| (r as f32 * 0.02 + c as f32 * 0.01).sin())
            .collect();
        smooth_store.push_rows("acts", 1024, &row).expect("push");
    }
    let mut smooth_control = Controller::new(
        smooth_store,
        ControllerOptions {
            chrome: false,
            width: 1280,
            height: 720,
            ..Default::default()
        },
    );
    let mut smooth_frame = smooth_control.frame().expect("frame");
    let smooth = LiveDrawer::new(2048)
        .draw_image(&renderer, &mut smooth_frame)
        .expect("draw");
    eprintln!(
        "live_frame 1280x720 smooth bytes: PNG fast RGB {}, lossless WebP {}",
        encode_frame(&smooth, FrameFormat::Png).expect("png").len(),
        encode_frame(&smooth, FrameFormat::WebP).expect("webp").len()
    );

    let mut g = c.benchmark_group("live_frame_1280x720");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function("build_frame", |b| {
        b.iter(|| {
            control.mark_dirty();
            black_box(control.frame().expect("frame"))
        })
    });
    g.bench_function("draw_offscreen_readback", |b| {
        b.iter(|| black_box(drawer.draw_image(&renderer, &mut frame.clone()).expect("draw")))
    });
    g.bench_function("encode_png_fast_rgb", |b| {
        b.iter(|| black_box(encode_frame(&image, FrameFormat::Png).expect("png")))
    });
    g.bench_function("encode_png_fast_rgba", |b| {
        b.iter(|| {
            let mut v = Vec::new();
            sink::encode_png(&image, &mut v).expect("png");
            black_box(v)
        })
    });
    g.bench_function("encode_webp_lossless", |b| {
        b.iter(|| black_box(encode_frame(&image, FrameFormat::WebP).expect("webp")))
    });
    g.bench_function("encode_png_fast_rgb_smooth", |b| {
        b.iter(|| black_box(encode_frame(&smooth, FrameFormat::Png).expect("png")))
    });
    g.bench_function("encode_webp_lossless_smooth", |b| {
        b.iter(|| black_box(encode_frame(&smooth, FrameFormat::WebP).expect("webp")))
    });
    g.finish();
}

#[cfg(not(feature = "serve"))]
fn live_frame(_: &mut Criterion) {}

criterion_group!(benches, phases, startup, csv, live_frame);
criterion_main!(benches);
