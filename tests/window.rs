//! The live window, for real: `actmap watch` runs on its own Xvfb server,
//! rows go in through each source (TCP, stdin, a Unix socket, a replaced
//! .npy file), and a screenshot of the screen must show exactly the figure
//! the headless renderer draws for the same data. Keys and the pointer go
//! through XTEST like a user's; closing goes through WM_DELETE_WINDOW.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use actmap::live::{FrameDecoder, LiveStore, LiveView, StoreOptions};
use common::live::{row, stderr_lines, text_row, view_for, wait_for_line};
use common::x11::{Input, Xvfb, close_window, differing, find_window};
use image::RgbaImage;

const W: u32 = 640;
const H: u32 = 480;
/// The window's status bar (not part of the figure).
const STATUS_H: u32 = 24;

/// `actmap watch` on `x`'s display, with stderr lines delivered to a channel.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    log: Vec<String>,
}

impl Watch {
    fn start(x: &Xvfb, args: &[&str], stdin: bool) -> Watch {
        Self::command(x, "watch", args, stdin)
    }

    fn command(x: &Xvfb, sub: &str, args: &[&str], stdin: bool) -> Watch {
        // Xvfb starts with the pointer mid-screen, over the window: park it
        // outside so no hover read-out is drawn.
        Input::new(&x.display).move_to((W + 100) as i16, (H + 100) as i16);
        let mut child = Command::new(env!("CARGO_BIN_EXE_actmap"))
            .arg(sub)
            .args(args)
            .args(["--size", &format!("{W}x{H}"), "-v"])
            .env("DISPLAY", &x.display)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start actmap watch");
        let rx = stderr_lines(&mut child);
        Watch {
            child,
            lines: rx,
            log: Vec::new(),
        }
    }

    /// Wait for a stderr line containing `needle`; returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        wait_for_line(
            &mut self.child,
            &self.lines,
            &mut self.log,
            needle,
            "actmap watch",
        )
    }

    /// Wait for the process to end by itself; its exit status.
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("actmap watch did not exit after its window closed");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The headless render of what the window's figure area should show.
fn expected(store: &LiveStore, title: &str, view: &mut LiveView) -> RgbaImage {
    let _ = title;
    let (fig, _) = view
        .figure(&store.snapshot(), W, H - STATUS_H)
        .unwrap()
        .expect("data to draw");
    common::renderer().render_figure(&fig).unwrap().image
}

/// Screenshot until the window's figure area equals `want` (the picture
/// may be one frame behind the log line); panics with both images saved.
fn assert_shows(x: &Xvfb, want: &RgbaImage, what: &str) -> RgbaImage {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        if let Some((wx, wy, ww, wh, _)) = find_window(&x.display, "actmap")
            && (ww, wh) == (W, H)
        {
            let shot = x.screenshot();
            if differing(&shot, wx, wy, want, 2) == 0 {
                let window = image::imageops::crop_imm(&shot, wx, wy, W, H).to_image();
                // Kept for people to look at (CI keeps target/tmp).
                let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("window");
                let _ = std::fs::create_dir_all(&dir);
                let _ = window.save(dir.join(format!("{what}.png")));
                return window;
            }
            last = Some((shot, wx, wy));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("window");
    std::fs::create_dir_all(&dir).unwrap();
    want.save(dir.join(format!("{what}-expected.png"))).unwrap();
    match last {
        Some((shot, wx, wy)) => {
            shot.save(dir.join(format!("{what}-screen.png"))).unwrap();
            panic!(
                "{what}: the window differs from the headless render in {} pixels (images in {})",
                differing(&shot, wx, wy, want, 2),
                dir.display()
            );
        }
        None => panic!("{what}: no {W}x{H} actmap window appeared"),
    }
}

fn close_and_wait(x: &Xvfb, w: &mut Watch) {
    let (.., id) = find_window(&x.display, "actmap").expect("window");
    close_window(&x.display, id);
    let status = w.wait_exit();
    assert!(status.success(), "exit status {status}:\n{}", w.log.join("\n"));
}

#[test]
fn tcp_text_rows_with_a_bad_line_match_the_headless_render_and_close_cleanly() {
    let x = Xvfb::start(1024, 768);
    let mut w = Watch::start(&x, &["tcp://127.0.0.1:0", "--title", "tcp test"], false);
    let line = w.wait_for("listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    for r in 0..200 {
        sock.write_all(text_row(r, 32).as_bytes()).unwrap();
        store.push_rows("", 32, &row(r, 32)).unwrap();
        if r == 100 {
            // Reported and skipped: the rows after it still arrive.
            sock.write_all(b"0.5, not-a-number, 3\n").unwrap();
        }
    }
    sock.flush().unwrap();
    w.wait_for("rows [-=200]");
    let shot = assert_shows(
        &x,
        &expected(&store, "tcp test", &mut view_for("tcp test")),
        "tcp",
    );
    // The status bar reports the skipped line: it is not blank.
    let bar = image::imageops::crop_imm(&shot, 0, H - STATUS_H, W, STATUS_H).to_image();
    assert!(bar.pixels().any(|p| p.0[0] < 100), "status bar text");

    close_and_wait(&x, &mut w);
    // The writer is not left hanging: its socket is closed.
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let n = sock.read(&mut buf);
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "socket still open after the window closed: {n:?}"
    );
}

