//! Reading an input file into string columns: CSV (delimiter sniffed, BOM, CRLF, quoted
//! newlines, Latin-1 fallback), Excel (`.xlsx`, legacy `.xls`) and Parquet.

use crate::EtlError;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

mod excel;
pub use excel::{MAX_CELL_CHARS, MAX_SHEET_CELLS, MAX_WORKBOOK_BYTES};

/// Columns one input may have. Wider files are refused with the count, before any work grows
/// with their width.
pub const MAX_COLUMNS: usize = 1024;
/// Bytes one CSV record may span (a line, or lines joined by a quoted field). A longer one is
/// refused as it is read, so a file that is one endless line, or an unterminated quote that
/// swallows the rest of the file, never has to fit in memory.
pub const MAX_RECORD_BYTES: u64 = 16 << 20;
/// Line breaks one CSV record may hold inside quoted fields. A note of more lines than this is
/// far likelier a quote that was never closed, silently merging the rows after it into one
/// field: refused with the line where the record starts.
pub const MAX_RECORD_LINES: usize = 200;

fn too_wide(origin: &str, columns: usize) -> EtlError {
    EtlError::input(
        origin,
        format!(
            "the header has {columns} columns; dapgov reads at most {MAX_COLUMNS}: drop the columns the dataset does not use, or split the file"
        ),
    )
}

pub enum Format {
    Csv,
    Xlsx,
    Xls,
    Parquet,
}

pub fn detect(bytes: &[u8]) -> Format {
    match bytes {
        [0x50, 0x4B, 0x03, 0x04, ..] => Format::Xlsx,
        [0xD0, 0xCF, 0x11, 0xE0, ..] => Format::Xls,
        [b'P', b'A', b'R', b'1', ..] => Format::Parquet,
        _ => Format::Csv,
    }
}

/// One source record as text, numbered as the file counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub fields: Fields,
    /// 1-based; for CSV and Excel the header is row 1, so quoted newlines do not shift it.
    pub source_row: i64,
    /// The record as written, kept for rows whose field count differs from the header's.
    pub ragged: Option<String>,
}

/// A record's fields in one buffer: a file of millions of records is read with a few
/// allocations per record rather than one per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    text: String,
    /// Where each field ends in `text`, and whether it has a value (an Excel cell may not).
    /// A record is at most `MAX_RECORD_BYTES` (as text, up to three times that), so `u32`.
    ends: Vec<(u32, bool)>,
}

impl Fields {
    pub fn with_capacity(fields: usize, bytes: usize) -> Fields {
        Fields {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(fields),
        }
    }

    pub fn push(&mut self, value: Option<&str>) {
        self.text.push_str(value.unwrap_or_default());
        self.ends.push((self.text.len() as u32, value.is_some()));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, or `None` when it has no value or the record is shorter.
    pub fn get(&self, i: usize) -> Option<&str> {
        let (end, present) = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
        present.then(|| &self.text[start as usize..end as usize])
    }

    pub fn iter(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn to_vec(&self) -> Vec<Option<String>> {
        self.iter().map(|f| f.map(String::from)).collect()
    }
}

impl<S: AsRef<str>> FromIterator<Option<S>> for Fields {
    fn from_iter<I: IntoIterator<Item = Option<S>>>(values: I) -> Fields {
        let mut f = Fields::default();
        for v in values {
            f.push(v.as_ref().map(AsRef::as_ref));
        }
        f
    }
}

/// An input read record by record, so a file of any size is read in bounded memory.
pub struct Rows {
    pub headers: Vec<String>,
    pub format: Format,
    origin: String,
    /// Set once a reader has panicked: what it holds is no longer trusted.
    failed: bool,
    warnings: Arc<Mutex<Vec<String>>>,
    records: Box<dyn Iterator<Item = Result<Record, EtlError>> + Send>,
}

impl Rows {
    fn new(
        headers: Vec<String>,
        format: Format,
        origin: &str,
        warnings: Arc<Mutex<Vec<String>>>,
        records: impl Iterator<Item = Result<Record, EtlError>> + Send + 'static,
    ) -> Self {
        Rows {
            headers,
            format,
            origin: origin.to_string(),
            failed: false,
            warnings,
            records: Box::new(records),
        }
    }

    /// What was noticed so far (an encoding fallback, for instance).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("warnings lock").clone()
    }
}

impl Iterator for Rows {
    type Item = Result<Record, EtlError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.records.next())) {
            Ok(next) => next,
            Err(_) => {
                self.failed = true;
                Some(Err(malformed(&self.origin)))
            }
        }
    }
}

