//! Run logs damaged on disk, as a crash, a bad disk or a careless `rm`
//! leaves them: a truncated chunk, a chunk of the wrong size, a missing
//! chunk, metadata cut mid-file, a missing array, a lock left by a writer
//! that died on another host. `info`, `render`, the live views and
//! `actmap repair` keep every intact record, name what was lost, never
//! panic; the repaired run reads back in zarr-python and takes appends.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actmap::live::{LiveStore, SourceOptions, SourceSpec, StoreOptions, spawn_source};
use actmap::runlog::{LOCK_FILE, LockOwner, RunReader, RunWriter, WriterOptions, lock_holder, repair};
use common::{actmap, px, run_python, stderr};

const COLS: usize = 8;
const RECORDS: i64 = 40;

/// The values of the record at `step`: every one says which step it is.
fn row(step: i64) -> Vec<f32> {
    (0..COLS).map(|c| step as f32 + c as f32 / 100.0).collect()
}

/// A run of 40 records of 8 values (steps 0, 10, ..., 390) in channels
/// `acts` and `loss`, 4 records per chunk of `acts`.
fn make_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let w = RunWriter::open(
        &run,
        WriterOptions {
            chunk_bytes: 4 * COLS * 4,
            flush_every: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..RECORDS {
        let s = i * 10;
        w.append("acts", Some(s), 1000.0 + i as f64, &[COLS], &row(s))
            .unwrap();
        w.append("loss", Some(s), 1000.0 + i as f64, &[1], &[i as f32])
            .unwrap();
    }
    w.close().unwrap();
    run
}

fn chunk(run: &Path, k: u64) -> PathBuf {
    run.join(format!("acts/values/c/{k}/0"))
}

/// Every record of `acts` through the reader, in step order.
fn read_all(run: &Path) -> (Vec<i64>, Vec<f32>) {
    let r = RunReader::open(run).unwrap();
    let c = r.channel("acts").unwrap();
    let index = c.step_index().unwrap();
    let mut out = Vec::new();
    for i in 0..index.len() {
        out.extend(c.record_at(&index, i).unwrap());
    }
    (index.steps().to_vec(), out)
}

/// Records `lost` read as NaN, every other one as written.
fn assert_nan_exactly_at(steps: &[i64], values: &[f32], lost: std::ops::Range<usize>) {
    assert_eq!(steps, (0..RECORDS).map(|i| i * 10).collect::<Vec<_>>());
    for (i, &s) in steps.iter().enumerate() {
        let got = &values[i * COLS..(i + 1) * COLS];
        if lost.contains(&i) {
            assert!(
                got.iter().all(|v| v.is_nan()),
                "record {i} should be NaN: {got:?}"
            );
        } else {
            assert_eq!(got, row(s), "record {i}");
        }
    }
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_truncated_chunk_loses_only_its_records_and_info_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::OpenOptions::new()
        .write(true)
        .open(chunk(&run, 2))
        .unwrap()
        .set_len(50)
        .unwrap();

    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert_eq!(c.lost(), std::slice::from_ref(&(8..12)));
    assert_eq!(c.damage().len(), 1);
    assert_eq!(c.damage()[0].file, chunk(&run, 2));
    assert!(
        c.damage()[0].why.contains("chunk file of 50 bytes"),
        "{}",
        c.damage()[0].why
    );
    assert!(r.channel("loss").unwrap().damage().is_empty());
    let (steps, values) = read_all(&run);
    assert_nan_exactly_at(&steps, &values, 8..12);

    let o = actmap(&["info", "run"], dir.path());
    let text = stdout(&o);
    assert!(o.status.success(), "{text}{}", stderr(&o));
    assert!(text.contains("40 (4 lost)"), "{text}");
    assert!(
        text.contains("channel 'acts': run/acts/values/c/2/0: chunk file of 50 bytes")
            && text.contains("(records 8..12 lost)"),
        "{text}"
    );
    assert!(
        text.contains("4 records lost in 1 channel; `actmap repair run`"),
        "{text}"
    );

    let o = actmap(&["info", "run", "--json"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acts = &v["channels"][0];
    assert_eq!(
        (acts["name"].as_str(), acts["lost"].as_u64()),
        (Some("acts"), Some(4))
    );
    assert_eq!(acts["damage"][0]["records"], serde_json::json!([8, 12]));
    assert_eq!(v["channels"][1]["lost"], 0);
}

#[test]
fn a_chunk_of_the_wrong_size_and_a_missing_chunk_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    // Too long (a torn write of another chunk's bytes), and gone.
    let mut bytes = std::fs::read(chunk(&run, 1)).unwrap();
    bytes.extend([0u8; 7]);
    std::fs::write(chunk(&run, 1), bytes).unwrap();
    std::fs::remove_file(chunk(&run, 5)).unwrap();

    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert_eq!(c.lost(), [4..8, 20..24]);
    let why: Vec<&str> = c.damage().iter().map(|d| d.why.as_str()).collect();
    assert!(
        why[0].contains("chunk file of 135 bytes, where a chunk of 4 x 8 values is 128 bytes"),
        "{why:?}"
    );
    assert!(why[1].contains("chunk file missing"), "{why:?}");
    let (steps, values) = read_all(&run);
    assert_eq!(steps.len(), 40);
    assert!(values[4 * COLS..8 * COLS].iter().all(|v| v.is_nan()));
    assert!(values[20 * COLS..24 * COLS].iter().all(|v| v.is_nan()));
    assert_eq!(&values[8 * COLS..9 * COLS], row(80));
    let note = c.damage_note().unwrap();
    assert!(
        note.starts_with("channel 'acts' is damaged: 8 of 40 records lost (records 4..8, 20..24)"),
        "{note}"
    );
}

#[test]
fn render_draws_lost_records_as_nan_at_their_steps_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::write(chunk(&run, 2), b"torn").unwrap();
    // 40 records, 10 pixels each; cells at their steps.
    let o = actmap(
        &[
            "render", "run", "--key", "acts", "--bare", "--size", "80x400", "-o", "acts.png",
        ],
        dir.path(),
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("actmap: warning: run: channel 'acts' is damaged: 4 of 40 records lost (records 8..12)"),
        "{err}"
    );
    let img = image::open(dir.path().join("acts.png")).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (80, 400));
    for i in 0..40u32 {
        let p = px(&img, 40, i * 10 + 5);
        let nan = p == [255, 0, 255, 255];
        assert_eq!(nan, (8..12).contains(&i), "record {i}: {p:?}");
    }
    // The intact records keep their colours: the first is the darkest,
    // the last the brightest of the colormap.
    let lum = |p: [u8; 4]| p[0] as u32 + p[1] as u32 + p[2] as u32;
    assert!(lum(px(&img, 40, 5)) < lum(px(&img, 40, 75)));
    assert!(lum(px(&img, 40, 155)) < lum(px(&img, 40, 395)));
}

