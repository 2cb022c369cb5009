//! Reader for CSV, TSV and whitespace-separated text tables of numbers.
//!
//! A hand-written parser: UTF-8 (a leading byte-order mark is skipped), LF or
//! CRLF line ends, quoted fields with `""` escapes and delimiters or newlines
//! inside the quotes, blank lines skipped. Each cell is a number (as Rust
//! parses f32: `1`, `-2.5`, `1e-3`, `inf`, `-Infinity`), or a missing value
//! read as NaN: an empty cell, `nan`, `NA`, `N/A`, `null` or `None` (any
//! case). Spaces around cells are ignored.
//!
//! By default the delimiter, a header row and a row-label column are
//! detected; see [`CsvOptions`] for the rules and how to force them.

use std::borrow::Cow;
use std::path::Path;

use super::tensor::{DType, Tensor};
use crate::error::{Error, Result};

mod stream;

pub use stream::{CsvPlan, CsvRowReader};

/// How to read a CSV/TSV file. Every `None` means "detect it".
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// The field separator, such as `b','`, `b'\t'` or `b';'`. `b' '` means
    /// "runs of spaces and tabs", the way `np.savetxt` writes by default.
    ///
    /// Detected from the first non-blank line when `None`: a tab for a
    /// `.tsv` file or when that line has tabs and no commas; otherwise a
    /// comma if it has commas; otherwise `;` if it has semicolons; otherwise
    /// runs of whitespace if it has several space-separated values; otherwise
    /// a comma (a single column). Characters inside quotes do not count.
    pub delimiter: Option<u8>,
    /// Whether the first row holds column names.
    ///
    /// Detected when `None`: it is a header if any of its cells after the
    /// first is text (neither a number nor a missing value), if its first
    /// cell is text and the first column below is not a row-label column,
    /// or if it is pandas' header of an unnamed frame (an empty first cell,
    /// then `0,1,2,...`).
    pub header: Option<bool>,
    /// Whether the first column holds row labels instead of numbers.
    ///
    /// Detected when `None`: with at least two columns, it is a label column
    /// if the header's first cell is empty (pandas' `to_csv()` index, even
    /// an integer one), or if none of its data cells is a number and some
    /// are text.
    pub row_labels: Option<bool>,
}

/// Read a CSV/TSV/text table into a 2-D f32 [`Tensor`] of shape
/// `[rows, columns]`, with row and column labels when it has them.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Tensor> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_csv(&bytes, path, opts)
}

/// Parse a CSV/TSV/text table held in memory; `source` names it in error
/// messages, and a `.tsv` extension makes tab the default delimiter.
pub fn parse_csv(text: &[u8], source: &Path, opts: &CsvOptions) -> Result<Tensor> {
    parse(text, source, opts).map_err(|msg| Error::format(source, msg))
}

/// [`parse_csv`] on at most `threads` threads (1: the sequential parser),
/// for benchmarks.
#[doc(hidden)]
pub fn parse_csv_threads(text: &[u8], source: &Path, opts: &CsvOptions, threads: usize) -> Result<Tensor> {
    let par = Parallel {
        chunks: threads.max(1),
        ..Parallel::auto()
    };
    parse_with(text, source, opts, par).map_err(|msg| Error::format(source, msg))
}

/// What a cell holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    Num(f32),
    Missing,
    Text,
}

/// Classify a cell (quoted cells may still have spaces around a number).
fn classify(s: &str) -> Cell {
    let s = s.trim();
    const MISSING: [&str; 7] = ["", "-nan", "+nan", "na", "n/a", "null", "none"];
    match s.parse::<f32>() {
        Ok(v) if v.is_nan() => Cell::Missing,
        Ok(v) => Cell::Num(v),
        Err(_) if MISSING.iter().any(|m| s.eq_ignore_ascii_case(m)) => Cell::Missing,
        Err(_) => Cell::Text,
    }
}

/// The value of a cell known not to be text.
fn value(cell: Cell) -> f32 {
    match cell {
        Cell::Num(v) => v,
        Cell::Missing | Cell::Text => f32::NAN,
    }
}

/// How fields are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delim {
    Byte(u8),
    /// Runs of spaces and tabs; leading and trailing ones ignored.
    Whitespace,
}

impl Delim {
    fn from_byte(b: u8) -> Delim {
        if b == b' ' {
            Delim::Whitespace
        } else {
            Delim::Byte(b)
        }
    }
}

/// Pick the delimiter from the file's extension and its first non-blank line.
fn detect_delimiter(text: &str, source: &Path) -> Delim {
    let is_tsv = source
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    if is_tsv {
        return Delim::Byte(b'\t');
    }
    let (mut commas, mut tabs, mut semis, mut tokens) = (0usize, 0usize, 0usize, 0usize);
    let mut in_quotes = false;
    let mut in_token = false;
    for &b in text.as_bytes() {
        if in_quotes {
            in_quotes = b != b'"';
            continue;
        }
        match b {
            b'\n' if tokens > 0 || in_token => break,
            b'"' => in_quotes = true,
            b',' => commas += 1,
            b'\t' => tabs += 1,
            b';' => semis += 1,
            _ => {}
        }
        let space = b.is_ascii_whitespace();
        if !space && !in_token {
            tokens += 1;
        }
        in_token = !space;
    }
    if tabs > 0 && commas == 0 {
        Delim::Byte(b'\t')
    } else if commas > 0 {
        Delim::Byte(b',')
    } else if semis > 0 {
        Delim::Byte(b';')
    } else if tokens > 1 {
        Delim::Whitespace
    } else {
        Delim::Byte(b',')
    }
}

