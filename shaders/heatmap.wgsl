// Heatmap: each fragment of the plot rectangle aggregates the grid cells
// its pixel covers (src/scale/aggregate.rs is the CPU twin), normalises
// the result and looks it up in the colormap. Needs colormap.wgsl and
// spans.wgsl first.

struct HeatmapUniforms {
    // Plot rectangle in target pixels: x, y, width, height.
    rect: vec4<u32>,
    // rows, cols, tile_rows, tile_cols.
    grid: vec4<u32>,
    // tiles_x, aggregate mode, transform, flags (FLAG_*).
    mode: vec4<u32>,
    // offset, scale, linthresh, linscale_adj.
    norm: vec4<f32>,
    // centre (for signed extreme), unused x3.
    misc: vec4<f32>,
    // Data window shown by the rect for axes with edges: x0, x1, y0, y1.
    view: vec4<f32>,
    // Colours (linear RGBA) for NaN, +inf and -inf.
    nan_color: vec4<f32>,
    pos_inf_color: vec4<f32>,
    neg_inf_color: vec4<f32>,
};

const AGG_EXTREME: u32 = 0u;
const AGG_MAX: u32 = 1u;
const AGG_MIN: u32 = 2u;
const AGG_MEAN: u32 = 3u;
const AGG_NEAREST: u32 = 4u;

// mode.w flags.
const FLAG_FLIP_X: u32 = 1u;
const FLAG_FLIP_Y: u32 = 2u;
const FLAG_EDGES_X: u32 = 4u;
const FLAG_EDGES_Y: u32 = 8u;

// True for the "direct" pipeline, used when every pixel shows at most one
// cell on both axes of evenly spaced cells (upsampling, or a grid already
// reduced to one value per pixel): it reads that cell and leaves out the
// aggregation loop, which a software rasterizer pays for in every fragment
// even when it runs once. Same cell as `aggregate` picks in that case.
override direct: bool = false;

@group(0) @binding(0) var<uniform> u: HeatmapUniforms;
// The grid as R32Float tiles, one per layer, row-major over tiles.
@group(0) @binding(1) var grid_tiles: texture_2d_array<f32>;
// 256x1 colormap (sRGB texels, read back as linear).
@group(0) @binding(2) var colormap: texture_2d<f32>;
// Cell edges for axes with uneven coordinates: row 0 = x (cols + 1 edges),
// row 1 = y (rows + 1 edges), increasing.
@group(0) @binding(3) var edges: texture_2d<f32>;
// The direct pipeline's cell of every pixel, worked out once on the CPU
// (nearest_cell in src/scale/aggregate.rs): row 0 per pixel column, row 1
// per pixel row, each (index within its tile, tile index). Integer
// division is the costliest thing a software rasterizer does per fragment.
@group(0) @binding(4) var cell_map: texture_2d<u32>;

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
};

// One triangle that covers the viewport; the viewport is the plot rectangle.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> VertexOutput {
    let x = f32(i32(i & 1u) * 4 - 1);
    let y = f32(i32(i & 2u) * 2 - 1);
    var out: VertexOutput;
    out.position = vec4<f32>(x, y, 0.0, 1.0);
    return out;
}

fn load_cell(r: u32, c: u32) -> f32 {
    let ty = r / u.grid.z;
    let tx = c / u.grid.w;
    let layer = ty * u.mode.x + tx;
    let local = vec2<u32>(c - tx * u.grid.w, r - ty * u.grid.z);
    return textureLoad(grid_tiles, local, layer, 0).x;
}

fn edge(axis: u32, i: u32) -> f32 {
    return textureLoad(edges, vec2<u32>(i, axis), 0).x;
}

// First edge index i in [0, n) with edge(i) > v (or >= v when inclusive).
fn search_edges(axis: u32, n: u32, v: f32, inclusive: bool) -> u32 {
    var lo = 0u;
    var hi = n;
    loop {
        if lo >= hi {
            break;
        }
        let mid = (lo + hi) / 2u;
        let e = edge(axis, mid);
        if e > v || (inclusive && e == v) {
            hi = mid;
        } else {
            lo = mid + 1u;
        }
    }
    return lo;
}

// Cells [x, y) covered by pixel p of `pixels` showing the data window
// [v0, v1] of an axis whose `cells` cells have edges (edge_span in aggregate.rs).
fn edge_span(axis: u32, p: u32, cells: u32, pixels: u32, v0: f32, v1: f32) -> vec2<u32> {
    let step = (v1 - v0) / f32(pixels);
    let a = v0 + f32(p) * step;
    let b = v0 + f32(p + 1u) * step;
    let start = max(search_edges(axis, cells + 1u, a, false), 1u) - 1u;
    let end = min(search_edges(axis, cells + 1u, b, true), cells);
    if start >= end {
        return vec2<u32>(0u, 0u);
    }
    if end - start == 2u {
        // Straddling two cells both wider than the pixel: take the one under its centre.
        let mid = edge(axis, start + 1u);
        let wide = (mid - edge(axis, start)) > step && (edge(axis, end) - mid) > step;
        if wide {
            if (a + b) * 0.5 < mid {
                return vec2<u32>(start, start + 1u);
            }
            return vec2<u32>(start + 1u, end);
        }
    }
    return vec2<u32>(start, end);
}

