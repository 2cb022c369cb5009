//! Hostile bytes on every input parser: property tests (proptest) that feed
//! each reader random bytes, and valid files with one field made wrong
//! (sizes far past the bytes present, lengths cut, dtypes and shapes of
//! every kind), and check what a user relies on: an error naming the file
//! or a value that matches its shape, never a panic, never an allocation
//! sized by a header instead of by the bytes there, never a hang.
//!
//! Case counts are bounded so the suite stays within seconds in CI
//! (`ACTMAP_PROPTEST_CASES=N` runs more); the fuzz targets in
//! `benches/fuzz` run the same parsers for as long as one likes.

use std::io::Write;
use std::path::{Path, PathBuf};

use actmap::input::csv::{CsvOptions, CsvRowReader, parse_csv};
use actmap::input::npy::{NpyRowReader, parse_npy, read_npy_header};
use actmap::input::{
    LoadOptions, RowSource, SafetensorsFile, list_npz, load, load_all, read_npz, skipped_npz_members,
};
use actmap::live::{FrameDecoder, TextDecoder};
use actmap::options::CoordsSpec;
use actmap::render::spec::FigureSpec;
use actmap::runlog::{RunReader, RunWriter, WriterOptions};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property: small enough for CI, more with `ACTMAP_PROPTEST_CASES`.
fn cases(n: u32) -> Config {
    let n = std::env::var("ACTMAP_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

/// The header of a `.npy` file (version 1.0) holding `dict`, padded as numpy does.
fn npy_header(dict: &str) -> Vec<u8> {
    let mut text = dict.to_string();
    let unpadded = 10 + text.len() + 1;
    text.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

fn npy_bytes(descr: &str, shape: &[usize], fortran: bool, data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fo = if fortran { "True" } else { "False" };
    let mut out = npy_header(&format!(
        "{{'descr': '{descr}', 'fortran_order': {fo}, 'shape': {shape}, }}"
    ));
    out.extend_from_slice(data);
    out
}

const DESCRS: &[&str] = &[
    "<f4", ">f4", "<f8", ">f8", "<f2", "|u1", "|i1", "<i2", "<i4", ">i8", "<u8", "|b1", "<c8", "|O", "<U3",
    "<V4", "f4", "<f16", "", "<<f4",
];

/// Sizes of every scale: small, around a power of two, past u32, near usize::MAX.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..6,
        2 => 1usize..5000,
        1 => Just(1usize << 31),
        1 => Just(u32::MAX as usize + 1),
        1 => Just(1usize << 62),
        1 => Just(usize::MAX),
    ]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..5)
}

/// Mutations of a valid file: flip bytes, cut it, or splice in garbage.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(
        prop_oneof![
            4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
            1 => any::<usize>().prop_map(Mutation::Truncate),
            1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
                .prop_map(|(i, b)| Mutation::Insert(i, b)),
        ],
        1..4,
    )
}

fn mutate(mut bytes: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        if bytes.is_empty() {
            break;
        }
        match m {
            Mutation::Flip(i, b) => {
                let i = i % bytes.len();
                bytes[i] ^= b | 1;
            }
            Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
            Mutation::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
        }
    }
    bytes
}

