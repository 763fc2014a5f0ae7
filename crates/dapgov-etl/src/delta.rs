//! Tables that keep every delivery: Delta Lake tables (delta-rs) written and read through the
//! role's own zone stores, so every byte of a table, its log included, passes the role's
//! policies, the bucket's encryption and the trail.
//!
//! A commit is one atomic "create if absent" of the next log entry (`PutMode::Create`: a
//! hard link on the local target, `If-None-Match: *` on S3), so of two writers racing for a
//! version one wins and the other retries on the new version, and a crash leaves the table at
//! its last committed version.

use crate::EtlError;
use dapgov_target::ZoneStore;
use datafusion::prelude::*;
use deltalake_core::kernel::transaction::CommitProperties;
use deltalake_core::logstore::{
    LogStoreFactory, StorageConfig, default_logstore, logstore_factories,
};
use deltalake_core::operations::write::SchemaMode;
use deltalake_core::protocol::SaveMode;
use deltalake_core::{DeltaTable, DeltaTableBuilder, DeltaTableError};
use std::sync::{Arc, Once};

/// The catalog's `format` of a table stored as a Delta table.
pub const FORMAT: &str = dapgov_inventory::DELTA_FORMAT;

/// The commit key under which a load's provenance is kept in the table's history.
pub const LOAD_INFO: &str = "dapgov";

/// How a load changes a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Add the rows; keep all others.
    Append,
    /// Replace the rows a predicate selects (SQL over the table's columns) with the load's,
    /// which must all satisfy it.
    ReplaceWhere(String),
    /// Replace the whole table.
    Replace,
}

/// Stores whose `put` with `PutMode::Create` is atomic take the default log store: the
/// project's governed local store and S3 (conditional writes).
struct ConditionalPutLogStores;

impl LogStoreFactory for ConditionalPutLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake_core::logstore::ObjectStoreRef,
        root_store: deltalake_core::logstore::ObjectStoreRef,
        location: &url::Url,
        options: &StorageConfig,
    ) -> deltalake_core::DeltaResult<Arc<dyn deltalake_core::logstore::LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_schemes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for scheme in ["dapgov://", "s3://"] {
            logstore_factories().insert(
                url::Url::parse(scheme).expect("a valid URL"),
                Arc::new(ConditionalPutLogStores),
            );
        }
    });
}

fn delta_error(table: &str, e: DeltaTableError) -> EtlError {
    use deltalake_core::kernel::transaction::TransactionError;
    match e {
        DeltaTableError::Transaction {
            source:
                source @ (TransactionError::CommitConflict(_) | TransactionError::MaxCommitAttempts(_)),
        } => EtlError::Conflict(format!(
            "table {table}: a concurrent load changed what this one read: {source}"
        )),
        e => EtlError::Engine(format!("table {table}: {e}")),
    }
}

/// The URL of a table at `path` in a zone.
pub fn table_url(zone: &ZoneStore, path: &str) -> String {
    format!("{}{}/", zone.url, path.trim_matches('/'))
}

/// Open the table at `path` in the zone, through the zone's store. A table not created yet
/// opens empty (`version()` is `None`).
pub async fn open(zone: &ZoneStore, path: &str) -> Result<DeltaTable, EtlError> {
    open_url(zone.store.clone(), &table_url(zone, path)).await
}

/// Open the table at `url` through `store` (the store of the table's bucket).
pub async fn open_url(
    store: Arc<dyn datafusion::object_store::ObjectStore>,
    url: &str,
) -> Result<DeltaTable, EtlError> {
    register_schemes();
    let url = url.to_string();
    let location = url::Url::parse(&url).map_err(|e| EtlError::Engine(format!("{url}: {e}")))?;
    let mut table = DeltaTableBuilder::from_url(location.clone())
        .map_err(|e| delta_error(&url, e))?
        .with_storage_backend(store, location)
        .build()
        .map_err(|e| delta_error(&url, e))?;
    match table.load().await {
        Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(table),
        Err(e) => Err(delta_error(&url, e)),
    }
}

