//! Normalisation: data value -> position `t` on the colormap (0 = first
//! entry, 1 = last). `NormSpec` is what the user asked for; `Norm` is the
//! resolved mapping with concrete limits, shared by the CPU twin here and
//! the WGSL shader (`shaders/colormap.wgsl`), which computes the same
//! `(T(v) - T(vmin)) / (T(vmax) - T(vmin))` in f32.

use super::stats::{Stats, percentile};
use crate::error::{Error, Result};

/// The shape of the value -> colour mapping.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum NormKind {
    /// Linear between vmin and vmax.
    #[default]
    Linear,
    /// Logarithmic; needs a positive range.
    Log,
    /// Symmetric log (matplotlib's `SymLogNorm`, base 10): linear within
    /// `+-linthresh`, logarithmic outside.
    SymLog {
        /// Half-width of the linear region; `None` = 1% of the largest |limit|.
        linthresh: Option<f32>,
        /// Length of the linear region in decades (matplotlib's `linscale`).
        linscale: f32,
    },
    /// Linear, symmetric around `vcenter` (matplotlib's `CenteredNorm`): for
    /// diverging colormaps, so `vcenter` always gets the middle colour.
    Centered {
        /// The value drawn with the middle colour.
        vcenter: f32,
    },
}

impl NormKind {
    /// Parse `linear`, `log`, `symlog`, `centered` (or `centred`).
    pub fn parse(name: &str) -> Result<NormKind> {
        match name.to_ascii_lowercase().as_str() {
            "linear" | "lin" => Ok(NormKind::Linear),
            "log" => Ok(NormKind::Log),
            "symlog" => Ok(NormKind::SymLog {
                linthresh: None,
                linscale: 1.0,
            }),
            "centered" | "centred" | "center" | "centre" => Ok(NormKind::Centered { vcenter: 0.0 }),
            _ => Err(Error::Invalid(format!(
                "unknown norm '{name}'; choose one of linear, log, symlog, centered"
            ))),
        }
    }
}

/// What the user asked for: a kind of norm and optional limits.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct NormSpec {
    /// The mapping.
    pub kind: NormKind,
    /// Lower limit; `None` = automatic from the finite data.
    pub vmin: Option<f32>,
    /// Upper limit; `None` = automatic from the finite data.
    pub vmax: Option<f32>,
    /// Automatic limits from the `(100 - p)`-th and `p`-th percentiles of the
    /// finite data instead of min and max (`Some(99.0)`: 1st..99th).
    pub robust: Option<f32>,
}

/// The transform used by the shader: 0 = identity, 1 = ln, 2 = symlog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Transform {
    /// t is linear in v.
    Linear = 0,
    /// t is linear in ln(v).
    Log = 1,
    /// t is linear in symlog(v).
    SymLog = 2,
}

/// A resolved normalisation with concrete limits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Norm {
    /// Which transform.
    pub transform: Transform,
    /// Lower limit: values at or below take the first colour.
    pub vmin: f32,
    /// Upper limit: values at or above take the last colour.
    pub vmax: f32,
    /// Symlog linear threshold (unused otherwise).
    pub linthresh: f32,
    /// Symlog linear-region scale, `linscale / (1 - 1/10)` (unused otherwise).
    pub linscale_adj: f32,
    /// The value signed-extreme aggregation measures distance from.
    pub centre: f32,
    /// True when some finite data lie below `vmin` (colorbar extend arrow).
    pub clipped_low: bool,
    /// True when some finite data lie above `vmax`.
    pub clipped_high: bool,
}

fn check_finite(name: &str, v: Option<f32>) -> Result<()> {
    match v {
        Some(x) if !x.is_finite() => Err(Error::Invalid(format!("{name} must be a finite number, got {x}"))),
        _ => Ok(()),
    }
}

impl NormSpec {
    /// Resolve automatic limits against `data` (whose statistics are `stats`).
    pub fn resolve(&self, data: &[f32], stats: &Stats) -> Result<Norm> {
        self.resolve_with(stats, |q| percentile(data, stats, q))
    }

