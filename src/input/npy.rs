//! Reader for numpy's `.npy` format, versions 1.0, 2.0 and 3.0.
//!
//! A `.npy` file is the magic string `\x93NUMPY`, a two-byte version, the
//! length of the header (2 bytes little-endian in version 1.0, 4 bytes in 2.0
//! and 3.0), the header itself (a Python dict literal such as
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`, Latin-1 in
//! versions 1.0 and 2.0, UTF-8 in 3.0), then the raw array data.
//!
//! Every numeric dtype (bool, signed and unsigned integers of 1 to 8 bytes,
//! float16/32/64, either byte order) is converted to f32 while the payload is
//! read in blocks, so memory stays about one f32 array; Fortran-ordered arrays
//! are transposed to C order afterwards (which briefly needs a second copy).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::tensor::{DType, Tensor};
use crate::error::{Error, Result};

/// The first six bytes of every `.npy` file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Size of the blocks the payload is read and converted in.
const CHUNK: usize = 1 << 20;

/// How deeply tuples and lists may nest in a header before it is refused.
const MAX_DEPTH: usize = 16;

/// The header of a `.npy` file: what the payload holds and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The element type.
    pub dtype: DType,
    /// Whether multi-byte elements are stored big-endian (`'>'` in the
    /// descr); always false for one-byte types.
    pub big_endian: bool,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Shape, outermost axis first; empty for a 0-d array.
    pub shape: Vec<usize>,
    /// Byte offset of the first data byte from the start of the file.
    pub data_offset: u64,
    /// Format version, `(1, 0)`, `(2, 0)` or `(3, 0)`.
    pub version: (u8, u8),
}

impl NpyHeader {
    /// Number of elements: the product of the shape (1 for a 0-d array).
    ///
    /// Exact for headers from [`read_npy_header`], whose size is checked;
    /// saturates at `usize::MAX` for a hand-built header that overflows.
    pub fn num_elements(&self) -> usize {
        self.shape.iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }

    /// Size of the payload in bytes (`num_elements() * dtype.size()`),
    /// saturating like [`NpyHeader::num_elements`].
    pub fn data_len(&self) -> usize {
        self.num_elements().saturating_mul(self.dtype.size())
    }
}

/// Read a `.npy` file into a [`Tensor`] of f32 values in C order.
///
/// The payload is read and converted in 1 MiB blocks straight into the
/// output vector. Bytes after the end of the data are ignored.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    // The length of a regular file lets a truncated file be reported before
    // anything is allocated; pipes and other special files report none.
    let total = file.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
    read_from(&mut file, path, total)
}

/// Parse a `.npy` file held in memory (for example a member of an `.npz`
/// archive); `source` names it in error messages.
pub fn parse_npy(bytes: &[u8], source: &Path) -> Result<Tensor> {
    let mut reader = bytes;
    read_from(&mut reader, source, Some(bytes.len() as u64))
}

/// Read only the header of a `.npy` file: dtype, byte order, memory order,
/// shape and the offset of the data. The data itself is not checked.
pub fn read_npy_header(path: &Path) -> Result<NpyHeader> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    read_header(&mut file, path)
}

/// The rows of a 2-D C-order `.npy` file, read a block at a time, so a
/// file of any size can be streamed with memory bounded by the block.
/// (A 1-D array reads as one row.) Little-endian f32 is read straight into
/// the caller's buffer; other dtypes are converted block by block.
pub struct NpyRowReader {
    file: File,
    path: std::path::PathBuf,
    header: NpyHeader,
    rows: usize,
    cols: usize,
    next: usize,
    bytes: Vec<u8>,
}

impl NpyRowReader {
    /// Open `path` and check that its payload can be streamed by rows and
    /// that the file holds all of it.
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let header = read_header(&mut file, path)?;
        let (rows, cols) = match header.shape.as_slice() {
            [n] => (1, *n),
            [r, c] => (*r, *c),
            s => {
                return Err(Error::format(
                    path,
                    format!("streaming needs a 1-D or 2-D array, this one is {}", shape_str(s)),
                ));
            }
        };
        if header.fortran_order && rows > 1 && cols > 1 {
            return Err(Error::format(
                path,
                "a Fortran-order array cannot be streamed by rows",
            ));
        }
        if rows == 0 || cols == 0 {
            return Err(Error::format(
                path,
                format!("empty array of shape {}", shape_str(&header.shape)),
            ));
        }
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let have = len.saturating_sub(header.data_offset);
        if have < header.data_len() as u64 {
            return Err(Error::format(
                path,
                format!(
                    "truncated data: shape {} {} needs {} bytes, file has {have}",
                    shape_str(&header.shape),
                    header.dtype,
                    header.data_len()
                ),
            ));
        }
        Ok(NpyRowReader {
            file,
            path: path.to_path_buf(),
            header,
            rows,
            cols,
            next: 0,
            bytes: Vec::new(),
        })
    }

    /// The file's header.
    pub fn header(&self) -> &NpyHeader {
        &self.header
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Index of the next row to be read.
    pub fn position(&self) -> usize {
        self.next
    }

    /// Read up to `max_rows` rows into `out` (replacing its contents);
    /// returns the number of rows read, 0 at the end.
    pub fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        let n = max_rows.max(1).min(self.rows - self.next);
        out.clear();
        if n == 0 {
            return Ok(0);
        }
        let values = n * self.cols;
        let size = self.header.dtype.size();
        let truncated = |e: io::Error| Error::io(&self.path, e);
        if self.header.dtype == DType::F32 && !self.header.big_endian && cfg!(target_endian = "little") {
            out.resize(values, 0.0);
            let got =
                read_full(&mut self.file, bytemuck::cast_slice_mut(out.as_mut_slice())).map_err(truncated)?;
            if got < values * 4 {
                return Err(self.shrunk());
            }
        } else {
            self.bytes.resize(values * size, 0);
            let got = read_full(&mut self.file, &mut self.bytes).map_err(truncated)?;
            if got < self.bytes.len() {
                return Err(self.shrunk());
            }
            out.reserve(values);
            convert(self.header.dtype, self.header.big_endian, &self.bytes, out);
        }
        self.next += n;
        Ok(n)
    }

    fn shrunk(&self) -> Error {
        Error::format(
            &self.path,
            format!(
                "the file ended at row {} of {}: was it truncated while being read?",
                self.next, self.rows
            ),
        )
    }
}

impl super::RowSource for NpyRowReader {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn position(&self) -> usize {
        self.next
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        NpyRowReader::read_rows(self, max_rows, out)
    }
}

/// The one loader behind [`read_npy`] and [`parse_npy`]. `total` is the
/// length of the whole input when known.
fn read_from<R: Read>(r: &mut R, source: &Path, total: Option<u64>) -> Result<Tensor> {
    let header = read_header(r, source)?;
    let available = total.map(|t| t.saturating_sub(header.data_offset));
    let data = read_payload(r, &header, source, available)?;
    Tensor::new(source, header.dtype, header.shape, data)
}

/// Read as many bytes as fit in `buf`, stopping early only at end of input.
pub(crate) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Read and check the magic, version, header length and header dict.
pub(crate) fn read_header<R: Read>(r: &mut R, source: &Path) -> Result<NpyHeader> {
    let fmt_err = |msg: String| Error::format(source, msg);
    let io_err = |e: io::Error| Error::io(source, e);

    let mut preamble = [0u8; 8];
    let got = read_full(r, &mut preamble).map_err(io_err)?;
    let seen = &preamble[..got];
    if got == 0 {
        return Err(fmt_err("not a .npy file: the file is empty".into()));
    }
    if got < MAGIC.len() && MAGIC.starts_with(seen) {
        return Err(fmt_err(format!(
            "truncated header: the file ends after {got} bytes, inside the magic string"
        )));
    }
    if !seen.starts_with(MAGIC) {
        let mut msg = format!(
            "not a .npy file: bad magic bytes (expected \"\\x93NUMPY\", found \"{}\")",
            escape_bytes(seen)
        );
        if seen.starts_with(b"PK\x03\x04") {
            msg.push_str("; this looks like a zip archive (.npz?)");
        }
        return Err(fmt_err(msg));
    }
    if got < preamble.len() {
        return Err(fmt_err(format!(
            "truncated header: the file ends after {got} bytes, before the format version"
        )));
    }
    let version = (preamble[6], preamble[7]);
    let len_bytes = match version {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        (major, minor) => {
            return Err(fmt_err(format!(
                "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
            )));
        }
    };
    let mut len_buf = [0u8; 4];
    let got = read_full(r, &mut len_buf[..len_bytes]).map_err(io_err)?;
    if got < len_bytes {
        return Err(fmt_err(format!(
            "truncated header: the file ends inside the {len_bytes}-byte header length"
        )));
    }
    let header_len = u32::from_le_bytes(len_buf) as usize;
    // `take` + `read_to_end` grows the buffer as data arrives, so a corrupt
    // length cannot make us allocate gigabytes up front.
    let mut raw = Vec::new();
    r.take(header_len as u64).read_to_end(&mut raw).map_err(io_err)?;
    if raw.len() < header_len {
        return Err(fmt_err(format!(
            "truncated header: the header length says {header_len} bytes, the file has only {}",
            raw.len()
        )));
    }
    let text: String = if version.0 >= 3 {
        String::from_utf8(raw).map_err(|e| {
            fmt_err(format!(
                "malformed header: not valid UTF-8 (byte {} of the header)",
                e.utf8_error().valid_up_to()
            ))
        })?
    } else {
        // Latin-1: every byte is the code point of the same value.
        raw.iter().map(|&b| char::from(b)).collect()
    };
    let fields = parse_header_dict(&text).map_err(fmt_err)?;
    let (dtype, big_endian) = parse_descr(&fields.descr).map_err(fmt_err)?;

    let overflow = || {
        fmt_err(format!(
            "shape overflow: shape {} of {dtype} is too large to load",
            shape_str(&fields.shape)
        ))
    };
    let n = fields
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    // Both the file's bytes and the f32 output must be addressable.
    let widest = dtype.size().max(std::mem::size_of::<f32>());
    match n.checked_mul(widest) {
        Some(bytes) if bytes <= isize::MAX as usize => {}
        _ => return Err(overflow()),
    }

    Ok(NpyHeader {
        dtype,
        big_endian,
        fortran_order: fields.fortran_order,
        shape: fields.shape,
        data_offset: (MAGIC.len() + 2 + len_bytes + header_len) as u64,
        version,
    })
}

/// Read the payload in blocks, converting each to f32 as it arrives.
/// `available` is the number of bytes left in the input, when known.
fn read_payload<R: Read>(
    r: &mut R,
    h: &NpyHeader,
    source: &Path,
    available: Option<u64>,
) -> Result<Vec<f32>> {
    let n = h.num_elements();
    let need = h.data_len();
    let truncated = |have: u64| {
        Error::format(
            source,
            format!(
                "truncated data: shape {} {} needs {need} bytes, file has {have}",
                shape_str(&h.shape),
                h.dtype
            ),
        )
    };
    if let Some(have) = available
        && have < need as u64
    {
        return Err(truncated(have));
    }
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| {
        Error::format(
            source,
            format!(
                "out of memory: cannot allocate {} bytes for shape {} as float32",
                n.saturating_mul(4),
                shape_str(&h.shape)
            ),
        )
    })?;
    let mut buf = vec![0u8; need.min(CHUNK)];
    let mut done = 0usize;
    while done < need {
        // CHUNK is a multiple of every element size, so blocks never split
        // an element.
        let want = (need - done).min(CHUNK);
        let block = &mut buf[..want];
        let got = read_full(r, block).map_err(|e| Error::io(source, e))?;
        if got < want {
            return Err(truncated((done + got) as u64));
        }
        convert(h.dtype, h.big_endian, block, &mut out);
        done += want;
    }
    if h.fortran_order && h.shape.len() > 1 {
        out = fortran_to_c(&out, &h.shape);
    }
    Ok(out)
}

/// Convert fixed-size elements with `f`.
fn convert_with<const N: usize>(bytes: &[u8], out: &mut Vec<f32>, f: impl Fn([u8; N]) -> f32) {
    out.extend(bytes.as_chunks::<N>().0.iter().map(|b| f(*b)));
}

/// Append the f32 values of `bytes` (whole elements of `dtype`) to `out`.
pub(crate) fn convert(dtype: DType, big_endian: bool, bytes: &[u8], out: &mut Vec<f32>) {
    macro_rules! num {
        ($t:ty) => {
            if big_endian {
                convert_with(bytes, out, |b| <$t>::from_be_bytes(b) as f32)
            } else {
                convert_with(bytes, out, |b| <$t>::from_le_bytes(b) as f32)
            }
        };
    }
    match dtype {
        DType::Bool => out.extend(bytes.iter().map(|&b| if b != 0 { 1.0 } else { 0.0 })),
        DType::I8 => out.extend(bytes.iter().map(|&b| f32::from(b as i8))),
        DType::U8 => out.extend(bytes.iter().map(|&b| f32::from(b))),
        DType::I16 => num!(i16),
        DType::U16 => num!(u16),
        DType::I32 => num!(i32),
        DType::U32 => num!(u32),
        DType::I64 => num!(i64),
        DType::U64 => num!(u64),
        DType::F32 => num!(f32),
        DType::F64 => num!(f64),
        DType::F16 => {
            if big_endian {
                convert_with(bytes, out, |b| f16_to_f32(u16::from_be_bytes(b)))
            } else {
                convert_with(bytes, out, |b| f16_to_f32(u16::from_le_bytes(b)))
            }
        }
        DType::BF16 => {
            if big_endian {
                convert_with(bytes, out, |b| bf16_to_f32(u16::from_be_bytes(b)))
            } else {
                convert_with(bytes, out, |b| bf16_to_f32(u16::from_le_bytes(b)))
            }
        }
    }
}

/// IEEE 754 half precision to single precision, exact for every input
/// (zeros, subnormals, normals, infinities; NaN payloads are kept).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man * 2^-24, exactly representable as an f32.
            let v = man as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 to f32: the top half of an f32's bits.
fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Reorder Fortran-order (column-major) data of `shape` into C order.
fn fortran_to_c(data: &[f32], shape: &[usize]) -> Vec<f32> {
    let n = data.len();
    if n == 0 || shape.len() < 2 {
        return data.to_vec();
    }
    if let [rows, cols] = *shape {
        // Element (i, j) is at j * rows + i: a blocked 2-D transpose.
        let mut out = vec![0.0f32; n];
        const B: usize = 64;
        for i0 in (0..rows).step_by(B) {
            for j0 in (0..cols).step_by(B) {
                for i in i0..(i0 + B).min(rows) {
                    for j in j0..(j0 + B).min(cols) {
                        out[i * cols + j] = data[j * rows + i];
                    }
                }
            }
        }
        return out;
    }
    // General n-d: element (i0, .., ik) is at sum(i_a * stride_a) with
    // stride_0 = 1 and stride_a = stride_(a-1) * shape_(a-1). Walk the output
    // in C order, last axis innermost.
    let nd = shape.len();
    let mut strides = vec![1usize; nd];
    for a in 1..nd {
        strides[a] = strides[a - 1] * shape[a - 1];
    }
    let (last, last_stride) = (shape[nd - 1], strides[nd - 1]);
    let mut index = vec![0usize; nd - 1];
    let mut base = 0usize;
    let mut out = Vec::with_capacity(n);
    loop {
        out.extend((0..last).map(|j| data[base + j * last_stride]));
        // Advance the odometer over the leading axes.
        let mut a = nd - 1;
        loop {
            if a == 0 {
                return out;
            }
            a -= 1;
            index[a] += 1;
            base += strides[a];
            if index[a] < shape[a] {
                break;
            }
            base -= strides[a] * shape[a];
            index[a] = 0;
        }
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

/// Printable ASCII as is, everything else as `\xNN`.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Header dict parser

/// A value in the header's Python literal.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    None,
    /// An integer, as written (sign and digits, any `L` suffix dropped).
    Int(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
}

impl Value {
    /// Short description for error messages.
    fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("the string '{s}'"),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::None => "None".into(),
            Value::Int(i) => format!("the integer {i}"),
            Value::Tuple(_) => "a tuple".into(),
            Value::List(_) => "a list".into(),
        }
    }
}

/// The three keys of a header dict, checked.
#[derive(Debug, PartialEq)]
struct HeaderFields {
    descr: Value,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parse `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
