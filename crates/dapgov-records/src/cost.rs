//! What the platform cost, as a target reports it and `dapgov cost` renders it.

use serde::{Deserialize, Serialize};

/// How `dapgov cost` groups a month's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostGrouping {
    /// By AWS service.
    Service,
    /// By the `zone` tag the platform's resources carry.
    Zone,
}

/// One month's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthCost {
    /// `YYYY-MM`.
    pub month: String,
    pub total: f64,
    pub groups: std::collections::BTreeMap<String, f64>,
}

/// What the platform cost, as the target knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    /// True when the numbers are dapgov's estimate, not a bill (the local target).
    pub estimated: bool,
    pub currency: String,
    pub by: CostGrouping,
    pub months: Vec<MonthCost>,
    /// This month's total as forecast, when the target can forecast it.
    pub forecast: Option<f64>,
    /// How the numbers were made, or why one is missing.
    pub notes: Vec<String>,
}
