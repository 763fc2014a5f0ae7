//! One run of every stage for one input file: landing → ingest → raw (typed, with lineage;
//! schema drift) → curated (checks, quarantine, PII, derived metrics) → trusted (quality
//! gates, consolidation, reconciliation) → publish. `stages.rs` holds the stages around the
//! `Run` they share; `sql.rs` the pure SQL decisions; `engine.rs` the DataFusion session;
//! `storage.rs` the input's landing copy and staging.

mod engine;
pub mod landing;
mod lock;
pub(crate) mod sql;
mod stages;
pub(crate) mod storage;

use crate::EtlError;
use dapgov_inventory::names::{
    ETL_FAILURE_METRIC, LOADED_ROWS_METRIC, Zone, etl_dataset_dimensions, etl_failure_dimensions,
};
use dapgov_records::{InputInfo, Manifest, StageCounts, StageTiming, TrustedOutcome};
use dapgov_spec::{Names, Spec};
use dapgov_target::{MetricDatum, RoleSession};
use datafusion::object_store::ObjectStoreExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use stages::CSV_COPIES;
use std::collections::BTreeMap;
use std::time::Instant;
pub use storage::hash_file;
use storage::{clear_prefix, zone};

pub struct RunOptions<'a> {
    pub input: &'a std::path::Path,
    pub dataset: &'a str,
    pub force: bool,
    /// The landing object `input` was fetched from, when the load is of a delivery.
    pub delivered: Option<&'a landing::Delivery>,
    pub progress: &'a (dyn Fn(&str) + Send + Sync),
}

/// CPU seconds this process has used, user and system, over all its threads (Linux).
pub(super) fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime (fields 14 and 15 of the line), in the kernel's USER_HZ of 100.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

