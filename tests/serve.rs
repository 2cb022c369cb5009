//! The browser view, for real: `actmap serve` runs as a user starts it,
//! rows go in through its source, and a real headless Chromium (driven over
//! the DevTools protocol) opens the printed URL. The canvas must show the
//! headless render of the same view (golden tolerance); wheel zoom, keys,
//! hover and the download go through the browser as a user's input; two
//! browsers watch a writer at once, each with its own view.

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use actmap::layout::layout_figure;
use actmap::live::view::{hit, hover_text};
use actmap::live::{LiveStore, LiveView, StoreOptions};
use actmap::text::Font;
use common::cdp::Browser;
use common::golden::{MEAN_DELTA_E, OUTLIER_FRACTION, compare};
use common::live::{row, stderr_lines, text_row, view_for, wait_for_line};
use image::RgbaImage;

/// `actmap serve` with its stderr lines delivered to a channel.
struct Serve {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
    url: String,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_actmap"))
            .arg("serve")
            .args(args)
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start actmap serve");
        let rx = stderr_lines(&mut child);
        let mut s = Serve {
            child,
            lines: rx,
            log: Vec::new(),
            url: String::new(),
        };
        let line = s.wait_for("actmap: serving ");
        s.url = line.rsplit(' ').next().unwrap().to_string();
        s
    }

    /// Wait for a stderr line containing `needle`; returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        if let Some(l) = self.log.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        wait_for_line(
            &mut self.child,
            &self.lines,
            &mut self.log,
            needle,
            "actmap serve",
        )
    }

    /// `http://127.0.0.1:PORT`
    #[allow(dead_code)]
    fn base(&self) -> String {
        self.url.split("/?").next().unwrap().to_string()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shots_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The headless render of `view` on `store` at `w x h`.
fn expected(store: &LiveStore, view: &mut LiveView, w: u32, h: u32) -> RgbaImage {
    let (fig, _) = view
        .figure(&store.snapshot(), w, h)
        .unwrap()
        .expect("data to draw");
    common::renderer().render_figure(&fig).unwrap().image
}

/// Screenshot the canvas until it equals `want` within the golden
/// tolerance; panics with both images saved.
fn assert_canvas_shows(b: &mut Browser, want: &RgbaImage, what: &str) -> RgbaImage {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        let (x, y, w, h) = b.rect("#view");
        let shot = b.screenshot(x, y, w, h);
        if let Some((mean, frac)) = compare(&shot, want)
            && mean <= MEAN_DELTA_E
            && frac <= OUTLIER_FRACTION
        {
            shot.save(shots_dir().join(format!("{what}.png"))).unwrap();
            return shot;
        }
        last = Some(shot);
        std::thread::sleep(Duration::from_millis(150));
    }
    let dir = shots_dir();
    want.save(dir.join(format!("{what}-expected.png"))).unwrap();
    let shot = last.expect("a screenshot");
    shot.save(dir.join(format!("{what}-browser.png"))).unwrap();
    panic!(
        "{what}: the browser's canvas differs from the headless render: {:?} (mean ΔE, fraction ΔE>10; sizes {:?} vs {:?}); images in {}",
        compare(&shot, want),
        shot.dimensions(),
        want.dimensions(),
        dir.display()
    );
}

