//! The auditor: pure checks over an Inventory, grouped by Well-Architected pillar.
//!
//! A check is data plus code. The data (title, pillar, best practice, severity, risk,
//! remediation, snippets, link) lives in `policies/checks/<pillar>.toml` and is embedded at
//! build time; the code is a function in `checks/` returning PASS, FAIL or NOT_APPLICABLE per
//! resource with a one-line detail. [`run`] joins the two, applies the mutelist and, when asked,
//! compares with a previous audit. Nothing here does IO or knows an output format.

pub mod access;
mod accounts;
mod catalogue;
mod checks;
mod compare;
mod context;
mod framework;
mod mutelist;

pub use accounts::{AccountPart, AccountResult, combine};
pub use catalogue::{Catalogue, CatalogueError, CheckMeta, Remediation};
pub use compare::{Comparison, Delta, FixedFinding};
pub use context::Resource;
pub use framework::{
    Framework, FrameworkError, FrameworkResult, Requirement, RequirementCounts, RequirementResult,
    RequirementStatus,
};
pub use mutelist::{MuteRule, Mutelist, MutelistError, Muting};

use chrono::{DateTime, SecondsFormat, Utc};
use dapgov_inventory::Inventory;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the audit JSON layout (`docs/checks.md` documents it); bumped on incompatible change.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pillar {
    OperationalExcellence,
    Security,
    Reliability,
    PerformanceEfficiency,
    CostOptimization,
}

impl Pillar {
    pub const ALL: [Pillar; 5] = [
        Pillar::OperationalExcellence,
        Pillar::Security,
        Pillar::Reliability,
        Pillar::PerformanceEfficiency,
        Pillar::CostOptimization,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Pillar::OperationalExcellence => "operational-excellence",
            Pillar::Security => "security",
            Pillar::Reliability => "reliability",
            Pillar::PerformanceEfficiency => "performance-efficiency",
            Pillar::CostOptimization => "cost-optimization",
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            Pillar::OperationalExcellence => "Operational excellence",
            Pillar::Security => "Security",
            Pillar::Reliability => "Reliability",
            Pillar::PerformanceEfficiency => "Performance efficiency",
            Pillar::CostOptimization => "Cost optimization",
        }
    }
}

impl std::str::FromStr for Pillar {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Pillar::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown pillar `{s}`; expected one of {}",
                    Pillar::ALL.map(|p| p.as_str()).join(", ")
                )
            })
    }
}

/// Ordered from least to most severe, so `>=` means "at or above".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown severity `{s}`; expected one of {}",
                    Severity::ALL.map(|v| v.as_str()).join(", ")
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotApplicable => "NOT_APPLICABLE",
        }
    }
}

/// One check's verdict on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable across runs: `dapgov-<check>-<account>-<region>-<resource>`; `--compare` keys on it.
    pub uid: String,
    pub check_id: String,
    pub title: String,
    pub pillar: Pillar,
    pub severity: Severity,
    pub best_practice: String,
    pub service: String,
    pub resource_type: String,
    /// The Inventory address, e.g. `bucket.van311-raw-000000000000`.
    pub resource: String,
    pub arn: String,
    pub region: String,
    pub status: Status,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<String>,
    /// Against `--compare`: `new` or `unchanged` (failing findings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Delta>,
    /// The line of the spec that declares the resource (see `RunInfo.spec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_line: Option<usize>,
    /// The account the resource is in, in an audit of many accounts (`--accounts`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
}

