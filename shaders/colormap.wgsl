// Shared by every pipeline that colours values: non-finite tests,
// normalisation (the twin of src/scale/norm.rs) and the 256-entry colormap
// lookup (the twin of Colormap::map in src/scale/colormap.rs).

// Classification of a value: finite, or one of the three non-finite kinds.
const VALUE_FINITE: u32 = 0u;
const VALUE_NAN: u32 = 1u;
const VALUE_POS_INF: u32 = 2u;
const VALUE_NEG_INF: u32 = 3u;

// Transforms (Transform in src/scale/norm.rs).
const TRANSFORM_LINEAR: u32 = 0u;
const TRANSFORM_LOG: u32 = 1u;
const TRANSFORM_SYMLOG: u32 = 2u;

const LN_10: f32 = 2.302585092994046;

// Bit tests: shader compilers may assume IEEE specials never occur, so
// NaN and inf are recognised from their bits, never by comparison.
fn classify(v: f32) -> u32 {
    let bits = bitcast<u32>(v) & 0x7fffffffu;
    if bits < 0x7f800000u {
        return VALUE_FINITE;
    }
    if bits > 0x7f800000u {
        return VALUE_NAN;
    }
    if (bitcast<u32>(v) & 0x80000000u) != 0u {
        return VALUE_NEG_INF;
    }
    return VALUE_POS_INF;
}

struct NormParams {
    // Transform id (TRANSFORM_*).
    transform: u32,
    // T(vmin): subtracted before scaling.
    offset: f32,
    // 1 / (T(vmax) - T(vmin)), or 0 for an empty range.
    scale: f32,
    // symlog: linear threshold and adjusted linear scale.
    linthresh: f32,
    linscale_adj: f32,
};

// Position of a finite value on the colormap: 0 at vmin, 1 at vmax.
fn normalize(v: f32, n: NormParams) -> f32 {
    var tv = v;
    if n.transform == TRANSFORM_LOG {
        if v <= 0.0 {
            return -1.0;
        }
        tv = log(v);
    } else if n.transform == TRANSFORM_SYMLOG {
        let a = abs(v);
        if a <= n.linthresh {
            tv = v * n.linscale_adj;
        } else {
            tv = sign(v) * n.linthresh * (n.linscale_adj + log(a / n.linthresh) / LN_10);
        }
    }
    return (tv - n.offset) * n.scale;
}

// Colormap entry for position t: floor(t * 256) clamped to 0..255, as
// matplotlib indexes its lookup tables.
fn colormap_index(t: f32) -> i32 {
    let tc = clamp(t, -1.0, 2.0);
    return clamp(i32(floor(tc * 256.0)), 0, 255);
}