/// Crash-test hook, honoured by debug builds only: with `DAPGOV_FAILPOINT=<name>` the run
/// stops here until it is killed, so tests can prove a killed run leaves nothing visible.
pub(super) fn failpoint(name: &str) {
    if cfg!(debug_assertions) && std::env::var("DAPGOV_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name} reached");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// What a run publishes: its counts (for a run that got that far) and duration, per project,
/// dataset and run; and the failure flag also with exactly the dimensions the failure alarm
/// watches, and per dataset, which the audit reads (CloudWatch keeps each dimension set a
/// metric of its own).
fn run_metrics(
    project: &str,
    dataset: &str,
    manifest: Option<&Manifest>,
    seconds: f64,
) -> Vec<MetricDatum> {
    let failed = manifest.is_none();
    let datum = |name: &str, value: f64, unit: &str| MetricDatum {
        name: name.into(),
        value,
        unit: unit.into(),
        dimensions: BTreeMap::new(),
    };
    let mut data = vec![datum(
        ETL_FAILURE_METRIC,
        f64::from(u8::from(failed)),
        "Count",
    )];
    if let Some(m) = manifest {
        let raw = m.stages.get("raw").cloned().unwrap_or_default();
        let cur = m.stages.get("curated").cloned().unwrap_or_default();
        data.push(datum("RowsIn", raw.rows_in as f64, "Count"));
        data.push(datum("RowsOut", cur.rows_out as f64, "Count"));
        data.push(datum(
            "RowsQuarantined",
            (raw.rows_quarantined + cur.rows_quarantined) as f64,
            "Count",
        ));
        data.push(datum(
            "PiiFound",
            m.pii_found.values().sum::<u64>() as f64,
            "Count",
        ));
    }
    data.push(datum("DurationSeconds", seconds, "Seconds"));
    for d in &mut data {
        d.dimensions.insert("Project".into(), project.into());
        d.dimensions.insert("Dataset".into(), dataset.into());
        if let Some(m) = manifest {
            d.dimensions.insert("RunId".into(), m.run_id.clone());
        }
    }
    if let Some(m) = manifest {
        data.push(MetricDatum {
            name: LOADED_ROWS_METRIC.into(),
            value: m.load.rows_added as f64,
            unit: "Count".into(),
            dimensions: etl_dataset_dimensions(project, dataset),
        });
    }
    for dimensions in [
        etl_failure_dimensions(project),
        etl_dataset_dimensions(project, dataset),
    ] {
        data.push(MetricDatum {
            name: ETL_FAILURE_METRIC.into(),
            value: f64::from(u8::from(failed)),
            unit: "Count".into(),
            dimensions,
        });
    }
    data
}

pub async fn run(
    session: &RoleSession,
    spec: &Spec,
    opts: RunOptions<'_>,
) -> Result<Manifest, EtlError> {
    let started = Instant::now();
    let names = &session.names;
    let result = run_stages(session, spec, names, &opts, started).await;
    let failed = result.is_err();
    if result.as_ref().is_ok_and(|m| m.no_op) {
        return result;
    }
    let data = run_metrics(
        &names.project,
        opts.dataset,
        result.as_ref().ok(),
        started.elapsed().as_secs_f64(),
    );
    // The failure metric must reach the alarm even when the run failed.
    if let Err(e) = session
        .metrics
        .put(&spec.etl.metrics_namespace, &data)
        .await
    {
        if !failed {
            return Err(e.into());
        }
        tracing::error!("could not publish run metrics: {e}");
    }
    result
}

async fn run_stages(
    session: &RoleSession,
    spec: &Spec,
    names: &Names,
    opts: &RunOptions<'_>,
    started: Instant,
) -> Result<Manifest, EtlError> {
    let ds = spec
        .datasets
        .get(opts.dataset)
        .ok_or_else(|| EtlError::UnknownDataset(opts.dataset.into()))?;
    let origin = opts.input.display().to_string();
    let (raw, curated) = (zone(session, Zone::Raw)?, zone(session, Zone::Curated)?);
    let database = names.glue_database();

    let (sha, size) = hash_file(opts.input)
        .await
        .map_err(|e| EtlError::input(&origin, format!("cannot read: {e}")))?;
    let mut run_id = run_id_of(&sha, ds, spec);
    let file_name = opts
        .input
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| "input".into());
    let manifest_path = |id: &str| stages::manifest_path(opts.dataset, id);
    let mut m = Manifest {
        dataset: opts.dataset.into(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        input: InputInfo {
            file: file_name.clone(),
            sha256: sha.clone(),
            bytes: size,
            landing_object: String::new(),
            delivered_key: opts.delivered.map(|d| d.key.clone()),
            delivered_version: opts.delivered.and_then(|d| d.version.clone()),
        },
        ..Default::default()
    };
    // The same input, with the same configuration, as the dataset's newest load is a no-op,
    // once that load finished (its manifest is written last: a run killed after its commit is
    // run again, which replaces the same days with the same rows and rebuilds trusted). Any
    // other input is loaded, an earlier delivery after another included (A, B, A): it replaces
    // what it delivers, as a person would expect.
    // One run of a delivery at a time: a second run of the same input waits for the first,
    // then finds it loaded (a no-op) or, if it failed, loads it itself.
    let lock = lock::DeliveryLock::acquire(curated, opts.dataset, &run_id).await?;
    let result = async {
        if !opts.force && newest_load_is(curated, opts.dataset, &run_id).await? {
            m.run_id = run_id;
            m.no_op = true;
            return Ok(m);
        }
        if curated.store.head(&manifest_path(&run_id)).await.is_ok() {
            run_id = format!("{run_id}-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
        }
        m.run_id = run_id.clone();
        let txn = delivery_txn(raw, curated, opts.dataset, &sha).await?;

        let staging = format!("_staging/{}/v={run_id}/", opts.dataset);
        clear_leftovers(session, spec, opts.dataset, &run_id).await?;
        let result = stages::Run {
            session,
            spec,
            ds,
            opts,
            database: &database,
            staging: &staging,
            started,
            origin,
            m,
            txn,
            marks: Default::default(),
        }
        .execute()
        .await;
        // Intermediate files are the run's own; they never outlive it, whatever its outcome.
        let cleared = clear_prefix(raw, &staging).await;
        let m = result?;
        cleared?;
        Ok::<Manifest, EtlError>(m)
    }
    .await;
    lock.release().await;
    result
}

/// A delivery's run id: the digest of its bytes and of the configuration that decides what a
/// load makes of them (the dataset, the trusted tables, the ETL settings, this release), so the
/// same file under a changed configuration is loaded again.
fn run_id_of(sha: &str, ds: &dapgov_spec::Dataset, spec: &Spec) -> String {
    let config = serde_json::to_string(&(ds, &spec.trusted, &spec.etl, env!("CARGO_PKG_VERSION")))
        .expect("serialize");
    hex::encode(Sha256::digest(format!("{sha}{config}").as_bytes()))[..16].to_string()
}

/// Whether the dataset's newest load is the run `run_id` (or a forced re-run of it) and it
/// finished (its manifest, written last, exists).
async fn newest_load_is(
    curated: &dapgov_target::ZoneStore,
    dataset: &str,
    run_id: &str,
) -> Result<bool, EtlError> {
    let newest = crate::delta::latest_info(&crate::delta::open(curated, dataset).await?).await?;
    let Some(newest_run) = newest
        .as_ref()
        .and_then(|i| i["run_id"].as_str())
        .map(str::to_string)
    else {
        return Ok(false);
    };
    let same = newest_run.split('-').next() == Some(run_id);
    let manifest = stages::manifest_path(dataset, &newest_run);
    Ok(same && curated.store.head(&manifest).await.is_ok())
}

/// The commit record of the delivery a load took (`DeliveryTxn`'s app id and generation, and
/// the landing object it arrived as).
pub(crate) const DELIVERY: &str = "delivery";

/// The generation of the delivery this run commits: one past the newest that raw (which takes
/// every run that reaches publish) holds, unless the run that committed that one never
/// finished (no manifest: it died past its commit), whose generation this run completes.
async fn delivery_txn(
    raw: &dapgov_target::ZoneStore,
    curated: &dapgov_target::ZoneStore,
    dataset: &str,
    sha: &str,
) -> Result<crate::delta::DeliveryTxn, EtlError> {
    let app_id = crate::delta::DeliveryTxn::app_id(dataset, sha);
    let table = crate::delta::open(raw, dataset).await?;
    let Some(taken) = crate::delta::delivery_version(&table, &app_id).await? else {
        return Ok(crate::delta::DeliveryTxn { app_id, version: 1 });
    };
    let history = crate::delta::history(&table).await?;
    let committed_by = history.iter().rev().find_map(|c| {
        let d = c.load.get(DELIVERY)?;
        (d["app_id"] == app_id.as_str() && d["generation"] == taken)
            .then(|| c.load["run_id"].as_str().map(str::to_string))?
    });
    let finished = match committed_by {
        Some(run) => curated
            .store
            .head(&stages::manifest_path(dataset, &run))
            .await
            .is_ok(),
        None => true,
    };
    Ok(crate::delta::DeliveryTxn {
        app_id,
        version: if finished { taken + 1 } else { taken },
    })
}

/// This run's own prefixes hold nothing published (its manifest does not exist), so anything
/// there is left by an attempt that was killed: cleared rather than read back. (A killed
/// commit leaves the tables at their last version; files it wrote but did not commit are never
/// read.)
async fn clear_leftovers(
    session: &RoleSession,
    spec: &Spec,
    dataset: &str,
    run_id: &str,
) -> Result<(), EtlError> {
    let staging = format!("_staging/{dataset}/v={run_id}/");
    let mut leftovers = vec![
        (zone(session, Zone::Raw)?, staging),
        (
            zone(session, Zone::Curated)?,
            format!("{CSV_COPIES}/{dataset}/{run_id}/"),
        ),
    ];
    for t in spec
        .trusted
        .iter()
        .filter(|t| t.inputs.iter().any(|i| i == dataset))
    {
        leftovers.push((
            zone(session, Zone::Trusted)?,
            format!("{CSV_COPIES}/{}/{run_id}/", t.name),
        ));
    }
    for (zone, prefix) in &leftovers {
        clear_prefix(zone, prefix).await?;
    }
    Ok(())
}

/// The newest `limit` run manifests of `dataset`, newest first.
pub async fn recent_manifests(
    session: &RoleSession,
    dataset: &str,
    limit: usize,
) -> Result<Vec<Manifest>, EtlError> {
    use futures::TryStreamExt;
    let curated = zone(session, Zone::Curated)?;
    let prefix = datafusion::object_store::path::Path::from(stages::manifests_prefix(dataset));
    let mut listed: Vec<_> = curated
        .store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| EtlError::Engine(format!("listing {dataset}'s run manifests: {e}")))?;
    listed.sort_by(|a, b| {
        b.last_modified
            .cmp(&a.last_modified)
            .then_with(|| b.location.cmp(&a.location))
    });
    let mut out = vec![];
    for meta in listed.into_iter().take(limit) {
        let bytes = curated
            .store
            .get(&meta.location)
            .await
            .map_err(|e| EtlError::Engine(format!("reading {}: {e}", meta.location)))?
            .bytes()
            .await
            .map_err(|e| EtlError::Engine(format!("reading {}: {e}", meta.location)))?;
        out.push(serde_json::from_slice(&bytes).map_err(|e| {
            EtlError::Engine(format!("{} is not a run manifest: {e}", meta.location))
        })?);
    }
    Ok(out)
}

/// A dataset's table by zone: `raw`, `quarantine` and `curated` name the dataset's tables,
/// `trusted` a trusted table by its name. Returns the zone store and the table's path.
fn table_of<'a>(
    session: &'a RoleSession,
    zone_name: &str,
    name: &str,
) -> Result<(&'a dapgov_target::ZoneStore, String), EtlError> {
    match zone_name {
        "raw" => Ok((zone(session, Zone::Raw)?, name.to_string())),
        "quarantine" => Ok((zone(session, Zone::Raw)?, format!("quarantine/{name}"))),
        "curated" => Ok((zone(session, Zone::Curated)?, name.to_string())),
        "trusted" => Ok((zone(session, Zone::Trusted)?, name.to_string())),
        other => Err(EtlError::Engine(format!(
            "no zone `{other}` holds tables: use raw, quarantine, curated or trusted"
        ))),
    }
}

