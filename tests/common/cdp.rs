//! A real headless Chromium, driven in real time over the DevTools protocol
//! (a WebSocket, JSON commands): open a page, run JavaScript in it, send
//! trusted mouse, wheel and key events, and take screenshots. The
//! one-shot `chromium --screenshot` cannot be used: it does not wait for
//! frames that arrive over a WebSocket.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use image::RgbaImage;
use serde_json::{Value, json};
use tungstenite::WebSocket;
use tungstenite::stream::MaybeTlsStream;

/// The Chromium binary (Debian's `chromium` package; CI installs it).
pub fn chromium_path() -> String {
    std::env::var("ACTMAP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// A headless Chromium with one page, killed when dropped.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: String,
    /// The profile directory (fresh for every browser).
    pub profile: tempfile::TempDir,
    /// Events received while waiting for replies.
    pub events: Vec<Value>,
}

impl Browser {
    /// Start Chromium and open a `width x height` page (device pixel ratio
    /// `dpr`) on about:blank.
    pub fn launch(width: u32, height: u32, dpr: f64) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(chromium_path())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--force-color-profile=srgb",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.path().display()),
                &format!("--window-size={width},{height}"),
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {} (CI installs Debian's chromium): {e}", chromium_path()));
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if !sent && let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                    sent = true;
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium printed no DevTools address within 60 s");
        let (ws, _) = tungstenite::connect(url.as_str()).expect("connect to DevTools");
        let mut b = Browser {
            child,
            ws,
            next_id: 0,
            session: String::new(),
            profile,
            events: Vec::new(),
        };
        let target = b.call_browser("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = b.call_browser(
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().expect("sessionId").to_string();
        b.call("Page.enable", json!({}));
        b.call("Runtime.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": dpr, "mobile": false }),
        );
        b.call("Emulation.setFocusEmulationEnabled", json!({ "enabled": true }));
        b
    }

    fn send_raw(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(tungstenite::Message::Text(msg.to_string().into()))
            .expect("send to DevTools");
        loop {
            let m = self.ws.read().expect("read from DevTools");
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).expect("DevTools JSON");
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() && self.events.len() < 10_000 {
                self.events.push(v);
            }
        }
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send_raw(method, params, None)
    }

    /// A DevTools command to the page; its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let s = self.session.clone();
        self.send_raw(method, params, Some(&s))
    }

    /// Downloads go to `dir`.
    pub fn allow_downloads(&mut self, dir: &std::path::Path) {
        self.call_browser(
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": dir.display().to_string() }),
        );
    }

    /// Open `url` in the page.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
    }

    /// Evaluate a JavaScript expression (promises awaited); its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("JavaScript `{expr}` threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Evaluate `expr` until it is truthy (JSON true, a non-zero number, a
    /// non-empty string or an object); its value. Panics after `secs`.
    pub fn wait_for(&mut self, expr: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.eval(expr);
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs} s for `{expr}` (last: {v})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A screenshot of the page area `(x, y, w, h)` in CSS pixels, at the
    /// device pixel ratio.
    pub fn screenshot(&mut self, x: f64, y: f64, w: f64, h: f64) -> RgbaImage {
        let r = self.call(
            "Page.captureScreenshot",
            json!({ "format": "png", "clip": { "x": x, "y": y, "width": w, "height": h, "scale": 1 } }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64");
        image::load_from_memory(&png).expect("screenshot PNG").to_rgba8()
    }

    /// The bounding box of the element matching `selector`, CSS pixels.
    pub fn rect(&mut self, selector: &str) -> (f64, f64, f64, f64) {
        let v = self.eval(&format!(
            "(() => {{ const r = document.querySelector({:?}).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()",
            selector
        ));
        let f = |i: usize| v[i].as_f64().expect("rect");
        (f(0), f(1), f(2), f(3))
    }

    /// Move the mouse to `(x, y)` (CSS pixels).
    pub fn mouse_move(&mut self, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
    }

    /// Press or release the left button at `(x, y)`.
    pub fn mouse_button(&mut self, x: f64, y: f64, down: bool) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({
                "type": if down { "mousePressed" } else { "mouseReleased" },
                "x": x, "y": y, "button": "left", "buttons": if down { 1 } else { 0 }, "clickCount": 1
            }),
        );
    }

    /// Turn the wheel at `(x, y)`: `delta_y` pixels (negative: away from the
    /// user, 100 per notch).
    pub fn wheel(&mut self, x: f64, y: f64, delta_y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": delta_y }),
        );
    }

    /// Type one key that produces `text` (a printable character).
    pub fn key(&mut self, text: &str) {
        for kind in ["keyDown", "keyUp"] {
            let mut p = json!({ "type": kind, "key": text });
            if kind == "keyDown" {
                p["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", p);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
