//! The run's DataFusion session: its functions, counts, staged tables and writers.

use crate::EtlError;
use crate::pii::{self, Entity, Redactor};
use dapgov_target::ZoneStore;
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn register_udfs(ctx: &SessionContext, redactor: Arc<Redactor>) {
    let parse_date = create_udf(
        "dapgov_parse_date",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            // The formats are one literal: parse them once per batch, not once per value.
            let formats = match &args[1] {
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(f))) => f.clone(),
                ColumnarValue::Array(a) if a.null_count() == 0 && !a.is_empty() => {
                    let a = a.as_string::<i32>();
                    if a.iter().any(|f| f != Some(a.value(0))) {
                        return Err(DataFusionError::Execution(
                            "dapgov_parse_date takes one list of formats for every value".into(),
                        ));
                    }
                    a.value(0).to_string()
                }
                _ => String::new(),
            };
            let formats: Vec<Vec<chrono::format::Item<'_>>> = formats
                .split('\u{1f}')
                .filter(|f| !f.is_empty())
                .map(|f| chrono::format::StrftimeItems::new(f).collect())
                .collect();
            let values = ColumnarValue::values_to_arrays(&args[..1])?;
            let values = values[0].as_string::<i32>();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            let out: datafusion::arrow::array::Date32Array = values
                .iter()
                .map(|v| {
                    let v = v?.trim();
                    formats
                        .iter()
                        .find_map(|items| {
                            let mut parsed = chrono::format::Parsed::new();
                            chrono::format::parse(&mut parsed, v, items.iter()).ok()?;
                            parsed.to_naive_date().ok()
                        })
                        .map(|d| (d - epoch).num_days() as i32)
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    ctx.register_udf(parse_date);
    let r = redactor.clone();
    let redact_text = create_udf(
        "dapgov_redact_text",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let out = each_distinct(arrays[0].as_string::<i32>(), |s| r.redact_text(s));
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    ctx.register_udf(redact_text);
    let r = redactor;
    let replace = create_udf(
        "dapgov_replace_value",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let out = match &args[1] {
                // The entity is a literal: one policy for the whole batch.
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))) => {
                    let values = ColumnarValue::values_to_arrays(&args[..1])?;
                    match Entity::from_name(name) {
                        Some(e) => {
                            each_distinct(values[0].as_string::<i32>(), |v| r.replace_value(e, v))
                        }
                        None => each_distinct(values[0].as_string::<i32>(), |v| r.redact_text(v)),
                    }
                }
                _ => {
                    let arrays = ColumnarValue::values_to_arrays(args)?;
                    let (values, entity) =
                        (arrays[0].as_string::<i32>(), arrays[1].as_string::<i32>());
                    (0..values.len())
                        .map(|i| {
                            (!values.is_null(i)).then(|| match Entity::from_name(entity.value(i)) {
                                Some(e) => r.replace_value(e, values.value(i)),
                                None => r.redact_text(values.value(i)),
                            })
                        })
                        .collect()
                }
            };
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    ctx.register_udf(replace);
}

/// `f` of each value of a batch, computed once per distinct value: codes, queues, agents and
/// file names repeat within a batch. Up to [`ScanMemo::VALUES`] values are remembered.
fn each_distinct(values: &StringArray, f: impl Fn(&str) -> String) -> StringArray {
    let mut seen: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    values
        .iter()
        .map(|v| {
            v.map(|s| match seen.get(s) {
                Some(done) => done.clone(),
                None => {
                    let done = f(s);
                    if seen.len() < ScanMemo::VALUES {
                        seen.insert(s, done.clone());
                    }
                    done
                }
            })
        })
        .collect()
}

/// The first row of a query whose columns are all counts (BIGINT), as numbers.
pub(super) async fn counts(ctx: &SessionContext, sql: &str) -> Result<Vec<u64>, EtlError> {
    let b = ctx.sql(sql).await?.collect().await?;
    let Some(b) = b.first().filter(|b| b.num_rows() > 0) else {
        return Ok(vec![]);
    };
    Ok(b.columns()
        .iter()
        .map(|c| {
            c.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0) as u64
        })
        .collect())
}

pub(super) async fn count(ctx: &SessionContext, sql: &str) -> Result<u64, EtlError> {
    Ok(counts(ctx, sql).await?.first().copied().unwrap_or(0))
}

