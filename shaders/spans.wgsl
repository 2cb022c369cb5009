// Which cells an output pixel covers: shared by the heatmap fragment
// shader and the reduce compute pass (the CPU twin is cell_span and
// nearest_cell in src/scale/aggregate.rs).

// The cell under the centre of pixel p: floor((p + 0.5) * cells / pixels)
// without overflow for cells < 2^31.
fn nearest_cell(p: u32, cells: u32, pixels: u32) -> u32 {
    let num_hi = 2u * p + 1u;
    let q = cells / (2u * pixels);
    let r = cells % (2u * pixels);
    return num_hi * q + (num_hi * r) / (2u * pixels);
}

// Cells [x, y) of one axis that pixel p covers: every overlapped cell when
// downsampling, the one under the centre when upsampling.
fn cell_span(p: u32, cells: u32, pixels: u32) -> vec2<u32> {
    if cells < pixels {
        let c = nearest_cell(p, cells, pixels);
        return vec2<u32>(c, c + 1u);
    }
    let q = cells / pixels;
    let r = cells % pixels;
    let start = p * q + (p * r) / pixels;
    let end = (p + 1u) * q + ((p + 1u) * r + pixels - 1u) / pixels;
    return vec2<u32>(start, min(end, cells));
}
