//! One interaction model for every live front end: a [`Controller`] takes
//! input in a toolkit-neutral form ([`Event`]: keys, pointer, wheel, drag,
//! resize with a device pixel ratio, and direct settings from a page's
//! controls), keeps the interaction state (the [`LiveView`]'s zoom windows,
//! colormap, norm and autoscale; pause; help; hover; messages) and produces
//! what to draw ([`LiveFrame`]: the figure's scene, its grids, and an
//! overlay scene for the status bar, hover read-out and help box).
//!
//! The winit window and the browser view both drive one of these: the
//! window draws the overlays into its frame ([`ControllerOptions::chrome`]),
//! the browser page draws them in HTML and gets a frame that is the figure
//! alone, the same pixels `actmap render` draws for the view.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::layout::{Figure, FigureLayout, GridSource, Primitive, Scene, layout_figure};
use crate::live::store::{LiveStore, StoreSnapshot};
use crate::live::view::{Autoscale, LiveView, PanelSource, ViewOptions, hit, hover_text};
use crate::scale::{Colormap, ColormapKind, NormKind};
use crate::text::{Font, HAlign, Rotation, TextRun, VAlign};

/// Height of the status bar drawn at the bottom of a frame with chrome.
pub const STATUS_H: u32 = 24;

/// The keys, as the help overlay (and the browser page) lists them.
pub const HELP: &[(&str, &str)] = &[
    ("wheel, +, -", "zoom (shift: columns, ctrl: rows)"),
    ("drag, arrows", "pan"),
    ("r, Home", "reset view"),
    ("c, C", "next / previous colormap"),
    ("n", "next norm (linear, log, symlog, centred)"),
    ("a", "next autoscale (running, robust, fixed)"),
    ("o", "one colour scale for all panels / one each"),
    ("d", "two runs: their difference (second − first) / the runs"),
    ("space, p", "pause / resume (data keeps arriving)"),
    ("[, ], End", "2-D records: earlier / later / latest step"),
    ("s", "save the view as PNG"),
    ("h, ?", "this help"),
    ("q, Esc", "quit"),
];

/// A key, independent of the toolkit that reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// A key that types text (`"c"`, `"C"`, `"+"`, `"?"`), as produced with
    /// the current modifiers.
    Char(String),
    /// Escape.
    Escape,
    /// Home.
    Home,
    /// End.
    End,
    /// The space bar.
    Space,
    /// F1.
    F1,
    /// Left arrow.
    ArrowLeft,
    /// Right arrow.
    ArrowRight,
    /// Up arrow.
    ArrowUp,
    /// Down arrow.
    ArrowDown,
    /// Anything else (ignored).
    Other,
}

/// Modifier keys held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Shift.
    pub shift: bool,
    /// Control.
    pub ctrl: bool,
}

/// An input event. Positions are in device pixels of the frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A key was pressed (with the modifiers last reported).
    Key(Key),
    /// The modifiers held changed.
    Modifiers(Modifiers),
    /// The pointer moved to `(x, y)`; drags pan while the button is down.
    PointerMoved {
        /// Device pixels from the left.
        x: f64,
        /// Device pixels from the top.
        y: f64,
    },
    /// The pointer left the view.
    PointerLeft,
    /// The (left) button went down at the pointer: a drag starts.
    ButtonPressed,
    /// The button went up: the drag ends.
    ButtonReleased,
    /// The wheel turned by `steps` notches (positive: away from the user,
    /// zoom in) at the pointer; shift zooms columns only, ctrl rows only.
    Wheel {
        /// Notches; fractions for smooth scrolling.
        steps: f64,
    },
    /// The view's size in device pixels and the device pixel ratio (text
    /// and lines are drawn `scale_factor` times larger).
    Resized {
        /// Width in device pixels.
        width: u32,
        /// Height in device pixels.
        height: u32,
        /// Device pixels per logical pixel (a browser's `devicePixelRatio`).
        scale_factor: f64,
    },
    /// Use this colormap.
    SetColormap(Colormap),
    /// Use this norm (the colour ranges start over).
    SetNorm(NormKind),
    /// Use this autoscale mode (the colour ranges start over).
    SetAutoscale(Autoscale),
    /// Pause (`true`) or resume.
    SetPaused(bool),
    /// One colour scale for every panel (`true`) or one each.
    SetSharedScale(bool),
    /// Two runs: draw their difference (`true`) or the runs.
    SetDiff(bool),
    /// Show everything again.
    Reset,
    /// Show the record of this step of a 2-D channel (`None`: follow the
    /// latest).
    PickStep {
        /// The channel.
        channel: String,
        /// The step, or `None` for the latest.
        step: Option<i64>,
    },
    /// Draw a channel's panel (`true`) or leave it out.
    ShowChannel {
        /// The channel.
        channel: String,
        /// Drawn or not.
        shown: bool,
    },
}