/// Every non-null value of a text column, whatever its string layout.
pub(super) fn string_values(batches: &[RecordBatch], col: &str) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let Some(a) = b.column_by_name(col) else {
            continue;
        };
        let Ok(text) = datafusion::arrow::compute::cast(a, &DataType::Utf8) else {
            continue;
        };
        if let Some(s) = text.as_string_opt::<i32>() {
            out.extend(s.iter().flatten().map(str::to_string));
        }
    }
    out
}

/// Write a DataFrame as Parquet under a prefix of the run's own; returns the rows written.
/// These files live only as long as the run, so they are compressed for speed (LZ4), not size.
pub(super) async fn write_parquet(
    ctx: &SessionContext,
    df: DataFrame,
    url: &str,
) -> Result<u64, EtlError> {
    let mut options = ctx.state().default_table_options().parquet.clone();
    options.global.compression = Some("lz4_raw".into());
    let written = df
        .write_parquet(url, DataFrameWriteOptions::new(), Some(options))
        .await?;
    // The writer answers with the count of rows it wrote.
    Ok(written
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_primitive_opt::<datafusion::arrow::datatypes::UInt64Type>()
                .map(|c| c.iter().flatten().sum::<u64>())
        })
        .sum())
}

/// Write a DataFrame as Parquet under `name` in the run's staging prefix and register it as a
/// table of that name, so later steps read it back instead of recomputing it. Returns its rows.
pub(super) async fn stage(
    ctx: &SessionContext,
    raw: &ZoneStore,
    staging: &str,
    name: &str,
    df: DataFrame,
) -> Result<u64, EtlError> {
    let url = format!("{}{staging}{name}/", raw.url);
    let schema = df.schema().as_arrow().clone();
    let rows = write_parquet(ctx, df, &url).await?;
    if rows == 0 {
        // Nothing was written, so there is no file to list: an empty table of the same shape.
        ctx.register_table(
            name,
            Arc::new(MemTable::try_new(Arc::new(schema), vec![vec![]])?),
        )?;
    } else {
        ctx.register_parquet(name, &url, ParquetReadOptions::default())
            .await?;
    }
    Ok(rows)
}

/// Personal information found in every text value a query returns, counted by type. The
/// partitions are scanned in parallel, batch by batch.
/// A column's findings per value, for the values it repeats (queues, outcomes, agents, the
/// file name): each is scanned once. It remembers the first [`ScanMemo::VALUES`] distinct
/// values, so a column of free text costs a lookup per value and bounded memory.
#[derive(Default)]
struct ScanMemo {
    seen: std::collections::HashMap<String, Vec<(Entity, u64)>>,
}

impl ScanMemo {
    const VALUES: usize = 4096;

    fn count(&mut self, v: &str, into: &mut BTreeMap<Entity, u64>) {
        if let Some(hits) = self.seen.get(v) {
            for (e, n) in hits {
                *into.entry(*e).or_default() += n;
            }
            return;
        }
        if self.seen.len() >= Self::VALUES {
            return pii::count(v, into);
        }
        let mut one = BTreeMap::new();
        pii::count(v, &mut one);
        for (e, n) in &one {
            *into.entry(*e).or_default() += n;
        }
        self.seen.insert(v.to_string(), one.into_iter().collect());
    }
}

pub(super) async fn count_pii(
    ctx: &SessionContext,
    sql: &str,
) -> Result<BTreeMap<Entity, u64>, EtlError> {
    use futures::StreamExt;
    let streams = ctx.sql(sql).await?.execute_stream_partitioned().await?;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut found: BTreeMap<Entity, u64> = BTreeMap::new();
                let mut memos: Vec<ScanMemo> = vec![];
                while let Some(b) = s.next().await {
                    let b = b?;
                    memos.resize_with(b.num_columns(), ScanMemo::default);
                    for (c, memo) in b.columns().iter().zip(&mut memos) {
                        let text = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
                        for v in text.as_string::<i32>().iter().flatten() {
                            memo.count(v, &mut found);
                        }
                    }
                }
                Ok::<_, datafusion::error::DataFusionError>(found)
            })
        })
        .collect();
    let mut total: BTreeMap<Entity, u64> = BTreeMap::new();
    for t in tasks {
        for (e, n) in t.await.map_err(|e| EtlError::Engine(e.to_string()))?? {
            *total.entry(e).or_default() += n;
        }
    }
    Ok(total)
}