/// Frames drawn by the page so far.
fn frames(b: &mut Browser) -> u64 {
    b.eval("window.actmap ? window.actmap.frames : 0")
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn the_page_shows_the_headless_render_and_takes_wheel_keys_hover_and_download() {
    let mut s = Serve::start(&[
        "tcp://127.0.0.1:0",
        "--bind",
        "127.0.0.1:0",
        "--title",
        "serve test",
    ]);
    let line = s.wait_for("listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    for r in 0..200 {
        sock.write_all(text_row(r, 32).as_bytes()).unwrap();
        store.push_rows("", 32, &row(r, 32)).unwrap();
    }
    sock.flush().unwrap();

    let mut b = Browser::launch(1000, 700, 1.0);
    let downloads = tempfile::tempdir().unwrap();
    b.allow_downloads(downloads.path());
    b.navigate(&s.url);
    b.wait_for(
        "window.actmap && window.actmap.last && window.actmap.last.rows === 200",
        60,
    );
    // The token is out of the address bar (kept in a cookie).
    assert!(!b.eval("location.href").as_str().unwrap().contains("token"));
    let (cx, cy, cw, ch) = b.rect("#view");
    let (w, h) = (cw as u32, ch as u32);
    assert!(w > 500 && h > 500, "canvas {w}x{h}");
    let mut view = view_for("serve test");
    let shot = assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "page");
    // The spike is on the canvas: the colormap's top colour.
    let top = actmap::Colormap::default().lut()[255];
    assert!(
        shot.pixels().any(|p| p.0[..3] == top[..3]),
        "the spike at row 120"
    );
    // The channel list names the rows.
    let channels = b.wait_for("document.getElementById('channels').textContent", 10);
    assert!(
        channels.as_str().unwrap().contains("rows 0–199 · 32 columns"),
        "{channels}"
    );

    // Wheel zoom, one notch in, at a point of the plot: the same zoom headless.
    let snap = store.snapshot();
    let (fig, sources) = view.figure(&snap, w, h).unwrap().unwrap();
    let layout = layout_figure(&fig, Font::default_sans()).unwrap();
    let plot = layout.panels[0].plot;
    let (px, py) = (
        (plot.x + plot.width / 3) as f64,
        (plot.y + plot.height / 2) as f64,
    );
    assert!(hit(&layout, px, py).is_some());
    let before = frames(&mut b);
    b.mouse_move(cx + px, cy + py);
    b.wheel(cx + px, cy + py, -100.0);
    // Park the pointer on the side bar: no hover read-out over the canvas.
    b.mouse_move(5.0, 5.0);
    view.zoom_at(&layout, &sources, (px, py), 0.8, (true, true));
    let zoomed = expected(&store, &mut view, w, h);
    assert_canvas_shows(&mut b, &zoomed, "page-zoomed");
    assert!(frames(&mut b) > before);

    // Hover: the read-out names channel, row, column and value there.
    let (fig, sources) = view.figure(&snap, w, h).unwrap().unwrap();
    let layout = layout_figure(&fig, Font::default_sans()).unwrap();
    let (hx, hy) = (
        (plot.x + plot.width / 2) as f64,
        (plot.y + plot.height / 4) as f64,
    );
    let want = hover_text(&layout, &sources, hx, hy).expect("a cell there");
    b.mouse_move(cx + hx, cy + hy);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = b.eval("(() => { const e = document.getElementById('hover'); return e.style.display === 'block' ? e.textContent : ''; })()");
        if v.as_str() == Some(want.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "hover read-out {v}, expected {want:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        want.starts_with("row ") && want.contains(" · column ") && want.contains(" · value "),
        "{want}"
    );
    // The whole page, for people to look at.
    b.screenshot(0.0, 0.0, 1000.0, 700.0)
        .save(shots_dir().join("page-full.png"))
        .unwrap();

    // A key: `c`, the next colormap.
    b.mouse_move(5.0, 5.0);
    b.key("c");
    view.opts.colormap = actmap::Colormap {
        kind: actmap::scale::ColormapKind::ALL[1],
        reversed: false,
    };
    let recoloured = expected(&store, &mut view, w, h);
    assert_canvas_shows(&mut b, &recoloured, "page-key-c");
    let selected = b.eval("document.getElementById('cmap').value");
    assert_eq!(
        selected.as_str(),
        Some("inferno"),
        "the colormap control follows the key"
    );

    // Download: the PNG is the headless render of the view.
    b.eval("document.getElementById('save').click()");
    let deadline = Instant::now() + Duration::from_secs(20);
    let png = loop {
        let done: Vec<_> = std::fs::read_dir(downloads.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(Instant::now() < deadline, "no download");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(200));
    let got = image::open(&png).unwrap().to_rgba8();
    assert!(
        got == recoloured,
        "the downloaded PNG differs from the headless render"
    );
}

/// Send a raw HTTP request (the connection closes after it); the status
/// code and the whole response. `None` when the server closed without a
/// response.
fn raw_http(addr: &str, request: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = c.write_all(request.as_bytes());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                // Stop at the end of the response (the connection may stay open).
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break;
                    }
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split(' ').nth(1)?.parse().ok()?;
    Some((code, text))
}

