//! Run logs through the library: RunWriter -> disk -> RunReader, and the
//! same files read and written by real zarr-python and xarray.

mod common;

use std::path::Path;
use std::time::Duration;

use actmap::input::RowSource;
use actmap::runlog::{RunReader, RunWriter, StepIndex, WriterOptions};

fn small_chunks() -> WriterOptions {
    WriterOptions {
        // 4 rows of 8 f32 per chunk: many chunks from little data.
        chunk_bytes: 128,
        flush_every: Duration::from_secs(3600),
        ..Default::default()
    }
}

fn row(step: i64, cols: usize) -> Vec<f32> {
    (0..cols).map(|c| step as f32 + c as f32 / 100.0).collect()
}

#[test]
fn records_read_back_in_step_order_with_their_steps_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    for s in 0..10 {
        w.append("acts", Some(s * 150), 1000.0 + s as f64, &[8], &row(s * 150, 8))
            .unwrap();
    }
    // A 2-D record per step, and a channel nested in a group.
    for s in 0..3 {
        let m: Vec<f32> = (0..6).map(|i| (s * 10 + i) as f32).collect();
        w.append("blocks.0/attn", Some(s), 5.0, &[2, 3], &m).unwrap();
    }
    // Records larger than a chunk are cut into bands of rows.
    for s in 0..3 {
        let m: Vec<f32> = (0..64).map(|i| (s * 100 + i) as f32).collect();
        w.append("big", Some(s), 5.0, &[8, 8], &m).unwrap();
    }
    w.set_labels("acts", 0, (0..8).map(|i| format!("tok{i}")).collect())
        .unwrap();
    // Nothing visible before a flush.
    assert_eq!(RunReader::open(&run).unwrap().channel_names().len(), 0);
    w.flush().unwrap();

    let r = RunReader::open(&run).unwrap();
    assert_eq!(r.channel_names(), ["acts", "big", "blocks.0/attn"]);
    let big = r.channel("big").unwrap();
    assert_eq!(
        big.record_at(&big.step_index().unwrap(), 2).unwrap(),
        (200..264).map(|v| v as f32).collect::<Vec<_>>()
    );
    assert!(run.join("big/values/c/2/1/0").is_file(), "rows 4..8 of record 2");
    let c = r.channel("acts").unwrap();
    assert_eq!((c.rows(), c.record_shape(), c.dtype()), (10, &[8][..], "float32"));
    assert_eq!(c.column_labels().unwrap()[3], "tok3");
    let idx = c.step_index().unwrap();
    assert_eq!(idx.steps(), (0..10).map(|s| s * 150).collect::<Vec<_>>());
    let mut rows = c.row_source(idx);
    assert_eq!((rows.rows(), rows.cols()), (10, 8));
    let mut out = Vec::new();
    assert_eq!(rows.read_rows(3, &mut out).unwrap(), 3);
    assert_eq!(&out[8..16], &row(150, 8)[..]);
    assert_eq!(rows.read_rows(100, &mut out).unwrap(), 7);
    assert_eq!(&out[6 * 8..], &row(1350, 8)[..]);
    let s = c.summary().unwrap();
    assert_eq!((s.steps, s.distinct_steps, s.backwards), (Some((0, 1350)), 10, 0));
    assert_eq!(s.last_write, Some(1009.0));
    let a = r.channel("blocks.0/attn").unwrap();
    assert_eq!(a.record_shape(), [2, 3]);
    let idx = a.step_index().unwrap();
    assert_eq!(
        a.record_at(&idx, 2).unwrap(),
        [20.0, 21.0, 22.0, 23.0, 24.0, 25.0]
    );
    w.close().unwrap();
    // Chunks along axis 0: 10 rows of 8 f32 in 4-row chunks.
    for k in 0..3 {
        assert!(run.join(format!("acts/values/c/{k}/0")).is_file(), "chunk {k}");
    }
}

