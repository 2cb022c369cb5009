//! TEMPORARY stand-in: draws nothing until the glyph-atlas renderer lands.
#![allow(missing_docs)]
use super::GpuContext;
use crate::error::Result;
use crate::text::TextRun;
#[derive(Debug)]
pub struct TextRenderer;
#[derive(Debug)]
pub struct TextDrawData;
impl TextRenderer {
    pub fn new(_ctx: &GpuContext, _format: wgpu::TextureFormat) -> Self {
        TextRenderer
    }
    pub fn prepare(
        &mut self,
        _ctx: &GpuContext,
        _runs: &[TextRun],
        _w: u32,
        _h: u32,
    ) -> Result<TextDrawData> {
        Ok(TextDrawData)
    }
    pub fn draw(&self, _pass: &mut wgpu::RenderPass<'_>, _data: &TextDrawData) {}
}
