//! Faults on real filesystems: a full disk (a small tmpfs mounted here),
//! a read-only target, a missing parent, a path that is a file, kill -9
//! at random moments. Every writer stops with one line naming the run and
//! the cause, exits non-zero, and leaves what it flushed before readable by
//! actmap and by zarr-python.
//!
//! Mounting needs root (as in CI); elsewhere these tests print why they
//! did not run and pass.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (mount's syntax: `10m`), or why not (printed).
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let is_root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .map(|u| u.split_whitespace().next() == Some("0"))
            })
            .unwrap_or(false);
        if !is_root {
            eprintln!("SKIPPED: mounting a small tmpfs needs root; this test did not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs ({}); this test did not run",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Remount with `options` (`size=64m`, `ro`, `rw`).
    pub fn remount(&self, options: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "remount {options}: {}",
            common::stderr(&out)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Columns of the streamed rows: 1024 float32 is 4 KiB a row, 4 MiB a chunk.
const COLS: usize = 1024;

/// Row `i` of the stream: every value `i`.
fn text_row(i: usize) -> String {
    let v = format!("{i}");
    let mut s = String::with_capacity(COLS * 6);
    for c in 0..COLS {
        if c > 0 {
            s.push(',');
        }
        s.push_str(&v);
    }
    s.push('\n');
    s
}

/// Feed rows to `child`'s stdin (about 4 MB/s, so several flushes happen
/// before the disk fills) until it stops reading; wait (at most 60 s, a
/// guard against a hang, not a timing) for it to exit.
fn feed_until_exit(child: &mut Child) -> ExitStatus {
    let mut stdin = child.stdin.take().expect("stdin piped");
    let feeder = std::thread::spawn(move || {
        for i in 0..200_000 {
            if stdin.write_all(text_row(i).as_bytes()).is_err() {
                return i;
            }
            if i % 4 == 3 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        200_000
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let _ = feeder.join();
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the writer did not stop within 60 s of a full disk (a hang)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The stderr lines of an exited child.
fn stderr_of(child: &mut Child) -> Vec<String> {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut s);
    }
    s.lines().map(str::to_string).collect()
}

/// The one line a recorder on a full disk stops with.
fn assert_one_stop_line(lines: &[String], run: &Path) {
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("actmap:")).collect();
    assert_eq!(errors.len(), 1, "one line, got:\n{}", lines.join("\n"));
    let l = errors[0];
    assert!(
        l.contains(&format!("recording to {} stopped", run.display()))
            && l.contains("No space left on device"),
        "{l}"
    );
}

/// What a full disk leaves: actmap's info and reader and zarr-python see
/// the same rows, `0..n` in order, each row all its own index (never a
/// torn or a missing chunk: zarr-python would read NaN fill there).
fn assert_run_intact(run: &Path) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let info = common::actmap(&["info", run.to_str().unwrap()], tmp.path());
    assert!(info.status.success(), "{}", common::stderr(&info));
    let reader = actmap::runlog::RunReader::open(run).expect("open the run");
    let ch = reader.channel("default").expect("the channel");
    let n = ch.rows();
    assert!(n > 0, "records flushed before the disk filled are kept");
    let mut v = Vec::new();
    ch.read(0..n, &mut v).unwrap();
    for (i, r) in v.chunks(COLS).enumerate() {
        assert!(r.iter().all(|&x| x == i as f32), "row {i} torn: {:?}", &r[..4]);
    }
    let out = common::run_python(
        r#"
import sys, zarr, numpy as np
g = zarr.open_group(sys.argv[1], mode="r")
v = g["default/values"][:]
s = g["default/step"][:]
assert v.shape[0] == s.shape[0], (v.shape, s.shape)
assert not np.isnan(v).any(), "metadata points past the written chunks"
want = np.arange(v.shape[0], dtype=np.float32)[:, None]
assert (v == want).all(), "rows differ"
assert (s == np.arange(v.shape[0])).all(), s
print(v.shape[0])
"#,
        tmp.path(),
        &[run.to_str().unwrap()],
    );
    assert_eq!(out.trim(), n.to_string(), "zarr-python sees actmap's rows");
    n
}

fn actmap_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_actmap"));
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn record_on_a_full_disk_stops_with_one_line_and_keeps_what_it_flushed() {
    let Some(fs) = Tmpfs::mount("10m") else { return };
    let run = fs.path().join("run");
    let mut child = actmap_cmd(&[
        "record",
        "-",
        "-o",
        run.to_str().unwrap(),
        "--flush-every",
        "0.1",
        "-q",
    ])
    .spawn()
    .expect("start actmap record");
    let status = feed_until_exit(&mut child);
    let lines = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    assert_one_stop_line(&lines, &run);
    assert_run_intact(&run);
    // No temporary file left behind by the write that failed.
    let leftovers: Vec<_> = walk(&run)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".actmap-tmp."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Once space is back, a restart appends after the kept rows.
    fs.remount("size=64m");
    let mut child = actmap_cmd(&["record", "-", "-o", run.to_str().unwrap(), "-q"])
        .spawn()
        .unwrap();
    let kept = actmap::runlog::RunReader::open(&run)
        .unwrap()
        .channel("default")
        .unwrap()
        .rows();
    {
        let mut stdin = child.stdin.take().unwrap();
        for i in kept as usize..kept as usize + 10 {
            stdin.write_all(text_row(i).as_bytes()).unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(assert_run_intact(&run), kept + 10);
}

#[test]
fn serve_record_on_a_full_disk_stops_with_one_line() {
    let Some(fs) = Tmpfs::mount("10m") else { return };
    let run = fs.path().join("run");
    let mut child = actmap_cmd(&[
        "serve",
        "-",
        "--record",
        run.to_str().unwrap(),
        "--flush-every",
        "0.1",
        "--bind",
        "127.0.0.1:0",
    ])
    .spawn()
    .expect("start actmap serve");
    let status = feed_until_exit(&mut child);
    let lines = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    let stop: Vec<&String> = lines.iter().filter(|l| l.contains("stopped")).collect();
    assert_eq!(stop.len(), 1, "{}", lines.join("\n"));
    assert!(
        stop[0].contains(&format!("recording to {} stopped", run.display()))
            && stop[0].contains("No space left on device"),
        "{}",
        stop[0]
    );
    assert_run_intact(&run);
}

#[test]
fn watch_record_on_a_full_disk_stops_with_one_line() {
    let Some(fs) = Tmpfs::mount("10m") else { return };
    let x = common::x11::Xvfb::start(800, 600);
    let run = fs.path().join("run");
    let mut c = actmap_cmd(&[
        "watch",
        "-",
        "--record",
        run.to_str().unwrap(),
        "--flush-every",
        "0.1",
        "--size",
        "320x240",
    ]);
    c.env("DISPLAY", &x.display).env_remove("WAYLAND_DISPLAY");
    let mut child = c.spawn().expect("start actmap watch");
    let status = feed_until_exit(&mut child);
    let lines = stderr_of(&mut child);
    assert_eq!(status.code(), Some(1), "{}", lines.join("\n"));
    let stop: Vec<&String> = lines.iter().filter(|l| l.contains("stopped")).collect();
    assert_eq!(stop.len(), 1, "{}", lines.join("\n"));
    assert!(stop[0].contains("No space left on device"), "{}", stop[0]);
    assert_run_intact(&run);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Pseudo-random float32 noise (an LCG): PNGs of it hardly compress, so a
/// few fill a small disk.
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Every file and directory under `dir` (relative names, directories
/// ending in `/`), sorted; symbolic links are listed, not followed.
fn listing(dir: &Path) -> Vec<String> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.push(format!("{name}/"));
                go(root, &p, out);
            } else {
                out.push(name);
            }
        }
    }
    let mut v = Vec::new();
    go(dir, dir, &mut v);
    v.sort();
    v
}

#[test]
fn batch_on_a_full_disk_names_the_figure_stops_and_a_rerun_finishes() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let inputs = tempfile::tempdir().unwrap();
    for i in 0..12 {
        actmap::sink::write_npy_f32(
            &inputs.path().join(format!("g{i:02}.npy")),
            &[400, 600],
            &noise(400 * 600, i),
        )
        .unwrap();
    }
    let figs = fs.path().join("figs");
    let args = ["render", "in", "-o", figs.to_str().unwrap(), "--size", "1200x900"];
    std::os::unix::fs::symlink(inputs.path(), fs.path().join("in")).ok();
    let started = Instant::now();
    let mut quiet = args.to_vec();
    quiet.push("-q");
    let o = common::actmap(&quiet, fs.path());
    let took = started.elapsed();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // One line: the figure, its file and the cause.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got:\n{err}");
    let l = lines[0];
    assert!(
        l.starts_with("actmap: error: writing in/g") && l.contains(".npy stopped the batch: "),
        "{l}"
    );
    assert!(
        l.contains(&format!("{}/g", figs.display())) && l.contains("No space left on device"),
        "{l}"
    );
    assert!(l.contains("run the same command again"), "{l}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    // No half-written PNG: what is there is whole (decodes to the full
    // size), and no temporary file is left.
    let written = listing(&figs);
    assert!(written.iter().all(|f| !f.ends_with('/')), "{written:?}");
    assert!(!written.is_empty() && written.len() < 12, "{written:?}");
    for f in &written {
        assert!(f.ends_with(".png") && !f.starts_with('.'), "a leftover: {f}");
        let img = image::open(figs.join(f)).unwrap_or_else(|e| panic!("{f} is torn: {e}"));
        assert_eq!((img.width(), img.height()), (1200, 900));
    }
    // Space back: the same command finishes the rest, skipping what is done.
    fs.remount("size=64m");
    let o = common::actmap(&args, fs.path());
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "rendered {}, skipped {}, failed 0 of 12",
            12 - written.len(),
            written.len()
        )),
        "{err}"
    );
    let all = listing(&figs);
    assert_eq!(all.len(), 12, "{all:?}");
    for f in &all {
        let img = image::open(figs.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!((img.width(), img.height()), (1200, 900));
    }
}

/// How a writer is started on a target: `record`, `serve --record`,
/// `watch --record`, batch `render -o`, one figure `render FILE -o`.
fn writer_args(kind: &str, target: &str) -> Vec<String> {
    let v: Vec<&str> = match kind {
        "record" => vec!["record", "-", "-o", target, "-q"],
        "serve" => vec!["serve", "-", "--record", target, "--bind", "127.0.0.1:0"],
        "watch" => vec!["watch", "-", "--record", target],
        "batch" => vec!["render", "in", "-o", target, "-q"],
        "render" => vec!["render", "in/g0.npy", "-o", target],
        _ => unreachable!(),
    };
    v.into_iter().map(String::from).collect()
}

/// Start the writer `kind` on `target` in `dir` (as `uid` when given) and
/// check it is refused at once: exit 1, one line naming the target and
/// `cause`.
fn assert_refused(kind: &str, dir: &Path, target: &str, cause: &str, uid: Option<u32>) {
    let args = writer_args(kind, target);
    let mut c = match uid {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".into(),
            ])
            .arg(env!("CARGO_BIN_EXE_actmap"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_actmap")),
    };
    // A window would open only after the recorder: no X server is needed
    // to see the refusal.
    c.args(&args)
        .current_dir(dir)
        .env("DISPLAY", ":65000")
        .stdin(Stdio::null());
    let started = Instant::now();
    let o = c.output().expect("start actmap");
    let err = common::stderr(&o);
    let what = format!("{kind} on {target} ({cause})");
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{what}: not refused at start"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one line, got:\n{err}");
    assert!(
        lines[0].starts_with(&format!("actmap: error: {target}")) && lines[0].contains(cause),
        "{what}: {}",
        lines[0]
    );
}