/// A delivery's application transaction (Delta's `txn` action): a table takes generation
/// `version` of delivery `app_id` (`dapgov:<dataset>:<sha256>`) at most once, whichever
/// run commits it first; a second run of the same generation commits nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTxn {
    pub app_id: String,
    pub version: i64,
}

impl DeliveryTxn {
    pub fn app_id(dataset: &str, sha256: &str) -> String {
        format!("dapgov:{dataset}:{sha256}")
    }
}

/// What a commit of a delivery did to a table.
pub enum Delivered {
    Committed(DeltaTable),
    /// The table already holds this generation of the delivery (another run committed it).
    AlreadyTaken,
}

/// The newest generation of delivery `app_id` the table has taken (`None`: never).
pub async fn delivery_version(table: &DeltaTable, app_id: &str) -> Result<Option<i64>, EtlError> {
    let name = table.table_url().to_string();
    let Ok(state) = table.snapshot() else {
        return Ok(None);
    };
    state
        .transaction_version(table.log_store().as_ref(), app_id)
        .await
        .map_err(|e| delta_error(&name, e))
}

/// Commit a delivery to the table once: nothing when the table already holds this
/// generation, read before writing or found by the commit's conflict check (a concurrent
/// commit of the same delivery is a no-op, not a failure).
pub async fn write_delivery(
    ctx: &SessionContext,
    table: DeltaTable,
    df: DataFrame,
    load: &Load,
    partition_by: &[String],
    info: &serde_json::Value,
    txn: &DeliveryTxn,
) -> Result<Delivered, EtlError> {
    use deltalake_core::kernel::transaction::{CommitConflictError, TransactionError};
    let name = table.table_url().to_string();
    if delivery_version(&table, &txn.app_id)
        .await?
        .is_some_and(|v| v >= txn.version)
    {
        return Ok(Delivered::AlreadyTaken);
    }
    let properties = recording(info).with_application_transaction(
        deltalake_core::kernel::Transaction::new(&txn.app_id, txn.version),
    );
    match write_with(ctx, table, df, load, partition_by, properties).await {
        Ok(t) => Ok(Delivered::Committed(t)),
        Err(DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction),
        }) => Ok(Delivered::AlreadyTaken),
        Err(e) => Err(delta_error(&name, e)),
    }
}

/// Commit a DataFrame of the run's session to the table: the query runs once, streamed into
/// the table's files, and the commit records `info` (the load's provenance) in the history.
/// Concurrent writers of other days retry on the new version; an overlapping one fails.
pub async fn write(
    ctx: &SessionContext,
    table: DeltaTable,
    df: DataFrame,
    load: &Load,
    partition_by: &[String],
    info: &serde_json::Value,
) -> Result<DeltaTable, EtlError> {
    let name = table.table_url().to_string();
    write_with(ctx, table, df, load, partition_by, recording(info))
        .await
        .map_err(|e| delta_error(&name, e))
}

async fn write_with(
    ctx: &SessionContext,
    table: DeltaTable,
    df: DataFrame,
    load: &Load,
    partition_by: &[String],
    properties: CommitProperties,
) -> Result<DeltaTable, DeltaTableError> {
    // A load may add columns (merged into the table's schema); a whole-table replace takes
    // the load's schema.
    let (mode, schema_mode, predicate) = match load {
        Load::Append => (SaveMode::Append, SchemaMode::Merge, None),
        Load::ReplaceWhere(p) => (SaveMode::Overwrite, SchemaMode::Merge, Some(p.clone())),
        Load::Replace => (SaveMode::Overwrite, SchemaMode::Overwrite, None),
    };
    let mut builder = table
        .write(vec![])
        .with_input_plan(df.logical_plan().clone())
        .with_session_state(Arc::new(with_delta_planner(ctx)))
        .with_session_fallback_policy(
            deltalake_core::delta_datafusion::SessionFallbackPolicy::RequireSessionState,
        )
        .with_save_mode(mode)
        .with_schema_mode(schema_mode)
        .with_partition_columns(partition_by.to_vec())
        .with_commit_properties(properties);
    if let Some(p) = predicate {
        builder = builder.with_replace_where(p);
    }
    builder.await
}

