//! Out-of-core CSV: [`CsvRowReader`] reads a table too large to hold a
//! block of text at a time, with the in-memory parser's rules and messages.
//!
//! A first pass over the file ([`CsvPlan::new`]) checks it is UTF-8,
//! counts the data rows and classifies the first cell of each, which is all
//! the header and row-label rules need; the reader then parses whole lines
//! a block at a time (on all cores for big blocks), so memory is bounded by
//! the block size, not the file. Files with quotes (a quoted field may hold
//! a newline) are left to the in-memory parser.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{
    Col0State, CsvOptions, Decision, Delim, FirstRecord, RowRules, Splitter, TextCell, classify,
    count_newlines, decide, detect_delimiter, parse_chunk, parse_pieces, split_lines, utf8, value,
};
use crate::error::{Error, Result};
use crate::input::RowSource;

/// Bytes of text read at a time.
const BLOCK_BYTES: usize = 8 << 20;

/// Blocks at least this large are parsed on all cores.
const PARALLEL_BLOCK_BYTES: usize = 1 << 20;

/// What the first pass over a CSV file decided: delimiter, header, label
/// column, the number of rows and columns, where the data rows start.
#[derive(Clone, Debug)]
pub struct CsvPlan {
    rules: RowRules,
    decision: Decision,
    /// The first record's values when it is a data row (labels dropped).
    first_row: Option<Vec<f32>>,
    /// Where the rows after the first record start: file offset, text
    /// offset (after a byte-order mark) and line.
    data_offset: u64,
    text_offset: usize,
    data_line: usize,
    /// The error the sequential parser reports after all rows, if any.
    end_error: Option<String>,
}

impl CsvPlan {
    /// Pass over the file once (a block at a time) and decide how to read
    /// it, with the rules of the in-memory parser. `Ok(None)` when the file
    /// should be parsed in memory instead: it has quotes, its first record
    /// is not in the first block, or it has no numeric columns.
    ///
    /// Errors are the in-memory parser's where they can be known from this
    /// pass (invalid UTF-8, an empty file, only a header, text in a first
    /// row said to be data); errors in the cells come from the reader.
    pub fn new(path: &Path, opts: &CsvOptions) -> Result<Option<CsvPlan>> {
        CsvPlan::with_block(path, opts, BLOCK_BYTES)
    }

    /// [`CsvPlan::new`] reading `block` bytes at a time.
    fn with_block(path: &Path, opts: &CsvOptions, block: usize) -> Result<Option<CsvPlan>> {
        let io = |e| Error::io(path, e);
        let fmt = |msg: String| Error::format(path, msg);
        let mut blocks = LineBlocks::open(path, 0, block)?;
        let Some(block) = blocks.next().map_err(io)? else {
            return Err(fmt("no data rows: the file is empty".into()));
        };
        if block.contains(&b'"') {
            return Ok(None);
        }
        let bom = if block.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        let text = utf8(&block[bom..], 0, 1).map_err(fmt)?;
        if !blocks.at_end() && text.bytes().all(|b| b.is_ascii_whitespace()) {
            // The line that decides the delimiter is in a later block.
            return Ok(None);
        }
        let delim = match opts.delimiter {
            Some(d) => Delim::from_byte(d),
            None => detect_delimiter(text, path),
        };
        let mut split = Splitter::new(text, delim);
        let mut fields = Vec::new();
        let first_line = match split.next_record(&mut fields) {
            Ok(Some(line)) => line,
            Ok(None) if blocks.at_end() => return Err(fmt("no data rows: the file is empty".into())),
            // Blank lines for a whole block, or quotes: leave it to the
            // in-memory parser.
            Ok(None) | Err(_) => return Ok(None),
        };
        let ncols = fields.len();
        // Reported after the whole file is known to be UTF-8, as the
        // in-memory parser does.
        let first = FirstRecord::new(first_line, &fields, opts);
        let rules = RowRules::new(delim, ncols, first_line, opts);
        let (data_offset, text_offset, data_line) = ((bom + split.pos) as u64, split.pos, split.line);

        // Count the rows below the first record and classify their first cells.
        let mut scan = Scan::default();
        scan.lines(&text[split.pos..], data_line, &rules)?;
        let (mut offset, mut line) = (text.len(), 1 + count_newlines(text.as_bytes()));
        drop(block);
        while let Some(block) = blocks.next().map_err(io)? {
            if block.contains(&b'"') {
                return Ok(None);
            }
            let text = utf8(&block, offset, line).map_err(fmt)?;
            if scan.lines(text, line, &rules)?.is_none() {
                return Ok(None);
            }
            offset += block.len();
            line += count_newlines(&block);
        }

        let first = first.map_err(fmt)?;
        let (decision, end_error) = decide(&first, &scan.col0, scan.rows, opts);
        if decision.cols == 0 {
            return Ok(None);
        }
        if let (Some(msg), 0) = (&end_error, scan.rows) {
            // Nothing below the first record: no other error can come first.
            return Err(fmt(msg.clone()));
        }
        let skip = usize::from(decision.row_labels);
        let first_row = (!decision.header).then(|| first.cells[skip..].iter().map(|&c| value(c)).collect());
        Ok(Some(CsvPlan {
            rules,
            decision,
            first_row,
            data_offset,
            text_offset,
            data_line,
            end_error,
        }))
    }

