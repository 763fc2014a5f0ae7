//! The Inventory: a serializable snapshot of the platform's observed state.
//!
//! This is the one seam of dapgov. Targets read it, the planner diffs a desired
//! Inventory against an observed one, and the auditor checks it. The same types
//! describe desired and observed state: a desired resource leaves `None` every
//! property dapgov does not declare, so drift is measured only on declared properties.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[macro_use]
pub mod kind;
pub mod names;
pub mod ownership;

pub use kind::{ACCOUNT_SETTINGS_NAME, Resource};
pub use names::{Arns, Names};
pub use ownership::{Ownership, ownership};

pub type Tags = BTreeMap<String, String>;

/// The tags that mark a resource as dapgov's: written on everything it makes, and read back
/// to decide what it may change or delete.
pub const PROJECT_TAG: &str = "project";
pub const MANAGED_BY_TAG: &str = "managed-by";
pub const MANAGED_BY: &str = "dapgov";

/// AWS publishes billing metrics only in us-east-1, so the billing alarm lives there whatever
/// the platform's region: the one resource allowed outside it.
pub const BILLING_REGION: &str = "us-east-1";
/// The billing metric's namespace: an alarm on it is the billing alarm.
pub const BILLING_NAMESPACE: &str = "AWS/Billing";
/// The Athena engine the workgroup runs: Delta Lake tables are read by version 3 only.
pub const ATHENA_ENGINE_VERSION: &str = "Athena engine version 3";