impl Finding {
    pub fn is_failing(&self) -> bool {
        self.status == Status::Fail && self.muted.is_none()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub muted: usize,
    pub not_applicable: usize,
}

impl Counts {
    fn add(&mut self, f: &Finding) {
        match (f.status, &f.muted) {
            (_, Some(_)) => self.muted += 1,
            (Status::Pass, None) => self.pass += 1,
            (Status::Fail, None) => self.fail += 1,
            (Status::NotApplicable, None) => self.not_applicable += 1,
        }
    }
}

/// One row of the Well-Architected table: a best practice and how its checks fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestPracticeRow {
    pub id: String,
    pub pillar: Pillar,
    pub checks: Vec<String>,
    pub counts: Counts,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub totals: Counts,
    /// Un-muted failing findings by pillar, then severity (every pillar and severity present).
    pub failing: BTreeMap<Pillar, BTreeMap<Severity, usize>>,
    pub by_pillar: BTreeMap<Pillar, Counts>,
    pub resources: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub tool: String,
    pub version: String,
    pub generated_at: String,
    /// `local`, `aws`, or `snapshot:<file>`.
    pub source: String,
    pub target: String,
    pub account_id: String,
    pub region: String,
    pub project: String,
    pub pillars: Vec<Pillar>,
    pub min_severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutelist: Option<String>,
    /// The spec the platform was built from, which `Finding.spec_line` points into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

/// Everything one audit produced. Its JSON form is the stable `audit.json` schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    pub schema_version: u32,
    pub run: RunInfo,
    pub summary: Summary,
    pub best_practices: Vec<BestPracticeRow>,
    pub checks: Vec<CheckMeta>,
    /// Sorted by pillar, check id, then resource.
    pub findings: Vec<Finding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Each platform role's access to each zone, evaluated from the policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<access::ZoneAccess>,
    /// One verdict per requirement of each framework asked for (`--framework`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<FrameworkResult>,
    /// Each account's roll-up, in an audit of many accounts (`--accounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountResult>,
    /// The month's spend beside the budget, as the target reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostCard>,
}

/// The month's spend and forecast beside the monthly budget: AWS Budgets' figures on AWS, the
/// storage estimate on the local target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostCard {
    pub budget: String,
    pub limit_usd: f64,
    pub actual_usd: Option<f64>,
    pub forecast_usd: Option<f64>,
    /// True when the figures are dapgov's estimate, not AWS's.
    pub estimated: bool,
}

impl Audit {
    /// Point each finding at the line of the spec `file` that `lines` gives for its resource.
    pub fn locate_in_spec(&mut self, file: &str, lines: impl Fn(&str) -> usize) {
        self.run.spec = Some(file.to_string());
        for f in &mut self.findings {
            f.spec_line = Some(lines(&f.resource));
        }
    }

    /// Un-muted FAIL findings at or above `level`.
    pub fn failing_at_or_above(&self, level: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.is_failing() && f.severity >= level)
            .count()
    }
}

pub struct AuditOptions<'a> {
    /// Empty means every pillar.
    pub pillars: Vec<Pillar>,
    pub min_severity: Severity,
    pub now: DateTime<Utc>,
    pub source: String,
    pub mutelist: Option<(&'a Mutelist, String)>,
    pub previous: Option<&'a Audit>,
    /// When not empty, run only the checks these frameworks map and judge their requirements.
    pub frameworks: Vec<Framework>,
}

impl Default for AuditOptions<'_> {
    fn default() -> Self {
        Self {
            pillars: vec![],
            min_severity: Severity::Informational,
            now: Utc::now(),
            source: "snapshot".into(),
            mutelist: None,
            previous: None,
            frameworks: vec![],
        }
    }
}

/// One outcome of a check as a finding, muted where the mutelist accepts it.
fn finding(
    ctx: &context::Ctx,
    meta: &CheckMeta,
    o: context::Outcome,
    options: &AuditOptions,
) -> Finding {
    let account = &ctx.inv.account_id;
    let scope = mutelist::Scope {
        account,
        tags: ctx.tags_of(&o.resource.address),
        today: options.now.date_naive(),
    };
    let (muted, detail) = match options
        .mutelist
        .as_ref()
        .map(|(m, _)| m.muting(&meta.id, &o.resource, &scope))
    {
        Some(mutelist::Muting::Muted(reason)) => (Some(reason), o.detail),
        Some(mutelist::Muting::Expired { reason, on }) => (
            None,
            format!(
                "{} (accepted until {on}, \"{reason}\": that acceptance has expired)",
                o.detail
            ),
        ),
        _ => (None, o.detail),
    };
    Finding {
        uid: format!(
            "dapgov-{}-{}-{}-{}",
            meta.id, account, o.resource.region, o.resource.address
        ),
        check_id: meta.id.clone(),
        title: meta.title.clone(),
        pillar: meta.pillar,
        severity: meta.severity,
        best_practice: meta.best_practice.clone(),
        service: meta.service.clone(),
        resource_type: meta.resource_type.clone(),
        resource: o.resource.address,
        arn: o.resource.arn,
        region: o.resource.region,
        status: o.status,
        detail,
        muted,
        delta: None,
        spec_line: None,
        account: String::new(),
    }
}

