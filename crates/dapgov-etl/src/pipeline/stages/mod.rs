//! The stages of a run, in order, around the `Run` they share: each reads what the spec and
//! the stages before it decided and records what it did in the manifest. One file per stage:
//! `source` (landing and ingest), `raw` (typing, drift), `curated` (rules, personal
//! information, derived columns), `gates`, `publish` (the Delta commits) and `trusted`.

mod curated;
mod gates;
mod publish;
mod raw;
mod source;
mod trusted;

pub(super) use trusted::rebuild_trusted;

use super::engine::{count, count_pii, register_udfs, stage, string_values, write_parquet};
use super::sql::{self, columns_of, ident, is_text, lit, typed_expr};
use super::storage::{StagedSource, stage_source, upload, zone};
use super::{Manifest, RunOptions, StageCounts, failpoint};
use crate::delta::{self, Load};
use crate::pii::{self, Redactor};
use crate::{EtlError, ingest, query};
use dapgov_inventory::names::Zone;
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

/// A table a run stages in its session, by the name its SQL reads it under: each name in one
/// place, so no stage reads a table that none staged under that name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Staged(&'static str);

impl Staged {
    pub(super) const fn name(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The delivery's records as text columns, as ingest staged them.
const SOURCE: Staged = Staged("source");
/// This load's typed rows (`raw`), the rows typing or the rules set aside, and the rows
/// that reach curated.
const RAW_NEW: Staged = Staged("raw_new");
const QUARANTINE_NEW: Staged = Staged("quarantine_new");
const CURATED_NEW: Staged = Staged("curated_new");
/// Raw's rows with the first rule each fails (a view, not a staged copy).
const CHECKED: Staged = Staged("checked");
/// Keys that repeat, and the rows beyond each key's first.
const REPEATED_KEYS: Staged = Staged("repeated_keys");
const DUPLICATES: Staged = Staged("duplicates");
/// Curated as it was before this load, for the rows a load replaces.
const CURATED_BEFORE: Staged = Staged("curated_before");

/// The load a trusted rebuild belongs to: the dataset delivered, the run, and the commit
/// info every table's commit carries.
#[derive(Clone, Copy)]
pub(in crate::pipeline) struct LoadOf<'a> {
    pub dataset: &'a str,
    pub run_id: &'a str,
    pub info: &'a serde_json::Value,
}

/// Where a dataset's run manifests are, one per finished run.
pub(super) fn manifests_prefix(dataset: &str) -> String {
    format!("_manifests/{dataset}/")
}

/// Where a dataset's run writes its manifest, the last thing it writes.
pub(super) fn manifest_path(dataset: &str, run_id: &str) -> StorePath {
    StorePath::from(format!("{}{run_id}.json", manifests_prefix(dataset)))
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
    /// The delivery's generation this run commits (`DeliveryTxn`).
    pub txn: delta::DeliveryTxn,
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

/// Commit `df` to the Delta table at `path` in `zone` as this run's delivery, at most once
/// per generation of the delivery (a rerun after a run that died past this commit, or a
/// concurrent run of the same delivery, commits nothing). Returns the table as it stands and
/// whether this run committed to it.
#[allow(clippy::too_many_arguments)]
async fn commit_delivery(
    ctx: &SessionContext,
    zone: &dapgov_target::ZoneStore,
    path: &str,
    df: DataFrame,
    load: &Load,
    partition_by: &[String],
    info: &serde_json::Value,
    txn: &delta::DeliveryTxn,
) -> Result<(deltalake_core::DeltaTable, bool), EtlError> {
    let table = delta::open(zone, path).await?;
    match delta::write_delivery(ctx, table, df, load, partition_by, info, txn).await? {
        delta::Delivered::Committed(t) => Ok((t, true)),
        delta::Delivered::AlreadyTaken => Ok((delta::open(zone, path).await?, false)),
    }
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

    /// The manifest, written last: it makes a re-run of the same input a no-op.
    async fn finish(mut self, gate_failures: Vec<String>) -> Result<Manifest, EtlError> {
        self.m.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.m.duration_ms = self.started.elapsed().as_millis();
        self.m.timings = self.timings();
        let text = serde_json::to_vec_pretty(&self.m).expect("serialize");
        let curated = zone(self.session, Zone::Curated)?;
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
