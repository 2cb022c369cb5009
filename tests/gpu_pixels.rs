//! Pixel probes on the real GPU pipeline (lavapipe in CI): known values at
//! known cells must come out as exactly the colour the CPU twin predicts.

mod common;

use actmap::gpu::GridTexture;
use actmap::scale::aggregate::reduce;
use actmap::{Aggregate, Colormap, Grid, NormKind, NormSpec, RenderOptions};
use common::{px, shader_renderer as renderer};

fn opts(width: u32, height: u32) -> RenderOptions {
    RenderOptions {
        width,
        height,
        ..Default::default()
    }
}

#[test]
fn cell_centres_have_the_cpu_twin_colour() {
    // 3 x 4 grid, values 0..11, drawn 10 px per cell.
    let grid = Grid::from_fn(3, 4, |r, c| (r * 4 + c) as f32).unwrap();
    for cmap in ["magma", "viridis", "RdBu_r", "Blues", "turbo"] {
        let o = RenderOptions {
            colormap: cmap.parse().unwrap(),
            ..opts(40, 30)
        };
        let out = renderer().render(&grid, &o).unwrap();
        assert_eq!((out.norm.vmin, out.norm.vmax), (0.0, 11.0));
        for r in 0..3 {
            for c in 0..4 {
                let v = (r * 4 + c) as f32;
                let want = o.colormap.map(out.norm.normalize(v));
                let got = px(&out.image, c * 10 + 5, r * 10 + 5);
                assert_eq!(got, want, "{cmap}: cell ({r},{c}) value {v}");
            }
        }
        // The extremes are the first and last colormap entries.
        assert_eq!(px(&out.image, 5, 5), o.colormap.lut()[0]);
        assert_eq!(px(&out.image, 35, 25), o.colormap.lut()[255]);
    }
}

#[test]
fn nan_and_inf_get_their_colours_and_stay_out_of_the_range() {
    let vals = [0.0, f32::NAN, 1.0, f32::INFINITY, f32::NEG_INFINITY, 0.5];
    let grid = Grid::new(2, 3, vals.to_vec()).unwrap();
    let o = RenderOptions {
        nan_color: [0, 255, 0, 255],
        pos_inf_color: [255, 255, 0, 255],
        neg_inf_color: [0, 0, 255, 255],
        ..opts(30, 20)
    };
    let out = renderer().render(&grid, &o).unwrap();
    assert_eq!((out.norm.vmin, out.norm.vmax), (0.0, 1.0));
    assert_eq!(px(&out.image, 15, 5), [0, 255, 0, 255], "NaN");
    assert_eq!(px(&out.image, 5, 15), [255, 255, 0, 255], "+inf");
    assert_eq!(px(&out.image, 15, 15), [0, 0, 255, 255], "-inf");
    assert_eq!(px(&out.image, 5, 5), o.colormap.lut()[0]);
    assert_eq!(px(&out.image, 25, 5), o.colormap.lut()[255]);
}

#[test]
fn one_hot_cell_in_20000_x_4096_is_visible_at_1080p() {
    let (rows, cols) = (20_000usize, 4096usize);
    let mut data = vec![0.0f32; rows * cols];
    let (hr, hc) = (12_345usize, 2_047usize);
    data[hr * cols + hc] = 1.0;
    let grid = Grid::new(rows, cols, data).unwrap();
    let out = renderer().render(&grid, &opts(1920, 1080)).unwrap();
    let hot = Colormap::default().lut()[255];
    let hits: Vec<(u32, u32)> = out
        .image
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0 == hot)
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(!hits.is_empty(), "the hot cell vanished");
    // It is where it should be: row 12345 of 20000 -> y ~ 666.5, col 2047 of 4096 -> x ~ 959.5.
    for &(x, y) in &hits {
        assert!(
            (958..=960).contains(&x) && (665..=668).contains(&y),
            "hot pixel at ({x},{y})"
        );
    }
    // And it really is the only one.
    assert!(hits.len() <= 2, "{} hot pixels", hits.len());
}