/// The commits of a table, oldest first: what each load (or rollback) did, when and as whom.
pub async fn history(
    session: &RoleSession,
    zone_name: &str,
    name: &str,
) -> Result<Vec<crate::delta::Commit>, EtlError> {
    let (store, path) = table_of(session, zone_name, name)?;
    let table = crate::delta::open(store, &path).await?;
    if table.version().is_none() {
        return Err(EtlError::Engine(format!(
            "{zone_name}.{name} has no loads yet; run `dapgov etl run --dataset {name}` first"
        )));
    }
    crate::delta::history(&table).await
}

/// The commit record of the columns a load protected as personal information (column →
/// what they hold), so a version with weaker protection than the table's newest is known.
pub(crate) const PROTECTED: &str = "protected";

/// What each commit of `table` protected as personal information, oldest first: `None` for a
/// commit written before loads recorded it; a rollback has the protection of the version it
/// restored. Empty for a table with no commits.
pub(crate) async fn protection_by_version(
    table: &deltalake_core::DeltaTable,
) -> Result<Vec<(u64, Option<std::collections::BTreeSet<String>>)>, EtlError> {
    if table.version().is_none() {
        return Ok(vec![]);
    }
    let mut out: Vec<(u64, Option<std::collections::BTreeSet<String>>)> = vec![];
    for c in crate::delta::history(table).await? {
        let protected = match c.load.get("rollback_to").and_then(|v| v.as_u64()) {
            Some(to) => out
                .iter()
                .find(|(v, _)| *v == to)
                .and_then(|(_, p)| p.clone()),
            None => c
                .load
                .get(PROTECTED)
                .and_then(|p| p.as_object())
                .map(|p| p.keys().cloned().collect()),
        };
        out.push((c.version, protected));
    }
    Ok(out)
}