#[test]
fn array_metadata_cut_mid_file_is_read_from_its_consolidated_copy() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    let meta = run.join("acts/values/zarr.json");
    let text = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 2]).unwrap();

    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert!(c.lost().is_empty());
    assert!(c.damage()[0].why.contains("not valid JSON"), "{:?}", c.damage());
    assert!(
        c.damage()[0].why.contains("read from its copy in"),
        "{:?}",
        c.damage()
    );
    let (steps, values) = read_all(&run);
    assert_nan_exactly_at(&steps, &values, 0..0);
    let o = actmap(&["info", "run"], dir.path());
    assert!(
        stdout(&o).contains("no records lost; `actmap repair run` rewrites the damaged metadata"),
        "{}",
        stdout(&o)
    );

    let o = actmap(&["repair", "run"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("channel 'acts': kept 40 records\n"),
        "{}",
        stdout(&o)
    );
    let r = RunReader::open(&run).unwrap();
    assert!(r.channel("acts").unwrap().damage().is_empty());
    run_python(
        r#"
import sys, numpy as np, zarr
g = zarr.open_group(sys.argv[1], mode="r")
v = g["acts/values"][:]
assert v.shape == (40, 8), v.shape
assert np.allclose(v[:, 0], np.arange(40) * 10), v[:, 0]
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );
}

