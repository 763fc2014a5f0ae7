//! A query in the target's own engine (Athena on aws): the same statement a person writes for
//! dapgov's engine, checked to be a read, with the zone tables (`curated.calls`) named as the
//! catalog names them (`curated_calls`), and the answer typed from the engine's column types.

use crate::EtlError;
use crate::query::{SCHEMAS, not_a_read};
use dapgov_target::{Cancel, RoleSession, SqlAnswer, SqlColumn};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Ident, ObjectName, ObjectNamePart, Statement, visit_relations_mut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use std::ops::ControlFlow;
use std::sync::Arc;

/// What Athena charges per terabyte scanned (US$, most regions; 10 MB minimum per query).
pub const USD_PER_TB_SCANNED: f64 = 5.0;

/// `text` as the target's engine takes it: one read, its zone tables renamed to catalog
/// tables. A write is refused as dapgov's engine refuses it; a statement only dapgov's engine
/// knows (SHOW, DESCRIBE) is sent back there.
pub fn for_catalog_engine(text: &str, role: &str) -> Result<String, EtlError> {
    let mut statements = DFParser::parse_sql_with_dialect(text, &GenericDialect {})
        .map_err(|e| EtlError::Engine(format!("the statement does not parse: {e}")))?;
    let statement = match (statements.pop_front(), statements.is_empty()) {
        (Some(s), true) => s,
        (None, _) => return Err(EtlError::Engine("no statement to run".into())),
        (Some(_), false) => {
            return Err(EtlError::Engine(
                "one statement at a time: the text holds several".into(),
            ));
        }
    };
    if let Some(kind) = not_a_read(&statement) {
        return Err(EtlError::Refused {
            role: role.into(),
            statement: kind,
        });
    }
    let mut statement = match statement {
        DFStatement::Statement(s)
            if matches!(*s, Statement::Query(_) | Statement::Explain { .. }) =>
        {
            *s
        }
        other => {
            let kind = other
                .to_string()
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_uppercase();
            return Err(EtlError::Engine(format!(
                "`{kind}` statements run in dapgov's engine only: add --engine local"
            )));
        }
    };
    let _ = visit_relations_mut(&mut statement, |name: &mut ObjectName| {
        let parts: Vec<&Ident> = name
            .0
            .iter()
            .filter_map(|p| {
                if let ObjectNamePart::Identifier(i) = p {
                    Some(i)
                } else {
                    None
                }
            })
            .collect();
        if let [schema, table] = parts.as_slice()
            && SCHEMAS.contains(&schema.value.as_str())
        {
            *name = ObjectName::from(vec![Ident::new(format!(
                "{}_{}",
                schema.value, table.value
            ))]);
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(statement.to_string())
}

/// The Arrow type for an engine's column type (Athena's names); anything else is text.
fn arrow_type(c: &SqlColumn) -> DataType {
    match c.sql_type.to_ascii_lowercase().as_str() {
        "tinyint" | "smallint" | "integer" | "int" | "bigint" => DataType::Int64,
        "double" | "float" | "real" => DataType::Float64,
        "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, None),
        "decimal" => match (c.precision, c.scale) {
            (Some(p @ 1..=38), Some(s @ 0..=38)) if s <= p => {
                DataType::Decimal128(p as u8, s as i8)
            }
            _ => DataType::Utf8,
        },
        _ => DataType::Utf8,
    }
}

/// The answer as one record batch, each column typed from the engine's metadata. A value that
/// does not read as its column's type is an error naming both, never a silent NULL.
pub fn answer_batch(answer: &SqlAnswer) -> Result<RecordBatch, EtlError> {
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut fields = Vec::with_capacity(answer.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(answer.columns.len());
    for (i, c) in answer.columns.iter().enumerate() {
        let text: StringArray = answer
            .rows
            .iter()
            .map(|r| r.get(i).cloned().flatten())
            .collect();
        let ty = arrow_type(c);
        let typed = cast_with_options(&text, &ty, &strict).map_err(|e| {
            EtlError::Engine(format!(
                "column {} ({}): a value does not read as {ty}: {e}",
                c.name, c.sql_type
            ))
        })?;
        fields.push(Field::new(&c.name, ty, true));
        arrays.push(typed);
    }
    let schema = Arc::new(Schema::new(fields));
    if arrays.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    RecordBatch::try_new(schema, arrays).map_err(|e| EtlError::Engine(e.to_string()))
}

/// Run `text` in the session's target engine as its role. A refused statement is recorded as
/// dapgov's engine records it.
pub async fn sql(
    session: &RoleSession,
    text: &str,
    cancel: Cancel,
) -> Result<(RecordBatch, SqlAnswer), EtlError> {
    let service = session.sql.as_ref().ok_or_else(|| {
        EtlError::Engine("this target has no query engine of its own: use --engine local".into())
    })?;
    let statement = match for_catalog_engine(text, &session.role) {
        Err(refused @ EtlError::Refused { .. }) => {
            session
                .audit
                .refused(
                    "dapgov:Query",
                    &session.names.glue_database(),
                    &refused.to_string(),
                )
                .await?;
            return Err(refused);
        }
        other => other?,
    };
    let mut answer = service.run(&statement, cancel).await?;
    let batch = answer_batch(&answer)?;
    answer.rows = vec![];
    Ok((batch, answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_tables_become_catalog_tables_and_only_reads_pass() {
        let sql = for_catalog_engine("with m as (select * from curated.calls c join trusted.daily_consolidated d on c.date = d.date) select count(*) from m where queue = 'x.y'", "analyst").unwrap();
        assert!(
            sql.contains("FROM curated_calls c JOIN trusted_daily_consolidated d")
                && sql.contains("'x.y'"),
            "{sql}"
        );
        // A CTE or a table of another schema keeps its name.
        assert!(
            for_catalog_engine("select * from other.t", "analyst")
                .unwrap()
                .contains("other.t")
        );
        assert!(matches!(
            for_catalog_engine("insert into curated.calls values (1)", "analyst"),
            Err(EtlError::Refused { .. })
        ));
        assert!(matches!(
            for_catalog_engine("create table x as select 1", "analyst"),
            Err(EtlError::Refused { .. })
        ));
        let e = for_catalog_engine("show tables", "analyst")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--engine local"), "{e}");
        assert!(
            for_catalog_engine("select 1; select 2", "analyst")
                .unwrap_err()
                .to_string()
                .contains("one statement")
        );
    }

    fn column(name: &str, sql_type: &str) -> SqlColumn {
        SqlColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            precision: Some(10),
            scale: Some(4),
        }
    }

    #[test]
    fn answers_are_typed_from_the_engines_metadata() {
        let answer = SqlAnswer {
            columns: vec![
                column("year", "integer"),
                column("chp", "decimal"),
                column("day", "date"),
                column("at", "timestamp"),
                column("queue", "varchar"),
                column("ok", "boolean"),
            ],
            rows: vec![
                vec![
                    Some("2020".into()),
                    Some("0.9039".into()),
                    Some("2020-01-31".into()),
                    Some("2020-01-31 07:00:11.000".into()),
                    Some("sanitation".into()),
                    Some("true".into()),
                ],
                vec![
                    Some("2023".into()),
                    None,
                    None,
                    None,
                    None,
                    Some("false".into()),
                ],
            ],
            ..Default::default()
        };
        let b = answer_batch(&answer).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(
            b.schema().field(1).data_type(),
            &DataType::Decimal128(10, 4)
        );
        assert_eq!(
            b.schema().field(3).data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(b.column(1).null_count(), 1);
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&[b])
            .unwrap()
            .to_string();
        assert!(
            text.contains("2020-01-31T07:00:11")
                && text.contains("0.9039")
                && text.contains("sanitation"),
            "{text}"
        );
        let bad = SqlAnswer {
            columns: vec![column("n", "bigint")],
            rows: vec![vec![Some("many".into())]],
            ..Default::default()
        };
        let e = answer_batch(&bad).unwrap_err().to_string();
        assert!(e.contains("column n (bigint)"), "{e}");
    }
}
