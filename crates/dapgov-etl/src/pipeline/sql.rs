//! The SQL a run writes, and the pure decisions behind it: identifiers and literals, typed
//! column expressions, the row checks of a dataset, schema drift.

use dapgov_inventory::Column;
use dapgov_spec::{Dataset, RuleAction};
use datafusion::arrow::datatypes::DataType;

pub(super) fn glue_type(t: &DataType) -> &'static str {
    match t {
        DataType::Int64 | DataType::UInt64 => "bigint",
        DataType::Int32 | DataType::Int16 | DataType::Int8 => "int",
        DataType::Float64 | DataType::Float32 => "double",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Timestamp(..) => "timestamp",
        DataType::Boolean => "boolean",
        _ => "string",
    }
}

pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The typed expression for a declared column over its source text.
pub(super) fn typed_expr(col: &str, ty: &str, ds: &Dataset) -> String {
    let text = format!("NULLIF(TRIM(CAST({} AS VARCHAR)), '')", ident(col));
    match ty {
        "bigint" | "int" => format!(
            "CASE WHEN TRY_CAST({text} AS DOUBLE) = ROUND(TRY_CAST({text} AS DOUBLE)) THEN CAST(TRY_CAST({text} AS DOUBLE) AS BIGINT) END"
        ),
        "double" => format!("TRY_CAST({text} AS DOUBLE)"),
        "date" => format!(
            "dapgov_parse_date({text}, {})",
            lit(&ds.date_formats.join("\u{1f}"))
        ),
        "boolean" => format!(
            "CASE WHEN LOWER({text}) IN ('true','t','yes','y','1') THEN TRUE WHEN LOWER({text}) IN ('false','f','no','n','0') THEN FALSE END"
        ),
        "timestamp" => format!("TRY_CAST({text} AS TIMESTAMP)"),
        _ => text,
    }
}

pub(super) fn columns_of(
    schema: &datafusion::arrow::datatypes::Schema,
    skip: &[&str],
) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .filter(|f| !skip.contains(&f.name().as_str()))
        .map(|f| Column {
            name: f.name().clone(),
            data_type: glue_type(f.data_type()).into(),
        })
        .collect()
}

/// A check every row of a dataset passes or fails, in the order rows are judged: the first
/// it fails sends the row to quarantine under `rule`, with `reason`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Check {
    pub rule: String,
    /// SQL that is TRUE when the row fails. A check on an empty optional value is NULL and
    /// counts as passed, so no row is in neither curated nor quarantine.
    pub fails: String,
    pub reason: String,
}

/// The dataset's checks: required columns, ranges, `reject` rules, then the unique key (over
/// `_dup_rank`, the row's rank among rows of its key in source order).
pub(super) fn checks(ds: &Dataset) -> Vec<Check> {
    let mut out = vec![];
    let mut push = |rule: String, fails: String, reason: String| {
        out.push(Check {
            rule,
            fails: format!("COALESCE(({fails}), FALSE)"),
            reason,
        })
    };
    for r in &ds.required {
        push(
            format!("required:{r}"),
            format!("{} IS NULL", ident(r)),
            format!("required column `{r}` is empty"),
        );
    }
    for (c, rule) in &ds.columns {
        if let Some(min) = rule.min {
            push(
                format!("range:{c}"),
                format!("{} < {min}", ident(c)),
                format!("`{c}` is below its minimum {min}"),
            );
        }
        if let Some(max) = rule.max {
            push(
                format!("range:{c}"),
                format!("{} > {max}", ident(c)),
                format!("`{c}` is above its maximum {max}"),
            );
        }
    }
    for r in ds.rules.iter().filter(|r| r.action == RuleAction::Reject) {
        push(
            r.name.clone(),
            format!("NOT COALESCE(({}), FALSE)", r.check),
            format!("rule `{}` failed: {}", r.name, r.check),
        );
    }
    if !ds.unique_key.is_empty() {
        push(
            "unique_key".into(),
            "_dup_rank > 1".into(),
            format!("duplicate key ({})", ds.unique_key.join(", ")),
        );
    }
    out
}