#[test]
fn stdin_binary_frames_of_two_channels_become_two_panels_and_survive_eof() {
    let x = Xvfb::start(1024, 768);
    let mut w = Watch::start(&x, &["-", "--title", "stdin test"], true);
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    let mut stdin = w.child.stdin.take().unwrap();
    for r in 0..120 {
        let a = row(r, 48);
        let b: Vec<f32> = row(r + 7, 16).iter().map(|v| v * 3.0).collect();
        stdin.write_all(&FrameDecoder::encode("attn", 1, 48, &a)).unwrap();
        stdin.write_all(&FrameDecoder::encode("mlp", 1, 16, &b)).unwrap();
        store.push_rows("attn", 48, &a).unwrap();
        store.push_rows("mlp", 16, &b).unwrap();
    }
    stdin.flush().unwrap();
    w.wait_for("rows [attn=120 mlp=120]");
    let want = expected(&store, "stdin test", &mut view_for("stdin test"));
    assert_shows(&x, &want, "stdin");
    // End of input: the last picture stays up.
    drop(stdin);
    std::thread::sleep(Duration::from_millis(500));
    assert_shows(&x, &want, "stdin-after-eof");
    assert!(
        w.child.try_wait().unwrap().is_none(),
        "the window stays open after EOF"
    );
    close_and_wait(&x, &mut w);
}

