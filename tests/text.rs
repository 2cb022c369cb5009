//! Text on the real GPU pipeline (lavapipe in CI): glyphs land inside the
//! boxes layout reserves for them, at the measured size, in the right
//! colour and orientation.

mod common;

use std::sync::{Mutex, OnceLock};

use actmap::gpu::target::TARGET_FORMAT;
use actmap::gpu::{OffscreenTarget, TextDrawData, TextRenderer};
use actmap::text::{Font, HAlign, Rect, Rotation, TextRun, VAlign};
use image::RgbaImage;

/// The text renderer the tests share (its glyph cache fills up as they run).
fn text() -> &'static Mutex<TextRenderer> {
    static T: OnceLock<Mutex<TextRenderer>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(TextRenderer::new(common::renderer().context(), TARGET_FORMAT)))
}

fn font() -> &'static Font {
    Font::default_sans()
}

/// Draw prepared text over white.
fn draw(tr: &TextRenderer, data: &TextDrawData, w: u32, h: u32) -> RgbaImage {
    let ctx = common::renderer().context();
    let target = OffscreenTarget::new(ctx, w, h).unwrap();
    let mut encoder = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("text_test::encoder"),
        });
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("text_test::pass"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &target.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::WHITE),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        tr.draw(&mut pass, data);
    }
    ctx.queue.submit([encoder.finish()]);
    ctx.take_errors().unwrap();
    target.read_rgba(ctx).unwrap()
}

/// Prepare and draw `runs` with the shared renderer over white.
fn render(runs: &[TextRun], w: u32, h: u32) -> RgbaImage {
    let mut tr = text().lock().unwrap_or_else(|p| p.into_inner());
    let data = tr.prepare(common::renderer().context(), runs, w, h).unwrap();
    draw(&tr, &data, w, h)
}

/// How far a pixel is from white, 0..=255 (the largest channel drop).
fn ink(p: [u8; 4]) -> u8 {
    255 - p[0].min(p[1]).min(p[2])
}

/// Half-covered or more: what a reader sees as part of a glyph.
fn dark(p: [u8; 4]) -> bool {
    ink(p) >= 128
}

/// Smallest box (x0, y0, x1, y1), exclusive ends, of pixels with any ink.
fn ink_box(img: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in img.enumerate_pixels() {
        if ink(p.0) > 0 {
            b = Some(match b {
                None => (x, y, x + 1, y + 1),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)),
            });
        }
    }
    b
}

fn crop(img: &RgbaImage, b: (u32, u32, u32, u32)) -> RgbaImage {
    image::imageops::crop_imm(img, b.0, b.1, b.2 - b.0, b.3 - b.1).to_image()
}

/// Pixels whose centre lies in `r`.
fn centre_in(r: &Rect, x: u32, y: u32) -> bool {
    r.contains(x as f32 + 0.5, y as f32 + 0.5)
}

#[test]
fn dark_pixels_stay_inside_bounds() {
    let (w, h) = (420, 300);
    let runs = [
        TextRun::new("0.25", 20.0, 30.0, 13.0),
        TextRun::new("Layer 12 / head 3", 400.0, 30.0, 13.0).aligned(HAlign::Right, VAlign::Top),
        TextRun::new("−35 gjpqy (µ)", 210.0, 80.0, 20.0).aligned(HAlign::Center, VAlign::Middle),
        TextRun::new("10³ ΔE", 20.0, 140.0, 30.0).aligned(HAlign::Left, VAlign::Bottom),
        TextRun::new("activation", 30.0, 290.0, 13.0)
            .aligned(HAlign::Left, VAlign::Top)
            .rotated(Rotation::Ccw90),
        TextRun::new("tokens →", 120.0, 220.0, 17.5)
            .aligned(HAlign::Center, VAlign::Middle)
            .rotated(Rotation::Ccw90),
        TextRun::new("WAVE fij", 407.3, 288.6, 24.3).aligned(HAlign::Right, VAlign::Baseline),
    ];
    let boxes: Vec<Rect> = runs.iter().map(|r| font().bounds(r)).collect();
    for (i, a) in boxes.iter().enumerate() {
        assert!(
            a.x >= 0.0 && a.y >= 0.0 && a.right() <= w as f32 && a.bottom() <= h as f32,
            "{a:?}"
        );
        for b in &boxes[i + 1..] {
            assert!(!a.intersects(b), "test runs overlap: {a:?} {b:?}");
        }
    }
    let img = render(&runs, w, h);
    for (x, y, p) in img.enumerate_pixels() {
        if dark(p.0) {
            assert!(
                boxes.iter().any(|b| centre_in(b, x, y)),
                "dark pixel {:?} at ({x}, {y}) outside every run's bounds",
                p.0
            );
        }
    }
    // Every run drew something, and its ink reaches near its box's ends
    // (the box is no bigger than the text either).
    for (run, b) in runs.iter().zip(&boxes) {
        let inked = img
            .enumerate_pixels()
            .filter(|(x, y, p)| dark(p.0) && centre_in(b, *x, *y))
            .count();
        assert!(inked > 10, "{:?}: {inked} dark pixels", run.text);
    }
}

