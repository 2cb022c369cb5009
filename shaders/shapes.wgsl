// Shapes: filled triangles with analytic antialiasing across lines.
// Each vertex carries its signed distance from the line's centre (aa.x)
// and the line's half width (aa.y), both in pixels; fills use a huge half
// width, so coverage is 1 everywhere.

struct Globals {
    // Target size in pixels.
    size: vec2<f32>,
    pad: vec2<f32>,
};

@group(0) @binding(0) var<uniform> g: Globals;

struct VertexInput {
    @location(0) position: vec2<f32>,
    @location(1) color: vec4<f32>,
    @location(2) aa: vec2<f32>,
};

struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) aa: vec2<f32>,
};

@vertex
fn vs_main(v: VertexInput) -> VertexOutput {
    var out: VertexOutput;
    let ndc = v.position / g.size * 2.0 - vec2<f32>(1.0, 1.0);
    out.position = vec4<f32>(ndc.x, -ndc.y, 0.0, 1.0);
    out.color = v.color;
    out.aa = v.aa;
    return out;
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let coverage = clamp(in.aa.y + 0.5 - abs(in.aa.x), 0.0, 1.0);
    return vec4<f32>(in.color.rgb, in.color.a * coverage);
}