fn product(shape: &[usize]) -> usize {
    shape.iter().product()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

/// An error of a file reader must name the file.
fn names_file(e: &actmap::Error, path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    e.to_string().contains(&name)
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any header: a value whose data matches its shape, or an error naming the file.
    #[test]
    fn npy_any_header_fields(
        descr in prop::sample::select(DESCRS),
        shape in shape(),
        fortran in any::<bool>(),
        data in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let bytes = npy_bytes(descr, &shape, fortran, &data);
        match parse_npy(&bytes, Path::new("hostile.npy")) {
            Ok(t) => {
                prop_assert_eq!(&t.shape, &shape);
                prop_assert_eq!(t.data.len(), product(&shape));
            }
            Err(e) => prop_assert!(e.to_string().contains("hostile.npy"), "{e}"),
        }
    }

    /// A valid file, mutated: bytes flipped, cut or spliced.
    #[test]
    fn npy_mutated(
        rows in 0usize..6, cols in 0usize..6,
        descr in prop::sample::select(&DESCRS[..12]),
        ms in mutations(),
    ) {
        let size = match &descr[1..] { "f8" | "i8" | "u8" => 8, "f4" | "i4" => 4, "f2" | "i2" => 2, _ => 1 };
        let data = vec![0x3fu8; rows * cols * size];
        let bytes = mutate(npy_bytes(descr, &[rows, cols], false, &data), &ms);
        if let Ok(t) = parse_npy(&bytes, Path::new("m.npy")) {
            prop_assert_eq!(t.data.len(), product(&t.shape));
        }
        // The streaming reader and the header reader agree on what they accept.
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "m.npy", &bytes);
        let header = read_npy_header(&p);
        if let Ok(mut r) = NpyRowReader::open(&p) {
            prop_assert!(header.is_ok());
            let mut out = Vec::new();
            let mut total = 0;
            loop {
                match r.read_rows(3, &mut out) {
                    Ok(0) => break,
                    Ok(n) => total += n,
                    Err(e) => { prop_assert!(names_file(&e, &p), "{e}"); break; }
                }
            }
            prop_assert!(total <= r.rows());
        }
    }

    /// Random bytes, and random bytes after the magic.
    #[test]
    fn npy_random_bytes(tail in prop::collection::vec(any::<u8>(), 0..300), magic in any::<bool>(), v in 0u8..5) {
        let mut bytes = if magic { vec![0x93, b'N', b'U', b'M', b'P', b'Y', v, 0] } else { Vec::new() };
        bytes.extend_from_slice(&tail);
        if let Ok(t) = parse_npy(&bytes, Path::new("r.npy")) {
            prop_assert_eq!(t.data.len(), product(&t.shape));
        }
    }
}

/// A `.npz` archive of `members` (name, .npy bytes), stored or deflated.
fn npz_bytes(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in members {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

proptest! {
    #![proptest_config(cases(96))]

    /// A valid archive (members of any header), mutated, read every way `load` reads it.
    #[test]
    fn npz_mutated(
        shape_a in prop::collection::vec(0usize..5, 1..3),
        shape_b in shape(),
        deflate in any::<bool>(),
        ms in prop::collection::vec(mutations(), 0..2),
    ) {
        let a = npy_bytes("<f4", &shape_a, false, &vec![0u8; product(&shape_a) * 4]);
        let b = npy_bytes("<f8", &shape_b, false, &[1u8; 64]);
        let mut bytes = npz_bytes(&[("a.npy", a), ("b.npy", b), ("c.txt", b"x".to_vec())], deflate);
        for m in &ms {
            bytes = mutate(bytes, m);
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "m.npz", &bytes);
        let _ = list_npz(&p);
        let _ = skipped_npz_members(&p);
        match read_npz(&p, None) {
            Ok(ts) => for t in ts { prop_assert_eq!(t.data.len(), product(&t.shape)); },
            Err(e) => prop_assert!(names_file(&e, &p), "{e}"),
        }
        let _ = load_all(&p, &LoadOptions::default());
        let _ = actmap::input::describe(&p);
    }

    #[test]
    fn npz_random_bytes(tail in prop::collection::vec(any::<u8>(), 0..400), zip_magic in any::<bool>()) {
        let mut bytes = if zip_magic { b"PK\x03\x04".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&tail);
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "r.npz", &bytes);
        prop_assert!(read_npz(&p, None).is_err() || bytes.len() >= 22);
        let _ = list_npz(&p);
    }
}

const ST_DTYPES: &[&str] = &[
    "F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "U64", "BOOL", "F8_E4M3", "C64", "X",
];

fn safetensors_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any dtype, shape and offsets in the JSON header: what is read holds its shape.
    #[test]
    fn safetensors_any_header_fields(
        dtype in prop::sample::select(ST_DTYPES),
        shape in shape(),
        begin in prop_oneof![0u64..80, Just(u64::MAX), Just(1u64 << 63)],
        len in prop_oneof![0u64..80, Just(u64::MAX), Just(1u64 << 40)],
        data_len in 0usize..96,
        meta in any::<bool>(),
    ) {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let end = begin.wrapping_add(len);
        let metadata = if meta { r#""__metadata__": {"format": "pt", "n": 3},"# } else { "" };
        let header = format!(
            r#"{{{metadata}"t": {{"dtype": "{dtype}", "shape": [{}], "data_offsets": [{begin}, {end}]}}}}"#,
            dims.join(",")
        );
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "h.safetensors", &safetensors_bytes(&header, &vec![0u8; data_len]));
        match SafetensorsFile::open(&p) {
            Ok(f) => match f.read_all() {
                Ok(ts) => for t in ts { prop_assert_eq!(t.data.len(), product(&t.shape)); },
                Err(e) => prop_assert!(names_file(&e, &p), "{e}"),
            },
            Err(e) => prop_assert!(names_file(&e, &p), "{e}"),
        }
    }

    /// A valid two-tensor file, mutated.
    #[test]
    fn safetensors_mutated(ms in mutations(), huge_len in any::<bool>()) {
        let header = r#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F16","shape":[4],"data_offsets":[24,32]}}"#;
        let mut bytes = mutate(safetensors_bytes(header, &[0x40u8; 32]), &ms);
        if huge_len && bytes.len() >= 8 {
            bytes[..8].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "m.safetensors", &bytes);
        if let Ok(f) = SafetensorsFile::open(&p) {
            for t in &f.tensors {
                if let Ok(v) = f.read(t) { prop_assert_eq!(v.data.len(), product(&v.shape)); }
            }
        }
        let _ = load(&p, &LoadOptions::default());
    }
}

