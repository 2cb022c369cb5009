//! Built-in synthetic data shaped like the five reference figures
//! (shared/seeds/000..004): deterministic, so the figures are reproducible
//! and can serve as golden images.

use crate::input::Grid;

/// A small deterministic PRNG (PCG-style LCG), so demo data never changes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// One demo dataset: a grid plus the coordinates and names that describe it.
#[derive(Clone, Debug)]
pub struct DemoData {
    /// File stem, e.g. `000_layer_steps`.
    pub name: &'static str,
    /// Figure title.
    pub title: &'static str,
    /// The values (rows x cols).
    pub grid: Grid,
    /// Coordinate of each row (e.g. training steps), when not 0..rows.
    pub row_coords: Option<Vec<f64>>,
    /// Coordinate of each column (e.g. layer number), when not 0..cols.
    pub col_coords: Option<Vec<f64>>,
    /// Colormap name the figure uses.
    pub cmap: &'static str,
}

/// Training steps of seed 000: 0, 150, 300, then every 500 to 10000, then every 1000 to 20000.
pub fn steps_000() -> Vec<f64> {
    let mut s = vec![0.0, 150.0, 300.0];
    s.extend((1..=20).map(|i| (i * 500) as f64));
    s.extend((11..=20).map(|i| (i * 1000) as f64));
    s
}

