//! Text labels on the axes (tokens): read back from the pixels of the real
//! render, the thinning rule, the count error, the file formats.

mod common;

use std::path::Path;

use actmap::Grid;
use actmap::input::LoadOptions;
use actmap::options::{FigureOptions, LabelsSpec};
use actmap::render::spec::{FigureSpec, load_labels};
use common::{actmap, renderer, stderr};

fn figure(opts: serde_json::Value, grid: Grid) -> actmap::layout::Figure {
    let o: FigureOptions = serde_json::from_value(opts).unwrap();
    FigureSpec::from_options(&o, &["grid".to_string()])
        .unwrap()
        .build_with_grids(vec![grid], Path::new("."))
        .unwrap()
}

/// Horizontal extents `(first, last)` of the runs of columns holding dark
/// ink in the rows `y0..y1`, between `x0` and `x1`.
fn ink_runs(img: &image::RgbaImage, x0: u32, x1: u32, y0: u32, y1: u32) -> Vec<(u32, u32)> {
    let dark = |x: u32| (y0..y1).any(|y| img.get_pixel(x, y).0[..3].iter().all(|&c| c < 128));
    let mut runs = Vec::new();
    let mut start = None;
    for x in x0..x1 {
        match (dark(x), start) {
            (true, None) => start = Some(x),
            (false, Some(s)) => {
                runs.push((s, x - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, x1 - 1));
    }
    runs
}

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Ġtok{i}")).collect()
}

#[test]
fn turned_token_labels_sit_at_the_cell_centres() {
    let n = 12;
    let grid = Grid::from_fn(n, n, |r, c| ((r * n + c) % 7) as f32).unwrap();
    let fig = figure(
        serde_json::json!({"size": [700, 700], "xticklabels": tokens(n),
            "yticklabels": (0..n).map(|i| format!("tok{i}")).collect::<Vec<_>>()}),
        grid,
    );
    let out = renderer().render_figure(&fig).unwrap();
    let p = &out.layout.panels[0];
    assert_eq!(p.x_ticks.len(), n, "every label is written");
    assert_eq!(p.x_ticks[3].label, "Ġtok3");
    let r = p.plot;
    // Below the plot, past the tick marks: each label is one turned line
    // of ink, centred on its cell.
    let y0 = r.y + r.height + 12;
    let runs = ink_runs(&out.image, r.x, r.x + r.width, y0, y0 + 30);
    assert_eq!(runs.len(), n, "one ink column per label: {runs:?}");
    let cell = r.width as f32 / n as f32;
    for (i, (a, b)) in runs.iter().enumerate() {
        let centre = (*a + *b) as f32 / 2.0 + 0.5;
        let want = r.x as f32 + (i as f32 + 0.5) * cell;
        assert!(
            (centre - want).abs() <= 2.0,
            "label {i}: ink centred at {centre}, cell centre {want}"
        );
        // Turned: a line high (13 px text at scale 1), not a word wide.
        assert!(b - a < 16, "label {i} is {} px wide: not turned", b - a + 1);
    }
    // The y labels: one ink row per label, at the row centres.
    let img = &out.image;
    let lx1 = r.x - 8;
    let dark_row = |y: u32| (lx1 - 40..lx1).any(|x| img.get_pixel(x, y).0[..3].iter().all(|&c| c < 128));
    let mut centres = Vec::new();
    let mut start = None;
    for y in r.y..r.y + r.height {
        match (dark_row(y), start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                centres.push((s + y - 1) as f32 / 2.0 + 0.5);
                start = None;
            }
            _ => {}
        }
    }
    assert_eq!(centres.len(), n, "{centres:?}");
    let cell = r.height as f32 / n as f32;
    for (i, c) in centres.iter().enumerate() {
        let want = r.y as f32 + (i as f32 + 0.5) * cell;
        // Ink of "tok" rises above the x-height: allow for the glyphs' shape.
        assert!(
            (c - want).abs() <= 3.0,
            "y label {i}: ink at {c}, row centre {want}"
        );
    }
}

