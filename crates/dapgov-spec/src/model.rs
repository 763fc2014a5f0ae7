use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub platform: Platform,
    pub zones: BTreeMap<String, Zone>,
    #[serde(default)]
    pub keys: Keys,
    pub budget: BudgetSpec,
    #[serde(default)]
    pub logs: Logs,
    #[serde(default)]
    pub athena: Athena,
    #[serde(default)]
    pub local: LocalSpec,
    #[serde(default)]
    pub etl: EtlSpec,
    #[serde(default)]
    pub datasets: BTreeMap<String, Dataset>,
    #[serde(default)]
    pub trusted: Vec<TrustedTable>,
    #[serde(default)]
    pub kpi: KpiSpec,
    #[serde(default)]
    pub automation: crate::automation::Automation,
}

/// The call centre's targets, drawn on `dapgov report kpi`'s charts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// The share of calls answered within the service-level threshold the centre aims for.
    #[serde(default = "default_service_level_target")]
    pub service_level_target: f64,
}

impl Default for KpiSpec {
    fn default() -> Self {
        Self {
            service_level_target: default_service_level_target(),
        }
    }
}

fn default_service_level_target() -> f64 {
    0.8
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Local,
    Aws,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Local => "local",
            Target::Aws => "aws",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub name: String,
    #[serde(default)]
    pub target: Target,
    pub region: String,
    pub owner: String,
    /// Where the local target keeps the platform (relative to the spec file).
    #[serde(default = "default_state_dir")]
    pub state_dir: String,
    /// Principals allowed to administer keys (never to use them). Default: the account root.
    #[serde(default)]
    pub key_admins: Vec<String>,
}

fn default_state_dir() -> String {
    ".dapgov".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    /// `confidential-pii` or `internal`.
    pub classification: String,
    /// Delete objects after this many days (landing).
    #[serde(default)]
    pub expire_days: Option<u32>,
    /// Objects must be kept at least this long; lifecycle never expires earlier.
    #[serde(default)]
    pub retention_days: Option<u32>,
    #[serde(default)]
    pub transition_ia_days: Option<u32>,
    #[serde(default)]
    pub transition_glacier_days: Option<u32>,
    #[serde(default = "default_noncurrent_days")]
    pub noncurrent_expire_days: u32,
}

fn default_noncurrent_days() -> u32 {
    90
}

impl Zone {
    pub fn holds_pii(&self) -> bool {
        self.classification == "confidential-pii"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    #[serde(default = "default_deletion_window")]
    pub deletion_window_days: u32,
    #[serde(default = "default_rotation_days")]
    pub rotation_period_days: u32,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            deletion_window_days: default_deletion_window(),
            rotation_period_days: default_rotation_days(),
        }
    }
}

fn default_deletion_window() -> u32 {
    30
}
fn default_rotation_days() -> u32 {
    365
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub monthly_usd: f64,
    #[serde(default = "default_thresholds")]
    pub thresholds: Vec<f64>,
    pub alarm_email: String,
    /// The billing alarm fires above this estimated monthly charge (default: the budget).
    #[serde(default)]
    pub billing_alarm_usd: Option<f64>,
}

fn default_thresholds() -> Vec<f64> {
    vec![80.0, 100.0]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    #[serde(default = "default_log_retention")]
    pub retention_days: u32,
}

impl Default for Logs {
    fn default() -> Self {
        Self {
            retention_days: default_log_retention(),
        }
    }
}

