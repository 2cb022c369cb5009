//! The live window (cargo feature `window`, on by default): a winit window
//! that draws a [`LiveStore`] with the same layout and renderers as the
//! headless path, redrawn whenever data arrives, with zoom, pan, hover,
//! colormap/norm/autoscale keys, pause, reset and PNG export.
//!
//! Each channel whose whole history is shown keeps a persistent texture:
//! only rows stored since the last frame are uploaded (all of them again
//! only after the history merged pairs of rows to stay bounded).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::keyboard::{Key, ModifiersState, NamedKey};
use winit::window::{Window, WindowId};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GridTexture};
use crate::layout::{FigureLayout, GridSource, Primitive, Scene, layout_figure};
use crate::live::view::{Autoscale, LiveView, PanelSource, ViewOptions, hit, hover_text};
use crate::live::{LiveStore, Monitor, StoreSnapshot};
use crate::render::Renderer;
use crate::scale::{Colormap, ColormapKind, NormKind};
use crate::text::{Font, HAlign, Rotation, TextRun, VAlign};

/// Window settings.
#[derive(Clone, Debug)]
pub struct WindowOptions {
    /// What to draw and how.
    pub view: ViewOptions,
    /// Initial inner size in pixels.
    pub width: u32,
    /// Initial inner height in pixels.
    pub height: u32,
    /// Window title.
    pub title: String,
    /// Where `s` saves PNGs.
    pub save_dir: PathBuf,
    /// Print one line per frame to stderr (for tests and benchmarks).
    pub verbose: bool,
}

impl Default for WindowOptions {
    fn default() -> Self {
        WindowOptions {
            view: ViewOptions::default(),
            width: 1280,
            height: 720,
            title: "actmap".into(),
            save_dir: PathBuf::from("."),
            verbose: false,
        }
    }
}

/// The keys, as the help overlay lists them.
pub const HELP: &[(&str, &str)] = &[
    ("wheel, +, -", "zoom (shift: columns, ctrl: rows)"),
    ("drag, arrows", "pan"),
    ("r, Home", "reset view"),
    ("c, C", "next / previous colormap"),
    ("n", "next norm (linear, log, symlog, centred)"),
    ("a", "next autoscale (running, robust, fixed)"),
    ("space, p", "pause / resume (data keeps arriving)"),
    ("[, ], End", "2-D records: earlier / later / latest step"),
    ("s", "save the view as PNG"),
    ("h, ?", "this help"),
    ("q, Esc", "quit"),
];

impl Monitor {
    /// Open a window on this monitor's data and run it until it is closed
    /// (push rows from other threads meanwhile). Blocks the calling thread.
    pub fn open_window(&self, opts: WindowOptions) -> Result<()> {
        run(self.store(), opts)
    }
}