/// What the front end should do after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed.
    None,
    /// The picture (or an overlay) changed: draw a frame.
    Redraw,
    /// The user asked to quit (`q`, Esc).
    Quit,
    /// The user asked to save the view as PNG (`s`).
    Save,
}

/// How a [`Controller`] starts.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// What to draw and how.
    pub view: ViewOptions,
    /// Draw the status bar, hover read-out and help box into the frame
    /// (the window); without, the frame is the figure alone (the browser,
    /// which shows them in its page).
    pub chrome: bool,
    /// Initial size in device pixels.
    pub width: u32,
    /// Initial height in device pixels.
    pub height: u32,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            view: ViewOptions::default(),
            chrome: true,
            width: 1280,
            height: 720,
        }
    }
}

/// A frame to draw: the figure's scene (heatmaps refer to `grids` by
/// index), where each panel's cells come from, and the overlays.
#[derive(Clone, Debug)]
pub struct LiveFrame {
    /// The figure (or a "waiting for data" line), the full frame size.
    pub scene: Scene,
    /// Grids the scene's heatmaps refer to.
    pub grids: Vec<GridSource>,
    /// Where each panel's cells come from.
    pub sources: Vec<PanelSource>,
    /// Drawn over `scene` in a second pass (status bar, hover, help); empty
    /// without chrome.
    pub overlay: Scene,
    /// Store version the frame shows.
    pub version: u64,
}

/// The interaction state of one live view (one window, one browser tab).
#[derive(Debug)]
pub struct Controller {
    store: Arc<LiveStore>,
    view: LiveView,
    chrome: bool,
    width: u32,
    height: u32,
    scale_factor: f64,
    shown: Option<StoreSnapshot>,
    paused: bool,
    drawn: Option<(FigureLayout, Vec<PanelSource>)>,
    cursor: Option<(f64, f64)>,
    drag: Option<(f64, f64)>,
    modifiers: Modifiers,
    help: bool,
    /// The colormap and norm the runs had before the difference was shown.
    before_diff: Option<(Colormap, NormKind)>,
    message: Option<(String, Instant)>,
    /// Something other than the data changed since the last frame.
    dirty: bool,
}

impl Controller {
    /// A controller on `store`.
    pub fn new(store: Arc<LiveStore>, opts: ControllerOptions) -> Self {
        Controller {
            store,
            view: LiveView::new(opts.view),
            chrome: opts.chrome,
            width: opts.width.max(1),
            height: opts.height.max(1),
            scale_factor: 1.0,
            shown: None,
            paused: false,
            drawn: None,
            cursor: None,
            drag: None,
            modifiers: Modifiers::default(),
            help: false,
            before_diff: None,
            message: None,
            dirty: true,
        }
    }

    /// The store this controller shows.
    pub fn store(&self) -> &Arc<LiveStore> {
        &self.store
    }

    /// The view model (options, zoom windows).
    pub fn view(&self) -> &LiveView {
        &self.view
    }

    /// The view model, to change directly (then [`mark_dirty`](Self::mark_dirty)).
    pub fn view_mut(&mut self) -> &mut LiveView {
        &mut self.view
    }

    /// Frame size in device pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Device pixels per logical pixel.
    pub fn scale_factor(&self) -> f64 {
        self.scale_factor
    }

    /// Whether the view is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Whether the help overlay is shown.
    pub fn help_shown(&self) -> bool {
        self.help
    }

    /// The snapshot the last frame showed.
    pub fn shown(&self) -> Option<&StoreSnapshot> {
        self.shown.as_ref()
    }

    /// The last frame's layout and panel sources (for hit tests).
    pub fn drawn(&self) -> Option<&(FigureLayout, Vec<PanelSource>)> {
        self.drawn.as_ref()
    }

