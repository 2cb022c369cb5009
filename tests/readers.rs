//! The `.safetensors` and `.npz` readers against fixtures written by the
//! `safetensors` package and numpy, from `tests/fixtures/gen_batch.py` (which
//! documents every file).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use actmap::error::Error;
use actmap::input::npy::{NpyHeader, read_npy};
use actmap::input::{
    DType, GridSelect, LoadOptions, SafetensorsFile, Tensor, describe, list_npz, load, load_all, load_grid,
    load_tensor, read_npz, read_safetensors,
};

// --- allocation tracking ----------------------------------------------------

/// The system allocator, noting the largest single allocation made by a
/// thread while [`largest_allocation`] watches it.
struct Tracking;

thread_local! {
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if let Some(max) = c.get() {
            c.set(Some(max.max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Run `f` and return its result with the size of the largest single
/// allocation it made (on this thread).
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|c| c.set(Some(0)));
    let out = f();
    let largest = LARGEST.with(|c| c.replace(None)).unwrap_or(0);
    (out, largest)
}

// --- helpers ----------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/batch")
        .join(name)
}

/// `np.arange(12).reshape(3, 4) - 5`
fn signed() -> Vec<f32> {
    (-5..7).map(|v| v as f32).collect()
}

/// `np.arange(12).reshape(3, 4)`
fn unsigned() -> Vec<f32> {
    (0..12).map(|v| v as f32).collect()
}

/// `np.arange(12).reshape(3, 4) % 3 == 0`
fn mask() -> Vec<f32> {
    (0..12).map(|v| if v % 3 == 0 { 1.0 } else { 0.0 }).collect()
}

/// Check that `err` is a format error naming the file and return its text.
fn format_err(path: &Path, err: Error) -> String {
    assert!(
        matches!(err, Error::Format { .. }),
        "{}: not a format error: {err:?}",
        path.display()
    );
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "message does not name the file: {msg}");
    assert!(!msg.contains('\n'), "message is not one line: {msg}");
    msg
}

/// The error message for `load` of a fixture (which must fail).
fn load_err(name: &str) -> String {
    let path = fixture(name);
    match load(&path, &LoadOptions::default()) {
        Ok(t) => panic!("{name}: expected an error, got {t:?}"),
        Err(e) => format_err(&path, e),
    }
}

/// The error message for `load_all` of a fixture (which must fail).
fn load_all_err(name: &str) -> String {
    let path = fixture(name);
    match load_all(&path, &LoadOptions::default()) {
        Ok(t) => panic!("{name}: expected an error, got {t:?}"),
        Err(e) => format_err(&path, e),
    }
}

fn names(tensors: &[Tensor]) -> Vec<&str> {
    tensors.iter().map(|t| t.name.as_deref().unwrap()).collect()
}

// --- .safetensors -----------------------------------------------------------

/// acts.safetensors in file order (the writer sorts by alignment, then name).
const ACTS: [(&str, DType, &[usize]); 14] = [
    ("u64", DType::U64, &[3, 4]),
    ("i64", DType::I64, &[3, 4]),
    ("f64", DType::F64, &[3, 4]),
    ("scalar", DType::F64, &[]),
    ("layer.0.mlp", DType::F32, &[3, 4]),
    ("vector", DType::F32, &[5]),
    ("u32", DType::U32, &[3, 4]),
    ("i32", DType::I32, &[3, 4]),
    ("f16", DType::F16, &[3, 4]),
    ("u16", DType::U16, &[3, 4]),
    ("i16", DType::I16, &[3, 4]),
    ("i8", DType::I8, &[3, 4]),
    ("u8", DType::U8, &[3, 4]),
    ("mask", DType::Bool, &[3, 4]),
];

