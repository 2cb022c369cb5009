//! One browser view: the WebSocket task (input in, frames out) and its
//! render thread (a [`Controller`] and a [`LiveDrawer`] of its own).
//!
//! Back-pressure: the render thread draws a frame only when the picture
//! may have changed, at most `max_fps` a second, and only while fewer than
//! [`MAX_IN_FLIGHT`] frames wait for the browser's acknowledgement; what
//! arrives meanwhile is folded into the next frame. Input events wait in a
//! bounded mailbox (pointer moves coalesced), outgoing messages in a
//! bounded channel; a browser that stops reading for [`SEND_TIMEOUT`] is
//! disconnected.
//!
//! Binary messages to the browser start with a [`FRAME_HEADER_BYTES`]
//! header, little-endian: kind (u8: 1 frame, 2 PNG download), format (u8:
//! 0 PNG, 1 WebP), 2 reserved bytes, sequence number (u32), width and
//! height (u32 each), the store version shown (u64) and the input rows
//! shown, summed over channels (u64); then the image.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use image::RgbaImage;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{FrameFormat, Shared};
use crate::error::{Error, Result};
use crate::layout::{GridSource, Scene};
use crate::live::controller::{HELP, norm_name};
use crate::live::view::Autoscale;
use crate::live::{Action, Controller, ControllerOptions, Event, Key, LiveDrawer, LiveFrame, Modifiers};
use crate::scale::{Colormap, ColormapKind, NormKind};

/// Bytes before the image in a binary message.
pub const FRAME_HEADER_BYTES: usize = 32;
/// Frames sent but not yet acknowledged, at most.
pub(crate) const MAX_IN_FLIGHT: u32 = 2;
/// Input events waiting, at most (more are dropped).
const MAX_EVENTS: usize = 256;
/// Outgoing messages waiting, at most.
const OUT_QUEUE: usize = 8;
/// A browser that takes longer than this to accept a message is dropped.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest frame side, in device pixels (or the GPU's limit, if smaller).
const MAX_SIDE: u32 = 8192;

/// A message from the page.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum FromPage {
    /// The canvas area in device pixels, and the device pixel ratio.
    Size { w: f64, h: f64, dpr: f64 },
    /// A key (`KeyboardEvent.key`).
    Key {
        key: String,
        #[serde(default)]
        shift: bool,
        #[serde(default)]
        ctrl: bool,
    },
    /// The wheel at a point (device pixels), in notches.
    Wheel {
        x: f64,
        y: f64,
        steps: f64,
        #[serde(default)]
        shift: bool,
        #[serde(default)]
        ctrl: bool,
    },
    /// The pointer moved (device pixels).
    Move { x: f64, y: f64 },
    /// The button went down at the pointer.
    Down,
    /// The button went up.
    Up,
    /// The pointer left the canvas.
    Leave,
    /// A frame was drawn.
    Ack { seq: u32 },
    /// A control changed.
    Set {
        colormap: Option<String>,
        norm: Option<String>,
        autoscale: Option<String>,
        paused: Option<bool>,
        /// One colour scale for every panel.
        shared: Option<bool>,
        /// Two runs: their difference.
        diff: Option<bool>,
    },
    /// Show everything again.
    Reset,
    /// Send the view as a PNG to download.
    Save,
    /// Pick the step a 2-D-per-step channel shows.
    Step { channel: String, index: usize },
    /// Draw a channel's panel or leave it out (the channel picker).
    Show { channel: String, shown: bool },
}

