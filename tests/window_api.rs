//! The Rust API of the live window, as a training loop uses it: a
//! `Monitor`'s window runs on one thread while rows are pushed from
//! another; the screen (Xvfb, real screenshot) shows the headless picture
//! of the same rows, and `request_close` ends the window cleanly.
//! (Its own test binary: a process gets one window event loop.)

mod common;

use std::time::{Duration, Instant};

use actmap::live::{LiveView, Monitor, StoreOptions, ViewOptions};
use actmap::window::WindowOptions;
use common::x11::{Input, Xvfb, differing, find_window};

#[test]
fn monitor_window_shows_rows_pushed_from_another_thread() {
    let x = Xvfb::start(1024, 768);
    Input::new(&x.display).move_to(1000, 740);
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe { std::env::set_var("DISPLAY", &x.display) };
    let monitor = Monitor::new(StoreOptions::default()).unwrap();
    let store = monitor.store();
    let sender = monitor.sender();
    let view = ViewOptions {
        title: Some("training".into()),
        ..ViewOptions::default()
    };
    let opts = WindowOptions {
        view: view.clone(),
        width: 500,
        height: 400,
        title: "actmap training".into(),
        ..WindowOptions::default()
    };
    let window = std::thread::spawn(move || monitor.open_window(opts));

    // The "training loop": another thread pushing rows through a sender.
    let pusher = std::thread::spawn(move || {
        for step in 0..300 {
            let row: Vec<f32> = (0..64).map(|n| ((step * n) as f32 * 0.01).sin()).collect();
            sender.push_row("layer3", &row).unwrap();
        }
    });
    pusher.join().unwrap();

    let (fig, _) = LiveView::new(view)
        .figure(&store.snapshot(), 500, 400 - 24)
        .unwrap()
        .unwrap();
    let want = common::renderer().render_figure(&fig).unwrap().image;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((wx, wy, 500, 400, _)) = find_window(&x.display, "actmap training")
            && differing(&x.screenshot(), wx, wy, &want, 2) == 0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the monitor window never showed the pushed rows"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    store.request_close();
    let result = window.join().expect("window thread");
    assert!(result.is_ok(), "{result:?}");
}