#[derive(Debug)]
/// A whole input in memory, for the commands that look at every value together.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub source_rows: Vec<i64>,
    /// Rows whose field count differs from the header's: (source row, fields found).
    pub ragged: Vec<(i64, usize)>,
    pub warnings: Vec<String>,
}

/// Bytes as text: UTF-8, or Windows-1252/Latin-1 when they are not valid UTF-8, with one warning
/// naming the first such row.
fn decode(bytes: &[u8], row: i64, warnings: &Mutex<Vec<String>>, warned: &mut bool) -> String {
    decode_cow(bytes, row, warnings, warned).into_owned()
}

/// A field as text: as it is when UTF-8, else read as Latin-1 (Windows-1252), said once.
fn decode_cow<'a>(
    bytes: &'a [u8],
    row: i64,
    warnings: &Mutex<Vec<String>>,
    warned: &mut bool,
) -> std::borrow::Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            if !*warned {
                *warned = true;
                warnings.lock().expect("warnings lock").push(format!(
                    "row {row}: not valid UTF-8; values that are not UTF-8 were read as Latin-1 (Windows-1252)"
                ));
            }
            // Without BOM handling: a field that happens to start with FF FE is Latin-1 text,
            // not UTF-16 that would hide its digits from the PII scans.
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// The most frequent of `; , tab |` in the header line that also keeps a steady count.
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().take(20).collect();
    let header = lines.first().copied().unwrap_or_default();
    [b';', b',', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| {
            let n = header.bytes().filter(|b| b == d).count();
            let steady = lines
                .iter()
                .skip(1)
                .filter(|l| l.bytes().filter(|b| b == d).count() == n)
                .count();
            (n > 0, steady, n)
        })
        .unwrap_or(b',')
}

/// How much of the start of a CSV file the delimiter is sniffed from.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Open any supported input, recognised by its content rather than its name. CSV and Parquet
/// are read as they stream; an Excel workbook is read whole (a sheet holds at most 1,048,576 rows).
/// The parsers are third-party code fed untrusted bytes: a panic in one (a decoder's
/// `unimplemented!` on a corrupt type tag, say) becomes an error naming the file, never a
/// crash, both here and in `Rows::next`.
pub fn open<R: Read + Send + 'static>(input: R, origin: &str) -> Result<Rows, EtlError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        open_unguarded(input, origin)
    }))
    .unwrap_or_else(|_| Err(malformed(origin)))
}

/// What a reader's panic becomes.
fn malformed(origin: &str) -> EtlError {
    EtlError::input(
        origin,
        "the file is malformed: its reader stopped on data it could not decode",
    )
}

fn open_unguarded<R: Read + Send + 'static>(mut input: R, origin: &str) -> Result<Rows, EtlError> {
    let io = |e: std::io::Error| EtlError::input(origin, format!("cannot read: {e}"));
    let mut head = Vec::new();
    (&mut input)
        .take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(io)?;
    let format = detect(&head);
    let input = std::io::Cursor::new(head).chain(input);
    match format {
        Format::Csv => open_csv(input, origin),
        Format::Parquet => open_parquet(input, origin),
        Format::Xlsx | Format::Xls => {
            let mut bytes = Vec::new();
            input
                .take(MAX_WORKBOOK_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(io)?;
            if bytes.len() as u64 > MAX_WORKBOOK_BYTES {
                return Err(EtlError::input(
                    origin,
                    format!(
                        "the workbook is over {} MiB; deliver data this large as CSV or Parquet, which stream",
                        MAX_WORKBOOK_BYTES >> 20
                    ),
                ));
            }
            excel::open(&bytes, origin, matches!(format, Format::Xls))
        }
    }
}

