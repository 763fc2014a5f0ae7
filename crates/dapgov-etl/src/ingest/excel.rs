//! Excel workbooks (`.xlsx`, legacy `.xls`), first sheet only, read within documented limits.
//!
//! A workbook is a container whose parts declare their own sizes and extents, and the parser
//! believes them: a single cell at a far corner, a claimed shared-string count or a deflate
//! bomb would make it allocate gigabytes or abort. So each container is checked before the
//! parser sees it (what its parts really decompress to; the extents its records claim), and
//! `.xlsx` cells are streamed one by one instead of into a rectangle spanning the sheet.

use super::{Format, MAX_COLUMNS, Record, Rows};
use crate::EtlError;
use calamine::{Data, Reader};
use std::io::{Cursor, Read};

/// What a workbook's parts may decompress to, together.
pub const MAX_WORKBOOK_BYTES: u64 = 512 << 20;
/// Non-empty cells read from one sheet (a million rows of eight columns).
pub const MAX_SHEET_CELLS: u64 = 8 << 20;
/// Rows × columns a sheet may span: the rectangle a parser or this reader materialises.
const MAX_SHEET_AREA: u64 = 2 * MAX_SHEET_CELLS;
/// Excel's own limit on the text in one cell.
pub const MAX_CELL_CHARS: usize = 32_767;

fn too_large(origin: &str, what: String) -> EtlError {
    EtlError::input(
        origin,
        format!(
            "{what}; a workbook is read whole, so dapgov reads at most {} MiB decompressed, {MAX_SHEET_CELLS} cells and {MAX_COLUMNS} columns per sheet: deliver larger data as CSV or Parquet, which stream",
            MAX_WORKBOOK_BYTES >> 20
        ),
    )
}

pub(super) fn open(bytes: &[u8], origin: &str, legacy: bool) -> Result<Rows, EtlError> {
    let (sheet, cells) = if legacy {
        read_xls(bytes, origin)?
    } else {
        read_xlsx(bytes, origin)?
    };
    let mut records = records_from_cells(cells, &sheet, origin)?.into_iter();
    let headers = match records.next() {
        Some(h) => h
            .fields
            .iter()
            .map(|f| f.unwrap_or_default().to_string())
            .collect(),
        None => {
            return Err(EtlError::input(
                origin,
                format!("sheet {sheet}: the first sheet is empty"),
            ));
        }
    };
    Ok(Rows::new(
        headers,
        if legacy { Format::Xls } else { Format::Xlsx },
        origin,
        Default::default(),
        records.map(Ok),
    ))
}

/// A cell as text. Whole numbers come back as Float from .xlsx and Int from .xls: both are
/// written as integers.
fn cell_text(d: &Data) -> Option<String> {
    match d {
        Data::Empty => None,
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::DateTime(dt) => {
            // Excel serial days since 1899-12-30.
            let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                .expect("valid date")
                .and_hms_opt(0, 0, 0)
                .expect("valid time");
            let millis = (dt.as_f64() * 86_400_000.0).round();
            let d = chrono::Duration::try_milliseconds(millis as i64)
                .and_then(|m| base.checked_add_signed(m))?;
            Some(if d.time() == chrono::NaiveTime::MIN {
                d.date().to_string()
            } else {
                d.to_string()
            })
        }
        other => Some(other.to_string()),
    }
}