#[test]
fn labels_that_cannot_all_fit_are_thinned_to_every_kth_and_say_so() {
    let (rows, cols) = (8, 200);
    let grid = Grid::from_fn(rows, cols, |r, c| (r + c) as f32).unwrap();
    let fig = figure(
        serde_json::json!({"size": [800, 400], "xticklabels": tokens(cols), "xlabel": "Token"}),
        grid,
    );
    let out = renderer().render_figure(&fig).unwrap();
    let p = &out.layout.panels[0];
    let t = &p.x_ticks;
    assert!(t.len() < cols && t.len() >= 10, "{} labels", t.len());
    let k = (t[1].value - t[0].value) as usize;
    // Every k-th from the first, k the smallest for which they fit.
    for (i, tick) in t.iter().enumerate() {
        assert_eq!(tick.value as usize, i * k);
        assert_eq!(tick.label, format!("Ġtok{}", i * k));
    }
    assert_eq!(t.len(), cols.div_ceil(k));
    let note = format!(
        "Token (every {k}{} label)",
        if k == 2 {
            "nd"
        } else if k == 3 {
            "rd"
        } else {
            "th"
        }
    );
    assert!(
        out.layout.scene.texts.iter().any(|r| r.text == note),
        "the axis label says which labels are shown ({note})"
    );
    // The labels never overlap: read back from the pixels, one ink column
    // per label shown.
    let r = p.plot;
    let y0 = r.y + r.height + 12;
    let runs = ink_runs(&out.image, r.x, r.x + r.width, y0, y0 + 30);
    assert_eq!(runs.len(), t.len(), "{runs:?}");
}

