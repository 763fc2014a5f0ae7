//! A run's manifest.

use dapgov_inventory::Column;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageCounts {
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_quarantined: u64,
}

/// What one run of the data stages did, written beside the data (`_manifests/<dataset>/`)
/// and read back by the KPI report and the data docs. Every field has a default, so a
/// manifest written before a field existed still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    /// What the load did to each trusted table built from the dataset.
    pub trusted: BTreeMap<String, TrustedOutcome>,
    pub warnings: Vec<String>,
    /// The delivered days outside the dataset's volume rule, or missing, as sentences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_flags: Vec<String>,
    /// What the load did to curated (empty when the gates kept it out).
    pub load: LoadReport,
    /// Where the run's time went, stage by stage, in the order they ran.
    pub timings: Vec<StageTiming>,
}

/// One stage's wall time, and the CPU time the whole process spent in it (all threads; absent
/// where the system does not report it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StageTiming {
    pub stage: String,
    pub wall_seconds: f64,
    pub cpu_seconds: Option<f64>,
}

/// What one load did to a dataset's curated table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadReport {
    /// The spec's `load` (`replace_partitions`, `append` or `replace`).
    pub mode: String,
    /// Days delivered (and replaced where curated had them), for `replace_partitions`.
    pub days: u64,
    pub rows_added: u64,
    /// Rows of curated the load replaced.
    pub rows_replaced: u64,
    /// The curated table's version the load committed.
    pub curated_version: Option<u64>,
    /// Times the commit was retried because a concurrent load committed first.
    pub retries: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InputInfo {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub landing_object: String,
    /// The object the delivery arrived as in the landing zone (key, and version where the
    /// bucket keeps versions), for a load of a delivery rather than of a named file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_version: Option<String>,
}

/// What a load did to one trusted table. Kept in the manifest as the sentence the run
/// printed (manifests written before this type read back the same way).
#[derive(Debug, Clone, PartialEq)]
pub enum TrustedOutcome {
    /// Rebuilt and committed, `rebuilds` more times after concurrent loads committed first.
    Written { rebuilds: u32 },
    /// Kept out by the quality gates that failed.
    NotWritten { gates: Vec<String> },
    /// Waiting for inputs whose curated tables do not exist yet.
    Waiting { inputs: Vec<String> },
    /// Refused, for the reason given (a reconciliation that did not hold, say).
    Refused(String),
}

const NOT_WRITTEN: &str = "not written: ";
const WAITING: &str = "waiting for curated input(s) ";

impl TrustedOutcome {
    pub fn is_written(&self) -> bool {
        matches!(self, TrustedOutcome::Written { .. })
    }
}

impl std::fmt::Display for TrustedOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustedOutcome::Written { rebuilds: 0 } => f.write_str("written"),
            TrustedOutcome::Written { rebuilds } => write!(
                f,
                "written (rebuilt {rebuilds} more time(s) after a concurrent load)"
            ),
            TrustedOutcome::NotWritten { gates } => write!(f, "{NOT_WRITTEN}{}", gates.join("; ")),
            TrustedOutcome::Waiting { inputs } => write!(f, "{WAITING}{}", inputs.join(", ")),
            TrustedOutcome::Refused(reason) => f.write_str(reason),
        }
    }
}

impl From<&str> for TrustedOutcome {
    fn from(text: &str) -> Self {
        if text == "written" {
            return TrustedOutcome::Written { rebuilds: 0 };
        }
        if let Some(n) = text
            .strip_prefix("written (rebuilt ")
            .and_then(|t| t.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
        {
            return TrustedOutcome::Written { rebuilds: n };
        }
        if let Some(gates) = text.strip_prefix(NOT_WRITTEN) {
            return TrustedOutcome::NotWritten {
                gates: gates.split("; ").map(String::from).collect(),
            };
        }
        if let Some(inputs) = text.strip_prefix(WAITING) {
            return TrustedOutcome::Waiting {
                inputs: inputs.split(", ").map(String::from).collect(),
            };
        }
        TrustedOutcome::Refused(text.to_string())
    }
}

impl Serialize for TrustedOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrustedOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TrustedOutcome::from(String::deserialize(d)?.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest `etl run` wrote before manifests were read back typed reads whole.
    #[test]
    fn a_manifest_of_the_previous_release_reads() {
        let m: Manifest =
            serde_json::from_str(include_str!("../tests/manifest-previous-release.json")).unwrap();
        assert_eq!(m.dataset, "metrics");
        assert!(m.stages["raw"].rows_in > 0);
        assert!(m.trusted["metrics_monthly"].is_written());
        assert_eq!(
            m.trusted["daily_consolidated"],
            TrustedOutcome::Waiting {
                inputs: vec!["calls".into()]
            }
        );
        assert!(!m.timings.is_empty());
        let again: Manifest = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn trusted_outcomes_read_back_as_written() {
        for o in [
            TrustedOutcome::Written { rebuilds: 0 },
            TrustedOutcome::Written { rebuilds: 2 },
            TrustedOutcome::NotWritten {
                gates: vec!["a < 1".into(), "b".into()],
            },
            TrustedOutcome::Waiting {
                inputs: vec!["calls".into(), "metrics".into()],
            },
            TrustedOutcome::Refused("reconciliation: 3 != 4".into()),
        ] {
            assert_eq!(TrustedOutcome::from(o.to_string().as_str()), o);
        }
    }
}