#[test]
fn a_root_zarr_json_cut_mid_file_still_opens_and_repair_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    let root = run.join("zarr.json");
    let text = std::fs::read(&root).unwrap();
    std::fs::write(&root, &text[..100]).unwrap();

    let r = RunReader::open(&run).unwrap();
    assert_eq!(r.channel_names(), ["acts", "loss"]);
    assert_eq!(r.damage()[0].file, root);
    let o = actmap(&["info", "run"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("run/zarr.json: not valid JSON"),
        "{}",
        stdout(&o)
    );

    let report = repair(&run).unwrap();
    assert_eq!(report.root.len(), 1);
    assert!(report.channels.is_empty());
    assert!(RunReader::open(&run).unwrap().damage().is_empty());
    run_python(
        r#"
import sys, zarr
g = zarr.open_group(sys.argv[1], mode="r")
assert sorted(g.keys()) == ["acts", "loss"], sorted(g.keys())
assert g["loss/values"].shape == (40, 1)
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );
}

#[test]
fn a_missing_step_array_shows_record_numbers_and_repair_writes_that_down() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::remove_dir_all(run.join("acts/step")).unwrap();

    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert!(
        c.damage()[0].why.contains("the step array is missing"),
        "{:?}",
        c.damage()
    );
    assert_eq!(c.step_index().unwrap().steps(), (0..40).collect::<Vec<i64>>());

    actmap(&["repair", "run"], dir.path());
    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert!(c.damage().is_empty());
    assert_eq!(c.repaired().len(), 1);
    assert!(
        c.repaired()[0].starts_with("steps lost: records are numbered 0.. in write order (repaired "),
        "{:?}",
        c.repaired()
    );
    let o = actmap(&["info", "run"], dir.path());
    assert!(
        stdout(&o).contains("repaired earlier:\n  channel 'acts': steps lost"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_missing_values_array_loses_only_that_channel() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::remove_dir_all(run.join("acts/values")).unwrap();

    let r = RunReader::open(&run).unwrap();
    let e = r.channel("acts").unwrap_err().to_string();
    assert!(
        e.contains("the values array is missing: every record of channel 'acts' is lost"),
        "{e}"
    );
    assert_eq!(r.channel("loss").unwrap().rows(), 40);
    let o = actmap(&["info", "run"], dir.path());
    assert!(!o.status.success());
    assert!(stdout(&o).contains("loss "), "{}", stdout(&o));
    assert!(stderr(&o).contains("values array is missing"), "{}", stderr(&o));

    let report = repair(&run).unwrap();
    assert!(report.channels[0].unreadable.is_some());
    let moved = report.moved_to.clone().unwrap();
    assert!(
        moved.join("acts/step").is_dir(),
        "the damaged channel is kept aside"
    );
    let r = RunReader::open(&run).unwrap();
    assert_eq!(r.channel_names(), ["loss"]);
    assert!(actmap(&["info", "run"], dir.path()).status.success());
}

#[test]
fn repair_keeps_every_readable_record_and_zarr_python_reads_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::write(chunk(&run, 3), b"").unwrap();
    let before = std::fs::read(chunk(&run, 0)).unwrap();

    let o = actmap(&["repair", "run"], dir.path());
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains(
            "channel 'acts': kept 40 records; 4 of them lost their values and are kept as NaN at their steps"
        ),
        "{out}"
    );
    assert!(
        out.contains("run/acts/values/c/3/0: chunk file of 0 bytes"),
        "{out}"
    );
    let moved = out
        .lines()
        .find_map(|l| l.strip_prefix("the damaged channels were moved to "))
        .and_then(|l| l.split(' ').next())
        .map(|p| dir.path().join(p))
        .unwrap();
    assert_eq!(std::fs::read(moved.join("acts/values/c/0/0")).unwrap(), before);
    assert!(!run.join(".actmap-repair").exists());

    let (steps, values) = read_all(&run);
    assert_nan_exactly_at(&steps, &values, 12..16);
    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert!(c.damage().is_empty(), "{:?}", c.damage());
    assert!(
        c.repaired()[0].starts_with("values of records 12..16 lost: they are NaN"),
        "{:?}",
        c.repaired()
    );
    assert_eq!(
        actmap(&["repair", "run"], dir.path()).stdout,
        b"run: nothing damaged\n"
    );

    run_python(
        r#"
import sys, numpy as np, zarr
g = zarr.open_group(sys.argv[1], mode="r")
v, s = g["acts/values"][:], g["acts/step"][:]
assert v.shape == (40, 8) and s.tolist() == list(range(0, 400, 10)), (v.shape, s)
assert np.isnan(v[12:16]).all()
ok = np.r_[0:12, 16:40]
assert np.allclose(v[ok], s[ok, None] + np.arange(8) / 100), v
assert g["acts"].attrs["actmap"]["repaired"][0].startswith("values of records 12..16 lost")
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );

    // The repaired run takes appends, and still says what it lost.
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    w.append("acts", Some(400), 0.0, &[COLS], &row(400)).unwrap();
    w.close().unwrap();
    let r = RunReader::open(&run).unwrap();
    let c = r.channel("acts").unwrap();
    assert_eq!(c.rows(), 41);
    assert_eq!(c.record_at(&c.step_index().unwrap(), 40).unwrap(), row(400));
    assert_eq!(c.repaired().len(), 1);
}