fn get(addr: &str, target: &str, headers: &[&str]) -> Option<(u16, String)> {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    raw_http(addr, &req)
}

fn ws_headers(origin: Option<&str>) -> Vec<String> {
    let mut h = vec![
        "Upgrade: websocket".to_string(),
        "Connection: Upgrade".to_string(),
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==".to_string(),
        "Sec-WebSocket-Version: 13".to_string(),
    ];
    if let Some(o) = origin {
        h.push(format!("Origin: {o}"));
    }
    h
}

fn ws_get(addr: &str, target: &str, origin: Option<&str>) -> Option<(u16, String)> {
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in ws_headers(origin) {
        req.push_str(&h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    raw_http(addr, &req)
}

#[test]
fn every_request_without_the_token_or_from_elsewhere_is_refused() {
    let s = Serve::start(&["tcp://127.0.0.1:0", "--bind", "127.0.0.1:0"]);
    let addr = s.base().trim_start_matches("http://").to_string();
    let token = s.url.rsplit("token=").next().unwrap().to_string();
    assert_eq!(token.len(), 48, "24 random bytes as hex");
    let good = format!("/?token={token}");

    // No token, a wrong token, a wrong cookie.
    let (code, body) = get(&addr, "/", &[]).unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("needs its token"), "{body}");
    let (code, body) = get(
        &addr,
        "/?token=0123456789abcdef0123456789abcdef0123456789abcdef",
        &[],
    )
    .unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("wrong token"), "{body}");
    let cookie_name = format!("actmap-token-{}", addr.rsplit(':').next().unwrap());
    let (code, _) = get(&addr, "/", &[&format!("Cookie: {cookie_name}=nope")]).unwrap();
    assert_eq!(code, 403);

    // The URL's token works once, then the cookie it sets.
    let (code, page) = get(&addr, &good, &[]).unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("<canvas id=\"view\""));
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        page.to_lowercase().contains("httponly; samesite=strict"),
        "{page}"
    );
    let (code, _) = get(&addr, "/", &[&format!("Cookie: {cookie}")]).unwrap();
    assert_eq!(code, 200, "the cookie stands for the token");

    // DNS rebinding: a foreign Host is refused even with the token.
    let req = format!(
        "GET {good} HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
        addr.rsplit(':').next().unwrap()
    );
    let (code, body) = raw_http(&addr, &req).unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("DNS rebinding"), "{body}");
    let req = format!("GET {good} HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_http(&addr, &req).unwrap().0, 403, "no Host at all");

    // Cross-site WebSocket hijacking: a foreign or missing Origin is refused.
    let ws = format!("/ws?token={token}");
    let (code, body) = ws_get(&addr, &ws, Some("http://evil.example")).unwrap();
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("origin"), "{body}");
    assert_eq!(ws_get(&addr, &ws, None).unwrap().0, 403, "no Origin");
    assert_eq!(
        ws_get(&addr, "/ws", Some(&format!("http://{addr}"))).unwrap().0,
        403,
        "a WebSocket without the token"
    );
    assert_eq!(
        ws_get(&addr, &ws, Some(&format!("http://{addr}"))).unwrap().0,
        101,
        "the page's own origin with the token"
    );

    // Nothing but the page: paths outside it are not found, files are never read.
    for path in [
        "/../../etc/passwd",
        "/etc/passwd",
        "/Cargo.toml",
        "/src/serve/page.html",
        "/%2e%2e/Cargo.toml",
    ] {
        let (code, body) = get(&addr, &format!("{path}?token={token}"), &[]).unwrap();
        assert_eq!(code, 404, "{path}: {body}");
        assert!(
            !body.contains("root:") && !body.contains("[package]"),
            "{path}: {body}"
        );
    }

    // Sizes: an oversized head, a body, another method.
    let big = format!("X-Padding: {}", "a".repeat(40_000));
    let refused = get(&addr, &good, &[&big]);
    assert!(
        matches!(refused, None | Some((431, _))),
        "an oversized request head: {:?}",
        refused.map(|r| r.0)
    );
    let (code, _) = get(&addr, &good, &["Content-Length: 5"]).unwrap_or((0, String::new()));
    assert!(code == 413 || code == 400, "a body: {code}");
    let req =
        format!("POST {good} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_http(&addr, &req).unwrap().0, 405);
}

