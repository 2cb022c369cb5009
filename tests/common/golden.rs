//! Golden-image comparison with a perceptual tolerance.
//!
//! The metric: per pixel, the CIE76 colour difference (ΔE in CIELAB) between
//! actual and expected. A test passes when the mean ΔE is at most
//! `mean_tol` and no more than `outlier_fraction` of pixels exceed ΔE 10
//! (clearly visible). On failure `<name>.actual.png` and `<name>.diff.png`
//! are written beside the reference. `ACTMAP_UPDATE_GOLDEN=1` rewrites the
//! references instead of comparing.

use std::path::PathBuf;

use image::RgbaImage;

fn srgb_to_lab(c: [u8; 4]) -> [f64; 3] {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(c[0]), lin(c[1]), lin(c[2]));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// ΔE (CIE76) between two sRGB colours.
pub fn delta_e(a: [u8; 4], b: [u8; 4]) -> f64 {
    let (la, lb) = (srgb_to_lab(a), srgb_to_lab(b));
    ((la[0] - lb[0]).powi(2) + (la[1] - lb[1]).powi(2) + (la[2] - lb[2]).powi(2)).sqrt()
}

/// The golden tolerance (tests/golden.rs): mean ΔE at most this ...
pub const MEAN_DELTA_E: f64 = 0.5;
/// ... and at most this fraction of pixels with ΔE > 10.
pub const OUTLIER_FRACTION: f64 = 0.001;

/// Mean ΔE, and the fraction of pixels with ΔE > 10, between two images of
/// the same size (`None` when the sizes differ).
pub fn compare(actual: &RgbaImage, expected: &RgbaImage) -> Option<(f64, f64)> {
    if actual.dimensions() != expected.dimensions() {
        return None;
    }
    let (mut sum, mut outliers) = (0.0, 0usize);
    for (a, e) in actual.pixels().zip(expected.pixels()) {
        let d = delta_e(a.0, e.0);
        sum += d;
        if d > 10.0 {
            outliers += 1;
        }
    }
    let n = (actual.width() * actual.height()).max(1) as f64;
    Some((sum / n, outliers as f64 / n))
}

/// Path of a reference image in tests/golden/.
pub fn reference_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.png"))
}

/// Compare `actual` with tests/golden/<name>.png. Panics with a summary on failure.
pub fn check(name: &str, actual: &RgbaImage, mean_tol: f64, outlier_fraction: f64) {
    let path = reference_path(name);
    if std::env::var_os("ACTMAP_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        actual.save(&path).unwrap();
        eprintln!("updated {}", path.display());
        return;
    }
    let expected = match image::open(&path) {
        Ok(i) => i.to_rgba8(),
        Err(e) => panic!(
            "missing reference {} ({e}); run with ACTMAP_UPDATE_GOLDEN=1 to create it",
            path.display()
        ),
    };
    let actual_path = path.with_extension("actual.png");
    let diff_path = path.with_extension("diff.png");
    if expected.dimensions() != actual.dimensions() {
        actual.save(&actual_path).unwrap();
        panic!(
            "{name}: size {:?} differs from reference {:?}; actual written to {}",
            actual.dimensions(),
            expected.dimensions(),
            actual_path.display()
        );
    }
    let mut diff = RgbaImage::new(actual.width(), actual.height());
    let (mut sum, mut outliers) = (0.0, 0usize);
    for (x, y, p) in actual.enumerate_pixels() {
        let d = delta_e(p.0, expected.get_pixel(x, y).0);
        sum += d;
        if d > 10.0 {
            outliers += 1;
        }
        let v = (d * 10.0).min(255.0) as u8;
        diff.put_pixel(x, y, image::Rgba([v, 0, 0, 255]));
    }
    let n = (actual.width() * actual.height()) as f64;
    let mean = sum / n;
    let frac = outliers as f64 / n;
    if mean > mean_tol || frac > outlier_fraction {
        actual.save(&actual_path).unwrap();
        diff.save(&diff_path).unwrap();
        panic!(
            "{name}: mean ΔE {mean:.3} (tolerance {mean_tol}), {:.4}% of pixels ΔE>10 (tolerance {:.4}%); \
             wrote {} and {}",
            frac * 100.0,
            outlier_fraction * 100.0,
            actual_path.display(),
            diff_path.display()
        );
    }
    let _ = std::fs::remove_file(&actual_path);
    let _ = std::fs::remove_file(&diff_path);
}