/// Values `read` holds at once (a million rows of sixteen columns).
pub const WHOLE_TABLE_CELLS: u64 = 16 << 20;

/// Read any supported input whole.
pub fn read(bytes: &[u8], origin: &str) -> Result<Table, EtlError> {
    let mut rows = open(std::io::Cursor::new(bytes.to_vec()), origin)?;
    let mut t = Table {
        headers: rows.headers.clone(),
        rows: vec![],
        source_rows: vec![],
        ragged: vec![],
        warnings: vec![],
    };
    let mut cells = 0u64;
    for r in &mut rows {
        let r = r?;
        cells += r.fields.len() as u64;
        if cells > WHOLE_TABLE_CELLS {
            return Err(EtlError::input(
                origin,
                format!(
                    "more than {WHOLE_TABLE_CELLS} values; this command reads a file whole, so split the file (`etl run` streams files of any length)"
                ),
            ));
        }
        if r.ragged.is_some() {
            t.ragged.push((r.source_row, r.fields.len()));
        } else {
            t.rows.push(r.fields.to_vec());
            t.source_rows.push(r.source_row);
        }
    }
    t.warnings = rows.warnings();
    if t.rows.is_empty() && t.ragged.is_empty() {
        return Err(EtlError::input(
            origin,
            "the file has a header but no data rows",
        ));
    }
    Ok(t)
}

/// Reads the header record into `rec`, within the limits on a record's size and width.
fn read_csv_header<R: Read>(
    rdr: &mut csv::Reader<R>,
    rec: &mut csv::ByteRecord,
    origin: &str,
) -> Result<(), EtlError> {
    match rdr.read_byte_record(rec) {
        Ok(true) => {}
        Ok(false) => {
            return Err(EtlError::input(
                origin,
                "the file is empty; expected a header line and data rows",
            ));
        }
        Err(e) => {
            return Err(EtlError::input(
                origin,
                format!("cannot read the header line: {}", csv_error(&e)),
            ));
        }
    }
    if rec.as_slice().len() as u64 > MAX_RECORD_BYTES {
        return Err(EtlError::input(
            origin,
            format!("cannot read the header line: {RecordTooLong}"),
        ));
    }
    if rec.len() > MAX_COLUMNS {
        return Err(too_wide(origin, rec.len()));
    }
    Ok(())
}

/// Why record `row` is refused, when it passes the limits on its bytes or its line breaks.
fn beyond_record_limits(rec: &csv::ByteRecord, row: i64) -> Option<String> {
    if rec.as_slice().len() as u64 > MAX_RECORD_BYTES {
        return Some(format!("row {row}: {RecordTooLong}"));
    }
    let breaks = rec.as_slice().iter().filter(|&&b| b == b'\n').count();
    if breaks > MAX_RECORD_LINES {
        let line = rec.position().map(|p| p.line()).unwrap_or_default();
        return Some(format!(
            "row {row}, starting at line {line}: a quoted field runs over {breaks} line breaks (dapgov accepts {MAX_RECORD_LINES}); a quote is probably never closed there, which would merge the rows after it into one field. Close the quote and load again"
        ));
    }
    None
}

/// A ragged record as the file wrote it, for quarantine.
fn record_as_written(fields: &Fields, delimiter: u8) -> String {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(vec![]);
    let text = w
        .write_record(fields.iter().map(|f| f.unwrap_or_default()))
        .and_then(|_| w.into_inner().map_err(|e| e.into_error().into()));
    String::from_utf8_lossy(&text.unwrap_or_default())
        .trim_end_matches('\n')
        .to_string()
}

