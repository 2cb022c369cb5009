//! A 2-D grid read where it lies in a file, without loading the array: a
//! `.npy` file (C or Fortran order, any dimensions, a slice picked by
//! index), a tensor of a `.safetensors` file, or a member of an `.npz`
//! archive (stored members read at their offset, deflated ones inflated
//! as a stream). [`ArraySlice`] says where every cell is; [`SliceReader`]
//! reads it a block of rows at a time (a [`RowSource`]), touching only the
//! bytes of the grid when they can be reached directly.
//!
//! The reader goes through the file in order: along the grid's rows when a
//! row's cells are closer together than a column's (C order), along its
//! columns otherwise (Fortran order, or a 1-D array, whose one row would be
//! a block of any size). [`ArraySlice::by_columns`] says which.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::npy::{self, NpyHeader, read_full};
use super::quote;
use super::tensor::{DType, grid_of};
use super::{RowSource, SafetensorsFile, SafetensorsInfo};
use crate::error::{Error, Result};

/// How the array's bytes are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// As they are in the file.
    Plain,
    /// Deflated, as `np.savez_compressed` writes `.npz` members: the
    /// compressed bytes `[start, start + len)` of the file inflate to a
    /// `.npy` file of `size` bytes whose CRC-32 is `crc`. Offsets count in
    /// the inflated bytes.
    Deflated {
        /// First compressed byte in the file.
        start: u64,
        /// Compressed length.
        len: u64,
        /// Inflated length.
        size: u64,
        /// CRC-32 of the inflated bytes.
        crc: u32,
    },
}

/// Where every cell of a 2-D grid lies in a file: cell `(r, c)` is element
/// `offset + r * row_stride + c * col_stride` of the array whose first
/// element is at byte `data_start` (of the file, or of the inflated member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArraySlice {
    /// The file.
    pub path: PathBuf,
    /// The tensor or member inside it, for error messages (`tensor 'w'`).
    pub what: Option<String>,
    /// Element type.
    pub dtype: DType,
    /// Multi-byte elements stored big-endian.
    pub big_endian: bool,
    /// How the bytes are stored.
    pub storage: Storage,
    /// Byte offset of the array's first element.
    pub data_start: u64,
    /// Bytes the whole array occupies from `data_start` (checked against
    /// the file before reading, as loading the array would).
    pub data_len: u64,
    /// Element index of cell (0, 0).
    pub offset: u64,
    /// Rows of the grid.
    pub rows: usize,
    /// Elements between one row and the next.
    pub row_stride: u64,
    /// Columns of the grid.
    pub cols: usize,
    /// Elements between one column and the next.
    pub col_stride: u64,
}

/// Which 2-D grid of an array to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick<'a> {
    /// One index for each axis before the last two, as `--index` (none for
    /// a 1-D or 2-D array; a 1-D array is one row).
    Leading(&'a [usize]),
    /// One index for each of `axes` (distinct), as `--split`: the other
    /// axes, one or two, in order, are the grid's.
    Axes {
        /// The axes fixed.
        axes: &'a [usize],
        /// Their indices.
        index: &'a [usize],
    },
}

/// Element strides of an array of `shape`, in C order (last axis fastest)
/// or Fortran order (first axis fastest).
fn strides(shape: &[usize], fortran: bool) -> Vec<u64> {
    let nd = shape.len();
    let mut s = vec![1u64; nd];
    if fortran {
        for d in 1..nd {
            s[d] = s[d - 1] * shape[d - 1] as u64;
        }
    } else {
        for d in (0..nd.saturating_sub(1)).rev() {
            s[d] = s[d + 1] * shape[d + 1] as u64;
        }
    }
    s
}