/// Text of CSV-ish tokens: numbers, missing values, quotes, separators, line ends.
fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"1".to_vec()),
        Just(b"-2.5e3".to_vec()),
        Just(b"nan".to_vec()),
        Just(b"inf".to_vec()),
        Just(b"NA".to_vec()),
        Just(b"".to_vec()),
        Just(b"x".to_vec()),
        Just(b"\"a,b\"".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b",".to_vec()),
        Just(b"\t".to_vec()),
        Just(b";".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"#".to_vec()),
        Just(b"\xef\xbb\xbf".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"1e999".to_vec()),
        Just(b"0x10".to_vec()),
        Just(b"\0".to_vec()),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(token, 0..80).prop_map(|v| v.concat())
}

fn csv_options() -> impl Strategy<Value = CsvOptions> {
    (
        prop::option::of(prop::sample::select(
            &[b',', b'\t', b';', b' ', b'|', b'"', b'\n'][..],
        )),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(delimiter, header, row_labels)| CsvOptions {
            delimiter,
            header,
            row_labels,
        })
}

proptest! {
    #![proptest_config(cases(512))]

    /// The in-memory parser, sequential and threaded, on any text: a
    /// rectangle of values with labels of the right length, or an error.
    #[test]
    fn csv_any_text(text in csv_text(), opts in csv_options(), tsv in any::<bool>()) {
        let name = if tsv { "t.tsv" } else { "t.csv" };
        let one = parse_csv(&text, Path::new(name), &opts);
        if let Ok(t) = &one {
            prop_assert_eq!(t.shape.len(), 2);
            prop_assert_eq!(t.data.len(), product(&t.shape));
        }
        let par = actmap::input::csv::parse_csv_threads(&text, Path::new(name), &opts, 3);
        prop_assert_eq!(one.is_ok(), par.is_ok(), "threads agree on {:?}", String::from_utf8_lossy(&text));
        if let (Ok(a), Ok(b)) = (&one, &par) {
            prop_assert_eq!(&a.shape, &b.shape);
            let same = a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits());
            prop_assert!(same);
        }
    }

    /// The streaming row reader (what `watch` and big files use) on the same text.
    #[test]
    fn csv_rows_any_text(text in csv_text(), opts in csv_options()) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "s.csv", &text);
        if let Ok(Some(mut r)) = CsvRowReader::open(&p, &opts) {
            let mut out = Vec::new();
            for _ in 0..1000 {
                match r.read_rows(7, &mut out) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            prop_assert_eq!(out.len() % r.cols().max(1), 0);
        }
    }
}

