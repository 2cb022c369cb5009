//! Peer for `benches/peers.sh`: what a plotters user would write to turn a
//! .npy into a 1920x1080 PNG heatmap (axes, tick labels, viridis colorbar),
//! a line chart (1-D input) or a 2x2 grid of heatmaps (four inputs).
//!
//!   actmap-peer-plotters OUT.png IN.npy            # heatmap or line chart
//!   actmap-peer-plotters OUT.png A.npy B.npy C.npy D.npy   # 2x2 panels
//!   actmap-peer-plotters --pixels [--transpose] OUT.png IN.npy
//!
//! By default heatmaps draw one `Rectangle` per cell, as plotters' own
//! heatmap examples do, also when cells far outnumber pixels (no
//! pre-binning: the idiomatic code, and plotters then keeps whichever cell
//! lands last on a pixel).
//!
//! `--pixels` is the fastest way a plotters user draws a large grid: the
//! axes and colorbar through plotters on a `BitMapBackend::with_buffer`,
//! then one pass over the data keeping the maximum of the cells that fall
//! in each pixel of the plot area (every value is looked at, like actmap's
//! pass; a spike above the others survives, one below them does not), the
//! pixels written straight into the backend's RGB buffer, and the PNG
//! encoded with the `image` crate's fast compression (what actmap uses).
//! `--transpose` (either mode) draws the file's rows as columns (steps
//! along x).
//!
//! Colours come from plotters' `ViridisRGB`, limits are the data's min and
//! max (matplotlib's default).

use std::error::Error;
use std::fs::File;
use std::io::{BufReader, Read};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

type Res<T> = Result<T, Box<dyn Error>>;

const SIZE: (u32, u32) = (1920, 1080);

