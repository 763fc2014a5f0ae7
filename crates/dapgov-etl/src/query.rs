//! A DataFusion session over the zones, as one role: tables `raw.NAME`, `curated.NAME`,
//! `trusted.NAME` and `quarantine.NAME` come from the catalog the ETL maintains.

use crate::EtlError;
use dapgov_inventory::GlueTable;
use dapgov_target::RoleSession;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::*;
use datafusion::sql::parser::Statement as DFStatement;
use std::sync::Arc;

pub const SCHEMAS: [&str; 4] = ["raw", "curated", "trusted", "quarantine"];

/// The engine settings every dapgov query runs with.
pub fn engine_config() -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        );
    // Read text as Utf8 (not Utf8View) so the PII scan and UDFs see every string column.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // Smaller row groups than the default million rows: a writer split by year holds one open
    // row group per year, so this is what bounds the memory of a partitioned write.
    config.options_mut().execution.parquet.max_row_group_size = 64 * 1024;
    // Each open column writer keeps its dictionary (and an index of it) until the row group
    // ends; a small limit makes high-cardinality text (hashes, notes) fall back to plain
    // encoding early, while low-cardinality columns (queue, outcome) still get dictionaries.
    config
        .options_mut()
        .execution
        .parquet
        .dictionary_page_size_limit = 64 * 1024;
    // One writer per output file, serialising its columns in turn: the column-parallel writer
    // buffers whole row groups per column, which is what its memory grows with.
    config
        .options_mut()
        .execution
        .parquet
        .allow_single_file_parallelism = false;
    config
}

/// What the engine may hold in memory before sorts, joins and aggregations spill to disk, so
/// the memory a run needs does not grow with its input.
pub const MEMORY_LIMIT: usize = 512 * 1024 * 1024;

/// A context with dapgov's settings and a memory pool of `MEMORY_LIMIT`.
pub fn bounded_context() -> Result<SessionContext, EtlError> {
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(MEMORY_LIMIT)))
        .build_arc()?;
    Ok(SessionContext::new_with_config_rt(engine_config(), runtime))
}

/// A bounded context that reaches no file: the engine's default local file system store is
/// removed, so no table, not even one a statement managed to define, reads or writes a path
/// the role's stores do not govern.
pub fn sealed_context() -> Result<SessionContext, EtlError> {
    let ctx = bounded_context()?;
    let local_files = url::Url::parse("file://").expect("a valid URL");
    ctx.runtime_env().deregister_object_store(&local_files)?;
    Ok(ctx)
}

/// A sealed context with every zone store the role has, registered under its URL
/// (`dapgov://bucket/` locally, `s3://bucket/` on aws).
pub fn context(session: &RoleSession) -> Result<SessionContext, EtlError> {
    let ctx = sealed_context()?;
    for z in session.zones.values() {
        let url = url::Url::parse(&z.url).map_err(|e| EtlError::Engine(e.to_string()))?;
        ctx.runtime_env()
            .register_object_store(&url, z.store.clone());
    }
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    for s in SCHEMAS {
        catalog
            .register_schema(s, Arc::new(MemorySchemaProvider::new()))
            .map_err(EtlError::from)?;
    }
    Ok(ctx)
}

/// Register a catalog table as `schema.name` (the table's name is `schema_name`). The schema
/// comes from the catalog, so nothing is read until a query scans the table: a role that may
/// not read it gets the access error then, naming the action, resource and role.
pub async fn register(ctx: &SessionContext, t: &GlueTable) -> Result<(), EtlError> {
    register_version(ctx, t, None).await
}

