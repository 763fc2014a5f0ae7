//! The stages of a run, in order, around the `Run` they share: each reads what the spec and
//! the stages before it decided and records what it did in the manifest.

use super::engine::{count, count_pii, register_udfs, stage, string_values, write_parquet};
use super::sql::{self, columns_of, ident, is_text, lit, typed_expr};
use super::storage::{StagedSource, stage_source, upload, zone};
use super::{Manifest, RunOptions, StageCounts, failpoint};
use crate::delta::{self, Load};
use crate::pii::{self, Redactor};
use crate::{EtlError, ingest, query};
use dapgov_inventory::{Column, GlueTable};
use dapgov_records::TrustedOutcome;
use dapgov_spec::{Dataset, LoadMode, PartitionBy, RuleAction, Spec};
use dapgov_target::RoleSession;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Schema;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::{ObjectStoreExt, PutPayload};
use datafusion::prelude::*;
use std::sync::Arc;
use std::time::Instant;

/// Where a dataset's run writes its manifest, the last thing it writes.
pub(super) fn manifest_path(dataset: &str, run_id: &str) -> StorePath {
    StorePath::from(format!("_manifests/{dataset}/{run_id}.json"))
}

/// One run of a dataset's stages: what every stage reads, and the manifest they fill in.
pub(super) struct Run<'a> {
    pub session: &'a RoleSession,
    pub spec: &'a Spec,
    pub ds: &'a Dataset,
    pub opts: &'a RunOptions<'a>,
    pub database: &'a str,
    /// The run's own prefix in the raw zone for intermediate tables.
    pub staging: &'a str,
    pub started: Instant,
    /// The input as the user named it, for messages.
    pub origin: String,
    pub m: Manifest,
    /// Each stage's start: its name, the time, and the process's CPU seconds then.
    pub marks: std::sync::Mutex<Vec<(String, Instant, Option<f64>)>>,
}

/// Raw as staged for this load (`raw_new`): the source's columns, the table it is appended
/// to, and what typing set aside.
struct Raw {
    cols: Vec<String>,
    table: GlueTable,
    schema: Schema,
    rows_in: u64,
    /// The quarantine's parts so far, as SQL (type and shape failures); the rules add theirs.
    quarantine_parts: Vec<String>,
    /// Every source column cast to text, as the quarantine keeps them.
    all_text: String,
}

/// How curated writes each text column: an expression replacing its values, or dropped.
#[derive(Clone)]
struct Protection {
    expressions: Vec<(String, String)>,
    dropped: Vec<String>,
}

/// Curated as staged for this load (`curated_new`), and the table it is committed to.
struct Curated {
    table: GlueTable,
    schema: Schema,
    quarantine_table: GlueTable,
    rows_out: u64,
    /// Rows without a value in the date column: a `replace_partitions` load replaces curated's
    /// undated rows too, and a trusted rebuild cannot be cut to the years delivered.
    undated: u64,
    /// How this load protected each column (earlier loads' rows are brought up to it).
    protection: Protection,
}

/// Where each load's CSV copies are written in the curated and trusted zones
/// (`_csv/<table>/<run id>/`): the City's deliverable, beside the tables.
pub const CSV_COPIES: &str = "_csv";

/// The columns quarantine adds to the values as received: where a row came from, why it was
/// set aside, the record as written (for a row that did not fit the header), and its load.
const QUARANTINE_COLUMNS: [(&str, &str); 7] = [
    ("_source_row", "bigint"),
    ("_rule", "string"),
    ("_reason", "string"),
    ("_record", "string"),
    ("_run_id", "string"),
    ("_source_file", "string"),
    ("_source_sha256", "string"),
];

/// Append `df` to the Delta table at `path` in `zone` once per run: when the table's newest
/// commit is already this run's (a rerun after a run that died past this commit), nothing is
/// appended again. Returns the version holding the run's rows.
async fn append_once(
    ctx: &SessionContext,
    zone: &dapgov_target::ZoneStore,
    path: &str,
    df: DataFrame,
    info: &serde_json::Value,
) -> Result<u64, EtlError> {
    let table = delta::open(zone, path).await?;
    let newest = delta::latest_info(&table).await?;
    if newest.as_ref().and_then(|i| i.get("run_id")) == info.get("run_id") {
        return Ok(table.version().unwrap_or_default());
    }
    let written = delta::write(ctx, table, df, &Load::Append, &[], info).await?;
    Ok(written.version().unwrap_or_default())
}

/// Commit `df` to the Delta table at `path` in `zone`; returns the table as committed.
async fn commit(
    ctx: &SessionContext,
    zone: &dapgov_target::ZoneStore,
    path: &str,
    df: DataFrame,
    load: &Load,
    partition_by: &[String],
    info: &serde_json::Value,
) -> Result<deltalake_core::DeltaTable, EtlError> {
    let table = delta::open(zone, path).await?;
    delta::write(ctx, table, df, load, partition_by, info).await
}

/// Times a trusted table is rebuilt when concurrent loads keep committing first.
const MAX_REBUILDS: u32 = 5;

/// Only rows that fail no check reach curated.
const PASSES: &str = "_rule IS NULL";
/// Rows sampled to classify columns, as Glue's classifier samples them.
const SAMPLE_ROWS: usize = 2000;

