//! The README's TOML figure specs are real: each `# figures/NNN.toml` block
//! is written next to the demo data and must regenerate its reference
//! figure pixel for pixel.

mod common;

use actmap::export::demo;
use actmap::input::LoadOptions;
use actmap::render::spec::FigureSpec;
use actmap::sink;
use common::renderer;

fn readme_specs() -> Vec<(String, String)> {
    let readme = include_str!("../README.md");
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("unterminated toml block");
        let block = &body[..end];
        if let Some(name) = block.lines().next().and_then(|l| l.strip_prefix("# figures/")) {
            let name = name
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_end_matches(':');
            out.push((name.to_string(), block.to_string()));
        }
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn readme_specs_regenerate_the_reference_figures() {
    let specs = readme_specs();
    assert_eq!(specs.len(), 5, "expected one README spec per reference figure");
    let dir = tempfile::tempdir().unwrap();
    let figs = dir.path().join("figures");
    std::fs::create_dir(&figs).unwrap();
    for d in demo::all() {
        let p = figs.join(format!("{}.npy", d.name));
        sink::write_npy_f32(&p, &[d.grid.rows(), d.grid.cols()], d.grid.data()).unwrap();
    }
    let reference = demo::figures(1200, 900);
    for ((file, text), (name, fig)) in specs.iter().zip(&reference) {
        assert!(
            name.starts_with(file.trim_end_matches(".toml")),
            "{file} vs {name}"
        );
        let path = figs.join(file);
        std::fs::write(&path, text).unwrap();
        let spec = FigureSpec::from_file(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let built = spec
            .build(&figs, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let a = renderer().render_figure(&built).unwrap().image;
        let b = renderer().render_figure(fig).unwrap().image;
        assert!(
            a.as_raw() == b.as_raw(),
            "{file} does not regenerate {name} exactly"
        );
    }
}

#[test]
fn spec_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[[panel]]\ninput = \"x.npy\"\ncmapp = \"magma\"\n").unwrap();
    let e = FigureSpec::from_file(&p).unwrap_err().to_string();
    assert!(
        e.contains("bad.toml") && e.contains("cmapp") && e.contains("did you mean 'cmap'"),
        "{e}"
    );
    std::fs::write(&p, "grid = \"2x\"\n[[panel]]\ninput = \"x.npy\"\n").unwrap();
    let e = FigureSpec::from_file(&p)
        .unwrap()
        .build(dir.path(), &LoadOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("bad grid '2x'"), "{e}");
    std::fs::write(&p, "[[panel]]\ninput = \"missing.npy\"\n").unwrap();
    let e = FigureSpec::from_file(&p)
        .unwrap()
        .build(dir.path(), &LoadOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("missing.npy"), "{e}");
}