/// The run's state as the page shows it (sent when it changes).
#[derive(Debug, Serialize, PartialEq)]
struct Info {
    t: &'static str,
    title: String,
    status: String,
    paused: bool,
    colormap: String,
    colormaps: Vec<String>,
    norm: &'static str,
    norms: [&'static str; 4],
    autoscale: &'static str,
    autoscales: Vec<&'static str>,
    shared: bool,
    /// Two runs are shown: their difference can be.
    diff_available: bool,
    diff: bool,
    channels: Vec<ChannelInfo>,
    keys: &'static [(&'static str, &'static str)],
}

#[derive(Debug, Serialize, PartialEq)]
struct ChannelInfo {
    name: String,
    cols: usize,
    rows: u64,
    range: String,
    /// 2-D channels: the steps of the records kept (the step slider).
    steps: Vec<i64>,
    /// The index in `steps` shown (`None`: the latest).
    picked: Option<usize>,
    /// Its panel is drawn (the picker's box).
    shown: bool,
}

/// A frame drawn and encoded for one view, kept for others showing the
/// same figure from the same grids.
#[derive(Debug)]
pub(crate) struct CachedFrame {
    scene: Scene,
    grids: Vec<GridSource>,
    image: RgbaImage,
    bytes: Vec<u8>,
    draw: Duration,
    encode: Duration,
}

/// The last few frames drawn by any view (views that show the same thing,
/// the usual case with several browsers, draw and encode it once).
#[derive(Debug, Default)]
pub(crate) struct FrameCache {
    entries: Mutex<VecDeque<Arc<CachedFrame>>>,
}

/// Frames kept for other views.
const CACHED_FRAMES: usize = 4;

impl FrameCache {
    fn find(&self, frame: &LiveFrame) -> Option<Arc<CachedFrame>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|c| same_grids(&c.grids, &frame.grids) && c.scene == frame.scene)
            .cloned()
    }

    fn insert(&self, frame: Arc<CachedFrame>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == CACHED_FRAMES {
            entries.pop_front();
        }
        entries.push_back(frame);
    }
}

/// The same grids: the very same memory (a figure's grids are shared from
/// the store while nothing changed).
fn same_grids(a: &[GridSource], b: &[GridSource]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (GridSource::Memory(x), GridSource::Memory(y)) => Arc::ptr_eq(x, y),
            _ => false,
        })
}

/// Holds one of the server's browser places until dropped.
pub(crate) struct ClientSlot {
    shared: Arc<Shared>,
    id: usize,
}