    /// Resolve automatic limits from `stats` and a percentile function
    /// (`q` in 0..=100), for data that is not in memory.
    pub fn resolve_with(&self, stats: &Stats, percentile: impl Fn(f64) -> Option<f32>) -> Result<Norm> {
        check_finite("--vmin", self.vmin)?;
        check_finite("--vmax", self.vmax)?;
        let (auto_lo, auto_hi) = match self.robust {
            Some(p) if !(50.0..=100.0).contains(&p) || p.is_nan() => {
                return Err(Error::Invalid(format!(
                    "--robust takes a percentile between 50 and 100 (e.g. 99 clips to the 1st..99th percentiles), got {p}"
                )));
            }
            Some(p) if stats.finite > 0 && (self.vmin.is_none() || self.vmax.is_none()) => (
                percentile(100.0 - p as f64).unwrap_or(stats.min),
                percentile(p as f64).unwrap_or(stats.max),
            ),
            _ => (stats.min, stats.max),
        };
        // With no finite value at all (every cell NaN or inf) there is no
        // range to find: 0..1 (1..10 for log) keeps the picture drawable.
        let no_data = stats.finite == 0;
        let (fallback_lo, fallback_hi) = if self.kind == NormKind::Log {
            (1.0, 10.0)
        } else {
            (0.0, 1.0)
        };
        let mut vmin = self.vmin.unwrap_or(if no_data { fallback_lo } else { auto_lo });
        let mut vmax = self.vmax.unwrap_or(if no_data { fallback_hi } else { auto_hi });
        if vmin > vmax {
            return Err(Error::Invalid(format!(
                "the colour range is empty: vmin {vmin} is greater than vmax {vmax}"
            )));
        }
        let (transform, mut linthresh, mut linscale_adj, centre);
        linthresh = 0.0;
        linscale_adj = 0.0;
        match self.kind {
            NormKind::Linear => {
                transform = Transform::Linear;
                centre = 0.0f32.clamp(vmin, vmax);
            }
            NormKind::Centered { vcenter } => {
                check_finite("--vcenter", Some(vcenter))?;
                transform = Transform::Linear;
                let mut half = (vmax - vcenter).abs().max((vmin - vcenter).abs());
                if half == 0.0 || !half.is_finite() {
                    half = 1.0;
                }
                vmin = vcenter - half;
                vmax = vcenter + half;
                centre = vcenter;
            }
            NormKind::Log => {
                if vmax <= 0.0 {
                    return Err(Error::Invalid(format!(
                        "log norm needs positive values, but the largest is {vmax}; use --norm symlog for data that crosses zero"
                    )));
                }
                if vmin <= 0.0 {
                    let what = if self.vmin.is_some() {
                        "--vmin is"
                    } else {
                        "the data minimum is"
                    };
                    return Err(Error::Invalid(format!(
                        "log norm needs a positive range, but {what} {vmin}; pass a positive --vmin to clip \
                         (smaller values then take the lowest colour) or use --norm symlog"
                    )));
                }
                transform = Transform::Log;
                centre = vmin;
            }
            NormKind::SymLog {
                linthresh: lt,
                linscale,
            } => {
                check_finite("--linthresh", lt)?;
                if !(linscale.is_finite() && linscale > 0.0) {
                    return Err(Error::Invalid(format!(
                        "symlog linscale must be positive, got {linscale}"
                    )));
                }
                linthresh = match lt {
                    Some(t) if t > 0.0 => t,
                    Some(t) => {
                        return Err(Error::Invalid(format!("--linthresh must be positive, got {t}")));
                    }
                    None => {
                        let m = vmin.abs().max(vmax.abs()) / 100.0;
                        if m > 0.0 && m.is_finite() { m } else { 1.0 }
                    }
                };
                linscale_adj = linscale / (1.0 - 1.0 / 10.0);
                transform = Transform::SymLog;
                centre = 0.0f32.clamp(vmin, vmax);
            }
        }
        Ok(Norm {
            transform,
            vmin,
            vmax,
            linthresh,
            linscale_adj,
            centre,
            clipped_low: stats.finite > 0 && stats.min < vmin,
            clipped_high: stats.finite > 0 && stats.max > vmax,
        })
    }
}

impl Norm {
    /// A plain linear norm between `vmin` and `vmax`.
    pub fn linear(vmin: f32, vmax: f32) -> Norm {
        Norm {
            transform: Transform::Linear,
            vmin,
            vmax,
            linthresh: 0.0,
            linscale_adj: 0.0,
            centre: 0.0f32.clamp(vmin.min(vmax), vmax.max(vmin)),
            clipped_low: false,
            clipped_high: false,
        }
    }

