//! The live window (cargo feature `window`, on by default): a winit window
//! that draws a [`LiveStore`] with the same layout and renderers as the
//! headless path, redrawn whenever data arrives, with zoom, pan, hover,
//! colormap/norm/autoscale keys, pause, reset and PNG export.
//!
//! Each channel whose whole history is shown keeps a persistent texture:
//! only rows stored since the last frame are uploaded (all of them again
//! only after the history merged pairs of rows to stay bounded).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::keyboard::{Key as WKey, NamedKey};
use winit::window::{Window, WindowId};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
pub use crate::live::controller::HELP;
use crate::live::controller::{Action, Controller, ControllerOptions, Event, Key, Modifiers};
use crate::live::draw::LiveDrawer;
use crate::live::view::ViewOptions;
use crate::live::{LiveStore, Monitor};
use crate::render::Renderer;

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

struct App {
    store: Arc<LiveStore>,
    opts: WindowOptions,
    control: Controller,
    drawer: LiveDrawer,
    gfx: Option<Gfx>,
    started: Instant,
    error: Option<Error>,
}

impl App {
    fn new(store: Arc<LiveStore>, opts: WindowOptions) -> Self {
        let control = Controller::new(
            store.clone(),
            ControllerOptions {
                view: opts.view.clone(),
                chrome: true,
                width: opts.width,
                height: opts.height,
            },
        );
        App {
            drawer: LiveDrawer::new(store.options().capacity_rows),
            store,
            control,
            opts,
            gfx: None,
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
        self.control.handle(Event::Resized {
            width: config.width,
            height: config.height,
            scale_factor: 1.0,
        });
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

    fn redraw(&mut self) -> Result<()> {
        let Some(gfx) = self.gfx.as_mut() else {
            return Ok(());
        };
        let mut frame = self.control.frame()?;
        let texture = match gfx.surface.get_current_texture() {
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
        let view = texture
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        self.drawer.draw_to(&gfx.renderer, &mut frame, &view)?;
        gfx.ctx.queue.present(texture);
        if self.opts.verbose {
            let snap = self.control.shown().cloned().unwrap_or_default();
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
            let stats = self.drawer.stats;
            eprintln!(
                "frame {}: t={:.3}s version={} rows [{}] uploaded_rows={} cpu_reduced_frames={} paused={}",
                stats.frames,
                self.started.elapsed().as_secs_f64(),
                snap.version,
                rows.join(" "),
                stats.uploaded_rows,
                stats.reduced_frames,
                self.control.paused()
            );
        }
        Ok(())
    }

    fn save_png(&mut self) -> Result<PathBuf> {
        let gfx = self.gfx.as_mut().ok_or_else(|| Error::Gpu("no window".into()))?;
        let Some((fig, _)) = self.control.figure()? else {
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
            .join(format!("actmap-{secs}-{}.png", self.drawer.stats.frames));
        offscreen.render_figure_png(&fig, &path)?;
        Ok(path)
    }

    /// Pass an event to the controller and do what it asks.
    fn handle(&mut self, event_loop: &ActiveEventLoop, event: Event) {
        match self.control.handle(event) {
            Action::None => {}
            Action::Redraw => self.request_redraw(),
            Action::Quit => event_loop.exit(),
            Action::Save => {
                let msg = match self.save_png() {
                    Ok(p) => format!("saved {}", p.display()),
                    Err(e) => format!("not saved: {e}"),
                };
                eprintln!("{msg}");
                self.control.set_message(msg);
                self.request_redraw();
            }
        }
    }
}

/// A winit key as the controller's.
fn key_of(key: &WKey) -> Key {
    match key {
        WKey::Named(NamedKey::Escape) => Key::Escape,
        WKey::Named(NamedKey::Home) => Key::Home,
        WKey::Named(NamedKey::End) => Key::End,
        WKey::Named(NamedKey::Space) => Key::Space,
        WKey::Named(NamedKey::F1) => Key::F1,
        WKey::Named(NamedKey::ArrowLeft) => Key::ArrowLeft,
        WKey::Named(NamedKey::ArrowRight) => Key::ArrowRight,
        WKey::Named(NamedKey::ArrowUp) => Key::ArrowUp,
        WKey::Named(NamedKey::ArrowDown) => Key::ArrowDown,
        WKey::Character(c) => Key::Char(c.to_string()),
        _ => Key::Other,
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
        let event = match event {
            WindowEvent::CloseRequested => {
                event_loop.exit();
                return;
            }
            WindowEvent::Resized(size) => {
                if let Some(g) = &mut self.gfx {
                    g.config.width = size.width.max(1);
                    g.config.height = size.height.max(1);
                    g.surface.configure(&g.ctx.device, &g.config);
                }
                Event::Resized {
                    width: size.width,
                    height: size.height,
                    scale_factor: 1.0,
                }
            }
            WindowEvent::RedrawRequested => {
                if let Err(e) = self.redraw() {
                    // A frame that cannot be drawn is reported, not fatal:
                    // the next data or key press tries again.
                    self.control.set_message(format!("error: {e}"));
                    eprintln!("actmap: {e}");
                }
                return;
            }
            WindowEvent::ModifiersChanged(m) => Event::Modifiers(Modifiers {
                shift: m.state().shift_key(),
                ctrl: m.state().control_key(),
            }),
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                Event::Key(key_of(&event.logical_key))
            }
            WindowEvent::CursorMoved { position, .. } => Event::PointerMoved {
                x: position.x,
                y: position.y,
            },
            WindowEvent::CursorLeft { .. } => Event::PointerLeft,
            WindowEvent::MouseInput {
                state,
                button: MouseButton::Left,
                ..
            } => match state {
                ElementState::Pressed => Event::ButtonPressed,
                ElementState::Released => Event::ButtonReleased,
            },
            WindowEvent::MouseWheel { delta, .. } => Event::Wheel {
                steps: match delta {
                    MouseScrollDelta::LineDelta(_, y) => y as f64,
                    MouseScrollDelta::PixelDelta(p) => p.y / 40.0,
                },
            },
            _ => return,
        };
        self.handle(event_loop, event);
    }
}