impl ClientSlot {
    /// A place, if fewer than `max_clients` browsers are connected.
    pub(crate) fn take(shared: &Arc<Shared>) -> Option<ClientSlot> {
        let max = shared.opts.max_clients;
        shared
            .client_count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        let id = shared.client_serial.fetch_add(1, Ordering::AcqRel) + 1;
        Some(ClientSlot {
            shared: shared.clone(),
            id,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.shared.client_count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
struct MailState {
    events: VecDeque<FromPage>,
    dropped: u64,
    data: bool,
    acked: u32,
    closed: bool,
}

/// Where the WebSocket task and the store watcher leave work for a view's
/// render thread.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    state: Mutex<MailState>,
    wake: Condvar,
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, MailState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// New data in the store.
    pub(crate) fn data_changed(&self) {
        let mut s = self.lock();
        if !s.data {
            s.data = true;
            self.wake.notify_one();
        }
    }

    fn push(&self, msg: FromPage) {
        let mut s = self.lock();
        match msg {
            FromPage::Ack { seq } => {
                // Acks arrive in order; never move backwards.
                if seq.wrapping_sub(s.acked) <= MAX_IN_FLIGHT {
                    s.acked = seq;
                }
            }
            FromPage::Move { x, y } if matches!(s.events.back(), Some(FromPage::Move { .. })) => {
                if let Some(last) = s.events.back_mut() {
                    *last = FromPage::Move { x, y };
                }
            }
            msg if s.events.len() >= MAX_EVENTS => {
                drop(msg);
                s.dropped += 1;
            }
            msg => s.events.push_back(msg),
        }
        self.wake.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }
}

/// Marks the mailbox closed when the WebSocket task ends.
struct CloseOnDrop(Arc<Mailbox>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Serve one browser: start its render thread, then move messages both
/// ways until either side ends.
pub(crate) async fn run(mut socket: WebSocket, slot: ClientSlot) {
    let mailbox = Arc::new(Mailbox::default());
    let _close = CloseOnDrop(mailbox.clone());
    let (tx, mut rx) = mpsc::channel::<Message>(OUT_QUEUE);
    let shared = slot.shared.clone();
    let id = slot.id;
    {
        let mut clients = shared.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.push(Arc::downgrade(&mailbox));
    }
    let mb = mailbox.clone();
    let worker = std::thread::Builder::new()
        .name(format!("actmap-view-{id}"))
        .spawn(move || {
            if let Err(e) = render_loop(&shared, id, &mb, &tx) {
                let msg = serde_json::json!({ "t": "message", "text": format!("error: {e}") });
                let _ = tx.blocking_send(Message::Text(msg.to_string().into()));
                eprintln!("actmap: view {id}: {e}");
            }
        });
    if worker.is_err() {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    // Unknown or malformed messages are ignored.
                    if let Ok(msg) = serde_json::from_str::<FromPage>(text.as_str()) {
                        mailbox.push(msg);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Some(msg) => match tokio::time::timeout(SEND_TIMEOUT, socket.send(msg)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                },
                None => break,
            },
        }
    }
    drop(slot);
}

/// The render thread of one view.
fn render_loop(
    shared: &Arc<Shared>,
    id: usize,
    mailbox: &Mailbox,
    out: &mpsc::Sender<Message>,
) -> Result<()> {
    let opts = &shared.opts;
    let mut control = Controller::new(
        shared.store.clone(),
        ControllerOptions {
            view: opts.view.clone(),
            chrome: false,
            width: 1280,
            height: 720,
        },
    );
    let mut drawer = LiveDrawer::new(shared.store.options().capacity_rows);
    let send = |msg: Message| {
        out.blocking_send(msg)
            .map_err(|_| Error::Invalid("browser gone".into()))
    };
    let min_interval = Duration::from_secs_f64(1.0 / opts.max_fps);
    let started = Instant::now();
    let mut sized = false;
    let mut seq: u32 = 0;
    let mut last_image: Option<Arc<CachedFrame>> = None;
    let mut last_frame = Instant::now() - min_interval;
    let mut last_info: Option<Info> = None;
    let mut last_hover: Option<String> = None;
    loop {
        let ready = sized && control.needs_frame();
        let (events, acked) = {
            let mut s = mailbox.lock();
            loop {
                if s.closed {
                    return Ok(());
                }
                let can_send = seq.wrapping_sub(s.acked) < MAX_IN_FLIGHT;
                if !s.events.is_empty() || (can_send && (ready || s.data)) {
                    break;
                }
                let (next, _) = mailbox
                    .wake
                    .wait_timeout(s, Duration::from_millis(250))
                    .unwrap_or_else(|e| e.into_inner());
                s = next;
                if !s.events.is_empty() || s.closed {
                    continue;
                }
                // Timed out: refresh the status line (messages expire).
                break;
            }
            s.data = false;
            (std::mem::take(&mut s.events), s.acked)
        };
        let mut hover_changed = false;
        for ev in events {
            match ev {
                FromPage::Size { w, h, dpr } => {
                    let most = MAX_SIDE.min(shared.renderer.context().max_texture_dim()) as f64;
                    let side = |v: f64| {
                        if v.is_finite() {
                            v.round().clamp(1.0, most) as u32
                        } else {
                            1
                        }
                    };
                    control.handle(Event::Resized {
                        width: side(w),
                        height: side(h),
                        scale_factor: dpr,
                    });
                    sized = true;
                }
                FromPage::Key { key, shift, ctrl } => {
                    control.handle(Event::Modifiers(Modifiers { shift, ctrl }));
                    let action = control.handle(Event::Key(key_of(&key)));
                    if action == Action::Save {
                        send(save(shared, &mut control)?)?;
                    }
                }
                FromPage::Wheel {
                    x,
                    y,
                    steps,
                    shift,
                    ctrl,
                } => {
                    control.handle(Event::Modifiers(Modifiers { shift, ctrl }));
                    control.handle(Event::PointerMoved { x, y });
                    if steps.is_finite() {
                        control.handle(Event::Wheel {
                            steps: steps.clamp(-20.0, 20.0),
                        });
                    }
                    hover_changed = true;
                }
                FromPage::Move { x, y } => {
                    control.handle(Event::PointerMoved { x, y });
                    hover_changed = true;
                }
                FromPage::Down => {
                    control.handle(Event::ButtonPressed);
                }
                FromPage::Up => {
                    control.handle(Event::ButtonReleased);
                }
                FromPage::Leave => {
                    control.handle(Event::PointerLeft);
                    hover_changed = true;
                }
                FromPage::Ack { .. } => {}
                FromPage::Set {
                    colormap,
                    norm,
                    autoscale,
                    paused,
                    shared,
                    diff,
                } => {
                    if let Some(on) = diff {
                        control.handle(Event::SetDiff(on));
                    }
                    if let Some(on) = shared {
                        control.handle(Event::SetSharedScale(on));
                    }
                    if let Some(c) = colormap.and_then(|c| c.parse::<Colormap>().ok()) {
                        control.handle(Event::SetColormap(c));
                    }
                    if let Some(n) = norm.and_then(|n| NormKind::parse(&n).ok())
                        && norm_name(n) != norm_name(control.view().opts.norm)
                    {
                        control.handle(Event::SetNorm(n));
                    }
                    if let Some(a) = autoscale.and_then(|a| Autoscale::parse(&a).ok())
                        && autoscale_name(a) != autoscale_name(control.view().opts.autoscale)
                    {
                        control.handle(Event::SetAutoscale(a));
                    }
                    if let Some(p) = paused {
                        control.handle(Event::SetPaused(p));
                    }
                }
                FromPage::Reset => {
                    control.handle(Event::Reset);
                }
                FromPage::Save => send(save(shared, &mut control)?)?,
                // A channel logged as one 2-D array per step: show the
                // record at this index of its steps.
                FromPage::Step { channel, index } => {
                    let steps = control
                        .shown()
                        .and_then(|s| s.channel(&channel))
                        .map(|c| c.record_steps())
                        .unwrap_or_default();
                    // The last record: follow the latest as it grows.
                    let step = match steps.get(index) {
                        Some(_) if index + 1 == steps.len() => None,
                        Some(&s) => Some(s),
                        None => continue,
                    };
                    control.handle(Event::PickStep { channel, step });
                }
                FromPage::Show { channel, shown } => {
                    control.handle(Event::ShowChannel { channel, shown });
                }
            }
        }
        let can_send = seq.wrapping_sub(acked) < MAX_IN_FLIGHT;
        if sized && can_send && control.needs_frame() {
            let wait = min_interval.saturating_sub(last_frame.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            last_frame = Instant::now();
            let t0 = Instant::now();
            let frame = control.frame()?;
            // A view showing what another one just drew (same figure, same
            // grids) reuses its frame.
            let (drawn, shared_hit) = match shared.frames.find(&frame) {
                Some(hit) => (hit, true),
                None => {
                    let (scene, grids) = (frame.scene.clone(), frame.grids.clone());
                    let mut frame = frame.clone();
                    let image = drawer.draw_image(&shared.renderer, &mut frame)?;
                    let draw = t0.elapsed();
                    let t1 = Instant::now();
                    let bytes = encode_frame(&image, opts.frame_format)?;
                    let encode = t1.elapsed();
                    let hit = Arc::new(CachedFrame {
                        scene,
                        grids,
                        image,
                        bytes,
                        draw,
                        encode,
                    });
                    shared.frames.insert(hit.clone());
                    (hit, false)
                }
            };
            hover_changed = true;
            let changed = last_image
                .as_ref()
                .is_none_or(|last| !Arc::ptr_eq(last, &drawn) && last.image != drawn.image);
            if changed {
                seq = seq.wrapping_add(1);
                let rows: u64 = control
                    .shown()
                    .map(|s| s.channels.iter().map(|c| c.total_rows).sum())
                    .unwrap_or(0);
                let msg = binary(
                    1,
                    opts.frame_format,
                    seq,
                    &drawn.image,
                    frame.version,
                    rows,
                    &drawn.bytes,
                );
                if opts.verbose {
                    eprintln!(
                        "view {id} frame {seq}: t={:.3}s {}x{} bytes={} draw={:.1}ms encode={:.1}ms{} version={} rows={rows}",
                        started.elapsed().as_secs_f64(),
                        drawn.image.width(),
                        drawn.image.height(),
                        drawn.bytes.len(),
                        drawn.draw.as_secs_f64() * 1e3,
                        drawn.encode.as_secs_f64() * 1e3,
                        if shared_hit { " shared" } else { "" },
                        frame.version,
                    );
                }
                send(msg)?;
                last_image = Some(drawn);
            }
        }
        if hover_changed {
            let hover = control.hover();
            if hover != last_hover {
                let msg = serde_json::json!({ "t": "hover", "text": hover });
                send(Message::Text(msg.to_string().into()))?;
                last_hover = hover;
            }
        }
        let info = info(&control);
        if last_info.as_ref() != Some(&info) {
            let text = serde_json::to_string(&info).map_err(|e| Error::Invalid(e.to_string()))?;
            send(Message::Text(text.into()))?;
            last_info = Some(info);
        }
    }
}

/// A page key as the controller's.
fn key_of(key: &str) -> Key {
    match key {
        "Escape" => Key::Escape,
        "Home" => Key::Home,
        "End" => Key::End,
        " " => Key::Space,
        "F1" => Key::F1,
        "ArrowLeft" => Key::ArrowLeft,
        "ArrowRight" => Key::ArrowRight,
        "ArrowUp" => Key::ArrowUp,
        "ArrowDown" => Key::ArrowDown,
        k if k.chars().count() == 1 => Key::Char(k.to_string()),
        _ => Key::Other,
    }
}

fn autoscale_name(a: Autoscale) -> &'static str {
    match a {
        Autoscale::Running => "running",
        Autoscale::Robust(_) => "robust",
        Autoscale::Fixed => "fixed",
    }
}

fn info(control: &Controller) -> Info {
    let opts = &control.view().opts;
    let mut colormaps: Vec<String> = ColormapKind::ALL
        .iter()
        .map(|&kind| {
            Colormap {
                kind,
                reversed: false,
            }
            .to_string()
        })
        .collect();
    let current = opts.colormap.to_string();
    if !colormaps.contains(&current) {
        colormaps.push(current.clone());
    }
    let mut autoscales = vec!["running", "robust"];
    if opts.vmin.is_some() && opts.vmax.is_some() {
        autoscales.push("fixed");
    }
    let channels = control
        .shown()
        .map(|s| {
            s.channels
                .iter()
                .map(|c| {
                    let steps = if c.is_2d() { c.record_steps() } else { Vec::new() };
                    let picked = control
                        .view()
                        .picked_step(&c.name)
                        .and_then(|p| steps.iter().position(|&s| s == p));
                    let shape = c
                        .record_shape
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" x ");
                    let range = match (c.is_2d(), c.stepped, c.steps.first(), c.steps.last()) {
                        (true, _, _, _) => match (steps.first(), steps.last()) {
                            (Some(a), Some(b)) => {
                                format!("{} records of {shape}, steps {a}–{b}", steps.len())
                            }
                            _ => format!("records of {shape}"),
                        },
                        (false, true, Some(a), Some(b)) => {
                            format!(
                                "steps {}–{} · {} rows · {} columns",
                                a.0, b.1, c.total_rows, c.cols
                            )
                        }
                        _ => match c.total_rows {
                            0 => format!("no rows yet · {} columns", c.cols),
                            1 => format!("row 0 · {} columns", c.cols),
                            n => format!("rows 0–{} · {} columns", n - 1, c.cols),
                        },
                    };
                    ChannelInfo {
                        name: c.name.clone(),
                        cols: c.cols,
                        rows: c.total_rows,
                        range,
                        steps,
                        picked,
                        shown: !control.view().opts.hidden.contains(&c.name),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Info {
        t: "info",
        title: opts.title.clone().unwrap_or_else(|| "live".into()),
        status: control.status_line(),
        paused: control.paused(),
        colormap: current,
        colormaps,
        norm: match opts.norm {
            NormKind::Centered { .. } => "centered",
            n => norm_name(n),
        },
        norms: ["linear", "log", "symlog", "centered"],
        autoscale: autoscale_name(opts.autoscale),
        autoscales,
        shared: opts.shared_scale,
        diff_available: control.shown().is_some_and(|s| {
            s.channels
                .iter()
                .any(|c| crate::live::follow::is_diff_channel(&c.name))
        }),
        diff: opts.diff,
        channels,
        keys: HELP,
    }
}

/// The view as a PNG download: the figure `actmap render` draws for it.
fn save(shared: &Shared, control: &mut Controller) -> Result<Message> {
    let Some((fig, _)) = control.figure()? else {
        control.set_message("nothing to save yet");
        return Ok(Message::Text(
            serde_json::json!({ "t": "message", "text": "nothing to save yet" })
                .to_string()
                .into(),
        ));
    };
    let out = shared.renderer.render_figure(&fig)?;
    let mut png = Vec::new();
    crate::sink::encode_png(&out.image, &mut png).map_err(|e| Error::Invalid(format!("PNG: {e}")))?;
    let version = control.shown().map_or(0, |s| s.version);
    Ok(binary(2, FrameFormat::Png, 0, &out.image, version, 0, &png))
}

/// Encode a frame as the browser view sends it: opaque, so 8-bit RGB, as
/// PNG with fast compression or as lossless WebP.
pub fn encode_frame(image: &RgbaImage, format: FrameFormat) -> Result<Vec<u8>> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let rgb: Vec<u8> = image
        .as_raw()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::with_capacity(rgb.len() / 4);
    let (w, h) = image.dimensions();
    let result =
        match format {
            FrameFormat::Png => {
                PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
                    .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
            }
            FrameFormat::WebP => image::codecs::webp::WebPEncoder::new_lossless(&mut out).write_image(
                &rgb,
                w,
                h,
                image::ExtendedColorType::Rgb8,
            ),
        };
    result.map_err(|e| Error::Invalid(format!("cannot encode a frame: {e}")))?;
    Ok(out)
}

fn binary(
    kind: u8,
    format: FrameFormat,
    seq: u32,
    image: &RgbaImage,
    version: u64,
    rows: u64,
    bytes: &[u8],
) -> Message {
    let mut m = Vec::with_capacity(FRAME_HEADER_BYTES + bytes.len());
    m.push(kind);
    m.push(match format {
        FrameFormat::Png => 0,
        FrameFormat::WebP => 1,
    });
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&image.width().to_le_bytes());
    m.extend_from_slice(&image.height().to_le_bytes());
    m.extend_from_slice(&version.to_le_bytes());
    m.extend_from_slice(&rows.to_le_bytes());
    m.extend_from_slice(bytes);
    Message::Binary(m.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_messages_parse_and_moves_coalesce() {
        let m: FromPage =
            serde_json::from_str(r#"{"t":"wheel","x":1,"y":2,"steps":-1.5,"shift":true}"#).unwrap();
        assert!(matches!(
            m,
            FromPage::Wheel {
                shift: true,
                ctrl: false,
                ..
            }
        ));
        assert!(serde_json::from_str::<FromPage>(r#"{"t":"rm -rf"}"#).is_err());
        let mb = Mailbox::default();
        for i in 0..1000 {
            mb.push(FromPage::Move { x: i as f64, y: 0.0 });
        }
        assert_eq!(mb.lock().events.len(), 1, "moves coalesce");
        for _ in 0..1000 {
            mb.push(FromPage::Down);
        }
        let s = mb.lock();
        assert_eq!(s.events.len(), MAX_EVENTS, "the mailbox is bounded");
        assert_eq!(s.dropped, 1000 - MAX_EVENTS as u64 + 1);
    }

    #[test]
    fn frames_are_rgb_pngs_with_a_header() {
        let img = RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8 * 80, y as u8 * 100, 7, 255]));
        let png = encode_frame(&img, FrameFormat::Png).unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!(back.color(), image::ColorType::Rgb8);
        assert_eq!(back.to_rgba8(), img);
        let webp = encode_frame(&img, FrameFormat::WebP).unwrap();
        assert_eq!(image::load_from_memory(&webp).unwrap().to_rgba8(), img);
        let Message::Binary(b) = binary(1, FrameFormat::Png, 7, &img, 9, 11, &png) else {
            panic!("binary")
        };
        assert_eq!(b.len(), FRAME_HEADER_BYTES + png.len());
        assert_eq!(&b[4..8], &7u32.to_le_bytes());
        assert_eq!(&b[8..16], &[3, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(&b[24..32], &11u64.to_le_bytes());
    }
}
