// Text: one instance per glyph, a quad of atlas texels placed on whole
// target pixels (src/gpu/text.rs, layout in src/text/font.rs). Texels map
// 1:1 to pixels, upright or turned 90°, so coverage is read with
// textureLoad, no filtering.

struct TextUniforms {
    // Target width and height in pixels, unused x2.
    target_size: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: TextUniforms;
// Glyph coverage, R8Unorm.
@group(0) @binding(1) var atlas: texture_2d<f32>;

struct GlyphInstance {
    // Target pixel where the bitmap's top-left texel corner lands.
    @location(0) pos: vec2<f32>,
    // Bitmap width and height in texels.
    @location(1) size: vec2<f32>,
    // Bitmap's top-left texel in the atlas.
    @location(2) uv: vec2<f32>,
    // Linear RGBA.
    @location(3) color: vec4<f32>,
    // 0: upright; 1: turned 90° counter-clockwise.
    @location(4) rotation: u32,
};

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) color: vec4<f32>,
};

// Four vertices per instance, drawn as a triangle strip.
@vertex
fn vs_main(@builtin(vertex_index) i: u32, g: GlyphInstance) -> VertexOutput {
    let local = vec2<f32>(f32(i & 1u), f32(i >> 1u)) * g.size;
    var offset = local;
    if g.rotation == 1u {
        // Texel +x points up the target, texel +y to the right.
        offset = vec2<f32>(local.y, -local.x);
    }
    let p = g.pos + offset;
    var out: VertexOutput;
    out.position = vec4<f32>(p.x / u.target_size.x * 2.0 - 1.0, 1.0 - p.y / u.target_size.y * 2.0, 0.0, 1.0);
    out.uv = g.uv + local;
    out.color = g.color;
    return out;
}

fn srgb_to_linear(c: f32) -> f32 {
    if c <= 0.04045 {
        return c / 12.92;
    }
    return pow((c + 0.055) / 1.055, 2.4);
}

fn linear_to_srgb(c: f32) -> f32 {
    if c <= 0.0031308 {
        return c * 12.92;
    }
    return 1.055 * pow(c, 1.0 / 2.4) - 0.055;
}

// Blending happens in linear light on the sRGB target, which makes dark
// text on a light background look thin and light text on a dark one look
// heavy next to the same text from matplotlib/FreeType, which blend sRGB
// values. Reshape opacity (coverage times the colour's alpha) so that
// black on white and white on black come out exactly as sRGB-space
// blending would, fading between the two for mid-luminance colours.
fn blend_alpha(opacity: f32, color: vec3<f32>) -> f32 {
    let dark = 1.0 - srgb_to_linear(1.0 - opacity);
    let light = srgb_to_linear(opacity);
    let luma = linear_to_srgb(dot(color, vec3<f32>(0.2126, 0.7152, 0.0722)));
    return mix(dark, light, smoothstep(0.25, 0.75, luma));
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let texel = vec2<i32>(floor(in.uv));
    let coverage = textureLoad(atlas, texel, 0).r;
    return vec4<f32>(in.color.rgb, blend_alpha(coverage * in.color.a, in.color.rgb));
}
