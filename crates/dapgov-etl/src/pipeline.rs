//! One run of every stage for one input file.

use crate::ingest;
use crate::pii::{self, Entity, Redactor};
use crate::query;
use crate::EtlError;
use dapgov_inventory::target::{MetricDatum, RoleSession, ZoneStore};
use dapgov_inventory::{Column, GlueTable};
use dapgov_spec::{Dataset, Names, RuleAction, Spec};
use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::*;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::buffered::BufWriter;
use datafusion::object_store::{ObjectStoreExt, PutPayload};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct RunOptions<'a> {
    pub input: &'a std::path::Path,
    pub dataset: &'a str,
    pub force: bool,
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StageCounts {
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_quarantined: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub dataset: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u128,
    /// True when the input was already loaded and nothing was done.
    pub no_op: bool,
    pub input: InputInfo,
    pub outputs: BTreeMap<String, String>,
    pub stages: BTreeMap<String, StageCounts>,
    pub quarantine_reasons: BTreeMap<String, u64>,
    pub warnings_by_rule: BTreeMap<String, u64>,
    pub schema: Vec<Column>,
    pub schema_drift: Vec<String>,
    pub rules_applied: Vec<String>,
    pub pii_found: BTreeMap<String, u64>,
    pub pii_columns: BTreeMap<String, String>,
    pub trusted: BTreeMap<String, String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct InputInfo {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub landing_object: String,
}

fn glue_type(t: &DataType) -> &'static str {
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

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The typed expression for a declared column over its source text.
fn typed_expr(col: &str, ty: &str, ds: &Dataset) -> String {
    let text = format!("NULLIF(TRIM(CAST({} AS VARCHAR)), '')", ident(col));
    match ty {
        "bigint" | "int" => format!(
            "CASE WHEN TRY_CAST({text} AS DOUBLE) = ROUND(TRY_CAST({text} AS DOUBLE)) THEN CAST(TRY_CAST({text} AS DOUBLE) AS BIGINT) END"
        ),
        "double" => format!("TRY_CAST({text} AS DOUBLE)"),
        "date" => format!("dapgov_parse_date({text}, {})", lit(&ds.date_formats.join("\u{1f}"))),
        "boolean" => format!("CASE WHEN LOWER({text}) IN ('true','t','yes','y','1') THEN TRUE WHEN LOWER({text}) IN ('false','f','no','n','0') THEN FALSE END"),
        "timestamp" => format!("TRY_CAST({text} AS TIMESTAMP)"),
        _ => text,
    }
}

fn register_udfs(ctx: &SessionContext, redactor: Arc<Redactor>) {
    let parse_date = create_udf(
        "dapgov_parse_date",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Date32,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let values = arrays[0].as_string::<i32>();
            let formats = arrays[1].as_string::<i32>();
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            let out: datafusion::arrow::array::Date32Array = (0..values.len())
                .map(|i| {
                    if values.is_null(i) {
                        return None;
                    }
                    let v = values.value(i).trim();
                    formats.value(i).split('\u{1f}').find_map(|f| chrono::NaiveDate::parse_from_str(v, f).ok()).map(|d| (d - epoch).num_days() as i32)
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
            let values = arrays[0].as_string::<i32>();
            let out: StringArray = values.iter().map(|v| v.map(|s| r.redact_text(s))).collect();
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
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let values = arrays[0].as_string::<i32>();
            let entity = arrays[1].as_string::<i32>();
            let out: StringArray = (0..values.len())
                .map(|i| {
                    (!values.is_null(i)).then(|| match Entity::from_name(entity.value(i)) {
                        Some(e) => r.replace_value(e, values.value(i)),
                        None => r.redact_text(values.value(i)),
                    })
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    );
    ctx.register_udf(replace);
}

/// The first row of a query whose columns are all counts (BIGINT), as numbers.
async fn counts(ctx: &SessionContext, sql: &str) -> Result<Vec<u64>, EtlError> {
    let b = ctx.sql(sql).await?.collect().await?;
    let Some(b) = b.first().filter(|b| b.num_rows() > 0) else { return Ok(vec![]) };
    Ok(b.columns().iter().map(|c| c.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0) as u64).collect())
}

async fn count(ctx: &SessionContext, sql: &str) -> Result<u64, EtlError> {
    Ok(counts(ctx, sql).await?.first().copied().unwrap_or(0))
}

/// A zone's store in the session, or what to do when it is missing.
fn zone<'a>(session: &'a RoleSession, name: &str) -> Result<&'a ZoneStore, EtlError> {
    session.zones.get(name).ok_or_else(|| EtlError::Engine(format!("the {name} zone does not exist; run `dapgov apply`")))
}

/// Delete every object under `prefix` in a zone.
async fn clear_prefix(zone: &dapgov_inventory::target::ZoneStore, prefix: &str) -> Result<(), EtlError> {
    use futures::TryStreamExt;
    let p = StorePath::from(prefix);
    let objects: Vec<_> = zone.store.list(Some(&p)).try_collect().await.map_err(|e| EtlError::Engine(e.to_string()))?;
    for o in objects {
        zone.store.delete(&o.location).await.map_err(|e| EtlError::Engine(e.to_string()))?;
    }
    Ok(())
}

/// Crash-test hook, honoured by debug builds only: with `DAPGOV_FAILPOINT=<name>` the run
/// stops here until it is killed, so tests can prove a killed run leaves nothing visible.
fn failpoint(name: &str) {
    if cfg!(debug_assertions) && std::env::var("DAPGOV_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// Every non-null value of a text column, whatever its string layout.
fn string_values(batches: &[RecordBatch], col: &str) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let Some(a) = b.column_by_name(col) else { continue };
        let Ok(text) = datafusion::arrow::compute::cast(a, &DataType::Utf8) else { continue };
        if let Some(s) = text.as_string_opt::<i32>() {
            out.extend(s.iter().flatten().map(str::to_string));
        }
    }
    out
}

fn columns_of(schema: &datafusion::arrow::datatypes::Schema, skip: &[&str]) -> Vec<Column> {
    schema.fields().iter().filter(|f| !skip.contains(&f.name().as_str())).map(|f| Column { name: f.name().clone(), data_type: glue_type(f.data_type()).into() }).collect()
}

/// Write a DataFrame as Parquet under a fresh versioned prefix.
async fn write_parquet(df: DataFrame, url: &str, partition_by_year: bool) -> Result<(), EtlError> {
    let opts = if partition_by_year { DataFrameWriteOptions::new().with_partition_by(vec!["year".into()]) } else { DataFrameWriteOptions::new() };
    df.write_parquet(url, opts, None).await?;
    Ok(())
}

/// Write a DataFrame as Parquet, then its CSV copy from the Parquet written, so the query (and
/// any redaction in it) runs once.
async fn write_outputs(ctx: &SessionContext, df: DataFrame, url: &str, csv_url: &str, partition_by_year: bool) -> Result<(), EtlError> {
    let schema = df.schema().as_arrow().clone();
    write_parquet(df, url, partition_by_year).await?;
    let mut read = ParquetReadOptions::default();
    let file_schema = if partition_by_year {
        read = read.table_partition_cols(vec![("year".into(), DataType::Int32)]);
        datafusion::arrow::datatypes::Schema::new(schema.fields().iter().filter(|f| f.name() != "year").cloned().collect::<Vec<_>>())
    } else {
        schema
    };
    let written = ctx.read_parquet(url, read.schema(&file_schema)).await?;
    written.write_csv(csv_url, DataFrameWriteOptions::new(), None).await?;
    Ok(())
}

pub async fn run(session: &RoleSession, spec: &Spec, opts: RunOptions<'_>) -> Result<Manifest, EtlError> {
    let started = Instant::now();
    let names = Names::new(spec, session.principal_arn.split(':').nth(4).unwrap_or_default());
    let result = run_stages(session, spec, &names, &opts, started).await;
    let failed = result.is_err();
    let mut data = vec![MetricDatum { name: dapgov_inventory::target::ETL_FAILURE_METRIC.into(), value: f64::from(u8::from(failed)), unit: "Count".into(), dimensions: BTreeMap::new() }];
    let mut run_id = String::new();
    if let Ok(m) = &result {
        run_id = m.run_id.clone();
        if m.no_op {
            return result;
        }
        let raw = m.stages.get("raw").cloned().unwrap_or_default();
        let cur = m.stages.get("curated").cloned().unwrap_or_default();
        data.push(MetricDatum { name: "RowsIn".into(), value: raw.rows_in as f64, unit: "Count".into(), dimensions: BTreeMap::new() });
        data.push(MetricDatum { name: "RowsOut".into(), value: cur.rows_out as f64, unit: "Count".into(), dimensions: BTreeMap::new() });
        data.push(MetricDatum { name: "RowsQuarantined".into(), value: (raw.rows_quarantined + cur.rows_quarantined) as f64, unit: "Count".into(), dimensions: BTreeMap::new() });
        data.push(MetricDatum { name: "PiiFound".into(), value: m.pii_found.values().sum::<u64>() as f64, unit: "Count".into(), dimensions: BTreeMap::new() });
    }
    data.push(MetricDatum { name: "DurationSeconds".into(), value: started.elapsed().as_secs_f64(), unit: "Seconds".into(), dimensions: BTreeMap::new() });
    for d in &mut data {
        d.dimensions.insert("Project".into(), names.project.clone());
        d.dimensions.insert("Dataset".into(), opts.dataset.into());
        if !run_id.is_empty() {
            d.dimensions.insert("RunId".into(), run_id.clone());
        }
    }
    // The failure metric must reach the alarm even when the run failed.
    if let Err(e) = session.metrics.put(&spec.etl.metrics_namespace, &data).await {
        if !failed {
            return Err(e.into());
        }
        tracing::error!("could not publish run metrics: {e}");
    }
    result
}

async fn run_stages(session: &RoleSession, spec: &Spec, names: &Names, opts: &RunOptions<'_>, started: Instant) -> Result<Manifest, EtlError> {
    let ds = spec.datasets.get(opts.dataset).ok_or_else(|| EtlError::UnknownDataset(opts.dataset.into()))?;
    let origin = opts.input.display().to_string();
    let (raw, curated, trusted) = (zone(session, "raw")?, zone(session, "curated")?, zone(session, "trusted")?);
    let database = names.glue_database();

    let (sha, size) = hash_file(opts.input).await.map_err(|e| EtlError::input(&origin, format!("cannot read: {e}")))?;
    let config = serde_json::to_string(&(ds, &spec.trusted, &spec.etl, env!("CARGO_PKG_VERSION"))).expect("serialize");
    let mut run_id = hex::encode(Sha256::digest(format!("{sha}{config}").as_bytes()))[..16].to_string();
    let file_name = opts.input.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_else(|| "input".into());
    let manifest_path = |id: &str| StorePath::from(format!("_manifests/{}/{id}.json", opts.dataset));
    let mut m = Manifest {
        dataset: opts.dataset.into(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        input: InputInfo { file: file_name.clone(), sha256: sha.clone(), bytes: size, landing_object: String::new() },
        ..Default::default()
    };
    if curated.store.head(&manifest_path(&run_id)).await.is_ok() {
        if !opts.force {
            m.run_id = run_id;
            m.no_op = true;
            return Ok(m);
        }
        run_id = format!("{run_id}-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    }
    m.run_id = run_id.clone();

    // This run's output prefixes hold nothing published (its manifest does not exist), so
    // anything there is left by an attempt that was killed: clear it rather than read it back.
    let staging = format!("_staging/{}/v={run_id}/", opts.dataset);
    let mut leftovers = vec![
        (raw, staging.clone()),
        (raw, format!("{}/v={run_id}/", opts.dataset)),
        (raw, format!("quarantine/{}/v={run_id}/", opts.dataset)),
        (curated, format!("{}/v={run_id}/", opts.dataset)),
        (curated, format!("{}/v={run_id}-csv/", opts.dataset)),
    ];
    for t in spec.trusted.iter().filter(|t| t.inputs.iter().any(|i| i == opts.dataset)) {
        leftovers.push((trusted, format!("{}/v={run_id}/", t.name)));
        leftovers.push((trusted, format!("{}/v={run_id}-csv/", t.name)));
    }
    for (zone, prefix) in &leftovers {
        clear_prefix(zone, prefix).await?;
    }
    let result = run_from_landing(session, spec, ds, &database, opts, m, &staging, started).await;
    // Intermediate files are the run's own; they never outlive it, whatever its outcome.
    let cleared = clear_prefix(raw, &staging).await;
    let m = result?;
    cleared?;
    Ok(m)
}

/// sha256 and length of a file, read in blocks.
async fn hash_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf)?;
            if k == 0 {
                return Ok((hex::encode(h.finalize()), n));
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Copy a local file into a store object in blocks (a multipart upload for large files).
async fn upload(path: &std::path::Path, zone: &ZoneStore, key: &StorePath) -> Result<(), EtlError> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::open(path).await.map_err(|e| EtlError::input(&path.display().to_string(), format!("cannot read: {e}")))?;
    let mut writer = BufWriter::new(zone.store.clone(), key.clone());
    if let Err(e) = tokio::io::copy(&mut file, &mut writer).await {
        let _ = writer.abort().await;
        return Err(EtlError::Engine(format!("{}{key}: cannot store the input: {e}", zone.url)));
    }
    writer.shutdown().await.map_err(|e| EtlError::Engine(format!("{}{key}: cannot store the input: {e}", zone.url)))
}

/// A store object as a blocking reader, for parsers that pull bytes; runs on a blocking thread.
struct ObjectReader {
    runtime: tokio::runtime::Handle,
    stream: futures::stream::BoxStream<'static, datafusion::object_store::Result<bytes::Bytes>>,
    chunk: bytes::Bytes,
}

impl std::io::Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.chunk.is_empty() {
            match self.runtime.block_on(self.stream.next()) {
                Some(Ok(b)) => self.chunk = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// Records per batch written to the staged source: enough to amortise per-batch work, and
/// at most `INGEST_BATCH_VALUES` values, so a batch of wide rows stays a few megabytes too.
const INGEST_BATCH: usize = 32 * 1024;
const INGEST_BATCH_VALUES: usize = 256 * 1024;

fn ingest_batch(columns: usize) -> usize {
    (INGEST_BATCH_VALUES / columns.max(1)).clamp(64, INGEST_BATCH)
}

enum Ingested {
    Headers(Vec<String>),
    Records(Vec<ingest::Record>),
}

/// Stream the landing copy into a staged Parquet file of text columns (named `cols`, derived
/// from the header by `name_columns`), reading and writing at the same time, so a file of any
/// size passes through in bounded memory. Returns the columns and the reader's warnings.
async fn stage_source(
    landing: &ZoneStore,
    landing_key: &StorePath,
    raw: &ZoneStore,
    source_key: StorePath,
    origin: &str,
    name_columns: impl Fn(&[String]) -> Result<Vec<String>, EtlError>,
) -> Result<(Vec<String>, Vec<String>), EtlError> {
    use datafusion::parquet::arrow::AsyncArrowWriter;
    let stream = landing.store.get(landing_key).await.map_err(|e| EtlError::Engine(e.to_string()))?.into_stream();
    let reader = ObjectReader { runtime: tokio::runtime::Handle::current(), stream, chunk: bytes::Bytes::new() };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Ingested, EtlError>>(2);
    let origin_owned = origin.to_string();
    let parser = tokio::task::spawn_blocking(move || -> Vec<String> {
        let mut rows = match ingest::open(reader, &origin_owned) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return vec![];
            }
        };
        if tx.blocking_send(Ok(Ingested::Headers(rows.headers.clone()))).is_err() {
            return vec![];
        }
        let batch = ingest_batch(rows.headers.len());
        let mut chunk = Vec::with_capacity(batch);
        for r in &mut rows {
            match r {
                Ok(r) => chunk.push(r),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return rows.warnings();
                }
            }
            if chunk.len() == batch && tx.blocking_send(Ok(Ingested::Records(std::mem::take(&mut chunk)))).is_err() {
                return rows.warnings();
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(Ingested::Records(chunk)));
        }
        rows.warnings()
    });
    let cols = match rx.recv().await {
        Some(Ok(Ingested::Headers(h))) => name_columns(&h)?,
        Some(Err(e)) => return Err(e),
        _ => return Err(EtlError::Engine(format!("{origin}: the reader stopped before the header"))),
    };
    let schema = ingest::to_batch(&cols, &[])?.schema();
    let engine = |e: datafusion::parquet::errors::ParquetError| EtlError::Engine(format!("staging the input: {e}"));
    let props = datafusion::parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(query::engine_config().options().execution.parquet.max_row_group_size)).build();
    let mut writer = AsyncArrowWriter::try_new(BufWriter::new(raw.store.clone(), source_key), schema, Some(props)).map_err(engine)?;
    let mut records = 0usize;
    while let Some(msg) = rx.recv().await {
        let Ingested::Records(chunk) = msg? else { continue };
        records += chunk.len();
        writer.write(&ingest::to_batch(&cols, &chunk)?).await.map_err(engine)?;
    }
    writer.close().await.map_err(engine)?;
    let warnings = parser.await.map_err(|e| EtlError::Engine(e.to_string()))?;
    if records == 0 {
        return Err(EtlError::input(origin, "the file has a header but no data rows"));
    }
    Ok((cols, warnings))
}

/// Write a DataFrame as Parquet under `name` in the run's staging prefix and register it as a
/// table of that name, so later steps read it back instead of recomputing it. Returns its rows.
async fn stage(ctx: &SessionContext, raw: &ZoneStore, staging: &str, name: &str, df: DataFrame) -> Result<u64, EtlError> {
    let url = format!("{}{staging}{name}/", raw.url);
    let schema = df.schema().as_arrow().clone();
    let written = df.write_parquet(&url, DataFrameWriteOptions::new(), None).await?;
    let rows: u64 = written.iter().filter_map(|b| b.column(0).as_primitive_opt::<datafusion::arrow::datatypes::UInt64Type>().map(|c| c.iter().flatten().sum::<u64>())).sum();
    if rows == 0 {
        // Nothing was written, so there is no file to list: an empty table of the same shape.
        ctx.register_table(name, Arc::new(MemTable::try_new(Arc::new(schema), vec![vec![]])?))?;
    } else {
        ctx.register_parquet(name, &url, ParquetReadOptions::default()).await?;
    }
    Ok(rows)
}

/// Personal information found in every text value a query returns, counted by type. The
/// partitions are scanned in parallel, batch by batch.
async fn count_pii(ctx: &SessionContext, sql: &str) -> Result<BTreeMap<Entity, u64>, EtlError> {
    use futures::StreamExt;
    let streams = ctx.sql(sql).await?.execute_stream_partitioned().await?;
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut found: BTreeMap<Entity, u64> = BTreeMap::new();
                while let Some(b) = s.next().await {
                    let b = b?;
                    for c in b.columns() {
                        let text = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
                        for v in text.as_string::<i32>().iter().flatten() {
                            pii::count(v, &mut found);
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

#[allow(clippy::too_many_arguments)]
async fn run_from_landing(
    session: &RoleSession,
    spec: &Spec,
    ds: &Dataset,
    database: &str,
    opts: &RunOptions<'_>,
    mut m: Manifest,
    staging: &str,
    started: Instant,
) -> Result<Manifest, EtlError> {
    let origin = opts.input.display().to_string();
    let (landing, raw, curated, trusted) = (zone(session, "landing")?, zone(session, "raw")?, zone(session, "curated")?, zone(session, "trusted")?);
    let (run_id, sha, file_name) = (m.run_id.clone(), m.input.sha256.clone(), m.input.file.clone());
    let manifest_path = StorePath::from(format!("_manifests/{}/{run_id}.json", opts.dataset));

    // Landing: the file as received, never changed afterwards.
    (opts.progress)("landing: storing the input");
    let landing_key = StorePath::from(format!("{}/{}/{}", opts.dataset, sha, file_name));
    if landing.store.head(&landing_key).await.is_err() {
        upload(opts.input, landing, &landing_key).await?;
    }
    m.input.landing_object = format!("{}{}", landing.url, landing_key);

    // Ingest from the landing copy, as the role, into a staged table of text columns.
    (opts.progress)("ingest: reading the landing copy");
    let name_columns = |headers: &[String]| -> Result<Vec<String>, EtlError> {
        let cols: Vec<String> = ingest::snake_case_names(headers).into_iter().map(|c| ds.rename.get(&c).cloned().unwrap_or(c)).collect();
        match ds.required.iter().find(|r| !cols.contains(r)) {
            Some(req) => Err(EtlError::input(&origin, format!("required column `{req}` is missing; the file has columns {}", ingest::name_list(&cols)))),
            None => Ok(cols),
        }
    };
    let source_key = StorePath::from(format!("{staging}source/part-0.parquet"));
    let (cols, warnings) = stage_source(landing, &landing_key, raw, source_key, &origin, name_columns).await?;
    m.warnings.extend(warnings);

    let ctx = query::context(session)?;
    let key = session.keys.pseudonymisation_key().await?;
    let redactor = Arc::new(Redactor { policy: spec.etl.pii.clone(), key });
    register_udfs(&ctx, redactor.clone());
    ctx.register_parquet("source", &format!("{}{staging}source/", raw.url), ParquetReadOptions::default()).await?;

    // Raw: typed, with lineage; values that do not parse send their row to quarantine.
    (opts.progress)("raw: typing and lineage");
    let loaded_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let mut select = vec![];
    let mut type_fails = vec![];
    for c in &cols {
        match ds.columns.get(c) {
            Some(rule) if rule.data_type != "string" => {
                let e = typed_expr(c, &rule.data_type, ds);
                select.push(format!("{e} AS {}", ident(c)));
                type_fails.push((c.clone(), rule.data_type.clone(), format!("(NULLIF(TRIM(CAST({} AS VARCHAR)), '') IS NOT NULL AND ({e}) IS NULL)", ident(c))));
            }
            _ => select.push(format!("NULLIF(TRIM({0}), '') AS {0}", ident(c))),
        }
    }
    let lineage = format!("_source_row, {} AS _source_file, {} AS _source_sha256, CAST({} AS TIMESTAMP) AS _loaded_at", lit(&file_name), lit(&sha), lit(&loaded_at));
    let any_fail = if type_fails.is_empty() { "FALSE".to_string() } else { type_fails.iter().map(|f| f.2.clone()).collect::<Vec<_>>().join(" OR ") };
    let raw_df = ctx.sql(&format!("SELECT {}, {lineage} FROM source WHERE _shape IS NULL AND NOT ({any_fail})", select.join(", "))).await?;
    let raw_url = format!("{}{}/v={run_id}/", raw.url, opts.dataset);
    write_parquet(raw_df, &raw_url, false).await?;
    let reason = if type_fails.is_empty() {
        "''".to_string()
    } else {
        format!("CASE {} END", type_fails.iter().map(|(c, t, f)| format!("WHEN {f} THEN {}", lit(&format!("type: `{c}` is not a valid {t}")))).collect::<Vec<_>>().join(" "))
    };
    let [rows_in, q_shape, q_type] = counts(&ctx, &format!("SELECT COUNT(*), COUNT(_shape), COALESCE(SUM(CASE WHEN _shape IS NULL AND ({any_fail}) THEN 1 ELSE 0 END), 0) FROM source"))
        .await?[..]
    else {
        return Err(EtlError::Engine("counting the staged input returned no row".into()));
    };
    // Quarantine keeps the original text of every rejected row, with the rule and reason, and
    // for a ragged row the record as written.
    let quarantine_url = format!("{}quarantine/{}/v={run_id}/", raw.url, opts.dataset);
    let all_text = cols.iter().map(|c| format!("CAST({} AS VARCHAR) AS {}", ident(c), ident(c))).collect::<Vec<_>>().join(", ");
    let mut quarantine_parts = vec![
        format!("SELECT {all_text}, _source_row, 'type' AS _rule, {reason} AS _reason, CAST(NULL AS VARCHAR) AS _record FROM source WHERE _shape IS NULL AND ({any_fail})"),
        format!("SELECT {all_text}, _source_row, 'shape' AS _rule, _shape AS _reason, _record FROM source WHERE _shape IS NOT NULL"),
    ];
    if q_type > 0 {
        *m.quarantine_reasons.entry("type".into()).or_default() += q_type;
    }
    if q_shape > 0 {
        m.quarantine_reasons.insert("shape".into(), q_shape);
    }
    m.stages.insert("raw".into(), StageCounts { rows_in, rows_out: rows_in - q_type - q_shape, rows_quarantined: q_type + q_shape });

    let raw_table = GlueTable { name: format!("raw_{}", opts.dataset), location: raw_url.clone(), format: "parquet".into(), columns: vec![], partition_keys: vec![] };
    ctx.register_parquet("raw_new", &raw_url, ParquetReadOptions::default()).await?;
    let raw_schema = ctx.table("raw_new").await?.schema().as_arrow().clone();
    let raw_columns = columns_of(&raw_schema, &[]);

    // Schema drift against the previous load: reported, never silently shifted (columns are
    // always selected by name).
    let previous = session.catalog.tables(&database).await?.into_iter().find(|t| t.name == raw_table.name);
    if let Some(prev) = previous {
        let before: Vec<&Column> = prev.columns.iter().filter(|c| !c.name.starts_with('_')).collect();
        let after: Vec<&Column> = raw_columns.iter().filter(|c| !c.name.starts_with('_')).collect();
        for c in &after {
            match before.iter().find(|b| b.name == c.name) {
                None => m.schema_drift.push(format!("added column `{}` ({})", c.name, c.data_type)),
                Some(b) if b.data_type != c.data_type => m.schema_drift.push(format!("column `{}` changed type {} → {}", c.name, b.data_type, c.data_type)),
                _ => {}
            }
        }
        for b in &before {
            if !after.iter().any(|c| c.name == b.name) {
                m.schema_drift.push(format!("removed column `{}`", b.name));
            }
        }
        let order = |v: &[&Column], other: &[&Column]| v.iter().filter(|c| other.iter().any(|o| o.name == c.name)).map(|c| c.name.clone()).collect::<Vec<_>>();
        if order(&before, &after) != order(&after, &before) {
            m.schema_drift.push("columns were reordered (read by name, so no values shifted)".into());
        }
    }

    // Curated: rules, quarantine, derived metrics, PII handled by policy.
    (opts.progress)("curated: checking rules and keys");
    let mut checks: Vec<(String, String, String)> = vec![];
    for r in &ds.required {
        checks.push((format!("required:{r}"), format!("{} IS NULL", ident(r)), format!("required column `{r}` is empty")));
    }
    for (c, rule) in &ds.columns {
        if let Some(min) = rule.min {
            checks.push((format!("range:{c}"), format!("{} < {min}", ident(c)), format!("`{c}` is below its minimum {min}")));
        }
        if let Some(max) = rule.max {
            checks.push((format!("range:{c}"), format!("{} > {max}", ident(c)), format!("`{c}` is above its maximum {max}")));
        }
    }
    for r in ds.rules.iter().filter(|r| r.action == RuleAction::Reject) {
        checks.push((r.name.clone(), format!("NOT COALESCE(({}), FALSE)", r.check), format!("rule `{}` failed: {}", r.name, r.check)));
    }
    if !ds.unique_key.is_empty() {
        checks.push(("unique_key".into(), "_dup_rank > 1".into(), format!("duplicate key ({})", ds.unique_key.join(", "))));
    }
    // A check on an empty optional value is NULL; count it as passed, so no row is in neither
    // curated nor quarantine.
    for c in checks.iter_mut() {
        c.1 = format!("COALESCE(({}), FALSE)", c.1);
    }
    m.rules_applied = checks.iter().map(|c| c.0.clone()).chain(ds.rules.iter().filter(|r| r.action == RuleAction::Warn).map(|r| format!("warn:{}", r.name))).collect();
    m.rules_applied.dedup();
    // Duplicate keys: every row after the first (in source order) of a key that repeats. Found
    // by aggregating the key alone (spilled to disk when large); rows are joined only when a key
    // repeats, with the small side, the duplicates, as the side held in memory.
    let mut ranked = "SELECT *, 1 AS _dup_rank FROM raw_new".to_string();
    if !ds.unique_key.is_empty() {
        let keys = ds.unique_key.iter().map(|k| ident(k)).collect::<Vec<_>>();
        let repeated = ctx.sql(&format!("SELECT {k}, MIN(_source_row) AS _first FROM raw_new GROUP BY {k} HAVING COUNT(*) > 1", k = keys.join(", "))).await?;
        if stage(&ctx, raw, staging, "repeated_keys", repeated).await? > 0 {
            let on = keys.iter().map(|k| format!("d.{k} = r.{k}")).collect::<Vec<_>>().join(" AND ");
            let dups = ctx.sql(&format!("SELECT r._source_row FROM repeated_keys d JOIN raw_new r ON {on} WHERE r._source_row <> d._first")).await?;
            stage(&ctx, raw, staging, "duplicates", dups).await?;
            ranked = "SELECT r.*, CASE WHEN d._source_row IS NULL THEN 1 ELSE 2 END AS _dup_rank FROM duplicates d RIGHT JOIN raw_new r ON d._source_row = r._source_row".into();
        }
    }
    let check_rule = if checks.is_empty() { "CAST(NULL AS VARCHAR)".into() } else { format!("CASE {} END", checks.iter().map(|c| format!("WHEN {} THEN {}", c.1, lit(&c.0))).collect::<Vec<_>>().join(" ")) };
    let check_reason = if checks.is_empty() { "CAST(NULL AS VARCHAR)".into() } else { format!("CASE {} END", checks.iter().map(|c| format!("WHEN {} THEN {}", c.1, lit(&c.2))).collect::<Vec<_>>().join(" ")) };
    // Every row with the first rule it fails (NULL when it passes), evaluated once and staged.
    let checked = ctx
        .sql(&format!("SELECT *, {check_rule} AS _rule, {check_reason} AS _reason FROM ({ranked})"))
        .await?;
    stage(&ctx, raw, staging, "checked", checked).await?;
    let passes = "_rule IS NULL";
    let reasons = ctx.sql("SELECT _rule, COUNT(*) AS n FROM checked WHERE _rule IS NOT NULL GROUP BY 1 ORDER BY 1").await?.collect().await?;
    let mut q_rules = 0;
    for b in &reasons {
        let rule = b.column(0).as_string::<i32>();
        let n = b.column(1).as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for i in 0..b.num_rows() {
            m.quarantine_reasons.insert(rule.value(i).into(), n.value(i) as u64);
            q_rules += n.value(i) as u64;
        }
    }
    quarantine_parts.push(format!("SELECT {all_text}, _source_row, _rule, _reason, CAST(NULL AS VARCHAR) AS _record FROM checked WHERE _rule IS NOT NULL"));
    let qdf = ctx.sql(&quarantine_parts.join(" UNION ALL ")).await?;
    write_parquet(qdf, &quarantine_url, false).await?;
    let warn_rules: Vec<_> = ds.rules.iter().filter(|r| r.action == RuleAction::Warn).collect();
    if !warn_rules.is_empty() {
        let sums = warn_rules.iter().map(|r| format!("COALESCE(SUM(CASE WHEN COALESCE(({}), FALSE) THEN 0 ELSE 1 END), 0)", r.check)).collect::<Vec<_>>().join(", ");
        let n = counts(&ctx, &format!("SELECT {sums} FROM checked WHERE {passes}")).await?;
        for (r, n) in warn_rules.iter().zip(n) {
            m.warnings_by_rule.insert(r.name.clone(), n);
        }
    }

    // PII: a column the spec declares, or one its sample classifies, is protected whole;
    // free text and every other text column are scanned value by value.
    let string_cols: Vec<String> = raw_schema
        .fields()
        .iter()
        .filter(|f| is_text(f.data_type()) && !f.name().starts_with('_'))
        .map(|f| f.name().clone())
        .collect();
    let sample = ctx.sql(&format!("SELECT * FROM checked WHERE {passes} LIMIT 2000")).await?.collect().await?;
    let mut outputs_sql = vec![];
    let mut dropped: Vec<String> = ds.drop.clone();
    for c in &string_cols {
        let declared = ds.columns.get(c).and_then(|r| r.pii);
        let class = declared.or_else(|| {
            if ds.free_text.contains(c) {
                return None;
            }
            let values = string_values(&sample, c);
            pii::classify_column(c, &values.iter().map(String::as_str).collect::<Vec<_>>())
        });
        match class {
            Some(e) => {
                m.pii_columns.insert(c.clone(), e.name().into());
                if redactor.action(e) == pii::Action::Drop {
                    dropped.push(c.clone());
                } else {
                    outputs_sql.push((c.clone(), format!("dapgov_replace_value({}, {})", ident(c), lit(e.name()))));
                }
            }
            None => {
                if ds.free_text.contains(c) {
                    m.pii_columns.insert(c.clone(), "free text".into());
                }
                outputs_sql.push((c.clone(), format!("dapgov_redact_text({})", ident(c))));
            }
        }
    }
    (opts.progress)("curated: counting PII");
    // Count every finding in the rows that reach curated.
    let pii_found = if string_cols.is_empty() {
        BTreeMap::new()
    } else {
        count_pii(&ctx, &format!("SELECT {} FROM checked WHERE {passes}", string_cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "))).await?
    };
    m.pii_found = pii_found.iter().map(|(e, n)| (e.name().to_string(), *n)).collect();

    let mut select = vec![];
    for f in raw_schema.fields() {
        let n = f.name();
        if dropped.contains(n) {
            continue;
        }
        match outputs_sql.iter().find(|(c, _)| c == n) {
            Some((_, e)) => select.push(format!("{e} AS {}", ident(n))),
            None => select.push(ident(n)),
        }
    }
    let mut derived = String::new();
    for d in &ds.derive {
        derived.push_str(&format!(", {} AS {}", d.sql, ident(&d.name)));
    }
    let year = match &ds.date_column {
        Some(dc) => format!(", CAST(date_part('year', {}) AS INT) AS year", ident(dc)),
        None => String::new(),
    };
    (opts.progress)("curated: writing");
    let curated_df = ctx.sql(&format!("SELECT {}{derived}{year} FROM checked WHERE {passes}", select.join(", "))).await?;
    let rows_out = count(&ctx, &format!("SELECT COUNT(*) FROM checked WHERE {passes}")).await?;
    if rows_out + q_rules != m.stages["raw"].rows_out {
        return Err(EtlError::Engine(format!(
            "curated would keep {rows_out} and quarantine {q_rules} of {} rows; refusing to lose rows",
            m.stages["raw"].rows_out
        )));
    }
    let curated_url = format!("{}{}/v={run_id}/", curated.url, opts.dataset);
    let partitioned = ds.date_column.is_some();
    let curated_schema = curated_df.schema().as_arrow().clone();
    write_outputs(&ctx, curated_df, &curated_url, &format!("{}{}/v={run_id}-csv/", curated.url, opts.dataset), partitioned).await?;
    m.stages.insert("curated".into(), StageCounts { rows_in: m.stages["raw"].rows_out, rows_out, rows_quarantined: q_rules });
    m.schema = columns_of(&curated_schema, &[]);

    let part_keys = |p: bool| if p { vec![Column { name: "year".into(), data_type: "int".into() }] } else { vec![] };
    let curated_table = GlueTable {
        name: format!("curated_{}", opts.dataset),
        location: curated_url.clone(),
        format: "parquet".into(),
        columns: columns_of(&curated_schema, if partitioned { &["year"] } else { &[] }),
        partition_keys: part_keys(partitioned),
    };
    let quarantine_table = GlueTable {
        name: format!("quarantine_{}", opts.dataset),
        location: quarantine_url.clone(),
        format: "parquet".into(),
        // The values as received, then where they came from, why they were set aside and, for
        // a record that did not fit the header, the record as written.
        columns: cols
            .iter()
            .map(|c| Column { name: c.clone(), data_type: "string".into() })
            .chain([("_source_row", "bigint"), ("_rule", "string"), ("_reason", "string"), ("_record", "string")].map(|(n, t)| Column { name: n.into(), data_type: t.into() }))
            .collect(),
        partition_keys: vec![],
    };

    // Trusted: only when the gates pass.
    (opts.progress)("trusted: quality gates and consolidation");
    let completeness = if rows_in == 0 { 0.0 } else { rows_out as f64 / rows_in as f64 };
    let mut gate_failures = vec![];
    if completeness < spec.etl.min_completeness {
        gate_failures.push(format!("completeness {:.4} is below {} ({} of {} rows reached curated)", completeness, spec.etl.min_completeness, rows_out, rows_in));
    }
    (opts.progress)("trusted: scanning curated for PII left");
    let gate_ctx = query::context(session)?;
    let curated_check = GlueTable { name: curated_table.name.clone(), ..curated_table.clone() };
    query::register(&gate_ctx, &curated_check).await?;
    let leftover_cols: Vec<String> = curated_schema.fields().iter().filter(|f| is_text(f.data_type())).map(|f| f.name().clone()).collect();
    if !leftover_cols.is_empty() {
        let left = count_pii(&gate_ctx, &format!("SELECT {} FROM curated.{}", leftover_cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "), opts.dataset)).await?;
        if !left.is_empty() {
            gate_failures.push(format!("a second scan found PII left in curated: {}", left.iter().map(|(e, n)| format!("{} {n}", e.name())).collect::<Vec<_>>().join(", ")));
        }
        // The same column rules as the first pass: a column that still reads as personal
        // information, whole, was not protected.
        let sample = gate_ctx.sql(&format!("SELECT {} FROM curated.{} LIMIT 2000", leftover_cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "), opts.dataset)).await?.collect().await?;
        for c in &leftover_cols {
            let values = string_values(&sample, c);
            if let Some(e) = pii::classify_column(c, &values.iter().map(String::as_str).collect::<Vec<_>>()) {
                gate_failures.push(format!("a second scan found column `{c}` in curated holding {} values", e.name()));
            }
        }
    }

    (opts.progress)("publishing");
    failpoint("before-publish");
    // Publish raw, quarantine and curated by pointing the catalog at the new versions.
    let mut raw_table = raw_table;
    raw_table.columns = raw_columns;
    for t in [&raw_table, &quarantine_table, &curated_table] {
        session.catalog.put_table(&database, t).await?;
    }
    m.outputs.insert("raw".into(), raw_url);
    m.outputs.insert("quarantine".into(), quarantine_url);
    m.outputs.insert("curated".into(), curated_url);

    if gate_failures.is_empty() {
        let catalog_tables = session.catalog.tables(&database).await?;
        let tctx = query::context(session)?;
        for t in catalog_tables.iter().filter(|t| t.name.starts_with("curated_")) {
            query::register(&tctx, t).await?;
        }
        for t in spec.trusted.iter().filter(|t| t.inputs.iter().any(|i| i == opts.dataset)) {
            let missing: Vec<&String> = t.inputs.iter().filter(|i| !catalog_tables.iter().any(|c| c.name == format!("curated_{i}"))).collect();
            if !missing.is_empty() {
                m.trusted.insert(t.name.clone(), format!("waiting for curated input(s) {}", missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")));
                continue;
            }
            let df = query::read_only(&tctx, &t.sql, &session.role).await.map_err(|e| EtlError::Engine(format!("trusted table {}: {e}", t.name)))?;
            if let Some(rec) = &t.reconcile {
                tctx.deregister_table("result")?;
                tctx.register_table("result", df.clone().into_view())?;
                let b = query::read_only(&tctx, rec, &session.role).await?.collect().await?;
                let get = |name: &str| b.first().and_then(|b| b.column_by_name(name)).and_then(|a| a.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>().map(|p| p.value(0)));
                let (Some(expected), Some(actual)) = (get("expected"), get("actual")) else {
                    return Err(EtlError::Engine(format!("trusted table {}: reconcile must return DOUBLE columns `expected` and `actual`", t.name)));
                };
                let diff = if expected == 0.0 { actual.abs() } else { ((actual - expected) / expected).abs() };
                if diff > spec.etl.reconciliation_tolerance {
                    m.trusted.insert(t.name.clone(), format!("not written: reconciliation off by {:.4}% (expected {expected}, actual {actual})", diff * 100.0));
                    continue;
                }
            }
            let url = format!("{}{}/v={run_id}/", trusted.url, t.name);
            let schema = df.schema().as_arrow().clone();
            let by_year = t.partition_by_year && schema.field_with_name("year").is_ok();
            write_outputs(&tctx, df, &url, &format!("{}{}/v={run_id}-csv/", trusted.url, t.name), by_year).await?;
            session
                .catalog
                .put_table(&database, &GlueTable {
                    name: format!("trusted_{}", t.name),
                    location: url.clone(),
                    format: "parquet".into(),
                    columns: columns_of(&schema, if by_year { &["year"] } else { &[] }),
                    partition_keys: part_keys(by_year),
                })
                .await?;
            m.trusted.insert(t.name.clone(), "written".into());
            m.outputs.insert(format!("trusted.{}", t.name), url);
        }
    } else {
        for t in spec.trusted.iter().filter(|t| t.inputs.iter().any(|i| i == opts.dataset)) {
            m.trusted.insert(t.name.clone(), format!("not written: {}", gate_failures.join("; ")));
        }
    }

    m.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    m.duration_ms = started.elapsed().as_millis();
    let text = serde_json::to_vec_pretty(&m).expect("serialize");
    curated.store.put(&manifest_path, PutPayload::from(text)).await.map_err(|e| EtlError::Engine(e.to_string()))?;
    if !gate_failures.is_empty() {
        return Err(EtlError::Gate(gate_failures.join("; ")));
    }
    Ok(m)
}
