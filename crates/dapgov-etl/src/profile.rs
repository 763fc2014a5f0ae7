//! The data-quality profile of an input file: per column its inferred type, nulls, distinct
//! values, range, mean, most frequent values, values that do not fit the type, gaps in a date
//! series, and personal information found. Values containing personal information are
//! masked wherever the profile shows them.

use crate::EtlError;
use crate::ingest::{self, Table};
use crate::pii;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};

pub const PROFILE_SCHEMA_VERSION: u32 = 1;
/// A column takes a type when at least this share of its non-empty values parse as it.
const TYPE_THRESHOLD: f64 = 0.95;
const DATE_FORMATS: [&str; 5] = ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y"];
const TIMESTAMP_FORMATS: [&str; 3] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
];
const TOP_VALUES: usize = 5;
const EXAMPLES: usize = 5;
const LISTED_GAPS: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub schema_version: u32,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub format: String,
    pub rows: u64,
    pub columns_count: usize,
    /// Rows identical to an earlier row in every column.
    pub duplicate_rows: u64,
    /// Rows whose field count differs from the header's (CSV).
    pub ragged_rows: u64,
    pub warnings: Vec<String>,
    /// Personal information found in the whole file, by entity type.
    pub pii: BTreeMap<String, u64>,
    pub columns: Vec<ColumnProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// snake_case, as the ETL names it.
    pub name: String,
    /// As written in the file.
    pub source_name: String,
    /// `bigint`, `double`, `date`, `timestamp`, `boolean` or `string`.
    pub inferred_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    pub nulls: u64,
    pub null_pct: f64,
    pub distinct: u64,
    /// Non-empty values that repeat an earlier value in this column.
    pub duplicates: u64,
    /// Every row has a value and no value repeats: a candidate key.
    pub unique: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    pub top_values: Vec<ValueCount>,
    pub invalid: Invalid,
    pub pii: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_gaps: Option<DateGaps>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// Values that do not parse as the column's inferred type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Invalid {
    pub count: u64,
    /// Up to five, with their source rows.
    pub examples: Vec<InvalidValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidValue {
    pub row: i64,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateGaps {
    pub first: String,
    pub last: String,
    pub expected_days: u64,
    pub missing_days: u64,
    /// The first fifty missing dates.
    pub missing: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    BigInt,
    Double,
    Date(&'static str),
    Timestamp,
    Boolean,
    Text,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::BigInt => "bigint",
            Kind::Double => "double",
            Kind::Date(_) => "date",
            Kind::Timestamp => "timestamp",
            Kind::Boolean => "boolean",
            Kind::Text => "string",
        }
    }

    fn parses(self, v: &str) -> bool {
        match self {
            Kind::BigInt => v.parse::<i64>().is_ok(),
            Kind::Double => v.parse::<f64>().is_ok_and(f64::is_finite),
            Kind::Date(f) => NaiveDate::parse_from_str(v, f).is_ok(),
            Kind::Timestamp => TIMESTAMP_FORMATS
                .iter()
                .any(|f| NaiveDateTime::parse_from_str(v, f).is_ok()),
            Kind::Boolean => matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "y" | "n"
            ),
            Kind::Text => true,
        }
    }
}

fn infer(values: &[&str]) -> Kind {
    if values.is_empty() {
        return Kind::Text;
    }
    let share =
        |k: Kind| values.iter().filter(|v| k.parses(v)).count() as f64 / values.len() as f64;
    let mut candidates = vec![Kind::BigInt, Kind::Double];
    candidates.extend(DATE_FORMATS.iter().map(|f| Kind::Date(f)));
    candidates.extend([Kind::Timestamp, Kind::Boolean]);
    candidates
        .into_iter()
        .find(|k| share(*k) >= TYPE_THRESHOLD)
        .unwrap_or(Kind::Text)
}

/// A value as the profile may show it: masked when it holds personal information.
fn shown(v: &str) -> String {
    if pii::scan(v).is_empty() {
        v.to_string()
    } else {
        pii::masked_for_display(v)
    }
}

/// A column's extremes, mean and (for dates) gaps, from its valid values.
#[derive(Default)]
struct Range {
    min: Option<String>,
    max: Option<String>,
    mean: Option<f64>,
    date_gaps: Option<DateGaps>,
}