/// `register`, at a version of the table's history when one is given (Delta tables only).
pub(crate) async fn register_version(
    ctx: &SessionContext,
    t: &GlueTable,
    version: Option<u64>,
) -> Result<(), EtlError> {
    let Some((schema, name)) = t.name.split_once('_') else {
        return Ok(());
    };
    if t.format == crate::delta::FORMAT {
        let location = url::Url::parse(&t.location)
            .map_err(|e| EtlError::Engine(format!("table {}: {e}", t.name)))?;
        let store = ctx.runtime_env().object_store(
            datafusion::execution::object_store::ObjectStoreUrl::parse(
                &location[..url::Position::BeforePath],
            )?,
        )?;
        let mut columns = t.columns.clone();
        columns.extend(t.partition_keys.iter().cloned());
        let table = crate::delta::CatalogDeltaTable {
            url: t.location.clone(),
            store,
            schema: arrow_schema(&columns),
            version,
        };
        ctx.register_table(format!("{schema}.{name}"), Arc::new(table))?;
        return Ok(());
    }
    let url = ListingTableUrl::parse(&t.location)?;
    let mut opts =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if !t.partition_keys.is_empty() {
        opts = opts.with_table_partition_cols(
            t.partition_keys
                .iter()
                .map(|c| (c.name.clone(), arrow_type(&c.data_type)))
                .collect(),
        );
    }
    let config = ListingTableConfig::new(url)
        .with_listing_options(opts)
        .with_schema(file_schema(t));
    let table = ListingTable::try_new(config)?;
    ctx.register_table(format!("{schema}.{name}"), Arc::new(table))?;
    Ok(())
}

pub fn arrow_type(glue: &str) -> DataType {
    match glue {
        "bigint" => DataType::Int64,
        "int" => DataType::Int32,
        "double" => DataType::Float64,
        "date" => DataType::Date32,
        "boolean" => DataType::Boolean,
        "timestamp" => {
            DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None)
        }
        _ => DataType::Utf8,
    }
}

fn file_schema(t: &GlueTable) -> datafusion::arrow::datatypes::SchemaRef {
    arrow_schema(&t.columns)
}

fn arrow_schema(columns: &[dapgov_inventory::Column]) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::arrow::datatypes::{Field, Schema};
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(&c.data_type), true))
            .collect::<Vec<_>>(),
    ))
}

/// DataFusion wraps store errors in layers of context; keep the part a user can act on.
pub fn clean_error(e: &datafusion::error::DataFusionError) -> String {
    let s = e.to_string();
    if matches!(
        e.find_root(),
        datafusion::error::DataFusionError::ResourcesExhausted(_)
    ) {
        return format!(
            "{s}\nThe query needed more than the engine's {} MiB of memory. Sorts, joins and GROUP BY spill to disk; DISTINCT aggregates over millions of values do not: count distinct values by grouping, as in SELECT COUNT(*) FROM (SELECT x FROM t GROUP BY x)",
            MEMORY_LIMIT >> 20
        );
    }
    if let Some(i) = s.find("access denied") {
        let mut line = s[i..].lines().next().unwrap_or_default().to_string();
        while line.ends_with(')') && line.matches(')').count() > line.matches('(').count() {
            line.pop();
        }
        return line;
    }
    s
}

/// What a statement run by `query` (or a spec's trusted SQL) may be: a read. Files, tables,
/// views and engine settings are never changed by SQL; dapgov's own commands do that.
pub const READ_STATEMENTS: &str =
    "SELECT, WITH, VALUES, EXPLAIN, DESCRIBE, SHOW TABLES, SHOW COLUMNS or SHOW FUNCTIONS";

/// Plan `text` as a read, or refuse it before anything runs. The statement kind is checked on
/// the parsed statement (an allow-list), then the plan is checked again for any write,
/// definition or setting a read could hide (`SELECT ... INTO` plans a `CREATE TABLE`).
pub async fn read_only(
    ctx: &SessionContext,
    text: &str,
    role: &str,
) -> Result<DataFrame, EtlError> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(text, &dialect)?;
    if let Some(kind) = not_a_read(&statement) {
        return Err(EtlError::Refused {
            role: role.into(),
            statement: kind,
        });
    }
    let plan = state.statement_to_plan(statement).await?;
    let reads_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    if let Err(e) = reads_only.verify_plan(&plan) {
        let detail = e.strip_backtrace();
        let kind = detail.rsplit(": ").next().unwrap_or("a write").to_string();
        return Err(EtlError::Refused {
            role: role.into(),
            statement: kind,
        });
    }
    Ok(ctx.execute_logical_plan(plan).await?)
}