/// Missing `fortran_order` means C order; unknown keys are ignored.
fn parse_header_dict(text: &str) -> std::result::Result<HeaderFields, String> {
    let mut p = Parser { text, pos: 0 };
    let entries = p.dict()?;
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (key, value) in entries {
        match key.as_str() {
            "descr" => descr = Some(value),
            "fortran_order" => match value {
                Value::Bool(b) => fortran_order = Some(b),
                other => {
                    return Err(format!(
                        "malformed header: 'fortran_order' must be True or False, found {}",
                        other.describe()
                    ));
                }
            },
            "shape" => shape = Some(parse_shape(&value)?),
            _ => {}
        }
    }
    let missing = |key: &str| format!("malformed header: the header dict has no '{key}' key");
    Ok(HeaderFields {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.unwrap_or(false),
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// A shape tuple (or list) of non-negative integers.
fn parse_shape(value: &Value) -> std::result::Result<Vec<usize>, String> {
    let items = match value {
        Value::Tuple(items) | Value::List(items) => items,
        other => {
            return Err(format!(
                "malformed header: 'shape' must be a tuple of integers, found {}",
                other.describe()
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Int(s) if s.starts_with('-') => {
                Err(format!("malformed header: negative dimension {s} in 'shape'"))
            }
            Value::Int(s) => s
                .trim_start_matches('+')
                .parse::<usize>()
                .map_err(|_| format!("shape overflow: dimension {s} in 'shape' is too large")),
            other => Err(format!(
                "malformed header: 'shape' must be a tuple of integers, found {} in it",
                other.describe()
            )),
        })
        .collect()
}

/// Turn a descr value into a dtype and byte order.
fn parse_descr(descr: &Value) -> std::result::Result<(DType, bool), String> {
    match descr {
        Value::Str(s) => parse_dtype(s),
        Value::List(_) => Err(
            "structured (record) arrays are not supported: 'descr' is a list of fields; \
             save a single numeric field instead, e.g. np.save(path, a['name'])"
                .into(),
        ),
        other => Err(format!(
            "malformed header: 'descr' must be a dtype string such as '<f4', found {}",
            other.describe()
        )),
    }
}

/// Parse a dtype string such as `<f4`, `>i2`, `|b1` or `?`.
fn parse_dtype(descr: &str) -> std::result::Result<(DType, bool), String> {
    let (order, code) = match descr.as_bytes().first() {
        Some(&c @ (b'<' | b'>' | b'|' | b'=')) => (Some(c), &descr[1..]),
        _ => (None, descr),
    };
    let dtype = match code {
        "b1" | "?" => DType::Bool,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "u1" => DType::U8,
        "u2" => DType::U16,
        "u4" => DType::U32,
        "u8" => DType::U64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        _ => return Err(unsupported_dtype(descr, code)),
    };
    // '=' is native order, little-endian on every supported target; '|'
    // means byte order does not apply.
    let big_endian = order == Some(b'>') && dtype.size() > 1;
    Ok((dtype, big_endian))
}

/// The message for a dtype string we cannot load.
fn unsupported_dtype(descr: &str, code: &str) -> String {
    let kind = code.chars().next().unwrap_or(' ');
    let size: Option<u32> = code.get(1..).and_then(|s| s.parse().ok());
    let bits = |prefix: &str| size.map(|n| format!("{prefix}{}", n * 8));
    let name = match kind {
        'O' => {
            return "object arrays (dtype=object) cannot be drawn; save a numeric array".into();
        }
        'U' => {
            return format!("unsupported dtype '{descr}' (unicode strings); save a numeric array");
        }
        'S' | 'a' => {
            return format!("unsupported dtype '{descr}' (byte strings); save a numeric array");
        }
        'c' => bits("complex"),
        'f' => bits("float"),
        'i' => bits("int"),
        'u' => bits("uint"),
        'V' => Some("raw bytes / void".into()),
        'M' => Some("datetime64".into()),
        'm' => Some("timedelta64".into()),
        _ => None,
    };
    match name {
        Some(name) => format!("unsupported dtype '{descr}' ({name})"),
        None => format!("unsupported dtype '{descr}'"),
    }
}

/// A recursive-descent parser for the small Python literal subset numpy
/// writes: dicts with string keys, strings, True/False/None, integers,
/// tuples and lists.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// "expected X at character N, found Y".
    fn expected(&self, what: &str) -> String {
        let found = match self.text[self.pos..].chars().next() {
            None => "the end of the header".to_string(),
            Some(c) => format!("'{c}'"),
        };
        format!(
            "malformed header: expected {what} at character {}, found {found} (header: {})",
            self.pos + 1,
            shorten(self.text.trim_end(), 120)
        )
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The whole header: one dict, then only whitespace.
    fn dict(&mut self) -> std::result::Result<Vec<(String, Value)>, String> {
        if !self.eat(b'{') {
            return Err(self.expected("'{' starting the header dict"));
        }
        let mut entries = Vec::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            self.skip_ws();
            let key = match self.peek() {
                Some(b'\'' | b'"') => self.string()?,
                _ => return Err(self.expected("a quoted key or '}'")),
            };
            if !self.eat(b':') {
                return Err(self.expected(&format!("':' after the key '{key}'")));
            }
            let value = self.value(0)?;
            entries.push((key, value));
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                break;
            }
            return Err(self.expected("',' or '}' after a value"));
        }
        self.skip_ws();
        // numpy pads the header with spaces and a newline; NULs are
        // tolerated too, as some writers pad with them.
        while self.peek() == Some(0) {
            self.pos += 1;
            self.skip_ws();
        }
        if self.pos < self.text.len() {
            return Err(self.expected("the end of the header after '}'"));
        }
        Ok(entries)
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "malformed header: values nested more than {MAX_DEPTH} levels deep"
            ));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.pos += 1;
                Ok(Value::Tuple(self.sequence(b')', depth)?))
            }
            Some(b'[') => {
                self.pos += 1;
                Ok(Value::List(self.sequence(b']', depth)?))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => self.integer(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::None),
                    word => {
                        self.pos = start;
                        Err(self.expected(&format!("a string, number, tuple, True or False (not '{word}')")))
                    }
                }
            }
            _ => Err(self.expected("a value (a string, number, tuple, True or False)")),
        }
    }

    /// Items up to `close`; a trailing comma is allowed.
    fn sequence(&mut self, close: u8, depth: usize) -> std::result::Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            return Err(self.expected(&format!("',' or '{}'", char::from(close))));
        }
    }

    /// A quoted string, either quote style; backslash escapes the next char.
    fn string(&mut self) -> std::result::Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err(self.expected("a string"));
        };
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        let mut chars = self.text[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == char::from(quote) {
                self.pos += i + 1;
                return Ok(s);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, e)) => s.push(e),
                    None => break,
                }
            } else {
                s.push(c);
            }
        }
        self.pos = start;
        Err(self.expected("a closing quote for the string starting here"))
    }

    /// An integer: optional sign, digits, optional Python 2 `L` suffix.
    fn integer(&mut self) -> std::result::Result<Value, String> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == digits {
            return Err(self.expected("digits"));
        }
        let text = self.text[start..self.pos].to_string();
        if matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        Ok(Value::Int(text))
    }
}