fn range_of(kind: Kind, valid: &[&str]) -> Range {
    let mut r = Range::default();
    match kind {
        Kind::BigInt | Kind::Double => {
            let nums: Vec<f64> = valid.iter().filter_map(|v| v.parse::<f64>().ok()).collect();
            if !nums.is_empty() {
                let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                r.min = Some(lo.to_string());
                r.max = Some(hi.to_string());
                let m = nums.iter().sum::<f64>() / nums.len() as f64;
                r.mean = Some((m * 1e6).round() / 1e6);
            }
        }
        Kind::Date(f) => {
            let mut dates: Vec<NaiveDate> = valid
                .iter()
                .filter_map(|v| NaiveDate::parse_from_str(v, f).ok())
                .collect();
            dates.sort_unstable();
            dates.dedup();
            if let (Some(first), Some(last)) = (dates.first().copied(), dates.last().copied()) {
                r.min = Some(first.to_string());
                r.max = Some(last.to_string());
                let present: HashSet<NaiveDate> = dates.iter().copied().collect();
                let expected = (last - first).num_days() as u64 + 1;
                let missing: Vec<String> = first
                    .iter_days()
                    .take(expected as usize)
                    .filter(|d| !present.contains(d))
                    .map(|d| d.to_string())
                    .collect();
                r.date_gaps = Some(DateGaps {
                    first: first.to_string(),
                    last: last.to_string(),
                    expected_days: expected,
                    missing_days: missing.len() as u64,
                    missing: missing.into_iter().take(LISTED_GAPS).collect(),
                });
            }
        }
        Kind::Timestamp | Kind::Boolean | Kind::Text => {
            r.min = valid.iter().min().map(|v| shown(v));
            r.max = valid.iter().max().map(|v| shown(v));
        }
    }
    r
}