impl ArraySlice {
    /// The grid `pick` chooses from an array of `shape` stored in C or
    /// Fortran order from `data_start`: for [`Pick::Leading`], the checks
    /// and messages of loading it ([`super::Tensor::into_grid`]).
    #[allow(clippy::too_many_arguments)]
    fn pick(
        path: &Path,
        what: Option<String>,
        dtype: DType,
        big_endian: bool,
        storage: Storage,
        data_start: u64,
        shape: &[usize],
        fortran: bool,
        pick: &Pick<'_>,
    ) -> Result<ArraySlice> {
        let s = strides(shape, fortran);
        let (fixed, kept): (Vec<(usize, usize)>, Vec<usize>) = match *pick {
            Pick::Leading(index) => {
                grid_of(path, shape, index)?;
                let lead = shape.len().saturating_sub(2);
                (
                    (0..lead).zip(index.iter().copied()).collect(),
                    (lead..shape.len()).collect(),
                )
            }
            Pick::Axes { axes, index } => {
                let bad = |m: String| Error::format(path, m);
                if axes.len() != index.len() {
                    return Err(bad(format!(
                        "{} split axes but {} indices",
                        axes.len(),
                        index.len()
                    )));
                }
                for (k, (&a, &i)) in axes.iter().zip(index).enumerate() {
                    if a >= shape.len() || axes[..k].contains(&a) || i >= shape[a] {
                        return Err(bad(format!(
                            "index {i} of axis {a} does not pick a slice of shape {shape:?}"
                        )));
                    }
                }
                let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
                let kept_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
                grid_of(path, &kept_shape, &[])?;
                (axes.iter().copied().zip(index.iter().copied()).collect(), kept)
            }
        };
        let offset = fixed.iter().map(|&(a, i)| i as u64 * s[a]).sum();
        let (rows, row_stride, cols, col_stride) = match kept.as_slice() {
            [c] => (1, shape[*c] as u64 * s[*c], shape[*c], s[*c]),
            [r, c] => (shape[*r], s[*r], shape[*c], s[*c]),
            _ => return Err(Error::format(path, format!("no 2-D grid in shape {shape:?}"))),
        };
        let elements: u64 = shape.iter().map(|&d| d as u64).product();
        Ok(ArraySlice {
            path: path.to_path_buf(),
            what,
            dtype,
            big_endian,
            storage,
            data_start,
            data_len: elements * dtype.size() as u64,
            offset,
            rows,
            row_stride,
            cols,
            col_stride,
        })
    }

    /// The grid `pick` chooses from the `.npy` file at `path` (its header
    /// read before).
    pub fn npy(path: &Path, header: &NpyHeader, pick: &Pick<'_>) -> Result<ArraySlice> {
        Self::pick(
            path,
            None,
            header.dtype,
            header.big_endian,
            Storage::Plain,
            header.data_offset,
            &header.shape,
            header.fortran_order,
            pick,
        )
    }

    /// The grid `pick` chooses from tensor `t` of the `.safetensors` file `file`.
    pub fn safetensors(file: &SafetensorsFile, t: &SafetensorsInfo, pick: &Pick<'_>) -> Result<ArraySlice> {
        Self::pick(
            &file.path,
            Some(format!("tensor {}", quote(&t.name))),
            t.dtype,
            false,
            Storage::Plain,
            t.offsets.0,
            &t.shape,
            false,
            pick,
        )
    }

    /// The grid `pick` chooses from array `key` (member `key.npy`) of the
    /// `.npz` archive at `path`; `Ok(None)` when it has no such member.
    pub fn npz(path: &Path, key: &str, pick: &Pick<'_>) -> Result<Option<ArraySlice>> {
        let Some(m) = super::npz::locate(path, key)? else {
            return Ok(None);
        };
        let what = Some(format!("member {}", quote(&m.member)));
        let in_member = |e: Error| super::npz::in_member(e, path, &m.member);
        let (storage, header, base) = if m.deflated {
            let storage = Storage::Deflated {
                start: m.data_start,
                len: m.compressed,
                size: m.size,
                crc: m.crc,
            };
            let mut bytes = Bytes::open(path, &storage)?;
            let header = npy::read_header(&mut bytes, path).map_err(in_member)?;
            (storage, header, 0)
        } else {
            let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
            file.seek(SeekFrom::Start(m.data_start))
                .map_err(|e| Error::io(path, e))?;
            let header = npy::read_header(&mut (&mut file).take(m.size), path).map_err(in_member)?;
            (Storage::Plain, header, m.data_start)
        };
        if header.data_offset + header.data_len() as u64 > m.size {
            return Err(in_member(Error::format(
                path,
                format!(
                    "truncated data: shape {:?} {} needs {} bytes, the member has {}",
                    header.shape,
                    header.dtype,
                    header.data_len(),
                    m.size.saturating_sub(header.data_offset)
                ),
            )));
        }
        let slice = Self::pick(
            path,
            what,
            header.dtype,
            header.big_endian,
            storage,
            base + header.data_offset,
            &header.shape,
            header.fortran_order,
            pick,
        )
        .map_err(in_member)?;
        Ok(Some(slice))
    }