/// At most `max` characters of `s`, with "..." when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push_str("...");
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn src() -> PathBuf {
        PathBuf::from("mem.npy")
    }

    /// A `.npy` file in memory, header padded like numpy does.
    fn npy(version: (u8, u8), header: &str, payload: &[u8]) -> Vec<u8> {
        npy_raw(version, header.as_bytes(), payload)
    }

    fn npy_raw(version: (u8, u8), header: &[u8], payload: &[u8]) -> Vec<u8> {
        let len_bytes = if version.0 == 1 { 2 } else { 4 };
        let mut h = header.to_vec();
        while !(MAGIC.len() + 2 + len_bytes + h.len() + 1).is_multiple_of(64) {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = MAGIC.to_vec();
        out.extend([version.0, version.1]);
        if len_bytes == 2 {
            out.extend((h.len() as u16).to_le_bytes());
        } else {
            out.extend((h.len() as u32).to_le_bytes());
        }
        out.extend(h);
        out.extend(payload);
        out
    }

    fn f32_le(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn parse(bytes: &[u8]) -> Result<Tensor> {
        parse_npy(bytes, &src())
    }

    fn err(bytes: &[u8]) -> String {
        match parse(bytes) {
            Ok(t) => panic!("expected an error, got {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn header_err(text: &str) -> String {
        match parse_header_dict(text).and_then(|f| parse_descr(&f.descr).map(|_| f)) {
            Ok(f) => panic!("expected an error for {text:?}, got {f:?}"),
            Err(e) => e,
        }
    }

    // --- f16 -------------------------------------------------------------

    #[test]
    fn f16_known_bit_patterns() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14)); // smallest normal
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24)); // smallest subnormal
        assert!((f16_to_f32(0x0001) - 5.96e-8).abs() < 1e-10);
        assert_eq!(f16_to_f32(0x03FF), 1023.0 * 2f32.powi(-24)); // largest subnormal
        assert_eq!(f16_to_f32(0x8001), -(2f32.powi(-24)));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xFC00), f32::NEG_INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
        assert!(f16_to_f32(0xFE01).is_nan());
        assert!(f16_to_f32(0x7C01).is_nan()); // signalling NaN stays NaN
        assert_eq!(f16_to_f32(0x0000).to_bits(), 0);
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000); // -0.0
    }

    #[test]
    fn f16_every_value_matches_the_definition() {
        for h in 0..=u16::MAX {
            let sign = if h & 0x8000 != 0 { -1.0f64 } else { 1.0 };
            let exp = i32::from((h >> 10) & 0x1f);
            let man = f64::from(h & 0x3ff);
            let got = f16_to_f32(h);
            match exp {
                0x1f if man == 0.0 => assert_eq!(f64::from(got), sign * f64::INFINITY),
                0x1f => assert!(got.is_nan(), "{h:#06x}"),
                0 => assert_eq!(f64::from(got), sign * man * 2f64.powi(-24), "{h:#06x}"),
                _ => assert_eq!(
                    f64::from(got),
                    sign * (1024.0 + man) * 2f64.powi(exp - 25),
                    "{h:#06x}"
                ),
            }
        }
    }

    #[test]
    fn bf16_is_the_top_half_of_f32() {
        assert_eq!(bf16_to_f32(0x3F80), 1.0);
        assert_eq!(bf16_to_f32(0xC040), -3.0);
        assert_eq!(bf16_to_f32(0x7F80), f32::INFINITY);
    }

    // --- header dict -----------------------------------------------------

    #[test]
    fn parses_numpy_header() {
        let f = parse_header_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }").unwrap();
        assert_eq!(f.descr, Value::Str("<f4".into()));
        assert!(!f.fortran_order);
        assert_eq!(f.shape, vec![3, 4]);
    }

    #[test]
    fn header_tolerates_quotes_spaces_and_commas() {
        let f = parse_header_dict(
            "  {\"shape\" :( 20000 ,4096 ) ,\"fortran_order\":True,\"descr\":\">f8\"}   \n",
        )
        .unwrap();
        assert_eq!(f.shape, vec![20000, 4096]);
        assert!(f.fortran_order);
        assert_eq!(parse_descr(&f.descr).unwrap(), (DType::F64, true));
        // No trailing comma, 1-tuple, 0-d, Python 2 longs, list shape.
        let f = parse_header_dict("{'descr':'|u1','fortran_order':False,'shape':(5,)}").unwrap();
        assert_eq!(f.shape, vec![5]);
        let f = parse_header_dict("{'descr':'<f2','fortran_order':False,'shape':()}").unwrap();
        assert_eq!(f.shape, Vec::<usize>::new());
        let f = parse_header_dict("{'descr':'<i8','fortran_order':False,'shape':(3L, 4L)}").unwrap();
        assert_eq!(f.shape, vec![3, 4]);
        let f = parse_header_dict("{'descr':'<i8','shape':[2, 0],}").unwrap();
        assert_eq!(f.shape, vec![2, 0]);
        assert!(!f.fortran_order, "missing fortran_order means C order");
        // Unknown keys and NUL padding are ignored.
        let f = parse_header_dict("{'descr':'<f4','shape':(1,),'extra':None}\0\0 \n").unwrap();
        assert_eq!(f.shape, vec![1]);
    }

    #[test]
    fn header_syntax_errors_say_what_was_expected() {
        let e = header_err("'descr': '<f4'}");
        assert!(e.contains("expected '{' starting the header dict"), "{e}");
        let e = header_err("{'descr' '<f4', 'shape': (3,)}");
        assert!(e.contains("expected ':' after the key 'descr'"), "{e}");
        assert!(e.contains("at character 10"), "{e}");
        let e = header_err("{'descr': '<f4' 'shape': (3,)}");
        assert!(e.contains("expected ',' or '}' after a value"), "{e}");
        let e = header_err("{'descr': '<f4, 'shape': (3,)}");
        assert!(e.contains("expected ',' or '}'"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3, 4}");
        assert!(e.contains("expected ',' or ')'"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3,), 'fortran_order': Flase}");
        assert!(e.contains("not 'Flase'"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3,)} junk");
        assert!(e.contains("expected the end of the header after '}'"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3,)");
        assert!(e.contains("found the end of the header"), "{e}");
        let e = header_err("{'descr: '<f4'}");
        assert!(e.contains("malformed header"), "{e}");
        let e = header_err("{descr: '<f4'}");
        assert!(e.contains("expected a quoted key"), "{e}");
        let deep = format!(
            "{{'descr': '<f4', 'shape': {}3{}}}",
            "(".repeat(40),
            ")".repeat(40)
        );
        let e = header_err(&deep);
        assert!(e.contains("nested more than"), "{e}");
    }

    #[test]
    fn header_value_errors() {
        let e = header_err("{'fortran_order': False, 'shape': (3,)}");
        assert!(e.contains("no 'descr' key"), "{e}");
        let e = header_err("{'descr': '<f4', 'fortran_order': False}");
        assert!(e.contains("no 'shape' key"), "{e}");
        let e = header_err("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}");
        assert!(e.contains("'fortran_order' must be True or False"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': 3}");
        assert!(e.contains("'shape' must be a tuple of integers"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3, 'a')}");
        assert!(e.contains("'shape' must be a tuple of integers"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (3, -4)}");
        assert!(e.contains("negative dimension -4"), "{e}");
        let e = header_err("{'descr': '<f4', 'shape': (99999999999999999999999,)}");
        assert!(e.contains("shape overflow"), "{e}");
        let e = header_err("{'descr': 4, 'shape': (3,)}");
        assert!(e.contains("'descr' must be a dtype string"), "{e}");
    }

    // --- dtypes ----------------------------------------------------------

    #[test]
    fn dtype_strings() {
        let cases = [
            ("|b1", DType::Bool, false),
            ("?", DType::Bool, false),
            ("|?", DType::Bool, false),
            ("|i1", DType::I8, false),
            ("<i2", DType::I16, false),
            (">i2", DType::I16, true),
            ("<i4", DType::I32, false),
            ("=i8", DType::I64, false),
            ("|u1", DType::U8, false),
            (">u1", DType::U8, false),
            (">u2", DType::U16, true),
            ("<u4", DType::U32, false),
            ("<u8", DType::U64, false),
            ("<f2", DType::F16, false),
            ("f4", DType::F32, false),
            (">f4", DType::F32, true),
            (">f8", DType::F64, true),
        ];
        for (s, dtype, big) in cases {
            assert_eq!(parse_dtype(s), Ok((dtype, big)), "{s}");
        }
    }

    #[test]
    fn unsupported_dtypes_are_named() {
        let e = |s: &str| parse_dtype(s).unwrap_err();
        assert_eq!(e("<c8"), "unsupported dtype '<c8' (complex64)");
        assert_eq!(e(">c16"), "unsupported dtype '>c16' (complex128)");
        assert_eq!(e("<f16"), "unsupported dtype '<f16' (float128)");
        assert_eq!(e("<i16"), "unsupported dtype '<i16' (int128)");
        assert_eq!(
            e("|O"),
            "object arrays (dtype=object) cannot be drawn; save a numeric array"
        );
        assert!(e("<U5").contains("'<U5' (unicode strings)"));
        assert!(e("|S3").contains("'|S3' (byte strings)"));
        assert!(e("<M8[s]").contains("datetime64"));
        assert!(e("<m8[ns]").contains("timedelta64"));
        assert!(e("|V8").contains("void"));
        assert_eq!(e("<x9"), "unsupported dtype '<x9'");
        assert_eq!(e(""), "unsupported dtype ''");
    }

    #[test]
    fn structured_descr_is_refused() {
        let e = header_err("{'descr': [('a', '<i4'), ('b', '<f8')], 'shape': (3,)}");
        assert!(e.contains("structured (record) arrays are not supported"), "{e}");
    }

    // --- whole files -----------------------------------------------------

    #[test]
    fn reads_all_versions() {
        let values: Vec<f32> = (0..12).map(|i| i as f32 - 5.0).collect();
        for version in [(1, 0), (2, 0), (3, 0)] {
            let bytes = npy(
                version,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                &f32_le(&values),
            );
            let t = parse(&bytes).unwrap();
            assert_eq!(t.shape, vec![3, 4]);
            assert_eq!(t.dtype, DType::F32);
            assert_eq!(t.data, values);
            assert_eq!(t.source, src());
        }
    }

    #[test]
    fn latin1_and_utf8_headers() {
        // Versions 1.0 and 2.0 are Latin-1: byte 0xE9 is 'é' (harmless in an
        // ignored key); version 3.0 must be UTF-8.
        let header = b"{'descr': '<u2', 'shape': (1,), 'caf\xe9': 1}";
        for version in [(1, 0), (2, 0)] {
            let t = parse(&npy_raw(version, header, &[7, 1])).unwrap();
            assert_eq!(t.data, vec![263.0]);
        }
        let e = err(&npy_raw((3, 0), header, &[7, 1]));
        assert!(e.contains("malformed header: not valid UTF-8 (byte 36"), "{e}");
        let ok = npy((3, 0), "{'descr': '<u1', 'shape': (1,), 'café': 1}", &[9]);
        assert_eq!(parse(&ok).unwrap().data, vec![9.0]);
    }

    #[test]
    fn converts_every_dtype_and_byte_order() {
        let i: [i64; 4] = [-5, 0, 3, 100];
        let u: [u64; 4] = [0, 1, 200, 65000];
        let check = |descr: &str, payload: Vec<u8>, want: &[f32]| {
            let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (4,)}}");
            let t = parse(&npy((1, 0), &header, &payload)).unwrap();
            assert_eq!(t.data, want, "{descr}");
        };
        let fi: Vec<f32> = i.iter().map(|&v| v as f32).collect();
        let fu: Vec<f32> = u.iter().map(|&v| v as f32).collect();
        check("|b1", vec![0, 1, 2, 0], &[0.0, 1.0, 1.0, 0.0]);
        check("|i1", i.iter().map(|&v| v as i8 as u8).collect(), &fi);
        check("|u1", vec![0, 1, 200, 255], &[0.0, 1.0, 200.0, 255.0]);
        let le = |f: &dyn Fn(i64) -> Vec<u8>| i.iter().flat_map(|&v| f(v)).collect::<Vec<u8>>();
        check("<i2", le(&|v| (v as i16).to_le_bytes().to_vec()), &fi);
        check(">i2", le(&|v| (v as i16).to_be_bytes().to_vec()), &fi);
        check("<i4", le(&|v| (v as i32).to_le_bytes().to_vec()), &fi);
        check(">i4", le(&|v| (v as i32).to_be_bytes().to_vec()), &fi);
        check("<i8", le(&|v| v.to_le_bytes().to_vec()), &fi);
        check(">i8", le(&|v| v.to_be_bytes().to_vec()), &fi);
        check("<f4", le(&|v| (v as f32).to_le_bytes().to_vec()), &fi);
        check(">f4", le(&|v| (v as f32).to_be_bytes().to_vec()), &fi);
        check("<f8", le(&|v| (v as f64).to_le_bytes().to_vec()), &fi);
        check(">f8", le(&|v| (v as f64).to_be_bytes().to_vec()), &fi);
        let ue = |f: &dyn Fn(u64) -> Vec<u8>| u.iter().flat_map(|&v| f(v)).collect::<Vec<u8>>();
        check("<u2", ue(&|v| (v as u16).to_le_bytes().to_vec()), &fu);
        check(">u2", ue(&|v| (v as u16).to_be_bytes().to_vec()), &fu);
        check("<u4", ue(&|v| (v as u32).to_le_bytes().to_vec()), &fu);
        check(">u4", ue(&|v| (v as u32).to_be_bytes().to_vec()), &fu);
        check("<u8", ue(&|v| v.to_le_bytes().to_vec()), &fu);
        check(">u8", ue(&|v| v.to_be_bytes().to_vec()), &fu);
        let half: [u16; 4] = [0x3C00, 0xC000, 0x7C00, 0x0001];
        let want = [1.0, -2.0, f32::INFINITY, 2f32.powi(-24)];
        check("<f2", half.iter().flat_map(|h| h.to_le_bytes()).collect(), &want);
        check(">f2", half.iter().flat_map(|h| h.to_be_bytes()).collect(), &want);
        // Large 64-bit values round to the nearest f32.
        check(
            "<u8",
            [u64::MAX, 1 << 40, 3, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            &[u64::MAX as f32, (1u64 << 40) as f32, 3.0, 0.0],
        );
    }

    #[test]
    fn fortran_order_2d_and_nd() {
        // a = arange(24).reshape(2, 3, 4); Fortran order stores a[i,j,k]
        // at i + 2*j + 6*k.
        let (d0, d1, d2) = (2usize, 3usize, 4usize);
        let mut fdata = vec![0f32; 24];
        for i in 0..d0 {
            for j in 0..d1 {
                for k in 0..d2 {
                    fdata[i + d0 * j + d0 * d1 * k] = (i * 12 + j * 4 + k) as f32;
                }
            }
        }
        let bytes = npy(
            (1, 0),
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 4), }",
            &f32_le(&fdata),
        );
        let t = parse(&bytes).unwrap();
        assert_eq!(t.shape, vec![2, 3, 4]);
        assert_eq!(t.data, (0..24).map(|v| v as f32).collect::<Vec<_>>());

        // 2-D, larger than one transpose block in both directions.
        let (r, c) = (70usize, 130usize);
        let fdata: Vec<f32> = (0..r * c).map(|n| ((n % r) * c + n / r) as f32).collect();
        assert_eq!(
            fortran_to_c(&fdata, &[r, c]),
            (0..r * c).map(|v| v as f32).collect::<Vec<_>>()
        );
        // 4-D with a unit axis, and degenerate cases.
        let shape = [2usize, 1, 3, 2];
        let n: usize = shape.iter().product();
        let mut fdata = vec![0f32; n];
        let mut c_index = 0;
        for a in 0..2 {
            for b in 0..1 {
                for cc in 0..3 {
                    for d in 0..2 {
                        fdata[a + 2 * b + 2 * cc + 6 * d] = c_index as f32;
                        c_index += 1;
                    }
                }
            }
        }
        assert_eq!(
            fortran_to_c(&fdata, &shape),
            (0..n).map(|v| v as f32).collect::<Vec<_>>()
        );
        assert!(fortran_to_c(&[], &[0, 3, 2]).is_empty());
        assert_eq!(fortran_to_c(&[1.0, 2.0], &[2]), vec![1.0, 2.0]);
    }

    #[test]
    fn zero_d_and_empty_arrays() {
        let t = parse(&npy(
            (1, 0),
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            &2.5f64.to_le_bytes(),
        ))
        .unwrap();
        assert_eq!(t.shape, Vec::<usize>::new());
        assert_eq!(t.data, vec![2.5]);
        let t = parse(&npy(
            (1, 0),
            "{'descr': '<f4', 'fortran_order': True, 'shape': (0, 4), }",
            &[],
        ))
        .unwrap();
        assert_eq!(t.shape, vec![0, 4]);
        assert!(t.data.is_empty());
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        let mut bytes = npy(
            (1, 0),
            "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }",
            &[1, 0, 2, 0],
        );
        bytes.extend(b"trailing junk");
        assert_eq!(parse(&bytes).unwrap().data, vec![1.0, 2.0]);
    }

    /// Hands out at most `step` bytes per read, and an `Interrupted` error
    /// now and then, like a slow pipe.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(5) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn short_reads_and_multiple_blocks() {
        // 300_000 f64 values: 2.4 MB, three blocks, the last one partial.
        let n = 300_000usize;
        let payload: Vec<u8> = (0..n).flat_map(|i| (i as f64 * 0.5).to_be_bytes()).collect();
        let header = format!("{{'descr': '>f8', 'fortran_order': False, 'shape': ({n},), }}");
        let bytes = npy((2, 0), &header, &payload);
        for step in [7usize, 4096, 1 << 20] {
            let mut r = Trickle {
                data: &bytes,
                step,
                calls: 0,
            };
            let t = read_from(&mut r, &src(), None).unwrap();
            assert_eq!(t.data.len(), n);
            assert!(t.data.iter().enumerate().all(|(i, &v)| v == i as f32 * 0.5));
        }
    }

    #[test]
    fn truncated_data_reports_both_sizes() {
        let bytes = npy(
            (1, 0),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (20, 4096), }",
            &vec![0u8; 1200],
        );
        let e = err(&bytes);
        assert_eq!(
            e,
            "mem.npy: truncated data: shape (20, 4096) float32 needs 327680 bytes, file has 1200"
        );
        // Same through a reader of unknown length.
        let mut r = Trickle {
            data: &bytes,
            step: 100,
            calls: 0,
        };
        let e = read_from(&mut r, &src(), None).unwrap_err().to_string();
        assert!(e.ends_with("needs 327680 bytes, file has 1200"), "{e}");
    }

    #[test]
    fn bad_magic_and_truncated_headers() {
        let e = err(b"hello world, this is not numpy");
        assert!(e.contains("not a .npy file: bad magic bytes"), "{e}");
        assert!(e.contains("found \"hello wo\""), "{e}");
        let e = err(b"PK\x03\x04\x14\x00\x00\x00");
        assert!(e.contains("bad magic bytes") && e.contains("zip archive"), "{e}");
        let e = err(b"");
        assert!(e.contains("not a .npy file: the file is empty"), "{e}");
        let e = err(b"\x93NUM");
        assert!(e.contains("truncated header"), "{e}");
        let e = err(b"\x93NUMPY\x01");
        assert!(e.contains("truncated header"), "{e}");
        let e = err(b"\x93NUMPY\x01\x00\x76");
        assert!(
            e.contains("truncated header: the file ends inside the 2-byte"),
            "{e}"
        );
        let good = npy(
            (1, 0),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
            &[0; 48],
        );
        let e = err(&good[..30]);
        assert!(
            e.contains("truncated header: the header length says 118 bytes, the file has only 20"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_versions() {
        let mut bytes = npy((1, 0), "{'descr': '<f4', 'shape': (1,)}", &[0; 4]);
        bytes[6] = 4;
        let e = err(&bytes);
        assert!(
            e.contains("unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)"),
            "{e}"
        );
        bytes[6] = 1;
        bytes[7] = 1;
        assert!(err(&bytes).contains("unsupported .npy format version 1.1"));
    }

    #[test]
    fn shape_overflow_is_refused_before_allocating() {
        for shape in ["(4611686018427387904, 4)", "(1000000000000, 1000000000000)"] {
            let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}}}");
            let e = err(&npy((1, 0), &header, &[]));
            assert!(e.contains("shape overflow"), "{e}");
        }
        // Fits in usize but is far larger than the input: reported as
        // truncated, nothing allocated.
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}";
        let e = err(&npy((1, 0), header, &[0; 16]));
        assert!(e.contains("needs 8000000000000 bytes, file has 16"), "{e}");
    }

    #[test]
    fn header_only_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.npy");
        let bytes = npy(
            (2, 0),
            "{'descr': '>i2', 'fortran_order': True, 'shape': (3, 5), }",
            &[0; 30],
        );
        std::fs::write(&path, &bytes).unwrap();
        let h = read_npy_header(&path).unwrap();
        assert_eq!(
            h,
            NpyHeader {
                dtype: DType::I16,
                big_endian: true,
                fortran_order: true,
                shape: vec![3, 5],
                data_offset: 128,
                version: (2, 0),
            }
        );
        assert_eq!(h.num_elements(), 15);
        assert_eq!(h.data_len(), 30);
        assert_eq!(bytes.len() as u64 - h.data_offset, 30);
        let e = read_npy(&dir.path().join("missing.npy")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert!(e.to_string().contains("missing.npy"), "{e}");
    }

    #[test]
    fn shape_strings() {
        assert_eq!(shape_str(&[]), "()");
        assert_eq!(shape_str(&[5]), "(5,)");
        assert_eq!(shape_str(&[2, 3, 4]), "(2, 3, 4)");
    }
}