fn open_csv<R: Read + Send + 'static>(
    input: std::io::Chain<std::io::Cursor<Vec<u8>>, R>,
    origin: &str,
) -> Result<Rows, EtlError> {
    let head = input.get_ref().0.get_ref();
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(EtlError::input(
            origin,
            "the file is empty; expected a header line and data rows",
        ));
    }
    let delimiter = sniff_delimiter(&String::from_utf8_lossy(head));
    let since_record = Arc::new(AtomicU64::new(0));
    let guarded = RecordGuard {
        inner: input,
        since_record: since_record.clone(),
        quotes: QuoteState::new(delimiter),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(guarded);
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let mut warned = false;
    let mut rec = csv::ByteRecord::new();
    read_csv_header(&mut rdr, &mut rec, origin)?;
    since_record.store(0, Ordering::Relaxed);
    let headers: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            decode(f, 1, &warnings, &mut warned)
        })
        .collect();
    let width = headers.len();
    let origin_owned = origin.to_string();
    let shared = warnings.clone();
    let mut row = 1i64;
    let mut last_line = 1u64;
    let mut ended = false;
    let records = std::iter::from_fn(move || {
        loop {
            if ended {
                return None;
            }
            row += 1;
            match rdr.read_byte_record(&mut rec) {
                // A quote still open at the end of the file took every line after it into
                // its field: the reader says nothing of it, so the scan beside it does.
                Ok(false) if rdr.get_ref().quotes.open_at_end() => {
                    ended = true;
                    return Some(Err(EtlError::input(
                        &origin_owned,
                        format!(
                            "row {}, starting at line {last_line}: a quoted field is never closed before the end of the file, so the lines after its quote were merged into it. Close the quote and load again",
                            row - 1
                        ),
                    )));
                }
                Ok(false) => return None,
                Err(e) => {
                    return Some(Err(EtlError::input(
                        &origin_owned,
                        format!("row {row}: {}", csv_error(&e)),
                    )));
                }
                Ok(true) => {}
            }
            // The reader reads ahead by at most its buffer, so this counts the next record's bytes.
            since_record.store(0, Ordering::Relaxed);
            last_line = rec.position().map(|p| p.line()).unwrap_or_default();
            if let Some(problem) = beyond_record_limits(&rec, row) {
                return Some(Err(EtlError::input(&origin_owned, problem)));
            }
            if rec.len() == 1 && rec[0].is_empty() {
                continue;
            }
            let mut fields = Fields::with_capacity(rec.len(), rec.as_slice().len());
            for f in rec.iter() {
                fields.push(Some(&decode_cow(f, row, &shared, &mut warned)));
            }
            let ragged = (fields.len() != width).then(|| record_as_written(&fields, delimiter));
            return Some(Ok(Record {
                fields,
                source_row: row,
                ragged,
            }));
        }
    });
    Ok(Rows::new(headers, Format::Csv, origin, warnings, records))
}

/// Counts the bytes read since the CSV reader last finished a record, and fails the read
/// once they pass `MAX_RECORD_BYTES`; follows the quoting of what it passes on.
struct RecordGuard<R> {
    inner: R,
    since_record: Arc<AtomicU64>,
    quotes: QuoteState,
}

impl<R: Read> Read for RecordGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_record.load(Ordering::Relaxed) > MAX_RECORD_BYTES {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.since_record.fetch_add(n as u64, Ordering::Relaxed);
        self.quotes.scan(&buf[..n]);
        Ok(n)
    }
}

/// Where a CSV byte stream stands in the quoting grammar the reader follows (RFC 4180, with
/// quotes inside unquoted fields taken literally), so a quote still open at the end of the
/// file is known. Jumps from one significant byte to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: it closes the field, or a second one escapes it.
    QuoteInQuoted,
}

struct QuoteState {
    delimiter: u8,
    at: Quoting,
}

impl QuoteState {
    fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            at: Quoting::FieldStart,
        }
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let (state, used) = match self.at {
                Quoting::Quoted => match memchr::memchr(b'"', bytes) {
                    Some(i) => (Quoting::QuoteInQuoted, i + 1),
                    None => (Quoting::Quoted, bytes.len()),
                },
                Quoting::Unquoted => match memchr::memchr3(self.delimiter, b'\n', b'\r', bytes) {
                    Some(i) => (Quoting::FieldStart, i + 1),
                    None => (Quoting::Unquoted, bytes.len()),
                },
                Quoting::FieldStart => match bytes[0] {
                    b'"' => (Quoting::Quoted, 1),
                    b if b == self.delimiter || b == b'\n' || b == b'\r' => {
                        (Quoting::FieldStart, 1)
                    }
                    _ => (Quoting::Unquoted, 1),
                },
                Quoting::QuoteInQuoted => match bytes[0] {
                    b'"' => (Quoting::Quoted, 1),
                    b if b == self.delimiter || b == b'\n' || b == b'\r' => {
                        (Quoting::FieldStart, 1)
                    }
                    _ => (Quoting::Unquoted, 1),
                },
            };
            self.at = state;
            bytes = &bytes[used..];
        }
    }

    fn open_at_end(&self) -> bool {
        self.at == Quoting::Quoted
    }
}