    /// Values in the grid.
    pub fn len(&self) -> u64 {
        self.rows as u64 * self.cols as u64
    }

    /// Whether the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the grid's values in the file.
    pub fn bytes(&self) -> u64 {
        self.len() * self.dtype.size() as u64
    }

    /// Whether the reader goes along the columns (each block a run of whole
    /// columns): when the grid has one row, or its columns lie further
    /// apart than its rows.
    pub fn by_columns(&self) -> bool {
        self.rows == 1 || (self.cols > 1 && self.col_stride > self.row_stride)
    }

    /// Open a reader of the grid's rows, or of its columns when
    /// [`ArraySlice::by_columns`].
    pub fn open(&self) -> Result<SliceReader> {
        let (outer, outer_stride, inner, inner_stride) = if self.by_columns() {
            (self.cols, self.col_stride, self.rows, self.row_stride)
        } else {
            (self.rows, self.row_stride, self.cols, self.col_stride)
        };
        let bytes = Bytes::open(&self.path, &self.storage)?;
        if let Storage::Plain = self.storage {
            let len = std::fs::metadata(&self.path)
                .map_err(|e| Error::io(&self.path, e))?
                .len();
            let have = len.saturating_sub(self.data_start);
            if have < self.data_len {
                return Err(self.error(format!(
                    "truncated data: the array needs {} bytes, the file has {have}",
                    self.data_len
                )));
            }
        }
        Ok(SliceReader {
            slice: self.clone(),
            bytes,
            outer,
            outer_stride,
            inner,
            inner_stride,
            next: 0,
            buf: Vec::new(),
        })
    }

    fn error(&self, message: String) -> Error {
        match &self.what {
            Some(w) => Error::format(&self.path, format!("{w}: {message}")),
            None => Error::format(&self.path, message),
        }
    }
}

/// A forward-moving view of the array's bytes.
enum Bytes {
    File {
        file: File,
        pos: u64,
    },
    Inflate {
        reader: Box<flate2::read::DeflateDecoder<BufReader<io::Take<File>>>>,
        pos: u64,
        hasher: crc32fast::Hasher,
        size: u64,
        crc: u32,
    },
}

