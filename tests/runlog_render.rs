//! `actmap render RUN`: a run log draws exactly as the same data from
//! `.npy` files with `--y-coords` (steps as true coordinates), 2-D records
//! by step, and a bad channel fails alone, naming its chunk file.

mod common;

use std::path::Path;
use std::time::Duration;

use actmap::runlog::{RunWriter, WriterOptions};

fn png(p: &Path) -> image::RgbaImage {
    image::open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_rgba8()
}

/// Uneven steps (as seed figure 000), a spike, NaN and inf.
fn write_run(run: &Path) -> (Vec<i64>, Vec<f32>) {
    let w = RunWriter::open(
        run,
        WriterOptions {
            chunk_bytes: 1024,
            flush_every: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .unwrap();
    let steps: Vec<i64> = [
        0, 150, 300, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000, 10000, 20000,
    ]
    .to_vec();
    let mut all = Vec::new();
    for (i, &s) in steps.iter().enumerate() {
        let mut row: Vec<f32> = (0..12)
            .map(|c| 0.05 + 0.25 * ((i * 12 + c) as f32 / 192.0))
            .collect();
        if i == 7 {
            row[4] = 3.0;
        }
        if i == 9 {
            row[2] = f32::NAN;
            row[3] = f32::INFINITY;
        }
        w.append("layers", Some(s), 0.0, &[12], &row).unwrap();
        all.extend(row);
    }
    for s in [10, 20, 30] {
        let m: Vec<f32> = (0..16).map(|i| ((i + s) % 7) as f32).collect();
        w.append("attn", Some(s), 0.0, &[4, 4], &m).unwrap();
    }
    w.close().unwrap();
    (steps, all)
}

#[test]
fn a_run_log_renders_as_the_same_data_from_npy_with_y_coords() {
    let dir = tempfile::tempdir().unwrap();
    let (steps, values) = write_run(&dir.path().join("run"));
    actmap::sink::write_npy_f32(&dir.path().join("layers.npy"), &[steps.len(), 12], &values).unwrap();
    let steps_f: Vec<f32> = steps.iter().map(|&s| s as f32).collect();
    actmap::sink::write_npy_f32(&dir.path().join("steps.npy"), &[steps.len()], &steps_f).unwrap();

    let o = common::actmap(
        &["render", "run", "--key", "layers", "-o", "from_run.png"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::actmap(
        &[
            "render",
            "layers.npy",
            "--y-coords",
            "steps.npy",
            "--title",
            "layers",
            "--xlabel",
            "column",
            "--ylabel",
            "step",
            "-o",
            "from_npy.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let (a, b) = (
        png(&dir.path().join("from_run.png")),
        png(&dir.path().join("from_npy.png")),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    let differing = a.pixels().zip(b.pixels()).filter(|(x, y)| x != y).count();
    assert_eq!(differing, 0, "the run log and the .npy renders differ");
    // Steps along x, and the same options any render takes.
    let o = common::actmap(
        &[
            "render",
            "run",
            "--key",
            "layers",
            "--transpose",
            "--cmap",
            "viridis",
            "-o",
            "t.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::actmap(
        &[
            "render",
            "layers.npy",
            "--transpose",
            "--x-coords",
            "steps.npy",
            "--cmap",
            "viridis",
            "--title",
            "layers",
            "--xlabel",
            "step",
            "--ylabel",
            "column",
            "-o",
            "t_npy.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(png(&dir.path().join("t.png")), png(&dir.path().join("t_npy.png")));
    // A step range.
    let o = common::actmap(
        &[
            "render",
            "run",
            "--key",
            "layers",
            "--steps",
            "1000:5000",
            "-o",
            "r.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let sub: Vec<f32> = values[4 * 12..12 * 12].to_vec();
    actmap::sink::write_npy_f32(&dir.path().join("sub.npy"), &[8, 12], &sub).unwrap();
    let o = common::actmap(
        &[
            "render",
            "sub.npy",
            "--y-coords",
            "1000,1500,2000,2500,3000,3500,4000,5000",
            "--title",
            "layers",
            "--xlabel",
            "column",
            "--ylabel",
            "step",
            "-o",
            "r_npy.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(png(&dir.path().join("r.png")), png(&dir.path().join("r_npy.png")));
}

#[test]
fn every_channel_one_png_and_2d_records_by_step() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"));
    let o = common::actmap(&["render", "run", "-o", "figs"], dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    let figs = dir.path().join("figs");
    assert!(figs.join("layers.png").is_file() && figs.join("attn.png").is_file());
    let o = common::actmap(
        &["render", "run", "--key", "attn", "--split", "-o", "split"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    for s in [10, 20, 30] {
        assert!(
            dir.path().join(format!("split/attn_step{s}.png")).is_file(),
            "step {s}"
        );
    }
    // The latest record is step 30's; --step 20 picks another.
    let m20: Vec<f32> = (0..16).map(|i| ((i + 20) % 7) as f32).collect();
    let m30: Vec<f32> = (0..16).map(|i| ((i + 30) % 7) as f32).collect();
    for (name, m, title) in [
        ("m20.npy", &m20, "attn · step 20"),
        ("m30.npy", &m30, "attn · step 30"),
    ] {
        actmap::sink::write_npy_f32(&dir.path().join(name), &[4, 4], m).unwrap();
        let out = name.replace(".npy", ".png");
        let o = common::actmap(
            &[
                "render", name, "--title", title, "--xlabel", "column", "--ylabel", "row", "-o", &out,
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
    }
    assert_eq!(png(&figs.join("attn.png")), png(&dir.path().join("m30.png")));
    let o = common::actmap(
        &["render", "run", "--key", "attn", "--step", "20", "-o", "s20.png"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(png(&dir.path().join("s20.png")), png(&dir.path().join("m20.png")));
    assert_eq!(
        png(&dir.path().join("split/attn_step20.png")),
        png(&dir.path().join("m20.png"))
    );
    let o = common::actmap(
        &["render", "run", "--key", "attn", "--step", "25", "-o", "x.png"],
        dir.path(),
    );
    assert!(!o.status.success());
    assert!(
        common::stderr(&o).contains("no record at step 25 (steps 10 .. 30)"),
        "{}",
        common::stderr(&o)
    );
    let o = common::actmap(&["render", "run", "--key", "nope"], dir.path());
    assert!(
        common::stderr(&o).contains("no channel matches --key nope (channels: attn, layers)"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn a_corrupt_chunk_is_drawn_as_lost_with_a_warning_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"));
    // 12 f32 per row, 1024-byte chunks: 21 rows a chunk; chunk 0 of layers.
    std::fs::write(dir.path().join("run/layers/values/c/0/0"), b"garbage").unwrap();
    let o = common::actmap(&["render", "run", "-o", "figs"], dir.path());
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("actmap: warning: run: channel 'layers' is damaged")
            && err.contains("layers/values/c/0/0: chunk file of 7 bytes"),
        "{err}"
    );
    // Both drawn: the lost records as NaN at their steps (tests/damage.rs
    // checks the pixels).
    assert!(dir.path().join("figs/attn.png").is_file());
    assert!(dir.path().join("figs/layers.png").is_file());
    // info lists both.
    let o = common::actmap(&["info", "run"], dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
}

/// A long channel streams its chunks through the out-of-core pass (as a
/// large `.npy` does): the picture is the one drawn in memory, plain,
/// transposed and over a step range, with a resumed (backwards) stretch
/// drawn from its latest writes and a spike kept.
#[test]
fn a_streamed_run_log_draws_the_picture_drawn_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let w = RunWriter::open(
        dir.path().join("run"),
        WriterOptions {
            chunk_bytes: 4096,
            flush_every: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .unwrap();
    let cols = 64;
    let row = |s: i64, v: f32| -> Vec<f32> {
        (0..cols)
            .map(|c| (s as f32 * 0.013 + c as f32 * 0.7).sin() + v)
            .collect()
    };
    // Uneven steps: every step to 2000, then every 7th; then a resume
    // from step 2500 that rewrites what follows with values shifted by 5.
    let mut steps: Vec<i64> = (0..2000).collect();
    steps.extend((2000..6000).step_by(7));
    for &s in &steps {
        let mut r = row(s, 0.0);
        if s == 1234 {
            r[17] = 40.0;
        }
        w.append("acts", Some(s), 0.0, &[cols], &r).unwrap();
    }
    for s in (2500..3000).step_by(7) {
        w.append("acts", Some(s), 0.0, &[cols], &row(s, 5.0)).unwrap();
    }
    w.close().unwrap();
    let cases: [&[&str]; 3] = [
        &[],
        &["--transpose", "--cmap", "viridis"],
        &["--steps", "1000:4000", "--norm", "symlog"],
    ];
    for (i, extra) in cases.iter().enumerate() {
        let mut pics = Vec::new();
        for mode in ["never", "always"] {
            let out = format!("{mode}{i}.png");
            let mut args = vec!["render", "run", "--key", "acts", "-o", &out];
            args.extend_from_slice(extra);
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
                .args(&args)
                .env("ACTMAP_STREAM", mode)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(o.status.success(), "{:?}: {}", args, common::stderr(&o));
            pics.push(png(&dir.path().join(&out)));
        }
        assert_eq!(pics[0].dimensions(), pics[1].dimensions());
        let differing = pics[0]
            .pixels()
            .zip(pics[1].pixels())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing, 0,
            "case {extra:?}: streamed and in-memory run log renders differ"
        );
    }
    // The spike survives: in the plot (left of the colorbar, which has
    // every colour) a few pixels, the spike's, take magma's top colour (the
    // spike is 40, the rest at most 6.1).
    let img = png(&dir.path().join("never0.png"));
    let plot_right = img.width() * 9 / 10;
    let top = img
        .enumerate_pixels()
        .filter(|&(x, _, p)| x < plot_right && p.0[0] > 240 && p.0[1] > 240 && (170..215).contains(&p.0[2]))
        .count();
    assert!(
        (1..200).contains(&top),
        "the spike at step 1234 is not drawn alone in the top colour ({top} pixels)"
    );
}

/// `runs/a` (every value 0), `runs/b` (every value 10), `runs/c` (no
/// channel `acts`), and `notes.txt`, which is not a run.
fn write_collection(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("notes.txt"), "not a run").unwrap();
    for (name, channel, v) in [("a", "acts", 0.0f32), ("b", "acts", 10.0), ("c", "other", 1.0)] {
        let w = RunWriter::open(root.join(name), WriterOptions::default()).unwrap();
        for s in [0, 5] {
            w.append(channel, Some(s), 0.0, &[2], &[v, v]).unwrap();
        }
        w.close().unwrap();
    }
}

#[test]
fn runs_draw_side_by_side_on_one_colour_scale() {
    let dir = tempfile::tempdir().unwrap();
    write_collection(&dir.path().join("runs"));
    let cmap: actmap::Colormap = "viridis".parse().unwrap();
    let bare = ["--bare", "--size", "40x20", "--cmap", "viridis"];
    // A collection: a panel per run that has the channel, left to right;
    // one scale, so a's 0 is the bottom colour and b's 10 the top.
    let mut args = vec!["render", "runs", "--key", "acts", "-o", "all.png"];
    args.extend(bare);
    let o = common::actmap(&args, dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("actmap: warning: channel 'acts': not in run c; left out"),
        "{}",
        common::stderr(&o)
    );
    let img = png(&dir.path().join("all.png"));
    assert_eq!(common::px(&img, 10, 10), cmap.map(0.0), "run a");
    assert_eq!(common::px(&img, 30, 10), cmap.map(1.0), "run b");
    // The runs named, and --runs, give the same figure.
    let mut args = vec!["render", "runs/a", "runs/b", "--key", "acts", "-o", "named.png"];
    args.extend(bare);
    assert!(common::actmap(&args, dir.path()).status.success());
    let mut args = vec![
        "render", "runs", "--runs", "a*,b", "--key", "acts", "-o", "pat.png",
    ];
    args.extend(bare);
    let o = common::actmap(&args, dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    for f in ["named.png", "pat.png"] {
        assert_eq!(png(&dir.path().join(f)), img, "{f}");
    }
    // The figure a user looks at: titles are the run names.
    let o = common::actmap(
        &["render", "runs", "--key", "acts", "-o", "titled.png"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    // Refusals, each one line.
    let cases: [(&[&str], &str); 4] = [
        (
            &["render", "runs", "--runs", "zzz", "-o", "x.png"],
            "no run matches --runs zzz",
        ),
        (
            &["render", "runs", "--key", "nope", "-o", "x.png"],
            "no channel to draw in 3 runs matches --key nope",
        ),
        (
            &["render", "runs", "-o", "x.png"],
            "2 channels to draw (channel 'acts', channel 'other') and -o names one PNG",
        ),
        (
            &["render", "runs", "--rank", "all", "-o", "x.png"],
            "--rank all draws the ranks of one run; 3 runs given",
        ),
    ];
    common::assert_refused(&cases, dir.path());
    assert!(!dir.path().join("x.png").exists());
    // -o DIR: a figure per channel, each with the runs that have it.
    let o = common::actmap(&["render", "runs", "-o", "figs"], dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(dir.path().join("figs/acts.png").is_file() && dir.path().join("figs/other.png").is_file());
}

#[test]
fn rank_all_draws_the_ranks_of_a_distributed_run_as_panels() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ddp");
    for (r, v) in [(0u32, 2.0f32), (1, 4.0)] {
        let w = RunWriter::open(
            actmap::runlog::rank_dir(&run, r).unwrap(),
            WriterOptions::default(),
        )
        .unwrap();
        w.append("acts", Some(0), 0.0, &[2], &[v, v]).unwrap();
        w.close().unwrap();
    }
    let cmap: actmap::Colormap = "viridis".parse().unwrap();
    let o = common::actmap(
        &[
            "render", "ddp", "--rank", "all", "-o", "r.png", "--bare", "--size", "40x20", "--cmap", "viridis",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let img = png(&dir.path().join("r.png"));
    assert_eq!(common::px(&img, 10, 10), cmap.map(0.0), "rank 0");
    assert_eq!(common::px(&img, 30, 10), cmap.map(1.0), "rank 1");
    let o = common::actmap(
        &["render", "ddp", "--rank", "all", "-o", "titled.png"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::actmap(&["render", "ddp", "--rank", "x", "-o", "x.png"], dir.path());
    assert!(common::stderr(&o).contains("--rank takes a rank (0, 1, ...) or 'all', got 'x'"));
}