#[derive(Debug)]
struct RecordTooLong;

impl std::error::Error for RecordTooLong {}

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a record runs past {} MiB (one very long line, or a quote that is never closed); dapgov reads records up to that size",
            MAX_RECORD_BYTES >> 20
        )
    }
}

/// A CSV reader's error without the data it may quote.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// Parquet values as text, so every format goes through the same typing and rules. The input
/// is spooled to a temporary file because Parquet keeps its schema at the end.
fn open_parquet<R: Read>(mut input: R, origin: &str) -> Result<Rows, EtlError> {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::compute::cast;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: &dyn std::fmt::Display| {
        EtlError::input(origin, format!("not a readable Parquet file: {e}"))
    };
    let mut spool = tempfile::tempfile()
        .map_err(|e| EtlError::Engine(format!("cannot create a temporary file: {e}")))?;
    std::io::copy(&mut input, &mut spool)
        .map_err(|e| EtlError::input(origin, format!("cannot read: {e}")))?;
    // Every value is read as text, so the Arrow schema a writer may embed is not needed: its
    // decoder is skipped, and with it a class of corrupt files it could not describe.
    let options = datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions::new()
        .with_skip_arrow_metadata(true);
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(spool, options)
        .map_err(|e| bad(&e))?;
    if builder.metadata().file_metadata().num_rows() == 0 {
        return Err(EtlError::input(origin, "the Parquet file has no rows"));
    }
    let headers: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    if headers.len() > MAX_COLUMNS {
        return Err(too_wide(origin, headers.len()));
    }
    let reader = builder.build().map_err(|e| bad(&e))?;
    let origin_owned = origin.to_string();
    let mut next_row = 0i64;
    let records = reader.flat_map(
        move |batch| -> Box<dyn Iterator<Item = Result<Record, EtlError>> + Send> {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    return Box::new(std::iter::once(Err(EtlError::input(
                        &origin_owned,
                        format!("not a readable Parquet file: {e}"),
                    ))));
                }
            };
            let text: Result<Vec<ArrayRef>, EtlError> = batch
                .columns()
                .iter()
                .zip(batch.schema().fields())
                .map(|(c, f)| {
                    cast(c, &DataType::Utf8).map_err(|e| {
                        EtlError::input(
                            &origin_owned,
                            format!(
                                "column {}: cannot read {} values as text: {e}",
                                f.name(),
                                f.data_type()
                            ),
                        )
                    })
                })
                .collect();
            let text = match text {
                Ok(t) => t,
                Err(e) => return Box::new(std::iter::once(Err(e))),
            };
            let first = next_row;
            next_row += batch.num_rows() as i64;
            Box::new((0..batch.num_rows()).map(move |i| {
                let fields = text
                    .iter()
                    .map(|c| {
                        (!c.is_null(i)).then(|| {
                            c.as_any()
                                .downcast_ref::<StringArray>()
                                .map(|s| s.value(i).to_string())
                                .unwrap_or_default()
                        })
                    })
                    .collect();
                // Parquet has no header line; number records from 1.
                Ok(Record {
                    fields,
                    source_row: first + i as i64 + 1,
                    ragged: None,
                })
            }))
        },
    );
    Ok(Rows::new(
        headers,
        Format::Parquet,
        origin,
        Default::default(),
        records,
    ))
}