#[test]
fn repair_refuses_what_is_not_an_actmap_run_and_a_live_writer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let o = actmap(&["repair", "plain"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("plain: not a run log"), "{}", stderr(&o));

    let run = make_run(dir.path());
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    let o = actmap(&["repair", "run"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("another writer is recording to this run"),
        "{}",
        stderr(&o)
    );
    w.close().unwrap();
}

#[test]
fn a_stale_lock_from_another_host_is_taken_over_and_a_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    // What a writer on gpu-node-17 that died (node lost) leaves: its pid
    // means nothing here, and nobody holds the lock.
    std::fs::write(
        run.join(LOCK_FILE),
        "pid=999999\nhost=gpu-node-17\nsince=1796000000.000\n",
    )
    .unwrap();
    assert_eq!(lock_holder(&run).unwrap(), None);
    let o = actmap(&["info", "run", "--json"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["writer_pid"], serde_json::Value::Null);

    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    assert_eq!(
        w.took_over_lock(),
        Some(&LockOwner {
            pid: 999999,
            host: "gpu-node-17".into()
        })
    );
    let me = lock_holder(&run).unwrap().unwrap();
    assert_eq!(me.pid, std::process::id());
    let o = actmap(&["info", "run"], dir.path());
    assert!(
        stdout(&o).contains(&format!("being recorded by pid {} on {}", me.pid, me.host)),
        "{}",
        stdout(&o)
    );
    // A second job on the same run is refused with who holds it.
    let e = RunWriter::open(&run, WriterOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "another writer is recording to this run (pid {} on {}",
            me.pid, me.host
        )),
        "{e}"
    );
    w.close().unwrap();
    assert_eq!(lock_holder(&run).unwrap(), None);

    // The CLI recorder says whose lock it took.
    std::fs::write(
        run.join(LOCK_FILE),
        "pid=999999\nhost=gpu-node-17\nsince=1796000000.000\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args(["record", "-", "-o", "run"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"@1000 loss: 5\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "run: took over the lock left by pid 999999 on gpu-node-17, which is no longer running"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_live_views_follow_a_damaged_run_and_say_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let run = make_run(dir.path());
    std::fs::remove_file(chunk(&run, 2)).unwrap();
    let store = Arc::new(LiveStore::new(StoreOptions::default()).unwrap());
    let _h = spawn_source(
        &SourceSpec::RunLog(run.clone()),
        &SourceOptions::default(),
        store.clone(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let snap = loop {
        let snap = store.snapshot();
        if snap.channel("acts").is_some_and(|c| c.total_rows == 40) && snap.problem_count > 0 {
            break snap;
        }
        assert!(Instant::now() < deadline, "timed out: {snap:#?}");
        store.wait_for_change(snap.version, Duration::from_millis(500));
    };
    assert_eq!(snap.problem_count, 1, "said once: {:?}", snap.problems);
    assert!(
        snap.problems[0].contains("channel 'acts' is damaged: 4 of 40 records lost (records 8..12)")
            && snap.problems[0].contains("acts/values/c/2/0: chunk file missing"),
        "{:?}",
        snap.problems
    );
    let data = snap
        .channel("acts")
        .unwrap()
        .grid
        .as_ref()
        .unwrap()
        .data()
        .to_vec();
    assert!(data[8 * COLS..12 * COLS].iter().all(|v| v.is_nan()));
    assert_eq!(&data[12 * COLS..13 * COLS], row(120));
}