/// A v1 or v2 binary frame with any header fields, its body as long as given.
#[allow(clippy::too_many_arguments)]
fn raw_frame(
    version: u8,
    flags: u8,
    name: &[u8],
    name_len: u16,
    rows: u32,
    cols: u32,
    h: u32,
    body: &[u8],
) -> Vec<u8> {
    let mut out = b"AMAP".to_vec();
    out.push(version);
    out.push(flags);
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&rows.to_le_bytes());
    out.extend_from_slice(&cols.to_le_bytes());
    if version == 2 {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&1.5f64.to_le_bytes());
    }
    out.extend_from_slice(name);
    out.extend_from_slice(body);
    out
}

fn feed<T>(bytes: &[u8], cuts: &[usize], mut push: impl FnMut(&[u8]) -> Vec<T>) -> Vec<T> {
    let mut out = Vec::new();
    let mut at = 0;
    for c in cuts {
        let end = (at + c).min(bytes.len());
        out.extend(push(&bytes[at..end]));
        at = end;
    }
    out.extend(push(&bytes[at..]));
    out
}

fn u32_field() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..5, 1 => Just(u32::MAX), 1 => Just(1 << 20), 1 => Just(1 << 28)]
}

proptest! {
    #![proptest_config(cases(512))]

    /// Text rows cut into chunks anywhere decode the same as whole.
    #[test]
    fn text_stream_any_bytes(text in csv_text(), cuts in prop::collection::vec(0usize..20, 0..10)) {
        let mut whole = TextDecoder::new();
        let mut a: Vec<_> = whole.push(&text);
        a.extend(whole.finish());
        let mut parts = TextDecoder::new();
        let mut b = feed(&text, &cuts, |c| parts.push(c));
        b.extend(parts.finish());
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            match (x, y) {
                (Ok(x), Ok(y)) => {
                    prop_assert_eq!(x.data.len(), x.rows * x.cols);
                    prop_assert_eq!(&x.channel, &y.channel);
                    prop_assert_eq!(x.data.len(), y.data.len());
                }
                (Err(x), Err(y)) => prop_assert_eq!(x, y),
                _ => prop_assert!(false, "chunking changed the result"),
            }
        }
    }

    /// Binary frames with any header fields, fed in any chunking: every
    /// decoded frame holds rows x columns values; the decoder keeps only
    /// the bytes of the frame it waits for (no allocation from a header).
    #[test]
    fn binary_stream_any_header(
        version in prop_oneof![Just(1u8), Just(2u8), 0u8..255],
        flags in 0u8..4,
        name in prop::collection::vec(any::<u8>(), 0..8),
        name_delta in -2i32..3,
        rows in u32_field(), cols in u32_field(), h in u32_field(),
        body in prop::collection::vec(any::<u8>(), 0..200),
        cuts in prop::collection::vec(0usize..40, 0..8),
        then_valid in any::<bool>(),
    ) {
        let name_len = (name.len() as i32 + name_delta).clamp(0, u16::MAX as i32) as u16;
        let mut bytes = raw_frame(version, flags, &name, name_len, rows, cols, h, &body);
        let good = FrameDecoder::encode("ok", 1, 3, &[1.0, 2.0, 3.0]);
        if then_valid { bytes.extend_from_slice(&good); }
        let mut d = FrameDecoder::new();
        let total = bytes.len();
        let got = feed(&bytes, &cuts, |c| d.push(c));
        prop_assert!(d.pending() <= total);
        for f in got.iter().flatten() {
            prop_assert_eq!(f.data.len(), f.rows * f.cols);
            if let Some(s) = &f.steps { prop_assert_eq!(s.len(), f.rows); }
        }
    }

    /// A stream of valid frames cut anywhere decodes to the same frames.
    #[test]
    fn binary_stream_chunking(
        frames in prop::collection::vec((1usize..4, 1usize..5, any::<bool>()), 1..5),
        junk in prop::collection::vec(any::<u8>(), 0..20),
        cuts in prop::collection::vec(0usize..30, 0..12),
    ) {
        let mut bytes = junk.iter().map(|b| if *b == b'A' { b'B' } else { *b }).collect::<Vec<u8>>();
        let mut want = Vec::new();
        for (i, (rows, cols, v2)) in frames.iter().enumerate() {
            let data: Vec<f32> = (0..rows * cols).map(|x| x as f32 + i as f32).collect();
            let name = format!("c{i}");
            if *v2 {
                let steps: Vec<i64> = (0..*rows as i64).collect();
                bytes.extend(FrameDecoder::encode_v2(&name, &[*cols], &data, Some(&steps), 2.0));
            } else {
                bytes.extend(FrameDecoder::encode(&name, *rows, *cols, &data));
            }
            want.push((name, data));
        }
        let mut d = FrameDecoder::new();
        let got: Vec<_> = feed(&bytes, &cuts, |c| d.push(c)).into_iter().filter_map(|r| r.ok()).collect();
        prop_assert_eq!(got.len(), want.len());
        for (f, (name, data)) in got.iter().zip(&want) {
            prop_assert_eq!(&f.channel, name);
            prop_assert_eq!(&f.data, data);
        }
    }
}

