//! The `actmap` binary as a user runs it: exit codes, one-line errors that
//! name the file, no partial output, PNG pixels at known cells.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use actmap::{Colormap, sink};
use common::{actmap, stderr};

fn error_line(o: &Output) -> String {
    let e = stderr(o);
    e.lines()
        .find(|l| l.starts_with("actmap: error:"))
        .unwrap_or_else(|| panic!("no error line in stderr: {e}"))
        .to_string()
}

/// A 3 x 4 grid with values 0..11 as .npy.
fn small_npy(dir: &Path) -> PathBuf {
    let p = dir.join("small.npy");
    let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
    sink::write_npy_f32(&p, &[3, 4], &data).unwrap();
    p
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn render_bare_npy_gives_exact_cell_colours() {
    let dir = tempfile::tempdir().unwrap();
    small_npy(dir.path());
    let o = actmap(
        &[
            "render",
            "small.npy",
            "-o",
            "out.png",
            "--bare",
            "--size",
            "40x30",
            "--cmap",
            "viridis",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("out.png")).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (40, 30));
    let cmap: Colormap = "viridis".parse().unwrap();
    for r in 0..3u32 {
        for c in 0..4u32 {
            let t = (r * 4 + c) as f32 / 11.0;
            assert_eq!(
                img.get_pixel(c * 10 + 5, r * 10 + 5).0,
                cmap.map(t),
                "cell ({r},{c})"
            );
        }
    }
}

#[test]
fn render_options_change_the_picture() {
    let dir = tempfile::tempdir().unwrap();
    small_npy(dir.path());
    // vmin/vmax clip: value 0..5 at the first colour, 6..11 at the last.
    let o = actmap(
        &[
            "render",
            "small.npy",
            "-o",
            "clip.png",
            "--bare",
            "--size",
            "4x3",
            "--vmin",
            "5",
            "--vmax",
            "6",
            "--cmap",
            "Greys",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("clip.png")).unwrap().to_rgba8();
    let greys: Colormap = "Greys".parse().unwrap();
    assert_eq!(img.get_pixel(0, 0).0, greys.map(0.0));
    assert_eq!(img.get_pixel(3, 2).0, greys.map(1.0));
    // --transpose swaps the axes of the output picture.
    let o = actmap(
        &[
            "render",
            "small.npy",
            "-o",
            "t.png",
            "--bare",
            "--size",
            "3x4",
            "--transpose",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("t.png")).unwrap().to_rgba8();
    let magma = Colormap::default();
    assert_eq!(
        img.get_pixel(2, 0).0,
        magma.map(8.0 / 11.0),
        "grid (2,0) is at x=2, y=0 after transpose"
    );
}

#[test]
fn default_output_name_and_directory_output() {
    let dir = tempfile::tempdir().unwrap();
    small_npy(dir.path());
    let o = actmap(&["render", "small.npy", "--size", "8x6", "--bare"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("small.png").exists());
    std::fs::create_dir(dir.path().join("figs")).unwrap();
    let o = actmap(
        &["render", "small.npy", "-o", "figs", "--size", "8x6", "--bare"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("figs/small.png").exists());
}

#[test]
fn bad_options_fail_with_one_clear_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    small_npy(dir.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &["--cmap", "magam"],
            "unknown colormap 'magam' (did you mean 'magma'?)",
        ),
        (&["--size", "100000x10"], "image size 100000x10 is not possible"),
        (&["--norm", "sqrt"], "unknown norm 'sqrt'"),
        (&["--agg", "median"], "unknown aggregation 'median'"),
        (&["--vmin", "3", "--vmax", "1"], "vmin 3 is greater than vmax 1"),
        (&["--norm", "log"], "log norm needs a positive range"),
        (&["--nan-color", "pink"], "'pink' is not a colour"),
        (
            &["--robust", "10"],
            "--robust takes a percentile between 50 and 100",
        ),
        (
            &["--index", "2"],
            "--index applies only to arrays of 3 or more dimensions",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["render", "small.npy", "-o", "out.png"];
        args.extend_from_slice(extra);
        let o = actmap(&args, dir.path());
        assert_eq!(o.status.code(), Some(1), "{extra:?}: {}", stderr(&o));
        let line = error_line(&o);
        assert!(line.contains(want), "{extra:?}: got {line:?}, want {want:?}");
        assert_eq!(files_in(dir.path()), ["small.npy"], "{extra:?} left files behind");
    }
    // A malformed value is a usage error (exit 2), said by the parser.
    for (extra, want) in [
        (
            ["--size", "19x"],
            "invalid value '19x' for '--size <WxH>': bad size '19x'",
        ),
        (
            ["--size", "0x10"],
            "invalid value '0x10' for '--size <WxH>': bad size '0x10'",
        ),
    ] {
        let mut args = vec!["render", "small.npy", "-o", "out.png"];
        args.extend_from_slice(&extra);
        let o = actmap(&args, dir.path());
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{extra:?}: got {}", stderr(&o));
        assert_eq!(files_in(dir.path()), ["small.npy"], "{extra:?} left files behind");
    }
}

#[test]
fn bad_files_are_named_in_the_error_and_leave_no_png() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A good previous output must survive a failed render.
    std::fs::write(d.join("out.png"), b"previous").unwrap();
    std::fs::write(d.join("corrupt.npy"), b"not numpy at all").unwrap();
    let good = small_npy(d);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(d.join("truncated.npy"), &bytes[..bytes.len() - 7]).unwrap();
    std::fs::write(d.join("ragged.csv"), "1,2,3\n4,5\n").unwrap();
    std::fs::write(d.join("words.csv"), "1,2\n3,abc\n").unwrap();
    std::fs::write(d.join("empty.csv"), "").unwrap();
    std::fs::write(d.join("notes.json"), "{}").unwrap();
    sink::write_npy_f32(&d.join("scalar.npy"), &[], &[1.0]).unwrap();
    sink::write_npy_f32(&d.join("empty.npy"), &[0, 4], &[]).unwrap();
    let cases = [
        ("corrupt.npy", "corrupt.npy: "),
        ("truncated.npy", "truncated.npy: "),
        ("ragged.csv", "ragged.csv: "),
        ("words.csv", "words.csv: "),
        ("empty.csv", "empty.csv: "),
        ("notes.json", "unsupported file type"),
        ("scalar.npy", "0-d array"),
        ("empty.npy", "empty grid"),
        ("missing.npy", "missing.npy: "),
    ];
    for (file, want) in cases {
        let o = actmap(&["render", file, "-o", "out.png"], d);
        assert_eq!(o.status.code(), Some(1), "{file}: {}", stderr(&o));
        let line = error_line(&o);
        assert!(line.contains(want), "{file}: got {line:?}, want {want:?}");
        assert!(!stderr(&o).contains("panicked"), "{file} panicked");
        assert_eq!(
            std::fs::read(d.join("out.png")).unwrap(),
            b"previous",
            "{file} clobbered out.png"
        );
    }
    assert!(
        !files_in(d).iter().any(|f| f.contains(".tmp")),
        "temporary files left: {:?}",
        files_in(d)
    );
    // The OS's reason is given once, not once per layer of the error chain.
    for cmd in ["render", "info"] {
        let o = actmap(&[cmd, "missing.npy"], d);
        let line = error_line(&o);
        assert_eq!(
            line.matches("No such file or directory").count(),
            1,
            "{cmd}: {line}"
        );
    }
}

#[test]
fn npz_members_that_are_not_arrays_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mixed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/batch/mixed.npz");
    std::fs::copy(mixed, d.join("mixed.npz")).unwrap();
    // A batch says what it left out, and renders the array.
    let o = actmap(&["render", "mixed.npz", "-o", "figs", "--size", "320x240"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("mixed.npz: member 'notes.txt' skipped: not a .npy array"),
        "{err}"
    );
    assert_eq!(files_in(&d.join("figs")), ["mixed_a.png"]);
    // So does info, in text and JSON.
    let o = actmap(&["info", "mixed.npz"], d);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("member 'notes.txt' skipped: not a .npy array"),
        "{out}"
    );
    let o = actmap(&["info", "mixed.npz", "--json"], d);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("\"skipped\": [\"member 'notes.txt' skipped: not a .npy array\"]"),
        "{out}"
    );
}

#[test]
fn three_d_arrays_render_as_panels_and_index_picks_one() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<f32> = (0..24).map(|v| v as f32).collect();
    sink::write_npy_f32(&dir.path().join("cube.npy"), &[2, 3, 4], &data).unwrap();
    // No flags: one figure, a panel per index of axis 0, side by side.
    let o = actmap(
        &[
            "render", "cube.npy", "-o", "c.png", "--bare", "--size", "80x30", "--vmin", "0", "--vmax", "23",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("c.png")).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (80, 30));
    for (panel, x0) in [(0u32, 0u32), (1, 40)] {
        for r in 0..3u32 {
            for c in 0..4u32 {
                let v = (panel * 12 + r * 4 + c) as f32;
                assert_eq!(
                    img.get_pixel(x0 + c * 10 + 5, r * 10 + 5).0,
                    Colormap::default().map(v / 23.0),
                    "panel {panel} cell ({r},{c})"
                );
            }
        }
    }
    assert_eq!(files_in(dir.path()), ["c.png", "cube.npy"]);
    let o = actmap(
        &[
            "render", "cube.npy", "-o", "c.png", "--index", "1", "--bare", "--size", "4x3", "--vmin", "0",
            "--vmax", "23",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("c.png")).unwrap().to_rgba8();
    // Slice 1 starts at value 12.
    assert_eq!(img.get_pixel(0, 0).0, Colormap::default().map(12.0 / 23.0));
    let o = actmap(&["render", "cube.npy", "-o", "c.png", "--index", "5"], dir.path());
    assert!(
        error_line(&o).contains("--index 5 is out of range for axis 0 of size 2"),
        "{}",
        error_line(&o)
    );
}

#[test]
fn info_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = [1.0, f32::NAN, -2.5, f32::INFINITY, 4.0, f32::NEG_INFINITY];
    sink::write_npy_f32(&dir.path().join("v.npy"), &[2, 3], &data).unwrap();
    let o = actmap(&["info", "v.npy"], dir.path());
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "float32",
        "(2, 3)",
        "min     -2.5",
        "max     4",
        "NaN     1",
        "+inf    1",
        "-inf    1",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let o = actmap(&["info", "v.npy", "--json"], dir.path());
    assert!(o.status.success());
    let json = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        json.trim(),
        r#"{"file": "v.npy", "dtype": "float32", "shape": [2, 3], "cells": 6, "finite": 3, "min": -2.5, "max": 4, "mean": 0.8333333333333334, "nan": 1, "pos_inf": 1, "neg_inf": 1}"#
    );
}