/// Check that a display is reachable before winit is asked (it panics on
/// some platforms when there is none).
pub fn check_display() -> Result<()> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return Err(Error::Invalid(
                "no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Run it in a desktop session, \
                 under `xvfb-run -a`, or render PNGs with `actmap render`"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Open a window on `store` and run until it is closed.
pub fn run(store: Arc<LiveStore>, opts: WindowOptions) -> Result<()> {
    check_display()?;
    let mut builder = EventLoop::<Wake>::with_user_event();
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use winit::platform::wayland::EventLoopBuilderExtWayland;
        use winit::platform::x11::EventLoopBuilderExtX11;
        EventLoopBuilderExtX11::with_any_thread(&mut builder, true);
        EventLoopBuilderExtWayland::with_any_thread(&mut builder, true);
    }
    let event_loop = builder
        .build()
        .map_err(|e| Error::Invalid(format!("cannot open a window: {e}")))?;
    // Wake the loop when the store changes; the thread ends with the loop.
    let proxy = event_loop.create_proxy();
    let waker_store = store.clone();
    std::thread::spawn(move || wake_on_change(waker_store, proxy));
    let mut app = App::new(store, opts);
    event_loop
        .run_app(&mut app)
        .map_err(|e| Error::Invalid(format!("window event loop failed: {e}")))?;
    match app.error.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Store changed.
#[derive(Clone, Copy, Debug)]
struct Wake;

fn wake_on_change(store: Arc<LiveStore>, proxy: EventLoopProxy<Wake>) {
    let mut seen = 0;
    loop {
        let v = store.wait_for_change(seen, Duration::from_millis(500));
        if v != seen {
            seen = v;
            if proxy.send_event(Wake).is_err() {
                return;
            }
        }
    }
}

struct Gfx {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    ctx: Arc<GpuContext>,
    renderer: Renderer,
    offscreen: Option<Renderer>,
}

/// A channel's texture kept across frames: rows `0..written` are uploaded.
struct Persistent {
    tex: GridTexture,
    written: usize,
    bin: u64,
    epoch: u64,
}

struct App {
    store: Arc<LiveStore>,
    opts: WindowOptions,
    view: LiveView,
    gfx: Option<Gfx>,
    shown: Option<StoreSnapshot>,
    paused: bool,
    drawn: Option<(FigureLayout, Vec<PanelSource>)>,
    cursor: Option<(f64, f64)>,
    drag: Option<(f64, f64)>,
    modifiers: ModifiersState,
    help: bool,
    message: Option<(String, Instant)>,
    textures: HashMap<String, Persistent>,
    frames: u64,
    uploaded_rows: u64,
    reduced_frames: u64,
    started: Instant,
    error: Option<Error>,
}

impl App {
    fn new(store: Arc<LiveStore>, opts: WindowOptions) -> Self {
        App {
            store,
            view: LiveView::new(opts.view.clone()),
            opts,
            gfx: None,
            shown: None,
            paused: false,
            drawn: None,
            cursor: None,
            drag: None,
            modifiers: ModifiersState::empty(),
            help: false,
            message: None,
            textures: HashMap::new(),
            frames: 0,
            uploaded_rows: 0,
            reduced_frames: 0,
            started: Instant::now(),
            error: None,
        }
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, e: Error) {
        self.error = Some(e);
        event_loop.exit();
    }

    fn init(&mut self, event_loop: &ActiveEventLoop) -> Result<()> {
        let attrs = Window::default_attributes()
            .with_title(self.opts.title.clone())
            .with_inner_size(PhysicalSize::new(self.opts.width, self.opts.height));
        let window = Arc::new(
            event_loop
                .create_window(attrs)
                .map_err(|e| Error::Invalid(format!("cannot open a window: {e}")))?,
        );
        let desc = wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(
            event_loop.owned_display_handle(),
        ));
        let instance = wgpu::Instance::new(desc);
        let surface = instance
            .create_surface(window.clone())
            .map_err(|e| Error::Gpu(format!("cannot draw into the window: {e}")))?;
        let ctx = Arc::new(GpuContext::from_instance(instance, Some(&surface))?);
        let caps = surface.get_capabilities(&ctx.adapter);
        // An sRGB format gives the same bytes as the offscreen target.
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| {
                matches!(
                    f,
                    wgpu::TextureFormat::Bgra8UnormSrgb | wgpu::TextureFormat::Rgba8UnormSrgb
                )
            })
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| Error::Gpu("the window surface offers no format".into()))?;
        let size = window.inner_size();
        let config = wgpu::SurfaceConfiguration {
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
            format,
            width: size.width.max(1),
            height: size.height.max(1),
            present_mode: wgpu::PresentMode::AutoVsync,
            desired_maximum_frame_latency: 2,
            alpha_mode: caps
                .alpha_modes
                .first()
                .copied()
                .unwrap_or(wgpu::CompositeAlphaMode::Auto),
            view_formats: vec![],
            color_space: wgpu::SurfaceColorSpace::Auto,
        };
        surface.configure(&ctx.device, &config);
        let renderer = Renderer::with_context_format(ctx.clone(), format);
        if self.opts.verbose {
            eprintln!("window: adapter {}, surface {format:?}", ctx.describe());
        }
        self.gfx = Some(Gfx {
            window,
            surface,
            config,
            ctx,
            renderer,
            offscreen: None,
        });
        Ok(())
    }

    fn request_redraw(&self) {
        if let Some(g) = &self.gfx {
            g.window.request_redraw();
        }
    }

    fn status_line(&self, snap: &StoreSnapshot) -> String {
        let mut parts = vec![snap.status.clone()];
        if self.paused {
            let now = self.store.version();
            let behind = if now != snap.version {
                " (new data waiting)"
            } else {
                ""
            };
            parts.push(format!("PAUSED{behind}"));
        }
        parts.push(format!(
            "{} · {} · {}",
            self.view.opts.colormap,
            norm_name(self.view.opts.norm),
            self.view.opts.autoscale.name()
        ));
        if snap.problem_count > 0 {
            let last = snap.problems.last().map(String::as_str).unwrap_or("");
            parts.push(format!("{} skipped (last: {last})", snap.problem_count));
        }
        if let Some((m, t)) = &self.message
            && t.elapsed() < Duration::from_secs(6)
        {
            parts.push(m.clone());
        }
        parts.push("h: help".into());
        parts.retain(|p| !p.is_empty());
        parts.join("  ·  ")
    }

    fn redraw(&mut self) -> Result<()> {
        if self.gfx.is_none() {
            return Ok(());
        }
        if !self.paused || self.shown.is_none() {
            let changed = self
                .shown
                .as_ref()
                .is_none_or(|s| s.version != self.store.version());
            if changed {
                self.shown = Some(self.store.snapshot());
            }
        }
        let snap = self.shown.clone().unwrap_or_default();
        let (w, h) = {
            let g = self
                .gfx
                .as_ref()
                .map(|g| (g.config.width, g.config.height))
                .unwrap_or((1, 1));
            (g.0, g.1)
        };
        let status = self.status_line(&snap);
        let font = Font::default_sans();
        let built = self.view.figure(&snap, w, h.saturating_sub(STATUS_H).max(64))?;
        let (scene, textures, drawn) = match built {
            Some((fig, sources)) => {
                let mut layout = layout_figure(&fig, font)?;
                let textures = self.textures_for(&mut layout, &sources)?;
                layout.scene.height = h;
                (layout.scene.clone(), textures, Some((layout, sources)))
            }
            None => {
                let mut scene = Scene {
                    width: w,
                    height: h,
                    background: [255, 255, 255, 255],
                    ..Default::default()
                };
                scene.texts.push(TextRun {
                    text: format!("waiting for data — {}", snap.status),
                    x: w as f32 / 2.0,
                    y: h as f32 / 2.0,
                    size_px: 18.0,
                    color: [60, 60, 60, 255],
                    h_align: HAlign::Center,
                    v_align: VAlign::Middle,
                    rotation: Rotation::None,
                });
                (scene, Vec::new(), None)
            }
        };
        // Overlays go in a second pass, over the figure's text.
        let mut over = Scene {
            width: scene.width,
            height: scene.height,
            ..Default::default()
        };
        self.overlay(&mut over, &status, drawn.as_ref());
        let gfx = self.gfx.as_mut().ok_or_else(|| Error::Gpu("no window".into()))?;
        let frame = match gfx.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                gfx.surface.configure(&gfx.ctx.device, &gfx.config);
                gfx.window.request_redraw();
                return Ok(());
            }
            _ => {
                gfx.window.request_redraw();
                return Ok(());
            }
        };
        let view = frame.texture.create_view(&wgpu::TextureViewDescriptor::default());
        gfx.renderer.draw_scene_to(&scene, &textures, &view)?;
        gfx.renderer.draw_scene_over(&over, &[], &view)?;
        gfx.ctx.queue.present(frame);
        self.frames += 1;
        if self.opts.verbose {
            let rows: Vec<String> = snap
                .channels
                .iter()
                .map(|c| {
                    format!(
                        "{}={}",
                        if c.name.is_empty() { "-" } else { &c.name },
                        c.total_rows
                    )
                })
                .collect();
            eprintln!(
                "frame {}: t={:.3}s version={} rows [{}] uploaded_rows={} cpu_reduced_frames={} paused={}",
                self.frames,
                self.started.elapsed().as_secs_f64(),
                snap.version,
                rows.join(" "),
                self.uploaded_rows,
                self.reduced_frames,
                self.paused
            );
        }
        self.drawn = drawn;
        Ok(())
    }

    /// Textures for the laid-out grids: a channel shown whole reuses its
    /// persistent texture and uploads only new rows; a zoomed or merged
    /// view uploads its (small) crop.
    fn textures_for(
        &mut self,
        layout: &mut FigureLayout,
        sources: &[PanelSource],
    ) -> Result<Vec<GridTexture>> {
        let gfx = self.gfx.as_ref().ok_or_else(|| Error::Gpu("no window".into()))?;
        let ctx = &gfx.ctx;
        let capacity = self.store.options().capacity_rows.max(2).next_multiple_of(2);
        let mut out = Vec::with_capacity(layout.grids.len());
        for (i, g) in layout.grids.iter().enumerate() {
            let GridSource::Memory(grid) = g else {
                return Err(Error::Invalid("the live window draws grids in memory".into()));
            };
            let src = sources.get(i);
            // On a software adapter, many rows per pixel are folded on the
            // CPU first and drawn one value per pixel (the whole history is
            // evenly spaced, so the plain mapping is the same picture).
            if let Some(item) = layout.scene.heatmaps.iter_mut().find(|h| h.grid == i)
                && src.is_some_and(|s| s.whole && s.even)
                && let Some(reduced) =
                    gfx.renderer
                        .pre_reduce(grid, item.rect, item.aggregate, item.norm.centre)?
            {
                item.x = crate::layout::AxisMapping::Uniform;
                item.y = crate::layout::AxisMapping::Uniform;
                self.reduced_frames += 1;
                out.push(GridTexture::upload(ctx, &reduced)?);
                continue;
            }
            let Some(src) = src.filter(|s| s.whole && s.grid.rows() <= capacity) else {
                out.push(GridTexture::upload(ctx, grid)?);
                continue;
            };
            let (rows, cols) = (grid.rows(), grid.cols());
            let stale = self
                .textures
                .get(&src.channel)
                .is_none_or(|p| p.tex.layout.cols as usize != cols);
            if stale {
                let tex = GridTexture::allocate(ctx, capacity, cols, ctx.max_texture_dim())?;
                self.textures.insert(
                    src.channel.clone(),
                    Persistent {
                        tex,
                        written: 0,
                        bin: src.rows_per_stored_row,
                        epoch: src.epoch,
                    },
                );
            }
            let p = self
                .textures
                .get_mut(&src.channel)
                .ok_or_else(|| Error::Gpu("texture cache".into()))?;
            if p.bin != src.rows_per_stored_row || rows < p.written || p.epoch != src.epoch {
                // The history merged pairs of rows, or was replaced:
                // everything moved.
                p.written = 0;
                p.bin = src.rows_per_stored_row;
                p.epoch = src.epoch;
            }
            if rows > p.written {
                p.tex
                    .write_rows(ctx, p.written, cols, &grid.data()[p.written * cols..])?;
                self.uploaded_rows += (rows - p.written) as u64;
                p.written = rows;
            }
            out.push(p.tex.first_rows(rows));
        }
        Ok(out)
    }

    /// Status bar, hover read-out and help box, drawn over the figure.
    fn overlay(&self, scene: &mut Scene, status: &str, drawn: Option<&(FigureLayout, Vec<PanelSource>)>) {
        let (w, h) = (scene.width as f32, scene.height as f32);
        let text = |s: &str, x: f32, y: f32, size: f32, color: [u8; 4]| TextRun {
            text: s.to_string(),
            x,
            y,
            size_px: size,
            color,
            h_align: HAlign::Left,
            v_align: VAlign::Top,
            rotation: Rotation::None,
        };
        let bar = STATUS_H as f32;
        scene.shapes.push((
            None,
            Primitive::Rect {
                rect: [0.0, h - bar, w, bar],
                color: [240, 240, 240, 255],
            },
        ));
        scene.texts.push(text(
            &fit(status, w - 12.0, 13.0),
            6.0,
            h - bar + 4.0,
            13.0,
            [40, 40, 40, 255],
        ));
        if let (Some((layout, sources)), Some((cx, cy))) = (drawn, self.cursor)
            && let Some(t) = hover_text(layout, sources, cx, cy)
        {
            let tw = Font::default_sans().measure(&t, 13.0).width + 12.0;
            let x = (cx as f32 + 14.0).min(w - tw - 2.0).max(0.0);
            let y = (cy as f32 + 14.0).min(h - bar - 24.0).max(0.0);
            scene.shapes.push((
                None,
                Primitive::Rect {
                    rect: [x, y, tw, 22.0],
                    color: [255, 255, 225, 255],
                },
            ));
            scene.texts.push(text(&t, x + 6.0, y + 4.0, 13.0, [0, 0, 0, 255]));
        }
        if self.help {
            let bw = 430.0f32.min(w - 20.0);
            let bh = 24.0 + 20.0 * HELP.len() as f32;
            let (x, y) = ((w - bw) / 2.0, ((h - bh) / 2.0).max(0.0));
            scene.shapes.push((
                None,
                Primitive::Rect {
                    rect: [x, y, bw, bh],
                    color: [30, 30, 30, 230],
                },
            ));
            for (i, (keys, what)) in HELP.iter().enumerate() {
                let ly = y + 12.0 + 20.0 * i as f32;
                scene
                    .texts
                    .push(text(keys, x + 14.0, ly, 14.0, [255, 220, 120, 255]));
                scene
                    .texts
                    .push(text(what, x + 130.0, ly, 14.0, [255, 255, 255, 255]));
            }
        }
    }

    fn save_png(&mut self) -> Result<PathBuf> {
        let snap = self.shown.clone().unwrap_or_default();
        let gfx = self.gfx.as_mut().ok_or_else(|| Error::Gpu("no window".into()))?;
        let (w, h) = (
            gfx.config.width,
            gfx.config.height.saturating_sub(STATUS_H).max(64),
        );
        let Some((fig, _)) = self.view.figure(&snap, w, h)? else {
            return Err(Error::Invalid("nothing to save yet".into()));
        };
        let ctx = gfx.ctx.clone();
        let offscreen = gfx.offscreen.get_or_insert_with(|| Renderer::with_context(ctx));
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let path = self
            .opts
            .save_dir
            .join(format!("actmap-{secs}-{}.png", self.frames));
        offscreen.render_figure_png(&fig, &path)?;
        Ok(path)
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, key: &Key) {
        let sources = self.drawn.as_ref().map(|d| d.1.clone()).unwrap_or_default();
        let shift = self.modifiers.shift_key();
        match key {
            Key::Named(NamedKey::Escape) => event_loop.exit(),
            Key::Named(NamedKey::Home) => self.view.reset(),
            Key::Named(NamedKey::End) => {
                for c in self.store.channel_names() {
                    self.view.pick_step(&c, None);
                }
            }
            Key::Named(NamedKey::Space) => self.paused = !self.paused,
            Key::Named(NamedKey::F1) => self.help = !self.help,
            Key::Named(NamedKey::ArrowLeft) => self.view.pan(&sources, None, 0.0, -0.1),
            Key::Named(NamedKey::ArrowRight) => self.view.pan(&sources, None, 0.0, 0.1),
            Key::Named(NamedKey::ArrowUp) => self.view.pan(&sources, None, -0.1, 0.0),
            Key::Named(NamedKey::ArrowDown) => self.view.pan(&sources, None, 0.1, 0.0),
            Key::Character(c) => match c.as_str() {
                "q" | "Q" => event_loop.exit(),
                "r" | "R" => self.view.reset(),
                "+" | "=" => self.view.zoom_centre(&sources, 0.8),
                "-" | "_" => self.view.zoom_centre(&sources, 1.25),
                "p" | "P" => self.paused = !self.paused,
                "h" | "H" | "?" => self.help = !self.help,
                "c" => self.cycle_colormap(!shift),
                "C" => self.cycle_colormap(false),
                "n" | "N" => {
                    self.view.opts.norm = next_norm(self.view.opts.norm);
                    self.view.reset_ranges();
                }
                "a" | "A" => {
                    let fixed_ok = self.view.opts.vmin.is_some() && self.view.opts.vmax.is_some();
                    self.view.opts.autoscale = match self.view.opts.autoscale {
                        Autoscale::Running => Autoscale::Robust(99.0),
                        Autoscale::Robust(_) if fixed_ok => Autoscale::Fixed,
                        _ => Autoscale::Running,
                    };
                    self.view.reset_ranges();
                }
                "[" | "]" => {
                    let snap = self.shown.clone().unwrap_or_default();
                    self.view
                        .step_records(&snap, None, if c.as_str() == "[" { -1 } else { 1 });
                }
                "s" | "S" => {
                    let msg = match self.save_png() {
                        Ok(p) => format!("saved {}", p.display()),
                        Err(e) => format!("not saved: {e}"),
                    };
                    eprintln!("{msg}");
                    self.message = Some((msg, Instant::now()));
                }
                _ => return,
            },
            _ => return,
        }
        self.request_redraw();
    }

    fn cycle_colormap(&mut self, forward: bool) {
        let all = ColormapKind::ALL;
        let cur = all
            .iter()
            .position(|k| *k == self.view.opts.colormap.kind)
            .unwrap_or(0);
        let n = all.len();
        let next = if forward { (cur + 1) % n } else { (cur + n - 1) % n };
        self.view.opts.colormap = Colormap {
            kind: all[next],
            reversed: self.view.opts.colormap.reversed,
        };
    }
}