/// Records as one Arrow batch: string columns named `names`, then `_source_row`, and for a
/// record whose field count differs from the header's, `_shape` (why it was set aside) and
/// `_record` (the record as written; its columns are left empty rather than guessed).
pub fn to_batch(names: &[String], records: &[Record]) -> Result<RecordBatch, EtlError> {
    let mut fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(n, DataType::Utf8, true))
        .collect();
    fields.push(Field::new("_source_row", DataType::Int64, false));
    fields.push(Field::new("_shape", DataType::Utf8, true));
    fields.push(Field::new("_record", DataType::Utf8, true));
    let mut cols: Vec<ArrayRef> = (0..names.len())
        .map(|c| {
            Arc::new(StringArray::from_iter(records.iter().map(|r| {
                if r.ragged.is_some() {
                    None
                } else {
                    r.fields.get(c)
                }
            }))) as ArrayRef
        })
        .collect();
    cols.push(Arc::new(Int64Array::from_iter_values(
        records.iter().map(|r| r.source_row),
    )));
    cols.push(Arc::new(StringArray::from_iter(records.iter().map(|r| {
        r.ragged.as_ref().map(|_| {
            format!(
                "ragged row: {} fields where the header has {}",
                r.fields.len(),
                names.len()
            )
        })
    }))));
    cols.push(Arc::new(StringArray::from_iter(
        records.iter().map(|r| r.ragged.as_deref()),
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| EtlError::Engine(e.to_string()))
}

/// Column names for a message: the first few, each cut short and masked when it reads as
/// personal information (a header line can be data written in the wrong place).
pub fn name_list(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut out: Vec<String> = names.iter().take(SHOWN).map(|n| excerpt(n)).collect();
    if names.len() > SHOWN {
        out.push(format!("and {} more", names.len() - SHOWN));
    }
    out.join(", ")
}

/// At most 32 characters of a value, masked when it holds personal information.
pub fn excerpt(value: &str) -> String {
    let short: String = value.chars().take(32).collect();
    let shown = if crate::pii::scan(&short).is_empty() {
        short
    } else {
        crate::pii::masked_for_display(&short)
    };
    if value.chars().nth(32).is_some() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// `AverageSpeedofAnswer` → `average_speedof_answer`, `BI_ID` → `bi_id`; unique and non-empty.
pub fn snake_case_names(headers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(headers.len());
    let mut taken = std::collections::HashSet::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let chars: Vec<char> = h.trim().chars().collect();
        let mut s = String::new();
        for (j, &c) in chars.iter().enumerate() {
            if c.is_ascii_alphanumeric() {
                let prev = j.checked_sub(1).map(|k| chars[k]);
                let next = chars.get(j + 1);
                if c.is_ascii_uppercase()
                    && prev.is_some_and(|p| {
                        p.is_ascii_lowercase()
                            || p.is_ascii_digit()
                            || (p.is_ascii_uppercase()
                                && next.is_some_and(|n| n.is_ascii_lowercase()))
                    })
                {
                    s.push('_');
                }
                s.push(c.to_ascii_lowercase());
            } else if !s.ends_with('_') {
                s.push('_');
            }
        }
        let mut s = s.trim_matches('_').to_string();
        if s.is_empty() {
            s = format!("column_{}", i + 1);
        }
        if s.as_bytes()[0].is_ascii_digit() {
            s = format!("c_{s}");
        }
        let base = s.clone();
        let mut n = 2;
        while taken.contains(&s) {
            s = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(s.clone());
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_city_headers() {
        let h: Vec<String> = [
            "\u{feff}Date",
            "CallsOffered",
            "AverageSpeedofAnswer",
            "BI_ID",
            "Call OK",
            "",
            "Date",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            snake_case_names(&h),
            vec![
                "date",
                "calls_offered",
                "average_speedof_answer",
                "bi_id",
                "call_ok",
                "column_6",
                "date_2"
            ]
        );
    }

    #[test]
    fn a_field_starting_with_ff_fe_is_latin1_not_utf16() {
        // A SIN behind the bytes of a UTF-16 byte-order mark, in a file that is not UTF-8.
        let t = read(b"id,note\n1,\xff\xfe130 692 544 \xe9t\xe9\n", "f").unwrap();
        assert_eq!(
            t.rows[0][1].as_deref(),
            Some("\u{ff}\u{fe}130 692 544 \u{e9}t\u{e9}")
        );
    }

    #[test]
    fn reads_city_export_quirks() {
        let t = read(b"\xEF\xBB\xBFDate;CallsOffered;Note\r\n2024-09-30;478;\"two\r\nlines\"\r\n2024-09-29;321;x\r\n2024-09-28;1\r\n", "f").unwrap();
        assert_eq!(t.headers, vec!["Date", "CallsOffered", "Note"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][2].as_deref(), Some("two\r\nlines"));
        assert_eq!(t.ragged, vec![(4, 2)]);
    }

    fn stream_error(bytes: Vec<u8>) -> String {
        match open(std::io::Cursor::new(bytes), "calls.csv") {
            Err(e) => e.to_string(),
            Ok(rows) => rows
                .filter_map(Result::err)
                .map(|e| e.to_string())
                .next()
                .unwrap_or_else(|| "no error".into()),
        }
    }

    #[test]
    fn a_file_wider_than_the_limit_is_refused_at_its_header() {
        let header: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
        let mut csv = header.join(",") + "\n";
        for _ in 0..5 {
            csv += &vec!["1"; 10_000].join(",");
            csv += "\n";
        }
        let e = stream_error(csv.into_bytes());
        assert!(
            e.contains("10000 columns") && e.contains("at most 1024"),
            "{e}"
        );
        let header: Vec<String> = (0..MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let t = read(
            format!(
                "{}\n{}\n",
                header.join(","),
                vec!["1"; MAX_COLUMNS].join(",")
            )
            .as_bytes(),
            "f",
        )
        .unwrap();
        assert_eq!(t.headers.len(), MAX_COLUMNS);
        assert_eq!(
            snake_case_names(&vec!["x".to_string(); 3]),
            vec!["x", "x_2", "x_3"]
        );
    }

    /// A quote never closed merges the lines after it into one field: refused with its line.
    #[test]
    fn a_quote_never_closed_is_refused_with_its_line() {
        let mut csv =
            String::from("call_id,notes\nC1,fine\nC2,\"starts a note and never closes it\n");
        for i in 3..1003 {
            csv.push_str(&format!("C{i},an ordinary row\n"));
        }
        let e = stream_error(csv.into_bytes());
        assert!(
            e.starts_with("calls.csv: row 3, starting at line 3: a quoted field runs over"),
            "{e}"
        );
        // A note of a few lines is a note.
        let t = read(
            b"call_id,notes\nC1,\"line one\nline two\nline three\"\nC2,x\n".as_slice(),
            "f",
        )
        .unwrap();
        assert_eq!(t.rows.len(), 2);
        // A quote opened fewer lines than that before the end of the file is refused too: the
        // reader would end the field at the end of the file without a word.
        let mut near_end = String::from("call_id,notes\nC1,fine\n");
        near_end.push_str("C2,\"opens here\n");
        for i in 3..13 {
            near_end.push_str(&format!("C{i},an ordinary row\n"));
        }
        let e = stream_error(near_end.into_bytes());
        assert!(e.starts_with("calls.csv: row 3, starting at line 3: a quoted field is never closed before the end of the file"), "{e}");
        // Escaped quotes, quotes inside unquoted fields, a closing quote as the last byte, CRLF
        // endings and other delimiters are not open quotes.
        for (ok, rows) in [
            (
                "id,notes\r\n1,\"she said \"\"hi\"\"\"\r\n2,5\" screen\r\n3,\"multi\r\nline\"",
                3,
            ),
            ("id;notes\n1;\"a;b\"\n2;x\"y\n3;\"\"", 3),
            ("id,notes\n1,\"\"\"quoted\"\"\"\n", 1),
        ] {
            let t = read(ok.as_bytes(), "f").unwrap_or_else(|e| panic!("{ok:?}: {e}"));
            assert_eq!(t.rows.len(), rows, "{ok:?}");
        }
    }

    #[test]
    fn the_quote_scan_agrees_with_the_reader_over_any_chunking() {
        let text = b"id,notes\n1,\"a\"\"b\nc\"\n2,plain\"quote\n3,\"open";
        for chunk in 1..text.len() {
            let mut q = QuoteState::new(b',');
            for part in text.chunks(chunk) {
                q.scan(part);
            }
            assert!(q.open_at_end(), "chunks of {chunk}");
        }
        let mut closed = QuoteState::new(b',');
        closed.scan(&text[..text.len() - 5]);
        assert!(!closed.open_at_end());
    }

    /// One endless line, or a quote never closed, is refused as it streams; the error quotes none of it.
    #[test]
    fn records_longer_than_the_limit_are_refused_without_quoting_them() {
        let mut one_line = b"date,notes\n2024-09-30,".to_vec();
        one_line.extend(std::iter::repeat_n(
            b'7',
            (MAX_RECORD_BYTES + (1 << 20)) as usize,
        ));
        let e = stream_error(one_line);
        assert!(
            e.starts_with("calls.csv: row 2: a record runs past 16 MiB"),
            "{e}"
        );
        assert!(e.len() < 300, "{e}");

        let mut open_quote = b"date,notes\n2024-09-30,\"he said\n".to_vec();
        for _ in 0..(MAX_RECORD_BYTES / 16) {
            open_quote.extend_from_slice(b"2024-09-29,fine\r\n\n");
        }
        let e = stream_error(open_quote);
        assert!(
            e.contains("row 2: a record runs past 16 MiB") && e.contains("never closed"),
            "{e}"
        );

        let mut header = vec![b'h'; (MAX_RECORD_BYTES + 1) as usize];
        header.extend_from_slice(b"\n1\n");
        let e = stream_error(header);
        assert!(
            e.starts_with("calls.csv: cannot read the header line: a record runs past"),
            "{e}"
        );
    }

    #[test]
    fn messages_list_a_few_names_cut_short_and_masked() {
        let names: Vec<String> = (0..40).map(|i| format!("col{i}")).collect();
        let list = name_list(&names);
        assert!(list.ends_with("col11, and 28 more"), "{list}");
        assert_eq!(excerpt(&"y".repeat(100)), format!("{}…", "y".repeat(32)));
        assert!(!excerpt("jane.doe@example.com").contains("jane.doe"));
    }

    #[test]
    fn latin1_is_read_with_a_warning_and_empty_input_is_an_error() {
        let t = read(b"name,city\nJos\xe9,Montr\xe9al\n", "f").unwrap();
        assert_eq!(t.rows[0][0].as_deref(), Some("José"));
        assert_eq!(t.warnings.len(), 1);
        assert!(read(b"", "f").unwrap_err().to_string().contains("empty"));
        assert!(
            read(b"a,b\n", "f")
                .unwrap_err()
                .to_string()
                .contains("no data rows")
        );
    }
}

#[cfg(test)]
mod parquet_tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Float64Array};
    use datafusion::parquet::arrow::ArrowWriter;

    #[test]
    fn parquet_inputs_read_as_text_with_nulls_kept() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("Date", DataType::Date32, false),
            Field::new("CallsOffered", DataType::Int64, true),
            Field::new("ServiceLevel", DataType::Float64, true),
            Field::new("Notes", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(vec![19996, 19997])),
                Arc::new(Int64Array::from(vec![Some(1198), None])),
                Arc::new(Float64Array::from(vec![Some(0.71), Some(0.5)])),
                Arc::new(StringArray::from(vec![None, Some("a;b")])),
            ],
        )
        .unwrap();
        let mut buf = Vec::new();
        let mut w = ArrowWriter::try_new(&mut buf, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        assert!(matches!(detect(&buf), Format::Parquet));
        let t = read(&buf, "m.parquet").unwrap();
        assert_eq!(
            t.headers,
            vec!["Date", "CallsOffered", "ServiceLevel", "Notes"]
        );
        assert_eq!(
            t.rows[0],
            vec![
                Some("2024-09-30".into()),
                Some("1198".into()),
                Some("0.71".into()),
                None
            ]
        );
        assert_eq!(t.rows[1][1], None);
        assert_eq!(t.source_rows, vec![1, 2]);
        assert!(
            read(b"PAR1 not really", "x.parquet")
                .unwrap_err()
                .to_string()
                .contains("x.parquet: not a readable Parquet file")
        );
    }
}
