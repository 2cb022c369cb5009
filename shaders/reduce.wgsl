// Row reduction for out-of-core grids: one block of input rows is folded
// into the column partials of the bins (runs of pixels along the streamed
// axis, src/scale/summary.rs) that cover it; the CPU twin is
// PixelPass::add_block. One invocation per (column, bin); every invocation
// owns its output cell, so no atomics are needed and blocks are folded in
// submission order. The bins' rows come from a table the CPU computed
// (AxisSpans), so both sides fold exactly the same rows.

struct ReduceParams {
    // cols, mode (aggregate), number of bins, unused.
    shape: vec4<u32>,
    // first row of this block, rows in this block, first bin touched, unused.
    block: vec4<u32>,
};

// One bin: first row, end row, nearest row, unused.
struct Bin {
    rows: vec4<u32>,
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
@group(0) @binding(8) var<storage, read> bins: array<Bin>;

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
    let cols = p.shape.x;
    let mode = p.shape.y;
    let c = id.x;
    let b = p.block.z + id.y;
    if c >= cols || b >= p.shape.z {
        return;
    }
    let bin = bins[b].rows;
    let first = p.block.x;
    let last = first + p.block.y;
    let r0 = max(bin.x, first);
    let r1 = min(bin.y, last);
    let o = b * cols + c;
    if mode == AGG_NEAREST {
        let r = bin.z;
        if r >= first && r < last {
            out_nearest[o] = block[(r - first) * cols + c];
        }
        return;
    }
    if r0 >= r1 {
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