/// The run's session (its functions, tables, stores and memory pool) with the planner for
/// the plan nodes a Delta write adds.
fn with_delta_planner(ctx: &SessionContext) -> datafusion::execution::SessionState {
    datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
        .with_query_planner(deltalake_core::delta_datafusion::planner::DeltaPlanner::new())
        .build()
}

/// One commit of a table's history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Commit {
    pub version: u64,
    pub time: String,
    pub operation: String,
    /// What dapgov recorded with the commit (run, input, rows, role).
    pub load: serde_json::Value,
    pub rows_added: Option<u64>,
    pub rows_removed: Option<u64>,
}

/// The table's commits, oldest first.
pub async fn history(table: &DeltaTable) -> Result<Vec<Commit>, EtlError> {
    use futures::TryStreamExt;
    let name = table.table_url().to_string();
    let Some(newest) = table.version() else {
        return Ok(vec![]);
    };
    let infos: Vec<_> = table
        .history(None)
        .try_collect()
        .await
        .map_err(|e| delta_error(&name, e))?;
    // Newest first, one per version. The log is listed as it is now, so a commit made since
    // `table` was opened is listed too: the newest listed version may be past `newest`.
    let newest = newest.max(infos.len().saturating_sub(1) as u64);
    let mut out: Vec<Commit> = infos
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let metric = |k: &str| {
                c.info
                    .get("operationMetrics")
                    .and_then(|m| m.get(k))
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            };
            Commit {
                version: newest - i as u64,
                time: c
                    .timestamp
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default(),
                operation: c.operation.clone().unwrap_or_default(),
                load: c
                    .info
                    .get(LOAD_INFO)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null),
                rows_added: metric("num_added_rows"),
                rows_removed: metric("num_removed_rows")
                    .or_else(|| metric("num_deleted_rows"))
                    .or_else(|| c.info.get(LOAD_INFO)?.get("rows_replaced")?.as_u64()),
            }
        })
        .collect();
    out.reverse();
    Ok(out)
}

/// The newest commit's provenance (`None` for a table not created yet).
async fn newest_commit(
    table: &DeltaTable,
) -> Result<Option<deltalake_core::kernel::CommitInfo>, EtlError> {
    use futures::TryStreamExt;
    if table.version().is_none() {
        return Ok(None);
    }
    let name = table.table_url().to_string();
    let newest: Vec<_> = table
        .history(Some(1))
        .try_collect()
        .await
        .map_err(|e| delta_error(&name, e))?;
    Ok(newest.into_iter().next())
}

/// How many times the newest commit was retried because another writer committed first.
pub async fn retries_of_newest(table: &DeltaTable) -> Result<u64, EtlError> {
    let newest = newest_commit(table).await?;
    Ok(newest
        .as_ref()
        .and_then(|c| c.info.get("operationMetrics"))
        .and_then(|m| m.get("num_retries"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0))
}

/// What the newest commit recorded of its load (`None` for a table not created yet, or a
/// commit dapgov did not make).
pub async fn latest_info(table: &DeltaTable) -> Result<Option<serde_json::Value>, EtlError> {
    Ok(newest_commit(table)
        .await?
        .and_then(|c| c.info.get(LOAD_INFO).cloned()))
}

/// Commit properties that record `info` (a load's provenance) in the table's history.
fn recording(info: &serde_json::Value) -> CommitProperties {
    CommitProperties::default().with_metadata([(LOAD_INFO.to_string(), info.clone())])
}

/// Restore the table to `version` as a new commit (the history keeps what it undoes).
pub async fn restore(
    table: DeltaTable,
    version: u64,
    info: &serde_json::Value,
) -> Result<DeltaTable, EtlError> {
    let name = table.table_url().to_string();
    let newest = table
        .version()
        .ok_or_else(|| EtlError::Engine(format!("table {name} has no version to restore")))?;
    if !(0..=newest).contains(&version) {
        return Err(EtlError::Engine(format!(
            "table {name} has versions 0 to {newest}; there is no version {version}"
        )));
    }
    let (table, _) = table
        .restore()
        .with_version_to_restore(version)
        .with_commit_properties(recording(info))
        .await
        .map_err(|e| delta_error(&name, e))?;
    Ok(table)
}

/// What maintenance did to one table.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Maintenance {
    /// Small files rewritten into larger ones, and the files they became.
    pub files_compacted: u64,
    pub files_written: u64,
    /// Files no version within the retention references any more, removed.
    pub files_removed: u64,
}