/// The entity a column of the sample holds whole, if any (`pii::classify_column`).
fn classify(
    sample: &[datafusion::arrow::record_batch::RecordBatch],
    column: &str,
) -> Option<pii::Entity> {
    let values = string_values(sample, column);
    pii::classify_column(
        column,
        &values.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

fn year_partition(p: bool) -> Vec<Column> {
    if p {
        vec![Column {
            name: "year".into(),
            data_type: "int".into(),
        }]
    } else {
        vec![]
    }
}

fn year_columns(p: bool) -> Vec<String> {
    year_partition(p).into_iter().map(|c| c.name).collect()
}

impl Run<'_> {
    pub(super) async fn execute(mut self) -> Result<Manifest, EtlError> {
        let landing_key = self.landing().await?;
        let source = self.ingest(&landing_key).await?;
        let (ctx, redactor) = self.engine().await?;
        let mut raw = self.raw(&ctx, source).await?;
        self.drift(&raw).await?;
        let quarantined = self.check_rows(&ctx, &mut raw).await?;
        let protection = self.protect_pii(&ctx, &raw, &redactor).await?;
        let curated = self.curated(&ctx, &raw, &protection, quarantined).await?;
        let gate_failures = self.gates(&ctx, &raw, &curated).await?;
        self.publish(&ctx, raw, &curated, gate_failures.is_empty())
            .await?;
        self.trusted(&ctx, &curated, &gate_failures).await?;
        self.finish(gate_failures).await
    }

    fn progress(&self, what: &str) {
        if let Ok(mut marks) = self.marks.lock() {
            marks.push((
                what.to_string(),
                Instant::now(),
                super::process_cpu_seconds(),
            ));
        }
        (self.opts.progress)(what)
    }

    /// The stages' timings from their marks, each ending where the next began.
    fn timings(&self) -> Vec<super::StageTiming> {
        let mut marks = self.marks.lock().map(|m| m.clone()).unwrap_or_default();
        marks.push((String::new(), Instant::now(), super::process_cpu_seconds()));
        marks
            .windows(2)
            .map(|w| super::StageTiming {
                stage: w[0].0.clone(),
                wall_seconds: (w[1].1 - w[0].1).as_secs_f64(),
                cpu_seconds: w[0].2.zip(w[1].2).map(|(a, b)| b - a),
            })
            .collect()
    }

    /// Landing: the file as received, never changed afterwards.
    async fn landing(&mut self) -> Result<StorePath, EtlError> {
        self.progress("landing: storing the input");
        let landing = zone(self.session, "landing")?;
        let key = super::landing::landing_key(
            self.opts.dataset,
            &self.m.input.sha256,
            &self.m.input.file,
        );
        if landing.store.head(&key).await.is_err() {
            upload(self.opts.input, landing, &key).await?;
        }
        self.m.input.landing_object = format!("{}{}", landing.url, key);
        Ok(key)
    }

    /// Ingest from the landing copy, as the role, into a staged table of text columns.
    async fn ingest(&mut self, landing_key: &StorePath) -> Result<StagedSource, EtlError> {
        self.progress("ingest: reading the landing copy");
        let (ds, origin) = (self.ds, &self.origin);
        let name_columns = |headers: &[String]| -> Result<Vec<String>, EtlError> {
            let cols: Vec<String> = ingest::snake_case_names(headers)
                .into_iter()
                .map(|c| ds.rename.get(&c).cloned().unwrap_or(c))
                .collect();
            match ds.required.iter().find(|r| !cols.contains(r)) {
                Some(req) => Err(EtlError::input(
                    origin,
                    format!(
                        "required column `{req}` is missing; the file has columns {}",
                        ingest::name_list(&cols)
                    ),
                )),
                None => Ok(cols),
            }
        };
        let source_key = StorePath::from(format!("{}source/part-0.parquet", self.staging));
        let (landing, raw) = (zone(self.session, "landing")?, zone(self.session, "raw")?);
        let mut source =
            stage_source(landing, landing_key, raw, source_key, origin, name_columns).await?;
        self.m.warnings.append(&mut source.warnings);
        Ok(source)
    }

    /// The run's DataFusion session, with dapgov's functions and the staged source, and the
    /// redactor its functions use.
    async fn engine(&self) -> Result<(SessionContext, Arc<Redactor>), EtlError> {
        let ctx = query::context(self.session)?;
        let key = self.session.keys.pseudonymisation_key().await?;
        let redactor = Arc::new(Redactor::new(self.spec.etl.pii.clone(), &key));
        register_udfs(&ctx, redactor.clone());
        ctx.register_parquet(
            "source",
            &format!("{}{}source/", zone(self.session, "raw")?.url, self.staging),
            ParquetReadOptions::default(),
        )
        .await?;
        Ok((ctx, redactor))
    }

    /// Raw: typed, with lineage; values that do not parse send their row to quarantine.
    async fn raw(&mut self, ctx: &SessionContext, source: StagedSource) -> Result<Raw, EtlError> {
        let cols = source.cols;
        self.progress("raw: typing and lineage");
        let (ds, dataset) = (self.ds, self.opts.dataset);
        let raw = zone(self.session, "raw")?;
        let loaded_at = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let mut select = vec![];
        let mut type_fails = vec![];
        for c in &cols {
            match ds.columns.get(c) {
                Some(rule) if rule.data_type != "string" => {
                    let e = typed_expr(c, &rule.data_type, ds);
                    select.push(format!("{e} AS {}", ident(c)));
                    type_fails.push((
                        c.clone(),
                        rule.data_type.clone(),
                        format!(
                            "(NULLIF(TRIM(CAST({} AS VARCHAR)), '') IS NOT NULL AND ({e}) IS NULL)",
                            ident(c)
                        ),
                    ));
                }
                _ => select.push(format!("NULLIF(TRIM({0}), '') AS {0}", ident(c))),
            }
        }
        let lineage = format!(
            "_source_row, {} AS _source_file, {} AS _source_sha256, CAST({} AS TIMESTAMP) AS _loaded_at",
            lit(&self.m.input.file),
            lit(&self.m.input.sha256),
            lit(&loaded_at)
        );
        let any_fail = if type_fails.is_empty() {
            "FALSE".to_string()
        } else {
            type_fails
                .iter()
                .map(|f| f.2.clone())
                .collect::<Vec<_>>()
                .join(" OR ")
        };
        let raw_df = ctx
            .sql(&format!(
                "SELECT {}, {lineage} FROM source WHERE _shape IS NULL AND NOT ({any_fail})",
                select.join(", ")
            ))
            .await?;
        let url = format!("{}{}raw/", raw.url, self.staging);
        let typed = write_parquet(ctx, raw_df, &url).await?;
        let reason = if type_fails.is_empty() {
            "''".to_string()
        } else {
            format!(
                "CASE {} END",
                type_fails
                    .iter()
                    .map(|(c, t, f)| format!(
                        "WHEN {f} THEN {}",
                        lit(&format!("type: `{c}` is not a valid {t}"))
                    ))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        if typed == 0 {
            return Err(self.nothing_typed(ctx, source.records, &reason).await);
        }
        // What typing set aside, from the counts the reader and the writer kept.
        let (rows_in, q_shape) = (source.records, source.ragged);
        let q_type = rows_in.checked_sub(q_shape + typed).ok_or_else(|| {
            EtlError::Engine(format!("typing wrote {typed} rows of {rows_in} read ({q_shape} ragged); refusing to lose rows"))
        })?;
        // Quarantine keeps the original text of every rejected row, with the rule and reason,
        // and for a ragged row the record as written.
        let all_text = cols
            .iter()
            .map(|c| format!("CAST({} AS VARCHAR) AS {}", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let quarantine_parts = vec![
            format!(
                "SELECT {all_text}, _source_row, 'type' AS _rule, {reason} AS _reason, CAST(NULL AS VARCHAR) AS _record FROM source WHERE _shape IS NULL AND ({any_fail})"
            ),
            format!(
                "SELECT {all_text}, _source_row, 'shape' AS _rule, _shape AS _reason, _record FROM source WHERE _shape IS NOT NULL"
            ),
        ];
        if q_type > 0 {
            *self.m.quarantine_reasons.entry("type".into()).or_default() += q_type;
        }
        if q_shape > 0 {
            self.m.quarantine_reasons.insert("shape".into(), q_shape);
        }
        self.m.stages.insert(
            "raw".into(),
            StageCounts {
                rows_in,
                rows_out: rows_in - q_type - q_shape,
                rows_quarantined: q_type + q_shape,
            },
        );
        ctx.register_parquet("raw_new", &url, ParquetReadOptions::default())
            .await?;
        let schema = ctx.table("raw_new").await?.schema().as_arrow().clone();
        let table = GlueTable {
            name: format!("raw_{dataset}"),
            location: delta::table_url(raw, dataset),
            format: delta::FORMAT.into(),
            columns: columns_of(&schema, &[]),
            partition_keys: vec![],
        };
        Ok(Raw {
            cols,
            table,
            schema,
            rows_in,
            quarantine_parts,
            all_text,
        })
    }

    /// The error for a delivery none of whose rows could be typed: the file, and the first rows
    /// with the reason each was set aside (no value is quoted). Nothing is loaded.
    async fn nothing_typed(&self, ctx: &SessionContext, records: u64, reason: &str) -> EtlError {
        let origin = &self.origin;
        if records == 0 {
            return EtlError::input(origin, "the file holds no rows to load");
        }
        let first = async {
            let batches = ctx
                .sql(&format!(
                    "SELECT concat('row ', CAST(_source_row AS VARCHAR), ': ', COALESCE(_shape, {reason})) AS why FROM source ORDER BY _source_row LIMIT 3"
                ))
                .await?
                .collect()
                .await?;
            Ok::<_, EtlError>(string_values(&batches, "why"))
        }
        .await;
        let first = match first {
            Ok(rows) if !rows.is_empty() => rows.join("; "),
            Ok(_) => "no reason recorded".into(),
            Err(e) => format!("the reasons could not be read ({e})"),
        };
        EtlError::input(
            origin,
            format!(
                "none of its {records} rows could be read as the dataset declares them, so nothing was loaded; the first: {first}. Check the file's encoding (UTF-8 or Latin-1), its delimiter and the declared column types"
            ),
        )
    }

    /// Schema drift against the previous load: reported, never silently shifted (columns
    /// are always selected by name).
    /// The tables keep every load, so a delivery may add a column (added to the tables,
    /// empty for earlier loads) but not remove or retype a declared one: that is refused before
    /// anything is committed.
    async fn drift(&mut self, raw: &Raw) -> Result<(), EtlError> {
        let previous = self
            .session
            .catalog
            .tables(self.database)
            .await?
            .into_iter()
            .find(|t| t.name == raw.table.name);
        let Some(prev) = previous else { return Ok(()) };
        self.m
            .schema_drift
            .extend(sql::schema_drift(&prev.columns, &raw.table.columns));
        for c in prev
            .columns
            .iter()
            .filter(|c| self.ds.columns.contains_key(&c.name))
        {
            let problem = match raw.table.columns.iter().find(|n| n.name == c.name) {
                None => format!("declared column `{}` is missing", c.name),
                Some(n) if n.data_type != c.data_type => format!(
                    "declared column `{}` is {} where the table holds {}",
                    c.name, n.data_type, c.data_type
                ),
                Some(_) => continue,
            };
            return Err(EtlError::input(
                &self.origin,
                format!(
                    "{problem}; the dataset's tables keep every earlier load, so nothing was committed. Deliver the column as before, or declare the change in dapgov.toml under a new dataset"
                ),
            ));
        }
        Ok(())
    }

    /// Curated's checks: every row with the first check it fails, as the view `checked`;
    /// failing rows go to quarantine with the rule and reason; `warn` rules are
    /// counted. Returns the rows the checks set aside.
    async fn check_rows(&mut self, ctx: &SessionContext, raw: &mut Raw) -> Result<u64, EtlError> {
        self.progress("curated: checking rules and keys");
        let (ds, staging) = (self.ds, self.staging);
        let raw_zone = zone(self.session, "raw")?;
        let checks = sql::checks(ds);
        let warn_rules: Vec<_> = ds
            .rules
            .iter()
            .filter(|r| r.action == RuleAction::Warn)
            .collect();
        self.m.rules_applied = checks
            .iter()
            .map(|c| c.rule.clone())
            .chain(warn_rules.iter().map(|r| format!("warn:{}", r.name)))
            .collect();
        self.m.rules_applied.dedup();
        // Duplicate keys: every row after the first (in source order) of a key that repeats.
        // Found by aggregating the key alone (spilled to disk when large); rows are joined only
        // when a key repeats, with the small side, the duplicates, as the side held in memory.
        let mut ranked = "SELECT *, 1 AS _dup_rank FROM raw_new".to_string();
        if !ds.unique_key.is_empty() {
            let keys = ds.unique_key.iter().map(|k| ident(k)).collect::<Vec<_>>();
            let repeated = ctx.sql(&format!("SELECT {k}, MIN(_source_row) AS _first FROM raw_new GROUP BY {k} HAVING COUNT(*) > 1", k = keys.join(", "))).await?;
            if stage(ctx, raw_zone, staging, "repeated_keys", repeated).await? > 0 {
                let on = keys
                    .iter()
                    .map(|k| format!("d.{k} = r.{k}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                let dups = ctx.sql(&format!("SELECT r._source_row FROM repeated_keys d JOIN raw_new r ON {on} WHERE r._source_row <> d._first")).await?;
                stage(ctx, raw_zone, staging, "duplicates", dups).await?;
                ranked = "SELECT r.*, CASE WHEN d._source_row IS NULL THEN 1 ELSE 2 END AS _dup_rank FROM duplicates d RIGHT JOIN raw_new r ON d._source_row = r._source_row".into();
            }
        }
        let (rule, reason) = (
            sql::first_failed(&checks, |c| &c.rule),
            sql::first_failed(&checks, |c| &c.reason),
        );
        let checked = ctx
            .sql(&format!(
                "SELECT *, {rule} AS _rule, {reason} AS _reason FROM ({ranked})"
            ))
            .await?;
        // A view, not a staged copy: its few reads evaluate the checks again, which costs less
        // than writing every row once more and reading it back (0.94x the run's CPU at 9.9 M
        // calls, the same at 1 M).
        ctx.register_table("checked", checked.into_view())?;
        // One pass over `checked`: rows set aside by rule, and what each warn rule flags among
        // the rows that pass (the group without a rule).
        let warn_sums: String = warn_rules
            .iter()
            .map(|r| {
                format!(
                    ", COALESCE(SUM(CASE WHEN COALESCE(({}), FALSE) THEN 0 ELSE 1 END), 0)",
                    r.check
                )
            })
            .collect();
        let groups = ctx
            .sql(&format!(
                "SELECT _rule, COUNT(*) AS n{warn_sums} FROM checked GROUP BY _rule"
            ))
            .await?
            .collect()
            .await?;
        let mut quarantined = 0;
        for r in &warn_rules {
            self.m.warnings_by_rule.insert(r.name.clone(), 0);
        }
        for b in &groups {
            // `_rule` is typed NULL when the dataset has no checks; counts are BIGINT.
            use datafusion::arrow::{compute::cast, datatypes::DataType};
            let arrow = |e: datafusion::arrow::error::ArrowError| {
                EtlError::Engine(format!("counting the checks' verdicts: {e}"))
            };
            let rule = cast(b.column(0), &DataType::Utf8).map_err(arrow)?;
            let rule = rule.as_string::<i32>();
            // Column 0 of `counts` is the rows of the group, then one per warn rule.
            let counts = b.columns()[1..]
                .iter()
                .map(|c| cast(c, &DataType::Int64))
                .collect::<Result<Vec<_>, _>>()
                .map_err(arrow)?;
            let n = |c: usize, i: usize| {
                counts[c]
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(i) as u64
            };
            for i in 0..b.num_rows() {
                if datafusion::arrow::array::Array::is_null(rule, i) {
                    for (w, r) in warn_rules.iter().enumerate() {
                        self.m.warnings_by_rule.insert(r.name.clone(), n(1 + w, i));
                    }
                } else {
                    self.m
                        .quarantine_reasons
                        .insert(rule.value(i).into(), n(0, i));
                    quarantined += n(0, i);
                }
            }
        }
        let all_text = &raw.all_text;
        raw.quarantine_parts.push(format!("SELECT {all_text}, _source_row, _rule, _reason, CAST(NULL AS VARCHAR) AS _record FROM checked WHERE _rule IS NOT NULL"));
        let quarantine = ctx.sql(&raw.quarantine_parts.join(" UNION ALL ")).await?;
        stage(ctx, raw_zone, staging, "quarantine_new", quarantine).await?;
        Ok(quarantined)
    }

    /// PII: a column the spec declares, or one its sample classifies, is protected whole;
    /// free text and every other text column are scanned value by value. Every finding in the
    /// rows that reach curated is counted.
    async fn protect_pii(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        redactor: &Redactor,
    ) -> Result<Protection, EtlError> {
        let ds = self.ds;
        // Lineage columns aside, but for the input's file name, which often names a person.
        let string_cols: Vec<String> = raw
            .schema
            .fields()
            .iter()
            .filter(|f| {
                is_text(f.data_type()) && (!f.name().starts_with('_') || f.name() == "_source_file")
            })
            .map(|f| f.name().clone())
            .collect();
        let sample = ctx
            .sql(&format!(
                "SELECT * FROM checked WHERE {PASSES} LIMIT {SAMPLE_ROWS}"
            ))
            .await?
            .collect()
            .await?;
        let mut protection = Protection {
            expressions: vec![],
            dropped: ds.drop.clone(),
        };
        for c in &string_cols {
            let declared = ds.columns.get(c).and_then(|r| r.pii);
            let class = declared.or_else(|| {
                if ds.free_text.contains(c) {
                    return None;
                }
                classify(&sample, c)
            });
            match class {
                Some(e) => {
                    self.m.pii_columns.insert(c.clone(), e.name().into());
                    if redactor.action(e) == pii::Action::Drop {
                        protection.dropped.push(c.clone());
                    } else {
                        protection.expressions.push((
                            c.clone(),
                            format!("dapgov_replace_value({}, {})", ident(c), lit(e.name())),
                        ));
                    }
                }
                None => {
                    if ds.free_text.contains(c) {
                        self.m.pii_columns.insert(c.clone(), "free text".into());
                    }
                    protection
                        .expressions
                        .push((c.clone(), format!("dapgov_redact_text({})", ident(c))));
                }
            }
        }
        self.progress("curated: counting PII");
        if !string_cols.is_empty() {
            let found = count_pii(
                ctx,
                &format!(
                    "SELECT {} FROM checked WHERE {PASSES}",
                    string_cols
                        .iter()
                        .map(|c| ident(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .await?;
            self.m.pii_found = found
                .iter()
                .map(|(e, n)| (e.name().to_string(), *n))
                .collect();
        }
        Ok(protection)
    }

    /// Curated: the rows that passed, PII protected, derived metrics, a `year` partition.
    async fn curated(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        protection: &Protection,
        quarantined: u64,
    ) -> Result<Curated, EtlError> {
        let (ds, dataset) = (self.ds, self.opts.dataset);
        let curated = zone(self.session, "curated")?;
        let mut select = vec![];
        for f in raw.schema.fields() {
            let n = f.name();
            if protection.dropped.contains(n) {
                continue;
            }
            match protection.expressions.iter().find(|(c, _)| c == n) {
                Some((_, e)) => select.push(format!("{e} AS {}", ident(n))),
                None => select.push(ident(n)),
            }
        }
        let derived: String = ds
            .derive
            .iter()
            .map(|d| format!(", {} AS {}", d.sql, ident(&d.name)))
            .collect();
        // The partition column: derived from the date column, or the date column itself.
        let (partition, derived_partition) = match (ds.partition(), &ds.date_column) {
            (PartitionBy::Year, Some(dc)) => (
                Some("year".to_string()),
                format!(", CAST(date_part('year', {}) AS INT) AS year", ident(dc)),
            ),
            (PartitionBy::Month, Some(dc)) => (
                Some("month".to_string()),
                format!(
                    ", CAST(date_part('year', {d}) * 100 + date_part('month', {d}) AS INT) AS month",
                    d = ident(dc)
                ),
            ),
            (PartitionBy::Date, Some(dc)) => (Some(dc.clone()), String::new()),
            _ => (None, String::new()),
        };
        self.progress("curated: writing");
        let df = ctx
            .sql(&format!(
                "SELECT {}{derived}{derived_partition} FROM checked WHERE {PASSES}",
                select.join(", ")
            ))
            .await?;
        let schema = df.schema().as_arrow().clone();
        // The writer's count: staged curated rows are checked against what typing kept before
        // anything is committed.
        let rows_out = stage(
            ctx,
            zone(self.session, "raw")?,
            self.staging,
            "curated_new",
            df,
        )
        .await?;
        let typed = self.m.stages["raw"].rows_out;
        if rows_out + quarantined != typed {
            return Err(EtlError::Engine(format!(
                "curated would keep {rows_out} and quarantine {quarantined} of {typed} rows; refusing to lose rows"
            )));
        }
        self.m.stages.insert(
            "curated".into(),
            StageCounts {
                rows_in: typed,
                rows_out,
                rows_quarantined: quarantined,
            },
        );
        self.m.schema = columns_of(&schema, &[]);
        let table = GlueTable {
            name: format!("curated_{dataset}"),
            location: delta::table_url(curated, dataset),
            format: delta::FORMAT.into(),
            columns: columns_of(
                &schema,
                &partition.iter().map(String::as_str).collect::<Vec<_>>(),
            ),
            partition_keys: columns_of(&schema, &[])
                .into_iter()
                .filter(|c| partition.as_ref() == Some(&c.name))
                .collect(),
        };
        let raw_zone = zone(self.session, "raw")?;
        let quarantine_table = GlueTable {
            name: format!("quarantine_{dataset}"),
            location: delta::table_url(raw_zone, &format!("quarantine/{dataset}")),
            format: delta::FORMAT.into(),
            // The values as received, then where they came from, why they were set aside and,
            // for a record that did not fit the header, the record as written.
            columns: raw
                .cols
                .iter()
                .map(|c| Column {
                    name: c.clone(),
                    data_type: "string".into(),
                })
                .chain(QUARANTINE_COLUMNS.map(|(n, t)| Column {
                    name: n.into(),
                    data_type: t.into(),
                }))
                .collect(),
            partition_keys: vec![],
        };
        // Counted once, for the load's predicate and the trusted rebuild; a load that replaces
        // the whole table needs neither.
        let undated = match (&ds.date_column, ds.load_mode()) {
            (Some(dc), mode) if mode != LoadMode::Replace => {
                count(
                    ctx,
                    &format!(
                        "SELECT COUNT(*) FROM curated_new WHERE {} IS NULL",
                        ident(dc)
                    ),
                )
                .await?
            }
            _ => 0,
        };
        Ok(Curated {
            table,
            schema,
            quarantine_table,
            rows_out,
            undated,
            protection: protection.clone(),
        })
    }

    /// Trusted's gates: completeness, and a second PII scan of curated with the same rules
    /// (findings, and columns that still read as personal information whole).
    async fn gates(
        &mut self,
        ctx: &SessionContext,
        raw: &Raw,
        curated: &Curated,
    ) -> Result<Vec<String>, EtlError> {
        self.progress("trusted: quality gates");
        let (rows_in, rows_out, min) = (
            raw.rows_in,
            curated.rows_out,
            self.spec.etl.min_completeness,
        );
        let completeness = if rows_in == 0 {
            0.0
        } else {
            rows_out as f64 / rows_in as f64
        };
        let mut failures = vec![];
        if completeness < min {
            failures.push(format!("completeness {completeness:.4} is below {min} ({rows_out} of {rows_in} rows reached curated)"));
        }
        self.progress("trusted: scanning curated for PII left");
        // The load's curated rows read back as staged, through the role's store.
        let text_cols: Vec<String> = curated
            .schema
            .fields()
            .iter()
            .filter(|f| is_text(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        // Identifiers hide in columns typed as numbers too (a SIN column declared bigint): one
        // that reads as personal information, whole, fails the gate; it is declared as text
        // with its `pii` entity to be protected.
        let number_cols: Vec<String> = curated
            .schema
            .fields()
            .iter()
            .filter(|f| f.data_type().is_integer())
            .map(|f| f.name().clone())
            .collect();
        if !text_cols.is_empty() {
            let list = text_cols
                .iter()
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let left = count_pii(ctx, &format!("SELECT {list} FROM curated_new")).await?;
            if !left.is_empty() {
                failures.push(format!(
                    "a second scan found PII left in curated: {}",
                    left.iter()
                        .map(|(e, n)| format!("{} {n}", e.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        // One sample of both kinds of column, for the same column rules as the first pass.
        if !text_cols.is_empty() || !number_cols.is_empty() {
            let list = text_cols
                .iter()
                .map(|c| ident(c))
                .chain(
                    number_cols
                        .iter()
                        .map(|c| format!("CAST({} AS VARCHAR) AS {}", ident(c), ident(c))),
                )
                .collect::<Vec<_>>()
                .join(", ");
            let sample = ctx
                .sql(&format!(
                    "SELECT {list} FROM curated_new LIMIT {SAMPLE_ROWS}"
                ))
                .await?
                .collect()
                .await?;
            for (c, e) in number_cols
                .iter()
                .filter_map(|c| Some((c, classify(&sample, c)?)))
            {
                failures.push(format!("column `{c}` in curated is typed as a number but holds {} values; declare it `{{ type = \"string\", pii = \"{}\" }}`", e.name(), e.name()));
            }
            for (c, e) in text_cols
                .iter()
                .filter_map(|c| Some((c, classify(&sample, c)?)))
            {
                failures.push(format!(
                    "a second scan found column `{c}` in curated holding {} values",
                    e.name()
                ));
            }
        }
        Ok(failures)
    }

    /// Publish by committing the load to the dataset's tables: raw and quarantine keep every
    /// delivery (appended, the etl role's, to investigate a load); curated takes the load only
    /// when every gate passed, as the spec's `load` says, so nothing reaches the analyst before
    /// then. Each commit is atomic; the catalog names the tables, not their versions.
    async fn publish(
        &mut self,
        ctx: &SessionContext,
        raw: Raw,
        curated: &Curated,
        gates_passed: bool,
    ) -> Result<(), EtlError> {
        self.progress("publishing");
        failpoint("before-publish");
        let (dataset, info) = (self.opts.dataset, self.load_info());
        let (raw_zone, curated_zone) = (zone(self.session, "raw")?, zone(self.session, "curated")?);
        let raw_version =
            append_once(ctx, raw_zone, dataset, ctx.table("raw_new").await?, &info).await?;
        let lineage = format!(
            "SELECT *, {} AS _run_id, {} AS _source_file, {} AS _source_sha256 FROM quarantine_new",
            lit(&self.m.run_id),
            lit(&self.m.input.file),
            lit(&self.m.input.sha256)
        );
        let quarantine_version = append_once(
            ctx,
            raw_zone,
            &format!("quarantine/{dataset}"),
            ctx.sql(&lineage).await?,
            &info,
        )
        .await?;
        let mut tables = vec![
            (&raw.table, "raw", raw_version),
            (&curated.quarantine_table, "quarantine", quarantine_version),
        ];
        if gates_passed {
            self.protect_earlier_loads(ctx, curated).await?;
            let load = self.curated_load(ctx, curated).await?;
            let partition_by: Vec<String> = curated
                .table
                .partition_keys
                .iter()
                .map(|c| c.name.clone())
                .collect();
            // The writer counts the rows it adds; what a load replaces is counted here.
            let mut info = info.clone();
            info["rows_replaced"] = self.m.load.rows_replaced.into();
            let written = commit(
                ctx,
                curated_zone,
                dataset,
                ctx.table("curated_new").await?,
                &load,
                &partition_by,
                &info,
            )
            .await?;
            let version = written.version().unwrap_or_default();
            self.m.load.curated_version = Some(version);
            failpoint("after-curated-commit");
            self.m.load.retries = delta::retries_of_newest(&written).await?;
            // The City's CSV copy of what each load delivered.
            let csv = format!(
                "{}{CSV_COPIES}/{dataset}/{}/",
                curated_zone.url, self.m.run_id
            );
            ctx.table("curated_new")
                .await?
                .write_csv(&csv, DataFrameWriteOptions::new(), None)
                .await?;
            self.m.outputs.insert("curated_csv".into(), csv);
            tables.push((&curated.table, "curated", version));
        }
        for (t, what, version) in tables {
            self.session.catalog.put_table(self.database, t).await?;
            self.m
                .outputs
                .insert(what.into(), format!("{} (version {version})", t.location));
        }
        Ok(())
    }

    /// A column this load protects that the table's newest version recorded unprotected
    /// (declared personal information since): the rows earlier loads left in curated get the
    /// same protection, in a commit of their own before this load's, so the current table
    /// never holds it in the clear. (Versions before stay unreadable to roles but `etl`, and
    /// cannot be restored: `weaker_protection_at`.) A whole-table replace needs none.
    async fn protect_earlier_loads(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<(), EtlError> {
        if self.ds.load_mode() == LoadMode::Replace {
            return Ok(());
        }
        let (dataset, zone) = (self.opts.dataset, zone(self.session, "curated")?);
        let table = delta::open(zone, dataset).await?;
        // Loads written before protection was recorded are left as they are.
        let Some((_, Some(before))) = super::protection_by_version(&table).await?.pop() else {
            return Ok(());
        };
        let Some(current) = self
            .session
            .catalog
            .table(self.database, &curated.table.name)
            .await?
        else {
            return Ok(());
        };
        let columns: Vec<&Column> = current
            .columns
            .iter()
            .chain(&current.partition_keys)
            .collect();
        let newly: Vec<&String> = self
            .m
            .pii_columns
            .keys()
            .filter(|c| !before.contains(*c) && columns.iter().any(|k| &&k.name == c))
            .collect();
        if newly.is_empty() {
            return Ok(());
        }
        self.progress("curated: protecting earlier loads");
        let protection = &curated.protection;
        let select: Vec<String> = columns
            .iter()
            .map(|k| {
                let c = &k.name;
                if !newly.contains(&c) {
                    return ident(c);
                }
                match protection.expressions.iter().find(|(e, _)| e == c) {
                    Some((_, e)) => format!("{e} AS {}", ident(c)),
                    None => format!("CAST(NULL AS VARCHAR) AS {}", ident(c)),
                }
            })
            .collect();
        query::register_version(ctx, &current, None).await?;
        let df = ctx
            .sql(&format!(
                "SELECT {} FROM curated.{}",
                select.join(", "),
                ident(dataset)
            ))
            .await?;
        let mut info = self.load_info();
        info["operation"] = "protect earlier loads".into();
        info["newly_protected"] = serde_json::json!(newly);
        let partition_by: Vec<String> = current
            .partition_keys
            .iter()
            .map(|c| c.name.clone())
            .collect();
        delta::write(ctx, table, df, &Load::Replace, &partition_by, &info).await?;
        self.m.warnings.push(format!(
            "{} now protected: the rows earlier loads left in curated.{dataset} were protected the same way",
            ingest::name_list(&newly.iter().map(|c| c.to_string()).collect::<Vec<_>>())
        ));
        Ok(())
    }

    /// What a commit records of the load, for `etl history`.
    fn load_info(&self) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.m.run_id,
            "input": self.m.input.file,
            "sha256": self.m.input.sha256,
            "role": self.session.principal_arn,
            "load": self.ds.load_mode().as_str(),
            super::PROTECTED: self.m.pii_columns,
        })
    }

    /// How this load changes curated: the spec's `load`; for `replace_partitions`, the days
    /// it delivers (a typed predicate, so only files holding those days are rewritten).
    async fn curated_load(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<Load, EtlError> {
        let mode = self.ds.load_mode();
        self.m.load.mode = mode.as_str().into();
        self.m.load.rows_added = curated.rows_out;
        let load = match mode {
            LoadMode::Append => Load::Append,
            LoadMode::Replace => Load::Replace,
            LoadMode::ReplacePartitions => {
                let dc = self.ds.date_column.as_deref().ok_or_else(|| {
                    EtlError::Engine("replace_partitions needs a date column".into())
                })?;
                let as_text = ctx.sql(&format!("SELECT DISTINCT CAST({} AS VARCHAR) AS d FROM curated_new WHERE {} IS NOT NULL", ident(dc), ident(dc))).await?.collect().await?;
                let days = string_values(&as_text, "d");
                let is_date = curated.schema.field_with_name(dc).is_ok_and(|f| {
                    f.data_type() == &datafusion::arrow::datatypes::DataType::Date32
                });
                let mut terms = vec![];
                if !days.is_empty() {
                    let values = days
                        .iter()
                        .map(|d| {
                            if is_date {
                                format!("DATE {}", lit(d))
                            } else {
                                lit(d)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    terms.push(if is_date {
                        format!("{} IN ({values})", ident(dc))
                    } else {
                        format!("CAST({} AS VARCHAR) IN ({values})", ident(dc))
                    });
                }
                if curated.undated > 0 {
                    terms.push(format!("{} IS NULL", ident(dc)));
                }
                self.m.load.days = days.len() as u64;
                Load::ReplaceWhere(if terms.is_empty() {
                    "FALSE".into()
                } else {
                    terms.join(" OR ")
                })
            }
        };
        // What the load takes out of curated: the rows it replaces.
        let replaced = match &load {
            Load::Append => None,
            Load::Replace => Some("TRUE".to_string()),
            Load::ReplaceWhere(p) => Some(p.clone()),
        };
        if let Some(predicate) = replaced {
            let table = delta::open(zone(self.session, "curated")?, self.opts.dataset).await?;
            if table.version().is_some() {
                ctx.register_table("curated_before", delta::provider(table, None).await?)?;
                self.m.load.rows_replaced = count(
                    ctx,
                    &format!("SELECT COUNT(*) FROM curated_before WHERE {predicate}"),
                )
                .await?;
                ctx.deregister_table("curated_before")?;
            }
        }
        Ok(load)
    }

    /// Trusted: the spec's tables that read this dataset, rebuilt from curated only when the
    /// gates passed, each reconciled before it is written.
    async fn trusted(
        &mut self,
        ctx: &SessionContext,
        curated: &Curated,
        gate_failures: &[String],
    ) -> Result<(), EtlError> {
        let dataset = self.opts.dataset;
        if !gate_failures.is_empty() {
            for t in self
                .spec
                .trusted
                .iter()
                .filter(|t| t.inputs.iter().any(|i| i == dataset))
            {
                self.m.trusted.insert(
                    t.name.clone(),
                    TrustedOutcome::NotWritten {
                        gates: gate_failures.to_vec(),
                    },
                );
            }
            return Ok(());
        }
        self.progress("trusted: consolidating and reconciling");
        let info = self.load_info();
        let touched = self.touched_years(ctx, curated).await?;
        let rebuilt = rebuild_trusted(
            ctx,
            self.session,
            self.spec,
            self.database,
            dataset,
            &self.m.run_id,
            &info,
            touched.as_ref(),
        )
        .await?;
        for (name, (status, output)) in rebuilt {
            self.m.trusted.insert(name.clone(), status);
            if let Some(o) = output {
                self.m.outputs.insert(format!("trusted.{name}"), o);
            }
        }
        Ok(())
    }

    /// The years this load changes in curated: those of the days it delivers (a
    /// `replace_partitions` load replaces the same days). None when that is not known
    /// (no date column, rows without a date, a load that replaces the table, nothing delivered).
    async fn touched_years(
        &self,
        ctx: &SessionContext,
        curated: &Curated,
    ) -> Result<Option<std::collections::BTreeSet<i32>>, EtlError> {
        let Some(dc) = self.ds.date_column.as_deref() else {
            return Ok(None);
        };
        if self.ds.load_mode() == LoadMode::Replace || curated.undated > 0 {
            return Ok(None);
        }
        let b = ctx
            .sql(&format!(
                "SELECT DISTINCT CAST(EXTRACT(YEAR FROM {}) AS VARCHAR) AS y FROM curated_new",
                ident(dc)
            ))
            .await?
            .collect()
            .await?;
        let years: std::collections::BTreeSet<i32> = string_values(&b, "y")
            .iter()
            .filter_map(|y| y.parse().ok())
            .collect();
        Ok((!years.is_empty()).then_some(years))
    }

    /// The manifest, written last: it makes a re-run of the same input a no-op.
    async fn finish(mut self, gate_failures: Vec<String>) -> Result<Manifest, EtlError> {
        self.m.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.m.duration_ms = self.started.elapsed().as_millis();
        self.m.timings = self.timings();
        let text = serde_json::to_vec_pretty(&self.m).expect("serialize");
        let curated = zone(self.session, "curated")?;
        curated
            .store
            .put(
                &manifest_path(self.opts.dataset, &self.m.run_id),
                PutPayload::from(text),
            )
            .await
            .map_err(|e| EtlError::Engine(e.to_string()))?;
        if !gate_failures.is_empty() {
            return Err(EtlError::Gate(gate_failures.join("; ")));
        }
        Ok(self.m)
    }
}

/// Rebuild the spec's trusted tables that read `dataset` from the catalog's curated tables,
/// each reconciled before it is committed. Returns, per table, its status and where it was
/// written.
pub(super) async fn rebuild_trusted(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    database: &str,
    dataset: &str,
    run_id: &str,
    info: &serde_json::Value,
    touched_years: Option<&std::collections::BTreeSet<i32>>,
) -> Result<std::collections::BTreeMap<String, (TrustedOutcome, Option<String>)>, EtlError> {
    let mut out = std::collections::BTreeMap::new();
    let trusted = zone(session, "trusted")?;
    let catalog_tables = session.catalog.tables(database).await?;
    // Every dataset's curated table, this one's as just committed.
    for t in catalog_tables
        .iter()
        .filter(|t| t.name.starts_with("curated_"))
    {
        let _ = ctx.deregister_table(format!("curated.{}", &t.name["curated_".len()..]))?;
        query::register(ctx, t).await?;
    }
    for t in spec
        .trusted
        .iter()
        .filter(|t| t.inputs.iter().any(|i| i == dataset))
    {
        let missing: Vec<&String> = t
            .inputs
            .iter()
            .filter(|i| {
                !catalog_tables
                    .iter()
                    .any(|c| c.name == format!("curated_{i}"))
            })
            .collect();
        if !missing.is_empty() {
            out.insert(
                t.name.clone(),
                (
                    TrustedOutcome::Waiting {
                        inputs: missing.iter().map(|s| s.to_string()).collect(),
                    },
                    None,
                ),
            );
            continue;
        }
        // Rebuilt whole from curated: small tables of aggregates. A concurrent load's rebuild
        // that committed first is replaced by this one, computed and reconciled again from the
        // curated tables as they now are (they hold both loads).
        // Only the years this load delivered, where the table declares that its years are
        // independent and it already exists (the catalog names it once it is committed);
        // else whole.
        let exists = catalog_tables
            .iter()
            .any(|c| c.name == format!("trusted_{}", t.name));
        let years = touched_years
            .filter(|_| exists && t.rebuild == dapgov_spec::TrustedRebuild::TouchedYears);
        let mut retried: u32 = 0;
        let built = loop {
            // Computed once, then reconciled and committed from memory: both read it, and a
            // trusted table is aggregates, small beside the curated tables it reads.
            let df = match years {
                Some(years) => touched_years_of(ctx, session, spec, t, years).await?,
                None => {
                    query::read_only(ctx, &t.sql, &session.role)
                        .await
                        .map_err(|e| EtlError::Engine(format!("trusted table {}: {e}", t.name)))?
                        .cache()
                        .await?
                }
            };
            if let Some(refusal) = reconciliation_refusal(ctx, session, spec, t, &df).await? {
                break Err(refusal);
            }
            let schema = df.schema().as_arrow().clone();
            let by_year = t.partition_by_year && schema.field_with_name("year").is_ok();
            let load = match (years, by_year) {
                (Some(years), true) => Load::ReplaceWhere(format!(
                    "year IN ({})",
                    years
                        .iter()
                        .map(|y| y.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                // Rows of some years only must never replace the whole table.
                (Some(_), false) => {
                    return Err(EtlError::Engine(format!(
                        "trusted table {}: rebuild = \"touched_years\" needs a `year` column in its result",
                        t.name
                    )));
                }
                (None, _) => Load::Replace,
            };
            match commit(
                ctx,
                trusted,
                &t.name,
                df,
                &load,
                &year_columns(by_year),
                info,
            )
            .await
            {
                Err(EtlError::Conflict(_)) if retried < MAX_REBUILDS => retried += 1,
                other => break Ok((other?, schema, by_year)),
            }
        };
        let (written, schema, by_year) = match built {
            Ok(b) => b,
            Err(refusal) => {
                out.insert(t.name.clone(), (TrustedOutcome::Refused(refusal), None));
                continue;
            }
        };
        let version = written.version().unwrap_or_default();
        let csv = format!("{}{CSV_COPIES}/{}/{run_id}/", trusted.url, t.name);
        ctx.read_table(delta::provider(written, None).await?)?
            .write_csv(&csv, DataFrameWriteOptions::new(), None)
            .await?;
        let location = delta::table_url(trusted, &t.name);
        let table = GlueTable {
            name: format!("trusted_{}", t.name),
            location: location.clone(),
            format: delta::FORMAT.into(),
            columns: columns_of(&schema, if by_year { &["year"] } else { &[] }),
            partition_keys: year_partition(by_year),
        };
        session.catalog.put_table(database, &table).await?;
        let status = TrustedOutcome::Written { rebuilds: retried };
        out.insert(
            t.name.clone(),
            (status, Some(format!("{location} (version {version})"))),
        );
    }
    Ok(out)
}

/// A trusted table's rows for `years` only, computed from its inputs' rows of those years
/// (each input is seen, for this query, through a view of those years; the inputs are
/// restored after).
async fn touched_years_of(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    t: &dapgov_spec::TrustedTable,
    years: &std::collections::BTreeSet<i32>,
) -> Result<DataFrame, EtlError> {
    let list = years
        .iter()
        .map(|y| y.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let mut originals = vec![];
    for input in &t.inputs {
        let dc = spec
            .datasets
            .get(input)
            .and_then(|d| d.date_column.as_deref())
            .ok_or_else(|| {
                EtlError::Engine(format!(
                    "trusted table {}: input {input} has no date column",
                    t.name
                ))
            })?;
        let name = format!("curated.{input}");
        let view = ctx
            .sql(&format!(
                "SELECT * FROM {name} WHERE CAST(EXTRACT(YEAR FROM {}) AS INT) IN ({list})",
                ident(dc)
            ))
            .await?
            .into_view();
        if let Some(original) = ctx.deregister_table(&name)? {
            originals.push((name.clone(), original));
        }
        ctx.register_table(&name, view)?;
    }
    let df = match query::read_only(ctx, &t.sql, &session.role).await {
        Ok(df) => df.cache().await.map_err(EtlError::from),
        Err(e) => Err(EtlError::Engine(format!("trusted table {}: {e}", t.name))),
    };
    for (name, original) in originals {
        ctx.deregister_table(&name)?;
        ctx.register_table(&name, original)?;
    }
    df
}

/// Why a trusted table must not be written, when its reconciliation (`reconcile` SQL over the
/// table as `result`) is off by more than the spec's tolerance.
async fn reconciliation_refusal(
    ctx: &SessionContext,
    session: &RoleSession,
    spec: &Spec,
    t: &dapgov_spec::TrustedTable,
    df: &DataFrame,
) -> Result<Option<String>, EtlError> {
    let Some(rec) = &t.reconcile else {
        return Ok(None);
    };
    ctx.deregister_table("result")?;
    ctx.register_table("result", df.clone().into_view())?;
    let b = query::read_only(ctx, rec, &session.role)
        .await?
        .collect()
        .await?;
    let get = |name: &str| {
        b.first()
            .and_then(|b| b.column_by_name(name))
            .and_then(|a| {
                a.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>()
                    .map(|p| p.value(0))
            })
    };
    let (Some(expected), Some(actual)) = (get("expected"), get("actual")) else {
        return Err(EtlError::Engine(format!(
            "trusted table {}: reconcile must return DOUBLE columns `expected` and `actual`",
            t.name
        )));
    };
    let diff = if expected == 0.0 {
        actual.abs()
    } else {
        ((actual - expected) / expected).abs()
    };
    Ok((diff > spec.etl.reconciliation_tolerance).then(|| {
        format!(
            "not written: reconciliation off by {:.4}% (expected {expected}, actual {actual})",
            diff * 100.0
        )
    }))
}