/// Version of the Inventory JSON layout; bumped on incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default = "schema_version")]
    pub schema_version: u32,
    /// `local` or `aws`.
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub region: String,
    /// The project name from the spec; resources dapgov manages carry it as tag `project`.
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub buckets: BTreeMap<String, Bucket>,
    #[serde(default)]
    pub keys: BTreeMap<String, Key>,
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    #[serde(default)]
    pub trails: BTreeMap<String, Trail>,
    #[serde(default)]
    pub log_groups: BTreeMap<String, LogGroup>,
    #[serde(default)]
    pub topics: BTreeMap<String, Topic>,
    #[serde(default)]
    pub alarms: BTreeMap<String, Alarm>,
    #[serde(default)]
    pub budgets: BTreeMap<String, Budget>,
    #[serde(default)]
    pub glue_databases: BTreeMap<String, GlueDatabase>,
    #[serde(default)]
    pub glue_security_configurations: BTreeMap<String, GlueSecurityConfiguration>,
    #[serde(default)]
    pub athena_workgroups: BTreeMap<String, AthenaWorkgroup>,
    /// CloudWatch dashboards named for the project.
    #[serde(default)]
    pub dashboards: BTreeMap<String, Dashboard>,
    /// The delivery loader's dead-letter queue (SQS).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queues: BTreeMap<String, Queue>,
    /// The delivery loader (Lambda).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub functions: BTreeMap<String, Function>,
    /// The rule that sends landing's deliveries to the loader (EventBridge).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub event_rules: BTreeMap<String, EventRule>,
    /// The daily jobs' schedules, one group per platform (EventBridge Scheduler).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedule_groups: BTreeMap<String, ScheduleGroup>,
    #[serde(default)]
    pub account: AccountSettings,
    /// Summaries of recent ETL runs (from run manifests), newest last.
    #[serde(default)]
    pub etl_runs: Vec<EtlRunSummary>,
    /// How current each dataset that declares `fresh_within` is, read from its curated table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dataset_freshness: BTreeMap<String, DatasetFreshness>,
    /// Properties the target could not read, as `<address>:<property>` (for example
    /// `budget.van311-monthly:notifications` where an endpoint does not serve budget
    /// subscribers). The planner reports no drift on them; checks that need them do not apply.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub unreadable: std::collections::BTreeSet<String>,
    /// Resources named like the platform's that it does not own (no `managed-by = dapgov` and
    /// `project` tags, or, for kinds without tags, not exactly the platform's name), by
    /// address: read, then set aside (see [`ownership`]); never changed or deleted.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub not_managed: std::collections::BTreeSet<String>,
}

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// The zone the bucket serves (`landing`, `raw`, `curated`, `trusted`, `logs`, `trail`, `athena`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Whether the bucket sends its events to EventBridge (landing does, for the loader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eventbridge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<BucketEncryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<Versioning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Vec<LifecycleRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<BucketLogging>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<ObjectLock>,
    /// ACL grants other than the owner's full control (empty when ACLs are disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl_grants: Option<Vec<AclGrant>>,
    /// Observed only: objects held and their bytes per storage class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<BucketUsage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `aws:kms`, `AES256` or `none`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
    Disabled,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all_on() -> Self {
        Self {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        }
    }
    pub fn is_all_on(&self) -> bool {
        self.block_public_acls
            && self.ignore_public_acls
            && self.block_public_policy
            && self.restrict_public_buckets
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRule {
    pub id: String,
    #[serde(default)]
    pub prefix: String,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_expiration_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub days: u32,
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketLogging {
    pub target_bucket: String,
    pub target_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectLock {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AclGrant {
    /// A canonical id, an e-mail, or a group URI such as `http://acs.amazonaws.com/groups/global/AllUsers`.
    pub grantee: String,
    pub permission: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub objects: u64,
    /// Bytes per storage class, e.g. `STANDARD`.
    pub bytes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// Alias without the `alias/` prefix.
    pub alias: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_period_days: Option<u32>,
    /// `Enabled`, `Disabled` or `PendingDeletion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_window_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// Observed only: how many key versions exist (rotations + 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<Value>,
    /// Inline policies by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_policies: Option<BTreeMap<String, Value>>,
    /// Managed policies attached, by ARN, with their documents when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_policies: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trail {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_global_events: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file_validation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Buckets whose object-level (data) events are recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_event_buckets: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Metric filters by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_filters: Option<BTreeMap<String, MetricFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFilter {
    pub pattern: String,
    pub metric_namespace: String,
    pub metric_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// E-mail and other endpoints subscribed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    pub name: String,
    /// Region the alarm lives in (billing alarms live in us-east-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_periods: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<String>,
    /// How periods without data count: `breaching` for a metric whose absence is the
    /// problem (no load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_actions: Option<Vec<String>>,
    /// Observed only: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    /// `MONTHLY`, `QUARTERLY` or `ANNUALLY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Vec<BudgetNotification>>,
    /// Observed only: the spend so far this period, and the forecast for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetNotification {
    /// `ACTUAL` or `FORECASTED`.
    pub kind: String,
    pub threshold_percent: f64,
    #[serde(default)]
    pub subscribers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlueDatabase {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<BTreeMap<String, GlueTable>>,
}

/// A catalog table whose location is a Delta Lake table (Parquet files and a commit log).
pub const DELTA_FORMAT: &str = "delta";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlueTable {
    pub name: String,
    pub location: String,
    /// `delta` (`DELTA_FORMAT`), `parquet` or `csv`.
    pub format: String,
    pub columns: Vec<Column>,
    #[serde(default)]
    pub partition_keys: Vec<Column>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// Glue/Hive type name: `bigint`, `double`, `string`, `date`, `timestamp`, `boolean`.
    #[serde(rename = "type")]
    pub data_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GlueSecurityConfiguration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_bookmarks_kms_key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AthenaWorkgroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforce_configuration: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_scanned_cutoff: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_metrics: Option<bool>,
    /// The engine version selected (`Athena engine version 3`, or `AUTO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

/// A CloudWatch dashboard: its widgets as CloudWatch reads them (`DashboardBody`). Dashboards
/// carry no tags: they are the platform's by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// The cost-allocation tags Cost Explorer lists for the `project` key, with their status
    /// (`Active` or `Inactive`); a key it has not yet seen on a bill is absent. Read for the
    /// audit, never set by dapgov; `None` where the target has no Cost Explorer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_allocation_tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_prevention: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtlRunSummary {
    pub run_id: String,
    pub dataset: String,
    pub started_at: String,
    pub succeeded: bool,
    #[serde(default)]
    pub output_formats: Vec<String>,
    #[serde(default)]
    pub partitioned: bool,
}

/// An SQS queue (the loader's dead-letter queue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The KMS key messages are encrypted under (`None`: not KMS-encrypted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_seconds: Option<u32>,
    /// The queue's resource policy (who may send to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

/// A Lambda function and who may invoke it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// The SHA-256 of the deployed package, base64 (Lambda's `CodeSha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sha256: Option<String>,
    /// Where the package is uploaded from (desired only: the local file) and to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<FunctionPackage>,
    /// Where failed asynchronous invocations go (a queue's ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    /// The log group the function writes to (the platform's, not Lambda's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Who may invoke the function, by statement id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<BTreeMap<String, InvokePermission>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionPackage {
    /// The zip on this machine (`dapgov package lambda`).
    pub file: String,
    pub bucket: String,
    pub key: String,
}

/// One statement of a function's resource policy: a service may invoke it from one source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvokePermission {
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<String>,
}

/// An EventBridge rule on the default bus and its targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<Value>,
    /// `ENABLED` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<EventTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventTarget {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
}

/// An EventBridge Scheduler group and the schedules in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScheduleGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules: Option<BTreeMap<String, Schedule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// `cron(…)` as Scheduler writes it.
    pub expression: String,
    pub time_zone: String,
    /// `ENABLED` or `DISABLED`.
    pub state: String,
    pub target_arn: String,
    pub role_arn: String,
    /// The event the target receives.
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
}

/// How current a dataset's data is: its newest delivered day against the spec's
/// `fresh_within` (a day is due that long after it ends, in the platform's time zone).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetFreshness {
    pub fresh_within: String,
    /// The newest day curated holds (`None`: nothing loaded).
    pub newest_day: Option<String>,
    /// The newest day that should have arrived by now.
    pub due_day: String,
    /// Days due but not in curated: those after the newest day, and gaps in the four weeks
    /// before it.
    pub missing_days: Vec<String>,
}