/// Compact the table's small files, then remove the files that no version younger than
/// `retention_days` references (and files a killed writer left without a commit).
pub async fn maintain(
    table: DeltaTable,
    retention_days: u32,
    info: &serde_json::Value,
) -> Result<(DeltaTable, Maintenance), EtlError> {
    let name = table.table_url().to_string();
    let (table, compacted) = table
        .optimize()
        .with_commit_properties(recording(info))
        .await
        .map_err(|e| delta_error(&name, e))?;
    let (table, vacuumed) = table
        .vacuum()
        .with_retention_period(chrono::Duration::days(i64::from(retention_days)))
        // The spec's window, not delta-rs's seven-day floor, decides: it may be shorter.
        .with_enforce_retention_duration(false)
        .with_mode(deltalake_core::operations::vacuum::VacuumMode::Full)
        .with_commit_properties(recording(info))
        .await
        .map_err(|e| delta_error(&name, e))?;
    Ok((
        table,
        Maintenance {
            files_compacted: compacted.num_files_removed,
            files_written: compacted.num_files_added,
            files_removed: vacuumed.files_deleted.len() as u64,
        },
    ))
}

/// The table as a DataFusion table, at its newest version or at `version`.
pub async fn provider(
    mut table: DeltaTable,
    version: Option<u64>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, EtlError> {
    let name = table.table_url().to_string();
    if let Some(v) = version {
        table
            .load_version(v)
            .await
            .map_err(|e| delta_error(&name, e))?;
    }
    table
        .table_provider()
        .await
        .map_err(|e| EtlError::Engine(format!("table {name}: {e}")))
}

/// A catalog table stored as a Delta table, opened only when a query scans it: a role that may
/// not read the table gets its access error then, and only then, and a query that does not
/// touch it reads nothing of it. Columns come out with the catalog's names and types.
#[derive(Debug)]
pub struct CatalogDeltaTable {
    pub url: String,
    pub store: Arc<dyn datafusion::object_store::ObjectStore>,
    /// The columns the catalog declares, partition columns included.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    /// Read this version instead of the newest (time travel).
    pub version: Option<u64>,
}

#[async_trait::async_trait]
impl datafusion::catalog::TableProvider for CatalogDeltaTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        // Inexact: the table's scan may use a filter to skip data, and the engine applies it
        // again, so no filter is lost where the table cannot take it.
        Ok(vec![datafusion::logical_expr::TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::error::DataFusionError;
        use datafusion::physical_expr::expressions::{CastExpr, Column};
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let out_schema = Arc::new(self.schema.project(&wanted)?);
        let table = open_url(self.store.clone(), &self.url)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if table.version().is_none() {
            return Ok(Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
                out_schema,
            )));
        }
        let inner = provider(table, self.version)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let inner_schema = inner.schema();
        let mut inner_projection = Vec::with_capacity(wanted.len());
        for f in out_schema.fields() {
            inner_projection.push(inner_schema.index_of(f.name()).map_err(|_| {
                DataFusionError::Plan(format!(
                    "table {}: the catalog declares column `{}`, which the table does not have",
                    self.url,
                    f.name()
                ))
            })?);
        }
        // Filters over columns the table stores as the catalog declares them reach the table's
        // own scan, which skips partitions and files by them; all are applied again above.
        let same_type = |c: &datafusion::common::Column| match (
            self.schema.field_with_name(&c.name),
            inner_schema.field_with_name(&c.name),
        ) {
            (Ok(a), Ok(b)) => a.data_type() == b.data_type(),
            _ => false,
        };
        let candidates: Vec<&Expr> = filters
            .iter()
            .filter(|f| f.column_refs().into_iter().all(same_type))
            .collect();
        let support = inner.supports_filters_pushdown(&candidates)?;
        let pushed: Vec<Expr> = candidates
            .into_iter()
            .zip(support)
            .filter(|(_, s)| {
                *s != datafusion::logical_expr::TableProviderFilterPushDown::Unsupported
            })
            .map(|(f, _)| f.clone())
            .collect();
        let plan = inner
            .scan(state, Some(&inner_projection), &pushed, limit)
            .await?;
        let exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = out_schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let column: Arc<dyn datafusion::physical_expr::PhysicalExpr> =
                    Arc::new(Column::new(f.name(), i));
                let stored = plan.schema().field(i).data_type().clone();
                let expr: Arc<dyn datafusion::physical_expr::PhysicalExpr> =
                    if &stored == f.data_type() {
                        column
                    } else {
                        Arc::new(CastExpr::new(column, f.data_type().clone(), None))
                    };
                (expr, f.name().clone())
            })
            .collect();
        Ok(Arc::new(
            datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, plan)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    fn zone() -> ZoneStore {
        ZoneStore {
            bucket: "b".into(),
            url: "memory://b/".into(),
            store: Arc::new(datafusion::object_store::memory::InMemory::new()),
        }
    }

    fn context(zone: &ZoneStore) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.runtime_env()
            .register_object_store(&url::Url::parse(&zone.url).unwrap(), zone.store.clone());
        ctx
    }

    /// Days `first..=last` of January 2024 with `calls` each.
    async fn days(ctx: &SessionContext, first: u32, last: u32, calls: i64) -> DataFrame {
        let rows: Vec<String> = (first..=last)
            .map(|d| format!("(DATE '2024-01-{d:02}', CAST({calls} AS BIGINT), 2024)"))
            .collect();
        ctx.sql(&format!(
            "SELECT column1 AS date, column2 AS calls, column3 AS year FROM (VALUES {})",
            rows.join(", ")
        ))
        .await
        .unwrap()
    }

    fn replace_days(first: u32, last: u32) -> Load {
        Load::ReplaceWhere(format!(
            "date IN ({})",
            (first..=last)
                .map(|d| format!("DATE '2024-01-{d:02}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// (days, total calls) of the table's newest version.
    async fn totals(ctx: &SessionContext, zone: &ZoneStore) -> (i64, i64) {
        let table = open(zone, "calls").await.unwrap();
        let df = ctx
            .read_table(provider(table, None).await.unwrap())
            .unwrap();
        let b = df
            .aggregate(
                vec![],
                vec![
                    datafusion::functions_aggregate::expr_fn::count(col("date")),
                    datafusion::functions_aggregate::expr_fn::sum(col("calls")),
                ],
            )
            .unwrap()
            .collect()
            .await
            .unwrap();
        let n = b[0]
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0);
        let s = b[0]
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0);
        (n, s)
    }

    async fn load(
        ctx: &SessionContext,
        zone: &ZoneStore,
        first: u32,
        last: u32,
        calls: i64,
        run: &str,
    ) {
        let table = open(zone, "calls").await.unwrap();
        let df = days(ctx, first, last, calls).await;
        write(
            ctx,
            table,
            df,
            &replace_days(first, last),
            &["year".into()],
            &serde_json::json!({"run_id": run}),
        )
        .await
        .unwrap();
    }

    /// A commit made after a table was opened (a concurrent load) is in its history under its
    /// own version; the history was numbered from the opened version and underflowed.
    #[tokio::test]
    async fn history_counts_a_commit_made_after_the_table_was_opened() {
        let (zone, ctx) = {
            let z = zone();
            let c = context(&z);
            (z, c)
        };
        load(&ctx, &zone, 1, 7, 10, "a").await;
        let opened_before = open(&zone, "calls").await.unwrap();
        load(&ctx, &zone, 8, 14, 10, "b").await;
        let commits = history(&opened_before).await.unwrap();
        let versions: Vec<u64> = commits.iter().map(|c| c.version).collect();
        assert_eq!(versions, vec![0, 1]);
        assert_eq!(commits[1].load["run_id"], "b");
    }

    #[tokio::test]
    async fn deliveries_accumulate_replace_their_days_and_roll_back() {
        let (zone, ctx) = {
            let z = zone();
            let c = context(&z);
            (z, c)
        };
        load(&ctx, &zone, 1, 7, 10, "a").await;
        load(&ctx, &zone, 8, 14, 10, "b").await;
        assert_eq!(totals(&ctx, &zone).await, (14, 140));
        // A corrected delivery of days 8 to 14 replaces exactly those days.
        load(&ctx, &zone, 8, 14, 20, "b2").await;
        assert_eq!(totals(&ctx, &zone).await, (14, 210));
        let table = open(&zone, "calls").await.unwrap();
        let h = history(&table).await.unwrap();
        assert_eq!(
            h.iter()
                .map(|c| (c.version, c.load["run_id"].as_str().unwrap_or_default()))
                .collect::<Vec<_>>(),
            vec![(0, "a"), (1, "b"), (2, "b2")]
        );
        assert_eq!(h[2].rows_added, Some(7));
        // Back to the first load: its seven days, as a new version.
        let table = restore(table, 0, &serde_json::json!({"rollback_to": 0}))
            .await
            .unwrap();
        assert_eq!(table.version(), Some(3));
        assert_eq!(totals(&ctx, &zone).await, (7, 70));
        // Rows outside the days a delivery names are refused, and nothing is committed.
        let table = open(&zone, "calls").await.unwrap();
        let df = days(&ctx, 1, 3, 99).await;
        let e = write(
            &ctx,
            table,
            df,
            &replace_days(1, 2),
            &["year".into()],
            &serde_json::json!({}),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("table memory://b/calls/"), "{e}");
        assert_eq!(open(&zone, "calls").await.unwrap().version(), Some(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_loads_of_different_days_both_land() {
        let zone = zone();
        let ctx = context(&zone);
        load(&ctx, &zone, 1, 1, 1, "first").await;
        let loads: Vec<_> = [(2u32, 8u32), (9, 15)]
            .into_iter()
            .map(|(a, b)| {
                let (zone, ctx) = (zone.clone(), ctx.clone());
                tokio::spawn(async move { load(&ctx, &zone, a, b, 10, &format!("{a}")).await })
            })
            .collect();
        for l in loads {
            l.await.unwrap();
        }
        assert_eq!(totals(&ctx, &zone).await, (15, 141));
        assert_eq!(open(&zone, "calls").await.unwrap().version(), Some(2));
    }

    #[tokio::test]
    async fn a_catalog_table_filters_and_casts_to_the_declared_types() {
        let zone = zone();
        let ctx = context(&zone);
        load(&ctx, &zone, 1, 14, 10, "a").await;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        // The catalog declares `year` as int (the table holds bigint) and lists it last.
        let schema = Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, true),
            Field::new("calls", DataType::Int64, true),
            Field::new("year", DataType::Int32, true),
        ]));
        let table = CatalogDeltaTable {
            url: table_url(&zone, "calls"),
            store: zone.store.clone(),
            schema,
            version: None,
        };
        ctx.register_table("t", Arc::new(table)).unwrap();
        let b = ctx.sql("SELECT COUNT(*) AS n, MIN(year) AS y FROM t WHERE year = 2024 AND date >= DATE '2024-01-05' AND calls > 5").await.unwrap().collect().await.unwrap();
        assert_eq!(
            b[0].column(0)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(0),
            10
        );
        assert_eq!(b[0].column(1).data_type(), &DataType::Int32);
        assert_eq!(
            b[0].column(1)
                .as_primitive::<datafusion::arrow::datatypes::Int32Type>()
                .value(0),
            2024
        );
    }

    #[tokio::test]
    async fn a_table_not_created_yet_opens_empty() {
        let table = open(&zone(), "nothing").await.unwrap();
        assert_eq!(table.version(), None);
        assert!(history(&table).await.unwrap().is_empty());
    }
}