/// A `CASE` naming, for each row, the first check it fails (`pick` chooses what to name:
/// the rule or the reason), NULL when it passes them all.
pub(super) fn first_failed(checks: &[Check], pick: impl Fn(&Check) -> &str) -> String {
    if checks.is_empty() {
        return "CAST(NULL AS VARCHAR)".into();
    }
    format!(
        "CASE {} END",
        checks
            .iter()
            .map(|c| format!("WHEN {} THEN {}", c.fails, lit(pick(c))))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// What changed between the previous load's columns and this one's (lineage columns, which
/// start with `_`, aside). Columns are always read by name, so a reorder shifts no value but
/// is still reported.
pub(super) fn schema_drift(before: &[Column], after: &[Column]) -> Vec<String> {
    let before: Vec<&Column> = before.iter().filter(|c| !c.name.starts_with('_')).collect();
    let after: Vec<&Column> = after.iter().filter(|c| !c.name.starts_with('_')).collect();
    let mut drift = vec![];
    for c in &after {
        match before.iter().find(|b| b.name == c.name) {
            None => drift.push(format!("added column `{}` ({})", c.name, c.data_type)),
            Some(b) if b.data_type != c.data_type => drift.push(format!(
                "column `{}` changed type {} → {}",
                c.name, b.data_type, c.data_type
            )),
            _ => {}
        }
    }
    for b in &before {
        if !after.iter().any(|c| c.name == b.name) {
            drift.push(format!("removed column `{}`", b.name));
        }
    }
    let order = |v: &[&Column], other: &[&Column]| {
        v.iter()
            .filter(|c| other.iter().any(|o| o.name == c.name))
            .map(|c| c.name.clone())
            .collect::<Vec<_>>()
    };
    if order(&before, &after) != order(&after, &before) {
        drift.push("columns were reordered (read by name, so no values shifted)".into());
    }
    drift
}

pub(super) fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapgov_spec::{ColumnRule, RowRule};

    fn col(name: &str, t: &str) -> Column {
        Column {
            name: name.into(),
            data_type: t.into(),
        }
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident(r#"odd "name""#), r#""odd ""name""""#);
        assert_eq!(lit("it's"), "'it''s'");
    }

    #[test]
    fn declared_types_become_expressions_that_are_null_when_a_value_does_not_parse() {
        let ds = Dataset {
            date_formats: vec!["%Y-%m-%d".into(), "%d/%m/%Y".into()],
            ..Default::default()
        };
        assert_eq!(
            typed_expr("n", "double", &ds),
            r#"TRY_CAST(NULLIF(TRIM(CAST("n" AS VARCHAR)), '') AS DOUBLE)"#
        );
        assert!(
            typed_expr("d", "date", &ds).starts_with(
                r#"dapgov_parse_date(NULLIF(TRIM(CAST("d" AS VARCHAR)), ''), '%Y-%m-%d"#
            )
        );
        assert!(
            typed_expr("n", "bigint", &ds).contains("ROUND"),
            "a bigint refuses fractions"
        );
        assert_eq!(
            typed_expr("s", "string", &ds),
            r#"NULLIF(TRIM(CAST("s" AS VARCHAR)), '')"#
        );
    }

    #[test]
    fn checks_come_in_order_and_pass_on_empty_optional_values() {
        let ds = Dataset {
            required: vec!["date".into()],
            columns: [(
                "calls".to_string(),
                ColumnRule {
                    data_type: "bigint".into(),
                    min: Some(0.0),
                    ..Default::default()
                },
            )]
            .into(),
            rules: vec![
                RowRule {
                    name: "handled_le_offered".into(),
                    check: "handled <= offered".into(),
                    action: RuleAction::Reject,
                },
                RowRule {
                    name: "sums".into(),
                    check: "a + b = c".into(),
                    action: RuleAction::Warn,
                },
            ],
            unique_key: vec!["date".into()],
            ..Default::default()
        };
        let c = checks(&ds);
        assert_eq!(
            c.iter().map(|c| c.rule.as_str()).collect::<Vec<_>>(),
            [
                "required:date",
                "range:calls",
                "handled_le_offered",
                "unique_key"
            ]
        );
        assert_eq!(c[1].fails, r#"COALESCE(("calls" < 0), FALSE)"#);
        assert_eq!(
            c[2].reason,
            "rule `handled_le_offered` failed: handled <= offered"
        );
        assert_eq!(first_failed(&[], |c| &c.rule), "CAST(NULL AS VARCHAR)");
        assert!(first_failed(&c, |c| &c.rule).starts_with(
            r#"CASE WHEN COALESCE(("date" IS NULL), FALSE) THEN 'required:date' WHEN"#
        ));
    }

    #[test]
    fn drift_names_added_removed_retyped_and_reordered_columns() {
        let before = [
            col("date", "date"),
            col("calls", "bigint"),
            col("gone", "string"),
            col("_source_row", "bigint"),
        ];
        let after = [
            col("calls", "double"),
            col("date", "date"),
            col("new", "string"),
        ];
        assert_eq!(
            schema_drift(&before, &after),
            [
                "column `calls` changed type bigint → double",
                "added column `new` (string)",
                "removed column `gone`",
                "columns were reordered (read by name, so no values shifted)",
            ]
        );
        assert!(schema_drift(&before, &before).is_empty());
    }
}
