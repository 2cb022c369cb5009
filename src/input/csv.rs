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
    /// first is text (neither a number nor a missing value), or if its first
    /// cell is text and the first column below is not a row-label column.
    pub header: Option<bool>,
    /// Whether the first column holds row labels instead of numbers.
    ///
    /// Detected when `None`: with at least two columns, it is a label column
    /// if none of its data cells is a number and either some are text or
    /// the header's first cell is empty.
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
struct TextCell {
    line: usize,
    text: String,
}

fn parse(bytes: &[u8], source: &Path, opts: &CsvOptions) -> std::result::Result<Tensor, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("line {line}: invalid UTF-8 (byte {at} of the text); save the file as UTF-8")
    })?;
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
    let first: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let first_cells: Vec<Cell> = first.iter().map(|f| classify(f)).collect();
    let rest_has_text = first_cells[1..].contains(&Cell::Text);
    if opts.header == Some(false) {
        // The first row is data: text after the label column is an error.
        let skip = usize::from(opts.row_labels == Some(true));
        if let Some(c) = (skip.max(1)..ncols).find(|&c| first_cells[c] == Cell::Text) {
            return Err(not_a_number(first_line, c + 1, &first[c]));
        }
    }
    // Decided now unless the answer depends on the first column.
    let header_known: Option<bool> = match opts.header {
        Some(h) => Some(h),
        None if rest_has_text => Some(true),
        None if first_cells[0] != Cell::Text => Some(false),
        None => None,
    };

    let labels_possible = opts.row_labels != Some(false) && (opts.row_labels.is_some() || ncols > 1);
    let parse_col0 = opts.row_labels != Some(true);

    // Data rows after the first record, full width (column 0 included, NaN
    // where it is text); the first record goes in front as a placeholder.
    let mut data: Vec<f32> = first_cells.iter().map(|&c| value(c)).collect();
    let mut labels: Vec<String> = Vec::new();
    let mut col0_num_line: Option<usize> = None;
    let mut col0_text: Option<TextCell> = None;
    let mut rows_after_first = 0usize;

    while let Some(line) = split.next_record(&mut fields)? {
        if fields.len() != ncols {
            let mut msg = format!(
                "line {line} has {} fields, expected {ncols} (from line {first_line})",
                fields.len()
            );
            if delim == Delim::Whitespace && opts.delimiter.is_none() {
                msg.push_str(
                    "; fields were taken to be separated by spaces (auto-detected), \
                     set the delimiter if that is wrong",
                );
            }
            return Err(msg);
        }
        rows_after_first += 1;
        let label = &fields[0];
        if parse_col0 {
            match classify(label) {
                Cell::Text => {
                    if !labels_possible || col0_num_line.is_some() {
                        return Err(not_a_number(line, 1, label));
                    }
                    if col0_text.is_none() {
                        col0_text = Some(TextCell {
                            line,
                            text: label.to_string(),
                        });
                    }
                    data.push(f32::NAN);
                }
                cell => {
                    if let (Cell::Num(_), Some(t)) = (cell, &col0_text)
                        && opts.row_labels.is_none()
                    {
                        // A number under text labels: the text was an error.
                        return Err(not_a_number(t.line, 1, &t.text));
                    }
                    if matches!(cell, Cell::Num(_)) && col0_num_line.is_none() {
                        col0_num_line = Some(line);
                    }
                    data.push(value(cell));
                }
            }
        } else {
            data.push(f32::NAN);
        }
        if labels_possible {
            labels.push(label.to_string());
        }
        for (c, field) in fields.iter().enumerate().skip(1) {
            match classify(field) {
                Cell::Text => return Err(not_a_number(line, c + 1, field)),
                cell => data.push(value(cell)),
            }
        }
    }

    // Decide the header, then the label column.
    let col0_below_is_labels = col0_num_line.is_none() && (col0_text.is_some() || rows_after_first == 0);
    let header = header_known.unwrap_or(match opts.row_labels {
        Some(labels) => !labels,
        None => !(ncols > 1 && col0_below_is_labels),
    });
    let row_labels = match opts.row_labels {
        Some(r) => r,
        None => {
            let mut text = col0_text.is_some();
            let mut num = col0_num_line.is_some();
            if !header {
                text |= first_cells[0] == Cell::Text;
                num |= matches!(first_cells[0], Cell::Num(_));
            }
            let empty_corner = header && first[0].is_empty();
            ncols > 1 && !num && (text || empty_corner)
        }
    };
    if !row_labels && parse_col0 {
        // Text in the first column is an error after all.
        if !header && first_cells[0] == Cell::Text {
            return Err(not_a_number(first_line, 1, &first[0]));
        }
        if let Some(t) = col0_text {
            return Err(not_a_number(t.line, 1, &t.text));
        }
    }

    let rows = rows_after_first + usize::from(!header);
    if rows == 0 {
        return Err(format!("no data rows: only the header on line {first_line}"));
    }
    let cols = ncols - usize::from(row_labels);
    if cols == 0 {
        return Err("no numeric columns: the only column holds row labels".into());
    }
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
            names.push(first[0].clone());
        }
        names.extend(labels);
        names
    });
    let col_names = header.then(|| first[skip_cols..].to_vec());

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
        // Numbers in the first column: data, not labels.
        let t = ok(",a,b\n0,1,2\n1,3,4\n");
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.row_labels, None);
        assert_eq!(t.col_labels, strings(&["", "a", "b"]));
        assert_eq!(t.data, vec![0.0, 1.0, 2.0, 1.0, 3.0, 4.0]);
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
}