/// `s` cut with an ellipsis to fit `width` pixels at `size`.
fn fit(s: &str, width: f32, size: f32) -> String {
    let font = Font::default_sans();
    if font.measure(s, size).width <= width {
        return s.to_string();
    }
    let mut out: String = s.to_string();
    while !out.is_empty() && font.measure(&format!("{out}…"), size).width > width {
        out.pop();
    }
    format!("{out}…")
}

/// Height of the status bar at the bottom of the window.
const STATUS_H: u32 = 24;

fn norm_name(n: NormKind) -> &'static str {
    match n {
        NormKind::Linear => "linear",
        NormKind::Log => "log",
        NormKind::SymLog { .. } => "symlog",
        NormKind::Centered { .. } => "centred",
    }
}

fn next_norm(n: NormKind) -> NormKind {
    match n {
        NormKind::Linear => NormKind::Log,
        NormKind::Log => NormKind::SymLog {
            linthresh: None,
            linscale: 1.0,
        },
        NormKind::SymLog { .. } => NormKind::Centered { vcenter: 0.0 },
        NormKind::Centered { .. } => NormKind::Linear,
    }
}

impl ApplicationHandler<Wake> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_none()
            && let Err(e) = self.init(event_loop)
        {
            self.fail(event_loop, e);
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, _event: Wake) {
        if self.store.close_requested() {
            event_loop.exit();
            return;
        }
        self.request_redraw();
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => event_loop.exit(),
            WindowEvent::Resized(size) => {
                if let Some(g) = &mut self.gfx {
                    g.config.width = size.width.max(1);
                    g.config.height = size.height.max(1);
                    g.surface.configure(&g.ctx.device, &g.config);
                }
                self.request_redraw();
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    // A frame that cannot be drawn is reported, not fatal:
                    // the next data or key press tries again.
                    self.message = Some((format!("error: {e}"), Instant::now()));
                    eprintln!("actmap: {e}");
                }
            }
            WindowEvent::ModifiersChanged(m) => self.modifiers = m.state(),
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                self.key(event_loop, &event.logical_key);
            }
            WindowEvent::CursorMoved { position, .. } => {
                let (x, y) = (position.x, position.y);
                if let (Some((dx0, dy0)), Some((layout, sources))) = (self.drag, self.drawn.as_ref())
                    && let Some((i, _)) = hit(layout, dx0, dy0)
                {
                    let plot = layout.panels[i].plot;
                    let (fx, fy) = ((dx0 - x) / plot.width as f64, (dy0 - y) / plot.height as f64);
                    let sources = sources.clone();
                    self.view.pan(&sources, Some(i), fy, fx);
                    self.drag = Some((x, y));
                }
                self.cursor = Some((x, y));
                self.request_redraw();
            }
            WindowEvent::CursorLeft { .. } => {
                self.cursor = None;
                self.request_redraw();
            }
            WindowEvent::MouseInput {
                state,
                button: MouseButton::Left,
                ..
            } => {
                self.drag = match state {
                    ElementState::Pressed => self.cursor,
                    ElementState::Released => None,
                };
            }
            WindowEvent::MouseWheel { delta, .. } => {
                let steps = match delta {
                    MouseScrollDelta::LineDelta(_, y) => y as f64,
                    MouseScrollDelta::PixelDelta(p) => p.y / 40.0,
                };
                if let (Some((cx, cy)), Some((layout, sources))) = (self.cursor, self.drawn.as_ref()) {
                    let (rows, cols) = match (self.modifiers.shift_key(), self.modifiers.control_key()) {
                        (true, false) => (false, true),
                        (false, true) => (true, false),
                        _ => (true, true),
                    };
                    let (layout, sources) = (layout.clone(), sources.clone());
                    self.view
                        .zoom_at(&layout, &sources, (cx, cy), 0.8f64.powf(steps), (rows, cols));
                    self.request_redraw();
                }
            }
            _ => {}
        }
    }
}