#[test]
fn ink_spans_the_measured_width() {
    for text in ["0.25", "1e-3", "Layer 12", "−0.5", "accuracy", "1024"] {
        let run = TextRun::new(text, 10.0, 30.0, 13.0);
        let b = font().bounds(&run);
        let m = font().measure(text, 13.0);
        assert_eq!(b.w, m.width);
        let img = render(std::slice::from_ref(&run), 120, 40);
        let (x0, _, x1, _) = ink_box(&img).unwrap();
        let (left, right) = (x0 as f32 - b.x, b.right() - x1 as f32);
        assert!(
            left.abs() <= 2.0 && right.abs() <= 2.0,
            "{text}: ink {x0}..{x1}, box {b:?}"
        );
        assert!(
            ((x1 - x0) as f32 - m.width).abs() <= 2.0,
            "{text}: ink width {} vs {m:?}",
            x1 - x0
        );
    }
}

#[test]
fn rotated_text_is_the_upright_text_turned() {
    let upright = TextRun::new("activation 1e-3", 20.0, 30.0, 16.0);
    let rotated = TextRun::new("activation 1e-3", 30.0, 170.0, 16.0).rotated(Rotation::Ccw90);
    let a = render(&[upright], 180, 180);
    let b = render(std::slice::from_ref(&rotated), 180, 180);
    let ba = ink_box(&a).unwrap();
    let bb = ink_box(&b).unwrap();
    let (aw, ah) = (ba.2 - ba.0, ba.3 - ba.1);
    let (bw, bh) = (bb.2 - bb.0, bb.3 - bb.1);
    assert!(bh > 3 * bw, "rotated ink {bw} x {bh} is not tall");
    assert_eq!((bw, bh), (ah, aw));
    // Same glyph bitmaps on whole pixels: exactly the upright pixels turned
    // 90° counter-clockwise (reading bottom to top, glyph tops to the left).
    let turned = image::imageops::rotate270(&crop(&a, ba));
    assert!(
        crop(&b, bb) == turned,
        "rotated text differs from the upright text turned"
    );
    // And inside its (turned) bounds.
    let r = font().bounds(&rotated);
    assert!(r.h > r.w);
    assert!(
        centre_in(&r, bb.0, bb.1) && centre_in(&r, bb.2 - 1, bb.3 - 1),
        "{r:?} vs ink {bb:?}"
    );
}

#[test]
fn double_size_gives_double_width() {
    let small = render(&[TextRun::new("Layer 12", 10.0, 40.0, 14.0)], 300, 100);
    let big = render(&[TextRun::new("Layer 12", 10.0, 60.0, 28.0)], 300, 100);
    let (s, b) = (ink_box(&small).unwrap(), ink_box(&big).unwrap());
    let ratio_w = (b.2 - b.0) as f32 / (s.2 - s.0) as f32;
    let ratio_h = (b.3 - b.1) as f32 / (s.3 - s.1) as f32;
    assert!((ratio_w - 2.0).abs() < 0.1, "width ratio {ratio_w}");
    assert!((ratio_h - 2.0).abs() < 0.2, "height ratio {ratio_h}");
    // Rasterized at 28 px, not magnified: the antialiased fringe stays
    // about a pixel wide, so partly covered pixels grow with the outline
    // length (2x) while solid ones grow with the area (4x).
    let count = |img: &RgbaImage, f: fn(u8) -> bool| img.pixels().filter(|p| f(ink(p.0))).count() as f32;
    let partial = |i| i > 0 && i < 255;
    let solid = |i| i == 255;
    let partial_ratio = count(&big, partial) / count(&small, partial);
    let solid_ratio = count(&big, solid) / count(&small, solid);
    assert!(partial_ratio < 2.6, "fringe grew {partial_ratio}x");
    assert!(solid_ratio > 3.5, "solid ink grew {solid_ratio}x");
}

