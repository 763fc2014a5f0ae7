//! The call centre's KPI figures, as `dapgov report kpi` gathers them and renders them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Month {
    pub year: i64,
    pub month: i64,
    pub calls_offered: i64,
    pub calls_handled: i64,
    pub calls_abandoned: i64,
    pub call_handling_pct: Option<f64>,
    pub abandonment_rate: Option<f64>,
    /// Weighted by calls offered.
    pub service_level: Option<f64>,
    /// Seconds, weighted by calls handled.
    pub average_speed_of_answer: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Year {
    pub year: i64,
    pub days: i64,
    pub calls_offered: i64,
    pub calls_handled: i64,
    pub calls_abandoned: i64,
    pub call_handling_pct: Option<f64>,
    pub abandonment_rate: Option<f64>,
    pub service_level: Option<f64>,
}

/// How current the numbers are, and where the days are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Freshness {
    pub first_day: String,
    pub last_day: String,
    pub days_loaded: usize,
    /// Days between the first and the last with no metrics.
    pub missing_days: Vec<String>,
}

/// Calls grouped by a time of week or day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    pub label: String,
    pub calls: i64,
    pub abandoned: i64,
    pub avg_wait_seconds: Option<f64>,
}

/// One load of the metrics behind the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub version: u64,
    pub time: String,
    pub operation: String,
    pub rows_added: Option<u64>,
    pub rows_removed: Option<u64>,
    pub input: Option<String>,
    /// From the load's run manifest: rows the rules sent to quarantine, rows a `warn` rule
    /// flagged, and what each trusted table did (written, or why not: the quality gates).
    pub quarantined: Option<u64>,
    pub warned: Option<u64>,
    pub trusted: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    pub project: String,
    pub generated_at: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub service_level_target: f64,
    pub freshness: Option<Freshness>,
    pub monthly: Vec<Month>,
    pub yearly: Vec<Year>,
    /// Empty when no call records are loaded (`call_records_loaded` says which).
    pub day_of_week: Vec<Pattern>,
    pub hour_of_day: Vec<Pattern>,
    pub call_records_loaded: bool,
    /// The latest loads of curated.metrics, newest first.
    pub loads: Vec<Load>,
}
