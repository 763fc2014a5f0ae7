//! Reading an input file into string columns: CSV (delimiter sniffed, BOM, CRLF, quoted
//! newlines, Latin-1 fallback), Excel (`.xlsx`, legacy `.xls`) and Parquet.

use crate::EtlError;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::io::Read;
use std::sync::{Arc, Mutex};

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
    pub fields: Vec<Option<String>>,
    /// 1-based; for CSV and Excel the header is row 1, so quoted newlines do not shift it.
    pub source_row: i64,
    /// The record as written, kept for rows whose field count differs from the header's.
    pub ragged: Option<String>,
}

/// An input read record by record, so a file of any size is read in bounded memory.
pub struct Rows {
    pub headers: Vec<String>,
    pub format: Format,
    warnings: Arc<Mutex<Vec<String>>>,
    records: Box<dyn Iterator<Item = Result<Record, EtlError>> + Send>,
}

impl Rows {
    /// What was noticed so far (an encoding fallback, for instance).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().expect("warnings lock").clone()
    }
}

impl Iterator for Rows {
    type Item = Result<Record, EtlError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.records.next()
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
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => {
            if !*warned {
                *warned = true;
                warnings.lock().expect("warnings lock").push(format!(
                    "row {row}: not valid UTF-8; values that are not UTF-8 were read as Latin-1 (Windows-1252)"
                ));
            }
            encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()
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
            let steady = lines.iter().skip(1).filter(|l| l.bytes().filter(|b| b == d).count() == n).count();
            (n > 0, steady, n)
        })
        .unwrap_or(b',')
}

/// How much of the start of a CSV file the delimiter is sniffed from.
const SNIFF_BYTES: u64 = 64 * 1024;

/// Open any supported input, recognised by its content rather than its name. CSV and Parquet
/// are read as they stream; an Excel workbook is read whole (a sheet holds at most 1,048,576 rows).
pub fn open<R: Read + Send + 'static>(mut input: R, origin: &str) -> Result<Rows, EtlError> {
    let io = |e: std::io::Error| EtlError::input(origin, format!("cannot read: {e}"));
    let mut head = Vec::new();
    (&mut input).take(SNIFF_BYTES).read_to_end(&mut head).map_err(io)?;
    let format = detect(&head);
    let input = std::io::Cursor::new(head).chain(input);
    match format {
        Format::Csv => open_csv(input, origin),
        Format::Parquet => open_parquet(input, origin),
        Format::Xlsx | Format::Xls => {
            let mut bytes = Vec::new();
            let mut input = input;
            input.read_to_end(&mut bytes).map_err(io)?;
            open_excel(&bytes, origin, matches!(format, Format::Xls))
        }
    }
}

/// Read any supported input whole.
pub fn read(bytes: &[u8], origin: &str) -> Result<Table, EtlError> {
    let mut rows = open(std::io::Cursor::new(bytes.to_vec()), origin)?;
    let mut t = Table { headers: rows.headers.clone(), rows: vec![], source_rows: vec![], ragged: vec![], warnings: vec![] };
    for r in &mut rows {
        let r = r?;
        if r.ragged.is_some() {
            t.ragged.push((r.source_row, r.fields.len()));
        } else {
            t.rows.push(r.fields);
            t.source_rows.push(r.source_row);
        }
    }
    t.warnings = rows.warnings();
    if t.rows.is_empty() && t.ragged.is_empty() {
        return Err(EtlError::input(origin, "the file has a header but no data rows"));
    }
    Ok(t)
}

fn open_csv<R: Read + Send + 'static>(input: std::io::Chain<std::io::Cursor<Vec<u8>>, R>, origin: &str) -> Result<Rows, EtlError> {
    let head = input.get_ref().0.get_ref();
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(EtlError::input(origin, "the file is empty; expected a header line and data rows"));
    }
    let delimiter = sniff_delimiter(&String::from_utf8_lossy(head));
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let mut warned = false;
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Err(EtlError::input(origin, "the file is empty; expected a header line and data rows")),
        Err(e) => return Err(EtlError::input(origin, format!("cannot read the header line: {e}"))),
    }
    let headers: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 { f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f) } else { f };
            decode(f, 1, &warnings, &mut warned)
        })
        .collect();
    let width = headers.len();
    let origin = origin.to_string();
    let shared = warnings.clone();
    let mut row = 1i64;
    let records = std::iter::from_fn(move || {
        loop {
            row += 1;
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => return None,
                Err(e) => return Some(Err(EtlError::input(&origin, format!("row {row}: {e}")))),
                Ok(true) => {}
            }
            if rec.len() == 1 && rec[0].is_empty() {
                continue;
            }
            let fields: Vec<Option<String>> = rec.iter().map(|f| Some(decode(f, row, &shared, &mut warned))).collect();
            let ragged = (fields.len() != width).then(|| {
                let mut w = csv::WriterBuilder::new().delimiter(delimiter).terminator(csv::Terminator::Any(b'\n')).from_writer(vec![]);
                let text = w.write_record(fields.iter().map(|f| f.as_deref().unwrap_or_default())).and_then(|_| w.into_inner().map_err(|e| e.into_error().into()));
                String::from_utf8_lossy(&text.unwrap_or_default()).trim_end_matches('\n').to_string()
            });
            return Some(Ok(Record { fields, source_row: row, ragged }));
        }
    });
    Ok(Rows { headers, format: Format::Csv, warnings, records: Box::new(records) })
}

