//! Stream wire formats: how a training process sends rows.
//!
//! **Text rows**: one row per line, numbers separated by commas, tabs or
//! spaces (`nan`, `inf` allowed), optionally prefixed by a channel name and
//! a colon (`attn: 0.1, 0.2`). Blank lines are ignored. Every row of a
//! channel must have as many values as its first row.
//!
//! **Binary frames**: any number of rows of one channel at once, all
//! little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `AMAP` |
//! | 1 | version, 1 |
//! | 1 | flags, 0 |
//! | 2 | channel name length `n` (u16) |
//! | 4 | rows (u32) |
//! | 4 | columns (u32) |
//! | n | channel name, UTF-8 |
//! | 4 x rows x columns | values, f32, row-major |
//!
//! Both decoders take bytes as they arrive, in chunks of any size, and
//! report a malformed line or frame as an error while carrying on with the
//! next one: a bad frame is skipped up to the next magic.

/// Magic bytes that start every binary frame.
pub const MAGIC: &[u8; 4] = b"AMAP";
/// Binary frame header size before the name.
pub const HEADER_LEN: usize = 16;
/// Largest frame payload accepted (values), 256 Mi f32 = 1 GiB.
pub const MAX_VALUES: u64 = 1 << 28;

/// Rows of one channel.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Channel name ("" when none was given).
    pub channel: String,
    /// Number of rows.
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

/// What was wrong with a line or frame (the stream goes on).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProtocolError {
    /// A text line that is not a row of numbers.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number in the stream.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// Bytes that are not a valid binary frame.
    #[error("frame at byte {offset}: {message}")]
    Frame {
        /// Offset of the bad frame in the stream.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// Incremental decoder of text rows.
#[derive(Clone, Debug, Default)]
pub struct TextDecoder {
    partial: Vec<u8>,
    line: u64,
    widths: Vec<(String, usize)>,
    /// Width of a channel's rows before its first row, when known.
    default_width: Option<usize>,
}

impl TextDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; returns the complete lines decoded so far, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Frame, ProtocolError>> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                self.partial.extend_from_slice(&bytes[start..i]);
                let line = std::mem::take(&mut self.partial);
                self.line += 1;
                if let Some(r) = self.decode_line(&line) {
                    out.push(r);
                }
                start = i + 1;
            }
        }
        self.partial.extend_from_slice(&bytes[start..]);
        // A line longer than 64 MiB is not a row anyone sends: drop it.
        if self.partial.len() > 64 << 20 {
            self.partial.clear();
            self.line += 1;
            out.push(Err(ProtocolError::Line {
                line: self.line,
                message: "line longer than 64 MiB".into(),
            }));
        }
        out
    }

    /// Expect `cols` values per row of `channel` from now on. A sink that
    /// fixed the channel's width elsewhere (a store that saw the channel
    /// before, or was told its width) says so, so that one bad first row
    /// does not make every later, good row of the channel an error.
    pub fn set_width(&mut self, channel: &str, cols: usize) {
        match self.widths.iter_mut().find(|(c, _)| c == channel) {
            Some((_, w)) => *w = cols,
            None => self.widths.push((channel.to_string(), cols)),
        }
    }

    /// Expect `cols` values per row of every channel not seen yet (a sink
    /// that requires that width); `None`: a channel's first row decides.
    pub fn set_default_width(&mut self, cols: Option<usize>) {
        self.default_width = cols;
    }

    /// The last line, when the stream ends without a newline.
    pub fn finish(&mut self) -> Option<Result<Frame, ProtocolError>> {
        if self.partial.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.partial);
        self.line += 1;
        self.decode_line(&line)
    }

    fn decode_line(&mut self, raw: &[u8]) -> Option<Result<Frame, ProtocolError>> {
        let line_no = self.line;
        let err = |message: String| {
            Some(Err(ProtocolError::Line {
                line: line_no,
                message,
            }))
        };
        let Ok(text) = std::str::from_utf8(raw) else {
            return err("not valid UTF-8".into());
        };
        let text = text.trim_end_matches('\r').trim();
        if text.is_empty() {
            return None;
        }
        // "name: values" (a name never starts like a number).
        let (channel, values) = match text.split_once(':') {
            Some((name, rest)) if name.trim().parse::<f32>().is_err() && !name.trim().is_empty() => {
                (name.trim().to_string(), rest)
            }
            _ => (String::new(), text),
        };
        let mut data = Vec::new();
        for (i, tok) in values
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            match tok.parse::<f32>() {
                Ok(v) => data.push(v),
                Err(_) => return err(format!("value {} '{tok}' is not a number", i + 1)),
            }
        }
        if data.is_empty() {
            return err("no values".into());
        }
        let width = self.widths.iter().find(|(c, _)| *c == channel).map(|(_, w)| *w);
        match width.or(self.default_width) {
            Some(w) if w != data.len() => {
                return err(format!(
                    "{} values, but {} has {w} per row",
                    data.len(),
                    if channel.is_empty() {
                        "the stream".to_string()
                    } else {
                        format!("channel '{channel}'")
                    }
                ));
            }
            _ if width.is_none() => self.widths.push((channel.clone(), data.len())),
            _ => {}
        }
        Some(Ok(Frame {
            channel,
            rows: 1,
            cols: data.len(),
            data,
        }))
    }
}

