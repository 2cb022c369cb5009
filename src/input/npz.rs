//! Reader for numpy's `.npz` archives: a zip file of `.npy` members, as
//! written by `np.savez` (stored) and `np.savez_compressed` (deflated).
//!
//! Members are read one at a time, so memory stays about the size of the
//! largest member (its bytes, then its f32 values). Members whose names do
//! not end in `.npy` are not arrays: they are skipped, and
//! [`skipped_npz_members`] names them so front ends can say so. Each
//! member's CRC-32 is checked.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use zip::read::ZipFile;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::npy::{self, NpyHeader};
use super::quote;
use super::tensor::Tensor;
use crate::error::{Error, Result};

/// Buffer capacity reserved up front for a member's bytes, at most; beyond
/// this the buffer grows as data arrives, so a lying size field cannot make
/// us allocate gigabytes before reading anything.
const MAX_RESERVE: u64 = 64 << 20;

/// The names (without `.npy`) and `.npy` headers of every array in an
/// `.npz` archive, in archive order. Only the start of each member is read
/// (and decompressed).
pub fn list_npz(path: &Path) -> Result<Vec<(String, NpyHeader)>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    list_from(file, path)
}

/// Read the arrays of an `.npz` archive, in archive order; with `keys`, only
/// those whose name (without `.npy`) it accepts; the others are not
/// decompressed. Each tensor's `source` is `path` and its `name` the member
/// name without `.npy`.
pub fn read_npz(path: &Path, keys: Option<&dyn Fn(&str) -> bool>) -> Result<Vec<Tensor>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    read_from(file, path, keys)
}

/// The members of an `.npz` archive that are not arrays (names not ending
/// in `.npy`; directories excluded), which [`list_npz`] and [`read_npz`]
/// skip. Only the archive's directory is read.
pub fn skipped_npz_members(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let archive = open_archive(file, path)?;
    let arrays: Vec<usize> = arrays(&archive, path)?.into_iter().map(|(i, _, _)| i).collect();
    Ok((0..archive.len())
        .filter(|i| !arrays.contains(i))
        .filter_map(|i| match archive.name_for_index(i) {
            Some(Ok(name)) if !name.ends_with('/') => Some(name.into_owned()),
            _ => None,
        })
        .collect())
}

fn list_from<R: Read + Seek>(reader: R, path: &Path) -> Result<Vec<(String, NpyHeader)>> {
    let mut archive = open_archive(reader, path)?;
    let mut out = Vec::new();
    for (index, member, key) in arrays(&archive, path)? {
        let mut file = open_member(&mut archive, index, path, &member)?;
        let header = npy::read_header(&mut file, path).map_err(|e| in_member(e, path, &member))?;
        out.push((key, header));
    }
    Ok(out)
}

fn read_from<R: Read + Seek>(
    reader: R,
    path: &Path,
    keys: Option<&dyn Fn(&str) -> bool>,
) -> Result<Vec<Tensor>> {
    let mut archive = open_archive(reader, path)?;
    let mut out = Vec::new();
    for (index, member, key) in arrays(&archive, path)? {
        if keys.is_some_and(|accept| !accept(&key)) {
            continue;
        }
        let mut file = open_member(&mut archive, index, path, &member)?;
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(file.size().min(MAX_RESERVE) as usize)
            .map_err(|_| Error::format(path, format!("member {}: out of memory", quote(&member))))?;
        // Reading to the end makes the zip reader check the CRC-32 and the
        // declared size.
        file.read_to_end(&mut bytes).map_err(|e| {
            Error::format(
                path,
                format!(
                    "member {}: corrupt data: {}",
                    quote(&member),
                    lower_first(&e.to_string())
                ),
            )
        })?;
        drop(file);
        let mut tensor = npy::parse_npy(&bytes, path).map_err(|e| in_member(e, path, &member))?;
        tensor.name = Some(key);
        out.push(tensor);
    }
    Ok(out)
}

fn open_archive<R: Read + Seek>(mut reader: R, path: &Path) -> Result<ZipArchive<R>> {
    use std::io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
    let mut start = Vec::new();
    (&mut reader)
        .take(6)
        .read_to_end(&mut start)
        .and_then(|_| reader.rewind())
        .map_err(|e| Error::io(path, e))?;
    ZipArchive::new(reader).map_err(|e| match e {
        // A failing disk, not a damaged archive.
        ZipError::Io(e) if !matches!(e.kind(), UnexpectedEof | InvalidData | InvalidInput) => {
            Error::io(path, e)
        }
        e => {
            let mut msg = format!("not a valid .npz (zip) archive: {}", zip_message(&e));
            if start.is_empty() {
                msg = "not a valid .npz (zip) archive: the file is empty".into();
            } else if start == b"\x93NUMPY" {
                msg.push_str("; this looks like a single .npy array");
            }
            Error::format(path, msg)
        }
    })
}

