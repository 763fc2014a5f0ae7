//! Reading an input file into string columns: CSV (delimiter sniffed, BOM, CRLF, quoted
//! newlines, Latin-1 fallback), Excel (`.xlsx`, legacy `.xls`) and Parquet.

use crate::EtlError;
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

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

#[derive(Debug)]
/// Source rows as text, with the header as written and the 1-based source row of each record.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub source_rows: Vec<i64>,
    /// Rows whose field count differs from the header's: (source row, fields found).
    pub ragged: Vec<(i64, usize)>,
    pub warnings: Vec<String>,
}

/// Decode text: UTF-8 (BOM stripped) or, failing that, Windows-1252/Latin-1 with a warning.
fn decode(bytes: &[u8], warnings: &mut Vec<String>) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(e) => {
            warnings.push(format!("input is not valid UTF-8 (first bad byte at offset {}); read as Latin-1 (Windows-1252)", e.valid_up_to()));
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

/// Read any supported input, recognised by its content rather than its name.
pub fn read(bytes: &[u8], origin: &str) -> Result<Table, EtlError> {
    match detect(bytes) {
        Format::Csv => read_csv(bytes, origin),
        Format::Xlsx => read_excel(bytes, origin, false),
        Format::Xls => read_excel(bytes, origin, true),
        Format::Parquet => read_parquet(bytes, origin),
    }
}

/// Parquet values as text, so every format goes through the same typing and rules.
pub fn read_parquet(bytes: &[u8], origin: &str) -> Result<Table, EtlError> {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::compute::cast;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let bad = |e: &dyn std::fmt::Display| EtlError::input(origin, format!("not a readable Parquet file: {e}"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes)).map_err(|e| bad(&e))?.build().map_err(|e| bad(&e))?;
    let mut t = Table { headers: vec![], rows: vec![], source_rows: vec![], ragged: vec![], warnings: vec![] };
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        if t.headers.is_empty() {
            t.headers = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        }
        let text: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(c, f)| cast(c, &DataType::Utf8).map_err(|e| EtlError::input(origin, format!("column {}: cannot read {} values as text: {e}", f.name(), f.data_type()))))
            .collect::<Result<_, _>>()?;
        for i in 0..batch.num_rows() {
            t.rows.push(text.iter().map(|c| (!c.is_null(i)).then(|| c.as_any().downcast_ref::<StringArray>().map(|s| s.value(i).to_string()).unwrap_or_default())).collect());
            // Parquet has no header line; number records from 1.
            t.source_rows.push(t.rows.len() as i64);
        }
    }
    if t.rows.is_empty() {
        return Err(EtlError::input(origin, "the Parquet file has no rows"));
    }
    Ok(t)
}

pub fn read_csv(bytes: &[u8], origin: &str) -> Result<Table, EtlError> {
    let mut warnings = vec![];
    let text = decode(bytes, &mut warnings);
    if text.trim().is_empty() {
        return Err(EtlError::input(origin, "the file is empty; expected a header line and data rows"));
    }
    let delimiter = sniff_delimiter(&text);
    let mut rdr = csv::ReaderBuilder::new().delimiter(delimiter).has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr.headers().map_err(|e| EtlError::input(origin, format!("cannot read the header line: {e}")))?.iter().map(str::to_string).collect();
    let mut t = Table { headers, rows: vec![], source_rows: vec![], ragged: vec![], warnings };
    for (i, rec) in rdr.records().enumerate() {
        // Source rows count records (the header is row 1), so quoted newlines do not shift them.
        let line = i as i64 + 2;
        let rec = rec.map_err(|e| EtlError::input(origin, format!("row {line}: {e}")))?;
        if rec.len() == 1 && rec.get(0) == Some("") {
            continue;
        }
        if rec.len() != t.headers.len() {
            t.ragged.push((line, rec.len()));
            continue;
        }
        t.rows.push(rec.iter().map(|s| Some(s.to_string())).collect());
        t.source_rows.push(line);
    }
    if t.rows.is_empty() && t.ragged.is_empty() {
        return Err(EtlError::input(origin, "the file has a header but no data rows"));
    }
    Ok(t)
}

pub fn read_excel(bytes: &[u8], origin: &str, legacy: bool) -> Result<Table, EtlError> {
    use calamine::{Data, Reader};
    let cursor = std::io::Cursor::new(bytes.to_vec());
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
    let mut t = Table { headers, rows: vec![], source_rows: vec![], ragged: vec![], warnings: vec![] };
    for (i, r) in rows.enumerate() {
        let vals: Vec<Option<String>> = r.iter().map(cell).collect();
        if vals.iter().all(Option::is_none) {
            continue;
        }
        t.rows.push(vals);
        t.source_rows.push(i as i64 + 2);
    }
    if t.rows.is_empty() {
        return Err(EtlError::input(origin, "the first sheet has a header but no data rows"));
    }
    Ok(t)
}

impl Table {
    /// As one Arrow batch of string columns named `names`, plus `_source_row`.
    pub fn to_batch(&self, names: &[String]) -> Result<RecordBatch, EtlError> {
        let mut fields: Vec<Field> = names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect();
        fields.push(Field::new("_source_row", DataType::Int64, false));
        let mut cols: Vec<ArrayRef> = (0..names.len())
            .map(|c| Arc::new(StringArray::from_iter(self.rows.iter().map(|r| r.get(c).cloned().flatten()))) as ArrayRef)
            .collect();
        cols.push(Arc::new(Int64Array::from(self.source_rows.clone())));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| EtlError::Engine(e.to_string()))
    }
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
        let t = read_csv(b"\xEF\xBB\xBFDate;CallsOffered;Note\r\n2024-09-30;478;\"two\r\nlines\"\r\n2024-09-29;321;x\r\n2024-09-28;1\r\n", "f").unwrap();
        assert_eq!(t.headers, vec!["Date", "CallsOffered", "Note"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0][2].as_deref(), Some("two\r\nlines"));
        assert_eq!(t.ragged, vec![(4, 2)]);
    }

    #[test]
    fn latin1_is_read_with_a_warning_and_empty_input_is_an_error() {
        let t = read_csv(b"name,city\nJos\xe9,Montr\xe9al\n", "f").unwrap();
        assert_eq!(t.rows[0][0].as_deref(), Some("José"));
        assert_eq!(t.warnings.len(), 1);
        assert!(read_csv(b"", "f").unwrap_err().to_string().contains("empty"));
        assert!(read_csv(b"a,b\n", "f").unwrap_err().to_string().contains("no data rows"));
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
