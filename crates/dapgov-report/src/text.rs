//! What the terminal shows: listings as aligned text tables, and query answers (Arrow record
//! batches) as a table, CSV or JSON.

use crate::ReportError;
use arrow::array::RecordBatch;
use comfy_table::{CellAlignment, ContentArrangement, Table};

/// No borders; a line under the header only.
const HEADER_UNDERLINED: &str = "     -             ";

/// Columns aligned, no borders, the header underlined; a cell that parses as a number is
/// right-aligned. Lines are never wrapped, so each row stays one line for grep and scripts.
pub fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut t = Table::new();
    t.load_preset(HEADER_UNDERLINED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for row in rows {
        t.add_row(row.iter().map(|c| {
            let text = c.as_ref();
            let numeric = text
                .trim_end_matches('%')
                .replace(',', "")
                .parse::<f64>()
                .is_ok();
            comfy_table::Cell::new(text).set_alignment(if numeric {
                CellAlignment::Right
            } else {
                CellAlignment::Left
            })
        }));
    }
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// How `dapgov query` writes its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    Table,
    Csv,
    Json,
}

impl std::str::FromStr for AnswerFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(AnswerFormat::Table),
            "csv" => Ok(AnswerFormat::Csv),
            "json" => Ok(AnswerFormat::Json),
            other => Err(format!(
                "unknown answer format `{other}`; expected table, csv or json"
            )),
        }
    }
}

/// A query's answer as text: a table, CSV with a header row, or a JSON array of objects.
pub fn answer(batches: &[RecordBatch], format: AnswerFormat) -> Result<String, ReportError> {
    let err = |e: arrow::error::ArrowError| ReportError::Render("query answer", e.to_string());
    match format {
        AnswerFormat::Table => Ok(format!(
            "{}\n",
            arrow::util::pretty::pretty_format_batches(batches).map_err(err)?
        )),
        AnswerFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(Vec::new());
            for b in batches {
                w.write(b).map_err(err)?;
            }
            String::from_utf8(w.into_inner())
                .map_err(|e| ReportError::Render("query answer", e.to_string()))
        }
        AnswerFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b).map_err(err)?;
            }
            w.finish().map_err(err)?;
            let mut s = String::from_utf8(w.into_inner())
                .map_err(|e| ReportError::Render("query answer", e.to_string()))?;
            // An empty answer is an empty array, not nothing.
            if s.is_empty() {
                s.push_str("[]");
            }
            s.push('\n');
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("year", DataType::Int64, false),
            Field::new("note", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![2023, 2024])),
                Arc::new(StringArray::from(vec![Some("a, \"quoted\""), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn answers_are_written_as_a_table_csv_or_json() {
        let b = [batch()];
        let t = answer(&b, AnswerFormat::Table).unwrap();
        assert!(t.contains("| year | note") && t.contains("| 2024 |"), "{t}");
        assert_eq!(
            answer(&b, AnswerFormat::Csv).unwrap(),
            "year,note\n2023,\"a, \"\"quoted\"\"\"\n2024,\n"
        );
        let j: serde_json::Value =
            serde_json::from_str(&answer(&b, AnswerFormat::Json).unwrap()).unwrap();
        assert_eq!(
            j,
            serde_json::json!([{"year": 2023, "note": "a, \"quoted\""}, {"year": 2024}])
        );
        assert_eq!(answer(&[], AnswerFormat::Json).unwrap(), "[]\n");
    }

    #[test]
    fn tables_keep_each_row_on_one_line_and_right_align_numbers() {
        let long = "x".repeat(300);
        let t = table(
            &["name", "count"],
            &[
                vec!["a".to_string(), "7".into()],
                vec![long.clone(), "1234".into()],
            ],
        );
        assert!(
            t.lines()
                .any(|l| l.contains(&long) && l.trim_end().ends_with("1234")),
            "{t}"
        );
        let row_a = t
            .lines()
            .find(|l| l.trim_start().starts_with("a "))
            .unwrap();
        assert!(row_a.trim_end().ends_with(" 7"), "{t}");
    }
}