fn profile_column(name: &str, source_name: &str, table: &Table, index: usize) -> ColumnProfile {
    let total = table.rows.len() as u64;
    let values: Vec<(i64, &str)> = table
        .rows
        .iter()
        .zip(&table.source_rows)
        .filter_map(|(r, row)| {
            r.get(index)
                .and_then(|v| v.as_deref())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (*row, v))
        })
        .collect();
    let plain: Vec<&str> = values.iter().map(|(_, v)| *v).collect();
    let kind = infer(&plain);
    let nulls = total - values.len() as u64;

    let mut freq: HashMap<&str, u64> = HashMap::new();
    for v in &plain {
        *freq.entry(v).or_default() += 1;
    }
    let mut top: Vec<(&str, u64)> = freq.iter().map(|(v, n)| (*v, *n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let distinct = freq.len() as u64;

    let mut pii_counts: BTreeMap<pii::Entity, u64> = BTreeMap::new();
    for v in &plain {
        pii::count(v, &mut pii_counts);
    }

    let invalid_values: Vec<&(i64, &str)> =
        values.iter().filter(|(_, v)| !kind.parses(v)).collect();
    let valid: Vec<&str> = values
        .iter()
        .filter(|(_, v)| kind.parses(v))
        .map(|(_, v)| *v)
        .collect();
    let Range {
        mut min,
        mut max,
        mut mean,
        date_gaps,
    } = range_of(kind, &valid);
    // A column of identifiers (SINs read as numbers): its extremes and mean are its values.
    if !pii_counts.is_empty() {
        (min, max, mean) = (
            min.map(|v| pii::masked_for_display(&v)),
            max.map(|v| pii::masked_for_display(&v)),
            None,
        );
    }

    ColumnProfile {
        name: name.to_string(),
        source_name: source_name.to_string(),
        inferred_type: kind.name().into(),
        date_format: match kind {
            Kind::Date(f) => Some(f.to_string()),
            _ => None,
        },
        nulls,
        null_pct: if total == 0 {
            0.0
        } else {
            nulls as f64 / total as f64
        },
        distinct,
        duplicates: values.len() as u64 - distinct,
        unique: nulls == 0 && distinct == total && total > 0,
        min,
        max,
        mean,
        top_values: top
            .into_iter()
            .take(TOP_VALUES)
            .map(|(v, n)| ValueCount {
                value: shown(v),
                count: n,
            })
            .collect(),
        invalid: Invalid {
            count: invalid_values.len() as u64,
            examples: invalid_values
                .into_iter()
                .take(EXAMPLES)
                .map(|(row, v)| InvalidValue {
                    row: *row,
                    value: shown(v),
                })
                .collect(),
        },
        pii: pii_counts
            .into_iter()
            .map(|(e, n)| (e.name().to_string(), n))
            .collect(),
        date_gaps,
    }
}

/// Profile a file's bytes; `file` names it in the profile and in errors.
pub fn profile(bytes: &[u8], file: &str) -> Result<Profile, EtlError> {
    let table = ingest::read(bytes, file)?;
    let format = match ingest::detect(bytes) {
        ingest::Format::Csv => "csv",
        ingest::Format::Xlsx => "xlsx",
        ingest::Format::Xls => "xls",
        ingest::Format::Parquet => "parquet",
    };
    let names = ingest::snake_case_names(&table.headers);
    let columns: Vec<ColumnProfile> = names
        .iter()
        .zip(&table.headers)
        .enumerate()
        .map(|(i, (n, h))| profile_column(n, h, &table, i))
        .collect();
    let mut seen: HashSet<&Vec<Option<String>>> = HashSet::new();
    let duplicate_rows = table.rows.iter().filter(|r| !seen.insert(*r)).count() as u64;
    let mut pii_total: BTreeMap<String, u64> = BTreeMap::new();
    for c in &columns {
        for (e, n) in &c.pii {
            *pii_total.entry(e.clone()).or_default() += n;
        }
    }
    Ok(Profile {
        schema_version: PROFILE_SCHEMA_VERSION,
        file: file.to_string(),
        sha256: hex::encode(Sha256::digest(bytes)),
        bytes: bytes.len() as u64,
        format: format.into(),
        rows: table.rows.len() as u64,
        columns_count: columns.len(),
        duplicate_rows,
        ragged_rows: table.ragged.len() as u64,
        warnings: table.warnings.clone(),
        pii: pii_total,
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col<'a>(p: &'a Profile, name: &str) -> &'a ColumnProfile {
        p.columns.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn the_city_file_shows_its_two_missing_days_and_its_types() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/3-1-1-contact-centre-metrics.csv");
        let p = profile(
            &std::fs::read(path).unwrap(),
            "3-1-1-contact-centre-metrics.csv",
        )
        .unwrap();
        assert_eq!((p.rows, p.columns_count, p.duplicate_rows), (5585, 7, 0));
        let date = col(&p, "date");
        assert_eq!(date.inferred_type, "date");
        assert!(date.unique);
        let gaps = date.date_gaps.as_ref().unwrap();
        assert_eq!(
            (gaps.first.as_str(), gaps.last.as_str(), gaps.missing_days),
            ("2009-06-15", "2024-09-30", 2)
        );
        assert_eq!(col(&p, "calls_offered").inferred_type, "bigint");
        let sl = col(&p, "service_level");
        assert_eq!(sl.inferred_type, "double");
        assert!(sl.mean.unwrap() > 0.0 && sl.mean.unwrap() < 1.0);
        assert!(p.pii.is_empty());
    }

    #[test]
    fn invalid_values_duplicates_and_pii_are_reported_masked() {
        let csv = "id,amount,when,contact\n1,10,2024-01-01,a\n2,x,2024-01-03,604-555-0199\n2,12.5,2024-01-03,jane.doe@example.org\n2,12.5,2024-01-03,jane.doe@example.org\n";
        let p = profile(csv.as_bytes(), "t.csv").unwrap();
        assert_eq!(p.duplicate_rows, 1);
        let amount = col(&p, "amount");
        // 3 of 4 values are numbers: below the threshold, so the column stays text.
        assert_eq!(amount.inferred_type, "string");
        let id = col(&p, "id");
        assert_eq!(
            (id.inferred_type.as_str(), id.duplicates, id.unique),
            ("bigint", 2, false)
        );
        let contact = col(&p, "contact");
        assert_eq!(contact.pii.get("EMAIL"), Some(&2));
        assert_eq!(contact.pii.get("PHONE_NUMBER"), Some(&1));
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("jane.doe@example.org") && !text.contains("604-555-0199"),
            "{text}"
        );
        let when = col(&p, "when");
        assert_eq!(
            when.date_gaps.as_ref().unwrap().missing,
            vec!["2024-01-02".to_string()]
        );
        // Identifiers typed as numbers show neither their extremes nor their mean.
        let p = profile("sin\n130692544\n527419386\n".as_bytes(), "s.csv").unwrap();
        let sin = col(&p, "sin");
        assert_eq!(sin.pii.get("CANADA_SOCIAL_INSURANCE_NUMBER"), Some(&2));
        let text = serde_json::to_string(&p).unwrap();
        assert!(
            !text.contains("130692544") && !text.contains("527419386") && sin.mean.is_none(),
            "{text}"
        );
    }

    #[test]
    fn values_that_do_not_fit_a_typed_column_are_listed_with_their_rows() {
        let mut csv = String::from("n\n");
        for i in 0..40 {
            csv.push_str(&format!("{i}\n"));
        }
        csv.push_str("n/a\n");
        let p = profile(csv.as_bytes(), "n.csv").unwrap();
        let n = col(&p, "n");
        assert_eq!(n.inferred_type, "bigint");
        assert_eq!(n.invalid.count, 1);
        assert_eq!(
            (
                n.invalid.examples[0].row,
                n.invalid.examples[0].value.as_str()
            ),
            (42, "n/a")
        );
    }
}
