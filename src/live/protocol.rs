//! Stream wire formats: how a training process sends rows.
//!
//! **Text rows**: one row per line, numbers separated by commas, tabs or
//! spaces (`nan`, `inf` allowed), optionally prefixed by a training step
//! (`@1500`, an integer) and a channel name and a colon
//! (`@1500 attn: 0.1, 0.2`). Blank lines are ignored. Every row of a
//! channel must have as many values as its first row; channels may differ.
//!
//! **Binary frames**, all little-endian. Version 1: any number of rows of
//! one channel at once:
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
//! Version 2 adds a training step per record, the writer's wall time, and
//! 2-D records (an attention map per step):
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `AMAP` |
//! | 1 | version, 2 |
//! | 1 | flags: bit 0 set when steps follow the name; bit 1 when the rank does |
//! | 2 | channel name length `n` (u16) |
//! | 4 | records `k` (u32) |
//! | 4 | columns (u32) |
//! | 4 | rows per record `h` (u32): 0 for a row of `columns`, else each record is `h x columns` |
//! | 8 | wall time, Unix seconds (f64) |
//! | n | channel name, UTF-8 |
//! | 8 | rank and world size (u32 each), when flag bit 1 is set |
//! | 8 x k | steps (i64), when flag bit 0 is set |
//! | 4 x k x max(h, 1) x columns | values, f32, row-major |
//!
//! A record without a step takes its channel's previous step + 1.
//!
//! Both decoders take bytes as they arrive, in chunks of any size, and
//! report a malformed line or frame as an error while carrying on with the
//! next one: a bad frame is skipped up to the next magic.

/// Magic bytes that start every binary frame.
pub const MAGIC: &[u8; 4] = b"AMAP";
/// Binary frame header size before the name (version 1).
pub const HEADER_LEN: usize = 16;
/// Binary frame header size before the name (version 2).
pub const HEADER_LEN_V2: usize = 28;
/// Version 2 flag: a step per record follows the name.
pub const FLAG_STEPS: u8 = 1;
/// Version 2 flag: the sender's rank and world size (u32 each) follow the
/// name, before the steps.
pub const FLAG_RANK: u8 = 2;
/// Largest frame payload accepted (values), 256 Mi f32 = 1 GiB.
pub const MAX_VALUES: u64 = 1 << 28;

/// Records of one channel: rows (`shape = [cols]`) or 2-D records
/// (`shape = [h, w]`, `cols = h * w`).
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Channel name ("" when none was given).
    pub channel: String,
    /// Number of records.
    pub rows: usize,
    /// Values per record.
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
    /// Shape of one record: `[cols]` for a row, `[h, w]` for a 2-D record.
    pub shape: Vec<usize>,
    /// The training step of each record; `None`: each takes its channel's
    /// previous step + 1.
    pub steps: Option<Vec<i64>>,
    /// The writer's wall time (Unix seconds), when it sent one.
    pub time: Option<f64>,
    /// The sender's `(rank, world size)` in a distributed job, when it said.
    pub rank: Option<(u32, u32)>,
}

impl Frame {
    /// Rows of `cols` values without steps (what a version 1 frame holds).
    pub fn rows(channel: impl Into<String>, rows: usize, cols: usize, data: Vec<f32>) -> Frame {
        Frame {
            channel: channel.into(),
            rows,
            cols,
            data,
            shape: vec![cols],
            steps: None,
            time: None,
            rank: None,
        }
    }
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
        // "@STEP rest": the record's training step.
        let (step, text) = match text.strip_prefix('@') {
            Some(rest) => {
                let (tok, rest) = rest
                    .split_once(|c: char| c.is_whitespace() || c == ',')
                    .unwrap_or((rest, ""));
                match tok.parse::<i64>() {
                    Ok(s) => (
                        Some(s),
                        rest.trim_start_matches(|c: char| c.is_whitespace() || c == ','),
                    ),
                    Err(_) => {
                        return err(format!(
                            "'@{tok}' is not a step (expected @ and an integer, e.g. @1500)"
                        ));
                    }
                }
            }
            None => (None, text),
        };
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
        let mut f = Frame::rows(channel, 1, data.len(), data);
        f.steps = step.map(|s| vec![s]);
        Some(Ok(f))
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

    /// Encode a version 2 frame: `data` holds whole records of `shape`
    /// (`[cols]` or `[h, w]`), with a step each (or none) and the wall time.
    pub fn encode_v2(
        channel: &str,
        shape: &[usize],
        data: &[f32],
        steps: Option<&[i64]>,
        time: f64,
    ) -> Vec<u8> {
        Self::encode_v2_ranked(channel, shape, data, steps, time, None)
    }

