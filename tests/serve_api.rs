//! The browser view's Rust API, as a training process uses it: a
//! `Monitor` serves its rows while another thread pushes them. Its
//! resource bounds (connections, browsers, each browser's queue) are tested
//! here with raw sockets and WebSocket clients, and a real Chromium with a
//! device pixel ratio of 2 gets frames at twice the size, text twice as large.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use actmap::live::{Controller, ControllerOptions, Event, Monitor, StoreOptions, ViewOptions};
use actmap::serve::{FRAME_HEADER_BYTES, ServeOptions, ServerHandle};
use common::cdp::Browser;
use common::golden::{MEAN_DELTA_E, OUTLIER_FRACTION, compare};
use tungstenite::client::IntoClientRequest;

fn local() -> ServeOptions {
    ServeOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..ServeOptions::default()
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// A WebSocket view on `server`, as the page opens it.
fn connect(server: &ServerHandle) -> Ws {
    try_connect(server).expect("WebSocket connects")
}

fn try_connect(server: &ServerHandle) -> Result<Ws, tungstenite::Error> {
    let addr = server.local_addr();
    let mut req = format!("ws://{addr}/ws?token={}", server.token())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Origin", format!("http://{addr}").parse().unwrap());
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    match tungstenite::client(req, stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(e) => panic!("handshake: {e}"),
    }
}

fn send(ws: &mut Ws, json: serde_json::Value) {
    ws.send(tungstenite::Message::Text(json.to_string().into()))
        .unwrap();
}

/// A frame's header fields: (kind, seq, width, height, rows) and the image.
fn frame(bytes: &[u8]) -> ((u8, u32, u32, u32, u64), image::RgbaImage) {
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let rows = u64::from_le_bytes(bytes[24..32].try_into().unwrap());
    let img = image::load_from_memory(&bytes[FRAME_HEADER_BYTES..])
        .unwrap()
        .to_rgba8();
    ((bytes[0], u32_at(4), u32_at(8), u32_at(12), rows), img)
}

fn push(monitor: &Monitor, from: usize, to: usize) {
    let sender = monitor.sender();
    for r in from..to {
        let row: Vec<f32> = (0..48).map(|c| ((r * 7 + c * 3) % 101) as f32 * 0.01).collect();
        sender.push_row("acts", &row).unwrap();
    }
}

#[test]
fn connections_and_browsers_are_bounded_and_freed() {
    let monitor = Monitor::new(StoreOptions::default()).unwrap();
    let server = monitor
        .serve(ServeOptions {
            max_connections: 3,
            max_clients: 2,
            ..local()
        })
        .unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "port 0 picks a free port");
    assert!(
        server
            .url()
            .starts_with(&format!("http://127.0.0.1:{}/?token=", addr.port()))
    );
    let get = |c: &mut TcpStream| -> String {
        let req = format!(
            "GET /?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
            server.token()
        );
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(req.as_bytes());
        let mut out = String::new();
        let _ = c.read_to_string(&mut out);
        out
    };
    // Three idle connections fill the server; the fourth is closed at once.
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(addr).unwrap();
    assert_eq!(get(&mut extra), "", "a connection beyond the limit gets nothing");
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    let mut again = TcpStream::connect(addr).unwrap();
    assert!(
        get(&mut again).starts_with("HTTP/1.1 200"),
        "room again once they close"
    );

    // Two browsers at most: a third is refused with 503, until one leaves.
    let a = connect(&server);
    let b = connect(&server);
    let start = Instant::now();
    while server.clients() < 2 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.clients(), 2);
    match try_connect(&server) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        Err(e) => panic!("expected 503, got {e}"),
        Ok(_) => panic!("a third browser was let in"),
    }
    drop(a);
    let start = Instant::now();
    while server.clients() > 1 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.clients(), 1, "a closed view frees its place");
    let c = connect(&server);
    drop((b, c));
    server.stop();
    assert!(
        TcpStream::connect(addr).is_err(),
        "the listener is closed after stop()"
    );
}

