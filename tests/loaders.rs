//! The `.npy` and CSV loaders against fixtures written by numpy and by
//! `tests/fixtures/gen_npy.py` (which documents every file).

use std::path::{Path, PathBuf};

use actmap::error::Error;
use actmap::input::csv::{CsvOptions, parse_csv, read_csv};
use actmap::input::npy::{NpyHeader, parse_npy, read_npy, read_npy_header};
use actmap::input::{DType, GridSelect, LoadOptions, Tensor, load, load_grid};

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

fn npy(name: &str) -> Tensor {
    read_npy(&fixture("npy", name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn csv(name: &str) -> Tensor {
    read_csv(&fixture("csv", name), &CsvOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `np.arange(12).reshape(3, 4) - 5`
fn signed() -> Vec<f32> {
    (-5..7).map(|v| v as f32).collect()
}

/// `np.arange(12).reshape(3, 4)`
fn unsigned() -> Vec<f32> {
    (0..12).map(|v| v as f32).collect()
}

/// The error message for loading `path` (which must fail), checked to name
/// the file and to be a format error.
fn load_err(path: &Path) -> String {
    let err = match load(path, &LoadOptions::default()) {
        Ok(t) => panic!("{}: expected an error, got {t:?}", path.display()),
        Err(e) => e,
    };
    assert!(
        matches!(err, Error::Format { .. }),
        "{}: not a format error: {err:?}",
        path.display()
    );
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "message does not name the file: {msg}");
    msg
}

fn npy_err(name: &str) -> String {
    load_err(&fixture("npy", name))
}

fn csv_err(name: &str) -> String {
    load_err(&fixture("csv", name))
}

fn labels(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

// --- .npy ------------------------------------------------------------------

#[test]
fn every_dtype_byte_order_and_memory_order() {
    let multi = [
        ("float16", DType::F16),
        ("float32", DType::F32),
        ("float64", DType::F64),
        ("int16", DType::I16),
        ("int32", DType::I32),
        ("int64", DType::I64),
        ("uint16", DType::U16),
        ("uint32", DType::U32),
        ("uint64", DType::U64),
    ];
    let mut names: Vec<(String, DType)> = Vec::new();
    for (name, dtype) in multi {
        for suffix in ["le_c", "be_c", "le_f"] {
            names.push((format!("{name}_{suffix}.npy"), dtype));
        }
    }
    for (name, dtype) in [
        ("float32", DType::F32),
        ("int16", DType::I16),
        ("float64", DType::F64),
    ] {
        names.push((format!("{name}_be_f.npy"), dtype));
    }
    for (name, dtype) in [("int8", DType::I8), ("uint8", DType::U8)] {
        for suffix in ["c", "f"] {
            names.push((format!("{name}_{suffix}.npy"), dtype));
        }
    }
    assert_eq!(names.len(), 34);
    for (name, dtype) in names {
        let t = npy(&name);
        assert_eq!(t.dtype, dtype, "{name}");
        assert_eq!(t.shape, vec![3, 4], "{name}");
        let want = if name.starts_with('u') {
            unsigned()
        } else {
            signed()
        };
        assert_eq!(t.data, want, "{name}");
        assert_eq!(t.source, fixture("npy", &name));
        assert_eq!(t.row_labels, None);
        assert_eq!(t.col_labels, None);
    }
}

#[test]
fn bool_arrays() {
    let want = [1., 0., 0., 1., 0., 0., 1., 0., 0., 1., 0., 0.];
    for name in ["bool_c.npy", "bool_f.npy"] {
        let t = npy(name);
        assert_eq!(t.dtype, DType::Bool);
        assert_eq!(t.shape, vec![3, 4]);
        assert_eq!(t.data, want, "{name}");
    }
}

#[test]
fn format_versions() {
    for name in ["float32_le_c.npy", "float32_v2.npy", "float32_v3.npy"] {
        let t = npy(name);
        assert_eq!((t.dtype, t.shape.as_slice()), (DType::F32, &[3, 4][..]));
        assert_eq!(t.data, signed(), "{name}");
    }
    let versions: Vec<(u8, u8)> = ["float32_le_c.npy", "float32_v2.npy", "float32_v3.npy"]
        .iter()
        .map(|n| read_npy_header(&fixture("npy", n)).unwrap().version)
        .collect();
    assert_eq!(versions, [(1, 0), (2, 0), (3, 0)]);
}

#[test]
fn header_reader() {
    let path = fixture("npy", "float64_be_f.npy");
    let h = read_npy_header(&path).unwrap();
    assert_eq!(
        h,
        NpyHeader {
            dtype: DType::F64,
            big_endian: true,
            fortran_order: true,
            shape: vec![3, 4],
            data_offset: 128,
            version: (1, 0),
        }
    );
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(len - h.data_offset, h.data_len() as u64);
    assert!(
        !read_npy_header(&fixture("npy", "uint8_c.npy"))
            .unwrap()
            .big_endian
    );
    let e = read_npy_header(&fixture("npy", "object.npy")).unwrap_err();
    assert!(e.to_string().contains("object arrays"), "{e}");
}

#[test]
fn other_shapes() {
    let t = npy("vector.npy");
    assert_eq!(t.shape, vec![5]);
    assert_eq!(t.data, [-2., -1., 0., 1., 2.]);

    let cube: Vec<f32> = (0..24).map(|v| v as f32).collect();
    for name in ["cube_c.npy", "cube_f.npy"] {
        let t = npy(name);
        assert_eq!(t.shape, vec![2, 3, 4], "{name}");
        assert_eq!(t.data, cube, "{name}");
    }

    let t = npy("scalar.npy");
    assert_eq!(
        (t.dtype, t.shape.len(), t.data.as_slice()),
        (DType::F64, 0, &[3.5][..])
    );
    // into_grid refuses it later.
    let e = load_grid(
        &fixture("npy", "scalar.npy"),
        &LoadOptions::default(),
        &GridSelect::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("0-d array"), "{e}");

    let t = npy("empty_rows.npy");
    assert_eq!(t.shape, vec![0, 4]);
    assert!(t.data.is_empty());
}

#[test]
fn special_values() {
    let t = npy("float16_special.npy");
    let d = &t.data;
    assert_eq!(&d[..4], &[1.0, -2.0, 65504.0, 2f32.powi(-24)]);
    assert_eq!(d[4].to_bits(), (-0.0f32).to_bits());
    assert_eq!(&d[5..7], &[f32::INFINITY, f32::NEG_INFINITY]);
    assert!(d[7].is_nan());

    let d = npy("float64_special.npy").data;
    assert_eq!(&d[..3], &[f32::INFINITY, f32::NEG_INFINITY, 0.0]);
    assert!(d[3].is_nan());
    assert_eq!(d[4], 0.1f32);

    let d = npy("int64_extremes.npy").data;
    assert_eq!(d, [i64::MIN as f32, i64::MAX as f32, -1.0]);
    let d = npy("uint64_extremes.npy").data;
    assert_eq!(d, [u64::MAX as f32, 0.0, 16_777_216.0]);
}

#[test]
fn parse_from_memory_matches_file() {
    for name in ["float32_be_f.npy", "cube_f.npy", "float16_le_c.npy"] {
        let path = fixture("npy", name);
        let bytes = std::fs::read(&path).unwrap();
        let from_mem = parse_npy(&bytes, Path::new("archive.npz/member.npy")).unwrap();
        let from_file = npy(name);
        assert_eq!(from_mem.data, from_file.data);
        assert_eq!(from_mem.shape, from_file.shape);
        assert_eq!(from_mem.source, Path::new("archive.npz/member.npy"));
        let e = parse_npy(&bytes[..bytes.len() - 1], Path::new("member.npy")).unwrap_err();
        assert!(e.to_string().starts_with("member.npy: truncated data"), "{e}");
    }
}

#[test]
fn refused_dtypes() {
    let e = npy_err("object.npy");
    assert!(
        e.contains("object arrays (dtype=object) cannot be drawn; save a numeric array"),
        "{e}"
    );
    let e = npy_err("structured.npy");
    assert!(e.contains("structured (record) arrays are not supported"), "{e}");
    let e = npy_err("complex64.npy");
    assert!(e.contains("unsupported dtype '<c8' (complex64)"), "{e}");
    let e = npy_err("unicode.npy");
    assert!(e.contains("unsupported dtype '<U5' (unicode strings)"), "{e}");
    let e = npy_err("bytes.npy");
    assert!(e.contains("unsupported dtype '|S3' (byte strings)"), "{e}");
}

#[test]
fn corrupt_files() {
    let e = npy_err("truncated_data.npy");
    assert!(
        e.ends_with("truncated_data.npy: truncated data: shape (3, 4) float32 needs 48 bytes, file has 40"),
        "{e}"
    );
    let e = npy_err("truncated_header.npy");
    assert!(e.contains("truncated header"), "{e}");
    assert!(e.contains("118 bytes") && e.contains("only 20"), "{e}");
    let e = npy_err("bad_magic.npy");
    assert!(e.contains("not a .npy file: bad magic bytes"), "{e}");
    let e = npy_err("empty.npy");
    assert!(e.contains("not a .npy file: the file is empty"), "{e}");
    let e = npy_err("bad_version.npy");
    assert!(e.contains("unsupported .npy format version 9.0"), "{e}");
    let e = npy_err("malformed_header.npy");
    assert!(e.contains("malformed header: expected ',' or ')'"), "{e}");
    assert!(e.contains("(3; 4)"), "{e}");
}

#[test]
fn missing_file_is_an_io_error() {
    let path = fixture("npy", "no_such_file.npy");
    let e = read_npy(&path).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("no_such_file.npy"), "{e}");
    let path = fixture("csv", "no_such_file.csv");
    let e = read_csv(&path, &CsvOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

#[test]
fn big_file_in_several_blocks() {
    // 1000 x 700 big-endian float64 in Fortran order: 5.6 MB, six blocks.
    let (rows, cols) = (1000usize, 700usize);
    let header = format!("{{'descr': '>f8', 'fortran_order': True, 'shape': ({rows}, {cols}), }}");
    let mut h = header.into_bytes();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((h.len() as u16).to_le_bytes());
    bytes.extend(h);
    for c in 0..cols {
        for r in 0..rows {
            bytes.extend(((r * cols + c) as f64).to_be_bytes());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    std::fs::write(&path, &bytes).unwrap();
    let t = read_npy(&path).unwrap();
    assert_eq!(t.shape, vec![rows, cols]);
    assert!(t.data.iter().enumerate().all(|(i, &v)| v == i as f32));

    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let e = read_npy(&path).unwrap_err().to_string();
    assert!(e.contains("needs 5600000 bytes, file has 5599997"), "{e}");
}

// --- CSV -------------------------------------------------------------------

#[test]
fn csv_tables() {
    let t = csv("plain.csv");
    assert_eq!((t.dtype, t.shape.as_slice()), (DType::F32, &[3, 4][..]));
    assert_eq!(t.data, signed());
    assert_eq!((t.row_labels.as_ref(), t.col_labels.as_ref()), (None, None));

    for name in ["header.csv", "crlf_bom.csv", "data.tsv"] {
        let t = csv(name);
        assert_eq!(t.shape, vec![3, 4], "{name}");
        assert_eq!(t.data, signed(), "{name}");
        assert_eq!(t.col_labels, labels(&["a", "b", "c", "d"]), "{name}");
        assert_eq!(t.row_labels, None, "{name}");
    }

    for name in ["semicolon.csv", "savetxt.txt"] {
        let t = csv(name);
        assert_eq!(t.shape, vec![3, 4], "{name}");
        assert_eq!(t.data, signed(), "{name}");
        assert_eq!(t.col_labels, None, "{name}");
    }
}

#[test]
fn csv_labels() {
    let t = csv("labels.csv");
    assert_eq!(t.shape, vec![3, 4]);
    assert_eq!(t.data, signed());
    assert_eq!(t.col_labels, labels(&["c0", "c1", "c2", "c3"]));
    assert_eq!(t.row_labels, labels(&["r0", "r1", "r2"]));

    let t = csv("labels_noheader.csv");
    assert_eq!(t.shape, vec![3, 4]);
    assert_eq!(t.data, signed());
    assert_eq!(t.col_labels, None);
    assert_eq!(t.row_labels, labels(&["r0", "r1", "r2"]));

    // Labels reach the grid.
    let g = load_grid(
        &fixture("csv", "labels.csv"),
        &LoadOptions::default(),
        &GridSelect::default(),
    )
    .unwrap();
    assert_eq!((g.rows(), g.cols()), (3, 4));
    assert_eq!(g.row_labels, labels(&["r0", "r1", "r2"]));
    assert_eq!(g.col_labels, labels(&["c0", "c1", "c2", "c3"]));
}

#[test]
fn csv_written_by_pandas_needs_no_flags() {
    // pd.DataFrame(SIGNED).to_csv(): the header is ",0,1,2,3", the index a
    // column of integers; neither is data.
    let t = csv("pandas_unnamed.csv");
    assert_eq!(t.shape, vec![3, 4]);
    assert_eq!(t.data, signed());
    assert_eq!(t.col_labels, labels(&["0", "1", "2", "3"]));
    assert_eq!(t.row_labels, labels(&["0", "1", "2"]));
    // Named columns: ",a,b,c,d" over the same integer index.
    let t = csv("pandas_named.csv");
    assert_eq!(t.shape, vec![3, 4]);
    let half: Vec<f32> = signed().iter().map(|v| v / 2.0).collect();
    assert_eq!(t.data, half);
    assert_eq!(t.col_labels, labels(&["a", "b", "c", "d"]));
    assert_eq!(t.row_labels, labels(&["0", "1", "2"]));
}

#[test]
fn csv_quotes_missing_and_single_column() {
    let t = csv("quoted.csv");
    assert_eq!(t.shape, vec![3, 4]);
    assert_eq!(t.data, signed());
    assert_eq!(t.col_labels, labels(&["x, y", "say \"hi\"", "two\nlines", "d"]));

    let t = csv("missing.csv");
    assert_eq!(t.shape, vec![3, 4]);
    let d = &t.data;
    assert_eq!(d[0], 1.0);
    assert!(d[1..6].iter().all(|v| v.is_nan()), "{d:?}");
    assert_eq!(
        &d[6..],
        &[
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            2.0
        ]
    );

    let t = csv("single_column.csv");
    assert_eq!(t.shape, vec![3, 1]);
    assert_eq!(t.data, [0.5, -1.5, 2.0]);
    assert_eq!(t.col_labels, labels(&["activation"]));
}

#[test]
fn csv_options_override_detection() {
    let opts = CsvOptions {
        header: Some(true),
        row_labels: Some(true),
        ..Default::default()
    };
    let t = read_csv(&fixture("csv", "plain.csv"), &opts).unwrap();
    assert_eq!(t.shape, vec![2, 3]);
    assert_eq!(t.data, [0., 1., 2., 4., 5., 6.]);
    assert_eq!(t.col_labels, labels(&["-4", "-3", "-2"]));
    assert_eq!(t.row_labels, labels(&["-1", "3"]));

    let opts = CsvOptions {
        delimiter: Some(b'\t'),
        ..Default::default()
    };
    let t = parse_csv(b"1\t2\n3\t4\n", Path::new("x.csv"), &opts).unwrap();
    assert_eq!(t.shape, vec![2, 2]);

    // load() passes the CSV options through.
    let opts = LoadOptions {
        csv: CsvOptions {
            header: Some(true),
            ..Default::default()
        },
    };
    let t = load(&fixture("csv", "plain.csv"), &opts).unwrap();
    assert_eq!(t.shape, vec![2, 4]);
}

#[test]
fn csv_errors() {
    let e = csv_err("ragged.csv");
    assert!(
        e.ends_with("ragged.csv: line 4 has 5 fields, expected 4 (from line 1)"),
        "{e}"
    );
    let e = csv_err("nonnumeric.csv");
    assert!(
        e.ends_with("nonnumeric.csv: line 3, column 2: 'abc' is not a number"),
        "{e}"
    );
    let e = csv_err("unterminated.csv");
    assert!(
        e.ends_with("unterminated.csv: line 3: unterminated quoted field"),
        "{e}"
    );
    let e = csv_err("empty.csv");
    assert!(e.contains("no data rows"), "{e}");
    let e = csv_err("header_only.csv");
    assert!(e.contains("no data rows"), "{e}");
    let e = csv_err("bad_utf8.csv");
    assert!(e.contains("line 2: invalid UTF-8"), "{e}");
}

#[test]
fn load_dispatches_by_extension() {
    let opts = LoadOptions::default();
    assert_eq!(
        load(&fixture("npy", "int16_be_c.npy"), &opts).unwrap().data,
        signed()
    );
    assert_eq!(load(&fixture("csv", "data.tsv"), &opts).unwrap().data, signed());
    assert_eq!(
        load(&fixture("csv", "savetxt.txt"), &opts).unwrap().data,
        signed()
    );
    let e = load(&fixture("", "gen_npy.py"), &opts).unwrap_err();
    assert!(e.to_string().contains("unsupported file type \".py\""), "{e}");
}

/// Every fixture, cut at every length and with bytes flipped, loads or fails
/// with an error: never a panic, never a hang.
#[test]
fn damaged_files_never_panic() {
    use actmap::input::csv::{CsvOptions, parse_csv};
    use actmap::input::npy::parse_npy;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for sub in ["npy", "csv"] {
        for entry in std::fs::read_dir(root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
            for i in (0..bytes.len()).step_by(3) {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut b = bytes.clone();
                    b[i] ^= flip;
                    variants.push(b);
                }
            }
            for v in &variants {
                let result = std::panic::catch_unwind(|| {
                    if sub == "npy" {
                        let _ = parse_npy(v, &path);
                    } else {
                        let _ = parse_csv(v, &path, &CsvOptions::default());
                    }
                });
                assert!(result.is_ok(), "{} panicked on a damaged copy", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} variants");
}