fn smoothstep(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Seed 000: layer 1-12 (columns) vs 33 uneven training steps (rows),
/// activation 0.05..0.30.
pub fn layer_steps() -> DemoData {
    let steps = steps_000();
    let mut rng = Rng::new(0);
    let grid = Grid::from_fn(steps.len(), 12, |r, c| {
        let t = (steps[r] / 20000.0) as f32;
        let layer = c + 1;
        let base = match layer {
            1 | 2 => 0.29,
            3 => 0.05 + 0.10 * smoothstep(t * 1.2),
            8 => 0.05 + 0.05 * smoothstep(t * 2.0) + 0.15 * smoothstep((t - 0.5) * 2.0),
            9 => 0.05 + 0.04 * smoothstep(t * 2.0) + 0.12 * smoothstep((t - 0.45) * 2.0),
            _ => 0.055,
        };
        (base + rng.normal() * 0.004).clamp(0.05, 0.30)
    })
    .expect("static shape");
    DemoData {
        name: "000_layer_steps",
        title: "Layer Activation vs. Training Steps",
        grid,
        row_coords: Some(steps),
        col_coords: Some((1..=12).map(f64::from).collect()),
        cmap: "magma",
    }
}

/// Seed 001: layer 1-12 vs steps 30k..300k, values 0..0.008 peaking at
/// layers 7-9 around 150k-240k.
pub fn layer_steps_long() -> DemoData {
    let steps: Vec<f64> = (1..=10).map(|i| (i * 30_000) as f64).collect();
    let mut rng = Rng::new(1);
    let grid = Grid::from_fn(10, 12, |r, c| {
        let layer = (c + 1) as f32;
        let s = steps[r] as f32 / 1000.0;
        let over_layers = (-((layer - 8.0) / 1.6).powi(2)).exp();
        let over_steps = 0.25 + 0.75 * (-((s - 195.0) / 80.0).powi(2)).exp();
        (0.0078 * over_layers * over_steps + rng.uniform() * 0.0002).clamp(0.0, 0.008)
    })
    .expect("static shape");
    DemoData {
        name: "001_layer_steps_long",
        title: "Layer vs Steps",
        grid,
        row_coords: Some(steps),
        col_coords: Some((1..=12).map(f64::from).collect()),
        cmap: "magma",
    }
}

/// Seed 002: four 20 x 20 panels (Inputs, Outputs, Write Weightings, Read
/// Weightings), location (rows) x time (columns), values 0..1.
pub fn ntm_panels() -> Vec<DemoData> {
    const N: usize = 20;
    let mut rng = Rng::new(2);
    let inputs = Grid::from_fn(N, N, |_, _| {
        if rng.uniform() > 0.8 {
            0.6 + 0.4 * rng.uniform()
        } else {
            0.05 * rng.uniform()
        }
    })
    .expect("static shape");
    let mut rng = Rng::new(3);
    let outputs = Grid::from_fn(N, N, |r, _| {
        let band = r % 5 == 1 || r % 7 == 3;
        if band {
            0.75 + 0.25 * rng.uniform()
        } else {
            0.1 * rng.uniform()
        }
    })
    .expect("static shape");
    let diag = |seed: u64, strength: f32| {
        let mut rng = Rng::new(seed);
        Grid::from_fn(N, N, move |r, c| {
            let d = (r as f32 - c as f32).abs();
            let main = strength * (-d * d / 0.6).exp();
            let scatter = if r > c && rng.uniform() > 0.93 {
                0.3 + 0.4 * rng.uniform()
            } else {
                0.0
            };
            (main + scatter + 0.04 * rng.uniform()).min(1.0)
        })
        .expect("static shape")
    };
    let panel = |name, title, grid| DemoData {
        name,
        title,
        grid,
        row_coords: None,
        col_coords: None,
        cmap: "coolwarm",
    };
    vec![
        panel("002_ntm_inputs", "Inputs", inputs),
        panel("002_ntm_outputs", "Outputs", outputs),
        panel("002_ntm_write", "Write Weightings", diag(4, 1.0)),
        panel("002_ntm_read", "Read Weightings", diag(5, 0.8)),
    ]
}

/// Seed 003: probe accuracy, digit scale 1-4 (rows) x layer 0-28 (columns).
pub fn accuracy_breakdown() -> DemoData {
    let mut rng = Rng::new(6);
    let grid = Grid::from_fn(4, 29, |r, c| {
        let l = c as f32;
        let v = match r {
            0 => 0.02 + 0.78 * smoothstep((l - 22.0) / 3.0),
            1 => 0.02 + 0.63 * smoothstep((l - 22.0) / 3.0),
            2 => 0.1 + 0.2 * smoothstep(l / 12.0),
            _ => 0.1 * smoothstep(l / 4.0),
        };
        (v + 0.01 * rng.uniform()).clamp(0.0, 0.8)
    })
    .expect("static shape");
    DemoData {
        name: "003_accuracy_breakdown",
        title: "Accuracy Breakdown",
        grid,
        row_coords: Some((1..=4).map(f64::from).collect()),
        col_coords: Some((0..=28).map(f64::from).collect()),
        cmap: "Blues",
    }
}

/// Seed 004: 4096 neuron activations, mostly within -3..3, with spikes to
/// +28 (neuron 1550) and -35 (neuron 2450).
pub fn neuron_activations() -> DemoData {
    let mut rng = Rng::new(7);
    let mut v: Vec<f32> = (0..4096).map(|_| (rng.normal() * 0.9).clamp(-3.2, 3.2)).collect();
    for (i, x) in [
        (150, 26.0),
        (800, -25.0),
        (1550, 28.0),
        (2450, -35.0),
        (2500, 20.0),
        (2700, -12.0),
        (3100, 14.0),
        (420, 11.0),
        (1210, -9.0),
        (1900, 12.5),
        (3500, -14.0),
        (3720, 10.5),
    ] {
        v[i] = x;
    }
    DemoData {
        name: "004_neuron_activations",
        title: "Neuron Activation Distribution",
        grid: Grid::new(1, 4096, v).expect("static shape"),
        row_coords: None,
        col_coords: None,
        cmap: "RdBu_r",
    }
}

/// All demo datasets, in seed order.
pub fn all() -> Vec<DemoData> {
    let mut v = vec![layer_steps(), layer_steps_long()];
    v.extend(ntm_panels());
    v.push(accuracy_breakdown());
    v.push(neuron_activations());
    v
}

/// The five reference figures (seeds 000-004) at `width x height`.
pub fn figures(width: u32, height: u32) -> Vec<(&'static str, crate::layout::Figure)> {
    use crate::layout::{
        Axis, ColorbarMode, CoordMode, Figure, HeatmapLayer, LineLayer, Panel, Series, ticks::TickFormat,
    };
    use crate::scale::{NormKind, NormSpec};
    use std::sync::Arc;

    let heat = |d: &DemoData| {
        let mut h = HeatmapLayer::new(d.grid.clone());
        h.colormap = d.cmap.parse().unwrap_or_default();
        h
    };
    let mut out = Vec::new();

    // 000: layer (x) vs uneven training steps (y), magma, 0.05..0.30.
    let d = layer_steps();
    let mut h = heat(&d);
    h.norm = NormSpec {
        vmin: Some(0.05),
        vmax: Some(0.30),
        ..Default::default()
    };
    let mut p = Panel::heatmap(h);
    p.title = Some(d.title.into());
    p.x = Axis {
        label: Some("Layer".into()),
        coords: d.col_coords.clone(),
        ..Default::default()
    };
    p.y = Axis {
        label: Some("Steps".into()),
        coords: d.row_coords.clone(),
        mode: CoordMode::True,
        ..Default::default()
    };
    out.push((d.name, Figure::single(p, width, height)));

    // 001: layer vs 30k..300k steps, magma, 0..0.008, thousands as k.
    let d = layer_steps_long();
    let mut h = heat(&d);
    h.norm = NormSpec {
        vmin: Some(0.0),
        vmax: Some(0.008),
        ..Default::default()
    };
    let mut p = Panel::heatmap(h);
    p.title = Some(d.title.into());
    p.x = Axis {
        label: Some("Layer".into()),
        coords: d.col_coords.clone(),
        ..Default::default()
    };
    p.y = Axis {
        label: Some("Steps".into()),
        coords: d.row_coords.clone(),
        mode: CoordMode::Index,
        format: TickFormat::Thousands,
        ..Default::default()
    };
    out.push((d.name, Figure::single(p, width, height)));

    // 002: 2x2 panels, time x location, blue-to-red, shared colorbar.
    let panels = ntm_panels();
    let ylabels = ["Location", "Location", "Adds", "Reads"];
    let figure_panels = panels
        .iter()
        .zip(ylabels)
        .map(|(d, yl)| {
            let mut h = heat(d);
            h.norm = NormSpec {
                vmin: Some(0.0),
                vmax: Some(1.0),
                ..Default::default()
            };
            let mut p = Panel::heatmap(h);
            p.title = Some(d.title.into());
            p.x = Axis::labelled("Time");
            p.y = Axis::labelled(yl);
            // Square matrices keep square cells (what `actmap render` and
            // the TOML spec do by default).
            p.aspect = Some(1.0);
            p
        })
        .collect();
    out.push((
        "002_ntm_panels",
        Figure {
            grid: (2, 2),
            panels: figure_panels,
            colorbar: ColorbarMode::Shared,
            ..Figure::single(Panel::lines(LineLayer::default()), width, height)
        },
    ));

    // 003: accuracy breakdown, layer 0..28 vs digit scale 1..4, Blues, annotated.
    let d = accuracy_breakdown();
    let mut h = heat(&d);
    h.norm = NormSpec {
        vmin: Some(0.0),
        vmax: Some(0.8),
        ..Default::default()
    };
    h.annotate = Some(".1f".into());
    let mut p = Panel::heatmap(h);
    p.title = Some(d.title.into());
    p.x = Axis {
        label: Some("layer".into()),
        coords: d.col_coords.clone(),
        ..Default::default()
    };
    p.y = Axis {
        label: Some("Digit Scale".into()),
        coords: d.row_coords.clone(),
        ..Default::default()
    };
    out.push((d.name, Figure::single(p, width, height)));

    // 004: 4096 neuron activations as a line, spikes marked.
    let d = neuron_activations();
    let layer = LineLayer {
        series: vec![Series {
            label: None,
            values: Arc::new(d.grid.data().to_vec()),
            color: Some([0x17, 0xbe, 0xcf, 255]),
            streamed: None,
        }],
        mark_top: 0,
        line_width: Some(1.0),
    };
    let mut p = Panel::lines(layer);
    p.title = Some(d.title.into());
    p.x = Axis::labelled("Neuron Indexes");
    p.y = Axis::labelled("Neuron Activations");
    out.push((d.name, Figure::single(p, width, height)));
    let _ = NormKind::Linear;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_ranges_follow_the_seeds() {
        let d = layer_steps();
        assert_eq!((d.grid.rows(), d.grid.cols()), (33, 12));
        assert_eq!(
            d.row_coords.as_ref().unwrap()[..5],
            [0.0, 150.0, 300.0, 500.0, 1000.0]
        );
        assert_eq!(*d.row_coords.as_ref().unwrap().last().unwrap(), 20000.0);
        let s = crate::Stats::of(d.grid.data());
        assert!(s.min >= 0.05 && s.max <= 0.30 && s.max > 0.28);
        let n = neuron_activations();
        let s = crate::Stats::of(n.grid.data());
        assert_eq!((s.min, s.max), (-35.0, 28.0));
        assert_eq!(n.grid.cols(), 4096);
        assert_eq!(accuracy_breakdown().grid.cols(), 29);
        assert_eq!(all().len(), 8);
    }
}