    /// [`encode_v2`](Self::encode_v2) from rank `rank.0` of a job of
    /// `rank.1` processes.
    pub fn encode_v2_ranked(
        channel: &str,
        shape: &[usize],
        data: &[f32],
        steps: Option<&[i64]>,
        time: f64,
        rank: Option<(u32, u32)>,
    ) -> Vec<u8> {
        let (h, cols) = match shape {
            [c] => (0, *c),
            [h, w] => (*h, *w),
            _ => (0, data.len()),
        };
        let per = h.max(1) * cols;
        let records = data.len().checked_div(per).unwrap_or(0);
        let mut out = Vec::with_capacity(HEADER_LEN_V2 + channel.len() + 8 + records * 8 + data.len() * 4);
        out.extend_from_slice(MAGIC);
        out.push(2);
        out.push(if steps.is_some() { FLAG_STEPS } else { 0 } | if rank.is_some() { FLAG_RANK } else { 0 });
        out.extend_from_slice(&(channel.len() as u16).to_le_bytes());
        out.extend_from_slice(&(records as u32).to_le_bytes());
        out.extend_from_slice(&(cols as u32).to_le_bytes());
        out.extend_from_slice(&(h as u32).to_le_bytes());
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(channel.as_bytes());
        if let Some((r, w)) = rank {
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&w.to_le_bytes());
        }
        for s in steps.unwrap_or(&[]) {
            out.extend_from_slice(&s.to_le_bytes());
        }
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
            if self.buf.len() < 5 {
                break;
            }
            let at = self.offset;
            let version = self.buf[4];
            let header = if version == 2 { HEADER_LEN_V2 } else { HEADER_LEN };
            if self.buf.len() < header {
                break;
            }
            let h = &self.buf[..header];
            let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as u64;
            let flags = h[5];
            let name_len = u16::from_le_bytes([h[6], h[7]]) as usize;
            let rows = u32_at(8);
            let cols = u32_at(12);
            let (height, time, has_steps, has_rank) = if version == 2 {
                let mut t = [0u8; 8];
                t.copy_from_slice(&h[20..28]);
                (
                    u32_at(16),
                    Some(f64::from_le_bytes(t)),
                    flags & FLAG_STEPS != 0,
                    flags & FLAG_RANK != 0,
                )
            } else {
                (0, None, false, false)
            };
            let per = height.max(1) * cols;
            let bad = |message: String| ProtocolError::Frame { offset: at, message };
            let problem = if version != 1 && version != 2 {
                Some(bad(format!("unsupported version {version} (expected 1 or 2)")))
            } else if rows == 0 || cols == 0 {
                Some(bad(format!("empty frame ({rows} x {cols})")))
            } else if rows.saturating_mul(per) > MAX_VALUES {
                Some(bad(format!(
                    "{rows} x {per} values exceed the limit of {MAX_VALUES}"
                )))
            } else if flags & !(FLAG_STEPS | FLAG_RANK) != 0 || (version == 1 && flags != 0) {
                Some(bad(format!("unknown flags {flags:#04x}")))
            } else {
                None
            };
            if let Some(e) = problem {
                out.push(Err(e));
                self.skip(4);
                continue;
            }
            let steps_len = if has_steps { rows as usize * 8 } else { 0 };
            let rank_len = if has_rank { 8 } else { 0 };
            let total = header + name_len + rank_len + steps_len + (rows * per * 4) as usize;
            if self.buf.len() < total {
                break;
            }
            let name = &self.buf[header..header + name_len];
            let Ok(channel) = std::str::from_utf8(name).map(str::to_string) else {
                out.push(Err(bad("channel name is not UTF-8".into())));
                self.skip(total);
                continue;
            };
            let at_rank = header + name_len;
            let word = |i: usize| {
                let b = &self.buf[at_rank + i..at_rank + i + 4];
                u32::from_le_bytes([b[0], b[1], b[2], b[3]])
            };
            let rank = has_rank.then(|| (word(0), word(4)));
            let body = at_rank + rank_len;
            let steps = has_steps.then(|| {
                self.buf[body..body + steps_len]
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect::<Vec<i64>>()
            });
            let data: Vec<f32> = self.buf[body + steps_len..total]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            self.skip(total);
            if time.is_some_and(|t| !t.is_finite()) {
                out.push(Err(bad("the wall time is not a finite number".into())));
                continue;
            }
            if let Some((r, w)) = rank
                && r >= w
            {
                out.push(Err(bad(format!(
                    "rank {r} of a world of {w}: a rank is below the world size"
                ))));
                continue;
            }
            out.push(Ok(Frame {
                channel,
                rows: rows as usize,
                cols: per as usize,
                data,
                shape: if height == 0 {
                    vec![cols as usize]
                } else {
                    vec![height as usize, cols as usize]
                },
                steps,
                time,
                rank,
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
            errs.iter()
                .any(|e| e.contains("unsupported version 9 (expected 1 or 2)")),
            "{errs:?}"
        );
        assert!(errs.iter().any(|e| e.contains("exceed the limit")), "{errs:?}");
    }

    #[test]
    fn text_steps() {
        let mut d = TextDecoder::new();
        let got = d.push(b"@1500 layer3: 0.1 0.2 0.3\n@-2 1,2\n@7,3,4\nlayer3: 1 2 3\n@x a: 1\n@ 1 2\n");
        let ok: Vec<&Frame> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 4, "{got:?}");
        assert_eq!(
            (ok[0].channel.as_str(), ok[0].steps.as_deref()),
            ("layer3", Some(&[1500][..]))
        );
        assert_eq!(ok[0].data, [0.1, 0.2, 0.3]);
        assert_eq!(
            (ok[1].steps.as_deref(), ok[1].data.as_slice()),
            (Some(&[-2][..]), &[1.0, 2.0][..])
        );
        assert_eq!(
            (ok[2].steps.as_deref(), ok[2].data.as_slice()),
            (Some(&[7][..]), &[3.0, 4.0][..])
        );
        assert_eq!(ok[3].steps, None);
        let errs: Vec<String> = got
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            [
                "line 5: '@x' is not a step (expected @ and an integer, e.g. @1500)",
                "line 6: '@' is not a step (expected @ and an integer, e.g. @1500)"
            ]
        );
        // Channels of different widths share one stream.
        let got = d.push(b"layers: 1 2 3 4 5 6 7 8 9 10 11 12\nacts: 1 2\nlayers: 1\n");
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 2);
    }

    #[test]
    fn version_2_frames_carry_steps_time_and_2d_records() {
        let a = FrameDecoder::encode_v2(
            "attn",
            &[2, 3],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            Some(&[42]),
            1.7e9,
        );
        let b = FrameDecoder::encode_v2("acts", &[2], &[1.0, 2.0, 3.0, 4.0], None, 5.5);
        let c = FrameDecoder::encode("old", 1, 2, &[9.0, 8.0]);
        let stream = [a, b, c].concat();
        for chunk in [1, 5, 29, stream.len()] {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            for c in stream.chunks(chunk) {
                got.extend(d.push(c));
            }
            let f: Vec<Frame> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(f.len(), 3, "chunk {chunk}");
            assert_eq!((f[0].rows, f[0].cols, f[0].shape.as_slice()), (1, 6, &[2, 3][..]));
            assert_eq!((f[0].steps.as_deref(), f[0].time), (Some(&[42][..]), Some(1.7e9)));
            assert_eq!(f[0].data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
            assert_eq!(
                (f[1].rows, f[1].cols, f[1].steps.as_ref(), f[1].time),
                (2, 2, None, Some(5.5))
            );
            assert_eq!(
                (f[2].steps.as_ref(), f[2].time, f[2].shape.as_slice()),
                (None, None, &[2][..])
            );
        }
        let mut bad = FrameDecoder::encode_v2("x", &[1], &[1.0], Some(&[1]), 1.0);
        bad[5] = 0x80;
        let mut d = FrameDecoder::new();
        let got = d.push(&bad);
        assert!(
            got[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("unknown flags 0x80"),
            "{got:?}"
        );
    }

    #[test]
    fn version_2_frames_carry_the_senders_rank() {
        let mut bytes = FrameDecoder::encode_v2_ranked("x", &[2], &[1.0, 2.0], Some(&[7]), 1.0, Some((3, 8)));
        bytes.extend(FrameDecoder::encode_v2_ranked(
            "y",
            &[1],
            &[5.0],
            None,
            1.0,
            Some((0, 1)),
        ));
        bytes.extend(FrameDecoder::encode_v2_ranked(
            "z",
            &[1],
            &[5.0],
            None,
            1.0,
            Some((2, 2)),
        ));
        let got = FrameDecoder::new().push(&bytes);
        let f = got[0].as_ref().unwrap();
        assert_eq!(
            (f.rank, f.steps.as_deref(), f.data.as_slice()),
            (Some((3, 8)), Some(&[7][..]), &[1.0, 2.0][..])
        );
        assert_eq!(got[1].as_ref().unwrap().rank, Some((0, 1)));
        let e = got[2].as_ref().unwrap_err().to_string();
        assert!(e.contains("rank 2 of a world of 2"), "{e}");
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
