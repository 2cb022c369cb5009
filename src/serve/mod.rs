//! The browser view (cargo feature `serve`, on by default): an HTTP and
//! WebSocket server that shows a [`LiveStore`] in any browser, for training
//! machines without a display (reached through an SSH port forward).
//!
//! Rendering stays on the server: each browser tab gets its own
//! [`Controller`](crate::live::Controller) (its own zoom, colormap, pause)
//! and a render thread that draws the view with the shared [`Renderer`] at
//! the tab's size times its device pixel ratio, the same pixels as
//! `actmap render`. A frame goes out (PNG, or lossless WebP) only when the
//! picture changed, and only while fewer than two frames are waiting for
//! the browser's acknowledgement, so a slow or stalled tab skips frames
//! instead of queueing them; it never slows the sources that fill the store
//! or the other tabs. Input events come back over the same WebSocket.
//!
//! Security: loopback by default; a random token (OS generator) on every
//! request (the URL once, a cookie after that); the `Host` header and the
//! WebSocket `Origin` are checked (DNS rebinding, cross-site WebSocket
//! hijacking); only the embedded page and the store are served; request
//! heads, connections, browsers and each browser's queue are bounded.
//!
//! ```no_run
//! use actmap::live::{Monitor, StoreOptions};
//! use actmap::serve::ServeOptions;
//!
//! let monitor = Monitor::new(StoreOptions::default())?;
//! let server = monitor.serve(ServeOptions::default())?;   // returns at once
//! println!("open {}", server.url());
//! let sender = monitor.sender();
//! for step in 0..1000 {
//!     let acts: Vec<f32> = (0..512).map(|n| ((step * n) as f32).sin()).collect();
//!     sender.push_row("layer3", &acts)?;
//! }
//! server.stop();
//! # Ok::<(), actmap::Error>(())
//! ```

mod client;
mod http;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::live::view::ViewOptions;
use crate::live::{LiveStore, Monitor};
use crate::render::Renderer;

pub use client::{FRAME_HEADER_BYTES, encode_frame};

/// The default address: loopback only, port 8787.
pub const DEFAULT_BIND: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);

/// How frames travel to the browser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrameFormat {
    /// 8-bit RGB PNG with fast compression (the default: smaller and
    /// faster to encode than lossless WebP here; see the README).
    #[default]
    Png,
    /// Lossless WebP.
    WebP,
}

impl FromStr for FrameFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(FrameFormat::Png),
            "webp" => Ok(FrameFormat::WebP),
            _ => Err(Error::Invalid(format!(
                "unknown frame format '{s}' (expected png or webp)"
            ))),
        }
    }
}

/// Server settings. `Default`: `127.0.0.1:8787`, 8 browsers, 64
/// connections, 30 frames/s per browser, PNG frames.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Address and port to listen on (port 0 picks a free one).
    pub bind: SocketAddr,
    /// What each new browser view starts with.
    pub view: ViewOptions,
    /// Browsers (WebSocket views) at once; more are refused (503).
    pub max_clients: usize,
    /// Open HTTP connections at once (not counting views); more are closed
    /// at once.
    pub max_connections: usize,
    /// Frames per second per browser, at most.
    pub max_fps: f64,
    /// How frames are encoded.
    pub frame_format: FrameFormat,
    /// Host names accepted in the `Host` header besides `localhost`,
    /// `127.0.0.1` and `::1` (and, on a non-loopback bind, any IP address).
    pub allowed_hosts: Vec<String>,
    /// The token to require; `None` draws a random one (the usual case).
    pub token: Option<String>,
    /// One line per frame sent on stderr.
    pub verbose: bool,
    /// A request head (request line and headers) must arrive within this,
    /// from the moment the connection opens or its previous response went
    /// out: a client that trickles bytes or sends nothing is closed
    /// (default 10 s).
    pub head_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            bind: DEFAULT_BIND,
            view: ViewOptions::default(),
            max_clients: 8,
            max_connections: 64,
            max_fps: 30.0,
            frame_format: FrameFormat::Png,
            allowed_hosts: Vec::new(),
            token: None,
            verbose: false,
            head_timeout: Duration::from_secs(10),
        }
    }
}