/// Splits the text into records of fields, tracking physical line numbers.
struct Splitter<'a> {
    text: &'a str,
    pos: usize,
    /// 1-based line of `pos`.
    line: usize,
    delim: Delim,
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str, delim: Delim) -> Self {
        Splitter {
            text,
            pos: 0,
            line: 1,
            delim,
        }
    }

    /// A space that is not the delimiter (skipped before a quote).
    fn is_space(&self, b: u8) -> bool {
        (b == b' ' || b == b'\t') && self.delim != Delim::Byte(b)
    }

    /// A byte that ends an unquoted field.
    fn ends_field(&self, b: u8) -> bool {
        b == b'\n'
            || match self.delim {
                Delim::Byte(d) => b == d,
                Delim::Whitespace => b == b' ' || b == b'\t' || b == b'\r',
            }
    }

    /// The next non-blank record, its fields trimmed, into `fields`; returns
    /// the line it starts on, or `None` at the end of the text.
    fn next_record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> std::result::Result<Option<usize>, String> {
        loop {
            if self.pos >= self.text.len() {
                return Ok(None);
            }
            fields.clear();
            let line = self.line;
            let quoted = self.record(fields)?;
            let blank = match fields.as_slice() {
                [] => true,
                [only] => !quoted && only.is_empty(),
                _ => false,
            };
            if !blank {
                return Ok(Some(line));
            }
        }
    }

    /// Split one record; returns whether any field was quoted.
    fn record(&mut self, fields: &mut Vec<Cow<'a, str>>) -> std::result::Result<bool, String> {
        let text = self.text;
        let b = text.as_bytes();
        let mut quoted_any = false;
        let mut p = self.pos;
        loop {
            while p < b.len() && self.is_space(b[p]) {
                p += 1;
            }
            if self.delim == Delim::Whitespace {
                while p < b.len() && b[p] == b'\r' {
                    p += 1;
                }
                if p >= b.len() || b[p] == b'\n' {
                    break;
                }
            }
            if p < b.len() && b[p] == b'"' {
                quoted_any = true;
                let open_line = self.line;
                p += 1;
                let mut s = String::new();
                loop {
                    let Some(off) = b[p..].iter().position(|&c| c == b'"') else {
                        return Err(format!("line {open_line}: unterminated quoted field"));
                    };
                    let q = p + off;
                    self.line += b[p..q].iter().filter(|&&c| c == b'\n').count();
                    s.push_str(&text[p..q]);
                    if b.get(q + 1) == Some(&b'"') {
                        s.push('"');
                        p = q + 2;
                    } else {
                        p = q + 1;
                        break;
                    }
                }
                // Anything between the closing quote and the delimiter is
                // kept (leniently), minus surrounding spaces.
                let start = p;
                while p < b.len() && !self.ends_field(b[p]) {
                    p += 1;
                }
                s.push_str(text[start..p].trim());
                fields.push(Cow::Owned(s));
            } else {
                let start = p;
                while p < b.len() && !self.ends_field(b[p]) {
                    p += 1;
                }
                fields.push(Cow::Borrowed(text[start..p].trim()));
            }
            match self.delim {
                Delim::Byte(d) => {
                    if p < b.len() && b[p] == d {
                        p += 1;
                        continue;
                    }
                }
                Delim::Whitespace => {
                    while p < b.len() && (b[p] == b' ' || b[p] == b'\t' || b[p] == b'\r') {
                        p += 1;
                    }
                    if p < b.len() && b[p] != b'\n' {
                        continue;
                    }
                }
            }
            break;
        }
        // At a newline or the end of the text.
        if p < b.len() {
            p += 1;
            self.line += 1;
        }
        self.pos = p;
        Ok(quoted_any)
    }
}

/// `'abc'`, cut to a readable length.
fn quote_cell(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        format!("'{s}'")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("'{cut}...'")
    }
}

fn not_a_number(line: usize, column: usize, cell: &str) -> String {
    format!(
        "line {line}, column {column}: {} is not a number",
        quote_cell(cell)
    )
}

/// The first text cell of the first column (not yet known to be an error).
#[derive(Clone, Debug)]
struct TextCell {
    line: usize,
    text: String,
}

/// Inputs at least this large are parsed in parallel (when they can be).
const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// How [`parse_with`] may split the data rows: inputs of at least
/// `min_bytes` go to `chunks` threads.
#[derive(Clone, Copy, Debug)]
struct Parallel {
    min_bytes: usize,
    chunks: usize,
}