impl Bytes {
    fn open(path: &Path, storage: &Storage) -> Result<Bytes> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(match *storage {
            Storage::Plain => Bytes::File { file, pos: 0 },
            Storage::Deflated {
                start,
                len,
                size,
                crc,
            } => {
                file.seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io(path, e))?;
                let compressed = BufReader::with_capacity(1 << 20, file.take(len));
                Bytes::Inflate {
                    reader: Box::new(flate2::read::DeflateDecoder::new(compressed)),
                    pos: 0,
                    hasher: crc32fast::Hasher::new(),
                    size,
                    crc,
                }
            }
        })
    }

    /// Fill `buf` from byte `at` (at or after the last byte read when
    /// inflating); returns how many bytes there were.
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Bytes::File { file, pos } => {
                if *pos != at {
                    file.seek(SeekFrom::Start(at))?;
                    *pos = at;
                }
                let got = read_full(file, buf)?;
                *pos += got as u64;
                Ok(got)
            }
            Bytes::Inflate { pos, .. } => {
                let pos = *pos;
                if at < pos {
                    return Err(io::Error::other("a deflated member can only be read forwards"));
                }
                self.skip(at - pos)?;
                self.inflate(buf)
            }
        }
    }

    fn inflate(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Bytes::Inflate {
            reader, pos, hasher, ..
        } = self
        else {
            return Ok(0);
        };
        let got = read_full(reader, buf)?;
        hasher.update(&buf[..got]);
        *pos += got as u64;
        Ok(got)
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let mut scratch = vec![0u8; n.min(1 << 20) as usize];
        while n > 0 {
            let k = n.min(scratch.len() as u64) as usize;
            let got = self.inflate(&mut scratch[..k])?;
            if got < k {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            n -= k as u64;
        }
        Ok(())
    }

    /// For an inflated member: read to its end and check its length and
    /// CRC-32 (what the zip reader checks when a member is loaded).
    fn finish(&mut self) -> std::result::Result<(), String> {
        let Bytes::Inflate { pos, size, .. } = self else {
            return Ok(());
        };
        let rest = size.saturating_sub(*pos);
        match self.skip(rest) {
            Ok(()) => {}
            // Fewer bytes than declared: the checksum cannot match.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err("invalid checksum".into()),
            Err(e) => return Err(super::npz::lower_first(&e.to_string())),
        }
        let mut probe = [0u8; 1];
        if self
            .inflate(&mut probe)
            .map_err(|e| super::npz::lower_first(&e.to_string()))?
            > 0
        {
            // The zip reader's words, so a streamed member fails as a loaded one.
            return Err("file is larger than its declared uncompressed size".into());
        }
        let Bytes::Inflate { hasher, crc, .. } = self else {
            return Ok(());
        };
        if hasher.clone().finalize() != *crc {
            return Err("invalid checksum".into());
        }
        Ok(())
    }
}

impl std::io::Read for Bytes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = match self {
            Bytes::File { file, .. } => file.read(buf)?,
            Bytes::Inflate { reader, hasher, .. } => {
                let got = reader.read(buf)?;
                hasher.update(&buf[..got]);
                got
            }
        };
        match self {
            Bytes::File { pos, .. } | Bytes::Inflate { pos, .. } => *pos += got as u64,
        }
        Ok(got)
    }
}

/// Bytes read and converted at a time when gathering strided cells.
const GATHER_BYTES: u64 = 1 << 20;

/// Reads an [`ArraySlice`] a block at a time: its rows, or its columns when
/// [`ArraySlice::by_columns`] (each read "row" is then a column).
pub struct SliceReader {
    slice: ArraySlice,
    bytes: Bytes,
    outer: usize,
    outer_stride: u64,
    inner: usize,
    inner_stride: u64,
    next: usize,
    buf: Vec<u8>,
}

impl SliceReader {
    /// The slice being read.
    pub fn slice(&self) -> &ArraySlice {
        &self.slice
    }

    fn io_error(&self, e: io::Error) -> Error {
        match (&self.slice.storage, e.kind()) {
            (Storage::Deflated { .. }, _) | (_, io::ErrorKind::UnexpectedEof) => self.slice.error(format!(
                "corrupt data: {}",
                super::npz::lower_first(&e.to_string())
            )),
            _ => Error::io(&self.slice.path, e),
        }
    }

    fn shrunk(&self) -> Error {
        self.slice.error(format!(
            "the data ended at {} {} of {}: was the file truncated while being read?",
            if self.slice.by_columns() { "column" } else { "row" },
            self.next,
            self.outer
        ))
    }

