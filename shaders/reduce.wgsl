// Row reduction for out-of-core grids: one block of input rows is folded
// into the partial aggregates of the pixel rows that cover it (the CPU
// twin is RowSummary::add_block in src/scale/summary.rs). One invocation
// per (column, pixel row); every invocation owns its output cell, so no
// atomics are needed and blocks are folded in submission order. Needs
// spans.wgsl first.

struct ReduceParams {
    // rows, cols, height (pixel rows), mode (aggregate).
    shape: vec4<u32>,
    // first row of this block, rows in this block, first pixel row touched, unused.
    block: vec4<u32>,
};

const AGG_EXTREME: u32 = 0u;
const AGG_MAX: u32 = 1u;
const AGG_MIN: u32 = 2u;
const AGG_MEAN: u32 = 3u;
const AGG_NEAREST: u32 = 4u;

const HAS_NAN: u32 = 1u;
const HAS_POS_INF: u32 = 2u;
const HAS_NEG_INF: u32 = 4u;

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> block: array<f32>;
@group(0) @binding(2) var<storage, read_write> out_min: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_max: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_sum: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_count: array<u32>;
@group(0) @binding(6) var<storage, read_write> out_flags: array<u32>;
@group(0) @binding(7) var<storage, read_write> out_nearest: array<f32>;

// 0 for a finite value, else its HAS_* flag. Bit tests, so no compiler
// assumption about NaN can change the answer.
fn flag_of(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if (b & 0x7f800000u) != 0x7f800000u {
        return 0u;
    }
    if (b & 0x007fffffu) != 0u {
        return HAS_NAN;
    }
    if (b >> 31u) == 0u {
        return HAS_POS_INF;
    }
    return HAS_NEG_INF;
}

@compute @workgroup_size(64, 1, 1)
fn reduce_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let rows = p.shape.x;
    let cols = p.shape.y;
    let height = p.shape.z;
    let mode = p.shape.w;
    let c = id.x;
    let py = p.block.z + id.y;
    if c >= cols || py >= height {
        return;
    }
    let first = p.block.x;
    let last = first + p.block.y;
    let span = cell_span(py, rows, height);
    let r0 = max(span.x, first);
    let r1 = min(span.y, last);
    let o = py * cols + c;
    if mode == AGG_NEAREST {
        let r = nearest_cell(py, rows, height);
        if r >= first && r < last {
            out_nearest[o] = block[(r - first) * cols + c];
        }
        return;
    }
    var mn = 3.4028235e38;
    var mx = -3.4028235e38;
    var sum = 0.0;
    var n = 0u;
    var flags = 0u;
    for (var r = r0; r < r1; r++) {
        let v = block[(r - first) * cols + c];
        let f = flag_of(v);
        if f == 0u {
            mn = min(mn, v);
            mx = max(mx, v);
            sum += v;
            n += 1u;
        } else {
            flags |= f;
        }
    }
    if r0 >= r1 {
        return;
    }
    out_flags[o] |= flags;
    if mode == AGG_EXTREME || mode == AGG_MIN {
        out_min[o] = min(out_min[o], mn);
    }
    if mode == AGG_EXTREME || mode == AGG_MAX {
        out_max[o] = max(out_max[o], mx);
    }
    if mode == AGG_MEAN {
        out_sum[o] += sum;
        out_count[o] += n;
    }
}