/// The kind of a statement that is not a read (e.g. `COPY`, `CREATE EXTERNAL TABLE`), or None.
pub(crate) fn not_a_read(statement: &DFStatement) -> Option<String> {
    use datafusion::sql::sqlparser::ast::Statement as S;
    match statement {
        DFStatement::Statement(s) => match s.as_ref() {
            S::Query(q) if selects_into(q) => Some("SELECT INTO".into()),
            S::Query(_)
            | S::ShowTables { .. }
            | S::ShowColumns { .. }
            | S::ShowFunctions { .. }
            | S::ExplainTable { .. } => None,
            S::Explain { statement, .. } => not_a_read(&DFStatement::Statement(statement.clone())),
            other => Some(statement_kind(&other.to_string())),
        },
        DFStatement::Explain(e) => not_a_read(&e.statement),
        other => Some(statement_kind(&other.to_string())),
    }
}

/// Whether a query, or any query inside it, is a `SELECT ... INTO` (a table created from a
/// read, in every engine that takes it).
fn selects_into(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::{Query, SetExpr, Visit, Visitor};
    use std::ops::ControlFlow;
    fn body(b: &SetExpr) -> bool {
        match b {
            SetExpr::Select(s) => s.into.is_some(),
            SetExpr::SetOperation { left, right, .. } => body(left) || body(right),
            _ => false,
        }
    }
    struct Into;
    impl Visitor for Into {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if body(&q.body) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    query.visit(&mut Into).is_break()
}

/// The leading keywords that name a statement's kind: `INSERT`, `CREATE EXTERNAL TABLE`,
/// `DROP VIEW`, `SET`. Never the rest of the statement, which may quote data.
fn statement_kind(sql: &str) -> String {
    const OBJECTS: [&str; 12] = [
        "TABLE", "VIEW", "SCHEMA", "DATABASE", "FUNCTION", "INDEX", "CATALOG", "TYPE", "ROLE",
        "USER", "SEQUENCE", "SECRET",
    ];
    let words: Vec<String> = sql
        .split_whitespace()
        .take(6)
        .map(|w| w.to_ascii_uppercase())
        .collect();
    let Some(first) = words.first() else {
        return "an empty statement".into();
    };
    if !["CREATE", "DROP", "ALTER", "SHOW", "TRUNCATE"].contains(&first.as_str()) {
        return first.clone();
    }
    match words.iter().position(|w| OBJECTS.contains(&w.as_str())) {
        Some(i) => words[..=i].join(" "),
        None => words.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
    }
}

/// The zone tables (`raw.calls` as ("raw", "calls")) a statement names; none if it does not
/// parse (planning reports that).
fn zone_tables_named(ctx: &SessionContext, text: &str) -> Vec<(String, String)> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let Ok(statement) = state.sql_to_statement(text, &dialect) else {
        return vec![];
    };
    let references = state
        .resolve_table_references(&statement)
        .unwrap_or_default();
    references
        .iter()
        .filter_map(|r| {
            r.schema()
                .filter(|s| SCHEMAS.contains(s))
                .map(|s| (s.to_string(), r.table().to_string()))
        })
        .collect()
}

/// Run SQL as the session's role over the platform's catalog: reads only, through the role's
/// stores.
pub async fn sql(
    session: &RoleSession,
    text: &str,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, EtlError> {
    sql_as_of(session, text, &[]).await
}

/// `sql`'s rows as typed records, as the session's role reads them.
pub(crate) async fn rows<T: serde::de::DeserializeOwned>(
    session: &RoleSession,
    text: &str,
) -> Result<Vec<T>, EtlError> {
    records(&sql(session, text).await?, text)
}

/// The answer of `sql` as typed records (through JSON, which keeps every column's name).
pub(crate) fn records<T: serde::de::DeserializeOwned>(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
    sql: &str,
) -> Result<Vec<T>, EtlError> {
    let mut w = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        w.write(b).map_err(|e| EtlError::Engine(e.to_string()))?;
    }
    w.finish().map_err(|e| EtlError::Engine(e.to_string()))?;
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Ok(vec![]);
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| EtlError::Engine(format!("reading the answer of `{sql}`: {e}")))
}

