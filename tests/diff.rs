//! `actmap render A B --diff`: B − A on a diverging map centred on 0, for
//! two runs (aligned by step value, a resumed run's latest writes, steps
//! only one run has named and left out) and for two arrays of one shape
//! written by numpy and safetensors; streamed and in memory alike.

mod common;

use std::path::Path;
use std::time::Duration;

use actmap::runlog::{RunWriter, WriterOptions};

fn png(p: &Path) -> image::RgbaImage {
    image::open(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_rgba8()
}

fn near(got: [u8; 4], want: [u8; 4], what: &str) {
    let d = got
        .iter()
        .zip(want)
        .map(|(g, w)| (*g as i32 - w as i32).abs())
        .max()
        .unwrap();
    assert!(d <= 2, "{what}: got {got:?}, want {want:?}");
}

/// `runs/a`: steps 0, 10, 20, 30, 40, every value 0. `runs/b`: steps 0, 5,
/// 10, 20, 30 written, then a restart from step 20 that writes 20, 30 again
/// and goes on to 45 (its latest writes are the ones drawn).
fn write_pair(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let opts = || WriterOptions {
        chunk_bytes: 64,
        flush_every: Duration::from_secs(3600),
        ..Default::default()
    };
    let a = RunWriter::open(root.join("a"), opts()).unwrap();
    for s in [0, 10, 20, 30, 40] {
        a.append("acts", Some(s), 0.0, &[2], &[0.0, 0.0]).unwrap();
    }
    a.append("attn", Some(40), 0.0, &[2, 2], &[1.0, 1.0, 1.0, 1.0])
        .unwrap();
    a.close().unwrap();
    let b = RunWriter::open(root.join("b"), opts()).unwrap();
    for (s, v) in [
        (0, [0.0, 0.0]),
        (5, [99.0, 99.0]),
        (10, [-4.0, 4.0]),
        (20, [7.0, 7.0]),
        (30, [7.0, 7.0]),
    ] {
        b.append("acts", Some(s), 0.0, &[2], &v).unwrap();
    }
    b.append("attn", Some(40), 0.0, &[2, 2], &[1.0, 3.0, -1.0, 1.0])
        .unwrap();
    b.close().unwrap();
    let b = RunWriter::open(root.join("b"), opts()).unwrap();
    for (s, v) in [(20, [4.0, 0.0]), (30, [0.0, -4.0]), (45, [50.0, 50.0])] {
        b.append("acts", Some(s), 0.0, &[2], &v).unwrap();
    }
    b.close().unwrap();
}

#[test]
fn two_runs_diff_aligned_by_step_on_a_centred_diverging_map() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(&dir.path().join("runs"));
    let cmap: actmap::Colormap = "RdBu_r".parse().unwrap();
    let o = common::actmap(
        &[
            "render", "runs/a", "runs/b", "--diff", "--key", "acts", "--bare", "--size", "40x40", "-o",
            "d.png",
        ],
        dir.path(),
    );
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("1 step only in run 'a' left out: 40"), "{err}");
    assert!(err.contains("2 steps only in run 'b' left out: 5, 45"), "{err}");
    // Rows are the steps both have, 0 10 20 30 (10 px each), columns 20 px;
    // limits are +-4, the largest |B − A|, so 0 is the map's middle.
    let img = png(&dir.path().join("d.png"));
    let want = [[0.5, 0.5], [0.0, 1.0], [1.0, 0.5], [0.5, 0.0]];
    for (r, row) in want.iter().enumerate() {
        for (c, &t) in row.iter().enumerate() {
            let (x, y) = (c as u32 * 20 + 10, r as u32 * 10 + 5);
            near(
                common::px(&img, x, y),
                cmap.map(t),
                &format!("step row {r}, column {c}"),
            );
        }
    }
    // Streamed out of core: the same picture.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args([
            "render", "runs/a", "runs/b", "--diff", "--key", "acts", "--bare", "--size", "40x40", "-o",
            "s.png",
        ])
        .env("ACTMAP_STREAM", "always")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(png(&dir.path().join("s.png")), img);
    // A 2-D channel: the latest step both have, cell by cell.
    let o = common::actmap(
        &[
            "render", "runs", "--diff", "--key", "attn", "--bare", "--size", "40x40", "-o", "m.png",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    let img = png(&dir.path().join("m.png"));
    for (x, y, t) in [(10, 10, 0.5), (30, 10, 1.0), (10, 30, 0.0), (30, 30, 0.5)] {
        near(common::px(&img, x, y), cmap.map(t), &format!("attn ({x}, {y})"));
    }
    // The figure a user looks at: titled "b − a", colorbar centred on 0.
    let o = common::actmap(&["render", "runs", "--diff", "-o", "figs"], dir.path());
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(dir.path().join("figs/acts_diff.png").is_file());
    assert!(dir.path().join("figs/attn_diff.png").is_file());
}

#[test]
fn diff_refusals_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(&dir.path().join("runs"));
    let c = RunWriter::open(dir.path().join("runs/c"), WriterOptions::default()).unwrap();
    c.append("acts", Some(100), 0.0, &[2], &[1.0, 1.0]).unwrap();
    c.close().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["render", "runs", "--diff", "-o", "x.png"],
            "--diff draws B − A of two runs; 3 given (a, b, c)",
        ),
        (
            &["render", "runs/a", "--diff", "-o", "x.png"],
            "--diff draws B − A of two runs; 1 given",
        ),
        (
            &[
                "render", "runs/a", "runs/c", "--diff", "--key", "acts", "-o", "x.png",
            ],
            "channel 'acts', c − a: the runs have no step in common ('a': steps 0 .. 40, 'c': steps 100 .. 100)",
        ),
    ];
    common::assert_refused(&cases, dir.path());
    assert!(!dir.path().join("x.png").exists());
}

