//! Colormaps: which ones exist, how they are named on the command line, and
//! the 256-entry lookup table that is uploaded to the GPU as a 256x1 texture.
//!
//! The tables are matplotlib's (see [`super::colormap_data`]), and
//! [`Colormap::map`] is the CPU twin of the shader lookup, which follows
//! matplotlib's `Colormap.__call__` for float input: entry
//! `clamp(floor(t * 256), 0, 255)`.

use std::fmt;
use std::str::FromStr;

use super::colormap_data as data;
use crate::error::{Error, Result};

/// Number of entries in every colormap table (and texels in the GPU texture).
pub const LUT_SIZE: usize = 256;

/// One of the colormaps actmap ships, independent of direction.
///
/// The discriminant (`kind as u32`) is the map's position in
/// [`ColormapKind::ALL`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColormapKind {
    /// Perceptually uniform, black to light yellow through purple and orange.
    Magma,
    /// Perceptually uniform, black to pale yellow through purple and red.
    Inferno,
    /// Perceptually uniform, dark blue to yellow through magenta.
    Plasma,
    /// Perceptually uniform, dark purple to yellow through blue and green.
    Viridis,
    /// Perceptually uniform and colour-vision-deficiency friendly, blue to yellow.
    Cividis,
    /// Google's improved rainbow map, dark blue to dark red.
    Turbo,
    /// Sequential, white to dark blue.
    Blues,
    /// Sequential, white to black.
    Greys,
    /// Diverging, dark red to white to dark blue.
    RdBu,
    /// Diverging, blue to light grey to red (Moreland's cool-warm).
    Coolwarm,
}

impl ColormapKind {
    /// Every kind, in declaration order (the order of [`Colormap::names`]).
    pub const ALL: [ColormapKind; 10] = [
        ColormapKind::Magma,
        ColormapKind::Inferno,
        ColormapKind::Plasma,
        ColormapKind::Viridis,
        ColormapKind::Cividis,
        ColormapKind::Turbo,
        ColormapKind::Blues,
        ColormapKind::Greys,
        ColormapKind::RdBu,
        ColormapKind::Coolwarm,
    ];

    /// matplotlib's name for the map, e.g. `"magma"`, `"Blues"`, `"RdBu"`,
    /// `"coolwarm"`.
    pub const fn name(self) -> &'static str {
        match self {
            ColormapKind::Magma => "magma",
            ColormapKind::Inferno => "inferno",
            ColormapKind::Plasma => "plasma",
            ColormapKind::Viridis => "viridis",
            ColormapKind::Cividis => "cividis",
            ColormapKind::Turbo => "turbo",
            ColormapKind::Blues => "Blues",
            ColormapKind::Greys => "Greys",
            ColormapKind::RdBu => "RdBu",
            ColormapKind::Coolwarm => "coolwarm",
        }
    }

    /// Whether the map is diverging (meant for data centred on a midpoint,
    /// usually zero): true for [`RdBu`](Self::RdBu) and
    /// [`Coolwarm`](Self::Coolwarm).
    pub const fn is_diverging(self) -> bool {
        matches!(self, ColormapKind::RdBu | ColormapKind::Coolwarm)
    }

    /// The map's 256 sRGB entries, low end first, not reversed.
    pub const fn table(self) -> &'static [[u8; 3]; LUT_SIZE] {
        match self {
            ColormapKind::Magma => &data::MAGMA,
            ColormapKind::Inferno => &data::INFERNO,
            ColormapKind::Plasma => &data::PLASMA,
            ColormapKind::Viridis => &data::VIRIDIS,
            ColormapKind::Cividis => &data::CIVIDIS,
            ColormapKind::Turbo => &data::TURBO,
            ColormapKind::Blues => &data::BLUES,
            ColormapKind::Greys => &data::GREYS,
            ColormapKind::RdBu => &data::RDBU,
            ColormapKind::Coolwarm => &data::COOLWARM,
        }
    }
}

/// A colormap as the user picks it: a [`ColormapKind`], possibly reversed.
///
/// Parses from and displays as matplotlib's names, with an `_r` suffix for
/// the reversed map: `"magma"`, `"RdBu_r"`. The default is `magma`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Colormap {
    /// Which map.
    pub kind: ColormapKind,
    /// Whether the map runs high to low (matplotlib's `_r` variant).
    pub reversed: bool,
}

impl Default for Colormap {
    /// `magma`, not reversed.
    fn default() -> Self {
        Colormap {
            kind: ColormapKind::Magma,
            reversed: false,
        }
    }
}