#[test]
fn a_stalled_browser_skips_frames_and_never_holds_up_the_writer_or_the_others() {
    let monitor = Monitor::new(StoreOptions::default()).unwrap();
    let server = monitor.serve(local()).unwrap();
    // The stalled view: says its size, then never reads or acknowledges.
    let mut stalled = connect(&server);
    send(
        &mut stalled,
        serde_json::json!({ "t": "size", "w": 320, "h": 240, "dpr": 1 }),
    );
    // The live view: acknowledges every frame it draws.
    let mut live = connect(&server);
    send(
        &mut live,
        serde_json::json!({ "t": "size", "w": 320, "h": 240, "dpr": 1 }),
    );
    let writer = {
        let sender = monitor.sender();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut r = 0usize;
            while start.elapsed() < Duration::from_secs(3) {
                let row: Vec<f32> = (0..48).map(|c| ((r + c) % 17) as f32).collect();
                sender.push_row("acts", &row).unwrap();
                r += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            r
        })
    };
    let mut live_frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let total = loop {
        match live.read().unwrap() {
            tungstenite::Message::Binary(b) => {
                let ((kind, seq, w, h, rows), _) = frame(&b);
                assert_eq!((kind, w, h), (1, 320, 240));
                send(&mut live, serde_json::json!({ "t": "ack", "seq": seq }));
                live_frames.push(rows);
                if writer.is_finished() {
                    let total = monitor.store().snapshot().channels[0].total_rows;
                    if rows == total {
                        break total;
                    }
                }
            }
            _ => continue,
        }
        assert!(Instant::now() < deadline, "the live view stopped getting frames");
    };
    let written = writer.join().unwrap() as u64;
    assert_eq!(total, written, "every row written was accepted");
    assert!(
        live_frames.len() >= 10,
        "the live view got {} frames while the other stalled",
        live_frames.len()
    );
    assert!(
        live_frames.windows(2).all(|w| w[0] <= w[1]),
        "frames show newer rows"
    );
    // The stalled view was sent at most two frames, not one per change.
    stalled
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut stalled_frames = 0;
    while let Ok(m) = stalled.read() {
        if matches!(m, tungstenite::Message::Binary(_)) {
            stalled_frames += 1;
        }
    }
    assert!(
        (1..=2).contains(&stalled_frames),
        "a view that acknowledges nothing gets at most 2 frames, got {stalled_frames}"
    );
}

#[test]
fn a_browser_with_device_pixel_ratio_2_gets_a_sharp_frame_of_the_same_view() {
    let monitor = Monitor::new(StoreOptions::default()).unwrap();
    push(&monitor, 0, 300);
    let view = ViewOptions {
        title: Some("dpr 2".into()),
        ..ViewOptions::default()
    };
    let server = monitor
        .serve(ServeOptions {
            view: view.clone(),
            ..local()
        })
        .unwrap();
    let mut b = Browser::launch(900, 600, 2.0);
    b.navigate(server.url());
    b.wait_for(
        "window.actmap && window.actmap.last && window.actmap.last.rows === 300",
        60,
    );
    let (x, y, w, h) = b.rect("#view");
    let last = b.eval("window.actmap.last");
    let (fw, fh) = (
        last["w"].as_u64().unwrap() as u32,
        last["h"].as_u64().unwrap() as u32,
    );
    assert_eq!((fw, fh), ((w * 2.0) as u32, (h * 2.0) as u32), "device pixels");
    // The same view, headless: a controller told the same size and ratio.
    let mut control = Controller::new(
        monitor.store(),
        ControllerOptions {
            view,
            chrome: false,
            ..ControllerOptions::default()
        },
    );
    control.handle(Event::Resized {
        width: fw,
        height: fh,
        scale_factor: 2.0,
    });
    control.frame().unwrap();
    let (fig, _) = control.figure().unwrap().unwrap();
    assert_eq!(fig.scale, Some(2.0));
    let want = common::renderer().render_figure(&fig).unwrap().image;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&dir).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let shot = b.screenshot(x, y, w, h);
        let d = compare(&shot, &want);
        if d.is_some_and(|(mean, frac)| mean <= MEAN_DELTA_E && frac <= OUTLIER_FRACTION) {
            shot.save(dir.join("dpr2.png")).unwrap();
            break;
        }
        if Instant::now() > deadline {
            shot.save(dir.join("dpr2-browser.png")).unwrap();
            want.save(dir.join("dpr2-expected.png")).unwrap();
            panic!(
                "dpr 2: {d:?}, sizes {:?} vs {:?}",
                shot.dimensions(),
                want.dimensions()
            );
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    drop(b);
    server.stop();
}