/// `key = value` lines of a table: each key with values of its own type
/// (in range and far out of it), and now and then one of another type.
fn toml_lines(table: &'static [(&'static str, &'static [&'static str])]) -> impl Strategy<Value = String> {
    let line =
        (prop::sample::select(table), any::<prop::sample::Index>(), 0u8..10).prop_map(|((k, vs), i, odd)| {
            let v = if odd == 0 {
                WRONG_TYPE[i.index(WRONG_TYPE.len())]
            } else {
                vs[i.index(vs.len())]
            };
            (k, format!("{k} = {v}\n"))
        });
    prop::collection::vec(line, 0..6).prop_map(|lines| {
        let mut seen = std::collections::HashSet::new();
        lines
            .into_iter()
            .filter(|(k, _)| seen.insert(*k))
            .map(|(_, l)| l)
            .collect::<String>()
    })
}

const WRONG_TYPE: &[&str] = &["true", "\"x\"", "[]", "{}", "-1", "1.5", "[\"a\", 1]"];
const SIZES: &[&str] = &["1", "0", "4294967295", "100000", "16", "1200"];
const FLOATS: &[&str] = &["1.0", "0.0", "-1", "1e30", "nan", "-inf", "3.4e38", "1e-45"];
const INDICES: &[&str] = &[
    "0",
    "1",
    "18446744073709551615",
    "[0, 2]",
    "[5, 1]",
    "[0, 18446744073709551615]",
    "[]",
];
const COLORS: &[&str] = &[
    "\"#ff0000\"",
    "\"red\"",
    "\"#zz\"",
    "\"\"",
    "\"#ff000080\"",
    "\"rgb(1,2,3)\"",
];
const FIGURE_KEYS: &[(&str, &[&str])] = &[
    ("width", SIZES),
    ("height", SIZES),
    ("scale", FLOATS),
    ("title", &["\"t\"", "\"\"", "\"\\u0000\""]),
    (
        "grid",
        &[
            "\"2x2\"",
            "\"0x3\"",
            "\"9999999999999x9999999999999\"",
            "\"4294967296x4294967296\"",
            "\"1x1\"",
            "\"x\"",
            "\"8x8\"",
            "\"65x1\"",
        ],
    ),
    (
        "colorbar",
        &["\"shared\"", "\"none\"", "\"per-panel\"", "\"bogus\""],
    ),
    ("background", COLORS),
    ("bare", &["true", "false"]),
];
const PANEL_KEYS: &[(&str, &[&str])] = &[
    ("kind", &["\"heatmap\"", "\"lines\"", "\"nope\""]),
    ("index", INDICES),
    ("rows", INDICES),
    ("transpose", &["true"]),
    ("cmap", &["\"viridis\"", "\"magma_r\"", "\"nope\"", "\"\""]),
    (
        "norm",
        &["\"log\"", "\"symlog\"", "\"linear\"", "\"centered\"", "\"x\""],
    ),
    ("vmin", FLOATS),
    ("vmax", FLOATS),
    ("vcenter", FLOATS),
    ("linthresh", FLOATS),
    ("robust", &["true", "2", "101", "-1", "nan", "50"]),
    ("agg", &["\"max\"", "\"mean\"", "\"minmax\"", "\"x\""]),
    ("nan_color", COLORS),
    ("annotate", &["true", "\".2f\"", "\"{\"", "\"%d\"", "\".999f\""]),
    ("origin", &["\"upper\"", "\"lower\"", "\"x\""]),
    (
        "aspect",
        &["\"equal\"", "\"auto\"", "-1", "0", "\"nan\"", "1e300"],
    ),
    ("colorbar_label", &["\"v\""]),
    ("labels", &["[\"a\", \"b\"]", "[]"]),
    ("colors", &["[\"red\", \"#zz\"]", "[]"]),
    ("mark_top", &["0", "3", "18446744073709551615"]),
    ("line_width", FLOATS),
];
const AXIS_KEYS: &[(&str, &[&str])] = &[
    ("label", &["\"l\""]),
    ("mode", &["\"true\"", "\"index\"", "\"x\""]),
    ("format", &["\"k\"", "\"plain\"", "\"x\""]),
    ("categories", &["[\"a\", \"b\", \"c\"]", "[]", "[\"a\"]"]),
    (
        "limits",
        &["[0, 1]", "[1, 0]", "[nan, 1]", "[-inf, inf]", "[0, 1e308]"],
    ),
    (
        "coords",
        &[
            "\"c.csv\"",
            "\"missing.npy\"",
            "\"/dev/null\"",
            "[1, 2, 3]",
            "[nan, 1, 2]",
            "[3, 2, 1]",
            "[]",
            "[1, 1, 1, 1]",
            "[0, 1e308, -1e308]",
        ],
    ),
];

