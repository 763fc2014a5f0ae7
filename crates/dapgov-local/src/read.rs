//! Reading the platform back as an Inventory, with usage, cost estimate, runs and alarm states.

use crate::*;
use dapgov_inventory::names::ETL_FAILURE_METRIC;
use dapgov_inventory::*;
use dapgov_target::*;
use serde_json::Value;
use std::collections::BTreeMap;

impl LocalTarget {
    pub(crate) fn read_inventory_of(&self, project: &str) -> TargetResult<Inventory> {
        let mut inv = Inventory {
            schema_version: SCHEMA_VERSION,
            target: "local".into(),
            account_id: ACCOUNT.into(),
            region: self.region.clone(),
            project: project.into(),
            ..Default::default()
        };
        for &kind in ResourceKind::ALL {
            for (name, record) in self.records(kind)? {
                let r = ResourceRef::new(kind, &name);
                inv.insert_json(&r, record)
                    .map_err(|e| TargetError::Other(format!("control record {r}: {e}")))?;
            }
        }
        inv.retain_owned();
        for k in inv.keys.values_mut() {
            if let Some(id) = &k.key_id {
                k.versions = self.shared.kms.version_count(id).ok();
            }
        }
        let mut monthly = 0.0;
        for b in inv.buckets.values_mut() {
            let u = self.usage(&b.name);
            for (class, bytes) in &u.bytes {
                monthly += *bytes as f64 / 1e9 * self.prices.get(class).copied().unwrap_or(0.0);
            }
            b.usage = Some(u);
        }
        for b in inv.budgets.values_mut() {
            b.actual_usd = Some(monthly);
            b.forecast_usd = Some(monthly);
        }
        // Runs and alarm states from the metrics the ETL published.
        let mut runs: BTreeMap<String, EtlRunSummary> = BTreeMap::new();
        // As CloudWatch keeps them: one metric per namespace, name and exact dimension set.
        let mut latest: BTreeMap<(String, String, BTreeMap<String, String>), f64> = BTreeMap::new();
        for (ns, time, d) in self.metric_data() {
            latest.insert((ns.clone(), d.name.clone(), d.dimensions.clone()), d.value);
            if let Some(run) = d.dimensions.get("RunId") {
                let e = runs.entry(run.clone()).or_insert_with(|| EtlRunSummary {
                    run_id: run.clone(),
                    dataset: d.dimensions.get("Dataset").cloned().unwrap_or_default(),
                    started_at: time.clone(),
                    succeeded: true,
                    output_formats: vec!["parquet".into(), "csv".into()],
                    partitioned: true,
                });
                if d.name == ETL_FAILURE_METRIC && d.value > 0.0 {
                    e.succeeded = false;
                }
            }
        }
        let mut runs: Vec<EtlRunSummary> = runs.into_values().collect();
        runs.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        inv.etl_runs = runs;
        for a in inv.alarms.values_mut() {
            let ns = a.namespace.clone().unwrap_or_default().replace('/', "_");
            let value = if a.namespace.as_deref() == Some("AWS/Billing") {
                Some(monthly)
            } else {
                latest
                    .get(&(
                        ns,
                        a.metric_name.clone().unwrap_or_default(),
                        a.dimensions.clone().unwrap_or_default(),
                    ))
                    .copied()
            };
            a.state = Some(match (value, a.threshold) {
                (Some(v), Some(t)) if v >= t => "ALARM".into(),
                (Some(_), _) => "OK".into(),
                (None, _) => "INSUFFICIENT_DATA".into(),
            });
        }
        Ok(inv)
    }

    pub(crate) fn usage(&self, bucket: &str) -> BucketUsage {
        let mut u = BucketUsage::default();
        let mut bytes = 0;
        for f in crate::state::files_under(&self.bucket_dir(bucket)) {
            if let Ok(m) = std::fs::metadata(&f) {
                u.objects += 1;
                bytes += m.len();
            }
        }
        u.bytes.insert("STANDARD".into(), bytes);
        u
    }

    /// Every datum published, with its namespace and time, for `dapgov report health`.
    pub fn metric_data(&self) -> Vec<(String, String, MetricDatum)> {
        let mut namespaces: Vec<String> = std::fs::read_dir(self.metrics_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .trim_end_matches(".jsonl")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        namespaces.sort();
        namespaces
            .into_iter()
            .flat_map(|ns| {
                self.read_metrics(&ns)
                    .into_iter()
                    .map(move |(time, d)| (ns.clone(), time, d))
            })
            .collect()
    }

    pub(crate) fn read_metrics(&self, namespace: &str) -> Vec<(String, MetricDatum)> {
        let path = self
            .metrics_dir()
            .join(format!("{}.jsonl", namespace.replace('/', "_")));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                Some((
                    v["time"].as_str()?.to_string(),
                    serde_json::from_value(v["datum"].clone()).ok()?,
                ))
            })
            .collect()
    }
}
