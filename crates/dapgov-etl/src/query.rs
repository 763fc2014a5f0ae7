//! A DataFusion session over the zones, as one role: tables `raw.NAME`, `curated.NAME`,
//! `trusted.NAME` and `quarantine.NAME` come from the catalog the ETL maintains.

use crate::EtlError;
use dapgov_inventory::target::RoleSession;
use dapgov_inventory::GlueTable;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::*;
use std::sync::Arc;

pub const SCHEMAS: [&str; 4] = ["raw", "curated", "trusted", "quarantine"];

/// The engine settings every dapgov query runs with.
pub fn engine_config() -> SessionConfig {
    let mut config = SessionConfig::new().with_information_schema(true).with_target_partitions(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    // Read text as Utf8 (not Utf8View) so the PII scan and UDFs see every string column.
    config.options_mut().execution.parquet.schema_force_view_types = false;
    // Smaller row groups than the default million rows: a writer split by year holds one open
    // row group per year, so this is what bounds the memory of a partitioned write.
    config.options_mut().execution.parquet.max_row_group_size = 64 * 1024;
    // Each open column writer keeps its dictionary (and an index of it) until the row group
    // ends; a small limit makes high-cardinality text (hashes, notes) fall back to plain
    // encoding early, while low-cardinality columns (queue, outcome) still get dictionaries.
    config.options_mut().execution.parquet.dictionary_page_size_limit = 64 * 1024;
    // One writer per output file, serialising its columns in turn: the column-parallel writer
    // buffers whole row groups per column, which is what its memory grows with.
    config.options_mut().execution.parquet.allow_single_file_parallelism = false;
    config
}

/// What the engine may hold in memory before sorts, joins and aggregations spill to disk, so
/// the memory a run needs does not grow with its input.
pub const MEMORY_LIMIT: usize = 512 * 1024 * 1024;

/// A context with dapgov's settings and a memory pool of `MEMORY_LIMIT`.
pub fn bounded_context() -> Result<SessionContext, EtlError> {
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(MEMORY_LIMIT))).build_arc()?;
    Ok(SessionContext::new_with_config_rt(engine_config(), runtime))
}

/// A context with every zone store the role has registered under its `dapgov://bucket` URL.
pub fn context(session: &RoleSession) -> Result<SessionContext, EtlError> {
    let ctx = bounded_context()?;
    for z in session.zones.values() {
        let url = url::Url::parse(&z.url).map_err(|e| EtlError::Engine(e.to_string()))?;
        ctx.runtime_env().register_object_store(&url, z.store.clone());
    }
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    for s in SCHEMAS {
        catalog.register_schema(s, Arc::new(MemorySchemaProvider::new())).map_err(EtlError::from)?;
    }
    Ok(ctx)
}

/// Register a catalog table as `schema.name` (the table's name is `schema_name`). The schema
/// comes from the catalog, so nothing is read until a query scans the table: a role that may
/// not read it gets the access error then, naming the action, resource and role.
pub async fn register(ctx: &SessionContext, t: &GlueTable) -> Result<(), EtlError> {
    let Some((schema, name)) = t.name.split_once('_') else { return Ok(()) };
    let url = ListingTableUrl::parse(&t.location)?;
    let mut opts = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if !t.partition_keys.is_empty() {
        opts = opts.with_table_partition_cols(t.partition_keys.iter().map(|c| (c.name.clone(), arrow_type(&c.data_type))).collect());
    }
    let config = ListingTableConfig::new(url).with_listing_options(opts).with_schema(file_schema(t));
    let table = ListingTable::try_new(config)?;
    ctx.register_table(format!("{schema}.{name}"), Arc::new(table))?;
    Ok(())
}

/// A context with every table of the catalog registered.
pub async fn catalog_context(session: &RoleSession, database: &str) -> Result<SessionContext, EtlError> {
    let ctx = context(session)?;
    for t in &session.catalog.tables(database).await? {
        register(&ctx, t).await?;
    }
    Ok(ctx)
}

pub fn arrow_type(glue: &str) -> DataType {
    match glue {
        "bigint" => DataType::Int64,
        "int" => DataType::Int32,
        "double" => DataType::Float64,
        "date" => DataType::Date32,
        "boolean" => DataType::Boolean,
        "timestamp" => DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None),
        _ => DataType::Utf8,
    }
}

fn file_schema(t: &GlueTable) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    Arc::new(Schema::new(t.columns.iter().map(|c| Field::new(&c.name, arrow_type(&c.data_type), true)).collect::<Vec<_>>()))
}

/// DataFusion wraps store errors in layers of context; keep the part a user can act on.
pub fn clean_error(e: &datafusion::error::DataFusionError) -> String {
    let s = e.to_string();
    if let Some(i) = s.find("access denied") {
        let mut line = s[i..].lines().next().unwrap_or_default().to_string();
        while line.ends_with(')') && line.matches(')').count() > line.matches('(').count() {
            line.pop();
        }
        return line;
    }
    s
}

/// Run SQL as the session's role.
pub async fn sql(session: &RoleSession, database: &str, text: &str) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, EtlError> {
    let ctx = catalog_context(session, database).await?;
    let df = ctx.sql(text).await?;
    Ok(df.collect().await?)
}