#[test]
fn unix_socket_and_interaction_zoom_hover_and_save() {
    let x = Xvfb::start(1024, 768);
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("acts.sock");
    let save_dir = dir.path().join("saved");
    std::fs::create_dir(&save_dir).unwrap();
    let src = format!("unix://{}", sock_path.display());
    let mut w = Watch::start(
        &x,
        &[
            &src,
            "--title",
            "unix test",
            "--save-dir",
            save_dir.to_str().unwrap(),
        ],
        false,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sock = loop {
        match std::os::unix::net::UnixStream::connect(&sock_path) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("connect {}: {e}", sock_path.display()),
        }
    };
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    for r in 0..160 {
        sock.write_all(text_row(r, 40).as_bytes()).unwrap();
        store.push_rows("", 40, &row(r, 40)).unwrap();
    }
    w.wait_for("rows [-=160]");
    let mut view = view_for("unix test");
    assert_shows(&x, &expected(&store, "unix test", &mut view), "unix");

    // Zoom in with the keyboard: the same view, computed headless.
    let (wx, wy, .., win) = find_window(&x.display, "actmap").unwrap();
    let input = Input::new(&x.display);
    input.focus(win);
    // Keys go to the window under the pointer (no window manager): park it
    // on the status bar, where there is no read-out.
    let park = || input.move_to((wx + W - 2) as i16, (wy + H - 2) as i16);
    park();
    input.tap('+' as u32);
    let snap = store.snapshot();
    let (_, sources) = view.figure(&snap, W, H - STATUS_H).unwrap().unwrap();
    view.zoom_centre(&sources, 0.8);
    let zoomed = expected(&store, "unix test", &mut view);
    assert_shows(&x, &zoomed, "unix-zoomed");

    // Hover: a read-out box appears where the pointer is.
    let fig_layout = actmap::layout::layout_figure(
        &view.figure(&snap, W, H - STATUS_H).unwrap().unwrap().0,
        actmap::text::Font::default_sans(),
    )
    .unwrap();
    let plot = fig_layout.panels[0].plot;
    let (hx, hy) = (plot.x + plot.width / 3, plot.y + plot.height / 3);
    input.move_to((wx + hx) as i16, (wy + hy) as i16);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shot = x.screenshot();
        let p = shot.get_pixel(wx + hx + 20, wy + hy + 18).0;
        if p[..3] == [255, 255, 225] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no hover read-out near the pointer (saw {p:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Save: the PNG is the headless render of the current view, exactly.
    input.tap('s' as u32);
    let _ = &park;
    w.wait_for("saved ");
    let saved: Vec<_> = std::fs::read_dir(&save_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let png = image::open(&saved[0]).unwrap().to_rgba8();
    assert!(
        png == zoomed,
        "saved PNG differs from the headless render of the view"
    );

    // The help overlay lists the keys.
    park();
    input.tap('h' as u32);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let shot = x.screenshot();
        let centre = shot.get_pixel(wx + W / 2 - 150, wy + H / 2 - 10).0;
        if centre[..3].iter().all(|&c| c.abs_diff(30) <= 4) {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("window");
            let _ = image::imageops::crop_imm(&shot, wx, wy, W, H)
                .to_image()
                .save(dir.join("unix-help.png"));
            break;
        }
        assert!(Instant::now() < deadline, "no help overlay (saw {centre:?})");
        std::thread::sleep(Duration::from_millis(100));
    }
    input.tap('h' as u32);

    // Keys change the picture: next colormap.
    input.tap('c' as u32);
    view.opts.colormap = actmap::Colormap {
        kind: actmap::scale::ColormapKind::ALL[1],
        reversed: false,
    };
    assert_shows(&x, &expected(&store, "unix test", &mut view), "unix-cmap");

    input.tap('q' as u32);
    assert!(w.wait_exit().success());
    assert!(!sock_path.exists(), "the socket file is removed on exit");
}

#[test]
fn a_replaced_npy_file_is_redrawn() {
    let x = Xvfb::start(1024, 768);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acts.npy");
    let grid = |k: f32| actmap::Grid::from_fn(50, 30, |r, c| ((r * 30 + c) as f32 * 0.01 * k).sin()).unwrap();
    let write = |g: &actmap::Grid| {
        let tmp = dir.path().join("acts.tmp.npy");
        actmap::sink::write_npy_f32(&tmp, &[g.rows(), g.cols()], g.data()).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    };
    write(&grid(1.0));
    let mut w = Watch::start(&x, &[path.to_str().unwrap(), "--title", "file test"], false);
    w.wait_for("rows [-=50]");
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    store.replace("", grid(1.0)).unwrap();
    let mut view = view_for("file test");
    assert_shows(&x, &expected(&store, "file test", &mut view), "file-1");
    write(&grid(3.0));
    store.replace("", grid(3.0)).unwrap();
    let mut fresh = view_for("file test");
    assert_shows(&x, &expected(&store, "file test", &mut fresh), "file-2");
    close_and_wait(&x, &mut w);
}

#[test]
fn show_explores_a_file_and_zooms_with_the_wheel() {
    let x = Xvfb::start(1024, 768);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    // 6000 rows: more than 8 per pixel row, so the window draws a merged level.
    let g = actmap::Grid::from_fn(6000, 64, |r, c| {
        if (r, c) == (4321, 40) {
            50.0
        } else {
            ((r + c) % 97) as f32 * 0.01
        }
    })
    .unwrap();
    actmap::sink::write_npy_f32(&path, &[g.rows(), g.cols()], g.data()).unwrap();
    let mut w = Watch::command(
        &x,
        "show",
        &[path.to_str().unwrap(), "--title", "show test"],
        false,
    );
    w.wait_for("rows [-=6000]");
    let store = LiveStore::new(StoreOptions {
        capacity_rows: 6000,
        ..StoreOptions::default()
    })
    .unwrap();
    store.replace("", g).unwrap();
    let mut view = view_for("show test");
    let shot = assert_shows(&x, &expected(&store, "show test", &mut view), "show");
    // The spike survives the merged level: the colormap's top colour is on screen.
    let top = actmap::Colormap::default().lut()[255];
    assert!(
        shot.pixels().any(|p| p.0 == top),
        "the spike at row 4321 is drawn"
    );
    // Scrolling the wheel over the plot zooms in around the pointer.
    let (wx, wy, .., win) = find_window(&x.display, "actmap").unwrap();
    let input = Input::new(&x.display);
    input.focus(win);
    input.move_to((wx + 300) as i16, (wy + 200) as i16);
    input.button(4);
    w.wait_for("frame");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = x.screenshot();
        let changed = differing(&now, wx, wy, &shot, 2) > 1000;
        if changed {
            break;
        }
        assert!(Instant::now() < deadline, "the wheel did not zoom");
        std::thread::sleep(Duration::from_millis(100));
    }
    input.tap('q' as u32);
    assert!(w.wait_exit().success());
}

#[test]
fn no_display_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args(["watch", "-"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no display") && err.contains("DISPLAY"), "{err}");
}

#[test]
fn a_run_log_is_followed_with_its_steps_on_the_axis() {
    use actmap::runlog::{RunWriter, WriterOptions};
    let x = Xvfb::start(1024, 768);
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
    // Uneven logging intervals, as seed figure 000.
    let steps: Vec<i64> = [0, 150, 300, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6500].to_vec();
    for (i, &s) in steps.iter().enumerate() {
        writer.append("acts", Some(s), 0.0, &[32], &row(i, 32)).unwrap();
        store
            .push_records("acts", Some(&[s]), &[32], &row(i, 32))
            .unwrap();
    }
    writer.flush().unwrap();
    let arg = run.to_str().unwrap().to_string();
    let mut w = Watch::start(&x, &[&arg, "--title", "run test"], false);
    w.wait_for("rows [acts=12]");
    let first = assert_shows(
        &x,
        &expected(&store, "run test", &mut view_for("run test")),
        "runlog",
    );
    // The y axis is the step axis: the figure places row 0 and row 11 at
    // steps 0 and 6500, so the band of the rows logged at 150..500 is
    // thinner than the band of 5000..6500.
    let snap = store.snapshot();
    let (fig, _) = view_for("run test")
        .figure(&snap, W, H - STATUS_H)
        .unwrap()
        .unwrap();
    assert_eq!(fig.panels[0].y.label.as_deref(), Some("step"));
    assert_eq!(fig.panels[0].y.coords.as_ref().unwrap()[11], 6500.0);
    // New records appear as the writer flushes them.
    let start = Instant::now();
    for (k, s) in (7000..7100).step_by(10).enumerate() {
        let r = row(12 + k, 32);
        writer.append("acts", Some(s), 0.0, &[32], &r).unwrap();
        store.push_records("acts", Some(&[s]), &[32], &r).unwrap();
    }
    w.wait_for("rows [acts=22]");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    let second = assert_shows(
        &x,
        &expected(&store, "run test", &mut view_for("run test")),
        "runlog-grown",
    );
    assert_ne!(first, second);
    close_and_wait(&x, &mut w);
    writer.close().unwrap();
}

#[test]
fn watch_records_what_it_shows() {
    let x = Xvfb::start(1024, 768);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("rec");
    let arg = run.to_str().unwrap().to_string();
    let mut w = Watch::start(
        &x,
        &["tcp://127.0.0.1:0", "--record", &arg, "--title", "tee"],
        false,
    );
    let line = w.wait_for("listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();
    let mut sock = std::net::TcpStream::connect(&addr).unwrap();
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    for r in 0..40usize {
        let step = 1000 + 25 * r as i64;
        let v = row(r, 24);
        sock.write_all(&FrameDecoder::encode_v2("acts", &[24], &v, Some(&[step]), 1.7e9))
            .unwrap();
        store.push_records("acts", Some(&[step]), &[24], &v).unwrap();
    }
    sock.flush().unwrap();
    w.wait_for("rows [acts=40]");
    assert_shows(&x, &expected(&store, "tee", &mut view_for("tee")), "tee");
    close_and_wait(&x, &mut w);
    let c = actmap::runlog::RunReader::open(&run)
        .unwrap()
        .channel("acts")
        .unwrap();
    assert_eq!(c.rows(), 40);
    assert_eq!(c.steps(39..40).unwrap(), [1975]);
    let mut out = Vec::new();
    c.read(7..8, &mut out).unwrap();
    assert_eq!(out, row(7, 24));
}
