//! TEMPORARY stand-in for the text module (fixed-advance metrics) so the
//! layout compiles; replaced by the real font/atlas module.
#![allow(missing_docs)]

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextMetrics {
    pub width: f32,
    pub ascent: f32,
    pub descent: f32,
    pub height: f32,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HAlign {
    #[default]
    Left,
    Center,
    Right,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum VAlign {
    Top,
    Middle,
    #[default]
    Baseline,
    Bottom,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rotation {
    #[default]
    None,
    Ccw90,
}
#[derive(Clone, Debug, PartialEq)]
pub struct TextRun {
    pub text: String,
    pub x: f32,
    pub y: f32,
    pub size_px: f32,
    pub color: [u8; 4],
    pub h_align: HAlign,
    pub v_align: VAlign,
    pub rotation: Rotation,
}
pub struct Font;
impl Font {
    pub fn default_sans() -> &'static Font {
        &Font
    }
    pub fn measure(&self, text: &str, size_px: f32) -> TextMetrics {
        TextMetrics {
            width: text.chars().count() as f32 * size_px * 0.6,
            ascent: size_px * 0.93,
            descent: size_px * 0.24,
            height: size_px * 1.17,
        }
    }
    pub fn bounds(&self, run: &TextRun) -> Rect {
        let m = self.measure(&run.text, run.size_px);
        let x0 = match run.h_align {
            HAlign::Left => 0.0,
            HAlign::Center => -m.width / 2.0,
            HAlign::Right => -m.width,
        };
        let y0 = match run.v_align {
            VAlign::Top => 0.0,
            VAlign::Middle => -m.height / 2.0,
            VAlign::Baseline => -m.ascent,
            VAlign::Bottom => -m.height,
        };
        match run.rotation {
            Rotation::None => Rect {
                x: run.x + x0,
                y: run.y + y0,
                w: m.width,
                h: m.height,
            },
            Rotation::Ccw90 => Rect {
                x: run.x + y0,
                y: run.y - x0 - m.width,
                w: m.height,
                h: m.width,
            },
        }
    }
}