impl DatasetFreshness {
    pub fn late(&self) -> bool {
        self.newest_day
            .as_deref()
            .is_none_or(|d| d < self.due_day.as_str())
    }
}

// The registry of resource kinds. A kind is its record type above, its field in `Inventory`,
// and one line in each of the three lists below; the targets' own code for it then has to
// exist for the workspace to compile.

/// Declares the kinds: the enum and the list of them, in the order they must be created.
macro_rules! resource_kinds {
    ($($kind:ident),* $(,)?) => {
        /// The kinds of resource dapgov manages, in the order they must be created.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ResourceKind {
            $($kind),*
        }

        impl ResourceKind {
            /// Every kind, in the order they must be created.
            pub const ALL: &'static [ResourceKind] = &[$(ResourceKind::$kind),*];
        }
    };
}

resource_kinds!(
    AccountSettings,
    Key,
    Topic,
    LogGroup,
    Role,
    Bucket,
    Trail,
    Alarm,
    Budget,
    GlueSecurityConfiguration,
    GlueDatabase,
    AthenaWorkgroup,
    Dashboard,
    Queue,
    Function,
    EventRule,
    ScheduleGroup,
);

/// Runs `$body` with `$t` standing for the record type of `$kind`: the registry of kinds.
#[macro_export]
macro_rules! with_kind {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            $crate::ResourceKind::AccountSettings => {
                type $t = $crate::AccountSettings;
                $body
            }
            $crate::ResourceKind::Key => {
                type $t = $crate::Key;
                $body
            }
            $crate::ResourceKind::Topic => {
                type $t = $crate::Topic;
                $body
            }
            $crate::ResourceKind::LogGroup => {
                type $t = $crate::LogGroup;
                $body
            }
            $crate::ResourceKind::Role => {
                type $t = $crate::Role;
                $body
            }
            $crate::ResourceKind::Bucket => {
                type $t = $crate::Bucket;
                $body
            }
            $crate::ResourceKind::Trail => {
                type $t = $crate::Trail;
                $body
            }
            $crate::ResourceKind::Alarm => {
                type $t = $crate::Alarm;
                $body
            }
            $crate::ResourceKind::Budget => {
                type $t = $crate::Budget;
                $body
            }
            $crate::ResourceKind::GlueSecurityConfiguration => {
                type $t = $crate::GlueSecurityConfiguration;
                $body
            }
            $crate::ResourceKind::GlueDatabase => {
                type $t = $crate::GlueDatabase;
                $body
            }
            $crate::ResourceKind::AthenaWorkgroup => {
                type $t = $crate::AthenaWorkgroup;
                $body
            }
            $crate::ResourceKind::Dashboard => {
                type $t = $crate::Dashboard;
                $body
            }
            $crate::ResourceKind::Queue => {
                type $t = $crate::Queue;
                $body
            }
            $crate::ResourceKind::Function => {
                type $t = $crate::Function;
                $body
            }
            $crate::ResourceKind::EventRule => {
                type $t = $crate::EventRule;
                $body
            }
            $crate::ResourceKind::ScheduleGroup => {
                type $t = $crate::ScheduleGroup;
                $body
            }
        }
    };
}