    /// Data rows (the header not counted).
    pub fn rows(&self) -> usize {
        self.decision.rows
    }

    /// Values per row (the label column not counted).
    pub fn cols(&self) -> usize {
        self.decision.cols
    }
}

/// The first pass's view of the rows: how many, and their first cells.
#[derive(Default)]
struct Scan {
    rows: usize,
    col0: Col0State,
}

impl Scan {
    /// Count the records of `text` (whole lines starting on `line`) and
    /// note the first number and first text in the first column; `None`
    /// for a line the splitter refuses.
    fn lines(&mut self, text: &str, mut line: usize, rules: &RowRules) -> Result<Option<()>> {
        let mut fields = Vec::new();
        for l in text.split_inclusive('\n') {
            let l = l.strip_suffix('\n').unwrap_or(l);
            let b = l.as_bytes();
            // A line that starts with a visible character is a record
            // whose first field ends at the first delimiter; any other goes
            // through the splitter.
            let col0: Option<String> = match b.first() {
                Some(&c) if c.is_ascii_graphic() && Delim::Byte(c) != rules.delim => {
                    let end = match rules.delim {
                        Delim::Byte(d) => b.iter().position(|&x| x == d),
                        Delim::Whitespace => b.iter().position(|&x| matches!(x, b' ' | b'\t' | b'\r')),
                    };
                    Some(l[..end.unwrap_or(l.len())].trim().to_string())
                }
                _ => {
                    let mut split = Splitter::new(l, rules.delim);
                    match split.next_record(&mut fields) {
                        Ok(Some(_)) => Some(fields.first().map_or_else(String::new, |f| f.to_string())),
                        Ok(None) => None,
                        Err(_) => return Ok(None),
                    }
                }
            };
            if let Some(cell) = col0 {
                self.rows += 1;
                if rules.parse_col0 {
                    match classify(&cell) {
                        super::Cell::Num(_) => {
                            self.col0.num_line.get_or_insert(line);
                        }
                        super::Cell::Text if rules.labels_possible && self.col0.text.is_none() => {
                            self.col0.text = Some(TextCell { line, text: cell });
                        }
                        _ => {}
                    }
                }
            }
            line += 1;
        }
        Ok(Some(()))
    }
}

/// A file read in blocks of whole lines (the last line of the file may
/// lack its newline). A line longer than a block makes a longer block.
struct LineBlocks {
    file: File,
    block: usize,
    tail: Vec<u8>,
    eof: bool,
}