#[test]
fn every_writer_refuses_a_target_it_cannot_write_at_start_and_creates_nothing() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    // Work in the tmpfs: `in` holds two inputs for the batch, `file` is a
    // regular file, `locked` a directory only root may write to, `ro` a
    // read-only tmpfs with an empty directory in it.
    let d = fs.path();
    std::fs::create_dir(d.join("in")).unwrap();
    for i in 0..2 {
        actmap::sink::write_npy_f32(&d.join(format!("in/g{i}.npy")), &[4, 4], &[i as f32; 16]).unwrap();
    }
    std::fs::write(d.join("file"), b"not a run").unwrap();
    std::fs::create_dir(d.join("locked")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.join("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let ro = Tmpfs::mount("1m").unwrap();
    std::fs::create_dir(ro.path().join("empty")).unwrap();
    ro.remount("ro");
    std::os::unix::fs::symlink(ro.path(), d.join("ro")).unwrap();
    let before = listing(d);
    for kind in ["record", "serve", "watch", "batch", "render"] {
        assert_refused(kind, d, "ro/new", "Read-only file system", None);
        assert_refused(kind, d, "ro/empty", "Read-only file system", None);
        assert_refused(
            kind,
            d,
            "missing/new",
            "its parent directory missing does not exist",
            None,
        );
        if kind != "render" {
            // (One figure to an existing file replaces it, as savefig does.)
            assert_refused(kind, d, "file", "not a directory", None);
        }
        // Root may write anywhere but to a read-only mount (above): as
        // another user, a directory of root's 0555.
        assert_refused(kind, d, "locked/new", "Permission denied", Some(65534));
        assert_eq!(listing(d), before, "{kind}: a refused start created something");
        assert_eq!(std::fs::read(d.join("file")).unwrap(), b"not a run");
    }
    assert_eq!(listing(ro.path()), ["empty/"]);
}

/// A small seeded generator (xorshift64*), so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Columns of the kill-loop rows.
const KCOLS: usize = 256;

/// The value of column `c` at `step`: a torn or misplaced row shows.
fn kvalue(step: i64, c: usize) -> f32 {
    (step * 3 + c as i64) as f32
}

/// One version-2 binary frame: a row of `acts` at `step`.
fn frame(step: i64) -> Vec<u8> {
    let name = b"acts";
    let mut f = Vec::with_capacity(40 + KCOLS * 4);
    f.extend_from_slice(b"AMAP");
    f.extend_from_slice(&[2, 1]);
    f.extend_from_slice(&(name.len() as u16).to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&(KCOLS as u32).to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&actmap::runlog::now().to_le_bytes());
    f.extend_from_slice(name);
    f.extend_from_slice(&step.to_le_bytes());
    for c in 0..KCOLS {
        f.extend_from_slice(&kvalue(step, c).to_le_bytes());
    }
    f
}

/// Read the run as a viewer does and check every visible row: whole (its
/// values are those of its step) and steps strictly increasing. Returns
/// the rows and the last step (`None`: no run or no row yet).
fn check_visible(run: &Path, when: &str) -> (u64, Option<i64>) {
    if !run.join("zarr.json").exists() {
        return (0, None);
    }
    let reader = match actmap::runlog::RunReader::open(run) {
        Ok(r) => r,
        Err(e) => panic!("{when}: the run does not open: {e}"),
    };
    if !reader.channel_names().iter().any(|c| c == "acts") {
        return (0, None);
    }
    let ch = reader.channel("acts").unwrap_or_else(|e| panic!("{when}: {e}"));
    let n = ch.rows();
    let steps = ch.steps(0..n).unwrap_or_else(|e| panic!("{when}: steps: {e}"));
    assert_eq!(steps.len() as u64, n, "{when}");
    assert!(
        steps.windows(2).all(|w| w[0] < w[1]),
        "{when}: steps do not strictly increase: {steps:?}"
    );
    let mut v = Vec::new();
    ch.read(0..n, &mut v)
        .unwrap_or_else(|e| panic!("{when}: read: {e}"));
    assert_eq!(v.len(), n as usize * KCOLS, "{when}");
    for (r, (row, &step)) in v.chunks(KCOLS).zip(&steps).enumerate() {
        if let Some(c) = (0..KCOLS).find(|&c| row[c] != kvalue(step, c)) {
            panic!(
                "{when}: row {r} (step {step}) is torn at column {c}: {} instead of {}",
                row[c],
                kvalue(step, c)
            );
        }
    }
    (n, steps.last().copied())
}

#[test]
fn sigkill_at_50_random_moments_never_tears_a_row_and_each_restart_appends() {
    let seed = std::env::var("ACTMAP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f00d_u64);
    eprintln!("seed {seed} (ACTMAP_KILL_SEED replays it)");
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let started = Instant::now();
    let mut kept = 0u64;
    let mut kept_last: Option<i64> = None;
    let mut rows_total_sent = 0u64;
    for round in 0..50 {
        // Rows go on from the last step a reader sees.
        let first = kept_last.map_or(0, |s| s + 1);
        let mut child = Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args([
                "record",
                "-",
                "-o",
                run.to_str().unwrap(),
                "--flush-every",
                "0.05",
                "-q",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start actmap record");
        let mut stdin = child.stdin.take().unwrap();
        let burst = 1 + rng.below(16) as i64;
        let feeder = std::thread::spawn(move || {
            let mut step = first;
            loop {
                for _ in 0..burst {
                    if stdin.write_all(&frame(step)).is_err() {
                        return step - first;
                    }
                    step += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        // Killed at a random moment: now and then while it opens the run
        // (under 20 ms), mostly while it writes and flushes.
        let delay = if rng.below(5) == 0 {
            rng.below(20)
        } else {
            20 + rng.below(500)
        };
        let when = format!("round {round} (kill after {delay} ms)");
        if delay > 40 {
            std::thread::sleep(Duration::from_millis(delay / 2));
            // A reader while the writer runs.
            let (n, _) = check_visible(&run, &format!("{when}, while writing"));
            assert!(n >= kept, "{when}: {n} rows visible, {kept} before");
            std::thread::sleep(Duration::from_millis(delay - delay / 2));
        } else {
            std::thread::sleep(Duration::from_millis(delay));
        }
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL
        let status = child.wait().unwrap();
        rows_total_sent += feeder.join().unwrap() as u64;
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
        assert!(
            !status.success() && !err.contains("error"),
            "{when}: the writer stopped by itself: {status:?} {err}"
        );
        let (n, last) = check_visible(&run, &format!("{when}, after the kill"));
        // Nothing that was visible is lost; rows of the last flush
        // interval may be.
        assert!(
            n >= kept,
            "{when}: {n} rows visible after the kill, {kept} before"
        );
        if n > kept {
            assert!(last.unwrap() >= first, "{when}");
        }
        kept = n;
        kept_last = last;
    }
    let took = started.elapsed();
    eprintln!(
        "50 kills in {:.1} s: {kept} rows kept of {rows_total_sent} sent",
        took.as_secs_f64()
    );
    assert!(kept > 500, "only {kept} rows in 50 rounds");
    // A last clean run appends after the kept rows and exits 0.
    let mut child = actmap_cmd(&["record", "-", "-o", run.to_str().unwrap(), "-q"])
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        let first = kept_last.unwrap() + 1;
        for s in first..first + 5 {
            stdin.write_all(&frame(s)).unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", stderr_of(&mut child).join("\n"));
    let (n, _) = check_visible(&run, "after the clean run");
    assert_eq!(n, kept + 5);
    // zarr-python reads the same rows.
    let out = common::run_python(
        r#"
import sys, zarr, numpy as np
g = zarr.open_group(sys.argv[1], mode="r")
v, s = g["acts/values"][:], g["acts/step"][:]
assert v.shape[0] == s.shape[0] and (np.diff(s) > 0).all()
want = s[:, None].astype(np.float64) * 3 + np.arange(v.shape[1])[None, :]
assert (v == want.astype(np.float32)).all(), "a row is torn"
print(v.shape[0])
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );
    assert_eq!(out.trim(), n.to_string());
}

#[test]
fn a_writer_killed_before_its_first_commit_leaves_a_run_a_restart_opens() {
    // What the kill leaves: the lock naming the dead pid and the root
    // metadata's temporary file, no zarr.json.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join(actmap::runlog::LOCK_FILE), "pid=999999999\n").unwrap();
    std::fs::write(run.join(".zarr.json.actmap-tmp.999999999.0"), "{\"zarr_for").unwrap();
    let w = actmap::runlog::RunWriter::open(&run, Default::default()).expect("a new run");
    w.append("a", None, 0.0, &[2], &[1.0, 2.0]).unwrap();
    w.close().unwrap();
    assert!(
        !walk(&run)
            .iter()
            .any(|p| p.to_string_lossy().contains(".actmap-tmp."))
    );
    let r = actmap::runlog::RunReader::open(&run).unwrap();
    assert_eq!(r.channel("a").unwrap().rows(), 1);
}
