//! The Target seam: where the platform lives. A target reads an Inventory, applies one
//! change at a time, and hands the ETL narrow capabilities scoped to one role.

use dapgov_inventory::{GlueTable, Inventory, Names, ResourceRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use dapgov_plan::ChangeAction;

/// One change for a target to carry out.
#[derive(Debug, Clone)]
pub struct ChangeRequest {
    pub resource: ResourceRef,
    pub action: ChangeAction,
    /// The desired resource (create, update, replace).
    pub desired: Option<Value>,
    /// The resource as observed (update, replace, delete).
    pub observed: Option<Value>,
    /// Delete buckets that still hold objects.
    pub force_delete_data: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("access denied: {principal} may not {action} on {resource}{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    AccessDenied {
        principal: String,
        action: String,
        resource: String,
        reason: Option<String>,
    },
    #[error("{resource}: {message}")]
    Refused { resource: String, message: String },
    /// What the platform holds is damaged or not what it should be (a control record that
    /// does not parse, a file that fails authentication): never read as absent.
    #[error("{what}: {message}")]
    Integrity { what: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl TargetError {
    pub fn other(e: impl std::fmt::Display) -> Self {
        TargetError::Other(e.to_string())
    }
}

pub type TargetResult<T> = Result<T, TargetError>;

#[async_trait::async_trait]
pub trait Target: Send + Sync {
    async fn account_id(&self) -> TargetResult<String>;
    /// Read everything dapgov manages for `project`, plus account-level settings.
    async fn read_inventory(&self, project: &str) -> TargetResult<Inventory>;
    async fn apply(&self, change: &ChangeRequest) -> TargetResult<()>;
    /// Capabilities for work done as one of the platform's roles (`etl`, `analyst`, `auditor`).
    async fn session(&self, project: &str, role: &str) -> TargetResult<RoleSession>;
    /// What the platform cost, month by month over the last `months` (this one included),
    /// grouped by `by`, and the forecast for this month.
    async fn cost(&self, project: &str, months: u32, by: CostGrouping) -> TargetResult<CostReport>;
}

pub use dapgov_records::{CostGrouping, CostReport, MonthCost};

/// What a role may use, and nothing else. Every call is checked against the role's policies.
#[derive(Clone)]
pub struct RoleSession {
    pub role: String,
    /// The platform's names, as the target found them (account and region included).
    pub names: Names,
    pub principal_arn: String,
    /// Object storage per zone (`landing`, `raw`, `curated`, `trusted`): the URL DataFusion
    /// resolves (`scheme://bucket/`) and the store behind it.
    pub zones: BTreeMap<String, ZoneStore>,
    pub keys: Arc<dyn KeyService>,
    pub metrics: Arc<dyn MetricsSink>,
    pub catalog: Arc<dyn CatalogService>,
    pub audit: Arc<dyn AuditLog>,
    /// The target's own query engine over the catalog (Athena on aws), run as this role; None
    /// where queries run in dapgov's engine only (local).
    pub sql: Option<Arc<dyn SqlService>>,
}

/// A column of a query answer, typed as the engine names its types (`bigint`, `varchar`,
/// `decimal`, `date`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlColumn {
    pub name: String,
    pub sql_type: String,
    pub precision: Option<i32>,
    pub scale: Option<i32>,
}

/// What a query in the target's engine answered: columns, rows as text (None for NULL), and
/// what it scanned.
#[derive(Debug, Clone, Default)]
pub struct SqlAnswer {
    pub query_id: String,
    pub columns: Vec<SqlColumn>,
    pub rows: Vec<Vec<Option<String>>>,
    pub bytes_scanned: Option<i64>,
}

/// Stops a query when it resolves (Ctrl-C).
pub type Cancel = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

#[async_trait::async_trait]
pub trait SqlService: Send + Sync {
    /// The engine's name, as `query --engine` takes it.
    fn engine(&self) -> &'static str;
    /// Run one read over the platform's catalog database (table names as the catalog spells
    /// them), waiting for it to finish; `cancel` resolving stops it.
    async fn run(&self, sql: &str, cancel: Cancel) -> TargetResult<SqlAnswer>;
}

#[derive(Clone)]
pub struct ZoneStore {
    pub bucket: String,
    pub url: String,
    pub store: Arc<dyn object_store::ObjectStore>,
}

#[async_trait::async_trait]
pub trait KeyService: Send + Sync {
    /// A 32-byte secret for keyed pseudonymisation (HMAC), released only to roles that may
    /// decrypt with the PII key. Stable across runs so hashed values still join.
    async fn pseudonymisation_key(&self) -> TargetResult<Vec<u8>>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricDatum {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub dimensions: BTreeMap<String, String>,
}

#[async_trait::async_trait]
pub trait MetricsSink: Send + Sync {
    async fn put(&self, namespace: &str, data: &[MetricDatum]) -> TargetResult<()>;
}

#[async_trait::async_trait]
pub trait CatalogService: Send + Sync {
    async fn put_table(&self, database: &str, table: &GlueTable) -> TargetResult<()>;
    /// The tables the role may see: as Glue's GetTables, which leaves out those on which the
    /// role's policies do not allow it.
    async fn tables(&self, database: &str) -> TargetResult<Vec<GlueTable>>;
    /// One table by name (Glue's GetTable): None if there is none, an access error if the
    /// role may not see it.
    async fn table(&self, database: &str, name: &str) -> TargetResult<Option<GlueTable>>;
}

/// Where the platform records what a role was refused before any store or service saw the
/// request (a query that would write, define or reconfigure), and operations of dapgov's own
/// that the writes beneath them would not name.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    async fn refused(&self, action: &str, resource: &str, reason: &str) -> TargetResult<()>;
    /// An operation of dapgov's own that the object writes beneath it would not name (a
    /// table rolled back), recorded before it takes effect: one that cannot be recorded is
    /// not done.
    async fn allowed(&self, action: &str, resource: &str, detail: &str) -> TargetResult<()>;
}
