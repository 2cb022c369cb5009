//! Shared test helpers: one GPU renderer per test binary (the adapter is
//! created once), golden-image comparison.
#![allow(dead_code)]

pub mod cdp;
pub mod golden;
pub mod live;
pub mod x11;

use std::sync::OnceLock;

use actmap::Renderer;

/// The renderer every test in this binary shares (real wgpu on whatever
/// adapter the machine has: lavapipe in CI).
pub fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| match Renderer::new() {
        Ok(r) => {
            eprintln!("GPU adapter: {}", r.context().describe());
            r
        }
        Err(e) => panic!("GPU tests need an adapter (CI installs lavapipe): {e}"),
    })
}

/// A renderer that colours every heatmap in the shader, whatever the
/// adapter (on lavapipe the default colours plain heatmaps on the CPU):
/// for tests of the shader itself.
pub fn shader_renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::with_context(renderer().context().clone()).with_color_on(actmap::ColorOn::Gpu))
}

/// Pixel at (x, y) as RGBA.
pub fn px(img: &image::RgbaImage, x: u32, y: u32) -> [u8; 4] {
    img.get_pixel(x, y).0
}

/// Run the `actmap` binary in `dir`.
pub fn actmap(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_actmap"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run actmap")
}

/// Each `(args, message)`: `actmap args` in `dir` fails, and its stderr
/// says `message`.
#[allow(dead_code)]
pub fn assert_refused(cases: &[(&[&str], &str)], dir: &std::path::Path) {
    for (args, want) in cases {
        let o = actmap(args, dir);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// A command's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The Python of the test venv (`.ci/pyenv.sh`: real numpy, zarr-python,
/// xarray), made on first use.
pub fn python() -> &'static std::path::Path {
    static PY: OnceLock<std::path::PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash")
            .arg(root.join(".ci/pyenv.sh"))
            .output()
            .expect("run .ci/pyenv.sh");
        assert!(
            out.status.success(),
            ".ci/pyenv.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// Run Python `code` in `dir` with `args` (`sys.argv[1:]`); panics with its
/// output when it fails, returns its stdout.
pub fn run_python(code: &str, dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