fn toml_spec() -> impl Strategy<Value = String> {
    (
        toml_lines(FIGURE_KEYS),
        prop::collection::vec(
            (
                toml_lines(PANEL_KEYS),
                toml_lines(AXIS_KEYS),
                toml_lines(AXIS_KEYS),
            ),
            0..4,
        ),
        prop::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(|(fig, panels, garbage)| {
            let mut s = fig;
            for (p, x, y) in panels {
                s.push_str("[[panel]]\ninput = \"a.csv\"\n");
                s.push_str(&p);
                if !x.is_empty() {
                    s.push_str("[panel.x]\n");
                    s.push_str(&x);
                }
                if !y.is_empty() {
                    s.push_str("[panel.y]\n");
                    s.push_str(&y);
                }
            }
            s.push_str(&String::from_utf8_lossy(&garbage));
            s
        })
}

proptest! {
    #![proptest_config(cases(256))]

    /// Any spec: a figure, or an error; never a panic, even on grid sizes
    /// that overflow or coordinates that name missing or hostile files.
    #[test]
    fn toml_spec_any(text in toml_spec(), coords in csv_text()) {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "f.toml", text.as_bytes());
        write(dir.path(), "c.csv", &coords);
        match FigureSpec::from_file(&p) {
            Ok(spec) => {
                let grids = (0..spec.panels.len())
                    .map(|i| actmap::Grid::from_fn(3, 4, |r, c| (r * 4 + c + i) as f32).unwrap())
                    .collect();
                let _ = spec.build_with_grids(grids, dir.path());
            }
            Err(e) => prop_assert!(names_file(&e, &p), "{e}"),
        }
    }

    /// Coordinate lists from the command line: numbers stay numbers, the
    /// rest is a file name; read as a file, a hostile file is an error.
    #[test]
    fn coordinate_lists(s in "[0-9eE.,+ naif-]{0,24}", file in csv_text()) {
        match CoordsSpec::from_arg(&s) {
            CoordsSpec::Values(v) => prop_assert!(!v.is_empty()),
            CoordsSpec::File(f) => prop_assert_eq!(f, s.clone()),
        }
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x.csv", &file);
        let spec = "[[panel]]\ninput = \"a.csv\"\n[panel.x]\ncoords = \"x.csv\"\n[[panel]]\ninput = \"b.csv\"\n[panel.y]\ncoords = \"x.csv\"\n";
        let p = write(dir.path(), "c.toml", spec.as_bytes());
        let spec = FigureSpec::from_file(&p).unwrap();
        let grids = (0..2).map(|_| actmap::Grid::from_fn(2, 3, |r, c| (r + c) as f32).unwrap()).collect();
        let _ = spec.build_with_grids(grids, dir.path());
    }
}

