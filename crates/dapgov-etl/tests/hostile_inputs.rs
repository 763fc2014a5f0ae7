//! Property tests over the readers: whatever bytes arrive (random, or a valid file of each
//! format with bytes flipped, cut, inserted or repeated), reading ends in records or a clear
//! error, never a panic, an abort or an allocation beyond the documented limits.

use dapgov_etl::ingest;
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::LazyLock;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The first 60 lines of the City's export: `;`, BOM, CRLF.
static CITY_CSV: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let text =
        std::fs::read(repo("data/3-1-1-contact-centre-metrics.csv")).expect("the City's file");
    let end = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(59)
        .map(|(i, _)| i + 1)
        .unwrap_or(text.len());
    text[..end].to_vec()
});

static XLSX: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in String::from_utf8_lossy(&CITY_CSV)
        .lines()
        .take(30)
        .enumerate()
    {
        for (c, v) in line.trim_start_matches('\u{feff}').split(';').enumerate() {
            match v.parse::<f64>() {
                Ok(n) => sheet.write_number(r as u32, c as u16, n).map(|_| ()),
                Err(_) => sheet.write_string(r as u32, c as u16, v).map(|_| ()),
            }
            .expect("cell");
        }
    }
    book.save_to_buffer().expect("workbook")
});

static XLS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    std::fs::read(repo("tests/fixtures/call_center_raw.xls")).expect("the .xls fixture")
});

static PARQUET: LazyLock<Vec<u8>> = LazyLock::new(|| {
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("date", DataType::Utf8, false),
        Field::new("calls_offered", DataType::Int64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["2024-09-30", "2024-09-29"])),
            Arc::new(Int64Array::from(vec![Some(478), None])),
        ],
    )
    .expect("batch");
    let mut out = Vec::new();
    let mut w =
        datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    out
});

fn seeds() -> [(&'static str, &'static [u8]); 4] {
    [
        ("csv", &CITY_CSV),
        ("xlsx", &XLSX),
        ("xls", &XLS),
        ("parquet", &PARQUET),
    ]
}

/// Read everything an input yields; the outcome itself does not matter, only that it comes.
fn read_all(bytes: Vec<u8>) {
    if let Ok(rows) = ingest::open(std::io::Cursor::new(bytes), "fuzzed") {
        for r in rows {
            if r.is_err() {
                break;
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Repeat(usize, usize, u8),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Edit::Flip(at, b)),
        any::<usize>().prop_map(Edit::Cut),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..64, 1u8..=255).prop_map(|(at, len, n)| Edit::Repeat(at, len, n)),
    ];
    proptest::collection::vec(edit, 1..6)
}

fn mutate(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        match e {
            Edit::Flip(at, v) => {
                let i = at % b.len();
                b[i] ^= v | 1;
            }
            Edit::Cut(at) => b.truncate(at % b.len()),
            Edit::Insert(at, bytes) => {
                let i = at % b.len();
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Repeat(at, len, n) => {
                let i = at % b.len();
                let piece: Vec<u8> = b[i..(i + len).min(b.len())].to_vec();
                for _ in 0..*n {
                    b.splice(i..i, piece.iter().copied());
                }
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        read_all(bytes);
    }

    #[test]
    fn random_bytes_behind_each_signature(sig in 0usize..3, bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut b = [b"PK\x03\x04".as_slice(), b"\xD0\xCF\x11\xE0".as_slice(), b"PAR1".as_slice()][sig].to_vec();
        b.extend(bytes);
        read_all(b);
    }

    /// A valid file of each format (CSV, .xlsx, .xls, Parquet), edited.
    #[test]
    fn edited_files(which in 0usize..4, e in edits()) {
        read_all(mutate(seeds()[which].1, &e));
    }
}

#[test]
fn the_seeds_are_valid_inputs() {
    for (name, seed) in seeds() {
        let rows = ingest::open(std::io::Cursor::new(seed.to_vec()), name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let records: Vec<_> = rows
            .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
            .collect();
        let n = records.len();
        assert!(n >= 2, "{name}: {n} records");
    }
}

/// Found by `edited_files`: a DIMENSIONS record whose first column lies past its last. The
/// parser then counts columns from 0 and reserved rows × columns cells at once (449 TB: the
/// process aborted); the check now sizes the sheet as the parser does and refuses it.
#[test]
fn a_sheet_whose_first_column_is_past_its_last_is_sized_as_the_parser_sizes_it() {
    let mut bytes = XLS.clone();
    let dimensions = bytes
        .windows(4)
        .position(|w| w == [0x00, 0x02, 0x0e, 0x00])
        .expect("the fixture's DIMENSIONS record");
    let body = dimensions + 4;
    bytes[body + 4..body + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes()); // last row + 1
    bytes[body + 8..body + 10].copy_from_slice(&0x0900u16.to_le_bytes()); // first column
    bytes[body + 10..body + 12].copy_from_slice(&0x0880u16.to_le_bytes()); // last column + 1
    let err = match ingest::open(std::io::Cursor::new(bytes), "edited.xls") {
        Ok(_) => panic!("an oversized sheet was opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("a sheet declares 4294967280 rows × 2176 columns"),
        "{err}"
    );
}
