//! Reader for the `.safetensors` format (Hugging Face).
//!
//! A `.safetensors` file is an 8-byte little-endian header length `N`, a JSON
//! header of `N` bytes, then the data section. The header maps each tensor
//! name to `{"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}`,
//! offsets relative to the start of the data section, plus an optional
//! `"__metadata__"` object of strings. Data is little-endian, C order.
//!
//! [`SafetensorsFile::open`] reads and checks only the header;
//! [`SafetensorsFile::read`] then seeks to one tensor and converts it to f32
//! in blocks, so memory stays about one f32 array.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::npy;
use super::npy::read_full;
use super::quote;
use super::tensor::{DType, Tensor};
use crate::error::{Error, Result};

/// The largest JSON header accepted (the reference implementation's limit).
const MAX_HEADER: u64 = 100_000_000;

/// Size of the blocks tensor data is read and converted in; a multiple of
/// every element size.
const CHUNK: usize = 1 << 20;

/// One tensor's entry in a `.safetensors` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorsInfo {
    /// The tensor's key in the header.
    pub name: String,
    /// The element type.
    pub dtype: DType,
    /// Shape, outermost axis first; empty for a 0-d tensor.
    pub shape: Vec<usize>,
    /// Absolute byte range `[begin, end)` of the data in the file.
    pub offsets: (u64, u64),
}

impl SafetensorsInfo {
    /// Number of elements: the product of the shape (1 for a 0-d tensor);
    /// exact for entries from [`SafetensorsFile::open`], whose size is
    /// checked, saturating for hand-built ones.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }

    /// The shape as numpy prints it: `(3, 4)`.
    pub fn shape_string(&self) -> String {
        shape_str(&self.shape)
    }
}

/// The header of a `.safetensors` file: its metadata and where each tensor is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorsFile {
    /// The file.
    pub path: PathBuf,
    /// The `__metadata__` entries, sorted by key. Values that are not JSON
    /// strings are kept as their JSON text.
    pub metadata: Vec<(String, String)>,
    /// Every tensor, in file order (sorted by data offset).
    pub tensors: Vec<SafetensorsInfo>,
}

impl SafetensorsFile {
    /// Read and check the header of a `.safetensors` file: the 8-byte length
    /// and the JSON header only, no tensor data. Every tensor's byte range is
    /// checked against its shape and dtype, against the others (no overlap)
    /// and against the size of the file.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let fmt_err = |msg: String| Error::format(path, msg);

        let mut len_buf = [0u8; 8];
        let got = read_full(&mut file, &mut len_buf).map_err(|e| Error::io(path, e))?;
        if got < len_buf.len() {
            return Err(fmt_err(if got == 0 {
                "not a safetensors file: the file is empty".into()
            } else {
                format!(
                    "not a safetensors file: the file has only {got} bytes, too few for the 8-byte header length"
                )
            }));
        }
        let header_len = u64::from_le_bytes(len_buf);
        let room = file_len.saturating_sub(8);
        if header_len > room {
            return Err(fmt_err(format!(
                "header length {header_len} exceeds the file size ({file_len} bytes): not a safetensors file or truncated"
            )));
        }
        if header_len > MAX_HEADER {
            return Err(fmt_err(format!(
                "header length {header_len} exceeds the limit of {MAX_HEADER} bytes: not a safetensors file"
            )));
        }
        // Below MAX_HEADER and the file size, so this allocation is bounded;
        // `take` + `read_to_end` still grows only as bytes arrive.
        let mut raw = Vec::new();
        (&mut file)
            .take(header_len)
            .read_to_end(&mut raw)
            .map_err(|e| Error::io(path, e))?;
        if (raw.len() as u64) < header_len {
            return Err(fmt_err(format!(
                "truncated header: the header length says {header_len} bytes, the file has only {}",
                raw.len()
            )));
        }
        let data_start = 8 + header_len;
        let (metadata, tensors) = parse_header(&raw, data_start, file_len).map_err(fmt_err)?;
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            metadata,
            tensors,
        })
    }

    /// The entry for the tensor called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&SafetensorsInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Read one tensor's data (seeking to it; nothing else is read) and
    /// convert it to f32. The tensor's `name` is set to `t.name`.
    pub fn read(&self, t: &SafetensorsInfo) -> Result<Tensor> {
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        read_tensor(&mut file, &self.path, t)
    }

    /// Read every tensor, in file order, through one open file.
    pub fn read_all(&self) -> Result<Vec<Tensor>> {
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        self.tensors
            .iter()
            .map(|t| read_tensor(&mut file, &self.path, t))
            .collect()
    }
}