/// A real run log of one channel (rows of 4) and one of 2-D records.
fn run_log(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let w = RunWriter::open(&run, WriterOptions::default()).unwrap();
    for s in 0..6 {
        w.append("acts", Some(s * 10), 1.0, &[4], &[s as f32; 4]).unwrap();
        w.append("attn", Some(s), 1.0, &[2, 3], &[0.5; 6]).unwrap();
    }
    w.close().unwrap();
    run
}

/// Every `zarr.json` under `dir`.
fn metadata_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            metadata_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "zarr.json") {
            out.push(p);
        }
    }
}

/// Read everything a viewer reads from a run log.
fn read_run(run: &Path) {
    let Ok(r) = RunReader::open(run) else { return };
    for name in r.channel_names().to_vec() {
        let Ok(c) = r.channel(&name) else { continue };
        let _ = c.summary();
        let rows = c.rows().min(64);
        let mut out = Vec::new();
        let _ = c.read(0..rows, &mut out);
        let _ = c.steps(0..rows);
        let _ = c.times(0..rows);
        if let Ok(index) = c.step_index()
            && !index.is_empty()
        {
            let _ = c.record_at(&index, index.len() - 1);
        }
    }
}

/// JSON values to put in a metadata field: sizes past anything on disk,
/// wrong types, negative numbers.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(1u64 << 40)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(3)),
        Just(json!([1u64 << 40, 4])),
        Just(json!([3, 1u64 << 40])),
        Just(json!([u64::MAX, u64::MAX])),
        Just(json!([])),
        Just(json!([0])),
        Just(json!([0, 0])),
        Just(json!("float32")),
        Just(json!("int64")),
        Just(json!("complex64")),
        Just(json!("string")),
        Just(json!(null)),
        Just(json!({})),
        Just(json!(1.5)),
        Just(json!([{"name": "bytes"}])),
        Just(json!([{"name": "zstd", "configuration": {"level": 1}}])),
    ]
}

