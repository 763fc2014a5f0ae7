//! Trusted SQL that runs in both engines: dapgov's (DataFusion), where the ETL builds trusted
//! tables, and Athena (Trino), where analysts re-run it. A statement must parse, and use only
//! functions and types both engines know with the same meaning.

use sqlparser::ast::{DataType, Expr, Spanned, visit_expressions};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

/// Functions DataFusion and Trino share, with the same meaning (lower case).
pub const SHARED_FUNCTIONS: &[&str] = &[
    // aggregates
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "approx_distinct",
    "array_agg",
    "bool_and",
    "bool_or",
    "corr",
    "covar_pop",
    "covar_samp",
    "approx_percentile",
    // window functions
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // numbers
    "abs",
    "ceil",
    "ceiling",
    "floor",
    "round",
    "sqrt",
    "cbrt",
    "power",
    "pow",
    "exp",
    "ln",
    "log10",
    "log2",
    "mod",
    "sign",
    "greatest",
    "least",
    "pi",
    "degrees",
    "radians",
    "truncate",
    // text
    "concat",
    "length",
    "lower",
    "upper",
    "trim",
    "ltrim",
    "rtrim",
    "substr",
    "replace",
    "reverse",
    "lpad",
    "rpad",
    "strpos",
    "split_part",
    "starts_with",
    "regexp_like",
    "regexp_replace",
    "chr",
    "md5",
    "to_hex",
    // conditionals
    "coalesce",
    "nullif",
    // dates
    "date_trunc",
    "current_date",
    "now",
    "from_unixtime",
    "to_unixtime",
];

/// What to write instead, for functions one engine lacks that people reach for.
fn instead(function: &str) -> Option<&'static str> {
    Some(match function {
        "date_part" | "datepart" => "EXTRACT(MONTH FROM date) (or YEAR, DAY, ...)",
        "year" | "month" | "day" | "quarter" | "week" | "hour" => "EXTRACT(<part> FROM <column>)",
        "to_date" | "to_timestamp" => "CAST(<text> AS DATE) or CAST(<text> AS TIMESTAMP)",
        "ifnull" | "nvl" => "COALESCE",
        "char_length" | "character_length" | "len" => "LENGTH",
        "substring" => "SUBSTR",
        "strftime" | "date_format" | "to_char" => "CAST(<value> AS VARCHAR) or EXTRACT",
        _ => return None,
    })
}

fn portable_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int(_)
            | DataType::Integer(_)
            | DataType::BigInt(_)
            | DataType::SmallInt(_)
            | DataType::TinyInt(_)
            | DataType::Double(_)
            | DataType::DoublePrecision
            | DataType::Real
            | DataType::Decimal(_)
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Date
            | DataType::Timestamp(_, _)
            | DataType::Boolean
    )
}

/// The first thing in `sql` that one of the engines would not run: (line of the SQL, what).
pub fn check(sql: &str) -> Result<(), (u64, String)> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| (0, format!("does not parse: {e}")))?;
    let mut problem = None;
    for s in &statements {
        let _ = visit_expressions(s, |e: &Expr| {
            let found = match e {
                Expr::Function(f) => {
                    let name = f.name.to_string().to_lowercase();
                    let name = name.rsplit('.').next().unwrap_or_default().to_string();
                    (!SHARED_FUNCTIONS.contains(&name.as_str())).then(|| {
                        let hint = instead(&name).map(|i| format!("; write {i}")).unwrap_or_else(|| "; see SHARED_FUNCTIONS in crates/dapgov-spec/src/portable.rs for those both share".into());
                        format!("function `{name}` is not one both dapgov's engine and Athena (Trino) run{hint}")
                    })
                }
                Expr::Cast { data_type, .. } if !portable_type(data_type) => Some(format!(
                    "type `{data_type}` is not one both engines read alike; use INTEGER, BIGINT, DOUBLE, DECIMAL(p, s), VARCHAR, DATE, TIMESTAMP or BOOLEAN"
                )),
                _ => None,
            };
            match found {
                Some(what) => {
                    problem = Some((e.span().start.line, what));
                    ControlFlow::Break(())
                }
                None => ControlFlow::Continue(()),
            }
        });
        if problem.is_some() {
            break;
        }
    }
    problem.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_trusted_sql_runs_in_both_engines() {
        let spec = crate::Spec::parse(crate::INIT_TEMPLATE, "dapgov.toml").unwrap();
        assert!(!spec.trusted.is_empty());
        for t in &spec.trusted {
            assert_eq!(check(&t.sql), Ok(()), "{}", t.name);
        }
    }

    #[test]
    fn functions_and_types_one_engine_lacks_are_named_with_their_line() {
        let (line, what) = check(
            "SELECT year,\n  CAST(date_part('month', date) AS INT) AS month\nFROM curated.metrics",
        )
        .unwrap_err();
        assert_eq!(line, 2);
        assert!(
            what.contains("`date_part`") && what.contains("EXTRACT"),
            "{what}"
        );
        let (_, what) = check("SELECT CAST(x AS STRING) FROM t").unwrap_err();
        assert!(what.contains("type `STRING`"), "{what}");
        assert!(check("SELECT EXTRACT(MONTH FROM date), COALESCE(a, 0), ROUND(AVG(b), 2) FROM t GROUP BY 1").is_ok());
        assert!(check("SELEC 1").unwrap_err().1.contains("does not parse"));
    }
}