// Where the Inventory keeps each kind, its address, and whose a resource of it is: tags, or
// exactly the one name the platform gives it. (The account's settings are one record, in
// `kind.rs`.)
kept_by_name!(Key, keys, "key", tagged);
kept_by_name!(Topic, topics, "topic", tagged);
kept_by_name!(LogGroup, log_groups, "log_group", tagged);
kept_by_name!(Role, roles, "role", tagged);
kept_by_name!(Bucket, buckets, "bucket", tagged);
kept_by_name!(Trail, trails, "trail", tagged);
kept_by_name!(Alarm, alarms, "alarm", tagged);
kept_by_name!(Budget, budgets, "budget", named budget);
kept_by_name!(
    GlueSecurityConfiguration,
    glue_security_configurations,
    "glue_security_configuration",
    named glue_security_configuration
);
kept_by_name!(GlueDatabase, glue_databases, "glue_database", named glue_database);
kept_by_name!(
    AthenaWorkgroup,
    athena_workgroups,
    "athena_workgroup",
    tagged
);
kept_by_name!(Dashboard, dashboards, "dashboard", named dashboard);
kept_by_name!(Queue, queues, "queue", tagged);
kept_by_name!(Function, functions, "function", tagged);
kept_by_name!(EventRule, event_rules, "event_rule", tagged);
kept_by_name!(ScheduleGroup, schedule_groups, "schedule_group", tagged);

/// One resource of any kind, as a JSON value, addressed by kind and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub name: String,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.kind.as_str(), self.name)
    }
}

impl Inventory {
    /// Whether the target could read `property` of the resource at `address`.
    pub fn is_readable(&self, address: &str, property: &str) -> bool {
        !self.unreadable.contains(&format!("{address}:{property}"))
    }

    /// The bucket serving a zone, if any.
    pub fn zone_bucket(&self, zone: &str) -> Option<&Bucket> {
        self.buckets
            .values()
            .find(|b| b.zone.as_deref() == Some(zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_resources_serialize_only_declared_properties() {
        let b = Bucket {
            name: "x".into(),
            versioning: Some(Versioning::Enabled),
            ..Default::default()
        };
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v, serde_json::json!({"name": "x", "versioning": "Enabled"}));
    }

    #[test]
    fn resources_come_in_creation_order() {
        let mut inv = Inventory::default();
        inv.buckets.insert(
            "b".into(),
            Bucket {
                name: "b".into(),
                ..Default::default()
            },
        );
        inv.keys.insert(
            "k".into(),
            Key {
                alias: "k".into(),
                ..Default::default()
            },
        );
        let kinds: Vec<_> = inv.resources().into_iter().map(|(r, _)| r.kind).collect();
        assert_eq!(kinds, vec![ResourceKind::Key, ResourceKind::Bucket]);
    }

    #[test]
    fn inventory_round_trips_through_json() {
        let mut inv = Inventory {
            target: "local".into(),
            ..Default::default()
        };
        inv.roles.insert(
            "r".into(),
            Role {
                name: "r".into(),
                ..Default::default()
            },
        );
        let text = serde_json::to_string(&inv).unwrap();
        let back: Inventory = serde_json::from_str(&text).unwrap();
        assert_eq!(inv, back);
    }
}