/// `(index, member name, key)` of every `.npy` member, in archive order.
fn arrays<R: Read + Seek>(archive: &ZipArchive<R>, path: &Path) -> Result<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let member = match archive.name_for_index(index) {
            Some(Ok(name)) => name.into_owned(),
            Some(Err(e)) => {
                return Err(Error::format(
                    path,
                    format!("member {index}: bad name: {}", zip_message(&e)),
                ));
            }
            None => continue,
        };
        if let Some(key) = member.strip_suffix(".npy") {
            let key = key.to_string();
            out.push((index, member, key));
        }
    }
    Ok(out)
}

/// Open member `index` for reading, refusing compression methods other than
/// stored and deflated before any data is read.
fn open_member<'a, R: Read + Seek>(
    archive: &'a mut ZipArchive<R>,
    index: usize,
    path: &Path,
    member: &str,
) -> Result<ZipFile<'a, R>> {
    let file = archive
        .by_index(index)
        .map_err(|e| member_error(path, member, &e))?;
    match file.compression() {
        CompressionMethod::Stored | CompressionMethod::Deflated => Ok(file),
        other => Err(Error::format(
            path,
            format!(
                "member {}: unsupported compression method {} (only stored and deflated members can be read)",
                quote(member),
                other.to_string().to_lowercase()
            ),
        )),
    }
}

/// An error from opening a member, naming it.
fn member_error(path: &Path, member: &str, e: &ZipError) -> Error {
    Error::format(path, format!("member {}: {}", quote(member), zip_message(e)))
}

/// A `.npy` parse error about `path`, re-worded to name the member.
fn in_member(e: Error, path: &Path, member: &str) -> Error {
    match e {
        Error::Format { message, .. } => Error::format(path, format!("member {}: {message}", quote(member))),
        Error::Io { cause: source, .. } => Error::format(
            path,
            format!(
                "member {}: corrupt data: {}",
                quote(member),
                lower_first(&source.to_string())
            ),
        ),
        other => other,
    }
}

/// A zip error in one line, lowercase, with the unsupported cases explained.
fn zip_message(e: &ZipError) -> String {
    match e {
        ZipError::InvalidArchive(what) if what.contains("EOCD") => {
            "no end of central directory record (not a zip file, or truncated)".into()
        }
        ZipError::InvalidArchive(what) => lower_first(what),
        ZipError::Io(e) => lower_first(&e.to_string()),
        ZipError::CompressionMethodNotSupported(id) => {
            format!("unsupported compression method {id} (only stored and deflated members can be read)")
        }
        ZipError::UnsupportedArchive(what) => format!("unsupported zip feature: {}", lower_first(what)),
        ZipError::InvalidPassword => "encrypted members are not supported".into(),
        other => lower_first(&other.to_string()),
    }
}

