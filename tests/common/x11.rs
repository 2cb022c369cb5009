//! A private X server (Xvfb) per test and real screenshots of it, taken with
//! the X protocol's GetImage (x11rb): what a user would see on that screen.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::RgbaImage;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};
use x11rb::wrapper::ConnectionExt as _;

/// An Xvfb server, killed when dropped. Started with `-noreset`: by
/// default an X server resets (pointer and all) when its last client leaves.
pub struct Xvfb {
    child: Child,
    /// `:N`
    pub display: String,
}

impl Xvfb {
    /// Start Xvfb on a free display (CI installs the `xvfb` package; a
    /// missing Xvfb fails the test, it is never skipped).
    pub fn start(width: u32, height: u32) -> Xvfb {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let base = 200 + (std::process::id() % 400) * 10;
        for _ in 0..200 {
            let n = base + NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 4000;
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                || Path::new(&format!("/tmp/.X{n}-lock")).exists()
            {
                continue;
            }
            let display = format!(":{n}");
            let child = Command::new("Xvfb")
                .args([
                    &display,
                    "-screen",
                    "0",
                    &format!("{width}x{height}x24"),
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb must be installed for the window tests (apt-get install xvfb)");
            let mut x = Xvfb { child, display };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                // Ours only if the server's lock file names our child.
                let lock = std::fs::read_to_string(format!("/tmp/.X{n}-lock")).unwrap_or_default();
                if lock.trim().parse::<u32>().ok() == Some(x.child.id())
                    && x11rb::connect(Some(&x.display)).is_ok()
                {
                    return x;
                }
                if let Ok(Some(_)) = x.child.try_wait() {
                    break; // lost a race for this display: try the next one
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = x.child.kill();
        }
        panic!("could not start Xvfb");
    }

    /// A screenshot of the whole screen.
    pub fn screenshot(&self) -> RgbaImage {
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let s = &conn.setup().roots[screen];
        let (w, h) = (s.width_in_pixels, s.height_in_pixels);
        let reply = conn
            .get_image(ImageFormat::Z_PIXMAP, s.root, 0, 0, w, h, !0)
            .expect("GetImage request")
            .reply()
            .expect("GetImage reply");
        // 24-bit depth, 32 bits per pixel, little-endian: B, G, R, x.
        let mut img = RgbaImage::new(w as u32, h as u32);
        for (px, bgrx) in img.pixels_mut().zip(reply.data.chunks_exact(4)) {
            px.0 = [bgrx[2], bgrx[1], bgrx[0], 255];
        }
        img
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pixels of `shot` at `(x0, y0)` that differ from `want` by more than
/// `tol` in some channel.
pub fn differing(shot: &RgbaImage, x0: u32, y0: u32, want: &RgbaImage, tol: u8) -> usize {
    let mut bad = 0;
    for (x, y, p) in want.enumerate_pixels() {
        let q = shot.get_pixel(x0 + x, y0 + y);
        if p.0.iter().zip(q.0).take(3).any(|(a, b)| a.abs_diff(b) > tol) {
            bad += 1;
        }
    }
    bad
}

/// Position and size `(x, y, w, h)` on the root of the first top-level
/// window whose name contains `name`.
pub fn find_window(display: &str, name: &str) -> Option<(u32, u32, u32, u32, u32)> {
    use x11rb::protocol::xproto::AtomEnum;
    let (conn, screen) = x11rb::connect(Some(display)).ok()?;
    let root = conn.setup().roots[screen].root;
    let tree = conn.query_tree(root).ok()?.reply().ok()?;
    for w in tree.children {
        let title = conn
            .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 1024)
            .ok()?
            .reply()
            .ok()?;
        if !String::from_utf8_lossy(&title.value).contains(name) {
            continue;
        }
        let g = conn.get_geometry(w).ok()?.reply().ok()?;
        let t = conn.translate_coordinates(w, root, 0, 0).ok()?.reply().ok()?;
        return Some((
            t.dst_x.max(0) as u32,
            t.dst_y.max(0) as u32,
            g.width as u32,
            g.height as u32,
            w,
        ));
    }
    None
}

/// Ask window `w` to close the way a window manager does (WM_DELETE_WINDOW).
pub fn close_window(display: &str, w: u32) {
    use x11rb::protocol::xproto::{ClientMessageEvent, EventMask};
    let (conn, _) = x11rb::connect(Some(display)).expect("connect");
    let protocols = conn
        .intern_atom(false, b"WM_PROTOCOLS")
        .unwrap()
        .reply()
        .unwrap()
        .atom;
    let delete = conn
        .intern_atom(false, b"WM_DELETE_WINDOW")
        .unwrap()
        .reply()
        .unwrap()
        .atom;
    let ev = ClientMessageEvent::new(32, w, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
    conn.send_event(false, w, EventMask::NO_EVENT, ev).unwrap();
    conn.sync().unwrap();
}

/// Real input through the XTEST extension: move the pointer, press keys.
pub struct Input {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
}

impl Input {
    /// Connect to `display`.
    pub fn new(display: &str) -> Input {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        Input { conn, root }
    }

    /// Move the pointer to `(x, y)` on the screen.
    pub fn move_to(&self, x: i16, y: i16) {
        use x11rb::protocol::xtest::ConnectionExt as _;
        self.conn
            .xtest_fake_input(
                x11rb::protocol::xproto::MOTION_NOTIFY_EVENT,
                0,
                0,
                self.root,
                x,
                y,
                0,
            )
            .unwrap()
            .check()
            .expect("XTEST motion");
        // The server handles fake input asynchronously: wait until it has.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let p = self.conn.query_pointer(self.root).unwrap().reply().unwrap();
            if (p.root_x, p.root_y) == (x, y) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the pointer did not move to {x},{y}");
    }

    /// Give window `w` the keyboard focus (what a window manager does on a click).
    pub fn focus(&self, w: u32) {
        use x11rb::protocol::xproto::InputFocus;
        self.conn
            .set_input_focus(InputFocus::PARENT, w, x11rb::CURRENT_TIME)
            .unwrap()
            .check()
            .expect("SetInputFocus");
    }

    /// Press and release pointer button `b` (4 = wheel up, 5 = wheel down).
    pub fn button(&self, b: u8) {
        use x11rb::protocol::xproto::{BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT};
        use x11rb::protocol::xtest::ConnectionExt as _;
        self.conn
            .xtest_fake_input(BUTTON_PRESS_EVENT, b, 0, self.root, 0, 0, 0)
            .unwrap();
        self.conn
            .xtest_fake_input(BUTTON_RELEASE_EVENT, b, 0, self.root, 0, 0, 0)
            .unwrap();
        self.conn.sync().unwrap();
    }

    /// Press and release the key that types `keysym` (e.g. `'+' as u32`).
    pub fn tap(&self, keysym: u32) {
        use x11rb::protocol::xproto::{KEY_PRESS_EVENT, KEY_RELEASE_EVENT};
        use x11rb::protocol::xtest::ConnectionExt as _;
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .unwrap()
            .reply()
            .unwrap();
        let per = map.keysyms_per_keycode as usize;
        let (code, shifted) = map
            .keysyms
            .chunks(per)
            .enumerate()
            .find_map(|(i, syms)| {
                syms.iter()
                    .take(2)
                    .position(|&s| s == keysym)
                    .map(|level| (min + i as u8, level == 1))
            })
            .expect("keysym on the keyboard");
        const SHIFT_L: u8 = 50;
        if shifted {
            self.conn
                .xtest_fake_input(KEY_PRESS_EVENT, SHIFT_L, 0, self.root, 0, 0, 0)
                .unwrap();
        }
        self.conn
            .xtest_fake_input(KEY_PRESS_EVENT, code, 0, self.root, 0, 0, 0)
            .unwrap();
        self.conn
            .xtest_fake_input(KEY_RELEASE_EVENT, code, 0, self.root, 0, 0, 0)
            .unwrap();
        if shifted {
            self.conn
                .xtest_fake_input(KEY_RELEASE_EVENT, SHIFT_L, 0, self.root, 0, 0, 0)
                .unwrap();
        }
        self.conn.sync().unwrap();
    }
}