#[test]
fn a_non_loopback_bind_warns_and_still_checks_hosts() {
    let s = Serve::start(&["tcp://127.0.0.1:0", "--bind", "0.0.0.0:0"]);
    let warning = s
        .log
        .iter()
        .find(|l| l.contains("warning"))
        .cloned()
        .unwrap_or_default();
    assert!(
        warning.contains("reachable from the network"),
        "no warning for 0.0.0.0:\n{}",
        s.log.join("\n")
    );
    let addr = s.base().trim_start_matches("http://").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "the URL to open: {}", s.url);
    let token = s.url.rsplit("token=").next().unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let req =
        format!("GET /?token={token} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n");
    assert_eq!(
        raw_http(&addr, &req).unwrap().0,
        403,
        "a domain name is still refused"
    );
    assert_eq!(get(&addr, &format!("/?token={token}"), &[]).unwrap().0, 200);
    assert_eq!(get(&addr, "/", &[]).unwrap().0, 403);
}

#[test]
fn a_writer_streams_while_two_browsers_watch_each_with_its_own_view() {
    let mut s = Serve::start(&[
        "tcp://127.0.0.1:0",
        "--bind",
        "127.0.0.1:0",
        "--title",
        "two browsers",
    ]);
    let line = s.wait_for("listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();
    let mut one = Browser::launch(900, 640, 1.0);
    let mut two = Browser::launch(760, 560, 1.0);
    one.navigate(&s.url);
    two.navigate(&s.url);
    for b in [&mut one, &mut two] {
        b.wait_for("window.actmap && window.actmap.frames > 0", 60);
    }
    // The trainer: binary frames of 8 rows, 3000 rows over about 3 s
    // (the history of 2048 rows merges pairs on the way).
    const ROWS: usize = 3000;
    let writer = std::thread::spawn(move || {
        let mut sock = std::net::TcpStream::connect(&addr).unwrap();
        for r0 in (0..ROWS).step_by(8) {
            let data: Vec<f32> = (r0..r0 + 8).flat_map(|r| row(r, 64)).collect();
            sock.write_all(&actmap::live::FrameDecoder::encode("acts", 8, 64, &data))
                .unwrap();
            std::thread::sleep(Duration::from_millis(8));
        }
        sock.flush().unwrap();
        sock
    });
    // Both pages follow while it writes: their frames show more and more rows.
    let mut seen = [Vec::new(), Vec::new()];
    while !writer.is_finished() {
        for (i, b) in [&mut one, &mut two].into_iter().enumerate() {
            let rows = b
                .eval("window.actmap.last ? window.actmap.last.rows : 0")
                .as_u64()
                .unwrap();
            if seen[i].last() != Some(&rows) {
                seen[i].push(rows);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _sock = writer.join().unwrap();
    for (i, rows) in seen.iter().enumerate() {
        assert!(
            rows.iter().filter(|&&r| r > 0 && r < ROWS as u64).count() >= 3,
            "browser {i} saw only {rows:?} while the writer streamed"
        );
    }
    for b in [&mut one, &mut two] {
        b.wait_for(
            &format!("window.actmap.last && window.actmap.last.rows === {ROWS}"),
            60,
        );
    }
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    for r0 in (0..ROWS).step_by(8) {
        let data: Vec<f32> = (r0..r0 + 8).flat_map(|r| row(r, 64)).collect();
        store.push_rows("acts", 64, &data).unwrap();
    }
    // Each its own view: the first zooms in with `+`, the second does not.
    one.mouse_move(5.0, 5.0);
    one.key("+");
    let (_, _, w1, h1) = one.rect("#view");
    let (_, _, w2, h2) = two.rect("#view");
    let mut v1 = view_for("two browsers");
    let (_, sources) = v1
        .figure(&store.snapshot(), w1 as u32, h1 as u32)
        .unwrap()
        .unwrap();
    v1.zoom_centre(&sources, 0.8);
    let want1 = expected(&store, &mut v1, w1 as u32, h1 as u32);
    let want2 = expected(&store, &mut view_for("two browsers"), w2 as u32, h2 as u32);
    assert_canvas_shows(&mut one, &want1, "two-browsers-1-zoomed");
    assert_canvas_shows(&mut two, &want2, "two-browsers-2");
    // A late browser sees the whole run.
    let mut late = Browser::launch(760, 560, 1.0);
    late.navigate(&s.url);
    late.wait_for(
        &format!("window.actmap && window.actmap.last && window.actmap.last.rows === {ROWS}"),
        60,
    );
    assert_canvas_shows(&mut late, &want2, "two-browsers-late");
    // It shows what the second one shows: the server drew that frame once.
    let first = s.wait_for("view 3 frame 1:");
    assert!(first.contains(" shared "), "{first}");
}

#[test]
fn serve_run_shows_steps_and_a_slider_for_2d_records() {
    use actmap::runlog::{RunWriter, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let writer = RunWriter::open(
        &run,
        WriterOptions {
            flush_every: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .unwrap();
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    let steps: Vec<i64> = [0, 150, 300, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6500].to_vec();
    for (i, &s) in steps.iter().enumerate() {
        writer.append("acts", Some(s), 0.0, &[32], &row(i, 32)).unwrap();
        store
            .push_records("acts", Some(&[s]), &[32], &row(i, 32))
            .unwrap();
    }
    // A channel that logs one 2-D array per step.
    let attn = |k: usize| -> Vec<f32> { (0..64).map(|i| ((i * (k + 1)) % 17) as f32).collect() };
    for k in 0..4usize {
        let s = 1000 * k as i64;
        writer.append("attn", Some(s), 0.0, &[8, 8], &attn(k)).unwrap();
        store.push_records("attn", Some(&[s]), &[8, 8], &attn(k)).unwrap();
    }
    writer.flush().unwrap();
    let arg = run.to_str().unwrap().to_string();
    let mut s = Serve::start(&[&arg, "--bind", "127.0.0.1:0", "--title", "run test"]);
    let mut b = Browser::launch(1000, 700, 1.0);
    b.navigate(&s.url);
    b.wait_for(
        "window.actmap && window.actmap.last && window.actmap.last.rows >= 16",
        60,
    );
    let (cx, cy, cw, ch) = b.rect("#view");
    let (w, h) = (cw as u32, ch as u32);
    let mut view = view_for("run test");
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "run");
    let channels = b.wait_for("document.getElementById('channels').textContent", 10);
    let channels = channels.as_str().unwrap();
    assert!(channels.contains("steps 0–6500"), "{channels}");
    assert!(
        channels.contains("4 records of 8 x 8, steps 0–3000"),
        "{channels}"
    );
    // Hover names the step.
    let snap = store.snapshot();
    let (fig, sources) = view.figure(&snap, w, h).unwrap().unwrap();
    let layout = layout_figure(&fig, Font::default_sans()).unwrap();
    let plot = layout.panels[0].plot;
    let (hx, hy) = (
        (plot.x + plot.width / 2) as f64,
        (plot.y + plot.height - 3) as f64,
    );
    let want = hover_text(&layout, &sources, hx, hy).expect("a cell");
    assert!(want.contains("step"), "{want}");
    b.mouse_move(cx + hx, cy + hy);
    b.wait_for(
        &format!("document.getElementById('hover').textContent === {want:?}"),
        10,
    );
    // The step slider of the 2-D channel picks an earlier record.
    b.mouse_move(5.0, 5.0);
    b.eval(
        "(() => { const i = document.querySelector('#steps input'); i.value = '1'; i.dispatchEvent(new Event('input')); return 0; })()",
    );
    view.pick_step("attn", Some(1000));
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "run-step-1000");
    // The run grows: the page follows.
    for (k, st) in (7000..7100).step_by(10).enumerate() {
        let r = row(12 + k, 32);
        writer.append("acts", Some(st), 0.0, &[32], &r).unwrap();
        store.push_records("acts", Some(&[st]), &[32], &r).unwrap();
    }
    writer.flush().unwrap();
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "run-grown");
    writer.close().unwrap();
    drop(b);
    s.wait_for("view 1 frame");
}

#[test]
fn serve_records_what_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("rec");
    let arg = run.to_str().unwrap().to_string();
    let mut s = Serve::start(&["tcp://127.0.0.1:0", "--record", &arg, "--bind", "127.0.0.1:0"]);
    let line = s.wait_for("listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    for r in 0..40usize {
        let step = 1000 + 25 * r as i64;
        sock.write_all(&actmap::live::FrameDecoder::encode_v2(
            "acts",
            &[24],
            &row(r, 24),
            Some(&[step]),
            1.7e9,
        ))
        .unwrap();
    }
    sock.flush().unwrap();
    let mut b = Browser::launch(800, 600, 1.0);
    b.navigate(&s.url);
    b.wait_for(
        "window.actmap && window.actmap.last && window.actmap.last.rows === 40",
        60,
    );
    drop(b);
    // Ctrl-C: the server stops and the run log is complete.
    let pid = s.child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(st)) = s.child.try_wait() {
            break st;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let out = common::actmap(&["info", &arg, "--json"], dir.path());
    let info = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(
        info.contains("\"acts\"") && info.contains("\"records\": 40") && info.contains("[1000, 1975]"),
        "{info}"
    );
}

#[test]
fn serve_a_directory_of_runs_shows_each_run_and_runs_that_start_later() {
    use actmap::runlog::{RunWriter, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    std::fs::create_dir_all(&root).unwrap();
    // What the page must show: each run's channel as `run/channel`.
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    let write = |name: &str, k: usize| {
        let w = RunWriter::open(root.join(name), WriterOptions::default()).unwrap();
        for (i, s) in [0i64, 100, 200, 300, 500, 800].into_iter().enumerate() {
            let r = row(i + 10 * k, 24);
            w.append("acts", Some(s), 0.0, &[24], &r).unwrap();
            store
                .push_records(&format!("{name}/acts"), Some(&[s]), &[24], &r)
                .unwrap();
        }
        w.close().unwrap();
    };
    write("baseline", 0);
    write("lr3e-4", 1);
    let arg = root.to_str().unwrap().to_string();
    let mut s = Serve::start(&[&arg, "--bind", "127.0.0.1:0", "--title", "runs test"]);
    let mut b = Browser::launch(1000, 700, 1.0);
    b.navigate(&s.url);
    b.wait_for(
        "(document.getElementById('channels') || {}).textContent?.includes('lr3e-4/acts') === true",
        60,
    );
    b.wait_for("window.actmap && window.actmap.frames > 0", 60);
    let (_, _, cw, ch) = b.rect("#view");
    let (w, h) = (cw as u32, ch as u32);
    // Several runs: one colour scale by default, the box ticked.
    let mut view = view_for("runs test");
    view.opts.shared_scale = true;
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "runs-two");
    assert_eq!(
        b.eval("document.getElementById('shared').checked"),
        serde_json::json!(true)
    );
    // A run that starts while the page is open appears in it.
    write("wd0.1", 2);
    b.wait_for(
        "(document.getElementById('channels') || {}).textContent?.includes('wd0.1/acts') === true",
        30,
    );
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "runs-three");
    b.screenshot(0.0, 0.0, 1000.0, 700.0)
        .save(shots_dir().join("runs-page.png"))
        .unwrap();
    // Unticked: a colour scale per panel.
    b.eval("(() => { const c = document.getElementById('shared'); c.checked = false; c.dispatchEvent(new Event('change')); return 0; })()");
    view.opts.shared_scale = false;
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "runs-per-panel");
    // The picker: a run's panel left out, then drawn again.
    b.eval("(() => { const c = document.querySelector('#channels input[data-channel=\"lr3e-4/acts\"]'); c.checked = false; c.dispatchEvent(new Event('change')); return 0; })()");
    view.opts.hidden = vec!["lr3e-4/acts".into()];
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "runs-picked");
    b.screenshot(0.0, 0.0, 1000.0, 700.0)
        .save(shots_dir().join("runs-picked-page.png"))
        .unwrap();
    b.eval("(() => { const c = document.querySelector('#channels input[data-channel=\"lr3e-4/acts\"]'); c.checked = true; c.dispatchEvent(new Event('change')); return 0; })()");
    view.opts.hidden.clear();
    assert_canvas_shows(&mut b, &expected(&store, &mut view, w, h), "runs-all-again");
    drop(b);
    s.wait_for("view 1 frame");
}