/// Parquet values as text, so every format goes through the same typing and rules. The input
/// is spooled to a temporary file because Parquet keeps its schema at the end.
fn open_parquet<R: Read>(mut input: R, origin: &str) -> Result<Rows, EtlError> {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::compute::cast;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: &dyn std::fmt::Display| EtlError::input(origin, format!("not a readable Parquet file: {e}"));
    let mut spool = tempfile::tempfile().map_err(|e| EtlError::Engine(format!("cannot create a temporary file: {e}")))?;
    std::io::copy(&mut input, &mut spool).map_err(|e| EtlError::input(origin, format!("cannot read: {e}")))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(spool).map_err(|e| bad(&e))?;
    if builder.metadata().file_metadata().num_rows() == 0 {
        return Err(EtlError::input(origin, "the Parquet file has no rows"));
    }
    let headers: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    let reader = builder.build().map_err(|e| bad(&e))?;
    let origin = origin.to_string();
    let mut next_row = 0i64;
    let records = reader.flat_map(move |batch| -> Box<dyn Iterator<Item = Result<Record, EtlError>> + Send> {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => return Box::new(std::iter::once(Err(EtlError::input(&origin, format!("not a readable Parquet file: {e}"))))),
        };
        let text: Result<Vec<ArrayRef>, EtlError> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(c, f)| cast(c, &DataType::Utf8).map_err(|e| EtlError::input(&origin, format!("column {}: cannot read {} values as text: {e}", f.name(), f.data_type()))))
            .collect();
        let text = match text {
            Ok(t) => t,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let first = next_row;
        next_row += batch.num_rows() as i64;
        Box::new((0..batch.num_rows()).map(move |i| {
            let fields = text.iter().map(|c| (!c.is_null(i)).then(|| c.as_any().downcast_ref::<StringArray>().map(|s| s.value(i).to_string()).unwrap_or_default())).collect();
            // Parquet has no header line; number records from 1.
            Ok(Record { fields, source_row: first + i as i64 + 1, ragged: None })
        }))
    });
    Ok(Rows { headers, format: Format::Parquet, warnings: Default::default(), records: Box::new(records) })
}

fn open_excel(bytes: &[u8], origin: &str, legacy: bool) -> Result<Rows, EtlError> {
    use calamine::{Data, Reader};
    let cursor = std::io::Cursor::new(bytes);
    let range = if legacy {
        let mut wb: calamine::Xls<_> = calamine::Xls::new(cursor).map_err(|e| EtlError::input(origin, format!("not a readable .xls workbook: {e}")))?;
        let first = wb.sheet_names().first().cloned().ok_or_else(|| EtlError::input(origin, "the workbook has no sheets"))?;
        wb.worksheet_range(&first).map_err(|e| EtlError::input(origin, format!("sheet {first}: {e}")))?
    } else {
        let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(cursor).map_err(|e| EtlError::input(origin, format!("not a readable .xlsx workbook: {e}")))?;
        let first = wb.sheet_names().first().cloned().ok_or_else(|| EtlError::input(origin, "the workbook has no sheets"))?;
        wb.worksheet_range(&first).map_err(|e| EtlError::input(origin, format!("sheet {first}: {e}")))?
    };
    let cell = |d: &Data| -> Option<String> {
        match d {
            Data::Empty => None,
            // Whole numbers come back as Float from .xlsx and Int from .xls: write both as integers.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
            Data::DateTime(dt) => {
                // Excel serial days since 1899-12-30.
                let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date").and_hms_opt(0, 0, 0).expect("valid time");
                let d = base + chrono::Duration::milliseconds((dt.as_f64() * 86_400_000.0).round() as i64);
                Some(if d.time() == chrono::NaiveTime::MIN { d.date().to_string() } else { d.to_string() })
            }
            other => Some(other.to_string()),
        }
    };
    let mut rows = range.rows();
    let headers: Vec<String> = rows.next().ok_or_else(|| EtlError::input(origin, "the first sheet is empty"))?.iter().map(|c| cell(c).unwrap_or_default()).collect();
    let records: Vec<Result<Record, EtlError>> = rows
        .enumerate()
        .filter_map(|(i, r)| {
            let fields: Vec<Option<String>> = r.iter().map(cell).collect();
            (!fields.iter().all(Option::is_none)).then(|| Ok(Record { fields, source_row: i as i64 + 2, ragged: None }))
        })
        .collect();
    Ok(Rows { headers, format: if legacy { Format::Xls } else { Format::Xlsx }, warnings: Default::default(), records: Box::new(records.into_iter()) })
}