#[test]
fn two_arrays_of_one_shape_diff_from_numpy_and_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::run_python(
        "import numpy as np\n\
         from safetensors.numpy import save_file\n\
         a = np.zeros((4, 4), np.float32)\n\
         b = a.copy(); b[0, 0] = 2; b[3, 3] = -2\n\
         np.save('a.npy', a); np.save('b.npy', b); np.save('c.npy', np.zeros((3, 4), np.float32))\n\
         save_file({'x': a, 'y': b.astype(np.float16)}, 'w.safetensors')\n\
         big = np.random.default_rng(0).standard_normal((3000, 512)).astype(np.float32)\n\
         np.save('big_a.npy', big); big2 = big.copy(); big2[1234, 77] += 50; np.save('big_b.npy', big2)\n",
        d,
        &[],
    );
    let cmap: actmap::Colormap = "RdBu_r".parse().unwrap();
    let bare = ["--bare", "--size", "40x40"];
    for (args, out) in [
        (vec!["render", "a.npy", "b.npy", "--diff", "-o", "n.png"], "n.png"),
        (
            vec!["render", "w.safetensors", "--key", "x,y", "--diff", "-o", "s.png"],
            "s.png",
        ),
    ] {
        let mut args = args;
        args.extend(bare);
        let o = common::actmap(&args, d);
        assert!(o.status.success(), "{args:?}: {}", common::stderr(&o));
        let img = png(&d.join(out));
        near(common::px(&img, 5, 5), cmap.map(1.0), &format!("{out} +2"));
        near(common::px(&img, 35, 35), cmap.map(0.0), &format!("{out} -2"));
        near(common::px(&img, 25, 5), cmap.map(0.5), &format!("{out} 0"));
    }
    // Shapes that differ: one line naming both.
    let o = common::actmap(&["render", "a.npy", "c.npy", "--diff", "-o", "x.png"], d);
    assert!(!o.status.success());
    assert!(
        common::stderr(&o)
            .contains("--diff needs two arrays of one shape: a.npy is [4, 4] and c.npy is [3, 4]"),
        "{}",
        common::stderr(&o)
    );
    assert!(!d.join("x.png").exists());
    // A large pair streams (a block of rows of each at a time): the one
    // changed cell is the spike the picture keeps, as in memory.
    let run = |stream: &str, out: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
            .args([
                "render",
                "big_a.npy",
                "big_b.npy",
                "--diff",
                "--size",
                "400x300",
                "-o",
                out,
            ])
            .env("ACTMAP_STREAM", stream)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", common::stderr(&o));
        png(&d.join(out))
    };
    assert_eq!(run("always", "st.png"), run("never", "mem.png"));
}
