//! `actmap record` for real: Python writers stream rows with steps into
//! the binary over stdin and TCP, zarr-python reads the run log back, and
//! the recorder is killed with SIGKILL mid-stream, restarted, and raced by
//! a second recorder.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actmap::live::FrameDecoder;
use actmap::runlog::RunReader;

fn record(args: &[&str], dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_actmap"));
    c.arg("record").args(args).current_dir(dir);
    c
}

/// Wait for a line of `child`'s stderr containing `needle`.
fn wait_line(child: &mut Child, needle: &str) -> String {
    let err = child.stderr.take().expect("stderr piped");
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) => {
                if l.contains(needle) {
                    // Keep draining so the child never blocks on stderr.
                    std::thread::spawn(move || for _ in lines {});
                    return l;
                }
                seen.push(l);
            }
            _ => break,
        }
    }
    panic!("no '{needle}' from the recorder:\n{}", seen.join("\n"));
}

#[test]
fn python_printing_step_lines_leaves_a_run_log_zarr_python_reads_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // Uneven steps, two channels of different widths in one stream, a
    // malformed line (skipped and reported), a step going backwards.
    let writer = r#"
import numpy as np, sys
rng = np.random.default_rng(7)
steps = [0, 150, 300, 500, 1000, 1500, 2000, 3000]
acts = rng.standard_normal((len(steps), 64)).astype(np.float32)
acts[3, 17] = np.nan
acts[5, 2] = np.inf
layers = rng.random((len(steps), 12)).astype(np.float32)
for i, s in enumerate(steps):
    print(f"@{s} acts: " + " ".join(repr(float(v)) for v in acts[i]))
    print(f"@{s} layers: " + ", ".join(repr(float(v)) for v in layers[i]))
print("acts: 1 2 3")          # wrong width: reported, skipped
print("@1500 layers: " + " ".join(["0.5"] * 12))   # resumed: rewrites step 1500
np.save("acts.npy", acts); np.save("layers.npy", layers)
"#;
    let mut py = Command::new(common::python())
        .arg("-c")
        .arg(writer)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The run's parent must exist (a missing one is refused, tests/faults.rs).
    std::fs::create_dir(dir.path().join("runs")).unwrap();
    let out = record(&["-", "-o", "runs/exp1"], dir.path())
        .stdin(py.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(py.wait().unwrap().success(), "the writer script failed");
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stdin: line 17: 3 values, but channel 'acts' has 64 per row"),
        "{err}"
    );
    assert!(err.contains("recorded 17 records"), "{err}");
    let check = r#"
import numpy as np, zarr, sys
g = zarr.open_group("runs/exp1", mode="r")
acts, layers = np.load("acts.npy"), np.load("layers.npy")
v = g["acts/values"][:]
assert v.dtype == np.float32 and v.shape == acts.shape, v.shape
assert np.array_equal(v, acts, equal_nan=True), "values differ"
assert list(g["acts/step"][:]) == [0, 150, 300, 500, 1000, 1500, 2000, 3000]
assert g["acts/time"].shape == (8,) and g["layers/values"].shape == (9, 12)
assert np.array_equal(g["layers/values"][:8], layers)
assert list(g["layers/step"][:]) == [0, 150, 300, 500, 1000, 1500, 2000, 3000, 1500]
print("exact")
"#;
    assert_eq!(common::run_python(check, dir.path(), &[]).trim(), "exact");
    // info lists both channels with their step ranges.
    let info = common::actmap(&["info", "runs/exp1"], dir.path());
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{}", common::stderr(&info));
    assert!(text.contains("runs/exp1: run log, 2 channels"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("acts")
            && l.contains("[64]")
            && l.contains("float32")
            && l.contains(" 8 ")
            && l.contains("0 .. 3000 (8 steps)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("layers") && l.contains("1 rewritten")),
        "{text}"
    );
    let json = common::actmap(&["info", "runs/exp1", "--json"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["channels"][1]["records"], 9);
    assert_eq!(v["channels"][1]["distinct_steps"], 8);
    // Not a run log: said so.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let o = common::actmap(&["info", "empty"], dir.path());
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("not a run log"),
        "{}",
        common::stderr(&o)
    );
}

/// A Python writer streaming 4096-wide rows (binary version 2 frames) as
/// fast as the pipe takes them, logging when each step was sent.
const STREAMER: &str = r#"
import numpy as np, struct, sys, time
name = b"acts"
start = int(sys.argv[1])
log = open(sys.argv[2], "w", buffering=1)
out = sys.stdout.buffer
step = start
try:
    while True:
        row = (np.arange(4096, dtype="<f4") + step).astype("<f4")
        hdr = b"AMAP" + struct.pack("<BBHIIId", 2, 1, len(name), 1, 4096, 0, time.time())
        out.write(hdr + name + struct.pack("<q", step) + row.tobytes())
        out.flush()
        log.write(f"{time.time()} {step}\n")
        step += 1
        time.sleep(0.002)
except (BrokenPipeError, OSError):
    pass
"#;

fn sent_before(log: &Path, t: f64) -> i64 {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(' ')?;
            (a.parse::<f64>().ok()? < t)
                .then(|| b.parse::<i64>().ok())
                .flatten()
        })
        .max()
        .unwrap_or(-1)
}