fn default_log_retention() -> u32 {
    365
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Athena {
    #[serde(default = "default_cutoff")]
    pub bytes_scanned_cutoff: u64,
}

impl Default for Athena {
    fn default() -> Self {
        Self {
            bytes_scanned_cutoff: default_cutoff(),
        }
    }
}

fn default_cutoff() -> u64 {
    10 * 1024 * 1024 * 1024
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSpec {
    /// USD per GB-month by storage class, for the local budget estimate.
    #[serde(default = "default_prices")]
    pub price_per_gb_month: BTreeMap<String, f64>,
}

impl Default for LocalSpec {
    fn default() -> Self {
        Self {
            price_per_gb_month: default_prices(),
        }
    }
}

fn default_prices() -> BTreeMap<String, f64> {
    [
        ("STANDARD", 0.025),
        ("STANDARD_IA", 0.0138),
        ("GLACIER_IR", 0.005),
        ("GLACIER", 0.0045),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtlSpec {
    #[serde(default = "default_namespace")]
    pub metrics_namespace: String,
    /// Policy per PII entity type: `redact`, `mask`, `hash` or `drop`. An entity name that
    /// is not one of `PiiEntity`'s is a spec error, never a protection silently off.
    #[serde(default = "default_pii_policy")]
    pub pii: BTreeMap<PiiEntity, PiiAction>,
    /// Trusted is written only when at least this share of required cells is present.
    #[serde(default = "default_completeness")]
    pub min_completeness: f64,
    /// Largest relative difference allowed when reconciling call-level data with daily metrics.
    #[serde(default = "default_tolerance")]
    pub reconciliation_tolerance: f64,
    /// Every version of a table stays readable (time travel, rollback) for at least this many
    /// days: `etl maintain` removes no file a version this recent references.
    #[serde(default = "default_time_travel_days")]
    pub time_travel_days: u32,
}

impl Default for EtlSpec {
    fn default() -> Self {
        Self {
            metrics_namespace: default_namespace(),
            pii: default_pii_policy(),
            min_completeness: default_completeness(),
            reconciliation_tolerance: default_tolerance(),
            time_travel_days: default_time_travel_days(),
        }
    }
}

fn default_time_travel_days() -> u32 {
    30
}
fn default_namespace() -> String {
    "dapgov".into()
}
fn default_completeness() -> f64 {
    0.99
}
fn default_tolerance() -> f64 {
    0.001
}
fn default_pii_policy() -> BTreeMap<PiiEntity, PiiAction> {
    BTreeMap::new()
}

/// The kinds of personal information dapgov detects and protects. Names follow AWS Glue's
/// sensitive-data types where Glue has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PiiEntity {
    #[serde(rename = "EMAIL")]
    Email,
    #[serde(rename = "PHONE_NUMBER")]
    Phone,
    #[serde(rename = "CREDIT_CARD")]
    CreditCard,
    #[serde(rename = "IP_ADDRESS")]
    IpAddress,
    #[serde(rename = "CANADA_SOCIAL_INSURANCE_NUMBER")]
    Sin,
    #[serde(rename = "CANADA_PERSONAL_HEALTH_NUMBER")]
    Phn,
    #[serde(rename = "CANADA_PASSPORT_NUMBER")]
    Passport,
    #[serde(rename = "CANADA_DRIVING_LICENSE")]
    DriversLicence,
    #[serde(rename = "CANADA_POSTAL_CODE")]
    PostalCode,
    #[serde(rename = "STREET_ADDRESS")]
    StreetAddress,
    #[serde(rename = "PERSON_NAME")]
    PersonName,
}

impl PiiEntity {
    pub const ALL: [PiiEntity; 11] = [
        PiiEntity::Email,
        PiiEntity::CreditCard,
        PiiEntity::Sin,
        PiiEntity::Phn,
        PiiEntity::Phone,
        PiiEntity::IpAddress,
        PiiEntity::Passport,
        PiiEntity::DriversLicence,
        PiiEntity::PostalCode,
        PiiEntity::StreetAddress,
        PiiEntity::PersonName,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PiiEntity::Email => "EMAIL",
            PiiEntity::Phone => "PHONE_NUMBER",
            PiiEntity::CreditCard => "CREDIT_CARD",
            PiiEntity::IpAddress => "IP_ADDRESS",
            PiiEntity::Sin => "CANADA_SOCIAL_INSURANCE_NUMBER",
            PiiEntity::Phn => "CANADA_PERSONAL_HEALTH_NUMBER",
            PiiEntity::Passport => "CANADA_PASSPORT_NUMBER",
            PiiEntity::DriversLicence => "CANADA_DRIVING_LICENSE",
            PiiEntity::PostalCode => "CANADA_POSTAL_CODE",
            PiiEntity::StreetAddress => "STREET_ADDRESS",
            PiiEntity::PersonName => "PERSON_NAME",
        }
    }

    pub fn from_name(s: &str) -> Option<PiiEntity> {
        PiiEntity::ALL.into_iter().find(|e| e.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PiiAction {
    Redact,
    Mask,
    Hash,
    Drop,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// What the dataset is, for `dapgov docs`.
    #[serde(default)]
    pub description: Option<String>,
    /// Where its files come from (a portal, a system, a team), for `dapgov docs`.
    #[serde(default)]
    pub source: Option<String>,
    /// Renames applied after snake-casing the source headers (`from = "to"`).
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Declared columns and their rules; undeclared columns pass through with inferred types.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnRule>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub unique_key: Vec<String>,
    /// The date column: standardised to ISO, used for gaps and the `year` partition.
    #[serde(default)]
    pub date_column: Option<String>,
    /// chrono formats accepted for dates, tried in order.
    #[serde(default = "default_date_formats")]
    pub date_formats: Vec<String>,
    /// Row rules as SQL predicates over the typed columns.
    #[serde(default)]
    pub rules: Vec<RowRule>,
    /// Derived columns as SQL expressions, in order.
    #[serde(default)]
    pub derive: Vec<Derived>,
    /// Columns dropped from curated (e.g. export row numbers).
    #[serde(default)]
    pub drop: Vec<String>,
    /// Columns holding free text: scanned for PII in full rather than classified from a sample.
    #[serde(default)]
    pub free_text: Vec<String>,
    /// How a delivery changes the dataset's tables (see `LoadMode`); by default
    /// `replace_partitions` with a date column, else `replace`.
    #[serde(default)]
    pub load: Option<LoadMode>,
    /// The partition column of curated, from the date column: `year` (the default with a
    /// date column), `month` (yyyymm), `date` (the date column itself) or `none`. Queries
    /// filtered on it read only the partitions they need.
    #[serde(default)]
    pub partition_by: Option<PartitionBy>,
    /// The directory `dapgov serve` watches for this dataset's deliveries on the local target,
    /// relative to the spec file (default `inbox/<dataset>`).
    #[serde(default)]
    pub inbox: Option<String>,
    /// How far behind the newest delivered day may fall before the dataset is late, as a
    /// duration (`36h`, `2d`); the audit's `etl_dataset_fresh` check holds it. Needs a date column.
    #[serde(default)]
    pub fresh_within: Option<String>,
    /// The volume each delivered day is expected to have (needs a date column).
    #[serde(default)]
    pub volume: Option<crate::automation::VolumeRule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionBy {
    Year,
    Month,
    Date,
    None,
}

/// How a delivery changes a dataset's tables. Every load is a commit of the dataset's Delta
/// tables, so the history keeps what each load did and any load can be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// A delivery replaces the days (of the date column) it contains and keeps all others: a
    /// corrected delivery replaces exactly what it corrects.
    ReplacePartitions,
    /// A delivery adds its rows (event data delivered once, without overlap).
    Append,
    /// A delivery is the whole table (small reference tables).
    Replace,
}

impl LoadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::ReplacePartitions => "replace_partitions",
            LoadMode::Append => "append",
            LoadMode::Replace => "replace",
        }
    }
}

impl Dataset {
    /// The declared partitioning, else `year` with a date column and `none` without.
    pub fn partition(&self) -> PartitionBy {
        self.partition_by.unwrap_or(if self.date_column.is_some() {
            PartitionBy::Year
        } else {
            PartitionBy::None
        })
    }

    /// The declared load mode, else the default for the dataset's shape.
    pub fn load_mode(&self) -> LoadMode {
        self.load.unwrap_or(if self.date_column.is_some() {
            LoadMode::ReplacePartitions
        } else {
            LoadMode::Replace
        })
    }
}

fn default_column_type() -> String {
    "string".into()
}

fn default_date_formats() -> Vec<String> {
    vec!["%Y-%m-%d".into()]
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnRule {
    /// `bigint`, `double`, `string`, `date`, `timestamp` or `boolean`.
    #[serde(rename = "type", default = "default_column_type")]
    pub data_type: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// The personal information the column holds: every value gets that entity's `[etl.pii]`
    /// action, whatever the detector makes of it.
    #[serde(default)]
    pub pii: Option<PiiEntity>,
    /// What the column means, for `dapgov docs`.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowRule {
    pub name: String,
    /// A SQL predicate that good rows satisfy.
    pub check: String,
    /// `reject` sends failing rows to quarantine; `warn` counts them and keeps them.
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Reject,
    Warn,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    pub name: String,
    pub sql: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedTable {
    pub name: String,
    /// What the table answers, for `dapgov docs`.
    #[serde(default)]
    pub description: Option<String>,
    /// Curated tables this one reads; it is rebuilt when any of them changes.
    pub inputs: Vec<String>,
    /// SQL over `curated.<dataset>` tables.
    pub sql: String,
    /// Partition by a `year` column when the result has one.
    #[serde(default)]
    pub partition_by_year: bool,
    /// A reconciliation: SQL returning one row with columns `expected` and `actual`.
    #[serde(default)]
    pub reconcile: Option<String>,
    /// `whole` (default): rebuilt from every curated row on each load. `touched_years`: a load
    /// rebuilds only the years it delivers, from its inputs' rows of those years; declare it
    /// only for SQL whose rows of a year come from input rows of that year alone (per-day and
    /// per-month aggregates do; a running total across years does not).
    #[serde(default)]
    pub rebuild: TrustedRebuild,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustedRebuild {
    #[default]
    Whole,
    TouchedYears,
}