    /// Show `text` in the status line for a few seconds.
    pub fn set_message(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), Instant::now()));
        self.dirty = true;
    }

    /// Ask for a new frame even if nothing seems to have changed.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether a new frame would differ from the last one: the view
    /// changed, or new data arrived and the view is not paused.
    pub fn needs_frame(&self) -> bool {
        if self.dirty || self.shown.is_none() {
            return true;
        }
        !self.paused
            && self
                .shown
                .as_ref()
                .is_some_and(|s| s.version != self.store.version())
    }

    /// The height the figure gets (the status bar takes the rest).
    fn figure_height(&self) -> u32 {
        if self.chrome {
            self.height.saturating_sub(STATUS_H).max(64)
        } else {
            self.height
        }
    }

    /// The figure of the current view for the data shown, at the frame's
    /// size (less the status bar): what `s` saves and `actmap render` of the
    /// view draws. `None` before any channel has rows.
    pub fn figure(&mut self) -> Result<Option<(Figure, Vec<PanelSource>)>> {
        let snap = self.shown.clone().unwrap_or_default();
        let (w, h) = (self.width, self.figure_height());
        let built = self.view.figure(&snap, w, h)?;
        Ok(built.map(|(mut fig, sources)| {
            if (self.scale_factor - 1.0).abs() > 1e-6 {
                // Text and lines as large as at 1x, in logical pixels.
                let logical = Figure {
                    width: (w as f64 / self.scale_factor).round().max(1.0) as u32,
                    height: (h as f64 / self.scale_factor).round().max(1.0) as u32,
                    ..Figure::single(fig.panels[0].clone(), 1, 1)
                };
                fig.scale = Some(logical.effective_scale() * self.scale_factor as f32);
            }
            (fig, sources)
        }))
    }

    /// Build the next frame: takes a new snapshot unless paused, lays out
    /// the figure, and the overlays when the controller has chrome.
    pub fn frame(&mut self) -> Result<LiveFrame> {
        if !self.paused || self.shown.is_none() {
            let changed = self
                .shown
                .as_ref()
                .is_none_or(|s| s.version != self.store.version());
            if changed {
                self.shown = Some(self.store.snapshot());
            }
        }
        self.dirty = false;
        let snap = self.shown.clone().unwrap_or_default();
        let (w, h) = (self.width, self.height);
        let font = Font::default_sans();
        let (scene, grids, drawn) = match self.figure()? {
            Some((fig, sources)) => {
                let layout = layout_figure(&fig, font)?;
                let mut scene = layout.scene.clone();
                scene.height = h;
                (scene, layout.grids.clone(), Some((layout, sources)))
            }
            None => {
                let mut scene = Scene {
                    width: w,
                    height: h,
                    background: [255, 255, 255, 255],
                    ..Default::default()
                };
                let size = 18.0 * self.scale_factor as f32;
                scene.texts.push(TextRun {
                    text: format!("waiting for data — {}", snap.status),
                    x: w as f32 / 2.0,
                    y: h as f32 / 2.0,
                    size_px: size,
                    color: [60, 60, 60, 255],
                    h_align: HAlign::Center,
                    v_align: VAlign::Middle,
                    rotation: Rotation::None,
                });
                (scene, Vec::new(), None)
            }
        };
        self.drawn = drawn;
        let mut overlay = Scene {
            width: w,
            height: h,
            ..Default::default()
        };
        if self.chrome {
            let status = self.status_line();
            self.overlay(&mut overlay, &status);
        }
        let sources = self.drawn.as_ref().map(|d| d.1.clone()).unwrap_or_default();
        Ok(LiveFrame {
            scene,
            grids,
            sources,
            overlay,
            version: snap.version,
        })
    }

    /// The status line: source status, pause, colormap · norm · autoscale,
    /// problems, the last message.
    pub fn status_line(&self) -> String {
        let snap = self.shown.clone().unwrap_or_default();
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
            "{} · {} · {}{}",
            self.view.opts.colormap,
            norm_name(self.view.opts.norm),
            self.view.opts.autoscale.name(),
            if self.view.opts.shared_scale {
                " · one scale"
            } else {
                ""
            }
        ));
        if snap.problem_count > 0 {
            let last = snap.problems.last().map(String::as_str).unwrap_or("");
            parts.push(format!("{} skipped (last: {last})", snap.problem_count));
        }
        if let Some(m) = self.message() {
            parts.push(m.to_string());
        }
        if self.chrome {
            parts.push("h: help".into());
        }
        parts.retain(|p| !p.is_empty());
        parts.join("  ·  ")
    }

    /// The message set in the last few seconds.
    pub fn message(&self) -> Option<&str> {
        self.message
            .as_ref()
            .filter(|(_, t)| t.elapsed() < Duration::from_secs(6))
            .map(|(m, _)| m.as_str())
    }

    /// The hover read-out at the pointer (channel, rows, column, value).
    pub fn hover(&self) -> Option<String> {
        let (layout, sources) = self.drawn.as_ref()?;
        let (x, y) = self.cursor?;
        hover_text(layout, sources, x, y)
    }

    /// Handle one event; says what the front end should do.
    pub fn handle(&mut self, event: Event) -> Action {
        let action = self.apply(event);
        if action == Action::Redraw {
            self.dirty = true;
        }
        action
    }

    fn apply(&mut self, event: Event) -> Action {
        let sources = self.drawn.as_ref().map(|d| d.1.clone()).unwrap_or_default();
        match event {
            Event::Key(key) => self.key(&key, &sources),
            Event::Modifiers(m) => {
                self.modifiers = m;
                Action::None
            }
            Event::PointerMoved { x, y } => {
                if let (Some((dx0, dy0)), Some((layout, _))) = (self.drag, self.drawn.as_ref())
                    && let Some((i, _)) = hit(layout, dx0, dy0)
                {
                    let plot = layout.panels[i].plot;
                    let (fx, fy) = ((dx0 - x) / plot.width as f64, (dy0 - y) / plot.height as f64);
                    self.view.pan(&sources, Some(i), fy, fx);
                    self.drag = Some((x, y));
                }
                self.cursor = Some((x, y));
                // The hover read-out follows the pointer: only a frame with
                // chrome draws it.
                if self.chrome || self.drag.is_some() {
                    Action::Redraw
                } else {
                    Action::None
                }
            }
            Event::PointerLeft => {
                self.cursor = None;
                self.drag = None;
                if self.chrome { Action::Redraw } else { Action::None }
            }
            Event::ButtonPressed => {
                self.drag = self.cursor;
                Action::None
            }
            Event::ButtonReleased => {
                self.drag = None;
                Action::None
            }
            Event::Wheel { steps } => {
                let (Some((cx, cy)), Some((layout, sources))) = (self.cursor, self.drawn.as_ref()) else {
                    return Action::None;
                };
                let axes = match (self.modifiers.shift, self.modifiers.ctrl) {
                    (true, false) => (false, true),
                    (false, true) => (true, false),
                    _ => (true, true),
                };
                let (layout, sources) = (layout.clone(), sources.clone());
                self.view
                    .zoom_at(&layout, &sources, (cx, cy), 0.8f64.powf(steps), axes);
                Action::Redraw
            }
            Event::Resized {
                width,
                height,
                scale_factor,
            } => {
                let sf = if scale_factor.is_finite() {
                    scale_factor.clamp(0.25, 8.0)
                } else {
                    1.0
                };
                if (width.max(1), height.max(1), sf) == (self.width, self.height, self.scale_factor) {
                    return Action::None;
                }
                self.width = width.max(1);
                self.height = height.max(1);
                self.scale_factor = sf;
                Action::Redraw
            }
            Event::SetColormap(c) => {
                self.view.opts.colormap = c;
                Action::Redraw
            }
            Event::SetNorm(n) => {
                self.view.opts.norm = n;
                self.view.reset_ranges();
                Action::Redraw
            }
            Event::SetAutoscale(a) => {
                if a == Autoscale::Fixed && !self.fixed_possible() {
                    self.set_message("fixed autoscale needs --vmin and --vmax");
                    return Action::Redraw;
                }
                self.view.opts.autoscale = a;
                self.view.reset_ranges();
                Action::Redraw
            }
            Event::SetSharedScale(on) => {
                self.view.opts.shared_scale = on;
                Action::Redraw
            }
            Event::SetDiff(on) => {
                self.set_diff(on);
                Action::Redraw
            }
            Event::SetPaused(p) => {
                self.paused = p;
                Action::Redraw
            }
            Event::Reset => {
                self.view.reset();
                Action::Redraw
            }
            Event::PickStep { channel, step } => {
                self.view.pick_step(&channel, step);
                Action::Redraw
            }
            Event::ShowChannel { channel, shown } => {
                let hidden = &mut self.view.opts.hidden;
                hidden.retain(|c| *c != channel);
                if !shown {
                    hidden.push(channel);
                }
                Action::Redraw
            }
        }
    }

    fn fixed_possible(&self) -> bool {
        self.view.opts.vmin.is_some() && self.view.opts.vmax.is_some()
    }

    fn key(&mut self, key: &Key, sources: &[PanelSource]) -> Action {
        match key {
            Key::Escape => return Action::Quit,
            Key::Home => self.view.reset(),
            Key::End => {
                for c in self.store.channel_names() {
                    self.view.pick_step(&c, None);
                }
            }
            Key::Space => self.paused = !self.paused,
            Key::F1 => self.help = !self.help,
            Key::ArrowLeft => self.view.pan(sources, None, 0.0, -0.1),
            Key::ArrowRight => self.view.pan(sources, None, 0.0, 0.1),
            Key::ArrowUp => self.view.pan(sources, None, -0.1, 0.0),
            Key::ArrowDown => self.view.pan(sources, None, 0.1, 0.0),
            Key::Char(c) => match c.as_str() {
                "q" | "Q" => return Action::Quit,
                "r" | "R" => self.view.reset(),
                "+" | "=" => self.view.zoom_centre(sources, 0.8),
                "-" | "_" => self.view.zoom_centre(sources, 1.25),
                "p" | "P" => self.paused = !self.paused,
                "h" | "H" | "?" => self.help = !self.help,
                "c" => self.cycle_colormap(!self.modifiers.shift),
                "C" => self.cycle_colormap(false),
                "n" | "N" => {
                    self.view.opts.norm = next_norm(self.view.opts.norm);
                    self.view.reset_ranges();
                }
                "a" | "A" => {
                    self.view.opts.autoscale = match self.view.opts.autoscale {
                        Autoscale::Running => Autoscale::Robust(99.0),
                        Autoscale::Robust(_) if self.fixed_possible() => Autoscale::Fixed,
                        _ => Autoscale::Running,
                    };
                    self.view.reset_ranges();
                }
                "[" | "]" => {
                    let snap = self.shown.clone().unwrap_or_default();
                    self.view
                        .step_records(&snap, None, if c.as_str() == "[" { -1 } else { 1 });
                }
                "s" | "S" => return Action::Save,
                "o" | "O" => self.view.opts.shared_scale = !self.view.opts.shared_scale,
                "d" | "D" => self.set_diff(!self.view.opts.diff),
                _ => return Action::None,
            },
            Key::Other => return Action::None,
        }
        Action::Redraw
    }

    /// Differences on a diverging map centred on 0 (`RdBu_r`), as
    /// `render --diff` draws them; back to the runs' colormap and norm.
    fn set_diff(&mut self, on: bool) {
        if on == self.view.opts.diff {
            return;
        }
        if on {
            self.before_diff = Some((self.view.opts.colormap, self.view.opts.norm));
            if let Ok(c) = crate::export::compare::DIFF_CMAP.parse::<Colormap>() {
                self.view.opts.colormap = c;
            }
            self.view.opts.norm = NormKind::Centered { vcenter: 0.0 };
        } else if let Some((c, n)) = self.before_diff.take() {
            self.view.opts.colormap = c;
            self.view.opts.norm = n;
        }
        self.view.opts.diff = on;
        self.view.reset_ranges();
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

    /// Status bar, hover read-out and help box, drawn over the figure.
    fn overlay(&self, scene: &mut Scene, status: &str) {
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
        if let (Some(t), Some((cx, cy))) = (self.hover(), self.cursor) {
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

/// A norm's short name (`linear`, `log`, `symlog`, `centred`).
pub fn norm_name(n: NormKind) -> &'static str {
    match n {
        NormKind::Linear => "linear",
        NormKind::Log => "log",
        NormKind::SymLog { .. } => "symlog",
        NormKind::Centered { .. } => "centred",
    }
}

/// The norm after `n` in the `n` key's cycle.
pub fn next_norm(n: NormKind) -> NormKind {
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

/// A frame's grids must be in memory (live views never stream from disk).
pub(crate) fn memory_grid(g: &GridSource) -> Result<&Arc<crate::input::Grid>> {
    match g {
        GridSource::Memory(grid) => Ok(grid),
        GridSource::Streamed(_) => Err(Error::Invalid("live views draw grids in memory".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::StoreOptions;

    fn store(rows: usize, cols: usize) -> Arc<LiveStore> {
        let s = Arc::new(LiveStore::new(StoreOptions::default()).unwrap());
        for r in 0..rows {
            let row: Vec<f32> = (0..cols).map(|c| (r * cols + c) as f32).collect();
            s.push_rows("acts", cols, &row).unwrap();
        }
        s
    }

    fn browser(store: Arc<LiveStore>) -> Controller {
        Controller::new(
            store,
            ControllerOptions {
                chrome: false,
                width: 640,
                height: 480,
                ..Default::default()
            },
        )
    }

    #[test]
    fn frames_follow_the_store_unless_paused() {
        let s = store(10, 8);
        let mut c = browser(s.clone());
        assert!(c.needs_frame());
        let f = c.frame().unwrap();
        assert_eq!(f.version, s.version());
        assert_eq!((f.scene.width, f.scene.height), (640, 480));
        assert!(f.overlay.texts.is_empty(), "no chrome: no overlay");
        assert!(!c.needs_frame());
        s.push_rows("acts", 8, &[0.0; 8]).unwrap();
        assert!(c.needs_frame());
        assert_eq!(c.handle(Event::Key(Key::Char("p".into()))), Action::Redraw);
        let f = c.frame().unwrap();
        assert_ne!(f.version, s.version(), "paused: the old snapshot stays");
        assert!(!c.needs_frame());
        assert!(c.status_line().contains("PAUSED (new data waiting)"));
        c.handle(Event::SetPaused(false));
        assert_eq!(c.frame().unwrap().version, s.version());
    }

    #[test]
    fn keys_wheel_and_drag_change_the_view() {
        let s = store(100, 40);
        let mut c = browser(s);
        c.frame().unwrap();
        let plot = c.drawn().unwrap().0.panels[0].plot;
        let (x, y) = (
            (plot.x + plot.width / 2) as f64,
            (plot.y + plot.height / 2) as f64,
        );
        assert_eq!(c.handle(Event::PointerMoved { x, y }), Action::None);
        assert!(c.hover().unwrap().starts_with("acts · row "));
        assert_eq!(c.handle(Event::Wheel { steps: 2.0 }), Action::Redraw);
        let w = c.view().window("acts");
        let rows = w.rows.unwrap();
        assert!((rows.1 - rows.0 - 100.0 * 0.64).abs() < 1e-6, "{rows:?}");
        c.frame().unwrap();
        c.handle(Event::ButtonPressed);
        assert_eq!(c.handle(Event::PointerMoved { x, y: y + 40.0 }), Action::Redraw);
        c.handle(Event::ButtonReleased);
        let moved = c.view().window("acts").rows.unwrap();
        assert!(
            moved.0 < rows.0,
            "dragging down shows earlier rows: {moved:?} vs {rows:?}"
        );
        c.handle(Event::Key(Key::Char("c".into())));
        assert_eq!(c.view().opts.colormap.kind, ColormapKind::ALL[1]);
        c.handle(Event::Key(Key::Char("n".into())));
        assert_eq!(c.view().opts.norm, NormKind::Log);
        assert_eq!(c.handle(Event::Key(Key::Char("s".into()))), Action::Save);
        assert_eq!(c.handle(Event::Key(Key::Escape)), Action::Quit);
        c.handle(Event::Key(Key::Home));
        assert_eq!(c.view().window("acts"), Default::default());
        // Fixed autoscale needs limits: refused with a message.
        c.handle(Event::SetAutoscale(Autoscale::Fixed));
        assert_eq!(c.view().opts.autoscale, Autoscale::Running);
        assert!(c.status_line().contains("needs --vmin and --vmax"));
    }

    #[test]
    fn a_device_pixel_ratio_scales_text_and_lines() {
        let s = store(10, 8);
        let mut c = browser(s);
        c.handle(Event::Resized {
            width: 1280,
            height: 960,
            scale_factor: 2.0,
        });
        c.frame().unwrap();
        let (fig, _) = c.figure().unwrap().unwrap();
        assert_eq!((fig.width, fig.height), (1280, 960));
        assert_eq!(fig.scale, Some(2.0));
        c.handle(Event::Resized {
            width: 640,
            height: 480,
            scale_factor: 1.0,
        });
        assert_eq!(c.figure().unwrap().unwrap().0.scale, None);
    }
}