    /// Read `n` elements from element `at` (contiguous) converted into `out`.
    fn read_run(&mut self, at: u64, n: usize, out: &mut Vec<f32>) -> Result<()> {
        let size = self.slice.dtype.size();
        let start = self.slice.data_start + at * size as u64;
        let direct =
            self.slice.dtype == DType::F32 && !self.slice.big_endian && cfg!(target_endian = "little");
        if direct {
            let len = out.len();
            out.resize(len + n, 0.0);
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut out[len..]);
            let got = self.bytes.read_at(start, dst).map_err(|e| self.io_error(e))?;
            if got < dst.len() {
                return Err(self.shrunk());
            }
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.resize(n * size, 0);
            let got = self
                .bytes
                .read_at(start, &mut buf)
                .map_err(|e| self.io_error(e))?;
            if got < buf.len() {
                return Err(self.shrunk());
            }
            npy::convert(self.slice.dtype, self.slice.big_endian, &buf, out);
            self.buf = buf;
        }
        Ok(())
    }

    /// Read every `stride`-th of `n` elements from element `at` into `out`.
    fn read_strided(&mut self, at: u64, n: usize, stride: u64, out: &mut Vec<f32>) -> Result<()> {
        let size = self.slice.dtype.size() as u64;
        // Elements per window: a window spans (k - 1) * stride + 1 elements.
        let k = (GATHER_BYTES / (stride * size)).max(1) as usize;
        let mut run = Vec::new();
        let mut done = 0;
        while done < n {
            let m = k.min(n - done);
            let first = at + done as u64 * stride;
            run.clear();
            self.read_run(first, (m - 1) * stride as usize + 1, &mut run)?;
            out.extend(run.iter().step_by(stride as usize));
            done += m;
        }
        Ok(())
    }
}

impl RowSource for SliceReader {
    fn rows(&self) -> usize {
        self.outer
    }

    fn cols(&self) -> usize {
        self.inner
    }

