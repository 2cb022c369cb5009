//! End to end: `actmap serve` (release build) with 1 and 4 headless
//! Chromium pages watching a 1280x720 canvas, while a trainer writes rows
//! over TCP at a steady rate. Measured: the time from a row written by the
//! trainer to the first frame drawn on a page's canvas that contains it
//! (median and 95th percentile over every row and every page), frames/s per
//! page, bytes per frame, and the server's draw and encode times (its `-v`
//! lines). `bash benches/serve.sh` runs it (`cargo bench --bench serve`);
//! under `cargo test` it does nothing.
//!
//! Both clocks are the machine's wall clock: the writer's `SystemTime` and
//! the page's `performance.timeOrigin + performance.now()` taken right after
//! `drawImage` returns.

#[path = "../tests/common/cdp.rs"]
#[allow(dead_code)]
mod cdp;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cdp::Browser;

/// Columns per row.
const COLS: usize = 1024;
/// Canvas size (the page's side bar and status line come on top).
const CANVAS: (u32, u32) = (1280, 720);

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// A row of activation-like values: slow waves plus deterministic noise.
fn row(r: usize) -> Vec<f32> {
    (0..COLS)
        .map(|c| {
            let mut h = (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (c as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
            h ^= h >> 29;
            h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h ^= h >> 32;
            let noise = (h % 10_000) as f32 / 10_000.0 - 0.5;
            (r as f32 * 0.02 + c as f32 * 0.01).sin() + 0.6 * noise
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

struct Outcome {
    latencies: Vec<f64>,
    fps: Vec<f64>,
    bytes_per_frame: f64,
    draw_ms: f64,
    encode_ms: f64,
    rows: usize,
}

fn run(browsers: usize, rate: f64, secs: f64, format: &str) -> Outcome {
    let mut server = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args([
            "serve",
            "tcp://127.0.0.1:0",
            "--bind",
            "127.0.0.1:0",
            "--cols",
            &COLS.to_string(),
            "--frame-format",
            format,
            "--title",
            "bench",
            "-v",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start actmap serve");
    let err = server.stderr.take().unwrap();
    let (tx, rx) = channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut log = Vec::new();
    let (mut source, mut url) = (String::new(), String::new());
    while source.is_empty() || url.is_empty() {
        let l = rx.recv_timeout(Duration::from_secs(60)).expect("server start");
        if let Some(a) = l.strip_prefix("listening on tcp://") {
            source = a.trim().to_string();
        }
        if let Some(u) = l.strip_prefix("actmap: serving ") {
            url = u.trim().to_string();
        }
        log.push(l);
    }
    // Pages whose canvas is 1280x720: the side bar takes 230 px, the
    // status line 24 px.
    let mut pages: Vec<Browser> = (0..browsers)
        .map(|_| Browser::launch(CANVAS.0 + 230, CANVAS.1 + 24, 1.0))
        .collect();
    for b in &mut pages {
        b.navigate(&url);
    }
    let mut sock = std::net::TcpStream::connect(&source).unwrap();
    sock.set_nodelay(true).unwrap();
    // A first row so every page has a frame, then the timed stream.
    sock.write_all(&actmap::live::FrameDecoder::encode("acts", 1, COLS, &row(0)))
        .unwrap();
    for b in &mut pages {
        b.wait_for(
            "window.actmap && window.actmap.last && window.actmap.last.rows >= 1",
            180,
        );
        let (_, _, w, h) = b.rect("#view");
        assert_eq!((w as u32, h as u32), CANVAS, "canvas size");
        b.eval("window.actmap.log = []; window.actmap.frames = 0; window.actmap.bytes = 0; 0");
    }
    let n = (rate * secs) as usize;
    let mut written = vec![0.0f64; n + 1];
    let start = Instant::now();
    for (i, slot) in written.iter_mut().enumerate().skip(1) {
        let due = start + Duration::from_secs_f64((i - 1) as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let frame = actmap::live::FrameDecoder::encode("acts", 1, COLS, &row(i));
        *slot = now_ms();
        sock.write_all(&frame).unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    for b in &mut pages {
        b.wait_for(&format!("window.actmap.last.rows >= {}", n + 1), 180);
    }
    let mut latencies = Vec::new();
    let mut fps = Vec::new();
    let (mut frames, mut bytes) = (0.0, 0.0);
    for b in &mut pages {
        let frames_log = b.eval("window.actmap.log.map(f => [f.rows, f.t])");
        let drawn: Vec<(usize, f64)> = frames_log
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f[0].as_u64().unwrap() as usize, f[1].as_f64().unwrap()))
            .collect();
        // Row i (1-based count i + 1 rows) is on the canvas with the first
        // frame showing more than i rows.
        let mut next = 0;
        for (i, &t) in written.iter().enumerate().skip(1) {
            while next < drawn.len() && drawn[next].0 <= i {
                next += 1;
            }
            if let Some(&(_, shown)) = drawn.get(next) {
                latencies.push(shown - t);
            }
        }
        let in_window = drawn.iter().filter(|f| f.1 <= written[n]).count();
        fps.push(in_window as f64 / elapsed);
        frames += b.eval("window.actmap.frames").as_f64().unwrap();
        bytes += b.eval("window.actmap.bytes").as_f64().unwrap();
    }
    drop(pages);
    let _ = server.kill();
    let _ = server.wait();
    while let Ok(l) = rx.try_recv() {
        log.push(l);
    }
    let field = |l: &str, key: &str| -> Option<f64> {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.trim_end_matches("ms").parse().ok())
    };
    let frame_lines: Vec<&String> = log.iter().filter(|l| l.contains(" frame ")).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    };
    let draw_ms = median(frame_lines.iter().filter_map(|l| field(l, "draw=")).collect());
    let encode_ms = median(frame_lines.iter().filter_map(|l| field(l, "encode=")).collect());
    latencies.sort_by(f64::total_cmp);
    Outcome {
        latencies,
        fps,
        bytes_per_frame: bytes / frames.max(1.0),
        draw_ms,
        encode_ms,
        rows: n,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("benches/serve.rs: run it with `bash benches/serve.sh` (cargo bench --bench serve)");
        return;
    }
    let secs: f64 = std::env::var("ACTMAP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let rate: f64 = std::env::var("ACTMAP_BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100.0);
    println!(
        "{COLS}-column rows at {rate} rows/s for {secs} s into `actmap serve` (release), \
         canvas {}x{}, headless Chromium pages on the same machine",
        CANVAS.0, CANVAS.1
    );
    println!();
    println!(
        "| pages | frames | row -> canvas median | p95 | frames/s per page | bytes per frame | server draw | encode |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (browsers, format) in [(1, "png"), (4, "png"), (1, "webp"), (4, "webp")] {
        let o = run(browsers, rate, secs, format);
        let fps = o.fps.iter().sum::<f64>() / o.fps.len() as f64;
        println!(
            "| {browsers} | {format} | {:.0} ms | {:.0} ms | {fps:.1} | {:.0} kB | {:.1} ms | {:.1} ms |",
            percentile(&o.latencies, 0.5),
            percentile(&o.latencies, 0.95),
            o.bytes_per_frame / 1e3,
            o.draw_ms,
            o.encode_ms,
        );
        eprintln!(
            "({browsers} {format}: {} rows, {} latency samples)",
            o.rows,
            o.latencies.len()
        );
    }
}