/// Read every tensor of a `.safetensors` file, in file order. Each tensor's
/// `source` is `path` and its `name` the tensor's key.
pub fn read_safetensors(path: &Path) -> Result<Vec<Tensor>> {
    SafetensorsFile::open(path)?.read_all()
}

/// Seek to `t` in `file` and read it in blocks, converting as it arrives.
fn read_tensor(file: &mut File, path: &Path, t: &SafetensorsInfo) -> Result<Tensor> {
    let fmt_err = |msg: String| Error::format(path, msg);
    let q = quote(&t.name);
    let (begin, end) = t.offsets;
    let (n, need) = sizes(&t.shape, t.dtype).ok_or_else(|| {
        fmt_err(format!(
            "tensor {q}: shape overflow: shape {} is too large to load",
            t.shape_string()
        ))
    })?;
    if end.checked_sub(begin) != Some(need as u64) {
        return Err(fmt_err(format!(
            "tensor {q}: bytes [{begin}, {end}) do not hold shape {} {} ({need} bytes)",
            t.shape_string(),
            st_name(t.dtype)
        )));
    }
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if end > file_len {
        return Err(truncated(path, &t.name, end, file_len));
    }
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| {
        fmt_err(format!(
            "out of memory: cannot allocate {} bytes for tensor {q} of shape {} as float32",
            n.saturating_mul(4),
            t.shape_string()
        ))
    })?;
    file.seek(SeekFrom::Start(begin))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; need.min(CHUNK)];
    let mut done = 0usize;
    while done < need {
        let want = (need - done).min(CHUNK);
        let block = &mut buf[..want];
        let got = read_full(file, block).map_err(|e| Error::io(path, e))?;
        if got < want {
            return Err(truncated(path, &t.name, end, begin + (done + got) as u64));
        }
        npy::convert(t.dtype, false, block, &mut out);
        done += want;
    }
    let mut tensor = Tensor::new(path, t.dtype, t.shape.clone(), out)?;
    tensor.name = Some(t.name.clone());
    Ok(tensor)
}

fn truncated(path: &Path, name: &str, end: u64, file_len: u64) -> Error {
    let q = quote(name);
    Error::format(
        path,
        format!("truncated: tensor {q} ends at byte {end} but the file has {file_len}"),
    )
}

type Metadata = Vec<(String, String)>;

/// Parse and check the JSON header. `data_start` is the absolute offset of
/// the data section, `file_len` the size of the file.
fn parse_header(
    raw: &[u8],
    data_start: u64,
    file_len: u64,
) -> std::result::Result<(Metadata, Vec<SafetensorsInfo>), String> {
    let value: Value =
        serde_json::from_slice(raw).map_err(|e| format!("invalid JSON header: {}", json_error(&e)))?;
    let Value::Object(map) = value else {
        return Err(format!(
            "invalid JSON header: expected an object of tensors, found {}",
            kind(&value)
        ));
    };
    let data_len = file_len.saturating_sub(data_start);
    let mut metadata = Vec::new();
    let mut tensors = Vec::new();
    for (name, entry) in map {
        if name == "__metadata__" {
            let Value::Object(meta) = entry else {
                return Err(format!(
                    "__metadata__ must be an object of strings, found {}",
                    kind(&entry)
                ));
            };
            for (k, v) in meta {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                metadata.push((k, v));
            }
            continue;
        }
        tensors.push(parse_entry(name, &entry, data_start, data_len)?);
    }
    metadata.sort();
    tensors.sort_by(|a, b| (a.offsets, &a.name).cmp(&(b.offsets, &b.name)));
    // Empty tensors hold no bytes, so they overlap nothing.
    let held: Vec<&SafetensorsInfo> = tensors.iter().filter(|t| t.offsets.0 < t.offsets.1).collect();
    for pair in held.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.offsets.0 < a.offsets.1 {
            return Err(format!(
                "tensors {} and {} overlap: data_offsets [{}, {}] and [{}, {}]",
                quote(&a.name),
                quote(&b.name),
                a.offsets.0 - data_start,
                a.offsets.1 - data_start,
                b.offsets.0 - data_start,
                b.offsets.1 - data_start
            ));
        }
    }
    Ok((metadata, tensors))
}