#[test]
fn rows_become_visible_by_themselves_within_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(
        &run,
        WriterOptions {
            flush_every: Duration::from_millis(100),
            ..Default::default()
        },
    )
    .unwrap();
    w.append("x", Some(5), 0.0, &[3], &[1.0, 2.0, 3.0]).unwrap();
    let start = std::time::Instant::now();
    loop {
        let r = RunReader::open(&run).unwrap();
        if r.channel_names().len() == 1 && r.channel("x").unwrap().rows() == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never flushed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    w.close().unwrap();
    assert!(
        w.append("x", None, 0.0, &[3], &[0.0; 3])
            .unwrap_err()
            .to_string()
            .contains("closed")
    );
}

#[test]
fn reopening_appends_and_counts_on_from_the_last_step() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    for s in 0..6 {
        w.append("x", Some(s * 2), 0.0, &[8], &row(s, 8)).unwrap();
    }
    w.close().unwrap();
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    assert_eq!(w.last_step("x"), Some(10));
    assert_eq!(w.rows("x"), Some(6));
    // No step given: previous + 1.
    assert_eq!(w.append("x", None, 0.0, &[8], &row(6, 8)).unwrap(), 11);
    let e = w.append("x", None, 0.0, &[7], &[0.0; 7]).unwrap_err();
    assert!(e.to_string().contains("shape [7]"), "{e}");
    w.close().unwrap();
    let c = RunReader::open(&run).unwrap().channel("x").unwrap();
    assert_eq!(c.rows(), 7);
    assert_eq!(c.steps(0..7).unwrap(), [0, 2, 4, 6, 8, 10, 11]);
    let mut out = Vec::new();
    c.read(6..7, &mut out).unwrap();
    assert_eq!(out, row(6, 8));
}

#[test]
fn backwards_steps_are_kept_and_the_latest_write_wins() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    for s in [0, 1, 2, 3, 4, 5] {
        w.append("x", Some(s), 0.0, &[8], &[s as f32; 8]).unwrap();
    }
    // Resumed from the checkpoint at step 3, different values.
    for s in [3, 4, 5, 6] {
        w.append("x", Some(s), 0.0, &[8], &[100.0 + s as f32; 8]).unwrap();
    }
    w.close().unwrap();
    let c = RunReader::open(&run).unwrap().channel("x").unwrap();
    assert_eq!(c.rows(), 10, "every write is kept on disk");
    assert_eq!(c.steps(0..10).unwrap(), [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]);
    let s = c.summary().unwrap();
    assert_eq!((s.distinct_steps, s.backwards), (7, 3));
    let mut rows = c.row_source(c.step_index().unwrap());
    let mut out = Vec::new();
    rows.read_rows(10, &mut out).unwrap();
    let firsts: Vec<f32> = out.chunks(8).map(|r| r[0]).collect();
    assert_eq!(firsts, [0.0, 1.0, 2.0, 103.0, 104.0, 105.0, 106.0]);
}

#[test]
fn a_second_writer_is_refused_and_a_stale_lock_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    let e = RunWriter::open(&run, WriterOptions::default())
        .unwrap_err()
        .to_string();
    let pid = std::process::id();
    assert!(
        e.contains("another writer is recording to this run") && e.contains(&format!("pid {pid}")),
        "{e}"
    );
    w.close().unwrap();
    // The lock file of a writer that died (its pid left in it, no flock held).
    std::fs::write(run.join(".actmap-writer.lock"), "pid=4000000\nhost=x\nsince=1\n").unwrap();
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    assert_eq!(w.took_over_lock().map(|o| o.pid), Some(4_000_000));
    let lock = std::fs::read_to_string(run.join(".actmap-writer.lock")).unwrap();
    assert!(lock.contains(&format!("pid={pid}")), "{lock}");
    w.close().unwrap();
}