#[test]
fn different_strings_differ_same_strings_match() {
    let one = render(&[TextRun::new("0.25", 10.0, 20.0, 13.0)], 60, 30);
    let other = render(&[TextRun::new("0.26", 10.0, 20.0, 13.0)], 60, 30);
    let again = render(&[TextRun::new("0.25", 10.0, 20.0, 13.0)], 60, 30);
    assert!(one != other);
    assert!(one == again);
    // Moved by whole pixels (and a sub-pixel that rounds away): same pixels.
    let moved = render(&[TextRun::new("0.25", 17.2, 24.9, 13.0)], 60, 30);
    let (a, b) = (ink_box(&one).unwrap(), ink_box(&moved).unwrap());
    assert_eq!((b.0 - a.0, b.1 - a.1), (7, 5));
    assert!(crop(&one, a) == crop(&moved, b));
}

#[test]
fn text_has_its_colour() {
    let img = render(
        &[TextRun::new("Red 42", 5.0, 30.0, 24.0).colored([220, 20, 20, 255])],
        100,
        40,
    );
    let darkest = img.pixels().map(|p| p.0).max_by_key(|p| ink(*p)).unwrap();
    assert_eq!(
        darkest,
        [220, 20, 20, 255],
        "fully covered pixels are the text colour"
    );
    let [r, g, b, _] = darkest;
    assert!(r > g + 100 && r > b + 100, "{darkest:?}");
    // Black on white: solid stems are black, edges grey (no colour fringes).
    let img = render(&[TextRun::new("lll", 5.0, 40.0, 40.0)], 60, 50);
    assert!(img.pixels().any(|p| p.0 == [0, 0, 0, 255]));
    assert!(
        img.pixels()
            .all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2] && p.0[3] == 255)
    );
    // Half-transparent black over white is mid grey, as in matplotlib
    // (which blends sRGB values).
    let faint = render(
        &[TextRun::new("lll", 5.0, 40.0, 40.0).colored([0, 0, 0, 128])],
        60,
        50,
    );
    let darkest = faint.pixels().map(|p| ink(p.0)).max().unwrap();
    assert!((120..=136).contains(&darkest), "{darkest}");
}

#[test]
fn unicode_labels_render() {
    for text in ["−35", "10³", "ΔE", "µ", "×10⁻³", "½", "°C"] {
        assert!(
            text.chars().all(|c| font().has_glyph(c)),
            "{text:?} not in DejaVu Sans"
        );
        let img = render(&[TextRun::new(text, 5.0, 25.0, 16.0)], 80, 32);
        let inked = img.pixels().filter(|p| dark(p.0)).count();
        assert!(inked > 5, "{text:?}: {inked} dark pixels");
    }
    // The minus sign is not the hyphen.
    let minus = render(&[TextRun::new("−", 5.0, 25.0, 16.0)], 30, 32);
    let hyphen = render(&[TextRun::new("-", 5.0, 25.0, 16.0)], 30, 32);
    assert!(minus != hyphen);
}

#[test]
fn empty_missing_and_bad_input() {
    let ctx = common::renderer().context();
    let mut tr = text().lock().unwrap_or_else(|p| p.into_inner());
    // Nothing to draw: no quads, the target stays white.
    let data = tr
        .prepare(
            ctx,
            &[
                TextRun::new("", 5.0, 20.0, 13.0),
                TextRun::new("   ", 5.0, 20.0, 13.0),
            ],
            40,
            30,
        )
        .unwrap();
    assert_eq!(data.glyph_count(), 0);
    assert!(
        draw(&tr, &data, 40, 30)
            .pixels()
            .all(|p| p.0 == [255, 255, 255, 255])
    );
    let data = tr.prepare(ctx, &[], 40, 30).unwrap();
    assert!(
        draw(&tr, &data, 40, 30)
            .pixels()
            .all(|p| p.0 == [255, 255, 255, 255])
    );
    // A character the font lacks draws as the missing-glyph box.
    assert!(!font().has_glyph('🙂'));
    let data = tr
        .prepare(ctx, &[TextRun::new("a🙂b", 5.0, 20.0, 13.0)], 60, 30)
        .unwrap();
    assert_eq!(data.glyph_count(), 3);
    assert!(draw(&tr, &data, 60, 30).pixels().any(|p| dark(p.0)));
    // Zero size draws nothing; bad numbers and empty targets are errors.
    let data = tr
        .prepare(ctx, &[TextRun::new("x", 5.0, 20.0, 0.0)], 40, 30)
        .unwrap();
    assert_eq!(data.glyph_count(), 0);
    for run in [
        TextRun::new("x", f32::NAN, 20.0, 13.0),
        TextRun::new("x", 5.0, f32::INFINITY, 13.0),
        TextRun::new("x", 5.0, 20.0, -1.0),
        TextRun::new("x", 5.0, 20.0, f32::NAN),
    ] {
        let err = tr.prepare(ctx, std::slice::from_ref(&run), 40, 30).unwrap_err();
        assert!(err.to_string().contains("finite"), "{err}");
    }
    assert!(
        tr.prepare(ctx, &[TextRun::new("x", 5.0, 20.0, 13.0)], 0, 30)
            .is_err()
    );
    // A glyph larger than any atlas is an error, not an allocation of gigabytes.
    let err = tr
        .prepare(ctx, &[TextRun::new("M", 0.0, 0.0, 1.0e6)], 40, 30)
        .unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    // Text far off the target is fine (clipped).
    let data = tr
        .prepare(ctx, &[TextRun::new("far", -1.0e6, 1.0e7, 13.0)], 40, 30)
        .unwrap();
    assert!(
        draw(&tr, &data, 40, 30)
            .pixels()
            .all(|p| p.0 == [255, 255, 255, 255])
    );
}