impl Colormap {
    /// The canonical names of all maps (without `_r`), in
    /// [`ColormapKind::ALL`] order.
    pub fn names() -> Vec<&'static str> {
        ColormapKind::ALL.iter().map(|k| k.name()).collect()
    }

    /// The lookup table as uploaded to the GPU (a 256x1 RGBA8 texture):
    /// RGBA with alpha 255, direction already applied, so entry 0 is the
    /// colour for the lowest value.
    pub fn lut(&self) -> [[u8; 4]; LUT_SIZE] {
        let table = self.kind.table();
        let mut lut = [[0u8; 4]; LUT_SIZE];
        for (i, out) in lut.iter_mut().enumerate() {
            let [r, g, b] = table[if self.reversed { LUT_SIZE - 1 - i } else { i }];
            *out = [r, g, b, 255];
        }
        lut
    }

    /// The LUT entry used for the normalised value `t`:
    /// `clamp(floor(t * 256), 0, 255)`, the same rule as matplotlib's
    /// `Colormap.__call__` for a float in `[0, 1]` with `N = 256`
    /// (so `t = 1.0` gives 255). Values below 0 and `-inf` give 0, values
    /// above 1 and `+inf` give 255, NaN gives 0.
    pub fn index(t: f32) -> usize {
        if t.is_nan() {
            return 0;
        }
        // t * 256 is exact in f32 (power of two), so this agrees with
        // matplotlib's float64 computation for every f32 input.
        (t * LUT_SIZE as f32).floor().clamp(0.0, (LUT_SIZE - 1) as f32) as usize
    }

    /// The colour (RGBA, alpha 255) for the normalised value `t`: the CPU
    /// twin of the shader lookup, `self.lut()[Colormap::index(t)]`.
    ///
    /// Never panics; NaN maps to entry 0 (callers are expected to handle
    /// NaN before mapping).
    pub fn map(&self, t: f32) -> [u8; 4] {
        let i = Self::index(t);
        let [r, g, b] = self.kind.table()[if self.reversed { LUT_SIZE - 1 - i } else { i }];
        [r, g, b, 255]
    }
}

impl fmt::Display for Colormap {
    /// The canonical name, with `_r` when reversed; parses back to `self`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reversed {
            f.pad(&format!("{}_r", self.kind.name()))
        } else {
            f.pad(self.kind.name())
        }
    }
}

impl FromStr for Colormap {
    type Err = Error;

    /// Parses a colormap name, ignoring ASCII case and surrounding whitespace;
    /// an `_r` suffix reverses the map (`"RdBu_r"`, `"blues"`, `"MAGMA_R"`).
    fn from_str(s: &str) -> Result<Self> {
        let trimmed = s.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (base, reversed) = match lower.strip_suffix("_r") {
            Some(base) => (base, true),
            None => (lower.as_str(), false),
        };
        if let Some(&kind) = ColormapKind::ALL
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(base))
        {
            return Ok(Colormap { kind, reversed });
        }

        let suggestion = closest_kind(base).map(|kind| Colormap { kind, reversed });
        let hint = match suggestion {
            Some(c) => format!(" (did you mean '{c}'?)"),
            None => String::new(),
        };
        Err(Error::Invalid(format!(
            "unknown colormap '{trimmed}'{hint}; choose one of {} (append _r to reverse)",
            Colormap::names().join(", ")
        )))
    }
}

/// Largest edit distance at which an unknown name gets a "did you mean".
const MAX_SUGGESTION_DISTANCE: usize = 2;

