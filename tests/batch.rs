//! Batch export as a user runs it: directories of mixed files, a summary
//! and exit code, resume after a real Ctrl-C, --force, --quiet.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actmap::sink;
use common::{actmap, stderr};

fn pngs(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn grid(path: &Path, seed: usize) {
    let data: Vec<f32> = (0..24 * 32).map(|i| ((i * 7 + seed * 13) % 97) as f32).collect();
    sink::write_npy_f32(path, &[24, 32], &data).unwrap();
}

#[test]
fn a_directory_with_bad_files_renders_the_rest_and_says_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("run/sub")).unwrap();
    for i in 0..4 {
        grid(&d.join(format!("run/g{i}.npy")), i);
    }
    grid(&d.join("run/sub/g0.npy"), 9);
    std::fs::write(d.join("run/corrupt.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
    std::fs::write(d.join("run/notes.txt.bak"), b"ignored: not a supported extension").unwrap();
    // A file numpy would write for an object array.
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy/object.npy"),
        d.join("run/object.npy"),
    )
    .unwrap();
    let o = actmap(&["render", "run", "-o", "figs", "--size", "480x360"], d);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("rendered 5, skipped 0, failed 2 of 7"), "{err}");
    assert!(err.contains("failed: run/corrupt.npy:"), "{err}");
    assert!(err.contains("failed: run/object.npy: object arrays"), "{err}");
    assert!(err.contains("actmap: error: 2 of 7 inputs failed"), "{err}");
    assert!(!err.contains("panicked"));
    let out = pngs(&d.join("figs"));
    assert_eq!(
        out,
        ["g1.png", "g2.png", "g3.png", "run_g0.png", "run_sub_g0.png"],
        "{out:?}"
    );
    for f in &out {
        let img = image::open(d.join("figs").join(f)).unwrap();
        assert_eq!((img.width(), img.height()), (480, 360));
    }
    // Not a terminal: one plain line per figure.
    assert!(err.lines().filter(|l| l.starts_with('[')).count() >= 5, "{err}");

    // Run again: everything that exists is skipped; --quiet prints only failures.
    let o = actmap(&["render", "run", "-o", "figs", "--size", "480x360", "-q"], d);
    let err = stderr(&o);
    assert!(err.contains("rendered 0, skipped 5, failed 2 of 7"), "{err}");
    assert!(!err.lines().any(|l| l.starts_with('[')), "{err}");
    // --force renders again.
    let o = actmap(
        &[
            "render",
            "run/g1.npy",
            "run/g2.npy",
            "-o",
            "figs",
            "--size",
            "480x360",
            "--force",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rendered 2, skipped 0, failed 0 of 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn globs_the_shell_did_not_expand_are_expanded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("run")).unwrap();
    for i in 0..3 {
        grid(&d.join(format!("run/layer{i}.npy")), i);
    }
    grid(&d.join("run/other.npy"), 7);
    let o = actmap(
        &[
            "render",
            "run/layer*.npy",
            "-o",
            "figs",
            "--size",
            "320x240",
            "-q",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(pngs(&d.join("figs")), ["layer0.png", "layer1.png", "layer2.png"]);
    let o = actmap(&["render", "run/nothing*.npy", "-o", "figs"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no file matches this pattern"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("run")).unwrap();
    let n = 120;
    for i in 0..n {
        grid(&d.join(format!("run/g{i:03}.npy")), i);
    }
    let figs = d.join("figs");
    let child = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args([
            "render",
            "run",
            "-o",
            "figs",
            "--size",
            "1600x1200",
            "--jobs",
            "1",
        ])
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first few figures, then press Ctrl-C.
    let start = Instant::now();
    while pngs(&figs).iter().filter(|f| f.ends_with(".png")).count() < 3 {
        assert!(start.elapsed() < Duration::from_secs(120), "no output appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let done = pngs(&figs);
    assert!(
        done.len() < n,
        "finished before the signal: {} figures",
        done.len()
    );
    assert!(
        done.iter().all(|f| f.ends_with(".png") && !f.starts_with('.')),
        "partial files left: {done:?}"
    );
    for f in &done {
        image::open(figs.join(f)).unwrap_or_else(|e| panic!("{f} is not a complete PNG: {e}"));
    }
    // Resume: the finished figures are skipped, the rest rendered.
    let o = actmap(&["render", "run", "-o", "figs", "--size", "1600x1200"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = format!(
        "rendered {}, skipped {}, failed 0 of {n}",
        n - done.len(),
        done.len()
    );
    assert!(stderr(&o).contains(&want), "want {want:?} in {}", stderr(&o));
    assert_eq!(pngs(&figs).len(), n);
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/batch")
        .join(name)
}

#[test]
fn safetensors_and_npz_written_by_python_render_per_tensor_and_slice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["acts.safetensors", "attn.npz", "attn_compressed.npz"] {
        std::fs::copy(fixture(f), d.join(f)).unwrap();
    }
    // --key picks tensors by pattern.
    let o = actmap(
        &[
            "render",
            "acts.safetensors",
            "--key",
            "layer.*,f16",
            "-o",
            "k",
            "--size",
            "400x300",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(pngs(&d.join("k")), ["acts_f16.png", "acts_layer.0.mlp.png"]);
    // Every tensor: the 0-d scalar cannot be drawn and is reported; the rest render.
    let o = actmap(
        &[
            "render",
            "acts.safetensors",
            "-o",
            "all",
            "--size",
            "400x300",
            "-q",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("failed: acts.safetensors:scalar: 0-d array"),
        "{err}"
    );
    assert_eq!(pngs(&d.join("all")).len(), 13, "{:?}", pngs(&d.join("all")));
    // [3, 4, 4] split along axis 0: one figure per slice, stored and deflated alike.
    let o = actmap(
        &[
            "render",
            "attn.npz",
            "attn_compressed.npz",
            "--key",
            "attn",
            "--split",
            "0",
            "-o",
            "s",
            "--size",
            "400x300",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        pngs(&d.join("s")),
        [
            "attn_attn_0.png",
            "attn_attn_1.png",
            "attn_attn_2.png",
            "attn_compressed_attn_0.png",
            "attn_compressed_attn_1.png",
            "attn_compressed_attn_2.png"
        ]
    );
    let a = image::open(d.join("s/attn_attn_1.png")).unwrap().to_rgba8();
    let b = image::open(d.join("s/attn_compressed_attn_1.png"))
        .unwrap()
        .to_rgba8();
    // Same data; only the title differs (it names the file).
    let differing = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
    assert!(
        differing < 2000,
        "{differing} pixels differ between stored and deflated npz renders"
    );
    // --panels: the three slices as panels of one figure.
    let o = actmap(
        &[
            "render", "attn.npz", "--key", "attn", "--split", "0", "--panels", "-o", "p", "--size", "600x600",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(pngs(&d.join("p")), ["attn_attn.png"]);
}

#[test]
fn broken_containers_in_a_directory_are_reported_and_the_rest_renders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("dumps")).unwrap();
    for f in [
        "truncated.safetensors",
        "bad_dtype.safetensors",
        "corrupt.npz",
        "attn.npz",
    ] {
        std::fs::copy(fixture(f), d.join("dumps").join(f)).unwrap();
    }
    grid(&d.join("dumps/good.npy"), 1);
    let o = actmap(
        &[
            "render", "dumps", "--split", "0", "-o", "figs", "--size", "400x300", "-q",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for want in ["truncated.safetensors", "bad_dtype.safetensors", "corrupt.npz"] {
        assert!(
            err.lines().any(|l| l.contains("failed:") && l.contains(want)),
            "{want} not reported:\n{err}"
        );
    }
    assert!(!err.contains("panicked"));
    let out = pngs(&d.join("figs"));
    assert!(out.contains(&"attn_attn_0.png".to_string()), "{out:?}");
    assert!(out.iter().any(|f| f.starts_with("good")), "{out:?}");
}

#[test]
fn shards_split_a_batch_between_processes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("run")).unwrap();
    for i in 0..5 {
        grid(&d.join(format!("run/g{i}.npy")), i);
    }
    let render = |shard: &str| {
        actmap(
            &[
                "render", "run", "-o", "figs", "--size", "320x240", "--shard", shard,
            ],
            d,
        )
    };
    let o = render("1/2");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rendered 3, skipped 0, failed 0 of 3"),
        "{}",
        stderr(&o)
    );
    let first = pngs(&d.join("figs"));
    let o = render("2/2");
    assert!(
        stderr(&o).contains("rendered 2, skipped 0, failed 0 of 2"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        pngs(&d.join("figs")),
        ["g0.png", "g1.png", "g2.png", "g3.png", "g4.png"]
    );
    assert_eq!(first, ["g0.png", "g2.png", "g4.png"]);
    // Each shard resumes on its own.
    let o = render("2/2");
    assert!(stderr(&o).contains("rendered 0, skipped 2"), "{}", stderr(&o));
    let o = render("3/2");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad --shard '3/2'"), "{}", stderr(&o));
}
