//! Deserializers for the shapes values take in Python and TOML:
//! `size=(1920, 1080)` or `"1920x1080"`, `annotate=True` or `".1f"`,
//! `robust=True` or `99`, `aspect=2` or `"equal"`, `index=3` or `[3, 0]`.

use serde::{Deserialize, Deserializer};

use super::parse_size;

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

pub(super) fn one_or_many<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(match Option::<OneOrMany<T>>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(v)) => vec![v],
        Some(OneOrMany::Many(v)) => v,
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrPair {
    Str(String),
    Pair(u32, u32),
}

pub(super) fn size<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<(u32, u32)>, D::Error> {
    use serde::de::Error as _;
    match Option::<StrOrPair>::deserialize(d)? {
        None => Ok(None),
        Some(StrOrPair::Str(s)) => parse_size(&s).map(Some).map_err(D::Error::custom),
        Some(StrOrPair::Pair(w, h)) if w > 0 && h > 0 => Ok(Some((w, h))),
        Some(StrOrPair::Pair(w, h)) => Err(D::Error::custom(format!("size ({w}, {h}) has a zero side"))),
    }
}

pub(super) fn grid<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<StrOrPair>::deserialize(d)? {
        None => None,
        Some(StrOrPair::Str(s)) => Some(s),
        Some(StrOrPair::Pair(r, c)) => Some(format!("{r}x{c}")),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BoolOr<T> {
    Bool(bool),
    Value(T),
}

pub(super) fn annotate<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<BoolOr<String>>::deserialize(d)? {
        None | Some(BoolOr::Bool(false)) => None,
        Some(BoolOr::Bool(true)) => Some(".2f".into()),
        Some(BoolOr::Value(f)) => Some(f),
    })
}

pub(super) fn robust<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f32>, D::Error> {
    Ok(match Option::<BoolOr<f32>>::deserialize(d)? {
        None | Some(BoolOr::Bool(false)) => None,
        Some(BoolOr::Bool(true)) => Some(98.0),
        Some(BoolOr::Value(p)) => Some(p),
    })
}

pub(super) fn string_or_bool<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<BoolOr<String>>::deserialize(d)? {
        None => None,
        Some(BoolOr::Bool(b)) => Some(if b { "true" } else { "index" }.into()),
        Some(BoolOr::Value(s)) => Some(s),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Num(f64),
}

pub(super) fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    Ok(match Option::<StrOrNum>::deserialize(d)? {
        None => None,
        Some(StrOrNum::Str(s)) => Some(s),
        Some(StrOrNum::Num(n)) => Some(n.to_string()),
    })
}