    /// The transform T applied before the linear map to [0, 1].
    pub fn transform_value(&self, v: f32) -> f32 {
        match self.transform {
            Transform::Linear => v,
            Transform::Log => v.ln(),
            Transform::SymLog => {
                let a = v.abs();
                if a <= self.linthresh {
                    v * self.linscale_adj
                } else {
                    v.signum()
                        * self.linthresh
                        * (self.linscale_adj + (a / self.linthresh).ln() / std::f32::consts::LN_10)
                }
            }
        }
    }

    /// `(T(vmin), 1 / (T(vmax) - T(vmin)))`, the two numbers the shader needs;
    /// the scale is 0 when the range is empty (everything maps to t = 0, as
    /// matplotlib does).
    pub fn offset_scale(&self) -> (f32, f32) {
        let a = self.transform_value(self.vmin);
        let b = self.transform_value(self.vmax);
        let d = b - a;
        (a, if d > 0.0 && d.is_finite() { 1.0 / d } else { 0.0 })
    }

    /// Position of `v` on the colormap: 0 at vmin, 1 at vmax, outside [0, 1]
    /// for clipped values. Log maps v <= 0 to -inf. NaN stays NaN.
    pub fn normalize(&self, v: f32) -> f32 {
        let (a, s) = self.offset_scale();
        let tv = if self.transform == Transform::Log && v <= 0.0 {
            f32::NEG_INFINITY
        } else {
            self.transform_value(v)
        };
        (tv - a) * s
    }