impl Parallel {
    fn auto() -> Parallel {
        Parallel {
            min_bytes: PARALLEL_MIN_BYTES,
            chunks: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

fn parse(bytes: &[u8], source: &Path, opts: &CsvOptions) -> std::result::Result<Tensor, String> {
    parse_with(bytes, source, opts, Parallel::auto())
}

/// What parsing the data rows (after the first record) needs to know.
#[derive(Clone, Debug)]
struct RowRules {
    delim: Delim,
    /// Fields per record, from the first record.
    ncols: usize,
    /// The first record's line.
    first_line: usize,
    /// Whether the first column may hold labels (text in it is not yet an error).
    labels_possible: bool,
    /// Whether the first column is parsed as numbers.
    parse_col0: bool,
    /// The option as given.
    row_labels: Option<bool>,
    /// The delimiter is runs of whitespace, auto-detected.
    auto_whitespace: bool,
}

impl RowRules {
    fn new(delim: Delim, ncols: usize, first_line: usize, opts: &CsvOptions) -> RowRules {
        RowRules {
            delim,
            ncols,
            first_line,
            labels_possible: opts.row_labels != Some(false) && (opts.row_labels.is_some() || ncols > 1),
            parse_col0: opts.row_labels != Some(true),
            row_labels: opts.row_labels,
            auto_whitespace: delim == Delim::Whitespace && opts.delimiter.is_none(),
        }
    }

    fn field_count_error(&self, line: usize, found: usize) -> String {
        let mut msg = format!(
            "line {line} has {found} fields, expected {} (from line {})",
            self.ncols, self.first_line
        );
        if self.auto_whitespace {
            msg.push_str(
                "; fields were taken to be separated by spaces (auto-detected), \
                 set the delimiter if that is wrong",
            );
        }
        msg
    }
}

/// What the first column held so far: its first number and first text.
#[derive(Clone, Debug, Default)]
struct Col0State {
    num_line: Option<usize>,
    text: Option<TextCell>,
}

/// Data rows of one chunk of lines, parsed without knowing the chunks
/// before it.
struct Chunk {
    /// Full width, the first column NaN where it is text.
    data: Vec<f32>,
    labels: Vec<String>,
    rows: usize,
    /// The first line whose first cell is a number (up to the error).
    first_num: Option<usize>,
    /// The first text cell of the first column (up to the error).
    first_text: Option<TextCell>,
    /// The first error: the line where the parser stops, and the message.
    error: Option<(usize, String)>,
}

/// Parse the data rows of `text` (whole lines, no quotes), which starts on
/// line `line`, as the sequential loop of [`parse_with`] would if nothing
/// came before them; [`Col0State::absorb`] then joins the chunks in order.
fn parse_chunk(text: &str, line: usize, rules: &RowRules, keep_labels: bool) -> Chunk {
    let mut split = Splitter::new(text, rules.delim);
    split.line = line;
    let mut fields: Vec<Cow<'_, str>> = Vec::new();
    let mut out = Chunk {
        data: Vec::new(),
        labels: Vec::new(),
        rows: 0,
        first_num: None,
        first_text: None,
        error: None,
    };
    let ncols = rules.ncols;
    loop {
        let line = match split.next_record(&mut fields) {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(msg) => {
                out.error = Some((split.line, msg));
                break;
            }
        };
        if out.data.capacity() == 0 {
            // A guess from the first record's length.
            let per_row = split.pos.max(1);
            out.data.reserve((text.len() / per_row + 1) * ncols);
        }
        if fields.len() != ncols {
            out.error = Some((line, rules.field_count_error(line, fields.len())));
            break;
        }
        out.rows += 1;
        let label = &fields[0];
        if rules.parse_col0 {
            match classify(label) {
                Cell::Text => {
                    if !rules.labels_possible {
                        out.error = Some((line, not_a_number(line, 1, label)));
                        break;
                    }
                    if out.first_text.is_none() {
                        out.first_text = Some(TextCell {
                            line,
                            text: label.to_string(),
                        });
                    }
                    if out.first_num.is_some() {
                        out.error = Some((line, not_a_number(line, 1, label)));
                        break;
                    }
                    out.data.push(f32::NAN);
                }
                cell => {
                    if matches!(cell, Cell::Num(_)) {
                        if out.first_num.is_none() {
                            out.first_num = Some(line);
                        }
                        if let Some(t) = &out.first_text
                            && rules.row_labels.is_none()
                        {
                            out.error = Some((line, not_a_number(t.line, 1, &t.text)));
                            break;
                        }
                    }
                    out.data.push(value(cell));
                }
            }
        } else {
            out.data.push(f32::NAN);
        }
        if keep_labels && rules.labels_possible {
            out.labels.push(label.to_string());
        }
        for (c, field) in fields.iter().enumerate().skip(1) {
            match classify(field) {
                Cell::Text => {
                    out.error = Some((line, not_a_number(line, c + 1, field)));
                    break;
                }
                cell => out.data.push(value(cell)),
            }
        }
        if out.error.is_some() {
            break;
        }
    }
    out
}

impl Col0State {
    /// Join the next chunk: its first error or the first error the first
    /// column's state before it makes in it, whichever the sequential parser
    /// meets first.
    fn absorb(&mut self, chunk: &Chunk, rules: &RowRules) -> std::result::Result<(), String> {
        // Errors the chunk could not see: text below a number, or a number
        // below text (the sequential parser's first-column checks).
        let carried = match (&self.num_line, &self.text) {
            (Some(_), _) if rules.labels_possible => chunk
                .first_text
                .as_ref()
                .map(|t| (t.line, not_a_number(t.line, 1, &t.text))),
            (None, Some(t)) if rules.row_labels.is_none() => {
                chunk.first_num.map(|n| (n, not_a_number(t.line, 1, &t.text)))
            }
            _ => None,
        };
        // On the same line the first column is checked first.
        let first = match (carried, &chunk.error) {
            (Some(c), Some(e)) if e.0 < c.0 => Some(e.1.clone()),
            (Some(c), _) => Some(c.1),
            (None, e) => e.as_ref().map(|e| e.1.clone()),
        };
        if let Some(msg) = first {
            return Err(msg);
        }
        self.num_line = self.num_line.or(chunk.first_num);
        if self.text.is_none() {
            self.text = chunk.first_text.clone();
        }
        Ok(())
    }
}

/// Split `text` into about `n` pieces at line ends, with each piece's first
/// line (the first starting on `line`).
fn split_lines(text: &str, n: usize, line: usize) -> Vec<(&str, usize)> {
    let b = text.as_bytes();
    let mut bounds = vec![0];
    for k in 1..n {
        let target = (b.len() * k / n).max(*bounds.last().unwrap_or(&0));
        match b[target..].iter().position(|&c| c == b'\n') {
            Some(off) if target + off + 1 < b.len() => bounds.push(target + off + 1),
            _ => break,
        }
    }
    bounds.dedup();
    bounds.push(b.len());
    let pieces: Vec<&str> = bounds.windows(2).map(|w| &text[w[0]..w[1]]).collect();
    // Count each piece's newlines on its own thread.
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = pieces[..pieces.len() - 1]
            .iter()
            .map(|p| s.spawn(move || count_newlines(p.as_bytes())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let mut at = line;
    let mut out = Vec::with_capacity(pieces.len());
    for (i, p) in pieces.into_iter().enumerate() {
        out.push((p, at));
        at += counts.get(i).copied().unwrap_or(0);
    }
    out
}

fn count_newlines(b: &[u8]) -> usize {
    // Summed in fixed-size blocks so that the compiler vectorises it.
    b.chunks(4096)
        .map(|c| c.iter().map(|&x| usize::from(x == b'\n')).sum::<usize>())
        .sum()
}

/// Parse the chunks of `text` on threads (in order of the pieces).
fn parse_pieces(pieces: &[(&str, usize)], rules: &RowRules, keep_labels: bool) -> Vec<Chunk> {
    std::thread::scope(|s| {
        let handles: Vec<_> = pieces
            .iter()
            .map(|&(p, line)| s.spawn(move || parse_chunk(p, line, rules, keep_labels)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Chunk {
                    data: Vec::new(),
                    labels: Vec::new(),
                    rows: 0,
                    first_num: None,
                    first_text: None,
                    error: Some((0, "internal error: a parser thread panicked".into())),
                })
            })
            .collect()
    })
}

/// The first record, classified.
struct FirstRecord {
    line: usize,
    fields: Vec<String>,
    cells: Vec<Cell>,
    /// The header decision when it does not depend on the first column.
    header_known: Option<bool>,
}

impl FirstRecord {
    /// Classify the first record; errors for text in a row said to be data.
    fn new(
        line: usize,
        fields: &[Cow<'_, str>],
        opts: &CsvOptions,
    ) -> std::result::Result<FirstRecord, String> {
        let ncols = fields.len();
        let first: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let first_cells: Vec<Cell> = first.iter().map(|f| classify(f)).collect();
        let rest_has_text = first_cells[1..].contains(&Cell::Text);
        if opts.header == Some(false) {
            // The first row is data: text after the label column is an error.
            let skip = usize::from(opts.row_labels == Some(true));
            if let Some(c) = (skip.max(1)..ncols).find(|&c| first_cells[c] == Cell::Text) {
                return Err(not_a_number(line, c + 1, &first[c]));
            }
        }
        // pandas' `DataFrame.to_csv()` of an unnamed frame: an empty corner,
        // then the column numbers 0, 1, 2, ... A data row that happens to
        // read exactly so is not worth a wrong guess for every pandas user.
        let pandas_numbered = ncols > 1
            && first[0].trim().is_empty()
            && first[1..]
                .iter()
                .enumerate()
                .all(|(i, f)| f.trim().parse::<u64>().ok() == Some(i as u64));
        // Decided now unless the answer depends on the first column.
        let header_known: Option<bool> = match opts.header {
            Some(h) => Some(h),
            None if rest_has_text || pandas_numbered => Some(true),
            None if first_cells[0] != Cell::Text => Some(false),
            None => None,
        };
        Ok(FirstRecord {
            line,
            fields: first,
            cells: first_cells,
            header_known,
        })
    }
}

/// Header and label column, decided once the whole first column is known.
#[derive(Clone, Copy, Debug)]
struct Decision {
    header: bool,
    row_labels: bool,
    rows: usize,
    cols: usize,
}

/// Decide the header and the label column from the first record and the
/// first column below it; the error (if any) the table is then.
fn decide(
    first: &FirstRecord,
    col0: &Col0State,
    rows_after_first: usize,
    opts: &CsvOptions,
) -> (Decision, Option<String>) {
    let ncols = first.fields.len();
    let col0_below_is_labels = col0.num_line.is_none() && (col0.text.is_some() || rows_after_first == 0);
    let header = first.header_known.unwrap_or(match opts.row_labels {
        Some(labels) => !labels,
        None => !(ncols > 1 && col0_below_is_labels),
    });
    let row_labels = match opts.row_labels {
        Some(r) => r,
        None => {
            let mut text = col0.text.is_some();
            let mut num = col0.num_line.is_some();
            if !header {
                text |= first.cells[0] == Cell::Text;
                num |= matches!(first.cells[0], Cell::Num(_));
            }
            // A header with an empty first cell is how pandas (and R's
            // write.csv) mark an index column, numeric or not.
            let empty_corner = header && first.fields[0].trim().is_empty();
            ncols > 1 && (empty_corner || (!num && text))
        }
    };
    let rows = rows_after_first + usize::from(!header);
    let cols = ncols - usize::from(row_labels);
    let decision = Decision {
        header,
        row_labels,
        rows,
        cols,
    };
    let parse_col0 = opts.row_labels != Some(true);
    let error = if !row_labels && parse_col0 && !header && first.cells[0] == Cell::Text {
        // Text in the first column is an error after all.
        Some(not_a_number(first.line, 1, &first.fields[0]))
    } else if let (false, true, Some(t)) = (row_labels, parse_col0, &col0.text) {
        Some(not_a_number(t.line, 1, &t.text))
    } else if rows == 0 {
        Some(format!("no data rows: only the header on line {}", first.line))
    } else if cols == 0 {
        Some("no numeric columns: the only column holds row labels".into())
    } else {
        None
    };
    (decision, error)
}

/// The text of `bytes` after a byte-order mark, or the invalid-UTF-8 error
/// (`offset`: bytes of text and `line`: lines before `bytes`).
fn utf8(bytes: &[u8], offset: usize, line: usize) -> std::result::Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = line + count_newlines(&bytes[..at]);
        let at = offset + at;
        format!("line {line}: invalid UTF-8 (byte {at} of the text); save the file as UTF-8")
    })
}

fn parse_with(
    bytes: &[u8],
    source: &Path,
    opts: &CsvOptions,
    par: Parallel,
) -> std::result::Result<Tensor, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = utf8(bytes, 0, 1)?;
    let delim = match opts.delimiter {
        Some(d) => Delim::from_byte(d),
        None => detect_delimiter(text, source),
    };
    let mut split = Splitter::new(text, delim);
    let mut fields: Vec<Cow<'_, str>> = Vec::new();

    // The first record: a header or the first data row, maybe undecided
    // until the whole first column has been seen.
    let Some(first_line) = split.next_record(&mut fields)? else {
        return Err("no data rows: the file is empty".into());
    };
    let ncols = fields.len();
    let first = FirstRecord::new(first_line, &fields, opts)?;
    let rules = RowRules::new(delim, ncols, first_line, opts);

    // Data rows after the first record, full width (column 0 included, NaN
    // where it is text); the first record goes in front as a placeholder.
    let mut data: Vec<f32> = first.cells.iter().map(|&c| value(c)).collect();
    let mut labels: Vec<String> = Vec::new();
    let mut col0 = Col0State::default();
    let mut rows_after_first = 0usize;

    // Without quotes every record is one line, so the rows can be split at
    // line ends and parsed apart.
    let rest = &text[split.pos..];
    if par.chunks > 1 && text.len() >= par.min_bytes && !bytes.contains(&b'"') {
        let pieces = split_lines(rest, par.chunks, split.line);
        let chunks = parse_pieces(&pieces, &rules, true);
        data.reserve(chunks.iter().map(|c| c.data.len()).sum());
        for chunk in chunks {
            col0.absorb(&chunk, &rules)?;
            data.extend_from_slice(&chunk.data);
            drop(chunk.data);
            labels.extend(chunk.labels);
            rows_after_first += chunk.rows;
        }
    } else {
        sequential_rows(
            &mut split,
            &rules,
            &mut data,
            &mut labels,
            &mut col0,
            &mut rows_after_first,
        )?;
    }

    let (d, error) = decide(&first, &col0, rows_after_first, opts);
    if let Some(msg) = error {
        return Err(msg);
    }
    let Decision {
        header,
        row_labels,
        rows,
        cols,
    } = d;
    // Drop the header row and the label column, in place.
    let skip_rows = usize::from(header);
    let skip_cols = usize::from(row_labels);
    if skip_rows + skip_cols > 0 {
        let mut dst = 0;
        for r in skip_rows..skip_rows + rows {
            let src = r * ncols + skip_cols;
            data.copy_within(src..src + cols, dst);
            dst += cols;
        }
        data.truncate(dst);
    }
    let row_names = row_labels.then(|| {
        let mut names = Vec::with_capacity(rows);
        if !header {
            names.push(first.fields[0].clone());
        }
        names.extend(labels);
        names
    });
    let col_names = header.then(|| first.fields[skip_cols..].to_vec());

    Ok(Tensor {
        source: source.to_path_buf(),
        name: None,
        dtype: DType::F32,
        shape: vec![rows, cols],
        data,
        row_labels: row_names,
        col_labels: col_names,
    })
}

/// The data rows one record at a time (any input, quotes included).
fn sequential_rows<'a>(
    split: &mut Splitter<'a>,
    rules: &RowRules,
    data: &mut Vec<f32>,
    labels: &mut Vec<String>,
    col0: &mut Col0State,
    rows_after_first: &mut usize,
) -> std::result::Result<(), String> {
    let mut fields: Vec<Cow<'a, str>> = Vec::new();
    let ncols = rules.ncols;
    while let Some(line) = split.next_record(&mut fields)? {
        if fields.len() != ncols {
            return Err(rules.field_count_error(line, fields.len()));
        }
        *rows_after_first += 1;
        let label = &fields[0];
        if rules.parse_col0 {
            match classify(label) {
                Cell::Text => {
                    if !rules.labels_possible || col0.num_line.is_some() {
                        return Err(not_a_number(line, 1, label));
                    }
                    if col0.text.is_none() {
                        col0.text = Some(TextCell {
                            line,
                            text: label.to_string(),
                        });
                    }
                    data.push(f32::NAN);
                }
                cell => {
                    if let (Cell::Num(_), Some(t)) = (cell, &col0.text)
                        && rules.row_labels.is_none()
                    {
                        // A number under text labels: the text was an error.
                        return Err(not_a_number(t.line, 1, &t.text));
                    }
                    if matches!(cell, Cell::Num(_)) && col0.num_line.is_none() {
                        col0.num_line = Some(line);
                    }
                    data.push(value(cell));
                }
            }
        } else {
            data.push(f32::NAN);
        }
        if rules.labels_possible {
            labels.push(label.to_string());
        }
        for (c, field) in fields.iter().enumerate().skip(1) {
            match classify(field) {
                Cell::Text => return Err(not_a_number(line, c + 1, field)),
                cell => data.push(value(cell)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_as(name: &str, text: &str, opts: &CsvOptions) -> Result<Tensor> {
        parse_csv(text.as_bytes(), Path::new(name), opts)
    }

    fn ok(text: &str) -> Tensor {
        parse_as("t.csv", text, &CsvOptions::default()).unwrap()
    }

    fn err(text: &str) -> String {
        err_with(text, &CsvOptions::default())
    }

    fn err_with(text: &str, opts: &CsvOptions) -> String {
        match parse_as("t.csv", text, opts) {
            Ok(t) => panic!("expected an error for {text:?}, got {t:?}"),
            Err(e) => {
                let s = e.to_string();
                assert!(s.starts_with("t.csv: "), "{s}");
                s
            }
        }
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn plain_numbers() {
        let t = ok("-5,-4,-3,-2\n-1,0,1,2\n3,4,5,6\n");
        assert_eq!(t.shape, vec![3, 4]);
        assert_eq!(t.dtype, DType::F32);
        assert_eq!(t.data, (0..12).map(|v| v as f32 - 5.0).collect::<Vec<_>>());
        assert_eq!(t.row_labels, None);
        assert_eq!(t.col_labels, None);
        // No trailing newline, spaces, exponents, signs.
        let t = ok(" 1.5 , -2e3,+.5\n4 ,5.,  6");
        assert_eq!(t.data, vec![1.5, -2000.0, 0.5, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn single_column() {
        let t = ok("1\n2\n3\n");
        assert_eq!(t.shape, vec![3, 1]);
        let t = ok("activation\n1\n2\n");
        assert_eq!(t.shape, vec![2, 1]);
        assert_eq!(t.col_labels, strings(&["activation"]));
        assert_eq!(t.row_labels, None);
        let e = err("1\nabc\n3\n");
        assert!(e.contains("line 2, column 1: 'abc' is not a number"), "{e}");
    }

    #[test]
    fn header_detection() {
        let t = ok("a,b,c\n1,2,3\n");
        assert_eq!(t.shape, vec![1, 3]);
        assert_eq!(t.col_labels, strings(&["a", "b", "c"]));
        // Missing values in the first row do not make it a header.
        let t = ok("nan,,3\n1,2,3\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.col_labels, None);
        // A header whose names look like numbers needs header=true.
        let t = ok("0,1,2\n5,6,7\n");
        assert_eq!(t.shape, vec![2, 3]);
        let opts = CsvOptions {
            header: Some(true),
            ..Default::default()
        };
        let t = parse_as("t.csv", "0,1,2\n5,6,7\n", &opts).unwrap();
        assert_eq!(t.shape, vec![1, 3]);
        assert_eq!(t.col_labels, strings(&["0", "1", "2"]));
        // Only the first header cell is text and the first column is
        // numbers: still a header.
        let t = ok("step,1,2\n0,5,6\n1,7,8\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.col_labels, strings(&["step", "1", "2"]));
    }

    #[test]
    fn row_label_detection() {
        // Header and labels, empty corner cell.
        let t = ok(",a,b\nr0,1,2\nr1,3,4\n");
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(t.col_labels, strings(&["a", "b"]));
        assert_eq!(t.row_labels, strings(&["r0", "r1"]));
        // Named corner cell.
        let t = ok("layer,a,b\nr0,1,2\nr1,3,4\n");
        assert_eq!(t.col_labels, strings(&["a", "b"]));
        assert_eq!(t.row_labels, strings(&["r0", "r1"]));
        // Labels without a header: the first row is data.
        let t = ok("r0,1,2\nr1,3,4\n");
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.col_labels, None);
        assert_eq!(t.row_labels, strings(&["r0", "r1"]));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
        // A single labelled row.
        let t = ok("r0,1,2\n");
        assert_eq!(t.shape, vec![1, 2]);
        assert_eq!(t.row_labels, strings(&["r0"]));
        // A missing label among text labels is fine.
        let t = ok(",a,b\nr0,1,2\n,3,4\n");
        assert_eq!(t.row_labels, strings(&["r0", ""]));
        // Empty corner and an all-empty first column: labels (empty ones).
        let t = ok(",a,b\n,1,2\n,3,4\n");
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.row_labels, strings(&["", ""]));
        // pandas' to_csv() of named columns: the integer index under the
        // empty corner is row labels, not data.
        let t = ok(",a,b\n0,1,2\n1,3,4\n");
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.row_labels, strings(&["0", "1"]));
        assert_eq!(t.col_labels, strings(&["a", "b"]));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
        // pandas' to_csv() of an unnamed frame (pd.DataFrame(array)): the
        // header is the column numbers 0, 1, ... after an empty corner.
        let t = ok(",0,1,2\n0,5,6,7\n1,7,8,9\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.col_labels, strings(&["0", "1", "2"]));
        assert_eq!(t.row_labels, strings(&["0", "1"]));
        assert_eq!(t.data, vec![5.0, 6.0, 7.0, 7.0, 8.0, 9.0]);
        // An empty first cell before other numbers is a missing value.
        let t = ok(",5,6\n1,7,8\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.col_labels, None);
        assert_eq!(t.row_labels, None);
    }

    #[test]
    fn forced_options() {
        let both = CsvOptions {
            header: Some(true),
            row_labels: Some(true),
            ..Default::default()
        };
        // pandas' default to_csv: numeric index and column names.
        let t = parse_as("t.csv", ",0,1\n0,5,6\n1,7,8\n", &both).unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.data, vec![5.0, 6.0, 7.0, 8.0]);
        assert_eq!(t.col_labels, strings(&["0", "1"]));
        assert_eq!(t.row_labels, strings(&["0", "1"]));

        let no_labels = CsvOptions {
            row_labels: Some(false),
            ..Default::default()
        };
        // "r0" becomes a column name, then "r1" is refused.
        let e = err_with("r0,1,2\nr1,3,4\n", &no_labels);
        assert!(e.contains("line 2, column 1: 'r1' is not a number"), "{e}");
        let e = err_with("1,2\nr1,3\n", &no_labels);
        assert!(e.contains("line 2, column 1: 'r1' is not a number"), "{e}");

        let no_header = CsvOptions {
            header: Some(false),
            ..Default::default()
        };
        let e = err_with("a,b\n1,2\n", &no_header);
        assert!(e.contains("line 1, column 2: 'b' is not a number"), "{e}");
        let t = parse_as("t.csv", "r0,1,2\n", &no_header).unwrap();
        assert_eq!(t.row_labels, strings(&["r0"]));

        let labels_only = CsvOptions {
            row_labels: Some(true),
            ..Default::default()
        };
        let e = err_with("a\nb\n", &labels_only);
        assert!(e.contains("no numeric columns"), "{e}");
        let t = parse_as("t.csv", "0,1,2\n9,3,4\n", &labels_only).unwrap();
        assert_eq!(t.row_labels, strings(&["0", "9"]));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn missing_and_infinite_cells() {
        let t = ok("1,,nan,NaN,NA,null\nN/A,None,inf,+inf,-inf,Infinity\n");
        assert_eq!(t.shape, vec![2, 6]);
        let d = &t.data;
        assert_eq!(d[0], 1.0);
        assert!(d[1..8].iter().all(|v| v.is_nan()), "{d:?}");
        assert_eq!(
            &d[8..],
            &[f32::INFINITY, f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY]
        );
        let t = ok("-Infinity,1e39,-nan\n");
        assert_eq!(t.data[0], f32::NEG_INFINITY);
        assert_eq!(t.data[1], f32::INFINITY);
        assert!(t.data[2].is_nan());
    }

    #[test]
    fn quotes() {
        let t = ok("\"a,1\",\"say \"\"hi\"\"\",\"two\nlines\"\n\"1\",2,\" 3 \"\n");
        assert_eq!(t.shape, vec![1, 3]);
        assert_eq!(t.col_labels, strings(&["a,1", "say \"hi\"", "two\nlines"]));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0]);
        // Quotes after leading spaces; an empty quoted cell is missing.
        let t = ok("1, \"2\" ,\"\"\n");
        assert_eq!(&t.data[..2], &[1.0, 2.0]);
        assert!(t.data[2].is_nan());
        // A quote inside an unquoted field is literal.
        let e = err("1,2\n3,4\"5\n");
        assert!(e.contains("line 2, column 2: '4\"5' is not a number"), "{e}");
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        // The quoted header spans lines 1-2, a blank line 4.
        let e = err("\"a\nb\",c\n1,2\n\n3,x\n");
        assert!(e.contains("line 5, column 2: 'x' is not a number"), "{e}");
        let e = err("a,b\r\n1,2\r\n\r\n3,4,5\r\n");
        assert!(e.contains("line 4 has 3 fields, expected 2 (from line 1)"), "{e}");
        let e = err("\n\n1,2\n3\n");
        assert!(e.contains("line 4 has 1 fields, expected 2 (from line 3)"), "{e}");
    }

    #[test]
    fn crlf_bom_and_blank_lines() {
        let t = ok("\u{feff}a,b\r\n\r\n1,2\r\n  \r\n3,4\r\n\r\n");
        assert_eq!(t.shape, vec![2, 2]);
        assert_eq!(t.col_labels, strings(&["a", "b"]));
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn delimiters() {
        let tab = ok("a\tb\n1\t2\n");
        assert_eq!(tab.col_labels, strings(&["a", "b"]));
        assert_eq!(tab.data, vec![1.0, 2.0]);
        // Tabs and commas: commas win; a .tsv file is always tabs.
        let t = ok("a,b\tc\n1,2\n");
        assert_eq!(t.col_labels, strings(&["a", "b\tc"]));
        let t = parse_as("t.tsv", "a,b\tc\n1\t2\n", &CsvOptions::default()).unwrap();
        assert_eq!(t.col_labels, strings(&["a,b", "c"]));
        let t = ok("1;2;3\n4;5;6\n");
        assert_eq!(t.shape, vec![2, 3]);
        // np.savetxt: runs of spaces.
        let t = ok("1.0e+00 2.0e+00   3.0e+00\n  4 5 6  \n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = ok("\"row a\" 1 2\n\"row b\" 3 4\n");
        assert_eq!(t.row_labels, strings(&["row a", "row b"]));
        let e = err("mean activation\n1\n");
        assert!(e.contains("line 2 has 1 fields, expected 2 (from line 1)"), "{e}");
        assert!(e.contains("auto-detected"), "{e}");
        // Explicit delimiters.
        let pipe = CsvOptions {
            delimiter: Some(b'|'),
            ..Default::default()
        };
        let t = parse_as("t.csv", "1|2\n3|4,5\n", &pipe);
        assert!(
            t.unwrap_err()
                .to_string()
                .contains("line 2, column 2: '4,5' is not a number")
        );
        let t = parse_as("t.csv", "1|2\n3|4\n", &pipe).unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        let space = CsvOptions {
            delimiter: Some(b' '),
            ..Default::default()
        };
        let t = parse_as("t.csv", "1  2\n3\t4\n", &space).unwrap();
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn trailing_delimiter_is_an_empty_cell() {
        let t = ok("1,2,\n3,4,\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert!(t.data[2].is_nan() && t.data[5].is_nan());
        let t = ok(",,\n1,2,3\n");
        assert_eq!(t.shape, vec![2, 3]);
    }

    #[test]
    fn errors() {
        let e = err("a,b,c,d\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4\n1,2,3,4,5\n");
        assert_eq!(e, "t.csv: line 7 has 5 fields, expected 4 (from line 1)");
        let e = err("1,2\n3,4\n5,abc\n");
        assert_eq!(e, "t.csv: line 3, column 2: 'abc' is not a number");
        let e = err("a,b\n1,2\n3,\"oops\n4,5\n");
        assert_eq!(e, "t.csv: line 3: unterminated quoted field");
        assert_eq!(err(""), "t.csv: no data rows: the file is empty");
        assert_eq!(err("\u{feff}\n \n\r\n"), "t.csv: no data rows: the file is empty");
        let e = err("a,b\n\n");
        assert_eq!(e, "t.csv: no data rows: only the header on line 1");
        let long = "x".repeat(100);
        let e = err(&format!("1,2\n3,{long}\n"));
        assert!(
            e.contains(&format!("'{}...' is not a number", "x".repeat(40))),
            "{e}"
        );
        // Text above numbers in the first column: the text is the error.
        let e = err("1,2\nr1,2\n3,4\n");
        assert!(e.contains("line 2, column 1: 'r1' is not a number"), "{e}");
        let e = err("a,b\nr1,2\n3,4\n");
        assert!(e.contains("line 2, column 1: 'r1' is not a number"), "{e}");
        let e = err("a,b\n1,2\nr1,4\n");
        assert!(e.contains("line 3, column 1: 'r1' is not a number"), "{e}");
    }

    #[test]
    fn invalid_utf8_reports_the_line() {
        let e = parse_as("t.csv", "", &CsvOptions::default());
        assert!(e.is_err());
        let bytes = b"a,b\n1,2\n3,\xff\n";
        let e = parse_csv(bytes, Path::new("t.csv"), &CsvOptions::default()).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("line 3: invalid UTF-8"), "{e}");
    }

    #[test]
    fn cell_classes() {
        assert_eq!(classify("1"), Cell::Num(1.0));
        assert_eq!(classify("-0.25"), Cell::Num(-0.25));
        assert_eq!(classify("+inf"), Cell::Num(f32::INFINITY));
        assert_eq!(classify("-inf"), Cell::Num(f32::NEG_INFINITY));
        assert_eq!(classify("Infinity"), Cell::Num(f32::INFINITY));
        for m in [
            "", "nan", "NaN", "NAN", "-nan", "NA", "na", "N/A", "null", "NULL", "None",
        ] {
            assert_eq!(classify(m), Cell::Missing, "{m}");
        }
        for t in ["abc", "1,5", "0x10", "1_000", "--1", "nanx"] {
            assert_eq!(classify(t), Cell::Text, "{t}");
        }
    }

    // ---- parallel parse == sequential parse ----

    const SEQUENTIAL: Parallel = Parallel {
        min_bytes: usize::MAX,
        chunks: 1,
    };

    /// Parse `text` sequentially and split into 2..many chunks: the same
    /// tensor (values bitwise) or the same error.
    fn same_in_parallel(name: &str, text: &[u8], opts: &CsvOptions) {
        let path = Path::new(name);
        let want = parse_with(text, path, opts, SEQUENTIAL);
        let lines = text.iter().filter(|&&b| b == b'\n').count();
        for chunks in [2, 3, 8, lines + 5] {
            let got = parse_with(text, path, opts, Parallel { min_bytes: 0, chunks });
            match (&want, &got) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.shape, b.shape, "{chunks} chunks");
                    assert_eq!(a.row_labels, b.row_labels, "{chunks} chunks");
                    assert_eq!(a.col_labels, b.col_labels, "{chunks} chunks");
                    let bits = |t: &Tensor| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert!(bits(a) == bits(b), "{chunks} chunks: values differ");
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a, b, "{chunks} chunks on {:?}", String::from_utf8_lossy(text))
                }
                _ => panic!(
                    "{chunks} chunks: sequential {want:?} vs parallel {got:?} on {:?}",
                    String::from_utf8_lossy(text)
                ),
            }
        }
    }

    pub(super) struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// What the first column holds, row by row.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Col0 {
        Numbers,
        Labels,
        Missing,
        /// Labels, then numbers from a row on (or the other way round).
        LabelsThenNumbers(usize),
        NumbersThenLabels(usize),
    }

    pub(super) fn generated(
        seed: u64,
        col0: Col0,
        header: bool,
        crlf: bool,
        delim: &str,
        faults: usize,
    ) -> String {
        let mut r = Rng(seed);
        let rows = 40 + r.below(160) as usize;
        let cols = 2 + r.below(6) as usize;
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut out = String::new();
        if header {
            let names: Vec<String> = (0..cols)
                .map(|c| if c == 0 { String::new() } else { format!("c{c}") })
                .collect();
            out.push_str(&names.join(delim));
            out.push_str(nl);
        }
        let mut fault_rows: Vec<usize> = (0..faults).map(|_| r.below(rows as u64) as usize).collect();
        fault_rows.sort();
        for row in 0..rows {
            if r.below(25) == 0 {
                out.push_str(if r.below(2) == 0 { nl } else { "  \t" });
                out.push_str(nl);
            }
            let label = match col0 {
                Col0::Numbers => format!("{}", row),
                Col0::Labels => format!("r{row}"),
                Col0::Missing => ["", "nan", "NA"][r.below(3) as usize].to_string(),
                Col0::LabelsThenNumbers(at) => {
                    if row < at {
                        format!("r{row}")
                    } else {
                        format!("{row}")
                    }
                }
                Col0::NumbersThenLabels(at) => {
                    if row < at {
                        format!("{row}")
                    } else {
                        format!("r{row}")
                    }
                }
            };
            let mut cells = vec![label];
            for _ in 1..cols {
                cells.push(match r.below(12) {
                    0 => String::new(),
                    1 => "nan".into(),
                    2 => "-inf".into(),
                    3 => format!("{}e-3", r.below(1000)),
                    _ => format!("{:.4}", r.below(1 << 20) as f32 / 4096.0 - 100.0),
                });
            }
            if fault_rows.contains(&row) {
                let c = r.below(cols as u64) as usize;
                match r.below(3) {
                    0 => cells[c] = "bad".into(),
                    1 => cells.push("1".into()),
                    _ => {
                        cells.pop();
                    }
                }
            }
            out.push_str(&cells.join(delim));
            if row + 1 < rows || r.below(2) == 0 {
                out.push_str(nl);
            }
        }
        out
    }

    #[test]
    fn parallel_parse_matches_sequential_on_generated_tables() {
        let mut seed = 1;
        let opts_all = [
            CsvOptions::default(),
            CsvOptions {
                header: Some(true),
                ..Default::default()
            },
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
        for col0 in [
            Col0::Numbers,
            Col0::Labels,
            Col0::Missing,
            Col0::LabelsThenNumbers(30),
            Col0::LabelsThenNumbers(1),
            Col0::NumbersThenLabels(25),
            Col0::NumbersThenLabels(1),
        ] {
            for header in [false, true] {
                for crlf in [false, true] {
                    for delim in [",", "\t", " "] {
                        for faults in [0, 1, 3] {
                            seed += 1;
                            let text = generated(seed, col0, header, crlf, delim, faults);
                            for opts in &opts_all {
                                same_in_parallel("g.csv", text.as_bytes(), opts);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parallel_parse_matches_sequential_on_edge_cases() {
        let cases: &[&str] = &[
            "",
            "\n\n\n",
            "a,b\n",
            "a,b\n\n\n",
            "1,2\n3,4\n5,6",
            "r0,1\nr1,2\nr2,3\n4,5\nr4,6\n",
            "0,1\n1,2\nr2,3\nr3,4\n",
            ",a\n,1\n,2\nx,3\n4,5\n",
            ",a\n,1\nx,2\n,3\n4,5\n",
            ",a\n1,1\n,2\n,3\nx,5\n",
            "a,b\nr1,2\nr2,x\n3,4\n",
            "a,b\nr1,2\nr2,3\n3,4,5\n",
            "a,b\nr1,2\n3,x\n",
            "a,b\n1,2\nr2,3,4\n",
            "x\ny\nz\n",
            "1\n2\nx\n3\n",
            "a b\n1 2\n3\n",
            "1 2\n 3 4 \n\t5\t6\n \r\n7 8\r\n",
            "1,2\r3,4\r",
            "a,b\n1,2\n3,\u{a0}\n\u{a0}\n5,6\n",
            "\u{feff}a,b\n1,2\n",
            "a;b\n1;2\n3;4;\n",
        ];
        for text in cases {
            for opts in [
                CsvOptions::default(),
                CsvOptions {
                    row_labels: Some(false),
                    ..Default::default()
                },
                CsvOptions {
                    header: Some(false),
                    row_labels: Some(true),
                    ..Default::default()
                },
            ] {
                same_in_parallel("e.csv", text.as_bytes(), &opts);
            }
        }
        // Invalid UTF-8 deep in a big input.
        let mut bytes = "1,2\n".repeat(1000).into_bytes();
        bytes[2001] = 0xff;
        same_in_parallel("u.csv", &bytes, &CsvOptions::default());
    }

    #[test]
    fn big_inputs_take_the_parallel_path() {
        // More than PARALLEL_MIN_BYTES with a bad cell in the last quarter.
        let mut text = String::from("layer,a,b,c\n");
        for i in 0..400_000 {
            text.push_str(&format!("r{i},{i},0.5,-{i}e-2\n"));
        }
        assert!(text.len() > PARALLEL_MIN_BYTES);
        let t = ok(&text);
        assert_eq!(t.shape, vec![400_000, 3]);
        assert_eq!(
            t.row_labels.as_ref().map(|l| l[399_999].as_str()),
            Some("r399999")
        );
        assert_eq!(t.data[3 * 123_456], 123_456.0);
        text.insert(text.len() - 20, 'x');
        let e = err(&text);
        assert!(e.starts_with("t.csv: line 400001, column "), "{e}");
    }
}