proptest! {
    #![proptest_config(cases(128))]

    /// A run log whose metadata (any `zarr.json`) has one field replaced,
    /// or is cut or flipped: readers give records or errors, never a panic
    /// or an allocation the size of what the metadata claims.
    #[test]
    fn runlog_metadata_fields(which in any::<usize>(), key in prop::sample::select(&[
        "shape", "chunk_grid", "data_type", "fill_value", "codecs", "zarr_format", "node_type", "attributes",
        "consolidated_metadata", "chunk_key_encoding", "dimension_names",
    ][..]), chunk_shape in any::<bool>(), value in json_value()) {
        let dir = tempfile::tempdir().unwrap();
        let run = run_log(dir.path());
        let mut files = Vec::new();
        metadata_files(&run, &mut files);
        let f = &files[which % files.len()];
        let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        if let Some(obj) = meta.as_object_mut() {
            if chunk_shape && key == "chunk_grid" {
                obj.insert(key.into(), serde_json::json!({"name": "regular", "configuration": {"chunk_shape": value}}));
            } else {
                obj.insert(key.into(), value);
            }
        }
        std::fs::write(f, serde_json::to_vec(&meta).unwrap()).unwrap();
        read_run(&run);
    }

    #[test]
    fn runlog_metadata_bytes(which in any::<usize>(), ms in mutations()) {
        let dir = tempfile::tempdir().unwrap();
        let run = run_log(dir.path());
        let mut files = Vec::new();
        metadata_files(&run, &mut files);
        let f = &files[which % files.len()];
        let bytes = mutate(std::fs::read(f).unwrap(), &ms);
        std::fs::write(f, bytes).unwrap();
        read_run(&run);
    }
}

/// Regression: a grid whose cell count overflows is an error, not a panic
/// (debug builds) or a wrapped product that passes the check (release).
#[test]
fn a_grid_whose_size_overflows_is_an_error() {
    for g in [
        "4294967296x4294967296",
        "18446744073709551615x2",
        "9999999999999x9999999999999",
    ] {
        let e = actmap::render::spec::parse_grid(g).unwrap_err();
        assert!(e.to_string().contains("bad grid"), "{g}: {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "g.toml",
        b"grid = \"4294967296x4294967296\"\n[[panel]]\ninput = \"a.csv\"\n",
    );
    let spec = FigureSpec::from_file(&p).unwrap();
    let grid = actmap::Grid::from_fn(2, 2, |r, c| (r + c) as f32).unwrap();
    let e = spec.build_with_grids(vec![grid], dir.path()).unwrap_err();
    assert!(e.to_string().contains("bad grid"), "{e}");
}

/// Regression: a run log whose metadata claims records of 2^40 values
/// (far past the chunks on disk) is refused when opened, instead of a read
/// of one record asking for 4 TiB.
#[test]
fn a_run_log_claiming_huge_records_is_refused_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_log(dir.path());
    for (shape, chunk) in [
        (
            serde_json::json!([6, 1u64 << 40]),
            serde_json::json!([1, 1u64 << 40]),
        ),
        (
            serde_json::json!([1u64 << 50, 4]),
            serde_json::json!([1u64 << 50, 4]),
        ),
        (
            serde_json::json!([6, 1u64 << 20, 1u64 << 20]),
            serde_json::json!([1, 1u64 << 20, 1u64 << 20]),
        ),
    ] {
        let mut files = Vec::new();
        metadata_files(&run, &mut files);
        for f in files
            .iter()
            .filter(|f| f.parent().unwrap().ends_with("acts/values"))
        {
            let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            meta["shape"] = shape.clone();
            meta["chunk_grid"]["configuration"]["chunk_shape"] = chunk.clone();
            std::fs::write(f, serde_json::to_vec(&meta).unwrap()).unwrap();
        }
        // The consolidated copy in the root too.
        let root = run.join("zarr.json");
        let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
        if let Some(m) = meta.pointer_mut("/consolidated_metadata/metadata/acts~1values") {
            m["shape"] = shape.clone();
            m["chunk_grid"]["configuration"]["chunk_shape"] = chunk.clone();
        }
        std::fs::write(&root, serde_json::to_vec(&meta).unwrap()).unwrap();
        let r = RunReader::open(&run).unwrap();
        match r.channel("acts") {
            Err(e) => assert!(e.to_string().contains("values"), "{e}"),
            Ok(c) => {
                let mut out = Vec::new();
                let got = c.read(0..1, &mut out);
                assert!(got.is_err(), "shape {shape}: read {} values", out.len());
            }
        }
        read_run(&run);
    }
}