/// The columns the table's newest version protects that `version` held unprotected, or may
/// have (it was written before loads recorded their protection): reading or restoring that
/// version would show them in the clear. Empty when `version` is protected as the newest is.
pub async fn weaker_protection_at(
    session: &RoleSession,
    zone_name: &str,
    name: &str,
    version: u64,
) -> Result<Vec<String>, EtlError> {
    let (store, path) = table_of(session, zone_name, name)?;
    let versions = protection_by_version(&crate::delta::open(store, &path).await?).await?;
    let Some((_, now)) = versions.last() else {
        return Ok(vec![]);
    };
    let now = now.clone().unwrap_or_default();
    let Some((_, then)) = versions.iter().find(|(v, _)| *v == version) else {
        return Ok(vec![]);
    };
    Ok(match then {
        Some(then) => now.difference(then).cloned().collect(),
        None => now.into_iter().collect(),
    })
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    pub table: String,
    pub restored_version: u64,
    /// The version the restore committed (the history keeps what it undid).
    pub new_version: u64,
    pub trusted: BTreeMap<String, TrustedOutcome>,
}

/// Restore a dataset's table to `version`, as a new commit; after a curated rollback the
/// trusted tables that read the dataset are rebuilt from the restored data.
pub async fn rollback(
    session: &RoleSession,
    spec: &Spec,
    zone_name: &str,
    dataset: &str,
    version: u64,
) -> Result<Rollback, EtlError> {
    if zone_name != "trusted" && !spec.datasets.contains_key(dataset) {
        return Err(EtlError::UnknownDataset(dataset.into()));
    }
    let weaker = weaker_protection_at(session, zone_name, dataset, version).await?;
    if !weaker.is_empty() {
        return Err(EtlError::Engine(format!(
            "rollback of {zone_name}.{dataset} to version {version} refused: that version holds {} without the protection the table has now (declared personal information since); load the delivery again under the current spec instead (`dapgov etl run --force`)",
            crate::ingest::name_list(&weaker)
        )));
    }
    let (store, path) = table_of(session, zone_name, dataset)?;
    let table = crate::delta::open(store, &path).await?;
    let run_id = format!("rollback-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let info = serde_json::json!({"run_id": run_id, "rollback_to": version, "role": session.principal_arn});
    session
        .audit
        .allowed(
            "dapgov:RollbackTable",
            &format!("{zone_name}.{dataset}"),
            &format!("restore to version {version} ({run_id})"),
        )
        .await?;
    let restored = crate::delta::restore(table, version, &info).await?;
    let mut report = Rollback {
        table: format!("{zone_name}.{dataset}"),
        restored_version: version,
        new_version: restored.version().unwrap_or_default(),
        trusted: BTreeMap::new(),
    };
    if zone_name == "curated" {
        let ctx = crate::query::context(session)?;
        let load = stages::LoadOf {
            dataset,
            run_id: &run_id,
            info: &info,
        };
        let rebuilt = stages::rebuild_trusted(&ctx, session, spec, &load, None).await?;
        report.trusted = rebuilt
            .into_iter()
            .map(|(name, (status, _))| (name, status))
            .collect();
    }
    Ok(report)
}

/// Maintenance of a dataset's tables (raw, quarantine, curated, and the trusted tables that
/// read it): small files compacted, files no longer referenced removed once older than the
/// zone's retention and never within the spec's time-travel window.
pub async fn maintain(
    session: &RoleSession,
    spec: &Spec,
    dataset: &str,
) -> Result<BTreeMap<String, crate::delta::Maintenance>, EtlError> {
    if !spec.datasets.contains_key(dataset) {
        return Err(EtlError::UnknownDataset(dataset.into()));
    }
    let mut tables = vec![
        ("raw", dataset.to_string()),
        ("quarantine", dataset.to_string()),
        ("curated", dataset.to_string()),
    ];
    tables.extend(
        spec.trusted
            .iter()
            .filter(|t| t.inputs.iter().any(|i| i == dataset))
            .map(|t| ("trusted", t.name.clone())),
    );
    let info = serde_json::json!({"run_id": format!("maintain-{}", chrono::Utc::now().format("%Y%m%d%H%M%S")), "role": session.principal_arn});
    let mut done = BTreeMap::new();
    for (zone_name, name) in tables {
        let (store, path) = table_of(session, zone_name, &name)?;
        let table = crate::delta::open(store, &path).await?;
        if table.version().is_none() {
            continue;
        }
        // Quarantine lives in the raw zone and keeps its retention.
        let bucket_zone = if zone_name == "quarantine" {
            "raw"
        } else {
            zone_name
        };
        let retention = spec
            .zones
            .get(bucket_zone)
            .and_then(|z| z.retention_days)
            .unwrap_or(0)
            .max(spec.etl.time_travel_days);
        let (_, m) = crate::delta::maintain(table, retention, &info).await?;
        done.insert(format!("{zone_name}.{name}"), m);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudWatch keeps each dimension set a metric of its own: an alarm on a set no run
    /// publishes would never fire.
    #[test]
    fn every_alarm_on_the_etl_namespace_watches_a_metric_a_run_publishes() {
        let spec = Spec::parse(dapgov_spec::INIT_TEMPLATE, "dapgov.toml").unwrap();
        let desired = dapgov_spec::desired(
            &spec,
            &dapgov_inventory::Inventory::default(),
            "123456789012",
        )
        .unwrap();
        let manifest = Manifest {
            run_id: "r1".into(),
            ..Default::default()
        };
        let published: Vec<(String, BTreeMap<String, String>)> = [
            run_metrics(&spec.platform.name, "calls", None, 1.0),
            run_metrics(&spec.platform.name, "calls", Some(&manifest), 1.0),
        ]
        .concat()
        .into_iter()
        .map(|d| (d.name, d.dimensions))
        .collect();
        let watching: Vec<_> = desired
            .alarms
            .values()
            .filter(|a| a.namespace.as_deref() == Some(spec.etl.metrics_namespace.as_str()))
            .collect();
        assert!(!watching.is_empty());
        for a in watching {
            let watched = (
                a.metric_name.clone().unwrap(),
                a.dimensions.clone().unwrap_or_default(),
            );
            assert!(
                published.contains(&watched),
                "alarm {} watches {watched:?}, which no run publishes",
                a.name
            );
        }
    }
}