/// Records as one Arrow batch: string columns named `names`, then `_source_row`, and for a
/// record whose field count differs from the header's, `_shape` (why it was set aside) and
/// `_record` (the record as written; its columns are left empty rather than guessed).
pub fn to_batch(names: &[String], records: &[Record]) -> Result<RecordBatch, EtlError> {
    let mut fields: Vec<Field> = names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect();
    fields.push(Field::new("_source_row", DataType::Int64, false));
    fields.push(Field::new("_shape", DataType::Utf8, true));
    fields.push(Field::new("_record", DataType::Utf8, true));
    let mut cols: Vec<ArrayRef> = (0..names.len())
        .map(|c| Arc::new(StringArray::from_iter(records.iter().map(|r| if r.ragged.is_some() { None } else { r.fields.get(c).and_then(|v| v.as_deref()) }))) as ArrayRef)
        .collect();
    cols.push(Arc::new(Int64Array::from_iter_values(records.iter().map(|r| r.source_row))));
    cols.push(Arc::new(StringArray::from_iter(
        records.iter().map(|r| r.ragged.as_ref().map(|_| format!("ragged row: {} fields where the header has {}", r.fields.len(), names.len()))),
    )));
    cols.push(Arc::new(StringArray::from_iter(records.iter().map(|r| r.ragged.as_deref()))));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| EtlError::Engine(e.to_string()))
}

/// `AverageSpeedofAnswer` → `average_speedof_answer`, `BI_ID` → `bi_id`; unique and non-empty.
pub fn snake_case_names(headers: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let chars: Vec<char> = h.trim().chars().collect();
        let mut s = String::new();
        for (j, &c) in chars.iter().enumerate() {
            if c.is_ascii_alphanumeric() {
                let prev = j.checked_sub(1).map(|k| chars[k]);
                let next = chars.get(j + 1);
                if c.is_ascii_uppercase()
                    && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit() || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase())))
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
        while out.contains(&s) {
            s = format!("{base}_{n}");
            n += 1;
        }
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_cases_city_headers() {
        let h: Vec<String> = ["\u{feff}Date", "CallsOffered", "AverageSpeedofAnswer", "BI_ID", "Call OK", "", "Date"].iter().map(|s| s.to_string()).collect();
        assert_eq!(snake_case_names(&h), vec!["date", "calls_offered", "average_speedof_answer", "bi_id", "call_ok", "column_6", "date_2"]);
    }

    #[test]
    fn reads_city_export_quirks() {
        let t = read(b"\xEF\xBB\xBFDate;CallsOffered;Note\r\n2024-09-30;478;\"two\r\nlines\"\r\n2024-09-29;321;x\r\n2024-09-28;1\r\n", "f").unwrap();
        assert_eq!(t.headers, vec!["Date", "CallsOffered", "Note"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][2].as_deref(), Some("two\r\nlines"));
        assert_eq!(t.ragged, vec![(4, 2)]);
    }

    #[test]
    fn latin1_is_read_with_a_warning_and_empty_input_is_an_error() {
        let t = read(b"name,city\nJos\xe9,Montr\xe9al\n", "f").unwrap();
        assert_eq!(t.rows[0][0].as_deref(), Some("José"));
        assert_eq!(t.warnings.len(), 1);
        assert!(read(b"", "f").unwrap_err().to_string().contains("empty"));
        assert!(read(b"a,b\n", "f").unwrap_err().to_string().contains("no data rows"));
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
        assert_eq!(t.headers, vec!["Date", "CallsOffered", "ServiceLevel", "Notes"]);
        assert_eq!(t.rows[0], vec![Some("2024-09-30".into()), Some("1198".into()), Some("0.71".into()), None]);
        assert_eq!(t.rows[1][1], None);
        assert_eq!(t.source_rows, vec![1, 2]);
        assert!(read(b"PAR1 not really", "x.parquet").unwrap_err().to_string().contains("x.parquet: not a readable Parquet file"));
    }
}