/// Incremental decoder of binary frames.
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
}

fn find_magic(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == MAGIC)
}

impl FrameDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes received but not yet decoded (an incomplete frame).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Encode one frame (for clients and tests).
    pub fn encode(channel: &str, rows: usize, cols: usize, data: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + channel.len() + data.len() * 4);
        out.extend_from_slice(MAGIC);
        out.push(1);
        out.push(0);
        out.extend_from_slice(&(channel.len() as u16).to_le_bytes());
        out.extend_from_slice(&(rows as u32).to_le_bytes());
        out.extend_from_slice(&(cols as u32).to_le_bytes());
        out.extend_from_slice(channel.as_bytes());
        for v in data {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn skip(&mut self, n: usize) {
        self.buf.drain(..n);
        self.offset += n as u64;
    }

    /// Feed bytes; returns every frame completed by them, and an error for
    /// each stretch of bad bytes skipped.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Frame, ProtocolError>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if self.buf.len() < 4 {
                break;
            }
            if &self.buf[..4] != MAGIC {
                let at = self.offset;
                // Resync at the next magic (keep 3 bytes that may start one).
                match find_magic(&self.buf[1..]) {
                    Some(p) => self.skip(p + 1),
                    None => self.skip(self.buf.len().saturating_sub(3).max(1).min(self.buf.len())),
                }
                out.push(Err(ProtocolError::Frame {
                    offset: at,
                    message: format!("no frame magic here; skipped {} bytes", self.offset - at),
                }));
                continue;
            }
            if self.buf.len() < HEADER_LEN {
                break;
            }
            let at = self.offset;
            let h = &self.buf[..HEADER_LEN];
            let version = h[4];
            let name_len = u16::from_le_bytes([h[6], h[7]]) as usize;
            let rows = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as u64;
            let cols = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as u64;
            let bad = |message: String| ProtocolError::Frame { offset: at, message };
            let problem = if version != 1 {
                Some(bad(format!("unsupported version {version} (expected 1)")))
            } else if rows == 0 || cols == 0 {
                Some(bad(format!("empty frame ({rows} x {cols})")))
            } else if rows * cols > MAX_VALUES {
                Some(bad(format!(
                    "{rows} x {cols} values exceed the limit of {MAX_VALUES}"
                )))
            } else {
                None
            };
            if let Some(e) = problem {
                out.push(Err(e));
                self.skip(4);
                continue;
            }
            let total = HEADER_LEN + name_len + (rows * cols * 4) as usize;
            if self.buf.len() < total {
                break;
            }
            let name = &self.buf[HEADER_LEN..HEADER_LEN + name_len];
            let Ok(channel) = std::str::from_utf8(name).map(str::to_string) else {
                out.push(Err(bad("channel name is not UTF-8".into())));
                self.skip(total);
                continue;
            };
            let data: Vec<f32> = self.buf[HEADER_LEN + name_len..total]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            self.skip(total);
            out.push(Ok(Frame {
                channel,
                rows: rows as usize,
                cols: cols as usize,
                data,
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rows_with_channels_split_across_chunks() {
        let mut d = TextDecoder::new();
        let mut got = d.push(b"1, 2, 3\nattn: 0.5 0.25\n4\t5\t6\r\n\n7,8");
        got.extend(d.push(b",9\n"));
        assert!(d.finish().is_none());
        let frames: Vec<Frame> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(frames.len(), 4);
        assert_eq!(frames[0].data, [1.0, 2.0, 3.0]);
        assert_eq!(
            (frames[1].channel.as_str(), frames[1].data.as_slice()),
            ("attn", &[0.5, 0.25][..])
        );
        assert_eq!(frames[2].data, [4.0, 5.0, 6.0]);
        assert_eq!(frames[3].data, [7.0, 8.0, 9.0]);
    }

    #[test]
    fn bad_text_lines_are_reported_and_skipped() {
        let mut d = TextDecoder::new();
        let got = d.push(b"1,2\n1,x\n1,2,3\n\xff\xfe\n3,4\nnan,-inf\n");
        let errs: Vec<String> = got
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "line 2: value 2 'x' is not a number",
                "line 3: 3 values, but the stream has 2 per row",
                "line 4: not valid UTF-8"
            ]
        );
        let ok: Vec<&Frame> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 3);
        assert!(ok[2].data[0].is_nan() && ok[2].data[1] == f32::NEG_INFINITY);
        let mut d = TextDecoder::new();
        d.push(b"5,6");
        assert_eq!(d.finish().unwrap().unwrap().data, [5.0, 6.0]);
    }

    #[test]
    fn widths_set_from_outside() {
        let mut d = TextDecoder::new();
        d.set_default_width(Some(2));
        d.set_width("a", 3);
        let got = d.push(b"1\n1,2\n3,4\na: 1,2\na: 1,2,3\nb: 1,2\n");
        let ok: Vec<&Frame> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 4, "{got:?}");
        let errs: Vec<String> = got
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "line 1: 1 values, but the stream has 2 per row",
                "line 4: 2 values, but channel 'a' has 3 per row"
            ]
        );
    }

    #[test]
    fn binary_frames_in_any_chunking() {
        let a = FrameDecoder::encode("acts", 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = FrameDecoder::encode("", 1, 2, &[f32::NAN, -1.0]);
        let stream: Vec<u8> = [a.clone(), b.clone()].concat();
        for chunk in [1, 3, 7, 16, stream.len()] {
            let mut d = FrameDecoder::new();
            let mut frames = Vec::new();
            for c in stream.chunks(chunk) {
                frames.extend(d.push(c));
            }
            let frames: Vec<Frame> = frames.into_iter().map(Result::unwrap).collect();
            assert_eq!(frames.len(), 2, "chunk {chunk}");
            assert_eq!(frames[0].channel, "acts");
            assert_eq!((frames[0].rows, frames[0].cols), (2, 3));
            assert_eq!(frames[0].data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            assert!(frames[1].data[0].is_nan());
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn bad_frames_are_skipped_up_to_the_next_magic() {
        let good = FrameDecoder::encode("x", 1, 2, &[7.0, 8.0]);
        let mut bad_version = good.clone();
        bad_version[4] = 9;
        let mut huge = good.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        let stream = [
            b"garbage!".to_vec(),
            good.clone(),
            bad_version,
            huge,
            good.clone(),
        ]
        .concat();
        let mut d = FrameDecoder::new();
        let got = d.push(&stream);
        let ok: Vec<&Frame> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 2, "{got:?}");
        assert!(ok.iter().all(|f| f.data == [7.0, 8.0]));
        let errs: Vec<String> = got
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert!(
            errs[0].starts_with("frame at byte 0: no frame magic here; skipped 8 bytes"),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("unsupported version 9")),
            "{errs:?}"
        );
        assert!(errs.iter().any(|e| e.contains("exceed the limit")), "{errs:?}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 1u64;
        let mut d = FrameDecoder::new();
        let mut t = TextDecoder::new();
        for _ in 0..2000 {
            let chunk: Vec<u8> = (0..37)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    if x >> 62 == 0 {
                        MAGIC[(x >> 20) as usize % 4]
                    } else {
                        (x >> 33) as u8
                    }
                })
                .collect();
            let _ = d.push(&chunk);
            let _ = t.push(&chunk);
        }
        assert!(d.pending() < 1 << 20);
    }
}