fn axis_span(axis: u32, p: u32, cells: u32, pixels: u32) -> vec2<u32> {
    let flags = u.mode.w;
    if axis == 0u {
        if (flags & FLAG_EDGES_X) != 0u {
            return edge_span(0u, p, cells, pixels, u.view.x, u.view.y);
        }
    } else if (flags & FLAG_EDGES_Y) != 0u {
        return edge_span(1u, p, cells, pixels, u.view.z, u.view.w);
    }
    return cell_span(p, cells, pixels);
}

// A pixel outside the grid (uneven coordinates with a wider view).
const VALUE_OUTSIDE: u32 = 4u;

struct Aggregated {
    kind: u32,
    value: f32,
};

fn aggregate(px: u32, py: u32) -> Aggregated {
    let rows = u.grid.x;
    let cols = u.grid.y;
    let width = u.rect.z;
    let height = u.rect.w;
    let mode = u.mode.y;
    let rs = axis_span(1u, py, rows, height);
    let cs = axis_span(0u, px, cols, width);
    if rs.x >= rs.y || cs.x >= cs.y {
        return Aggregated(VALUE_OUTSIDE, 0.0);
    }
    if rs.y - rs.x == 1u && cs.y - cs.x == 1u {
        // One cell under the pixel (upsampling): nothing to aggregate.
        let v = load_cell(rs.x, cs.x);
        return Aggregated(classify(v), v);
    }
    if mode == AGG_NEAREST {
        let r = select(nearest_cell(py, rows, height), (rs.x + rs.y) / 2u, (u.mode.w & FLAG_EDGES_Y) != 0u);
        let c = select(nearest_cell(px, cols, width), (cs.x + cs.y) / 2u, (u.mode.w & FLAG_EDGES_X) != 0u);
        let v = load_cell(r, c);
        return Aggregated(classify(v), v);
    }
    let centre = u.misc.x;
    var nan = false;
    var pos_inf = false;
    var neg_inf = false;
    var n = 0u;
    var best = 0.0;
    var best_d = -1.0;
    var mx = -3.4e38;
    var mn = 3.4e38;
    var sum = 0.0;
    for (var r = rs.x; r < rs.y; r++) {
        for (var c = cs.x; c < cs.y; c++) {
            let v = load_cell(r, c);
            let k = classify(v);
            if k == VALUE_FINITE {
                let d = abs(v - centre);
                // Farther from the centre wins; on a tie the larger value
                // (order-independent, so a streamed reduction agrees).
                if d > best_d || (d == best_d && v > best) {
                    best_d = d;
                    best = v;
                }
                mx = max(mx, v);
                mn = min(mn, v);
                sum += v;
                n += 1u;
            } else if k == VALUE_NAN {
                nan = true;
            } else if k == VALUE_POS_INF {
                pos_inf = true;
            } else {
                neg_inf = true;
            }
        }
    }
    if nan || (mode == AGG_MEAN && pos_inf && neg_inf) {
        return Aggregated(VALUE_NAN, 0.0);
    }
    if pos_inf && (mode != AGG_MIN || n == 0u) && !(mode == AGG_MIN && neg_inf) {
        return Aggregated(VALUE_POS_INF, 0.0);
    }
    if neg_inf && (mode != AGG_MAX || n == 0u) {
        return Aggregated(VALUE_NEG_INF, 0.0);
    }
    if mode == AGG_MAX {
        return Aggregated(VALUE_FINITE, mx);
    }
    if mode == AGG_MIN {
        return Aggregated(VALUE_FINITE, mn);
    }
    if mode == AGG_MEAN {
        return Aggregated(VALUE_FINITE, sum / f32(max(n, 1u)));
    }
    return Aggregated(VALUE_FINITE, best);
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    var px = u32(in.position.x) - u.rect.x;
    var py = u32(in.position.y) - u.rect.y;
    if (u.mode.w & FLAG_FLIP_X) != 0u {
        px = u.rect.z - 1u - px;
    }
    if (u.mode.w & FLAG_FLIP_Y) != 0u {
        py = u.rect.w - 1u - py;
    }
    var a: Aggregated;
    if direct {
        let cx = textureLoad(cell_map, vec2<u32>(px, 0u), 0).xy;
        let cy = textureLoad(cell_map, vec2<u32>(py, 1u), 0).xy;
        let v = textureLoad(grid_tiles, vec2<u32>(cx.x, cy.x), cy.y * u.mode.x + cx.y, 0).x;
        a = Aggregated(classify(v), v);
    } else {
        a = aggregate(px, py);
    }
    if a.kind == VALUE_OUTSIDE {
        discard;
    }
    if a.kind == VALUE_NAN {
        return u.nan_color;
    }
    if a.kind == VALUE_POS_INF {
        return u.pos_inf_color;
    }
    if a.kind == VALUE_NEG_INF {
        return u.neg_inf_color;
    }
    let n = NormParams(u.mode.z, u.norm.x, u.norm.y, u.norm.z, u.norm.w);
    let i = colormap_index(normalize(a.value, n));
    return textureLoad(colormap, vec2<i32>(i, 0), 0);
}