    /// The value at colormap position `t` (inverse of [`Norm::normalize`]).
    pub fn inverse(&self, t: f32) -> f32 {
        let (a, s) = self.offset_scale();
        let tv = if s == 0.0 { a } else { a + t / s };
        match self.transform {
            Transform::Linear => tv,
            Transform::Log => tv.exp(),
            Transform::SymLog => {
                let lin = self.linthresh * self.linscale_adj;
                if tv.abs() <= lin {
                    tv / self.linscale_adj
                } else {
                    tv.signum()
                        * self.linthresh
                        * (std::f32::consts::LN_10 * (tv.abs() / self.linthresh - self.linscale_adj)).exp()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(spec: NormSpec, data: &[f32]) -> Result<Norm> {
        spec.resolve(data, &Stats::of(data))
    }

    #[test]
    fn auto_range_skips_nan_and_inf() {
        let d = [f32::NAN, 0.05, 0.3, f32::INFINITY, f32::NEG_INFINITY, 0.1];
        let n = resolve(NormSpec::default(), &d).unwrap();
        assert_eq!((n.vmin, n.vmax), (0.05, 0.3));
        assert_eq!(n.normalize(0.05), 0.0);
        assert_eq!(n.normalize(0.3), 1.0);
        assert!(!n.clipped_low && !n.clipped_high);
    }

    #[test]
    fn explicit_limits_and_clipping_flags() {
        let d = [-1.0, 0.0, 2.0];
        let spec = NormSpec {
            vmin: Some(-0.5),
            vmax: Some(1.0),
            ..Default::default()
        };
        let n = resolve(spec, &d).unwrap();
        assert!(n.clipped_low && n.clipped_high);
        assert!(n.normalize(2.0) > 1.0 && n.normalize(-1.0) < 0.0);
        let bad = NormSpec {
            vmin: Some(3.0),
            vmax: Some(1.0),
            ..Default::default()
        };
        assert!(
            resolve(bad, &d)
                .unwrap_err()
                .to_string()
                .contains("greater than vmax")
        );
    }

    #[test]
    fn robust_clips_to_percentiles() {
        let mut d: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        d.push(1.0e6);
        let n = resolve(
            NormSpec {
                robust: Some(99.0),
                ..Default::default()
            },
            &d,
        )
        .unwrap();
        assert!((n.vmin - 1.01).abs() < 1e-3, "{}", n.vmin);
        assert!(n.vmax < 101.0 && n.vmax > 98.0, "{}", n.vmax);
        assert!(n.clipped_high);
        assert!(
            resolve(
                NormSpec {
                    robust: Some(20.0),
                    ..Default::default()
                },
                &d
            )
            .is_err()
        );
    }

    #[test]
    fn centered_is_symmetric_around_vcenter() {
        let n = resolve(
            NormSpec {
                kind: NormKind::Centered { vcenter: 0.0 },
                ..Default::default()
            },
            &[-1.0, 3.0],
        )
        .unwrap();
        assert_eq!((n.vmin, n.vmax, n.centre), (-3.0, 3.0, 0.0));
        assert_eq!(n.normalize(0.0), 0.5);
        let n = resolve(
            NormSpec {
                kind: NormKind::Centered { vcenter: 1.0 },
                ..Default::default()
            },
            &[0.0, 1.5],
        )
        .unwrap();
        assert_eq!((n.vmin, n.vmax), (0.0, 2.0));
    }

    #[test]
    fn log_needs_positive_range_unless_clipped() {
        let d = [-1.0, 0.0, 10.0, 100.0];
        let e = resolve(
            NormSpec {
                kind: NormKind::Log,
                ..Default::default()
            },
            &d,
        )
        .unwrap_err();
        assert!(e.to_string().contains("positive --vmin"), "{e}");
        let n = resolve(
            NormSpec {
                kind: NormKind::Log,
                vmin: Some(1.0),
                ..Default::default()
            },
            &d,
        )
        .unwrap();
        assert!((n.normalize(10.0) - 0.5).abs() < 1e-6);
        assert_eq!(n.normalize(-1.0), f32::NEG_INFINITY);
        assert_eq!(n.normalize(0.0), f32::NEG_INFINITY);
        assert!(
            resolve(
                NormSpec {
                    kind: NormKind::Log,
                    ..Default::default()
                },
                &[-2.0, -1.0]
            )
            .is_err()
        );
    }

    /// Reference values from matplotlib:
    /// `SymLogNorm(linthresh=1, linscale=1, vmin=-100, vmax=100, base=10)(x)`.
    #[test]
    fn symlog_matches_matplotlib() {
        let spec = NormSpec {
            kind: NormKind::SymLog {
                linthresh: Some(1.0),
                linscale: 1.0,
            },
            vmin: Some(-100.0),
            vmax: Some(100.0),
            robust: None,
        };
        let n = resolve(spec, &[0.0]).unwrap();
        for (x, want) in [
            (0.0, 0.5),
            (1.0, 0.6786),
            (10.0, 0.8393),
            (100.0, 1.0),
            (-10.0, 0.1607),
            (0.5, 0.5893),
        ] {
            let got = n.normalize(x);
            assert!((got - want).abs() < 1e-3, "x={x}: got {got}, want {want}");
            assert!((n.inverse(got) - x).abs() < 1e-3 * x.abs().max(1.0));
        }
        let auto = resolve(
            NormSpec {
                kind: NormKind::parse("symlog").unwrap(),
                ..Default::default()
            },
            &[-30.0, 5.0],
        )
        .unwrap();
        assert!((auto.linthresh - 0.3).abs() < 1e-6);
    }

    #[test]
    fn constant_data_maps_to_first_colour() {
        let n = resolve(NormSpec::default(), &[2.0, 2.0]).unwrap();
        assert_eq!(n.normalize(2.0), 0.0);
        let n = resolve(NormSpec::default(), &[f32::NAN]).unwrap();
        assert_eq!((n.vmin, n.vmax), (0.0, 1.0));
        let log = NormSpec {
            kind: NormKind::Log,
            ..Default::default()
        };
        let n = resolve(log, &[f32::NAN, f32::INFINITY]).unwrap();
        assert_eq!((n.vmin, n.vmax), (1.0, 10.0));
    }

    #[test]
    fn parse_names() {
        assert_eq!(NormKind::parse("LOG").unwrap(), NormKind::Log);
        assert_eq!(
            NormKind::parse("centred").unwrap(),
            NormKind::Centered { vcenter: 0.0 }
        );
        assert!(
            NormKind::parse("sqrt")
                .unwrap_err()
                .to_string()
                .contains("linear, log, symlog")
        );
        let e = resolve(
            NormSpec {
                vmin: Some(f32::NAN),
                ..Default::default()
            },
            &[1.0],
        )
        .unwrap_err();
        assert!(e.to_string().contains("--vmin"));
    }
}