#[test]
fn safetensors_header() {
    let path = fixture("acts.safetensors");
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(file.path, path);
    assert_eq!(
        file.metadata,
        [
            ("model".to_string(), "tiny".to_string()),
            ("step".to_string(), "1200".to_string())
        ]
    );
    assert_eq!(file.tensors.len(), ACTS.len());
    let header_len = u64::from_le_bytes(std::fs::read(&path).unwrap()[..8].try_into().unwrap());
    let mut at = 8 + header_len;
    for (info, (name, dtype, shape)) in file.tensors.iter().zip(ACTS) {
        assert_eq!(
            (info.name.as_str(), info.dtype, info.shape.as_slice()),
            (name, dtype, shape)
        );
        // Contiguous, in file order, exactly the size of the shape.
        let len = (shape.iter().product::<usize>() * dtype.size()) as u64;
        assert_eq!(info.offsets, (at, at + len), "{name}");
        at += len;
    }
    assert_eq!(at, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn safetensors_every_dtype() {
    let path = fixture("acts.safetensors");
    let tensors = read_safetensors(&path).unwrap();
    assert_eq!(names(&tensors), ACTS.map(|(n, _, _)| n));
    for (t, (name, dtype, shape)) in tensors.iter().zip(ACTS) {
        assert_eq!((t.dtype, t.shape.as_slice()), (dtype, shape), "{name}");
        assert_eq!(t.source, path);
        assert_eq!((t.row_labels.as_ref(), t.col_labels.as_ref()), (None, None));
        let want = match name {
            "scalar" => vec![2.5],
            "vector" => vec![-2.0, -1.0, 0.0, 1.0, 2.0],
            "mask" => mask(),
            n if n.starts_with('u') => unsigned(),
            _ => signed(),
        };
        assert_eq!(t.data, want, "{name}");
    }
    // Reading one tensor gives the same as reading them all.
    let file = SafetensorsFile::open(&path).unwrap();
    let t = file.read(file.get("layer.0.mlp").unwrap()).unwrap();
    assert_eq!(t.name.as_deref(), Some("layer.0.mlp"));
    assert_eq!(t.data, signed());
    assert_eq!(load_all(&path, &LoadOptions::default()).unwrap(), tensors);
}

#[test]
fn safetensors_bf16() {
    let tensors = read_safetensors(&fixture("bf16.safetensors")).unwrap();
    assert_eq!(names(&tensors), ["h", "inf"]);
    let h = &tensors[0];
    assert_eq!((h.dtype, h.shape.as_slice()), (DType::BF16, &[2, 3][..]));
    assert_eq!(h.data, [1.0, -2.0, 0.5, 3.140625, -0.0, 65536.0]);
    assert_eq!(h.data[4].to_bits(), (-0.0f32).to_bits());
    let inf = &tensors[1];
    assert_eq!((inf.dtype, inf.shape.as_slice()), (DType::BF16, &[3][..]));
    assert_eq!(&inf.data[..2], &[f32::INFINITY, f32::NEG_INFINITY]);
    assert!(inf.data[2].is_nan());
    assert!(
        SafetensorsFile::open(&fixture("bf16.safetensors"))
            .unwrap()
            .metadata
            .is_empty()
    );
}

#[test]
fn safetensors_refused() {
    let e = load_err("truncated.safetensors");
    assert!(
        e.ends_with(
            "truncated.safetensors: truncated: tensor 'mask' ends at byte 1480 but the file has 1470"
        ),
        "{e}"
    );
    let e = load_err("bad_header.safetensors");
    assert!(
        e.ends_with("bad_header.safetensors: invalid JSON header: key must be a string at line 1 column 2"),
        "{e}"
    );
    let e = load_err("huge_len.safetensors");
    assert!(
        e.ends_with(
            "huge_len.safetensors: header length 1152921504606846976 exceeds the file size (1480 bytes): not a safetensors file or truncated"
        ),
        "{e}"
    );
    let e = load_err("overlap.safetensors");
    assert!(
        e.ends_with("overlap.safetensors: tensors 'a' and 'b' overlap: data_offsets [0, 48] and [40, 88]"),
        "{e}"
    );
    let e = load_err("bad_dtype.safetensors");
    assert!(
        e.ends_with(
            "bad_dtype.safetensors: tensor 'fp8': unsupported dtype 'F8_E4M3' (8-bit float) (supported: F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL)"
        ),
        "{e}"
    );
    let e = load_err("bad_size.safetensors");
    assert!(
        e.ends_with(
            "bad_size.safetensors: tensor 'layer.3.attn': data_offsets [0, 100] hold 100 bytes but shape (5, 6) F32 needs 120"
        ),
        "{e}"
    );
    // The same through every entry point.
    for name in [
        "truncated.safetensors",
        "bad_header.safetensors",
        "huge_len.safetensors",
        "overlap.safetensors",
        "bad_dtype.safetensors",
        "bad_size.safetensors",
    ] {
        let path = fixture(name);
        let want = load_err(name);
        assert_eq!(format_err(&path, SafetensorsFile::open(&path).unwrap_err()), want);
        assert_eq!(format_err(&path, read_safetensors(&path).unwrap_err()), want);
        assert_eq!(load_all_err(name), want);
    }
}

#[test]
fn huge_header_length_is_not_allocated() {
    // The tracker sees allocations.
    let (_, seen) = largest_allocation(|| std::hint::black_box(vec![0u8; 1 << 20]));
    assert!(seen >= 1 << 20, "{seen}");

    let dir = tempfile::tempdir().unwrap();
    let gib = 1u64 << 30;

    // A 1 GiB header length in a small file.
    let small = dir.path().join("small.safetensors");
    let mut bytes = gib.to_le_bytes().to_vec();
    bytes.extend(b"{\"w\": {}}");
    bytes.resize(1000, b' ');
    std::fs::write(&small, &bytes).unwrap();
    let (result, largest) = largest_allocation(|| SafetensorsFile::open(&small));
    let e = result.unwrap_err().to_string();
    assert!(
        e.ends_with(
            "header length 1073741824 exceeds the file size (1000 bytes): not a safetensors file or truncated"
        ),
        "{e}"
    );
    assert!(largest < 1 << 16, "allocated {largest} bytes");

    // A sparse file big enough to hold the 1 GiB header it claims.
    let sparse = dir.path().join("sparse.safetensors");
    let f = std::fs::File::create(&sparse).unwrap();
    f.set_len(8 + gib + 64).unwrap();
    drop(f);
    let mut f = std::fs::OpenOptions::new().write(true).open(&sparse).unwrap();
    std::io::Write::write_all(&mut f, &bytes[..16]).unwrap();
    drop(f);
    let (result, largest) = largest_allocation(|| SafetensorsFile::open(&sparse));
    let e = result.unwrap_err().to_string();
    assert!(
        e.ends_with("header length 1073741824 exceeds the limit of 100000000 bytes: not a safetensors file"),
        "{e}"
    );
    assert!(largest < 1 << 16, "allocated {largest} bytes");

    // Reading a tensor allocates about its f32 size, not the file's.
    let (tensors, largest) = largest_allocation(|| read_safetensors(&fixture("acts.safetensors")).unwrap());
    assert_eq!(tensors.len(), 14);
    assert!(largest < 1 << 16, "allocated {largest} bytes");
}

// --- .npz -------------------------------------------------------------------

fn attn() -> Vec<f32> {
    (0..48).map(|v| v as f32 / 8.0).collect()
}

fn probe() -> Vec<f32> {
    (0..10).map(|v| v as f32 - 4.5).collect()
}

#[test]
fn npz_stored_and_compressed() {
    let stored = read_npz(&fixture("attn.npz"), None).unwrap();
    let compressed = read_npz(&fixture("attn_compressed.npz"), None).unwrap();
    for (tensors, name) in [(&stored, "attn.npz"), (&compressed, "attn_compressed.npz")] {
        assert_eq!(names(tensors), ["attn", "probe"], "{name}");
        let (a, p) = (&tensors[0], &tensors[1]);
        assert_eq!((a.dtype, a.shape.as_slice()), (DType::F32, &[3, 4, 4][..]));
        assert_eq!(a.data, attn());
        assert_eq!((p.dtype, p.shape.as_slice()), (DType::F64, &[2, 5][..]));
        assert_eq!(p.data, probe());
        assert!(tensors.iter().all(|t| t.source == fixture(name)));
    }
    // Identical apart from where they came from.
    for (s, c) in stored.iter().zip(&compressed) {
        assert_eq!(
            (&s.name, s.dtype, &s.shape, &s.data),
            (&c.name, c.dtype, &c.shape, &c.data)
        );
    }
    assert_eq!(
        load_all(&fixture("attn.npz"), &LoadOptions::default()).unwrap(),
        stored
    );
}

#[test]
fn npz_headers_and_filter() {
    for name in ["attn.npz", "attn_compressed.npz"] {
        let listed = list_npz(&fixture(name)).unwrap();
        let keys: Vec<&str> = listed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["attn", "probe"]);
        let NpyHeader {
            dtype,
            big_endian,
            fortran_order,
            shape,
            version,
            ..
        } = &listed[0].1;
        assert_eq!((*dtype, *big_endian, *fortran_order), (DType::F32, false, false));
        assert_eq!((shape.as_slice(), *version), (&[3, 4, 4][..], (1, 0)));
        assert_eq!(listed[1].1.dtype, DType::F64);
        assert_eq!(listed[1].1.shape, [2, 5]);

        let only_probe = |k: &str| k == "probe";
        let t = read_npz(&fixture(name), Some(&only_probe)).unwrap();
        assert_eq!(names(&t), ["probe"]);
        assert_eq!(t[0].data, probe());
    }
}

#[test]
fn npz_skips_other_members() {
    let path = fixture("mixed.npz");
    let listed = list_npz(&path).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "a");
    // One array: load() takes it.
    let t = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!(t.name.as_deref(), Some("a"));
    assert_eq!((t.dtype, t.shape.as_slice()), (DType::I16, &[2, 2][..]));
    assert_eq!(t.data, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(load_all(&path, &LoadOptions::default()).unwrap(), vec![t]);
}

#[test]
fn npz_refused() {
    let e = load_all_err("corrupt.npz");
    assert!(
        e.ends_with(
            "corrupt.npz: member 'bad.npy': corrupt data: file is larger than its declared uncompressed size"
        ),
        "{e}"
    );
    // The damage is past the header, and 'good' is intact.
    let listed = list_npz(&fixture("corrupt.npz")).unwrap();
    assert_eq!(listed[1].0, "bad");
    assert_eq!(listed[1].1.shape, [16, 16]);
    let good = |k: &str| k == "good";
    let t = read_npz(&fixture("corrupt.npz"), Some(&good)).unwrap();
    assert_eq!(t[0].data, (0..16).map(|v| v as f32).collect::<Vec<_>>());

    let want = "not_zip.npz: not a valid .npz (zip) archive: no end of central directory record (not a zip file, or truncated)";
    let e = load_err("not_zip.npz");
    assert!(e.ends_with(want), "{e}");
    let e = load_all_err("not_zip.npz");
    assert!(e.ends_with(want), "{e}");
    let path = fixture("not_zip.npz");
    assert!(format_err(&path, list_npz(&path).unwrap_err()).ends_with(want));
}

// --- dispatch ---------------------------------------------------------------

#[test]
fn load_takes_the_only_tensor() {
    let path = fixture("one.safetensors");
    let t = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!(t.name.as_deref(), Some("probe"));
    assert_eq!((t.dtype, t.shape.as_slice()), (DType::F32, &[2, 5][..]));
    assert_eq!(t.data, probe());
    let g = load_grid(&path, &LoadOptions::default(), &GridSelect::default()).unwrap();
    assert_eq!((g.rows(), g.cols()), (2, 5));
}

#[test]
fn load_refuses_several_tensors() {
    let e = load_err("acts.safetensors");
    assert!(
        e.ends_with(
            "acts.safetensors: the file holds 14 tensors ('u64', 'i64', 'f64', 'scalar', 'layer.0.mlp', and 9 more); pick one with --key"
        ),
        "{e}"
    );
    let e = load_err("bf16.safetensors");
    assert!(
        e.ends_with("bf16.safetensors: the file holds 2 tensors ('h', 'inf'); pick one with --key"),
        "{e}"
    );
    for name in ["attn.npz", "attn_compressed.npz"] {
        let e = load_err(name);
        assert!(
            e.ends_with(&format!(
                "{name}: the file holds 2 tensors ('attn', 'probe'); pick one with --key"
            )),
            "{e}"
        );
    }
    // Without decompressing the arrays: the damaged member is not read.
    let e = load_err("corrupt.npz");
    assert!(
        e.ends_with("the file holds 2 tensors ('good', 'bad'); pick one with --key"),
        "{e}"
    );

    // Files of no tensors.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.safetensors");
    std::fs::write(&empty, b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ").unwrap();
    let e = format_err(&empty, load(&empty, &LoadOptions::default()).unwrap_err());
    assert!(e.ends_with("empty.safetensors: the file holds no tensors"), "{e}");
    assert!(load_all(&empty, &LoadOptions::default()).unwrap().is_empty());
}

#[test]
fn load_all_of_single_array_files() {
    let npy = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy/float32_le_c.npy");
    let all = load_all(&npy, &LoadOptions::default()).unwrap();
    assert_eq!(all, vec![read_npy(&npy).unwrap()]);
    assert_eq!(all[0].name, None);
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/csv/labels.csv");
    let all = load_all(&csv, &LoadOptions::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, None);
    let e = load_all(&fixture("../gen_batch.py"), &LoadOptions::default()).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "unsupported file type \".py\": expected .npy, .npz, .safetensors, .csv, .tsv or .txt"
        ),
        "{e}"
    );
}