/// `(0, 0)` → `A1`, for errors that name a cell.
fn cell_ref(row: u32, col: u32) -> String {
    let mut letters = String::new();
    let mut c = col + 1;
    while c > 0 {
        let r = (c - 1) % 26;
        letters.insert(0, (b'A' + r as u8) as char);
        c = (c - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

struct Cells {
    /// (row, column, text), 0-based sheet positions, non-empty cells only.
    cells: Vec<(u32, u32, String)>,
}

impl Cells {
    fn push(
        &mut self,
        row: u32,
        col: u32,
        value: &Data,
        sheet: &str,
        origin: &str,
    ) -> Result<(), EtlError> {
        let Some(text) = cell_text(value) else {
            return Ok(());
        };
        if col as usize >= MAX_COLUMNS {
            return Err(too_large(
                origin,
                format!(
                    "sheet {sheet}: cell {} is in column {}",
                    cell_ref(row, col),
                    col + 1
                ),
            ));
        }
        if text.chars().count() > MAX_CELL_CHARS {
            return Err(EtlError::input(
                origin,
                format!(
                    "sheet {sheet}: cell {} holds more than Excel's {MAX_CELL_CHARS} characters",
                    cell_ref(row, col)
                ),
            ));
        }
        if self.cells.len() as u64 >= MAX_SHEET_CELLS {
            return Err(too_large(
                origin,
                format!("sheet {sheet}: more than {MAX_SHEET_CELLS} cells"),
            ));
        }
        self.cells.push((row, col, text));
        Ok(())
    }
}

/// One record per sheet row that holds anything, numbered as the sheet numbers its rows; the
/// first such row is the header. Columns start at the leftmost column used.
fn records_from_cells(
    mut cells: Cells,
    sheet: &str,
    origin: &str,
) -> Result<Vec<Record>, EtlError> {
    cells.cells.sort_unstable_by_key(|(r, c, _)| (*r, *c));
    let Some(first_col) = cells.cells.iter().map(|(_, c, _)| *c).min() else {
        return Ok(vec![]);
    };
    let width = cells
        .cells
        .iter()
        .map(|(_, c, _)| *c)
        .max()
        .unwrap_or(first_col)
        - first_col
        + 1;
    // Sorted, so each row's cells are adjacent.
    let rows = 1 + cells.cells.windows(2).filter(|w| w[0].0 != w[1].0).count() as u64;
    // Rows are materialised whole (every column of the used width), so the rectangle counts.
    if rows.saturating_mul(u64::from(width)) > MAX_SHEET_AREA {
        return Err(too_large(
            origin,
            format!("sheet {sheet}: {rows} rows × {width} columns"),
        ));
    }
    let mut out: Vec<(i64, Vec<Option<String>>)> = Vec::with_capacity(rows as usize);
    for (row, col, text) in cells.cells {
        if out.last().is_none_or(|r| r.0 != i64::from(row) + 1) {
            out.push((i64::from(row) + 1, vec![None; width as usize]));
        }
        let record = out.last_mut().expect("a record for this row");
        record.1[(col - first_col) as usize] = Some(text);
    }
    Ok(out
        .into_iter()
        .map(|(source_row, fields)| Record {
            fields: fields.into_iter().collect(),
            source_row,
            ragged: None,
        })
        .collect())
}

/// The decompressed size of every part, measured (a part's declared size can lie), and the
/// shared-string count the parser reserves room for, checked against what the part can hold.
fn check_xlsx_container(bytes: &[u8], origin: &str) -> Result<(), EtlError> {
    let bad = |e: &dyn std::fmt::Display| {
        EtlError::input(origin, format!("not a readable .xlsx workbook: {e}"))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| bad(&e))?;
        let name = part.name().map_err(|e| bad(&e))?.to_string();
        let budget = MAX_WORKBOOK_BYTES - total;
        let mut head = Vec::new();
        let is_strings = name.ends_with("sharedStrings.xml");
        if is_strings {
            (&mut part)
                .take(4096)
                .read_to_end(&mut head)
                .map_err(|e| bad(&format!("{name}: {e}")))?;
        }
        let rest = std::io::copy(
            &mut (&mut part).take(budget + 1 - head.len() as u64),
            &mut std::io::sink(),
        )
        .map_err(|e| bad(&format!("{name}: {e}")))?;
        let size = head.len() as u64 + rest;
        total += size;
        if total > MAX_WORKBOOK_BYTES {
            return Err(too_large(
                origin,
                format!(
                    "part {name} takes the workbook past {} MiB decompressed",
                    MAX_WORKBOOK_BYTES >> 20
                ),
            ));
        }
        if is_strings {
            // Each `<si>...</si>` takes at least 9 bytes.
            if let Some(claimed) = attribute(&head, b"uniqueCount=\"")
                && claimed > size / 9 + 1
            {
                return Err(EtlError::input(
                    origin,
                    format!(
                        "not a readable .xlsx workbook: {name} claims {claimed} strings in {size} bytes"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn attribute(xml: &[u8], key: &[u8]) -> Option<u64> {
    let at = xml.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = xml[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits)
        .ok()?
        .parse()
        .ok()
        .or(Some(u64::MAX))
}

fn read_xlsx(bytes: &[u8], origin: &str) -> Result<(String, Cells), EtlError> {
    check_xlsx_container(bytes, origin)?;
    let bad = |e: &dyn std::fmt::Display| {
        EtlError::input(origin, format!("not a readable .xlsx workbook: {e}"))
    };
    let mut wb: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| EtlError::input(origin, "the workbook has no sheets"))?;
    let mut reader = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|e| EtlError::input(origin, format!("sheet {sheet}: {e}")))?;
    let mut cells = Cells { cells: vec![] };
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| EtlError::input(origin, format!("sheet {sheet}: {e}")))?
    {
        let (row, col) = cell.get_position();
        cells.push(
            row,
            col,
            &Data::from(cell.get_value().clone()),
            &sheet,
            origin,
        )?;
    }
    Ok((sheet, cells))
}

/// The extents a legacy workbook's records claim, checked before the parser sizes its sheets
/// from them: the dimensions record of each sheet and the position of every cell record.
fn check_xls_container(bytes: &[u8], origin: &str) -> Result<(), EtlError> {
    let bad = |e: &dyn std::fmt::Display| {
        EtlError::input(origin, format!("not a readable .xls workbook: {e}"))
    };
    let mut cfb = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let name = if cfb.is_stream("/Workbook") {
        "/Workbook"
    } else {
        "/Book"
    };
    let mut stream = Vec::new();
    cfb.open_stream(name)
        .map_err(|e| bad(&e))?
        .take(MAX_WORKBOOK_BYTES + 1)
        .read_to_end(&mut stream)
        .map_err(|e| bad(&e))?;
    if stream.len() as u64 > MAX_WORKBOOK_BYTES {
        return Err(too_large(
            origin,
            format!(
                "the workbook stream is over {} MiB",
                MAX_WORKBOOK_BYTES >> 20
            ),
        ));
    }
    let mut sheet_starts = vec![0usize];
    let mut scanned = std::collections::BTreeSet::new();
    while let Some(start) = sheet_starts.pop() {
        if start < stream.len() && scanned.insert(start) {
            check_xls_records(&stream[start..], origin, &mut sheet_starts)?;
        }
    }
    Ok(())
}

/// The rows and columns a DIMENSIONS record makes the parser reserve, as it reads them
/// (`calamine`'s `parse_dimensions`: a first column past 255 or past the last counts from 0);
/// `u64::MAX` rows when the last row is before the first, which it cannot size.
fn declared_dimensions(data: &[u8]) -> Option<(u64, u64)> {
    let u16_at = |i: usize| {
        data.get(i..i + 2)
            .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |i: usize| {
        data.get(i..i + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let (first_row, last_row, mut first_col, last_col) = match data.len() {
        10 => (u16_at(0)?, u16_at(2)?, u16_at(4)?, u16_at(6)?),
        14 | 16 => (u32_at(0)?, u32_at(4)?, u16_at(8)?, u16_at(10)?),
        _ => return None,
    };
    if first_col > 0xFF || last_col < first_col {
        first_col = 0;
    }
    if last_row == 0 || last_col == 0 {
        return Some((1, 1));
    }
    let rows = (last_row - 1)
        .checked_sub(first_row)
        .map_or(u64::MAX, |r| r + 1);
    let cols = (last_col - 1)
        .checked_sub(first_col)
        .map_or(u64::MAX, |c| c + 1);
    Some((rows, cols))
}

/// The records of a workbook stream from one place on (the start, or where a sheet says it
/// starts), as the parser reads them from there; sheet starts found are added to `starts`.
fn check_xls_records(
    stream: &[u8],
    origin: &str,
    sheet_starts: &mut Vec<usize>,
) -> Result<(), EtlError> {
    let u16_at = |d: &[u8], i: usize| {
        d.get(i..i + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |d: &[u8], i: usize| {
        d.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Every sheet's rectangle is allocated when the workbook opens, so they count together.
    let mut area = 0u64;
    let mut sheet: Option<(u32, u32, u32, u32)> = None;
    let close =
        |sheet: &mut Option<(u32, u32, u32, u32)>, area: &mut u64| -> Result<(), EtlError> {
            if let Some((r0, r1, c0, c1)) = sheet.take() {
                *area += u64::from(r1 - r0 + 1) * u64::from(c1 - c0 + 1);
                if *area > MAX_SHEET_AREA {
                    return Err(too_large(
                        origin,
                        format!(
                            "its sheets span {area} cells (rows {}..{}, columns {}..{} in one)",
                            r0 + 1,
                            r1 + 1,
                            c0 + 1,
                            c1 + 1
                        ),
                    ));
                }
            }
            Ok(())
        };
    let mut at = 0usize;
    while at + 4 <= stream.len() {
        let typ = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let data = &stream[at + 4..(at + 4 + len).min(stream.len())];
        at += 4 + len;
        let mut extend = |row: u32, col: u32| {
            let s = sheet.get_or_insert((row, row, col, col));
            *s = (s.0.min(row), s.1.max(row), s.2.min(col), s.3.max(col));
        };
        match typ {
            // BOF, EOF: a substream begins or ends.
            0x0809 | 0x000A => close(&mut sheet, &mut area)?,
            // DIMENSIONS: the parser reserves rows × columns from it.
            0x0200 => {
                if let Some((rows, cols)) = declared_dimensions(data)
                    && rows.saturating_mul(cols) > MAX_SHEET_AREA
                {
                    return Err(too_large(
                        origin,
                        format!("a sheet declares {rows} rows × {cols} columns"),
                    ));
                }
            }
            // BoundSheet8: where a sheet's records start; the parser reads from there, so
            // they are checked from there too (an edited position can land mid-record).
            0x0085 => {
                if let Some(pos) = u32_at(data, 0) {
                    sheet_starts.push(pos as usize);
                }
            }
            // Cell records: row, then column.
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                if let (Some(row), Some(col)) = (u16_at(data, 0), u16_at(data, 2)) {
                    extend(row, col);
                }
            }
            // MULRK: row, first column, ..., last column.
            0x00BD if data.len() >= 6 => {
                if let (Some(row), Some(first), Some(last)) = (
                    u16_at(data, 0),
                    u16_at(data, 2),
                    u16_at(data, data.len() - 2),
                ) {
                    extend(row, first);
                    extend(row, last.max(first));
                }
            }
            _ => {}
        }
    }
    close(&mut sheet, &mut area)
}

fn read_xls(bytes: &[u8], origin: &str) -> Result<(String, Cells), EtlError> {
    check_xls_container(bytes, origin)?;
    let mut wb: calamine::Xls<_> = calamine::Xls::new(Cursor::new(bytes))
        .map_err(|e| EtlError::input(origin, format!("not a readable .xls workbook: {e}")))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| EtlError::input(origin, "the workbook has no sheets"))?;
    let range = wb
        .worksheet_range(&sheet)
        .map_err(|e| EtlError::input(origin, format!("sheet {sheet}: {e}")))?;
    let mut cells = Cells { cells: vec![] };
    for (row, col, value) in range.used_cells() {
        let (r0, c0) = range.start().unwrap_or((0, 0));
        cells.push(r0 + row as u32, c0 + col as u32, value, &sheet, origin)?;
    }
    Ok((sheet, cells))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A minimal workbook around one sheet's XML (and shared strings, when given).
    fn xlsx(sheet: &[&[u8]], shared_strings: Option<&str>) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflate = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut part = |name: &str, chunks: &[&[u8]]| {
            zip.start_file(name, deflate).unwrap();
            for c in chunks {
                zip.write_all(c).unwrap();
            }
        };
        part("[Content_Types].xml", &[br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>"#]);
        part("_rels/.rels", &[br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#]);
        part("xl/workbook.xml", &[br#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Calls" sheetId="1" r:id="rId1"/></sheets></workbook>"#]);
        part("xl/_rels/workbook.xml.rels", &[br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#]);
        if let Some(sst) = shared_strings {
            part("xl/sharedStrings.xml", &[sst.as_bytes()]);
        }
        let mut chunks: Vec<&[u8]> = vec![br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#];
        chunks.extend_from_slice(sheet);
        chunks.push(b"</worksheet>");
        part("xl/worksheets/sheet1.xml", &chunks);
        zip.finish().unwrap().into_inner()
    }

    fn read(bytes: &[u8]) -> Result<Vec<Record>, EtlError> {
        let rows = super::super::open(Cursor::new(bytes.to_vec()), "calls.xlsx")?;
        rows.collect()
    }

    fn err(bytes: &[u8]) -> String {
        read(bytes)
            .map(|r| format!("read {} records", r.len()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no error".into())
    }

    #[test]
    fn a_small_sheet_reads_by_its_own_row_numbers() {
        let book = xlsx(&[br#"<sheetData><row r="2"><c r="B2" t="inlineStr"><is><t>date</t></is></c><c r="C2" t="s"><v>0</v></c></row><row r="4"><c r="B4" t="inlineStr"><is><t>2024-09-30</t></is></c><c r="C4"><v>478</v></c></row></sheetData>"#], Some(r#"<sst uniqueCount="1"><si><t>calls</t></si></sst>"#));
        let rows = super::super::open(Cursor::new(book), "calls.xlsx").unwrap();
        assert_eq!(rows.headers, vec!["date", "calls"]);
        let records: Vec<Record> = rows.collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].source_row, 4);
        assert_eq!(
            records[0].fields.to_vec(),
            vec![Some("2024-09-30".into()), Some("478".into())]
        );
    }

    /// One cell at the sheet's far corner used to size a rectangle of 17 billion cells.
    #[test]
    fn a_cell_at_the_far_corner_is_refused_by_name_without_allocating_the_sheet() {
        let book = xlsx(&[br#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>date</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#], None);
        assert!(
            book.len() < 2048,
            "the hostile file is small: {} bytes",
            book.len()
        );
        let e = err(&book);
        assert!(
            e.contains("sheet Calls: cell XFD1048576 is in column 16384")
                && e.contains("1024 columns"),
            "{e}"
        );
        // Far down but within the columns: rows that hold nothing cost nothing.
        let tall = xlsx(&[br#"<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row><row r="1048576"><c r="A1048576"><v>7</v></c></row></sheetData>"#], None);
        let records = read(&tall).unwrap();
        assert_eq!((records.len(), records[0].source_row), (1, 1_048_576));
        // Wide and tall together: every row would be materialised at the full width.
        let mut rows = String::from(
            r#"<sheetData><row r="1"><c r="A1"><v>1</v></c><c r="AMJ1"><v>1</v></c></row>"#,
        );
        for r in 2..=20_000 {
            rows.push_str(&format!(r#"<row r="{r}"><c r="A{r}"><v>1</v></c></row>"#));
        }
        rows.push_str("</sheetData>");
        let e = err(&xlsx(&[rows.as_bytes()], None));
        assert!(e.contains("20000 rows × 1024 columns"), "{e}");
    }

    #[test]
    fn a_huge_cell_a_false_string_count_and_a_deflate_bomb_are_refused() {
        let long = "x".repeat(MAX_CELL_CHARS + 1);
        let e = err(&xlsx(&[format!(r#"<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>{long}</t></is></c></row></sheetData>"#).as_bytes()], None));
        assert!(
            e.contains("cell A1 holds more than Excel's 32767 characters"),
            "{e}"
        );

        let e = err(&xlsx(
            &[b"<sheetData/>"],
            Some(r#"<sst count="4000000000" uniqueCount="4000000000"><si><t>a</t></si></sst>"#),
        ));
        assert!(e.contains("claims 4000000000 strings"), "{e}");

        // 520 MiB of one repeated byte deflates to well under a megabyte.
        let block = vec![b'7'; 1 << 20];
        let mut sheet: Vec<&[u8]> = vec![br#"<sheetData><row r="1"><c r="A1"><v>"#];
        sheet.extend(std::iter::repeat_n(block.as_slice(), 520));
        sheet.push(b"</v></c></row></sheetData>");
        let bomb = xlsx(&sheet, None);
        assert!(bomb.len() < 4 << 20, "{} bytes", bomb.len());
        let e = err(&bomb);
        assert!(e.contains("past 512 MiB decompressed"), "{e}");
        assert!(e.len() < 400, "the error quotes no data: {e}");
    }

    /// A legacy workbook's compound file holding one BIFF stream made of `records`.
    fn xls(records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut stream = Vec::new();
        for (typ, data) in records {
            stream.extend_from_slice(&typ.to_le_bytes());
            stream.extend_from_slice(&(data.len() as u16).to_le_bytes());
            stream.extend_from_slice(data);
        }
        let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
        cfb.create_stream("/Workbook")
            .unwrap()
            .write_all(&stream)
            .unwrap();
        cfb.flush().unwrap();
        cfb.into_inner().into_inner()
    }

    fn number(row: u16, col: u16) -> (u16, Vec<u8>) {
        let mut d = Vec::new();
        d.extend_from_slice(&row.to_le_bytes());
        d.extend_from_slice(&col.to_le_bytes());
        d.extend_from_slice(&0u16.to_le_bytes());
        d.extend_from_slice(&1f64.to_le_bytes());
        (0x0203, d)
    }

    #[test]
    fn legacy_workbooks_that_claim_vast_sheets_are_refused_before_parsing() {
        let bof = (0x0809, vec![0, 6, 0x10, 0, 0, 0, 0, 0]);
        let eof = (0x000A, vec![]);
        let mut dims = Vec::new();
        dims.extend_from_slice(&0u32.to_le_bytes());
        dims.extend_from_slice(&u32::MAX.to_le_bytes());
        dims.extend_from_slice(&0u16.to_le_bytes());
        dims.extend_from_slice(&u16::MAX.to_le_bytes());
        dims.extend_from_slice(&0u16.to_le_bytes());
        let e = check_xls_container(
            &xls(&[bof.clone(), (0x0200, dims), eof.clone()]),
            "calls.xls",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("declares 4294967295 rows × 65535 columns"),
            "{e}"
        );
        let e = check_xls_container(
            &xls(&[
                bof.clone(),
                number(0, 0),
                number(65_535, 65_535),
                eof.clone(),
            ]),
            "calls.xls",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("span 4294967296 cells"), "{e}");
        check_xls_container(
            &xls(&[bof, number(0, 0), number(5_000, 6), eof]),
            "calls.xls",
        )
        .unwrap();
    }

    #[test]
    fn cells_are_named_as_excel_names_them() {
        assert_eq!(cell_ref(0, 0), "A1");
        assert_eq!(cell_ref(9, 25), "Z10");
        assert_eq!(cell_ref(0, 26), "AA1");
        assert_eq!(cell_ref(1_048_575, 16_383), "XFD1048576");
    }
}
