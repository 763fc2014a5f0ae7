//! The embedded ETL core: landing → raw → curated → trusted, with quality rules, quarantine,
//! PII protection, metrics and SQL. It sees only a `RoleSession`: the stores, keys, metrics
//! and catalog a role may use, so it can touch nothing else.

pub mod delta;
pub mod freshness;
pub mod holidays;
pub mod ingest;
pub mod kpi;
pub mod pii;
pub mod pii_eval;
mod pipeline;
pub mod profile;
pub mod query;
pub mod remote_query;
pub mod sample;
pub mod volume;

pub use dapgov_records::{LoadReport, Manifest, StageTiming, TrustedOutcome};
pub use pipeline::{
    Rollback, RunOptions, hash_file, history, landing, maintain, recent_manifests, rollback, run,
};

#[derive(Debug, thiserror::Error)]
pub enum EtlError {
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("dataset `{0}` is not declared in dapgov.toml; add a [datasets.{0}] table")]
    UnknownDataset(String),
    #[error(transparent)]
    Target(#[from] dapgov_target::TargetError),
    #[error("{0}")]
    Engine(String),
    #[error(
        "refused: `{statement}` statements do not run as role `{role}`; queries may only read ({})",
        query::READ_STATEMENTS
    )]
    Refused { role: String, statement: String },
    /// A table the work reads is not in the catalog (or not one the role may see).
    #[error("{table} does not exist: {remedy}")]
    MissingTable { table: String, remedy: String },
    #[error("quality gate failed: {0}")]
    Gate(String),
    /// A concurrent load changed what this commit read; the work can be redone on the new
    /// version.
    #[error("{0}")]
    Conflict(String),
}

impl EtlError {
    pub fn input(path: &str, message: impl Into<String>) -> Self {
        EtlError::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl From<datafusion::error::DataFusionError> for EtlError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        EtlError::Engine(query::clean_error(&e))
    }
}