impl LineBlocks {
    fn open(path: &Path, offset: u64, block: usize) -> Result<LineBlocks> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(LineBlocks {
            file,
            block: block.max(1),
            tail: Vec::new(),
            eof: false,
        })
    }

    /// Whether everything has been returned.
    fn at_end(&self) -> bool {
        self.eof && self.tail.is_empty()
    }

    fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = std::mem::take(&mut self.tail);
        loop {
            if self.eof {
                return Ok((!buf.is_empty()).then_some(buf));
            }
            let start = buf.len();
            buf.reserve(self.block);
            let n = (&mut self.file).take(self.block as u64).read_to_end(&mut buf)?;
            if n < self.block {
                self.eof = true;
            }
            if let Some(p) = buf[start..].iter().rposition(|&b| b == b'\n')
                && !self.eof
            {
                self.tail = buf[start + p + 1..].to_vec();
                buf.truncate(start + p + 1);
                return Ok(Some(buf));
            }
        }
    }
}

/// Rows of a CSV/TSV/text table read a block at a time: a [`RowSource`]
/// for the out-of-core renderer. Values, missing cells and errors (with
/// their line and column) are those of [`super::read_csv`]; the header and
/// row labels are not kept.
pub struct CsvRowReader {
    path: PathBuf,
    plan: CsvPlan,
    blocks: LineBlocks,
    /// Line and text offset of the next block.
    line: usize,
    offset: usize,
    col0: Col0State,
    /// Parsed rows not yet handed out, from `ready_at`.
    ready: Vec<f32>,
    ready_at: usize,
    first_pending: bool,
    parsed: usize,
    position: usize,
    threads: usize,
    /// Blocks at least this large are parsed on `threads` threads.
    parallel_bytes: usize,
}

impl CsvRowReader {
    /// Plan the file ([`CsvPlan::new`]) and open it; `Ok(None)` when it
    /// should be parsed in memory.
    pub fn open(path: &Path, opts: &CsvOptions) -> Result<Option<CsvRowReader>> {
        match CsvPlan::new(path, opts)? {
            Some(plan) => Ok(Some(CsvRowReader::with_plan(path, &plan)?)),
            None => Ok(None),
        }
    }

    /// Open a file planned before.
    pub fn with_plan(path: &Path, plan: &CsvPlan) -> Result<CsvRowReader> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        CsvRowReader::tuned(path, plan, BLOCK_BYTES, threads, PARALLEL_BLOCK_BYTES)
    }

    /// [`CsvRowReader::with_plan`] reading `block` bytes at a time, blocks
    /// of `parallel_bytes` or more parsed on `threads` threads.
    fn tuned(
        path: &Path,
        plan: &CsvPlan,
        block: usize,
        threads: usize,
        parallel_bytes: usize,
    ) -> Result<CsvRowReader> {
        Ok(CsvRowReader {
            path: path.to_path_buf(),
            plan: plan.clone(),
            blocks: LineBlocks::open(path, plan.data_offset, block)?,
            line: plan.data_line,
            offset: plan.text_offset,
            col0: Col0State::default(),
            ready: Vec::new(),
            ready_at: 0,
            first_pending: plan.first_row.is_some(),
            parsed: usize::from(plan.first_row.is_some()),
            position: 0,
            threads,
            parallel_bytes,
        })
    }

    fn changed(&self) -> Error {
        Error::format(&self.path, "the file changed while it was read")
    }

    /// Parse the next block of lines into `ready`; false at the end.
    fn refill(&mut self) -> Result<bool> {
        let Some(block) = self.blocks.next().map_err(|e| Error::io(&self.path, e))? else {
            return Ok(false);
        };
        if block.contains(&b'"') {
            return Err(self.changed());
        }
        let fmt = |msg: String| Error::format(&self.path, msg);
        let text = utf8(&block, self.offset, self.line).map_err(fmt)?;
        let rules = &self.plan.rules;
        let chunks = if block.len() >= self.parallel_bytes && self.threads > 1 {
            parse_pieces(&split_lines(text, self.threads, self.line), rules, false)
        } else {
            vec![parse_chunk(text, self.line, rules, false)]
        };
        self.ready.clear();
        self.ready_at = 0;
        let ncols = rules.ncols;
        let skip = usize::from(self.plan.decision.row_labels);
        for chunk in chunks {
            self.col0.absorb(&chunk, rules).map_err(fmt)?;
            if skip == 0 {
                self.ready.extend_from_slice(&chunk.data);
            } else {
                for row in chunk.data.chunks_exact(ncols) {
                    self.ready.extend_from_slice(&row[skip..]);
                }
            }
            self.parsed += chunk.rows;
        }
        if self.parsed > self.plan.rows() {
            return Err(self.changed());
        }
        self.line += count_newlines(&block);
        self.offset += block.len();
        Ok(true)
    }
}