#[test]
fn not_a_run_log_and_bad_chunks_say_which_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = RunReader::open(dir.path().join("nope")).unwrap_err().to_string();
    assert!(e.contains("no such run log"), "{e}");
    std::fs::write(dir.path().join("f.npy"), b"x").unwrap();
    let e = RunReader::open(dir.path().join("f.npy")).unwrap_err().to_string();
    assert!(e.contains("not a run log"), "{e}");
    let e = RunReader::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no zarr.json"), "{e}");
    let e = RunWriter::open(dir.path(), WriterOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a run log (no zarr.json) and not empty"), "{e}");

    let run = dir.path().join("run");
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    for s in 0..12 {
        w.append("a", Some(s), 0.0, &[8], &row(s, 8)).unwrap();
        w.append("b", Some(s), 0.0, &[8], &row(s, 8)).unwrap();
    }
    w.close().unwrap();
    std::fs::remove_file(run.join("a/values/c/1/0")).unwrap();
    std::fs::write(run.join("b/values/c/2/0"), b"short").unwrap();
    let r = RunReader::open(&run).unwrap();
    let mut out = Vec::new();
    // A lost chunk's records read as NaN at their rows, and the damage
    // names the file (tests/damage.rs has the rest).
    let a = r.channel("a").unwrap();
    a.read(0..12, &mut out).unwrap();
    assert!(out[4 * 8..8 * 8].iter().all(|v| v.is_nan()));
    assert_eq!(&out[..8], row(0, 8));
    let d = &a.damage()[0];
    assert!(
        d.file.ends_with("a/values/c/1/0") && d.why.contains("chunk file missing"),
        "{d:?}"
    );
    let b = r.channel("b").unwrap();
    b.read(8..12, &mut out).unwrap();
    assert!(out.iter().all(|v| v.is_nan()));
    let d = &b.damage()[0];
    assert!(
        d.file.ends_with("b/values/c/2/0") && d.why.contains("chunk file of 5 bytes"),
        "{d:?}"
    );
    b.read(0..8, &mut out).unwrap();
    assert_eq!(&out[8..16], row(1, 8));
    // Steps and times of both are intact, and info lists both.
    let info = r.info();
    assert!(info.iter().all(|(_, i)| i.as_ref().is_ok_and(|i| i.rows == 12)));
}

#[test]
fn zarr_python_and_xarray_read_what_actmap_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let w = RunWriter::open(&run, small_chunks()).unwrap();
    for s in 0..10 {
        w.append("layer3", Some(100 * s), 1700000000.0 + s as f64, &[8], &row(s, 8))
            .unwrap();
    }
    w.append(
        "nested/attn",
        Some(7),
        1.5,
        &[2, 2],
        &[1.0, f32::NAN, f32::INFINITY, -2.0],
    )
    .unwrap();
    w.close().unwrap();
    let out = common::run_python(
        r#"
import sys, warnings
warnings.simplefilter("error")
import numpy as np, zarr, xarray as xr
run = sys.argv[1]
g = zarr.open_group(run, mode="r")
v = g["layer3/values"][:]
s = g["layer3/step"][:]
t = g["layer3/time"][:]
assert v.dtype == np.float32 and v.shape == (10, 8), (v.dtype, v.shape)
want = np.array([[i + c / 100 for c in range(8)] for i in range(10)], dtype=np.float32)
assert np.array_equal(v, want), v
assert s.dtype == np.int64 and list(s) == [100 * i for i in range(10)], s
assert t.dtype == np.float64 and t[3] == 1700000003.0, t
a = g["nested"]["attn"]["values"][:]
assert a.shape == (1, 2, 2) and np.isnan(a[0, 0, 1]) and a[0, 1, 0] == np.inf, a
# The channel group on its own, and each array opened directly.
assert zarr.open_group(run + "/layer3", mode="r")["values"].shape == (10, 8)
assert zarr.open_array(run + "/layer3/step", mode="r")[9] == 900
ds = xr.open_zarr(run, group="layer3")
assert list(ds["step"].values) == [100 * i for i in range(10)]
assert ds["values"].dims == ("step", "column")
assert float(ds["values"].sel(step=300)[2]) == np.float32(3.02)
assert str(ds["time"].values[0]).startswith("2023-11-14T22:13:20"), ds["time"].values[0]
print("ok", sorted(k for k, _ in g.members(max_depth=None)))
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );
    assert!(out.starts_with("ok"), "{out}");
    assert!(out.contains("'nested/attn/values'"), "{out}");
}