#[test]
fn a_failed_prepare_leaves_no_holes() {
    let ctx = common::renderer().context();
    let mut tr = TextRenderer::new(ctx, TARGET_FORMAT);
    let ok = TextRun::new("Ab", 5.0, 20.0, 13.0);
    let huge = TextRun::new("M", 0.0, 0.0, 1.0e6);
    tr.prepare(ctx, &[TextRun::new("x", 5.0, 20.0, 13.0)], 40, 30)
        .unwrap();
    assert!(tr.prepare(ctx, &[ok.clone(), huge], 40, 30).is_err());
    let data = tr.prepare(ctx, std::slice::from_ref(&ok), 40, 30).unwrap();
    let img = draw(&tr, &data, 40, 30);
    let fresh = render(&[ok], 40, 30);
    assert!(
        img == fresh,
        "glyphs rasterized by the failed call were not drawn"
    );
}

#[test]
fn atlas_grows_and_old_draw_data_stay_valid() {
    let ctx = common::renderer().context();
    let mut tr = TextRenderer::new(ctx, TARGET_FORMAT);
    assert_eq!(tr.atlas_size(), 0);
    let first = [TextRun::new("Layer 12", 5.0, 20.0, 13.0)];
    let data = tr.prepare(ctx, &first, 80, 30).unwrap();
    let before = draw(&tr, &data, 80, 30);
    let initial = tr.atlas_size();
    assert!(initial > 0);
    // Every printable ASCII character at many sizes overflows the first atlas.
    let ascii: String = (33u8..127).map(char::from).collect();
    let many: Vec<TextRun> = (0..24)
        .map(|i| TextRun::new(ascii.clone(), 0.0, 60.0 * i as f32, 12.0 + 4.0 * i as f32))
        .collect();
    let big = tr.prepare(ctx, &many, 1024, 1024).unwrap();
    assert!(tr.atlas_size() > initial, "atlas still {}", tr.atlas_size());
    assert!(draw(&tr, &big, 1024, 1024).pixels().any(|p| dark(p.0)));
    // Draw data from before the growth still draw the same pixels, and new
    // draw data of the same text too.
    assert!(draw(&tr, &data, 80, 30) == before);
    let again = tr.prepare(ctx, &first, 80, 30).unwrap();
    assert!(draw(&tr, &again, 80, 30) == before);
}

/// Labels at several sizes, upright and turned; written to the path in
/// `ACTMAP_TEXT_SAMPLE` (if set) for a human to look at.
#[test]
fn sample_sheet() {
    let mut runs = Vec::new();
    let mut y = 10.0;
    for size in [10.0, 13.0, 20.0, 40.0] {
        let run = TextRun::new(
            "Layer 12 · head 3: −0.25 … 10³ ΔE µV (gjpqy) AVAWATo",
            60.0,
            y,
            size,
        )
        .aligned(HAlign::Left, VAlign::Top);
        y = font().bounds(&run).bottom() + 8.0;
        runs.push(run);
    }
    for (i, size) in [10.0, 13.0, 20.0, 40.0].into_iter().enumerate() {
        let x = [8.0, 22.0, 40.0, 62.0][i];
        runs.push(
            TextRun::new("activation (a.u.)", x, 470.0, size)
                .aligned(HAlign::Left, VAlign::Top)
                .rotated(Rotation::Ccw90),
        );
    }
    runs.push(TextRun::new("centre", 450.0, 330.0, 20.0).aligned(HAlign::Center, VAlign::Middle));
    runs.push(TextRun::new("red 0.93", 450.0, 380.0, 16.0).colored([200, 30, 30, 255]));
    let (w, h) = (1000, 480);
    let img = render(&runs, w, h);
    assert!(img.pixels().filter(|p| dark(p.0)).count() > 1000);
    if let Some(path) = std::env::var_os("ACTMAP_TEXT_SAMPLE") {
        img.save(path).unwrap();
    }
}