impl RowSource for CsvRowReader {
    fn rows(&self) -> usize {
        self.plan.rows()
    }

    fn cols(&self) -> usize {
        self.plan.cols()
    }

    fn position(&self) -> usize {
        self.position
    }

    fn read_rows(&mut self, max_rows: usize, out: &mut Vec<f32>) -> Result<usize> {
        out.clear();
        let cols = self.plan.cols();
        let mut n = 0;
        if self.first_pending && max_rows > 0 {
            out.extend_from_slice(self.plan.first_row.as_deref().unwrap_or_default());
            self.first_pending = false;
            n = 1;
        }
        while n < max_rows {
            if self.ready_at >= self.ready.len() {
                if !self.refill()? {
                    break;
                }
                continue;
            }
            let take = ((self.ready.len() - self.ready_at) / cols).min(max_rows - n);
            out.extend_from_slice(&self.ready[self.ready_at..self.ready_at + take * cols]);
            self.ready_at += take * cols;
            n += take;
        }
        if n == 0 && max_rows > 0 {
            // The end: the checks the in-memory parser makes after the rows.
            if let Some(msg) = &self.plan.end_error {
                return Err(Error::format(&self.path, msg.clone()));
            }
            if self.parsed != self.plan.rows() || self.position != self.plan.rows() {
                return Err(self.changed());
            }
        }
        self.position += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Col0, generated};
    use super::super::{Parallel, parse_with};
    use super::*;