/// Check one tensor's entry; offsets in the result are absolute.
fn parse_entry(
    name: String,
    entry: &Value,
    data_start: u64,
    data_len: u64,
) -> std::result::Result<SafetensorsInfo, String> {
    let q = quote(&name);
    let Value::Object(fields) = entry else {
        return Err(format!(
            "tensor {q}: expected an object with dtype, shape and data_offsets, found {}",
            kind(entry)
        ));
    };
    let field = |key: &str| {
        fields
            .get(key)
            .ok_or_else(|| format!("tensor {q}: missing \"{key}\""))
    };
    let dtype_str = match field("dtype")? {
        Value::String(s) => s.as_str(),
        other => {
            return Err(format!(
                "tensor {q}: dtype must be a string, found {}",
                kind(other)
            ));
        }
    };
    let dtype = parse_dtype(dtype_str).ok_or_else(|| unsupported_dtype(&name, dtype_str))?;
    let shape = match field("shape")? {
        Value::Array(dims) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<Vec<usize>>>(),
        _ => None,
    }
    .ok_or_else(|| format!("tensor {q}: shape must be a list of non-negative integers"))?;
    let offsets = match field("data_offsets")? {
        Value::Array(pair) => match pair.as_slice() {
            [b, e] => b.as_u64().zip(e.as_u64()),
            _ => None,
        },
        _ => None,
    };
    let (begin, end) =
        offsets.ok_or_else(|| format!("tensor {q}: data_offsets must be two non-negative integers"))?;
    let shape_s = shape_str(&shape);
    let (_, need) = sizes(&shape, dtype)
        .ok_or_else(|| format!("tensor {q}: shape overflow: shape {shape_s} is too large to load"))?;
    if end < begin {
        return Err(format!(
            "tensor {q}: data_offsets [{begin}, {end}] end before they begin"
        ));
    }
    let held = end - begin;
    if held != need as u64 {
        return Err(format!(
            "tensor {q}: data_offsets [{begin}, {end}] hold {held} bytes but shape {shape_s} {dtype_str} needs {need}"
        ));
    }
    if end > data_len {
        return Err(format!(
            "truncated: tensor {q} ends at byte {} but the file has {}",
            data_start.saturating_add(end),
            data_start.saturating_add(data_len)
        ));
    }
    Ok(SafetensorsInfo {
        name,
        dtype,
        shape,
        offsets: (data_start + begin, data_start + end),
    })
}

/// The number of elements of `shape` and their size in bytes as `dtype`, or
/// `None` if either the file's bytes or the f32 output would not be
/// addressable.
fn sizes(shape: &[usize], dtype: DType) -> Option<(usize, usize)> {
    let n = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    let widest = n.checked_mul(dtype.size().max(std::mem::size_of::<f32>()))?;
    (widest <= isize::MAX as usize).then_some((n, n * dtype.size()))
}

/// The element types this reader converts, by their safetensors names.
const DTYPES: [(&str, DType); 13] = [
    ("F32", DType::F32),
    ("F16", DType::F16),
    ("BF16", DType::BF16),
    ("F64", DType::F64),
    ("I8", DType::I8),
    ("I16", DType::I16),
    ("I32", DType::I32),
    ("I64", DType::I64),
    ("U8", DType::U8),
    ("U16", DType::U16),
    ("U32", DType::U32),
    ("U64", DType::U64),
    ("BOOL", DType::Bool),
];

fn parse_dtype(s: &str) -> Option<DType> {
    DTYPES.iter().find(|(n, _)| *n == s).map(|&(_, d)| d)
}