#[test]
fn describe_reads_headers_only() {
    let acts = describe(&fixture("acts.safetensors")).unwrap();
    let want: Vec<(Option<String>, Vec<usize>)> = ACTS
        .iter()
        .map(|(n, _, shape)| (Some(n.to_string()), shape.to_vec()))
        .collect();
    assert_eq!(acts, want);
    // Named even when there is only one.
    assert_eq!(
        describe(&fixture("one.safetensors")).unwrap(),
        [(Some("probe".to_string()), vec![2, 5])]
    );
    for name in ["attn.npz", "attn_compressed.npz"] {
        assert_eq!(
            describe(&fixture(name)).unwrap(),
            [
                (Some("attn".to_string()), vec![3, 4, 4]),
                (Some("probe".to_string()), vec![2, 5])
            ]
        );
    }
    assert_eq!(
        describe(&fixture("mixed.npz")).unwrap(),
        [(Some("a".to_string()), vec![2, 2])]
    );
    // The damaged member's data is not read.
    assert_eq!(describe(&fixture("corrupt.npz")).unwrap().len(), 2);
    for bad in ["overlap.safetensors", "huge_len.safetensors", "not_zip.npz"] {
        let path = fixture(bad);
        let e = format_err(&path, describe(&path).unwrap_err());
        assert_eq!(e, load_err(bad));
    }
}