    fn position(&self) -> usize {
        self.next
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        let n = max_rows.max(1).min(self.outer - self.next);
        if n == 0 {
            out.clear();
            return Ok(0);
        }
        let first = self.slice.offset + self.next as u64 * self.outer_stride;
        let contiguous_rows = self.inner_stride == 1 || self.inner == 1;
        let packed = contiguous_rows && (n == 1 || self.outer_stride == self.inner as u64);
        let direct =
            self.slice.dtype == DType::F32 && !self.slice.big_endian && cfg!(target_endian = "little");
        if packed && direct {
            // Little-endian f32 straight into the caller's buffer, which is
            // resized, not cleared: a reused block is not zeroed first.
            let need = n * self.inner;
            if out.len() > need {
                out.truncate(need);
            } else {
                out.resize(need, 0.0);
            }
            let start = self.slice.data_start + first * 4;
            let dst: &mut [u8] = bytemuck::cast_slice_mut(out.as_mut_slice());
            let got = self.bytes.read_at(start, dst).map_err(|e| self.io_error(e))?;
            if got < need * 4 {
                return Err(self.shrunk());
            }
        } else if packed {
            out.clear();
            out.reserve(n * self.inner);
            self.read_run(first, n * self.inner, out)?;
        } else {
            out.clear();
            out.reserve(n * self.inner);
            for i in 0..n {
                let at = first + i as u64 * self.outer_stride;
                if contiguous_rows {
                    self.read_run(at, self.inner, out)?;
                } else {
                    self.read_strided(at, self.inner, self.inner_stride, out)?;
                }
            }
        }
        self.next += n;
        if self.next == self.outer {
            self.bytes
                .finish()
                .map_err(|e| self.slice.error(format!("corrupt data: {e}")))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All rows of a reader, as the grid they describe (transposed back
    /// when read by columns).
    fn read_all(slice: &ArraySlice, block: usize) -> Vec<f32> {
        let mut r = slice.open().unwrap();
        let (outer, inner) = (r.rows(), r.cols());
        let mut all = Vec::new();
        let mut buf = Vec::new();
        while r.read_rows(block, &mut buf).unwrap() > 0 {
            all.extend_from_slice(&buf);
        }
        assert_eq!(all.len(), outer * inner);
        if slice.by_columns() {
            (0..inner)
                .flat_map(|i| (0..outer).map(move |o| (o, i)))
                .map(|(o, i)| all[o * inner + i])
                .collect()
        } else {
            all
        }
    }

    #[test]
    fn strides_in_both_orders() {
        assert_eq!(strides(&[2, 3, 4], false), [12, 4, 1]);
        assert_eq!(strides(&[2, 3, 4], true), [1, 2, 6]);
        assert_eq!(strides(&[5], true), [1]);
    }

    #[test]
    fn c_and_fortran_slices_read_the_same_grid() {
        let dir = tempfile::tempdir().unwrap();
        let shape = [3usize, 4, 5, 6];
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let c_path = dir.path().join("c.npy");
        crate::sink::write_npy_f32(&c_path, &shape, &values).unwrap();
        // The same array in Fortran order: element (i, j, k, l) at
        // i + 3 j + 12 k + 60 l.
        let mut f_values = vec![0.0f32; n];
        for (c_index, &v) in values.iter().enumerate() {
            let (i, j, k, l) = (c_index / 120, c_index / 30 % 4, c_index / 6 % 5, c_index % 6);
            f_values[i + 3 * j + 12 * k + 60 * l] = v;
        }
        let f_path = dir.path().join("f.npy");
        let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4, 5, 6), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let pad = 64 - (10 + header.len() + 1) % 64;
        let text = format!("{header}{}\n", " ".repeat(pad));
        bytes.extend_from_slice(&(text.len() as u16).to_le_bytes());
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend(f_values.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(&f_path, bytes).unwrap();
        for index in [[0usize, 0], [2, 3], [1, 2]] {
            let want: Vec<f32> = (0..30)
                .map(|k| values[index[0] * 120 + index[1] * 30 + k])
                .collect();
            for path in [&c_path, &f_path] {
                let header = npy::read_npy_header(path).unwrap();
                let slice = ArraySlice::npy(path, &header, &Pick::Leading(&index)).unwrap();
                assert_eq!((slice.rows, slice.cols), (5, 6));
                assert_eq!(slice.by_columns(), header.fortran_order);
                for block in [1, 2, 7] {
                    assert_eq!(
                        read_all(&slice, block),
                        want,
                        "{path:?} {index:?} blocks of {block}"
                    );
                }
            }
        }
        let header = npy::read_npy_header(&c_path).unwrap();
        let e = ArraySlice::npy(&c_path, &header, &Pick::Leading(&[3, 0]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--index 3 is out of range for axis 0 of size 3"),
            "{e}"
        );
    }

    #[test]
    fn one_d_arrays_are_read_by_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5).collect();
        crate::sink::write_npy_f32(&path, &[1000], &values).unwrap();
        let header = npy::read_npy_header(&path).unwrap();
        let slice = ArraySlice::npy(&path, &header, &Pick::Leading(&[])).unwrap();
        assert_eq!((slice.rows, slice.cols), (1, 1000));
        assert!(slice.by_columns());
        let mut r = slice.open().unwrap();
        assert_eq!((r.rows(), r.cols()), (1000, 1));
        let mut buf = Vec::new();
        assert_eq!(r.read_rows(300, &mut buf).unwrap(), 300);
        assert_eq!(buf[299], 149.5);
        assert_eq!(read_all(&slice, 64), values);
    }

    #[test]
    fn truncation_is_reported_before_and_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.npy");
        crate::sink::write_npy_f32(&path, &[100, 10], &vec![1.0; 1000]).unwrap();
        let header = npy::read_npy_header(&path).unwrap();
        let slice = ArraySlice::npy(&path, &header, &Pick::Leading(&[])).unwrap();
        let mut r = slice.open().unwrap();
        // Cut the file after opening: the reader finds out mid-way.
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 2000)
            .unwrap();
        let mut buf = Vec::new();
        let mut err = None;
        for _ in 0..100 {
            match r.read_rows(10, &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    err = Some(e.to_string());
                    break;
                }
            }
        }
        let err = err.expect("an error");
        assert!(err.contains("t.npy") && err.contains("truncated"), "{err}");
        let e = slice.open().err().expect("refused").to_string();
        assert!(e.contains("truncated data"), "{e}");
    }
}