#[test]
fn demo_writes_data_that_render_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let o = actmap(&["demo", "-o", "figs"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "000_layer_steps",
        "001_layer_steps_long",
        "003_accuracy_breakdown",
        "004_neuron_activations",
    ] {
        assert!(dir.path().join(format!("figs/{name}.png")).exists(), "{name}.png");
    }
    let o = actmap(
        &[
            "render",
            "figs/000_layer_steps.npy",
            "-o",
            "again.png",
            "--size",
            "120x330",
            "--bare",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let img = image::open(dir.path().join("again.png")).unwrap().to_rgba8();
    let data = actmap::export::demo::layer_steps();
    let stats = actmap::Stats::of(data.grid.data());
    let norm = actmap::Norm::linear(stats.min, stats.max);
    // Cell (row 32 = step 20000, layer 8) is bright; layer 5 is dark.
    for (r, c) in [(32usize, 7usize), (32, 4), (0, 0)] {
        let v = data.grid.get(r, c).unwrap();
        let got = img.get_pixel(c as u32 * 10 + 5, r as u32 * 10 + 5).0;
        assert_eq!(got, Colormap::default().map(norm.normalize(v)), "cell ({r},{c})");
    }
}

#[test]
fn no_adapter_says_how_to_install_the_software_driver() {
    let dir = tempfile::tempdir().unwrap();
    small_npy(dir.path());
    // A Vulkan loader that finds no driver, and no other backend allowed.
    let o = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args(["render", "small.npy", "-o", "out.png"])
        .current_dir(dir.path())
        .env("WGPU_BACKEND", "vulkan")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = error_line(&o);
    assert!(line.contains("no GPU adapter found"), "{line}");
    assert!(
        line.contains("apt-get install mesa-vulkan-drivers libvulkan1"),
        "{line}"
    );
    assert!(!dir.path().join("out.png").exists());

    let o = Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args(["render", "small.npy", "-o", "out.png"])
        .current_dir(dir.path())
        .env("WGPU_ADAPTER_NAME", "no-such-gpu-xyz")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let line = error_line(&o);
    assert!(
        line.contains("WGPU_ADAPTER_NAME=\"no-such-gpu-xyz\" matches none of the adapters found"),
        "{line}"
    );
}

/// The issue's figure commands, end to end: panels, annotations, lines,
/// coordinates, specs. Each must succeed and produce the size asked for.
#[test]
fn figure_commands_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = actmap(&["demo", "-o", "f", "--size", "640x480"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    sink::write_npy_f32(&d.join("steps.npy"), &[33], &demo_steps()).unwrap();
    let runs: &[&[&str]] = &[
        &[
            "render",
            "f/000_layer_steps.npy",
            "--title",
            "Layer activation",
            "--xlabel",
            "Layer",
            "--ylabel",
            "Steps",
            "--y-coords",
            "steps.npy",
            "-o",
            "a.png",
        ],
        &[
            "render",
            "f/000_layer_steps.npy",
            "--y-coords",
            "steps.npy",
            "--coords",
            "index",
            "-o",
            "b.png",
        ],
        &[
            "render",
            "f/002_ntm_inputs.npy",
            "f/002_ntm_outputs.npy",
            "f/002_ntm_write.npy",
            "f/002_ntm_read.npy",
            "--grid",
            "2x2",
            "--titles",
            "Inputs,Outputs,Write Weightings,Read Weightings",
            "--colorbar",
            "shared",
            "-o",
            "c.png",
        ],
        &[
            "render",
            "f/003_accuracy_breakdown.npy",
            "--cmap",
            "Blues",
            "--annotate",
            "--title",
            "Accuracy Breakdown",
            "-o",
            "d.png",
        ],
        &[
            "render",
            "f/003_accuracy_breakdown.npy",
            "--annotate=.0%",
            "-o",
            "e.png",
        ],
        &[
            "render",
            "f/004_neuron_activations.npy",
            "--kind",
            "line",
            "--mark-top",
            "3",
            "-o",
            "g.png",
        ],
        &[
            "render",
            "f/003_accuracy_breakdown.npy",
            "--kind",
            "line",
            "--rows",
            "0,1",
            "--labels",
            "one,two",
            "--ylim",
            "-0.1,1",
            "-o",
            "h.png",
        ],
        &[
            "render",
            "f/001_layer_steps_long.npy",
            "--y-coords",
            "30000,60000,90000,120000,150000,180000,210000,240000,270000,300000",
            "--coords",
            "index",
            "--y-format",
            "k",
            "--scale",
            "2",
            "--size",
            "2400x1800",
            "-o",
            "i.png",
        ],
    ];
    for args in runs {
        let o = actmap(args, d);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let out = args[args.iter().position(|a| *a == "-o").unwrap() + 1];
        let img = image::open(d.join(out)).unwrap();
        let want = if args.contains(&"2400x1800") {
            (2400, 1800)
        } else {
            (1200, 900)
        };
        assert_eq!((img.width(), img.height()), want, "{args:?}");
    }
    // A spec file, with relative paths resolved against it.
    std::fs::write(
        d.join("f/fig.toml"),
        "width = 800\nheight = 600\n[[panel]]\ninput = \"003_accuracy_breakdown.npy\"\ncmap = \"Blues\"\n",
    )
    .unwrap();
    let o = actmap(&["render", "--spec", "f/fig.toml", "-o", "spec.png"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image::open(d.join("spec.png")).unwrap().width(), 800);
}

fn demo_steps() -> Vec<f32> {
    actmap::export::demo::steps_000()
        .iter()
        .map(|&v| v as f32)
        .collect()
}

#[test]
fn figure_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    small_npy(d);
    let cases: &[(&[&str], &str)] = &[
        (
            &["render", "small.npy", "small.npy", "-o", "x.png"],
            "several figures need an output directory",
        ),
        (
            &["render", "small.npy", "small.npy", "--grid", "1x1"],
            "a 1x1 grid cannot hold 2 panels",
        ),
        (
            &["render", "small.npy", "--x-coords", "1,2"],
            "x coordinates: 2 values for 4 cells",
        ),
        (
            &["render", "small.npy", "--y-coords", "3,2,1"],
            "must be strictly increasing",
        ),
        (
            &["render", "small.npy", "--annotate=.2q"],
            "bad number format '.2q'",
        ),
        (
            &["render", "small.npy", "--kind", "pie"],
            "unknown panel kind 'pie'",
        ),
        (
            &["render", "small.npy", "--kind", "line", "--rows", "7"],
            "row 7 is out of range",
        ),
        (
            &["render", "small.npy", "--size", "60x40"],
            "too small for its labels",
        ),
        (&["render", "--spec", "nope.toml"], "nope.toml"),
    ];
    for (args, want) in cases {
        let o = actmap(args, d);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let line = error_line(&o);
        assert!(line.contains(want), "{args:?}: got {line:?}, want {want:?}");
    }
}