/// The safetensors name of a dtype (`F32`, `BOOL`, ...).
fn st_name(dtype: DType) -> &'static str {
    DTYPES.iter().find(|(_, d)| *d == dtype).map_or("?", |&(n, _)| n)
}

fn unsupported_dtype(name: &str, dtype: &str) -> String {
    let q = quote(name);
    let what = match dtype {
        "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => " (8-bit float)",
        "F6_E2M3" | "F6_E3M2" => " (6-bit float)",
        "F4" => " (4-bit float)",
        "C64" | "C128" => " (complex)",
        _ => "",
    };
    let supported: Vec<&str> = DTYPES.iter().map(|(n, _)| *n).collect();
    format!(
        "tensor {q}: unsupported dtype {}{what} (supported: {})",
        quote(dtype),
        supported.join(", ")
    )
}

/// A serde_json error as one line ("expected value at line 1 column 5").
fn json_error(e: &serde_json::Error) -> String {
    e.to_string().replace('\n', " ")
}

/// "a string", "a number", ...: what a JSON value is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `(3, 4)`, `(5,)`, `()`: a shape as numpy prints it.
fn shape_str(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.safetensors` file of `header` (JSON text) and `data`, in a
    /// temporary directory that lives as long as the returned guard.
    fn file_with(header: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        raw_file(&bytes)
    }

    fn raw_file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    fn entry(name: &str, dtype: &str, shape: &[usize], begin: u64, end: u64) -> String {
        format!("\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{begin},{end}]}}")
    }

    /// The error message for opening `header` + `data`, without the path.
    fn open_err(header: &str, data: &[u8]) -> String {
        let (_dir, path) = file_with(header, data);
        match SafetensorsFile::open(&path) {
            Ok(f) => panic!("expected an error, got {f:?}"),
            Err(Error::Format { message, .. }) => message,
            Err(e) => panic!("not a format error: {e}"),
        }
    }

    fn le<const N: usize>(values: impl IntoIterator<Item = [u8; N]>) -> Vec<u8> {
        values.into_iter().flatten().collect()
    }

    #[test]
    fn converts_every_dtype() {
        let i = [-5i64, 0, 3, 100];
        let u = [0u64, 1, 200, 255];
        let fi: Vec<f32> = i.iter().map(|&v| v as f32).collect();
        let fu: Vec<f32> = u.iter().map(|&v| v as f32).collect();
        let cases: Vec<(&str, Vec<u8>, Vec<f32>)> = vec![
            ("F32", le(i.map(|v| (v as f32).to_le_bytes())), fi.clone()),
            ("F64", le(i.map(|v| (v as f64).to_le_bytes())), fi.clone()),
            (
                "F16",
                le([0x3C00u16, 0xC000, 0x7C00, 0x0001].map(u16::to_le_bytes)),
                { vec![1.0, -2.0, f32::INFINITY, 2f32.powi(-24)] },
            ),
            (
                "BF16",
                le([0x3F80u16, 0xC000, 0xFF80, 0x4049].map(u16::to_le_bytes)),
                { vec![1.0, -2.0, f32::NEG_INFINITY, 3.140625] },
            ),
            ("I8", i.map(|v| v as i8 as u8).to_vec(), fi.clone()),
            ("I16", le(i.map(|v| (v as i16).to_le_bytes())), fi.clone()),
            ("I32", le(i.map(|v| (v as i32).to_le_bytes())), fi.clone()),
            ("I64", le(i.map(i64::to_le_bytes)), fi.clone()),
            ("U8", u.map(|v| v as u8).to_vec(), fu.clone()),
            ("U16", le(u.map(|v| (v as u16).to_le_bytes())), fu.clone()),
            ("U32", le(u.map(|v| (v as u32).to_le_bytes())), fu.clone()),
            ("U64", le(u.map(u64::to_le_bytes)), fu.clone()),
            ("BOOL", vec![0, 1, 2, 0], vec![0.0, 1.0, 1.0, 0.0]),
        ];
        let mut entries = Vec::new();
        let mut data = Vec::new();
        for (dtype, bytes, _) in &cases {
            let begin = data.len() as u64;
            data.extend(bytes);
            entries.push(entry(
                &dtype.to_lowercase(),
                dtype,
                &[2, 2],
                begin,
                data.len() as u64,
            ));
        }
        let (_dir, path) = file_with(&format!("{{{}}}", entries.join(",")), &data);
        let file = SafetensorsFile::open(&path).unwrap();
        assert!(file.metadata.is_empty());
        let tensors = file.read_all().unwrap();
        assert_eq!(tensors.len(), cases.len());
        for ((dtype, _, want), t) in cases.iter().zip(&tensors) {
            assert_eq!(t.name.as_deref(), Some(dtype.to_lowercase().as_str()));
            assert_eq!(st_name(t.dtype), *dtype);
            assert_eq!(t.shape, [2, 2]);
            assert_eq!(&t.data, want, "{dtype}");
            assert_eq!(t.source, path);
        }
        // One tensor alone, by name.
        let t = file.read(file.get("i16").unwrap()).unwrap();
        assert_eq!(t.data, fi);
        assert!(file.get("nope").is_none());
        assert_eq!(read_safetensors(&path).unwrap(), tensors);
    }

    #[test]
    fn file_order_metadata_and_padding() {
        // 'b' is listed first but its data comes second; the header is
        // padded with spaces, as the reference writer does. An empty tensor
        // whose offset falls inside another's bytes overlaps nothing.
        let header = format!(
            "{{\"__metadata__\":{{\"zeta\":\"1\",\"alpha\":\"x\",\"n\":3,\"l\":[1]}},{},{},{},{}}}    ",
            entry("b", "U8", &[2], 4, 6),
            entry("inner", "I32", &[2, 0], 5, 5),
            entry("empty", "F32", &[0, 3], 4, 4),
            entry("a", "U8", &[], 0, 1),
        );
        let (_dir, path) = file_with(&header, &[7, 0, 0, 0, 8, 9]);
        let file = SafetensorsFile::open(&path).unwrap();
        let meta: Vec<(&str, &str)> = file
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(meta, [("alpha", "x"), ("l", "[1]"), ("n", "3"), ("zeta", "1")]);
        let names: Vec<&str> = file.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "empty", "b", "inner"]);
        let start = 8 + header.len() as u64;
        assert_eq!(file.tensors[2].offsets, (start + 4, start + 6));
        assert_eq!(file.tensors[0].shape_string(), "()");
        assert_eq!(file.tensors[1].num_elements(), 0);
        let t = file.read_all().unwrap();
        assert_eq!(
            (t[0].shape.as_slice(), t[0].data.as_slice()),
            (&[][..], &[7.0][..])
        );
        assert_eq!((t[1].shape.as_slice(), t[1].data.len()), (&[0, 3][..], 0));
        assert_eq!(t[2].data, [8.0, 9.0]);
        assert_eq!((t[3].shape.as_slice(), t[3].data.len()), (&[2, 0][..], 0));
        // Bytes between tensors (alignment padding) are allowed.
        assert_eq!(file.tensors[0].offsets.1 + 3, file.tensors[1].offsets.0);
    }

    #[test]
    fn blocks_and_seeking() {
        // 700_000 f32 values (2.8 MB: three blocks) after a small tensor.
        let n = 700_000usize;
        let mut data = vec![1u8, 2];
        data.extend((0..n).flat_map(|i| (i as f32).to_le_bytes()));
        let header = format!(
            "{{{},{}}}",
            entry("small", "U8", &[2], 0, 2),
            entry("big", "F32", &[700, 1000], 2, 2 + 4 * n as u64)
        );
        let (_dir, path) = file_with(&header, &data);
        let file = SafetensorsFile::open(&path).unwrap();
        let t = file.read(&file.tensors[1]).unwrap();
        assert_eq!(t.shape, [700, 1000]);
        assert!(t.data.iter().enumerate().all(|(i, &v)| v == i as f32));
        assert_eq!(file.read(&file.tensors[0]).unwrap().data, [1.0, 2.0]);
    }

    #[test]
    fn length_prefix_errors() {
        let (_dir, path) = raw_file(b"");
        let e = SafetensorsFile::open(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("m.safetensors: not a safetensors file: the file is empty"),
            "{e}"
        );
        let (_dir, path) = raw_file(b"\x05\x00\x00");
        let e = SafetensorsFile::open(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("the file has only 3 bytes, too few for the 8-byte header length"),
            "{e}"
        );
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.resize(512, b' ');
        let (_dir, path) = raw_file(&bytes);
        let e = SafetensorsFile::open(&path).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "m.safetensors: header length 18446744073709551615 exceeds the file size (512 bytes): not a safetensors file or truncated"
            ),
            "{e}"
        );
        // Exactly the file size is fine (no data section at all).
        let (_dir, path) = file_with("{}", b"");
        assert!(SafetensorsFile::open(&path).unwrap().tensors.is_empty());
        let (_dir, path) = file_with("{} ", b"");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] = 4;
        std::fs::write(&path, &bytes).unwrap();
        let e = SafetensorsFile::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("header length 4 exceeds the file size (11 bytes)"),
            "{e}"
        );

        let missing = std::env::temp_dir().join("actmap-no-such-file.safetensors");
        assert!(matches!(SafetensorsFile::open(&missing), Err(Error::Io { .. })));
    }

    #[test]
    fn oversized_header_is_refused_unread() {
        // A sparse file: the length fits the file but exceeds the limit.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.safetensors");
        let len = MAX_HEADER + 1;
        let f = File::create(&path).unwrap();
        f.set_len(8 + len).unwrap();
        drop(f);
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.push(b'{');
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        drop(f);
        let e = SafetensorsFile::open(&path).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "header length 100000001 exceeds the limit of 100000000 bytes: not a safetensors file"
            ),
            "{e}"
        );
    }

    #[test]
    fn header_errors() {
        let d48 = [0u8; 48];
        let cases: Vec<(String, &[u8], &str)> = vec![
            (
                "{not json".into(),
                &[],
                "invalid JSON header: key must be a string at line 1 column 2",
            ),
            (
                "[1, 2]".into(),
                &[],
                "invalid JSON header: expected an object of tensors, found a list",
            ),
            (
                "{\"__metadata__\": [1]}".into(),
                &[],
                "__metadata__ must be an object of strings, found a list",
            ),
            (
                "{\"w\": 3}".into(),
                &[],
                "tensor 'w': expected an object with dtype, shape and data_offsets, found a number",
            ),
            (
                "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}".into(),
                &[],
                "tensor 'w': missing \"dtype\"",
            ),
            (
                "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}".into(),
                &[],
                "tensor 'w': missing \"shape\"",
            ),
            (
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}".into(),
                &[],
                "tensor 'w': missing \"data_offsets\"",
            ),
            (
                "{\"w\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]}}".into(),
                &[],
                "tensor 'w': dtype must be a string, found a number",
            ),
            (
                format!("{{{}}}", entry("w", "F32", &[1], 0, 4)).replace("[1]", "[-1]"),
                &[0; 4],
                "tensor 'w': shape must be a list of non-negative integers",
            ),
            (
                format!("{{{}}}", entry("w", "F32", &[1], 0, 4)).replace("[1]", "[1.5]"),
                &[0; 4],
                "tensor 'w': shape must be a list of non-negative integers",
            ),
            (
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4]}}".into(),
                &[0; 4],
                "tensor 'w': data_offsets must be two non-negative integers",
            ),
            (
                "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": \"0-4\"}}".into(),
                &[0; 4],
                "tensor 'w': data_offsets must be two non-negative integers",
            ),
            (
                format!("{{{}}}", entry("w", "F32", &[0], 8, 4)),
                &[0; 8],
                "tensor 'w': data_offsets [8, 4] end before they begin",
            ),
            (
                format!("{{{}}}", entry("layer.3.attn", "F32", &[5, 6], 0, 100)),
                &[0; 100],
                "tensor 'layer.3.attn': data_offsets [0, 100] hold 100 bytes but shape (5, 6) F32 needs 120",
            ),
            (
                format!("{{{}}}", entry("w", "F32", &[1 << 40, 1 << 40], 0, 4)),
                &[0; 4],
                "tensor 'w': shape overflow: shape (1099511627776, 1099511627776) is too large to load",
            ),
            (
                format!("{{{}}}", entry("w", "I64", &[1 << 61], 0, 4)),
                &[0; 4],
                "tensor 'w': shape overflow: shape (2305843009213693952,) is too large to load",
            ),
            (
                format!("{{{}}}", entry("w", "F8_E4M3", &[4], 0, 4)),
                &[0; 4],
                "tensor 'w': unsupported dtype 'F8_E4M3' (8-bit float) (supported: F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL)",
            ),
            (
                format!("{{{}}}", entry("w", "C64", &[4], 0, 32)),
                &[0; 32],
                "tensor 'w': unsupported dtype 'C64' (complex) (supported: F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL)",
            ),
            (
                format!("{{{}}}", entry("w", "STRING", &[4], 0, 32)),
                &[0; 32],
                "tensor 'w': unsupported dtype 'STRING' (supported: F32, F16, BF16, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL)",
            ),
            (
                format!(
                    "{{{},{}}}",
                    entry("a", "F32", &[3, 4], 0, 48),
                    entry("b", "F32", &[2], 44, 52)
                ),
                &[0; 52],
                "tensors 'a' and 'b' overlap: data_offsets [0, 48] and [44, 52]",
            ),
            (
                format!(
                    "{{{},{}}}",
                    entry("x", "F32", &[3, 4], 0, 48),
                    entry("y", "F32", &[3, 4], 0, 48)
                ),
                &d48,
                "tensors 'x' and 'y' overlap: data_offsets [0, 48] and [0, 48]",
            ),
        ];
        for (header, data, want) in cases {
            assert_eq!(open_err(&header, data), want, "{header}");
        }
        // Names with control characters stay on one line.
        let e = open_err(
            "{\"a\\nb\": {\"dtype\": \"Q\", \"shape\": [], \"data_offsets\": [0, 1]}}",
            &[0],
        );
        assert!(
            e.starts_with("tensor 'a\\nb': unsupported dtype 'Q' (supported"),
            "{e}"
        );
    }

    #[test]
    fn truncated_data() {
        let header = format!("{{{}}}", entry("w", "F32", &[1024], 0, 4096));
        let start = 8 + header.len();
        let e = open_err(&header, &vec![0; 1000 - start]);
        let want = format!(
            "truncated: tensor 'w' ends at byte {} but the file has 1000",
            start + 4096
        );
        assert_eq!(e, want);

        // The file shrinks after it was opened.
        let (_dir, path) = file_with(&header, &[0; 4096]);
        let file = SafetensorsFile::open(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..1000]).unwrap();
        let e = file.read(&file.tensors[0]).unwrap_err().to_string();
        assert!(e.ends_with(&want), "{e}");
    }

    #[test]
    fn hand_built_infos_are_checked() {
        let header = format!("{{{}}}", entry("w", "F32", &[2], 0, 8));
        let (_dir, path) = file_with(&header, &[0; 8]);
        let file = SafetensorsFile::open(&path).unwrap();
        let mut info = file.tensors[0].clone();
        let (begin, end) = info.offsets;
        assert_eq!(end, 8 + header.len() as u64 + 8);
        info.shape = vec![3];
        let e = file.read(&info).unwrap_err().to_string();
        let want = format!("tensor 'w': bytes [{begin}, {end}) do not hold shape (3,) F32 (12 bytes)");
        assert!(e.ends_with(&want), "{e}");
        info.shape = vec![usize::MAX, 2];
        let e = file.read(&info).unwrap_err().to_string();
        assert!(e.contains("shape overflow"), "{e}");
        assert_eq!(info.num_elements(), usize::MAX);
        info.shape = vec![4];
        info.offsets = (begin, end + 8);
        let e = file.read(&info).unwrap_err().to_string();
        let want = format!(
            "truncated: tensor 'w' ends at byte {} but the file has {end}",
            end + 8
        );
        assert!(e.ends_with(&want), "{e}");
    }
}
