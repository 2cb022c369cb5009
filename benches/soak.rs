//! Soak: `actmap serve` (release build, lavapipe) for a long time with 20
//! WebSocket clients that ack every frame as the page does, while a trainer
//! grows the run over TCP (rows of 1024 at a steady rate). Every interval
//! it samples the server's resident memory and threads (from /proc) and the
//! frames/s all clients got, and prints a Markdown table; the first and last
//! rows are the start and the end. `bash benches/soak.sh` runs it (10
//! minutes by default); under `cargo test` it does nothing.
//!
//! The clients are plain WebSocket clients (tungstenite), not browsers: 20
//! Chromiums would not fit a 2-core machine, and the server does the same
//! work for either (it draws and encodes; the page only shows).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

const COLS: usize = 1024;

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn row(r: usize) -> Vec<f32> {
    (0..COLS)
        .map(|c| ((r as f32) * 0.02 + c as f32 * 0.01).sin())
        .collect()
}

/// (resident KiB, threads) of process `pid`.
fn proc_status(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

/// One client: connect as the page does, say its size, ack every frame.
fn client(url: String, addr: String, frames: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let token = url.rsplit("token=").next().unwrap().to_string();
    let mut req = format!("ws://{addr}/ws?token={token}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", format!("http://{addr}").parse().unwrap());
    let stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let (mut ws, _) = tungstenite::client(req, stream).expect("WebSocket handshake");
    let size = serde_json::json!({"t": "size", "w": 640, "h": 360, "dpr": 1});
    ws.send(Message::Text(size.to_string().into())).unwrap();
    while !stop.load(Ordering::Relaxed) {
        match ws.read() {
            Ok(Message::Binary(b)) if b.len() >= 8 => {
                let seq = u32::from_le_bytes(b[4..8].try_into().unwrap());
                frames.fetch_add(1, Ordering::Relaxed);
                let ack = serde_json::json!({"t": "ack", "seq": seq});
                if ws.send(Message::Text(ack.to_string().into())).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                eprintln!("soak: a client was dropped: {e}");
                break;
            }
        }
    }
    let _ = ws.close(None);
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs = env_f64("ACTMAP_SOAK_SECS", 600.0);
    let clients = env_f64("ACTMAP_SOAK_CLIENTS", 20.0) as usize;
    let rate = env_f64("ACTMAP_SOAK_RATE", 50.0);
    let every = env_f64("ACTMAP_SOAK_EVERY", (secs / 10.0).clamp(5.0, 60.0));
    let mut server = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args([
            "serve",
            "tcp://127.0.0.1:0",
            "--bind",
            "127.0.0.1:0",
            "--cols",
            &COLS.to_string(),
            "--max-clients",
            &clients.to_string(),
            "--title",
            "soak",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start actmap serve");
    let pid = server.id();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = server.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let (mut source, mut url) = (String::new(), String::new());
    while source.is_empty() || url.is_empty() {
        let l = rx.recv_timeout(Duration::from_secs(120)).expect("server start");
        if let Some(a) = l.strip_prefix("listening on tcp://") {
            source = a.trim().to_string();
        }
        if let Some(u) = l.strip_prefix("actmap: serving ") {
            url = u.trim().to_string();
        }
    }
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let frames = Arc::new(AtomicU64::new(0));
    let rows = Arc::new(AtomicU64::new(0));
    // The trainer: a run that grows for the whole soak.
    let writer = {
        let (stop, rows) = (stop.clone(), rows.clone());
        std::thread::spawn(move || {
            let mut sock = TcpStream::connect(&source).unwrap();
            let start = Instant::now();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                if let Some(w) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
                let frame = actmap::live::FrameDecoder::encode("acts", 1, COLS, &row(i));
                if sock.write_all(&frame).is_err() {
                    break;
                }
                i += 1;
                rows.store(i as u64, Ordering::Relaxed);
            }
        })
    };
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (url, addr, frames, stop) = (url.clone(), addr.clone(), frames.clone(), stop.clone());
            std::thread::spawn(move || client(url, addr, frames, stop))
        })
        .collect();
    println!(
        "soak: {clients} clients, {rate} rows/s of {COLS}, {secs} s, a sample every {every} s (server pid {pid})\n"
    );
    println!(
        "| t (s) | rows in the run | server RSS (MiB) | server threads | frames/s (all clients) | frames/s per client |"
    );
    println!("|---|---|---|---|---|---|");
    let start = Instant::now();
    let (mut last_t, mut last_frames) = (0.0, 0u64);
    let mut samples = Vec::new();
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(Duration::from_secs_f64(
            every.min(secs - start.elapsed().as_secs_f64()).max(0.1),
        ));
        let t = start.elapsed().as_secs_f64();
        let f = frames.load(Ordering::Relaxed);
        let fps = (f - last_frames) as f64 / (t - last_t);
        let (rss, nthreads) = proc_status(pid);
        println!(
            "| {t:.0} | {} | {:.1} | {nthreads} | {fps:.1} | {:.2} |",
            rows.load(Ordering::Relaxed),
            rss as f64 / 1024.0,
            fps / clients as f64
        );
        samples.push((rss, fps));
        (last_t, last_frames) = (t, f);
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let _ = writer.join();
    let alive = server.try_wait().ok().flatten().is_none();
    let _ = server.kill();
    let _ = server.wait();
    if let (Some(a), Some(b)) = (samples.first(), samples.last()) {
        println!(
            "\nstart: {:.1} MiB, {:.1} frames/s; end: {:.1} MiB, {:.1} frames/s; server {} at the end",
            a.0 as f64 / 1024.0,
            a.1,
            b.0 as f64 / 1024.0,
            b.1,
            if alive { "still running" } else { "had exited" }
        );
    }
}
