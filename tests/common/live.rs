//! Helpers of the live-view tests (the window's and the browser's): the
//! same deterministic rows, a view with a title, and an `actmap` child
//! process whose stderr lines are waited for.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use actmap::live::{LiveView, ViewOptions};

/// Deterministic test rows: waves with a spike at row 120, column 7.
pub fn row(r: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .map(|c| {
            if (r, c) == (120, 7) {
                9.0
            } else {
                ((r as f32 * 0.1 + c as f32 * 0.3).sin()) * (1.0 + r as f32 / 100.0)
            }
        })
        .collect()
}

/// [`row`] as a line of comma-separated text.
pub fn text_row(r: usize, cols: usize) -> String {
    let v: Vec<String> = row(r, cols).iter().map(|x| x.to_string()).collect();
    v.join(",") + "\n"
}

/// A live view titled `title`, default options otherwise.
pub fn view_for(title: &str) -> LiveView {
    LiveView::new(ViewOptions {
        title: Some(title.into()),
        ..ViewOptions::default()
    })
}

/// The stderr lines of `child` (spawned with a piped stderr), delivered
/// by a thread as they come.
pub fn stderr_lines(child: &mut Child) -> Receiver<String> {
    let err = child.stderr.take().expect("a piped stderr");
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait up to 60 s for a line of `lines` containing `needle`, keeping
/// every line in `log`; panics with the log when `child` (`what`) exits
/// first or the time is up.
pub fn wait_for_line(
    child: &mut Child,
    lines: &Receiver<String>,
    log: &mut Vec<String>,
    needle: &str,
    what: &str,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                log.push(l.clone());
                if l.contains(needle) {
                    return l;
                }
            }
            Err(_) => {
                if let Ok(Some(s)) = child.try_wait() {
                    panic!("{what} exited ({s}) before '{needle}':\n{}", log.join("\n"));
                }
            }
        }
    }
    panic!("no '{needle}' within 60 s:\n{}", log.join("\n"));
}