/// The kind whose lowercase name is closest to `lower_base` (already
/// lowercase, without `_r`), if within [`MAX_SUGGESTION_DISTANCE`]; ties go
/// to the earlier kind in [`ColormapKind::ALL`].
fn closest_kind(lower_base: &str) -> Option<ColormapKind> {
    ColormapKind::ALL
        .iter()
        .map(|&k| (edit_distance(lower_base, &k.name().to_ascii_lowercase()), k))
        .filter(|&(d, _)| d <= MAX_SUGGESTION_DISTANCE)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Optimal-string-alignment distance between `a` and `b`, by `char`:
/// insertions, deletions, substitutions and swaps of two adjacent characters
/// each cost 1 (so `"magam"` is 1 away from `"magma"`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows i-2, i-1 and i of the DP matrix.
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact entries from matplotlib's source data (`_cm_listed.py` for the
    /// listed maps; the end nodes of `_cm.py`'s segment data for Blues, Greys,
    /// RdBu and coolwarm, which land exactly on entries 0 and 255).
    const REFERENCE: &[(ColormapKind, usize, [f64; 3])] = &[
        // magma
        (ColormapKind::Magma, 0, [0.001462, 0.000466, 0.013866]),
        (ColormapKind::Magma, 64, [0.316654, 0.071690, 0.485380]),
        (ColormapKind::Magma, 128, [0.716387, 0.214982, 0.475290]),
        (ColormapKind::Magma, 255, [0.987053, 0.991438, 0.749504]),
        // inferno
        (ColormapKind::Inferno, 0, [0.001462, 0.000466, 0.013866]),
        (ColormapKind::Inferno, 128, [0.735683, 0.215906, 0.330245]),
        (ColormapKind::Inferno, 191, [0.977092, 0.550850, 0.039050]),
        (ColormapKind::Inferno, 255, [0.988362, 0.998364, 0.644924]),
        // plasma
        (ColormapKind::Plasma, 0, [0.050383, 0.029803, 0.527975]),
        (ColormapKind::Plasma, 128, [0.798216, 0.280197, 0.469538]),
        (ColormapKind::Plasma, 255, [0.940015, 0.975158, 0.131326]),
        // viridis
        (ColormapKind::Viridis, 0, [0.267004, 0.004874, 0.329415]),
        (ColormapKind::Viridis, 64, [0.229739, 0.322361, 0.545706]),
        (ColormapKind::Viridis, 128, [0.127568, 0.566949, 0.550556]),
        (ColormapKind::Viridis, 255, [0.993248, 0.906157, 0.143936]),
        // cividis
        (ColormapKind::Cividis, 0, [0.000000, 0.135112, 0.304751]),
        (ColormapKind::Cividis, 128, [0.488697, 0.485318, 0.471008]),
        (ColormapKind::Cividis, 255, [0.995737, 0.909344, 0.217772]),
        // turbo
        (ColormapKind::Turbo, 0, [0.18995, 0.07176, 0.23217]),
        (ColormapKind::Turbo, 64, [0.15844, 0.73551, 0.92305]),
        (ColormapKind::Turbo, 128, [0.64362, 0.98999, 0.23356]),
        (ColormapKind::Turbo, 191, [0.98590, 0.50479, 0.13367]),
        (ColormapKind::Turbo, 255, [0.47960, 0.01583, 0.01055]),
        // Blues (ColorBrewer, first and last node)
        (ColormapKind::Blues, 0, [0.968627, 0.984314, 1.000000]),
        (ColormapKind::Blues, 255, [0.031373, 0.188235, 0.419608]),
        // Greys
        (ColormapKind::Greys, 0, [1.0, 1.0, 1.0]),
        (ColormapKind::Greys, 255, [0.0, 0.0, 0.0]),
        // RdBu
        (ColormapKind::RdBu, 0, [0.403922, 0.000000, 0.121569]),
        (ColormapKind::RdBu, 255, [0.019608, 0.188235, 0.380392]),
        // coolwarm
        (ColormapKind::Coolwarm, 0, [0.2298057, 0.298717966, 0.753683153]),
        (
            ColormapKind::Coolwarm,
            255,
            [0.705673158, 0.01555616, 0.150232812],
        ),
    ];

    /// For the segment-data maps, entry `i` is the linear interpolation at
    /// `x = i / 255` between two nodes of matplotlib's `_cm.py` data:
    /// `(kind, entry, (x0, rgb0), (x1, rgb1))`.
    type Segment = (ColormapKind, usize, (f64, [f64; 3]), (f64, [f64; 3]));
    const SEGMENT_REFERENCE: &[Segment] = &[
        // Blues: 9 evenly spaced nodes; entry 128 lies between nodes 4 and 5.
        (
            ColormapKind::Blues,
            128,
            (0.5, [0.419608, 0.682353, 0.839216]),
            (0.625, [0.258824, 0.572549, 0.776471]),
        ),
        (
            ColormapKind::Greys,
            128,
            (0.5, [0.588235, 0.588235, 0.588235]),
            (0.625, [0.450980, 0.450980, 0.450980]),
        ),
        // RdBu: 11 evenly spaced nodes; node 5 (x = 0.5) is the white middle.
        (
            ColormapKind::RdBu,
            127,
            (0.4, [0.992157, 0.858824, 0.780392]),
            (0.5, [0.968627, 0.968627, 0.968627]),
        ),
        (
            ColormapKind::RdBu,
            128,
            (0.5, [0.968627, 0.968627, 0.968627]),
            (0.6, [0.819608, 0.898039, 0.941176]),
        ),
        // coolwarm: nodes every 1/32.
        (
            ColormapKind::Coolwarm,
            127,
            (0.46875, [0.833466556, 0.860207984, 0.860207984]),
            (0.5, [0.865395197, 0.86541021, 0.865395561]),
        ),
        (
            ColormapKind::Coolwarm,
            128,
            (0.5, [0.865395197, 0.86541021, 0.865395561]),
            (0.53125, [0.897787179, 0.848937047, 0.820880546]),
        ),
    ];

    /// Asserts every channel of `got` is within 1/255 of `want` (in [0, 1]).
    fn assert_close(kind: ColormapKind, i: usize, got: [u8; 3], want: [f64; 3]) {
        for c in 0..3 {
            let diff = (f64::from(got[c]) - want[c] * 255.0).abs();
            assert!(
                diff <= 1.0,
                "{} entry {i} channel {c}: got {got:?}, want {want:?} (x255 = {:.2})",
                kind.name(),
                want[c] * 255.0
            );
        }
    }

    #[test]
    fn tables_match_matplotlib_reference_entries() {
        for &(kind, i, want) in REFERENCE {
            assert_close(kind, i, kind.table()[i], want);
        }
    }

    #[test]
    fn segment_maps_match_interpolated_nodes() {
        for &(kind, i, (x0, c0), (x1, c1)) in SEGMENT_REFERENCE {
            let x = i as f64 / 255.0;
            assert!((x0..=x1).contains(&x), "{} entry {i}", kind.name());
            let f = (x - x0) / (x1 - x0);
            let want = [0, 1, 2].map(|c| c0[c] + f * (c1[c] - c0[c]));
            assert_close(kind, i, kind.table()[i], want);
        }
    }

    #[test]
    fn viridis_first_entry_in_bytes() {
        assert_eq!(ColormapKind::Viridis.table()[0], [68, 1, 84]);
        assert_eq!(ColormapKind::Magma.table()[255], [252, 253, 191]);
        assert_eq!(ColormapKind::Greys.table()[0], [255, 255, 255]);
        assert_eq!(ColormapKind::Greys.table()[255], [0, 0, 0]);
    }

    #[test]
    fn kinds_are_in_discriminant_order() {
        for (i, kind) in ColormapKind::ALL.iter().enumerate() {
            assert_eq!(*kind as u32 as usize, i);
        }
        assert_eq!(
            Colormap::names(),
            [
                "magma", "inferno", "plasma", "viridis", "cividis", "turbo", "Blues", "Greys", "RdBu",
                "coolwarm"
            ]
        );
    }

    #[test]
    fn diverging_maps() {
        let diverging: Vec<_> = ColormapKind::ALL
            .into_iter()
            .filter(|k| k.is_diverging())
            .collect();
        assert_eq!(diverging, [ColormapKind::RdBu, ColormapKind::Coolwarm]);
    }

    #[test]
    fn default_is_magma() {
        assert_eq!(
            Colormap::default(),
            Colormap {
                kind: ColormapKind::Magma,
                reversed: false
            }
        );
    }

    #[test]
    fn lut_is_opaque_and_reversal_mirrors_it() {
        for kind in ColormapKind::ALL {
            let fwd = Colormap {
                kind,
                reversed: false,
            }
            .lut();
            let rev = Colormap { kind, reversed: true }.lut();
            for i in 0..LUT_SIZE {
                let [r, g, b] = kind.table()[i];
                assert_eq!(fwd[i], [r, g, b, 255], "{} entry {i}", kind.name());
                assert_eq!(rev[i], fwd[LUT_SIZE - 1 - i], "{}_r entry {i}", kind.name());
            }
        }
    }

    #[test]
    fn index_follows_matplotlib() {
        let cases: &[(f32, usize)] = &[
            (0.0, 0),
            (0.5, 128),
            (1.0, 255),
            (1.0 / 256.0, 1),
            (0.999 / 256.0, 0),
            (255.0 / 256.0, 255),
            (0.996, 254),
            (f32::from_bits(1.0f32.to_bits() - 1), 255), // largest f32 below 1
            (-0.0, 0),
            (-0.5, 0),
            (1.5, 255),
            (f32::NEG_INFINITY, 0),
            (f32::INFINITY, 255),
            (f32::NAN, 0),
        ];
        for &(t, want) in cases {
            assert_eq!(Colormap::index(t), want, "t = {t:e}");
        }
        // Sweep against the float64 rule: floor(t * 256), with t = 1 -> 255.
        for k in 0..=10_000u32 {
            let t = k as f32 / 10_000.0;
            let want = ((f64::from(t) * 256.0).floor() as usize).min(255);
            assert_eq!(Colormap::index(t), want, "t = {t}");
        }
    }

    #[test]
    fn map_uses_the_lut() {
        for kind in ColormapKind::ALL {
            for reversed in [false, true] {
                let cmap = Colormap { kind, reversed };
                let lut = cmap.lut();
                assert_eq!(cmap.map(0.0), lut[0]);
                assert_eq!(cmap.map(0.5), lut[128]);
                assert_eq!(cmap.map(1.0), lut[255]);
                assert_eq!(cmap.map(-3.0), lut[0]);
                assert_eq!(cmap.map(7.0), lut[255]);
                assert_eq!(cmap.map(f32::NAN), lut[0]);
            }
        }
        let magma_r = Colormap {
            kind: ColormapKind::Magma,
            reversed: true,
        };
        assert_eq!(magma_r.map(0.0), [252, 253, 191, 255]);
        assert_eq!(magma_r.map(1.0), [0, 0, 4, 255]);
    }

    #[test]
    fn parses_matplotlib_spellings() {
        let cases: &[(&str, ColormapKind, bool)] = &[
            ("magma", ColormapKind::Magma, false),
            ("MAGMA", ColormapKind::Magma, false),
            ("magma_r", ColormapKind::Magma, true),
            ("Magma_R", ColormapKind::Magma, true),
            ("blues", ColormapKind::Blues, false),
            ("Blues", ColormapKind::Blues, false),
            ("Blues_r", ColormapKind::Blues, true),
            ("greys", ColormapKind::Greys, false),
            ("rdbu", ColormapKind::RdBu, false),
            ("RdBu", ColormapKind::RdBu, false),
            ("RdBu_r", ColormapKind::RdBu, true),
            ("coolwarm", ColormapKind::Coolwarm, false),
            ("CoolWarm_r", ColormapKind::Coolwarm, true),
            ("turbo", ColormapKind::Turbo, false),
            ("  viridis\n", ColormapKind::Viridis, false),
        ];
        for &(s, kind, reversed) in cases {
            assert_eq!(
                s.parse::<Colormap>().unwrap(),
                Colormap { kind, reversed },
                "{s:?}"
            );
        }
    }

    #[test]
    fn display_round_trips_for_every_kind() {
        for kind in ColormapKind::ALL {
            for reversed in [false, true] {
                let cmap = Colormap { kind, reversed };
                let text = cmap.to_string();
                let want = if reversed {
                    format!("{}_r", kind.name())
                } else {
                    kind.name().to_owned()
                };
                assert_eq!(text, want);
                assert_eq!(text.parse::<Colormap>().unwrap(), cmap);
            }
        }
        assert_eq!(format!("{:>9}|", Colormap::default()), "    magma|");
    }

    fn parse_err(s: &str) -> String {
        match s.parse::<Colormap>() {
            Err(Error::Invalid(msg)) => msg,
            other => panic!("{s:?}: expected Error::Invalid, got {other:?}"),
        }
    }

    #[test]
    fn unknown_names_list_the_choices() {
        let all = "choose one of magma, inferno, plasma, viridis, cividis, turbo, Blues, \
                   Greys, RdBu, coolwarm (append _r to reverse)";
        assert_eq!(
            parse_err("magam"),
            format!("unknown colormap 'magam' (did you mean 'magma'?); {all}")
        );
        assert_eq!(parse_err("jet"), format!("unknown colormap 'jet'; {all}"));
        assert_eq!(parse_err(""), format!("unknown colormap ''; {all}"));
        assert_eq!(parse_err("_r"), format!("unknown colormap '_r'; {all}"));
    }

    #[test]
    fn suggestions_keep_the_reversal_and_matplotlib_case() {
        let cases: &[(&str, Option<&str>)] = &[
            ("magam", Some("magma")),
            ("Virdis", Some("viridis")),
            ("blue", Some("Blues")),
            ("grays", Some("Greys")),
            ("rdbu_rr", None),
            ("RdBuu_r", Some("RdBu_r")),
            ("colwarm_r", Some("coolwarm_r")),
            ("infernoo", Some("inferno")),
            ("turbine", None),
            ("hot", None),
        ];
        for &(input, want) in cases {
            let msg = parse_err(input);
            match want {
                Some(name) => assert!(
                    msg.contains(&format!("(did you mean '{name}'?)")),
                    "{input:?}: {msg}"
                ),
                None => assert!(!msg.contains("did you mean"), "{input:?}: {msg}"),
            }
        }
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("magma", "magma"), 0);
        assert_eq!(edit_distance("magam", "magma"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ca", "abc"), 3);
        assert_eq!(edit_distance("blue", "blues"), 1);
    }
}