/// A little-endian float32, C-order .npy array (the only kind the benchmark
/// writes): shape and data.
struct Array {
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn read_npy(path: &str) -> Res<Array> {
    let mut f = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic)?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(format!("{path}: not a .npy file").into());
    }
    let header_len = if magic[6] == 1 {
        let mut b = [0u8; 2];
        f.read_exact(&mut b)?;
        u16::from_le_bytes(b) as usize
    } else {
        let mut b = [0u8; 4];
        f.read_exact(&mut b)?;
        u32::from_le_bytes(b) as usize
    };
    let mut header = vec![0u8; header_len];
    f.read_exact(&mut header)?;
    let header = String::from_utf8_lossy(&header);
    if !header.contains("'descr': '<f4'") {
        return Err(format!("{path}: only '<f4' arrays are supported: {header}").into());
    }
    if header.contains("'fortran_order': True") {
        return Err(format!("{path}: Fortran order is not supported").into());
    }
    let shape_start = header.find("'shape':").ok_or("no shape in .npy header")? + 8;
    let open = shape_start + header[shape_start..].find('(').ok_or("bad shape")?;
    let close = open + header[open..].find(')').ok_or("bad shape")?;
    let shape: Vec<usize> = header[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let mut data = Vec::with_capacity(n);
    let mut buf = vec![0u8; 1 << 20];
    while data.len() < n {
        let want = ((n - data.len()) * 4).min(buf.len());
        f.read_exact(&mut buf[..want])?;
        data.extend(buf[..want].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
    }
    Ok(Array { shape, data })
}

fn min_max(data: &[f32]) -> (f32, f32) {
    let (lo, hi) = data
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo < hi { (lo, hi) } else { (lo - 0.5, lo + 0.5) }
}

/// A heatmap with axes (row 0 at the top) and a colorbar on its right.
fn heatmap(
    area: &DrawingArea<BitMapBackend, Shift>,
    a: &Array,
    title: Option<&str>,
    scale: f64,
    transpose: bool,
) -> Res<()> {
    let (frows, fcols) = match a.shape[..] {
        [r, c] => (r, c),
        _ => return Err(format!("heatmap needs a 2-D array, got shape {:?}", a.shape).into()),
    };
    // The picture's rows and columns.
    let (rows, cols) = if transpose { (fcols, frows) } else { (frows, fcols) };
    let (vmin, vmax) = min_max(&a.data);
    let font = (18.0 * scale) as u32;
    let (w, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w - (110.0 * scale) as u32);

    let mut chart = ChartBuilder::on(&main);
    chart
        .margin((10.0 * scale) as u32)
        .x_label_area_size((40.0 * scale) as u32)
        .y_label_area_size((90.0 * scale) as u32);
    if let Some(t) = title {
        chart.caption(t, ("sans-serif", font + 4));
    }
    // y runs from `rows` at the bottom to 0 at the top, like an image.
    let mut chart = chart.build_cartesian_2d(0f64..cols as f64, rows as f64..0f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("column")
        .y_desc("row")
        .label_style(("sans-serif", font))
        .axis_desc_style(("sans-serif", font))
        .draw()?;
    chart.draw_series(a.data.iter().enumerate().map(|(i, &v)| {
        let (fr, fc) = ((i / fcols) as f64, (i % fcols) as f64);
        let (r, c) = if transpose { (fc, fr) } else { (fr, fc) };
        Rectangle::new([(c, r), (c + 1.0, r + 1.0)], ViridisRGB::get_color_normalized(v, vmin, vmax).filled())
    }))?;

    // Colorbar: a one-column chart of 256 bands with a value axis.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top((10.0 * scale) as u32 + if title.is_some() { font + 14 } else { 0 })
        .margin_bottom((10.0 * scale + 40.0 * scale) as u32)
        .margin_right((10.0 * scale) as u32)
        .right_y_label_area_size((70.0 * scale) as u32)
        .build_cartesian_2d(0f64..1f64, vmin as f64..vmax as f64)?
        .set_secondary_coord(0f64..1f64, vmin as f64..vmax as f64);
    cb.configure_mesh().disable_mesh().disable_x_axis().disable_y_axis().draw()?;
    cb.configure_secondary_axes().label_style(("sans-serif", font)).draw()?;
    let step = (vmax - vmin) as f64 / 256.0;
    cb.draw_series((0..256).map(|k| {
        let lo = vmin as f64 + k as f64 * step;
        Rectangle::new([(0.0, lo), (1.0, lo + step)], ViridisRGB::get_color_normalized(lo as f32 + step as f32 / 2.0, vmin, vmax).filled())
    }))?;
    Ok(())
}

/// Axes and colorbar through plotters, cells as pixels written straight
/// into the backend's buffer (see the module documentation).
fn heatmap_pixels(out: &str, a: &Array, transpose: bool) -> Res<()> {
    let (rows, cols) = match a.shape[..] {
        [r, c] => (r, c),
        _ => return Err(format!("heatmap needs a 2-D array, got shape {:?}", a.shape).into()),
    };
    // The picture's rows and columns.
    let (prows, pcols) = if transpose { (cols, rows) } else { (rows, cols) };
    let (vmin, vmax) = min_max(&a.data);
    let (w, h) = SIZE;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    let (xr, yr) = {
        let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
        let (main, bar) = root.split_horizontally(w - 110);
        let mut chart = ChartBuilder::on(&main)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..pcols as f64, prows as f64..0f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("column")
            .y_desc("row")
            .label_style(("sans-serif", 18))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        let range = chart.plotting_area().get_pixel_range();
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(10)
            .margin_bottom(50)
            .margin_right(10)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..1f64, vmin as f64..vmax as f64)?
            .set_secondary_coord(0f64..1f64, vmin as f64..vmax as f64);
        cb.configure_mesh().disable_mesh().disable_x_axis().disable_y_axis().draw()?;
        cb.configure_secondary_axes().label_style(("sans-serif", 18)).draw()?;
        let step = (vmax - vmin) as f64 / 256.0;
        cb.draw_series((0..256).map(|k| {
            let lo = vmin as f64 + k as f64 * step;
            Rectangle::new(
                [(0.0, lo), (1.0, lo + step)],
                ViridisRGB::get_color_normalized(lo as f32 + step as f32 / 2.0, vmin, vmax).filled(),
            )
        }))?;
        root.present()?;
        range
    };
    let (x0, y0) = (xr.start.max(0) as usize, yr.start.max(0) as usize);
    let (pw, ph) = ((xr.end - xr.start).max(1) as usize, (yr.end - yr.start).max(1) as usize);
    // One pass in file order: the maximum per (row bin, column bin), bins
    // laid out in file order too (rows of the file, then its columns). An
    // axis with fewer cells than pixels gets one bin per cell, each pixel
    // showing its nearest.
    let (row_px, col_px) = if transpose { (pw, ph) } else { (ph, pw) };
    let (row_bins, col_bins) = (row_px.min(rows), col_px.min(cols));
    let col_bin: Vec<usize> = (0..cols).map(|c| c * col_bins / cols).collect();
    let mut acc = vec![f32::NEG_INFINITY; row_bins * col_bins];
    for (r, row) in a.data.chunks_exact(cols).enumerate() {
        let dst = &mut acc[r * row_bins / rows * col_bins..][..col_bins];
        for (&v, &b) in row.iter().zip(&col_bin) {
            if v > dst[b] {
                dst[b] = v;
            }
        }
    }
    for py in 0..ph {
        for px in 0..pw {
            let (pr, pc) = if transpose { (px, py) } else { (py, px) };
            let v = acc[pr * row_bins / row_px * col_bins + pc * col_bins / col_px];
            let c = ViridisRGB::get_color_normalized(v, vmin, vmax);
            let o = ((y0 + py) * w as usize + x0 + px) * 3;
            buf[o..o + 3].copy_from_slice(&[c.0, c.1, c.2]);
        }
    }
    let file = std::io::BufWriter::new(File::create(out)?);
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        file,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    image::ImageEncoder::write_image(encoder, &buf, w, h, image::ColorType::Rgb8)?;
    Ok(())
}

fn line(area: &DrawingArea<BitMapBackend, Shift>, a: &Array) -> Res<()> {
    let (vmin, vmax) = min_max(&a.data);
    let pad = (vmax - vmin) as f64 * 0.05;
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..a.data.len() as f64, vmin as f64 - pad..vmax as f64 + pad)?;
    chart
        .configure_mesh()
        .x_desc("index")
        .y_desc("value")
        .label_style(("sans-serif", 20))
        .axis_desc_style(("sans-serif", 20))
        .draw()?;
    chart.draw_series(LineSeries::new(
        a.data.iter().enumerate().map(|(i, &v)| (i as f64, v as f64)),
        // Width 1: plotters draws wider polylines with miter joins that spike far
        // past sharp peaks like this data's.
        ViridisRGB::get_color(0.3f32).stroke_width(1),
    ))?;
    Ok(())
}

fn main() -> Res<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| match args.iter().position(|a| a == name) {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let (pixels, transpose) = (flag("--pixels"), flag("--transpose"));
    if args.len() < 2 {
        return Err("usage: actmap-peer-plotters [--pixels] [--transpose] OUT.png IN.npy [IN.npy ...]".into());
    }
    let (out, inputs) = (&args[0], &args[1..]);
    if pixels {
        return heatmap_pixels(out, &read_npy(&inputs[0])?, transpose);
    }

    let root = BitMapBackend::new(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    if inputs.len() == 1 {
        let a = read_npy(&inputs[0])?;
        if a.shape.len() == 1 {
            line(&root, &a)?;
        } else {
            heatmap(&root, &a, None, 1.0, transpose)?;
        }
    } else {
        if inputs.len() > 4 {
            return Err("at most four panels (2x2)".into());
        }
        for (area, path) in root.split_evenly((2, 2)).iter().zip(inputs) {
            let a = read_npy(path)?;
            let name = std::path::Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or(path);
            heatmap(area, &a, Some(name), 0.75, false)?;
        }
    }
    root.present()?;
    Ok(())
}
