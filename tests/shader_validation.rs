//! Every WGSL pipeline source parses and validates with naga, without a GPU.
//! All failures are reported together.

#[test]
fn all_shaders_validate() {
    let mut failures = Vec::new();
    for (name, source) in actmap::gpu::shaders::ALL {
        let module = match naga::front::wgsl::parse_str(source) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: parse error:\n{}", e.emit_to_string(source)));
                continue;
            }
        };
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        );
        if let Err(e) = validator.validate(&module) {
            failures.push(format!("{name}: validation error:\n{}", e.emit_to_string(source)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shader_constants_match_rust_enums() {
    use actmap::Aggregate;
    use actmap::scale::norm::Transform;
    let src = actmap::gpu::shaders::HEATMAP_WGSL;
    for (name, value) in [
        ("AGG_EXTREME", Aggregate::Extreme as u32),
        ("AGG_MAX", Aggregate::Max as u32),
        ("AGG_MIN", Aggregate::Min as u32),
        ("AGG_MEAN", Aggregate::Mean as u32),
        ("AGG_NEAREST", Aggregate::Nearest as u32),
        ("TRANSFORM_LINEAR", Transform::Linear as u32),
        ("TRANSFORM_LOG", Transform::Log as u32),
        ("TRANSFORM_SYMLOG", Transform::SymLog as u32),
    ] {
        let decl = format!("const {name}: u32 = {value}u;");
        assert!(src.contains(&decl), "shader lacks `{decl}`");
    }
}