/// What every connection shares.
struct Shared {
    store: Arc<LiveStore>,
    renderer: Arc<Renderer>,
    opts: ServeOptions,
    token: String,
    cookie_name: String,
    page: String,
    /// Frames drawn lately, for views that show the same.
    frames: client::FrameCache,
    /// Views to wake when the store changes.
    clients: Mutex<Vec<Weak<client::Mailbox>>>,
    /// Views connected now.
    client_count: AtomicUsize,
    /// The rate limit on wrong tokens.
    token_guard: http::TokenGuard,
    /// HTTP connections open now (views not counted).
    connection_count: AtomicUsize,
    /// Views ever connected (numbers them in `-v` lines).
    client_serial: AtomicUsize,
    stopping: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A running server; [`stop`](Self::stop) (or dropping it) shuts it down and
/// closes every connection.
#[derive(Debug)]
pub struct ServerHandle {
    url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Arc<tokio::sync::Notify>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The URL to open, with the token: `http://127.0.0.1:8787/?token=...`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the server listens on (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token every request must carry.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Browsers connected now.
    pub fn clients(&self) -> usize {
        self.shared.client_count.load(Ordering::Acquire)
    }

    /// Whether the server thread still runs.
    pub fn is_running(&self) -> bool {
        self.threads.iter().any(|t| !t.is_finished())
    }

    /// Stop serving: close the listener and every connection, and wait for
    /// the server's threads to end.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shutdown.notify_one();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

impl Monitor {
    /// Serve this monitor's data to browsers (see [`serve`]); returns once
    /// the server listens.
    pub fn serve(&self, opts: ServeOptions) -> Result<ServerHandle> {
        serve(self.store(), opts)
    }
}

/// A fresh token: 24 bytes from the operating system's generator, as hex.
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Invalid(format!("no random token: the OS generator failed: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `addr` is a loopback address (only this machine can connect).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Start serving `store` on `opts.bind`, in background threads (a GPU
/// context is made first: without an adapter this fails). Returns once the
/// server listens; print [`ServerHandle::url`] for the user.
pub fn serve(store: Arc<LiveStore>, opts: ServeOptions) -> Result<ServerHandle> {
    serve_with(store, opts, None)
}

/// [`serve`], drawing with `renderer` (a process's one GPU context, shared
/// with its other figures) instead of a context of its own.
pub fn serve_with(
    store: Arc<LiveStore>,
    opts: ServeOptions,
    renderer: Option<Arc<Renderer>>,
) -> Result<ServerHandle> {
    if opts.max_clients == 0 || opts.max_connections == 0 {
        return Err(Error::Invalid(
            "the server needs room for at least one browser and one connection".into(),
        ));
    }
    if opts.head_timeout.is_zero() {
        return Err(Error::Invalid(
            "the request head timeout must be above zero".into(),
        ));
    }
    if !opts.max_fps.is_finite() || opts.max_fps <= 0.0 {
        return Err(Error::Invalid(format!(
            "frames per second must be positive, got {}",
            opts.max_fps
        )));
    }
    let token = match &opts.token {
        Some(t)
            if t.len() < 16
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            return Err(Error::Invalid(
                "a token needs at least 16 characters, letters, digits, - and _ only".into(),
            ));
        }
        Some(t) => t.clone(),
        None => random_token()?,
    };
    let listener = TcpListener::bind(opts.bind)
        .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", opts.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Invalid(format!("cannot listen on {}: {e}", opts.bind)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::Invalid(format!("cannot listen on {addr}: {e}")))?;
    let renderer = match renderer {
        Some(r) => r,
        None => Arc::new(Renderer::new()?),
    };
    let title = opts.view.title.clone().unwrap_or_else(|| "live".into());
    let page = http::page(&token, &title);
    let shared = Arc::new(Shared {
        store,
        renderer,
        cookie_name: format!("actmap-token-{}", addr.port()),
        token,
        page,
        frames: client::FrameCache::default(),
        opts,
        clients: Mutex::new(Vec::new()),
        client_count: AtomicUsize::new(0),
        token_guard: http::TokenGuard::default(),
        connection_count: AtomicUsize::new(0),
        client_serial: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
    });
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the server: {e}")))?;
    let (s, stop) = (shared.clone(), shutdown.clone());
    let server = std::thread::Builder::new()
        .name("actmap-serve".into())
        .spawn(move || runtime.block_on(http::run(listener, s, stop)))
        .map_err(|e| Error::Invalid(format!("cannot start the server thread: {e}")))?;
    let s = shared.clone();
    let watcher = std::thread::Builder::new()
        .name("actmap-serve-watch".into())
        .spawn(move || watch_store(s))
        .map_err(|e| Error::Invalid(format!("cannot start the server thread: {e}")))?;
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let url = format!("http://{host}:{}/?token={}", addr.port(), shared.token);
    Ok(ServerHandle {
        url,
        addr,
        shared,
        shutdown,
        threads: vec![server, watcher],
    })
}

/// Wake every view when the store changes (each view coalesces wake-ups:
/// the sources never wait for a view).
fn watch_store(shared: Arc<Shared>) {
    let mut seen = shared.store.version();
    while !shared.stopping.load(Ordering::Acquire) {
        let v = shared.store.wait_for_change(seen, Duration::from_millis(100));
        if v == seen {
            continue;
        }
        seen = v;
        let mut clients = shared.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|c| match c.upgrade() {
            Some(mailbox) => {
                mailbox.data_changed();
                true
            }
            None => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 48);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!("webp".parse::<FrameFormat>().unwrap(), FrameFormat::WebP);
        assert!("gif".parse::<FrameFormat>().is_err());
    }
}