/// Run the selected checks over an Inventory. Pure: same inputs, same output.
pub fn run(inventory: &Inventory, catalogue: &Catalogue, options: &AuditOptions) -> Audit {
    let ctx = context::Ctx::new(inventory, options.now);
    let selected: Vec<&CheckMeta> = catalogue
        .checks()
        .iter()
        .filter(|c| options.pillars.is_empty() || options.pillars.contains(&c.pillar))
        .filter(|c| c.severity >= options.min_severity)
        .filter(|c| {
            options.frameworks.is_empty() || options.frameworks.iter().any(|f| f.maps(&c.id))
        })
        .collect();

    let mut findings = Vec::new();
    for meta in &selected {
        let check = checks::implementation(&meta.id)
            .expect("the catalogue is validated against the implementations");
        let mut outcomes = check(&ctx);
        if outcomes.is_empty() {
            outcomes.push(context::Outcome::not_applicable(
                ctx.account(),
                format!("no {} in the inventory", meta.resource_type),
            ));
        }
        for o in outcomes {
            findings.push(finding(&ctx, meta, o, options));
        }
    }
    findings.sort_by(|a, b| {
        (a.pillar, &a.check_id, &a.resource).cmp(&(b.pillar, &b.check_id, &b.resource))
    });
    findings.dedup_by(|a, b| a.uid == b.uid);
    let comparison = options
        .previous
        .map(|prev| compare::compare(prev, &mut findings));

    let pillars: Vec<Pillar> = if options.pillars.is_empty() {
        Pillar::ALL.to_vec()
    } else {
        options.pillars.clone()
    };
    let (summary, best_practices) = summarise(&findings, &selected, &pillars);
    let run_checks = selected.iter().map(|c| c.id.as_str()).collect();
    let frameworks = options
        .frameworks
        .iter()
        .map(|f| f.assess(&run_checks, &findings))
        .collect();
    Audit {
        schema_version: AUDIT_SCHEMA_VERSION,
        run: RunInfo {
            tool: "dapgov".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            generated_at: options.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            source: options.source.clone(),
            target: inventory.target.clone(),
            account_id: inventory.account_id.clone(),
            region: inventory.region.clone(),
            project: inventory.project.clone(),
            pillars,
            min_severity: options.min_severity,
            mutelist: options.mutelist.as_ref().map(|(_, name)| name.clone()),
            spec: None,
        },
        summary,
        best_practices,
        checks: selected.into_iter().cloned().collect(),
        findings,
        comparison,
        access: access::zone_access(inventory),
        frameworks,
        accounts: vec![],
        cost: inventory.budgets.values().find_map(|b| {
            let limit_usd = b.limit_usd?;
            Some(CostCard {
                budget: b.name.clone(),
                limit_usd,
                actual_usd: b.actual_usd,
                forecast_usd: b.forecast_usd,
                estimated: inventory.target == "local",
            })
        }),
    }
}

/// Totals, failing findings by pillar and severity, and one row per best practice.
fn summarise(
    findings: &[Finding],
    selected: &[&CheckMeta],
    pillars: &[Pillar],
) -> (Summary, Vec<BestPracticeRow>) {
    let mut totals = Counts::default();
    let mut by_pillar: BTreeMap<Pillar, Counts> =
        pillars.iter().map(|p| (*p, Counts::default())).collect();
    let mut failing: BTreeMap<Pillar, BTreeMap<Severity, usize>> = pillars
        .iter()
        .map(|p| (*p, Severity::ALL.iter().map(|s| (*s, 0)).collect()))
        .collect();
    let mut bp: BTreeMap<(String, Pillar), (Vec<String>, Counts)> = BTreeMap::new();
    for meta in selected {
        bp.entry((meta.best_practice.clone(), meta.pillar))
            .or_default()
            .0
            .push(meta.id.clone());
    }
    let mut resources = std::collections::BTreeSet::new();
    for f in findings {
        totals.add(f);
        by_pillar.entry(f.pillar).or_default().add(f);
        if f.is_failing() {
            *failing
                .entry(f.pillar)
                .or_default()
                .entry(f.severity)
                .or_default() += 1;
        }
        bp.entry((f.best_practice.clone(), f.pillar))
            .or_default()
            .1
            .add(f);
        if f.status != Status::NotApplicable {
            resources.insert(f.resource.clone());
        }
    }
    let best_practices = bp
        .into_iter()
        .map(|((id, pillar), (checks, counts))| BestPracticeRow {
            id,
            pillar,
            checks,
            counts,
        })
        .collect();
    (
        Summary {
            totals,
            failing,
            by_pillar,
            resources: resources.len(),
        },
        best_practices,
    )
}