/// `s` on one line with its first letter lowercase ("Invalid checksum" ->
/// "invalid checksum"), to match the style of the other messages.
fn lower_first(s: &str) -> String {
    let s = s.replace('\n', " ");
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};
    use std::path::PathBuf;

    use zip::CompressionMethod;
    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::input::DType;

    fn src() -> PathBuf {
        PathBuf::from("mem.npz")
    }

    /// A version 1.0 `.npy` file.
    fn npy(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut h =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h);
        out.extend(payload);
        out
    }

    fn f32_npy(values: &[f32], shape: &str) -> Vec<u8> {
        let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        npy("<f4", shape, &payload)
    }

    /// A zip of `(name, bytes, method)` members.
    fn zip(members: &[(&str, &[u8], CompressionMethod)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, method) in members {
            let opts = SimpleFileOptions::default().compression_method(*method);
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn read(bytes: &[u8], keys: Option<&dyn Fn(&str) -> bool>) -> Result<Vec<Tensor>> {
        read_from(Cursor::new(bytes), &src(), keys)
    }

    fn err(bytes: &[u8]) -> String {
        read(bytes, None).unwrap_err().to_string()
    }

    const STORED: CompressionMethod = CompressionMethod::Stored;
    const DEFLATED: CompressionMethod = CompressionMethod::Deflated;

    #[test]
    fn stored_and_deflated_members_in_archive_order() {
        let a = f32_npy(&[1.0, -2.0, 3.5, 0.0, 5.0, 6.0], "(2, 3)");
        let b = npy("<i2", "(3,)", &[1, 0, 254, 255, 7, 0]);
        let bytes = zip(&[
            ("b.npy", &b, DEFLATED),
            ("notes.txt", b"skipped", STORED),
            ("dir/", b"", STORED),
            ("sub/a.npy", &a, STORED),
        ]);
        let t = read(&bytes, None).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name.as_deref(), Some("b"));
        assert_eq!((t[0].dtype, t[0].shape.as_slice()), (DType::I16, &[3][..]));
        assert_eq!(t[0].data, [1.0, -2.0, 7.0]);
        assert_eq!(t[1].name.as_deref(), Some("sub/a"));
        assert_eq!(t[1].shape, [2, 3]);
        assert_eq!(t[1].data, [1.0, -2.0, 3.5, 0.0, 5.0, 6.0]);
        assert!(t.iter().all(|t| t.source == src()));

        let listed = list_from(Cursor::new(&bytes), &src()).unwrap();
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "sub/a"]);
        assert_eq!(listed[1].1.shape, [2, 3]);
        assert_eq!(listed[0].1.dtype, DType::I16);
    }

    #[test]
    fn key_filter_skips_other_members() {
        // 'bad' would fail to parse: the filter keeps it from being read.
        let a = f32_npy(&[1.0], "(1,)");
        let bytes = zip(&[("bad.npy", b"garbage", DEFLATED), ("a.npy", &a, DEFLATED)]);
        let only_a = |k: &str| k == "a";
        let t = read(&bytes, Some(&only_a)).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name.as_deref(), Some("a"));
        let none = |_: &str| false;
        assert!(read(&bytes, Some(&none)).unwrap().is_empty());
        let e = err(&bytes);
        assert_eq!(
            e,
            "mem.npz: member 'bad.npy': not a .npy file: bad magic bytes (expected \"\\x93NUMPY\", found \"garbage\")"
        );
    }

    #[test]
    fn empty_archive_and_no_arrays() {
        assert!(read(&zip(&[]), None).unwrap().is_empty());
        assert!(read(&zip(&[("x.txt", b"hi", STORED)]), None).unwrap().is_empty());
        assert!(list_from(Cursor::new(zip(&[])), &src()).unwrap().is_empty());
    }

    #[test]
    fn corrupt_member_data_names_the_member() {
        let a = f32_npy(&[1.0, 2.0, 3.0, 4.0], "(4,)");
        let mut bytes = zip(&[("w.npy", &a, STORED)]);
        // Flip a byte of the last value: the CRC-32 no longer matches.
        let pos = bytes.windows(4).position(|w| w == 4.0f32.to_le_bytes()).unwrap();
        bytes[pos + 3] ^= 0x01;
        assert_eq!(
            err(&bytes),
            "mem.npz: member 'w.npy': corrupt data: invalid checksum"
        );
        // The header alone is fine.
        assert_eq!(list_from(Cursor::new(&bytes), &src()).unwrap().len(), 1);

        // A member whose .npy is cut short (consistent zip, bad array).
        let short = &a[..a.len() - 4];
        let e = err(&zip(&[("w.npy", short, DEFLATED)]));
        assert_eq!(
            e,
            "mem.npz: member 'w.npy': truncated data: shape (4,) float32 needs 16 bytes, file has 12"
        );
        let e = list_from(Cursor::new(zip(&[("h.npy", &a[..20], STORED)])), &src()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("mem.npz: member 'h.npy': truncated header"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_compression_is_named() {
        let a = f32_npy(&[1.0], "(1,)");
        let mut bytes = zip(&[("w.npy", &a, STORED)]);
        // Set the method to 12 (bzip2) in the local and central headers.
        for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
            let at = bytes.windows(4).position(|w| w == sig).unwrap();
            let field = if sig[2] == 3 { at + 8 } else { at + 10 };
            bytes[field..field + 2].copy_from_slice(&12u16.to_le_bytes());
        }
        let e = err(&bytes);
        assert!(
            e.starts_with("mem.npz: member 'w.npy': unsupported compression method bzip2 (only stored"),
            "{e}"
        );
    }

    #[test]
    fn not_a_zip() {
        let e = err(b"hello");
        assert_eq!(
            e,
            "mem.npz: not a valid .npz (zip) archive: no end of central directory record (not a zip file, or truncated)"
        );
        assert_eq!(
            err(b""),
            "mem.npz: not a valid .npz (zip) archive: the file is empty"
        );
        let e = err(&f32_npy(&[1.0], "(1,)"));
        assert!(e.ends_with("; this looks like a single .npy array"), "{e}");
        let good = zip(&[("a.npy", &f32_npy(&[1.0], "(1,)"), STORED)]);
        let e = err(&good[..good.len() - 30]);
        assert!(e.starts_with("mem.npz: not a valid .npz (zip) archive"), "{e}");
    }

    #[test]
    fn messages_are_lowercase_one_line() {
        assert_eq!(lower_first("Invalid checksum"), "invalid checksum");
        assert_eq!(lower_first("a\nb"), "a b");
        assert_eq!(lower_first(""), "");
        assert_eq!(
            zip_message(&ZipError::InvalidPassword),
            "encrypted members are not supported"
        );
    }
}