#[test]
fn actmap_reads_and_appends_to_a_run_log_zarr_python_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("py_run");
    let script = dir.path().join("check.py");
    common::run_python(
        r#"
import sys, numpy as np, zarr
g = zarr.open_group(sys.argv[1], mode="w")
c = g.create_group("layer3")
v = np.arange(50 * 12, dtype=np.float64).reshape(50, 12)  # float64, zstd, chunks on both axes
c.create_array("values", data=v, chunks=(16, 5), dimension_names=["step", "column"])
c.create_array("step", data=np.arange(50, dtype=np.int32) * 10, chunks=(7,))
c.create_array("time", data=np.full(50, 1.7e9), chunks=(50,))
d = g.create_group("loss")
d.create_array("values", data=np.linspace(1, 0, 20, dtype=np.float32))
d.create_array("step", data=np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]))
a = g.create_group("acts")  # the layout actmap writes, compressed with zstd by default
a.create_array("values", data=np.ones((5, 4), dtype=np.float32), chunks=(3, 4))
a.create_array("step", data=np.arange(5, dtype=np.int64))
a.create_array("time", data=np.zeros(5))
g.create_array("config", data=np.array([1, 2, 3]))  # not a channel: kept as it is
"#,
        dir.path(),
        &[run.to_str().unwrap()],
    );
    let r = RunReader::open(&run).unwrap();
    assert_eq!(r.channel_names(), ["acts", "layer3", "loss"]);
    let c = r.channel("layer3").unwrap();
    assert_eq!(
        (c.rows(), c.record_shape(), c.dtype()),
        (50, &[12][..], "float64")
    );
    let mut out = Vec::new();
    c.read(17..19, &mut out).unwrap();
    assert_eq!(out, (17 * 12..19 * 12).map(|x| x as f32).collect::<Vec<_>>());
    assert_eq!(c.steps(0..50).unwrap()[49], 490);
    assert_eq!(c.summary().unwrap().last_write, Some(1.7e9));
    let l = r.channel("loss").unwrap();
    assert_eq!((l.rows(), l.record_shape()), (20, &[1][..]));
    let idx = l.step_index().unwrap();
    assert_eq!(idx.len(), 15);
    assert!(l.times(0..20).unwrap().is_none());
    // The last write of step 5 is row 10.
    assert_eq!(idx.row(idx.position(5).unwrap()), 10);

    // actmap appends where the layout and dtypes allow, and says why not elsewhere.
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    let e = w
        .append("layer3", None, 2.0, &[12], &[0.5; 12])
        .unwrap_err()
        .to_string();
    assert!(e.contains("layer3/values is float64"), "{e}");
    let e = w.append("loss", None, 2.0, &[1], &[0.5]).unwrap_err().to_string();
    assert!(e.contains("no 'time' array"), "{e}");
    assert_eq!(w.append("acts", None, 2.0, &[4], &[7.0; 4]).unwrap(), 5);
    w.append("new", Some(3), 2.0, &[2], &[1.0, 2.0]).unwrap();
    w.close().unwrap();
    let a = RunReader::open(&run).unwrap().channel("acts").unwrap();
    a.read(0..6, &mut out).unwrap();
    assert_eq!(&out[16..], [1.0, 1.0, 1.0, 1.0, 7.0, 7.0, 7.0, 7.0]);
    std::fs::write(
        &script,
        r#"
import sys, numpy as np, zarr
g = zarr.open_group(sys.argv[1], mode="r")
assert g["acts/values"].shape == (6, 4) and g["acts/values"][5, 0] == 7.0
assert list(g["config"][:]) == [1, 2, 3]
assert g["layer3/values"].shape == (50, 12) and g["loss/step"].shape == (20,)
assert list(g["new/values"][0]) == [1.0, 2.0]
print("ok")
"#,
    )
    .unwrap();
    let out = common::run_python(
        &std::fs::read_to_string(&script).unwrap(),
        dir.path(),
        &[run.to_str().unwrap()],
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn step_index_from_python_shaped_steps() {
    // Shared by render and watch: the latest write per step, in step order.
    let i = StepIndex::from_steps(&[5, 3, 4]);
    assert_eq!(i.steps(), [3, 4, 5]);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".ci/pyenv.sh")
            .exists()
    );
}