/// Whether the catalog has `table` (`trusted.metrics_monthly`) for this role: false when
/// there is none; an access error when the role may not see it.
pub async fn catalog_has(session: &RoleSession, table: &str) -> Result<bool, EtlError> {
    let catalog_name = table.replacen('.', "_", 1);
    let database = session.names.glue_database();
    Ok(session
        .catalog
        .table(&database, &catalog_name)
        .await?
        .is_some())
}

/// `sql`, reading each named table (`curated.calls`) at the given version of its history.
pub async fn sql_as_of(
    session: &RoleSession,
    text: &str,
    as_of: &[(String, u64)],
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, EtlError> {
    let database = session.names.glue_database();
    let database = database.as_str();
    let ctx = context(session)?;
    let mut tables = session.catalog.tables(database).await?;
    // The catalog lists only the tables the role may see. A table named in the statement or
    // in --as-of that it did not list is asked for by name, so the role gets the catalog's
    // refusal (recorded) rather than "not found", and a table it may read but not list is
    // still served.
    let named = zone_tables_named(&ctx, text)
        .into_iter()
        .map(|(schema, name)| format!("{schema}_{name}"));
    for catalog_name in named.chain(as_of.iter().map(|(name, _)| name.replacen('.', "_", 1))) {
        if !tables.iter().any(|t| t.name == catalog_name) {
            tables.extend(session.catalog.table(database, &catalog_name).await?);
        }
    }
    for (name, version) in as_of {
        let catalog_name = name.replacen('.', "_", 1);
        let t = tables
            .iter()
            .find(|t| t.name == catalog_name)
            .ok_or_else(|| EtlError::MissingTable {
                table: name.clone(),
                remedy: format!("--as-of {name}={version} names a table the catalog does not hold (`dapgov etl history` lists the tables with history)"),
            })?;
        if t.format != crate::delta::FORMAT {
            return Err(EtlError::Engine(format!(
                "--as-of {name}={version}: {name} keeps no history (it is stored as {})",
                t.format
            )));
        }
        // Only the role that loads (and reads raw) may see a version whose personal
        // information was protected less than the table's is now.
        if let Some((zone, table)) = name.split_once('.').filter(|_| session.role != "etl") {
            let weaker =
                crate::pipeline::weaker_protection_at(session, zone, table, *version).await?;
            if !weaker.is_empty() {
                return Err(EtlError::Engine(format!(
                    "--as-of {name}={version}: refused as role `{}`: version {version} holds {} without the protection {name} has now (declared personal information since)",
                    session.role,
                    crate::ingest::name_list(&weaker)
                )));
            }
        }
    }
    for t in &tables {
        let version = as_of
            .iter()
            .find(|(name, _)| name.replacen('.', "_", 1) == t.name)
            .map(|(_, v)| *v);
        register_version(&ctx, t, version).await?;
    }
    let df = match read_only(&ctx, text, &session.role).await {
        Err(refused @ EtlError::Refused { .. }) => {
            session
                .audit
                .refused("dapgov:Query", database, &refused.to_string())
                .await?;
            return Err(refused);
        }
        other => other?,
    };
    Ok(df.collect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(ctx: &SessionContext, text: &str) -> Result<usize, EtlError> {
        let batches = read_only(ctx, text, "analyst").await?.collect().await?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    async fn platform_like() -> SessionContext {
        let ctx = sealed_context().unwrap();
        let catalog = ctx.catalog("datafusion").unwrap();
        for s in SCHEMAS {
            catalog
                .register_schema(s, Arc::new(MemorySchemaProvider::new()))
                .unwrap();
        }
        let calls = ctx
            .sql("SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, queue)")
            .await
            .unwrap()
            .into_view();
        ctx.register_table("curated.calls", calls).unwrap();
        ctx
    }

    #[tokio::test]
    async fn a_query_out_of_memory_says_how_to_count_distinct_values_by_grouping() {
        use datafusion::execution::memory_pool::FairSpillPool;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        // The engine's settings with a pool small enough for a million distinct values to fill.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(1 << 20)))
            .build_arc()
            .unwrap();
        let ctx = SessionContext::new_with_config_rt(engine_config(), runtime);
        let err = run(
            &ctx,
            "SELECT COUNT(DISTINCT value) FROM generate_series(1, 1000000)",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("Resources exhausted"), "{err}");
        assert!(err.contains("count distinct values by grouping"), "{err}");
    }

    #[tokio::test]
    async fn reads_run() {
        let ctx = platform_like().await;
        // (statement, exact rows), or None where only "some rows" is stable (plans, listings).
        for (text, rows) in [
            ("SELECT * FROM curated.calls", Some(2)),
            ("select id from curated.calls where queue = 'b'", Some(1)),
            (
                "WITH x AS (SELECT id FROM curated.calls) SELECT count(*) FROM x",
                Some(1),
            ),
            ("VALUES (1), (2), (3)", Some(3)),
            ("SELECT 1 UNION ALL SELECT 2", Some(2)),
            ("DESCRIBE curated.calls", Some(2)),
            ("SHOW COLUMNS FROM curated.calls", Some(2)),
            (
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'curated'",
                Some(1),
            ),
            ("EXPLAIN SELECT * FROM curated.calls", None),
            ("EXPLAIN ANALYZE SELECT * FROM curated.calls", None),
            ("SHOW TABLES", None),
            ("SHOW FUNCTIONS LIKE 'abs'", None),
        ] {
            let n = run(&ctx, text)
                .await
                .unwrap_or_else(|e| panic!("{text} was refused: {e}"));
            match rows {
                Some(rows) => assert_eq!(n, rows, "{text}"),
                None => assert!(n > 0, "{text} returned nothing"),
            }
        }
    }

    /// Every statement kind DataFusion's SQL front end plans that is not a read, including the
    /// ones that hide a write inside a read (EXPLAIN ANALYZE, SELECT INTO).
    #[tokio::test]
    async fn every_write_definition_and_setting_is_refused_before_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.csv");
        let t = target.display();
        let secret = dir.path().join("secret.csv");
        std::fs::write(&secret, "a\n1\n").unwrap();
        let s = secret.display();
        let ctx = platform_like().await;
        let cases: Vec<(String, &str)> = vec![
            (
                format!("COPY (SELECT 'pwned' AS x) TO '{t}' STORED AS CSV"),
                "COPY",
            ),
            (format!("COPY curated.calls TO '{t}'"), "COPY"),
            (
                format!("EXPLAIN ANALYZE COPY (SELECT 1) TO '{t}' STORED AS CSV"),
                "COPY",
            ),
            (
                format!("EXPLAIN COPY (SELECT 1) TO '{t}' STORED AS CSV"),
                "COPY",
            ),
            (
                format!("CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '{s}'"),
                "CREATE EXTERNAL TABLE",
            ),
            (
                format!("CREATE UNBOUNDED EXTERNAL TABLE leak STORED AS CSV LOCATION '{s}'"),
                "CREATE EXTERNAL TABLE",
            ),
            ("CREATE TABLE t AS SELECT 1".into(), "CREATE TABLE"),
            (
                "CREATE OR REPLACE TABLE t (a INT)".into(),
                "CREATE OR REPLACE TABLE",
            ),
            ("CREATE VIEW curated.v AS SELECT 1".into(), "CREATE VIEW"),
            (
                "CREATE TEMPORARY VIEW v AS SELECT 1".into(),
                "CREATE TEMPORARY VIEW",
            ),
            ("CREATE SCHEMA mine".into(), "CREATE SCHEMA"),
            ("CREATE DATABASE mine".into(), "CREATE DATABASE"),
            (
                "CREATE FUNCTION f(INT) RETURNS INT RETURN $1 + 1".into(),
                "CREATE FUNCTION",
            ),
            (
                "CREATE INDEX i ON curated.calls (id)".into(),
                "CREATE INDEX",
            ),
            ("DROP TABLE curated.calls".into(), "DROP TABLE"),
            ("DROP VIEW curated.calls".into(), "DROP VIEW"),
            ("DROP SCHEMA curated".into(), "DROP SCHEMA"),
            ("DROP FUNCTION f".into(), "DROP FUNCTION"),
            (
                "ALTER TABLE curated.calls ADD COLUMN b INT".into(),
                "ALTER TABLE",
            ),
            ("TRUNCATE TABLE curated.calls".into(), "TRUNCATE TABLE"),
            ("INSERT INTO curated.calls VALUES (3, 'c')".into(), "INSERT"),
            (
                "INSERT OVERWRITE curated.calls SELECT * FROM curated.calls".into(),
                "INSERT",
            ),
            ("UPDATE curated.calls SET queue = 'x'".into(), "UPDATE"),
            ("DELETE FROM curated.calls".into(), "DELETE"),
            (
                "MERGE INTO curated.calls USING curated.calls s ON true WHEN MATCHED THEN DELETE"
                    .into(),
                "MERGE",
            ),
            (
                "SELECT * INTO stolen FROM curated.calls".into(),
                "SELECT INTO",
            ),
            (
                "SELECT 1 AS a UNION ALL SELECT * INTO stolen FROM curated.calls".into(),
                "SELECT INTO",
            ),
            (
                "WITH c AS (SELECT * FROM curated.calls) SELECT * INTO stolen FROM c".into(),
                "SELECT INTO",
            ),
            (
                "EXPLAIN ANALYZE INSERT INTO curated.calls VALUES (3, 'c')".into(),
                "INSERT",
            ),
            (
                "SET datafusion.execution.target_partitions = 1".into(),
                "SET",
            ),
            ("SET TIME ZONE 'UTC'".into(), "SET"),
            (
                "RESET datafusion.execution.target_partitions".into(),
                "RESET",
            ),
            ("SHOW ALL".into(), "SHOW ALL"),
            ("BEGIN TRANSACTION".into(), "BEGIN"),
            ("COMMIT".into(), "COMMIT"),
            ("ROLLBACK".into(), "ROLLBACK"),
            ("PREPARE p AS SELECT 1".into(), "PREPARE"),
            ("EXECUTE p".into(), "EXECUTE"),
            ("DEALLOCATE p".into(), "DEALLOCATE"),
        ];
        let mut wrong = vec![];
        for (text, kind) in &cases {
            match run(&ctx, text).await {
                Err(EtlError::Refused { role, statement })
                    if role == "analyst" && &statement == kind => {}
                other => wrong.push(format!("{text}: {:?}", other.map_err(|e| e.to_string()))),
            }
            // The same statement on its way to the target's engine (Athena) is refused too.
            match crate::remote_query::for_catalog_engine(text, "analyst") {
                Err(EtlError::Refused { .. }) => {}
                other => wrong.push(format!("{text} (for Athena): {other:?}")),
            }
        }
        assert!(
            wrong.is_empty(),
            "not refused as expected:\n{}",
            wrong.join("\n")
        );
        assert!(!target.exists(), "a refused statement wrote a file");
        assert_eq!(
            run(&ctx, "SELECT count(*) FROM curated.calls")
                .await
                .unwrap(),
            1
        );
        assert!(
            ctx.table("t").await.is_err()
                && ctx.table("stolen").await.is_err()
                && ctx.table("leak").await.is_err()
        );
    }

    /// Tables that name a path or URL find no store to read it through, whatever the statement.
    #[tokio::test]
    async fn no_file_is_reachable_by_path_or_url() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret.csv");
        std::fs::write(&secret, "a\n1\n").unwrap();
        let ctx = platform_like().await;
        for text in [
            format!("SELECT * FROM '{}'", secret.display()),
            format!("SELECT * FROM 'file://{}'", secret.display()),
        ] {
            assert!(run(&ctx, &text).await.is_err(), "{text} read a file");
        }
        let url = ListingTableUrl::parse(format!("file://{}", secret.display())).unwrap();
        assert!(
            ctx.runtime_env().object_store(&url).is_err(),
            "the local file system store is still registered"
        );
        // Several statements at once are not run either.
        assert!(
            run(&ctx, "SELECT 1; DROP TABLE curated.calls")
                .await
                .is_err()
        );
        assert_eq!(
            run(&ctx, "SELECT count(*) FROM curated.calls")
                .await
                .unwrap(),
            1
        );
    }
}
