//! Python-style number formats for cell annotations: `.2f`, `.1e`, `d`,
//! `.0%`, `g`.

use crate::error::{Error, Result};

/// A parsed format specification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberFormat {
    /// Fixed decimals (`.2f`).
    Fixed(usize),
    /// Scientific (`.1e`).
    Exp(usize),
    /// Integer (`d`).
    Int,
    /// Percent with decimals (`.0%`).
    Percent(usize),
    /// Shortest representation up to N significant digits (`g`, `.3g`).
    General(usize),
}

impl NumberFormat {
    /// Parse `.2f`, `.1e`, `d`, `.0%`, `g`, `.3g` (a leading `:` or `{:...}` is accepted).
    pub fn parse(spec: &str) -> Result<Self> {
        let s = spec
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim_start_matches(':');
        let bad = || {
            Error::Invalid(format!(
                "bad number format '{spec}': use .2f, .1e, d, .0% or .3g (Python style)"
            ))
        };
        let (digits, kind) = match s.strip_prefix('.') {
            Some(rest) => {
                let k = rest.chars().last().ok_or_else(bad)?;
                let d: usize = rest[..rest.len() - k.len_utf8()].parse().map_err(|_| bad())?;
                (Some(d.min(12)), k)
            }
            None if s.chars().count() == 1 => (None, s.chars().next().ok_or_else(bad)?),
            None => return Err(bad()),
        };
        match kind {
            'f' => Ok(NumberFormat::Fixed(digits.unwrap_or(6))),
            'e' => Ok(NumberFormat::Exp(digits.unwrap_or(6))),
            'd' if digits.is_none() => Ok(NumberFormat::Int),
            '%' => Ok(NumberFormat::Percent(digits.unwrap_or(6))),
            'g' => Ok(NumberFormat::General(digits.unwrap_or(6).max(1))),
            _ => Err(bad()),
        }
    }

    /// Format `v` (NaN and infinities as `nan`, `inf`, `−inf`).
    pub fn format(&self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 {
                "inf".into()
            } else {
                "\u{2212}inf".into()
            };
        }
        let s = match *self {
            NumberFormat::Fixed(d) => format!("{v:.d$}"),
            NumberFormat::Exp(d) => {
                let s = format!("{v:.d$e}");
                // Rust writes 1.5e3; Python writes 1.5e+03.
                match s.split_once('e') {
                    Some((m, e)) => {
                        let e: i32 = e.parse().unwrap_or(0);
                        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
                    }
                    None => s,
                }
            }
            NumberFormat::Int => format!("{}", v.round() as i64),
            NumberFormat::Percent(d) => format!("{:.d$}%", v * 100.0),
            NumberFormat::General(d) => {
                if v == 0.0 {
                    "0".into()
                } else {
                    let mag = v.abs().log10().floor() as i32;
                    if mag < -4 || mag >= d as i32 {
                        format!("{:.*e}", d.saturating_sub(1), v)
                    } else {
                        let decimals = (d as i32 - 1 - mag).max(0) as usize;
                        let s = format!("{v:.decimals$}");
                        if s.contains('.') {
                            s.trim_end_matches('0').trim_end_matches('.').to_string()
                        } else {
                            s
                        }
                    }
                }
            }
        };
        // -0.00 reads as 0.00, and use a real minus sign, as the axes do.
        let s = if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.' || c == '%') {
            s[1..].to_string()
        } else {
            s
        };
        s.replacen('-', "\u{2212}", if s.starts_with('-') { 1 } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python() {
        let cases: &[(&str, f64, &str)] = &[
            (".2f", 0.756, "0.76"),
            (".2f", -0.001, "0.00"),
            (".1f", -3.25, "\u{2212}3.2"),
            ("d", 41.6, "42"),
            (".0%", 0.8, "80%"),
            (".1e", 1500.0, "1.5e+03"),
            (".1e", 0.00012, "1.2e-04"),
            ("g", 0.5, "0.5"),
            (".3g", 12345.0, "1.23e4"),
            (".3g", 1.23456, "1.23"),
            ("{:.1f}", 2.0, "2.0"),
        ];
        for (spec, v, want) in cases {
            assert_eq!(NumberFormat::parse(spec).unwrap().format(*v), *want, "{spec} {v}");
        }
        for bad in ["", "x", ".f", ".2q", "2f", ".2d"] {
            assert!(NumberFormat::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(NumberFormat::Fixed(1).format(f64::NAN), "nan");
    }
}