#[test]
fn a_label_count_that_does_not_match_is_one_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::from_fn(4, 5, |r, c| (r + c) as f32).unwrap();
    actmap::sink::npy::write_npy_f32(
        &dir.path().join("a.npy"),
        &[grid.rows(), grid.cols()],
        grid.data(),
    )
    .unwrap();
    std::fs::write(dir.path().join("t.txt"), "a\nb\nc\n").unwrap();
    let o = actmap(
        &["render", "a.npy", "--xticklabels", "t.txt", "-o", "a.png"],
        dir.path(),
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("x tick labels: 3 labels for 5 columns"), "{e}");
    assert!(!dir.path().join("a.png").exists());
    let o = actmap(
        &["render", "a.npy", "--yticklabels", "p,q", "-o", "a.png"],
        dir.path(),
    );
    assert!(
        stderr(&o).contains("y tick labels: 2 labels for 4 rows"),
        "{}",
        stderr(&o)
    );
    let o = actmap(
        &["render", "a.npy", "--yticklabels", "missing.txt", "-o", "a.png"],
        dir.path(),
    );
    assert!(stderr(&o).contains("missing.txt"), "{}", stderr(&o));
    // And it draws when they match.
    let o = actmap(
        &["render", "a.npy", "--yticklabels", "p,q,r,s", "-o", "a.png"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn txt_labels_are_verbatim_json_labels_are_strings_control_characters_visible() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), " the\r\nĠcat\n▁sat\n\n").unwrap();
    let l = load_labels(&LabelsSpec::File("t.txt".into()), dir.path()).unwrap();
    assert_eq!(l, [" the", "Ġcat", "▁sat", ""]);
    std::fs::write(dir.path().join("t.json"), r#"["[CLS]", "\n", "a\tb", 7, "猫"]"#).unwrap();
    let l = load_labels(&LabelsSpec::File("t.json".into()), dir.path()).unwrap();
    assert_eq!(l, ["[CLS]", "\\n", "a\\tb", "7", "猫"]);
    std::fs::write(dir.path().join("bad.json"), r#"{"a": 1}"#).unwrap();
    let e = load_labels(&LabelsSpec::File("bad.json".into()), dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.json") && e.contains("JSON list of strings"),
        "{e}"
    );
    assert_eq!(
        LabelsSpec::from_arg("[CLS],The"),
        LabelsSpec::List(vec!["[CLS]".into(), "The".into()])
    );
    assert_eq!(
        LabelsSpec::from_arg("toks.TXT"),
        LabelsSpec::File("toks.TXT".into())
    );
}

#[test]
fn cjk_and_emoji_tokens_render_as_visible_boxes() {
    // The embedded DejaVu Sans has no CJK or emoji glyphs: they are drawn
    // as its replacement box (.notdef), never dropped, never a crash.
    let labels = vec!["猫".to_string(), "😀".to_string(), "a".to_string()];
    let fig = figure(
        serde_json::json!({"size": [400, 300], "xticklabels": labels}),
        Grid::from_fn(2, 3, |r, c| (r + c) as f32).unwrap(),
    );
    let out = renderer().render_figure(&fig).unwrap();
    let r = out.layout.panels[0].plot;
    let y0 = r.y + r.height + 8;
    let runs = ink_runs(&out.image, r.x, r.x + r.width, y0, y0 + 20);
    assert_eq!(runs.len(), 3, "each label leaves ink: {runs:?}");
}

#[test]
fn the_toml_spec_takes_ticklabels_per_axis() {
    let dir = tempfile::tempdir().unwrap();
    let grid = Grid::from_fn(3, 3, |r, c| (r * 3 + c) as f32).unwrap();
    actmap::sink::npy::write_npy_f32(
        &dir.path().join("a.npy"),
        &[grid.rows(), grid.cols()],
        grid.data(),
    )
    .unwrap();
    std::fs::write(dir.path().join("q.txt"), "x\ny\nz\n").unwrap();
    let spec: FigureSpec = toml::from_str(
        r#"
        [[panel]]
        input = "a.npy"
        x = { ticklabels = ["k0", "k1", "k2"] }
        y = { ticklabels = "q.txt" }
        "#,
    )
    .unwrap();
    let fig = spec.build(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(fig.panels[0].x.categories.as_deref().unwrap(), ["k0", "k1", "k2"]);
    assert_eq!(fig.panels[0].y.categories.as_deref().unwrap(), ["x", "y", "z"]);
}

#[test]
fn a_live_channel_s_token_labels_are_on_its_axis_and_in_the_hover() {
    use actmap::live::{AxisLabels, LiveStore, LiveView, StoreOptions, ViewOptions};
    use std::sync::Arc;
    let store = LiveStore::new(StoreOptions::default()).unwrap();
    store
        .replace("attn", Grid::from_fn(3, 4, |r, c| (r * 4 + c) as f32).unwrap())
        .unwrap();
    let toks: Vec<String> = ["[CLS]", "Ġthe", "Ġcat", "[SEP]"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let e = store
        .set_labels(
            "attn",
            AxisLabels {
                x: Some(Arc::new(toks[..3].to_vec())),
                y: None,
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 labels for 4 columns"), "{e}");
    store
        .set_labels(
            "attn",
            AxisLabels {
                x: Some(Arc::new(toks.clone())),
                y: None,
                ..Default::default()
            },
        )
        .unwrap();
    let snap = store.snapshot();
    let mut view = LiveView::new(ViewOptions::default());
    let (fig, src) = view.figure(&snap, 640, 480).unwrap().unwrap();
    assert_eq!(fig.panels[0].x.categories.as_deref(), Some(&toks[..]));
    let layout = actmap::layout::layout_figure(&fig, actmap::text::Font::default_sans()).unwrap();
    let r = layout.panels[0].plot;
    // The centre of column 2, row 1.
    let (x, y) = (
        r.x as f64 + r.width as f64 * 2.5 / 4.0,
        r.y as f64 + r.height as f64 * 1.5 / 3.0,
    );
    let t = actmap::live::view::hover_text(&layout, &src, x, y).unwrap();
    assert!(t.contains("column 2 \"Ġcat\"") && t.contains("value 6"), "{t}");
}