#[test]
fn tiles_have_no_seam() {
    // Force 7x5 tiles on a 23 x 17 grid: every cell keeps its own colour.
    let grid = Grid::from_fn(23, 17, |r, c| ((r * 17 + c) % 256) as f32).unwrap();
    let r = renderer();
    let stats = actmap::Stats::of(grid.data());
    let norm = NormSpec::default().resolve(grid.data(), &stats).unwrap();
    let o = opts(17 * 3, 23 * 3);
    let whole = r
        .draw(&GridTexture::upload(r.context(), &grid).unwrap(), &norm, &o)
        .unwrap();
    let tiled_tex = GridTexture::upload_tiled(r.context(), &grid, 7).unwrap();
    assert!(tiled_tex.layout.layers() > 1);
    let tiled = r.draw(&tiled_tex, &norm, &o).unwrap();
    assert_eq!(
        whole.as_raw(),
        tiled.as_raw(),
        "tiled render differs from the untiled one"
    );
    for row in 0..23u32 {
        for col in 0..17u32 {
            let v = ((row * 17 + col) % 256) as f32;
            assert_eq!(
                px(&tiled, col * 3 + 1, row * 3 + 1),
                o.colormap.map(norm.normalize(v))
            );
        }
    }
}

#[test]
fn gpu_aggregation_matches_the_cpu_twin() {
    // 157 x 233 random-ish grid with spikes into 40 x 30 pixels, every mode.
    let mut x = 7u64;
    let grid = Grid::from_fn(157, 233, |_, _| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (x >> 40) as f32 / (1u64 << 24) as f32;
        if u > 0.995 {
            30.0
        } else if u < 0.005 {
            -35.0
        } else {
            u * 6.0 - 3.0
        }
    })
    .unwrap();
    for mode in Aggregate::ALL {
        let o = RenderOptions {
            aggregate: mode,
            norm: NormSpec {
                kind: NormKind::Centered { vcenter: 0.0 },
                ..Default::default()
            },
            colormap: "coolwarm".parse().unwrap(),
            ..opts(40, 30)
        };
        let out = renderer().render(&grid, &o).unwrap();
        let cpu = reduce(&grid, 40, 30, mode, out.norm.centre);
        let mut mismatches = 0;
        for (i, v) in cpu.iter().enumerate() {
            let want = o.colormap.map(out.norm.normalize(*v));
            let got = px(&out.image, (i % 40) as u32, (i / 40) as u32);
            if got != want {
                mismatches += 1;
            }
        }
        // Mean sums in a different order on the GPU: allow a rare 1-entry rounding step.
        let allowed = if mode == Aggregate::Mean { 6 } else { 0 };
        assert!(
            mismatches <= allowed,
            "{}: {mismatches} pixels differ from the CPU twin",
            mode.name()
        );
    }
}

#[test]
fn log_and_symlog_on_the_gpu_match_the_cpu() {
    let grid = Grid::from_fn(1, 64, |_, c| 10f32.powf(c as f32 / 16.0 - 1.0)).unwrap();
    for kind in [
        NormKind::Log,
        NormKind::SymLog {
            linthresh: Some(0.5),
            linscale: 1.0,
        },
    ] {
        let o = RenderOptions {
            norm: NormSpec {
                kind,
                ..Default::default()
            },
            ..opts(64, 4)
        };
        let out = renderer().render(&grid, &o).unwrap();
        for c in 0..64u32 {
            let v = grid.get(0, c as usize).unwrap();
            let want = Colormap::index(out.norm.normalize(v)) as i32;
            let got = o
                .colormap
                .lut()
                .iter()
                .position(|e| *e == px(&out.image, c, 1))
                .unwrap() as i32;
            assert!((got - want).abs() <= 1, "{kind:?} col {c}: index {got} vs {want}");
        }
    }
}