    /// Stream `text` from a file with several block sizes, thread counts
    /// and read sizes: the in-memory parser's values or its error.
    fn streams_like_memory(text: &[u8], name: &str, opts: &CsvOptions) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let seq = Parallel {
            min_bytes: usize::MAX,
            chunks: 1,
        };
        let want = parse_with(text, &path, opts, seq).map_err(|m| Error::format(&path, m).to_string());
        for (block, threads, max_rows) in [(7, 1, 1), (64, 3, 5), (300, 2, 1000), (BLOCK_BYTES, 4, 3)] {
            let plan = match CsvPlan::with_block(&path, opts, block) {
                Ok(Some(plan)) => plan,
                // Leading blank lines longer than a block.
                Ok(None) => continue,
                Err(e) => {
                    assert_eq!(
                        Err(e.to_string()),
                        want.as_ref().map(|_| ()).map_err(Clone::clone)
                    );
                    continue;
                }
            };
            let mut r = CsvRowReader::tuned(&path, &plan, block, threads, 0).unwrap();
            let mut got = Vec::new();
            let mut buf = Vec::new();
            let result = loop {
                match r.read_rows(max_rows, &mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        assert_eq!(buf.len(), n * plan.cols());
                        got.extend_from_slice(&buf);
                    }
                    Err(e) => break Err(e.to_string()),
                }
            };
            match (&want, result) {
                (Ok(t), Ok(())) => {
                    assert_eq!(t.shape, vec![plan.rows(), plan.cols()]);
                    assert_eq!(r.position(), plan.rows());
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert!(bits(&t.data) == bits(&got), "block {block}: values differ");
                }
                (Err(a), Err(b)) => assert_eq!(a, &b, "block {block}"),
                (a, b) => panic!(
                    "block {block}: in memory {a:?}, streamed {b:?} on {:?}",
                    String::from_utf8_lossy(text)
                ),
            }
        }
    }

    #[test]
    fn streamed_rows_are_the_parsed_rows() {
        let opts_all = [
            CsvOptions::default(),
            CsvOptions {
                header: Some(false),
                ..Default::default()
            },
            CsvOptions {
                row_labels: Some(true),
                ..Default::default()
            },
            CsvOptions {
                row_labels: Some(false),
                ..Default::default()
            },
        ];
        let mut seed = 1000;
        for col0 in [
            Col0::Numbers,
            Col0::Labels,
            Col0::Missing,
            Col0::LabelsThenNumbers(30),
            Col0::NumbersThenLabels(25),
        ] {
            for header in [false, true] {
                for (crlf, delim) in [(false, ","), (true, ","), (false, "\t"), (true, " ")] {
                    for faults in [0, 1, 3] {
                        seed += 1;
                        let text = generated(seed, col0, header, crlf, delim, faults);
                        for opts in &opts_all {
                            streams_like_memory(text.as_bytes(), "g.csv", opts);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn streamed_edge_cases() {
        for text in [
            "a,b\n",
            "\n\n1,2\n3,4",
            "\u{feff}a,b\r\n1,2\r\n\r\n",
            ",a\n,1\n,2\nx,3\n4,5\n",
            "r0,1\nr1,2\nr2,3\n4,5\n",
            "abc\n1\n2\n",
            "1\nabc\n2\n",
            "a,b\n1,2\n3,4,5\n",
            "1 2\n 3 4 \n\t5\t6\n \r\n7 8\r\n",
            "a,b\n1,2\n3,\u{a0}\n\u{a0}\n5,6\n",
        ] {
            for opts in [
                CsvOptions::default(),
                CsvOptions {
                    header: Some(false),
                    ..Default::default()
                },
            ] {
                streams_like_memory(text.as_bytes(), "e.csv", &opts);
            }
        }
        // A .tsv's tabs; invalid UTF-8 deep in the file.
        streams_like_memory(b"a,b\tc\n1\t2\n", "e.tsv", &CsvOptions::default());
        let mut bytes = "1,2\n".repeat(1000).into_bytes();
        bytes[2001] = 0xff;
        streams_like_memory(&bytes, "u.csv", &CsvOptions::default());
    }

    #[test]
    fn refuses_what_it_cannot_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.csv");
        std::fs::write(&path, "a,b\n1,\"2\"\n").unwrap();
        assert!(CsvPlan::new(&path, &CsvOptions::default()).unwrap().is_none());
        std::fs::write(&path, "").unwrap();
        let e = CsvPlan::new(&path, &CsvOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("q.csv: no data rows: the file is empty"), "{e}");
        let e = CsvPlan::new(&dir.path().join("none.csv"), &CsvOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }

    #[test]
    fn a_file_that_changes_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.csv");
        std::fs::write(&path, "1,2\n3,4\n").unwrap();
        let plan = CsvPlan::new(&path, &CsvOptions::default()).unwrap().unwrap();
        for text in ["1,2\n3,4\n5,6\n", "1,2\n", "1,2\n3,\"4\"\n"] {
            std::fs::write(&path, text).unwrap();
            let mut r = CsvRowReader::with_plan(&path, &plan).unwrap();
            let mut buf = Vec::new();
            let e = loop {
                match r.read_rows(10, &mut buf) {
                    Ok(0) => panic!("{text:?} read without an error"),
                    Ok(_) => {}
                    Err(e) => break e.to_string(),
                }
            };
            assert!(e.contains("changed while it was read"), "{e}");
        }
    }
}