fn now() -> f64 {
    actmap::runlog::now()
}

#[test]
fn sigkill_loses_at_most_the_last_flush_and_a_restart_appends() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let check = r#"
import numpy as np, zarr, sys
g = zarr.open_group(sys.argv[1], mode="r")
v, s, t = g["acts/values"], g["acts/step"], g["acts/time"]
n = v.shape[0]
assert s.shape == (n,) and t.shape == (n,), (v.shape, s.shape, t.shape)
assert list(s[:]) == list(range(n)), "steps are not 0..n-1"
want = np.arange(4096, dtype=np.float32)[None, :] + np.arange(n, dtype=np.float32)[:, None]
assert np.array_equal(v[:], want), "values differ"
assert np.all(t[:] > 1.7e9)
print(n)
"#;
    // Killed three times at different instants; each restart appends.
    let mut n = 0i64;
    for (round, run_for) in [2600u64, 1900, 2300].into_iter().enumerate() {
        let log = dir.path().join(format!("sent{round}.txt"));
        let mut py = Command::new(common::python())
            .args(["-c", STREAMER, &n.to_string(), log.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut rec = record(&["-", "-o", "run", "--flush-every", "0.5", "-q"], dir.path())
            .stdin(py.stdout.take().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(run_for));
        let killed_at = now();
        rec.kill().unwrap(); // SIGKILL
        rec.wait().unwrap();
        let _ = py.wait();
        // Every row sent more than one flush interval (+ scheduling slack)
        // before the kill is on disk, in order, with its step and values;
        // zarr-python opens the store with equal-length arrays.
        let must_have = sent_before(&log, killed_at - 0.5 - 0.5);
        assert!(
            must_have > n + 100,
            "round {round}: the writer sent only up to step {must_have}"
        );
        let got: i64 = common::run_python(check, dir.path(), &[run.to_str().unwrap()])
            .trim()
            .parse()
            .unwrap();
        assert!(
            got > must_have,
            "round {round}: {got} rows on disk, but step {must_have} was sent over a second before the kill"
        );
        let c = RunReader::open(&run).unwrap().channel("acts").unwrap();
        assert_eq!(c.rows() as i64, got);
        n = got;
    }

    // Restart: the dead writer's lock is taken over, and rows without a
    // step count on from the last one on disk.
    let mut again = record(&["-", "-o", "run"], dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = again.stdin.take().unwrap();
    let row: Vec<String> = (0..4096).map(|i| format!("{}", i as f32 - 1.0)).collect();
    for _ in 0..3 {
        writeln!(stdin, "acts: {}", row.join(" ")).unwrap();
    }
    drop(stdin);
    let out = again.wait_with_output().unwrap();
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("took over the lock left by pid"), "{err}");
    let c = RunReader::open(&run).unwrap().channel("acts").unwrap();
    assert_eq!(c.rows() as i64, n + 3);
    assert_eq!(c.steps(n as u64..n as u64 + 3).unwrap(), [n, n + 1, n + 2]);
    let mut out = Vec::new();
    c.read(n as u64 - 1..n as u64 + 1, &mut out).unwrap();
    assert_eq!(out[0], (n - 1) as f32);
    assert_eq!(out[4096], -1.0);
}

#[test]
fn a_second_recorder_is_refused_and_sigterm_flushes_tcp_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = record(&["tcp://127.0.0.1:0", "-o", "run"], dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_line(&mut first, "listening on tcp://");
    let addr = line.rsplit("tcp://").next().unwrap().trim().to_string();

    let second = record(&["-", "-o", "run"], dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = common::stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another writer is recording to this run")
            && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );

    // Two writers connect: version 2 frames (2-D records with steps, rows
    // without), and a version 1 frame; channels of different widths.
    let mut a = std::net::TcpStream::connect(&addr).unwrap();
    let mut b = std::net::TcpStream::connect(&addr).unwrap();
    for s in 0..5i64 {
        let m: Vec<f32> = (0..6).map(|i| (s * 10 + i) as f32).collect();
        a.write_all(&FrameDecoder::encode_v2(
            "attn",
            &[2, 3],
            &m,
            Some(&[s * 100]),
            1.7e9,
        ))
        .unwrap();
    }
    b.write_all(&FrameDecoder::encode_v2("layers", &[12], &[0.5; 24], None, 1.7e9))
        .unwrap();
    b.write_all(&FrameDecoder::encode("acts", 1, 4096, &[1.0; 4096]))
        .unwrap();
    a.flush().unwrap();
    b.flush().unwrap();
    drop((a, b));
    // SIGTERM: the recorder flushes what it has and exits cleanly.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Wait until the rows are in (visible after a flush, at most 1 s).
        let r = RunReader::open(dir.path().join("run"));
        if r.is_ok_and(|r| r.channel_names().len() == 3) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    let status = first.wait().unwrap();
    assert!(status.success(), "{status}");
    let r = RunReader::open(dir.path().join("run")).unwrap();
    assert_eq!(r.channel_names(), ["acts", "attn", "layers"]);
    let attn = r.channel("attn").unwrap();
    assert_eq!((attn.rows(), attn.record_shape()), (5, &[2, 3][..]));
    assert_eq!(attn.steps(0..5).unwrap(), [0, 100, 200, 300, 400]);
    assert_eq!(
        attn.record_at(&attn.step_index().unwrap(), 4).unwrap(),
        [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    );
    let layers = r.channel("layers").unwrap();
    assert_eq!((layers.rows(), layers.steps(0..2).unwrap()), (2, vec![0, 1]));
    assert_eq!(layers.times(0..2).unwrap().unwrap(), [1.7e9, 1.7e9]);
    assert_eq!(r.channel("acts").unwrap().record_shape(), [4096]);
    // The lock is released: a new recorder may start.
    assert!(
        !std::fs::read_to_string(dir.path().join("run/.actmap-writer.lock"))
            .unwrap()
            .contains("pid=")
    );
}

#[test]
fn the_readme_python_client_records_rows_and_maps_with_steps() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("### Stream format").expect("stream format section")..];
    let start = section.find("```python\n").expect("a python block") + "```python\n".len();
    let code = &section[start..start + section[start..].find("```").unwrap()];
    assert!(
        code.contains("7878") && code.contains("range(0, 100_000, 10)"),
        "{code}"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut rec = record(&["tcp://127.0.0.1:0", "-o", "run"], dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = wait_line(&mut rec, "listening on tcp://");
    let port = line.rsplit(':').next().unwrap().trim().to_string();
    let code = code
        .replace("7878", &port)
        .replace("range(0, 100_000, 10)", "range(0, 300, 10)");
    common::run_python(&code, dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while RunReader::open(dir.path().join("run"))
        .ok()
        .and_then(|r| r.channel("attn.0").ok())
        .is_none_or(|c| c.rows() < 30)
    {
        assert!(Instant::now() < deadline, "the records never became visible");
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-TERM", &rec.id().to_string()])
        .status()
        .unwrap();
    assert!(rec.wait().unwrap().success());
    let r = RunReader::open(dir.path().join("run")).unwrap();
    let mlp = r.channel("mlp.3").unwrap();
    assert_eq!((mlp.rows(), mlp.record_shape()), (30, &[4096][..]));
    assert_eq!(
        mlp.steps(0..30).unwrap(),
        (0..300).step_by(10).collect::<Vec<i64>>()
    );
    let attn = r.channel("attn.0").unwrap();
    assert_eq!(attn.record_shape(), [64, 64]);
    assert!(attn.times(0..1).unwrap().unwrap()[0] > 1.7e9);
}

#[test]
fn ranks_record_side_by_side_and_render_picks_one() {
    // Two recorders of one distributed job, started together: each writes
    // RUN/rank<N>/ under its own lock; neither waits on or refuses the other.
    let dir = tempfile::tempdir().unwrap();
    let mut kids: Vec<Child> = (0..2)
        .map(|r| {
            record(
                &["-", "-o", "run", "--rank", &r.to_string(), "--cols", "2", "-q"],
                dir.path(),
            )
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (r, kid) in kids.iter_mut().enumerate() {
        let mut stdin = kid.stdin.take().unwrap();
        for s in 0..3 {
            writeln!(stdin, "{},{}", r * 100 + s, s).unwrap();
        }
    }
    for kid in kids {
        let o = kid.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let run = dir.path().join("run");
    assert_eq!(actmap::runlog::ranks(&run).unwrap(), Some(vec![0, 1]));
    for r in 0..2u32 {
        let reader = RunReader::open(run.join(format!("rank{r}"))).unwrap();
        let ch = reader.channel("default").unwrap();
        let mut v = Vec::new();
        ch.read(0..3, &mut v).unwrap();
        let want: Vec<f32> = (0..3).flat_map(|s| [(r * 100 + s) as f32, s as f32]).collect();
        assert_eq!(v, want, "rank {r}");
    }
    // The run opens at its lowest rank; info lists both.
    let default = RunReader::open(&run).unwrap();
    assert!(default.path().ends_with("rank0"), "{}", default.path().display());
    let o = common::actmap(&["info", "run"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("run: distributed run, ranks: 0, 1"), "{text}");
    assert!(text.contains("rank 1: "), "{text}");
    // render --rank 1 draws rank 1's values: on the limits 0..200, rank
    // 1's cell (0,0) (100) is viridis(0.5), where rank 0's (0) is viridis(0).
    let draw = |rank: &str, out: &str| {
        let o = common::actmap(
            &[
                "render", "run", "--rank", rank, "-o", out, "--bare", "--size", "20x30", "--cmap", "viridis",
                "--vmin", "0", "--vmax", "200",
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
        image::open(dir.path().join(out)).unwrap().to_rgba8()
    };
    let one = draw("1", "r1.png");
    let zero = draw("0", "r0.png");
    let cmap: actmap::Colormap = "viridis".parse().unwrap();
    assert_eq!(common::px(&one, 5, 5), cmap.map(0.5), "rank 1 cell (0,0)");
    assert_eq!(common::px(&zero, 5, 5), cmap.map(0.0), "rank 0 cell (0,0)");
    let o = common::actmap(&["render", "run", "--rank", "2", "-o", "x.png"], dir.path());
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("no rank 2; the run has ranks 0, 1"),
        "{}",
        common::stderr(&o)
    );
    // A single-process recorder on the distributed run is refused.
    let o = record(&["-", "-o", "run", "--cols", "2"], dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("a distributed run"));
}

#[test]
fn info_lists_the_runs_of_a_collection() {
    // runs/: a plain run, a distributed one, and a file that is neither.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("runs")).unwrap();
    std::fs::write(dir.path().join("runs/notes.txt"), "not a run").unwrap();
    let rec = |out: &str, rank: Option<&str>, rows: &str| {
        let mut args = vec!["-", "-o", out, "--cols", "2", "-q"];
        if let Some(r) = rank {
            args.extend(["--rank", r]);
        }
        let mut kid = record(&args, dir.path()).stdin(Stdio::piped()).spawn().unwrap();
        kid.stdin.take().unwrap().write_all(rows.as_bytes()).unwrap();
        assert!(kid.wait().unwrap().success());
    };
    rec("runs/a", None, "1,2\n3,4\n5,6\n");
    rec("runs/b", Some("0"), "1,2\n");
    rec("runs/b", Some("1"), "1,2\n3,4\n");
    let o = common::actmap(&["info", "runs"], dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "runs: 2 runs", "{text}");
    assert!(
        lines[1]
            .split_whitespace()
            .eq(["run", "ranks", "channels", "steps", "last", "write"]),
        "{text}"
    );
    let a: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(a[..6], ["a", "-", "1", "0", "..", "2"], "{text}");
    let b: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(b[..6], ["b", "0,1", "1", "0", "..", "0"], "{text}");
    let o = common::actmap(&["info", "runs", "--json"], dir.path());
    let js = String::from_utf8_lossy(&o.stdout);
    assert!(
        js.contains("\"name\": \"b\", \"ranks\": [0, 1], \"channels\": 1"),
        "{js}"
    );
}

#[test]
fn frames_carry_their_rank_and_a_recorder_takes_only_its_own() {
    // Rank 1's recorder gets frames from ranks 1 and 0 (a mis-wired job):
    // rank 0's are named once and not recorded.
    let dir = tempfile::tempdir().unwrap();
    let frames = |ranks: &[(u32, u32)]| -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &rank) in ranks.iter().enumerate() {
            let v = [rank.0 as f32 * 100.0 + i as f32, 1.0];
            out.extend(FrameDecoder::encode_v2_ranked(
                "x",
                &[2],
                &v,
                Some(&[i as i64]),
                1.7e9,
                Some(rank),
            ));
        }
        out
    };
    let run = |args: &[&str], bytes: Vec<u8>| {
        let mut kid = record(args, dir.path())
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        kid.stdin.take().unwrap().write_all(&bytes).unwrap();
        let o = kid.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        common::stderr(&o)
    };
    let err = run(
        &["-", "-o", "job", "--rank", "1"],
        frames(&[(1, 2), (0, 2), (1, 2), (0, 2)]),
    );
    assert_eq!(
        err.matches(
            "a frame from rank 0 of 2 on a recorder of rank 1: not recorded (one recorder per rank: --rank 0)"
        )
        .count(),
        1,
        "{err}"
    );
    let r = RunReader::open(dir.path().join("job/rank1")).unwrap();
    let x = r.channel("x").unwrap();
    let mut v = Vec::new();
    x.read(0..x.rows(), &mut v).unwrap();
    assert_eq!(v, [100.0, 1.0, 102.0, 1.0]);
    // A single-process recorder: a world of one is fine, a rank of two is not.
    let err = run(&["-", "-o", "plain"], frames(&[(0, 1), (1, 2)]));
    assert!(
        err.contains("a frame from rank 1 of 2 on a recorder of a single-process run: not recorded (record each rank with --rank N"),
        "{err}"
    );
    let r = RunReader::open(dir.path().join("plain")).unwrap();
    assert_eq!(r.channel("x").unwrap().rows(), 1);
}