#[test]
fn serve_two_runs_toggles_their_difference() {
    use actmap::runlog::{RunWriter, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("runs");
    std::fs::create_dir_all(&root).unwrap();
    // What the page must show with the box ticked: b − a at the shared steps.
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    let mut rows_of = Vec::new();
    for (name, k) in [("a", 0usize), ("b", 1)] {
        let w = RunWriter::open(root.join(name), WriterOptions::default()).unwrap();
        let mut rows = Vec::new();
        for (i, s) in [0i64, 100, 200, 300].into_iter().enumerate() {
            let r: Vec<f32> = row(i, 16).iter().map(|v| v * (1 + k) as f32).collect();
            w.append("acts", Some(s), 0.0, &[16], &r).unwrap();
            rows.push((s, r));
        }
        w.close().unwrap();
        rows_of.push(rows);
    }
    for ((s, a), (_, b)) in rows_of[0].iter().zip(&rows_of[1]) {
        let d: Vec<f32> = b.iter().zip(a).map(|(b, a)| b - a).collect();
        store.push_records("b − a/acts", Some(&[*s]), &[16], &d).unwrap();
    }
    let arg = root.to_str().unwrap().to_string();
    let mut s = Serve::start(&[&arg, "--bind", "127.0.0.1:0", "--title", "diff test"]);
    let mut b = Browser::launch(900, 600, 1.0);
    b.navigate(&s.url);
    b.wait_for(
        "!!document.getElementById('difflabel') && !document.getElementById('difflabel').hidden",
        60,
    );
    b.wait_for("window.actmap && window.actmap.frames > 0", 60);
    b.eval("(() => { const c = document.getElementById('diff'); c.checked = true; c.dispatchEvent(new Event('change')); return 0; })()");
    let (_, _, cw, ch) = b.rect("#view");
    let mut view = view_for("diff test");
    view.opts.shared_scale = true;
    view.opts.diff = true;
    view.opts.colormap = "RdBu_r".parse().unwrap();
    view.opts.norm = actmap::NormKind::Centered { vcenter: 0.0 };
    assert_canvas_shows(
        &mut b,
        &expected(&store, &mut view, cw as u32, ch as u32),
        "runs-diff",
    );
    b.screenshot(0.0, 0.0, 900.0, 600.0)
        .save(shots_dir().join("runs-diff-page.png"))
        .unwrap();
    drop(b);
    s.wait_for("view 1 frame");
}