#[test]
fn load_tensor_by_name() {
    let opts = LoadOptions::default();
    let path = fixture("acts.safetensors");
    let t = load_tensor(&path, Some("layer.0.mlp"), &opts).unwrap();
    assert_eq!((t.name.as_deref(), t.dtype), (Some("layer.0.mlp"), DType::F32));
    assert_eq!(t.data, signed());
    let e = format_err(&path, load_tensor(&path, Some("layer.9"), &opts).unwrap_err());
    assert!(
        e.ends_with(
            "acts.safetensors: no tensor named 'layer.9' (the file holds 'u64', 'i64', 'f64', 'scalar', 'layer.0.mlp', and 9 more)"
        ),
        "{e}"
    );
    for name in ["attn.npz", "attn_compressed.npz"] {
        let path = fixture(name);
        let t = load_tensor(&path, Some("probe"), &opts).unwrap();
        assert_eq!((t.name.as_deref(), t.dtype), (Some("probe"), DType::F64));
        assert_eq!(t.data, probe());
        let e = format_err(&path, load_tensor(&path, Some("attn.npy"), &opts).unwrap_err());
        assert!(
            e.ends_with(&format!(
                "{name}: no tensor named 'attn.npy' (the file holds 'attn', 'probe')"
            )),
            "{e}"
        );
    }
    // Only the named member is decompressed.
    let path = fixture("corrupt.npz");
    assert_eq!(load_tensor(&path, Some("good"), &opts).unwrap().shape, [4, 4]);
    let e = format_err(&path, load_tensor(&path, Some("bad"), &opts).unwrap_err());
    assert!(e.contains("member 'bad.npy': corrupt data"), "{e}");
    // No name: the only tensor, as load() does.
    let t = load_tensor(&fixture("one.safetensors"), None, &opts).unwrap();
    assert_eq!(t.name.as_deref(), Some("probe"));
    let e = load_tensor(&fixture("attn.npz"), None, &opts).unwrap_err();
    assert!(e.to_string().contains("pick one with --key"), "{e}");
    // Single-array files have no names.
    let npy = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/npy/float32_le_c.npy");
    let e = load_tensor(&npy, Some("x"), &opts).unwrap_err();
    assert!(
        e.to_string().ends_with("float32_le_c.npy: no tensor named 'x'"),
        "{e}"
    );
}

/// Every fixture, cut at every length and with bytes flipped, loads or fails
/// with an error through every reader: never a panic, never a hang.
#[test]
fn damaged_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let copy = dir.path().join(path.file_name().unwrap());
        let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
        for i in (0..bytes.len()).step_by(3) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                variants.push(b);
            }
        }
        for v in &variants {
            std::fs::write(&copy, v).unwrap();
            let result = std::panic::catch_unwind(|| {
                let _ = load(&copy, &LoadOptions::default());
                let _ = load_all(&copy, &LoadOptions::default());
                let _ = describe(&copy);
                if copy.extension().is_some_and(|e| e == "npz") {
                    let _ = list_npz(&copy);
                } else if let Ok(file) = SafetensorsFile::open(&copy) {
                    for t in &file.tensors {
                        let _ = file.read(t);
                    }
                }
            });
            assert!(result.is_ok(), "{} panicked on a damaged copy", path.display());
            checked += 1;
        }
    }
    assert!(checked > 10_000, "only {checked} variants");
}
