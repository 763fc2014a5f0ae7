use crate::ops::{Context, observe};
use anyhow::Context as _;
use dapgov_audit::{Audit, AuditOptions, Catalogue, Pillar, Severity};
use dapgov_inventory::Inventory;
use dapgov_report::Format;
use std::path::{Path, PathBuf};

/// Exit status when failing findings are at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 3;

#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 when no un-muted failing finding is at or above --fail-on, \
3 when at least one is, 1 on error (bad flag, unreadable snapshot or mutelist, target unreachable).")]
pub struct Args {
    /// Only these pillars (repeat or comma-separate): security, reliability,
    /// operational-excellence, performance-efficiency, cost-optimization.
    #[arg(long, value_delimiter = ',')]
    pub pillar: Vec<Pillar>,
    /// Run only checks of this severity or above (critical, high, medium, low, informational).
    #[arg(long, default_value = "informational")]
    pub severity: Severity,
    /// Report formats to write (comma-separated): html, json, csv, sarif, junit
    /// (`audit.junit.xml`, one test case per check and resource, for CI dashboards).
    #[arg(long, value_delimiter = ',', default_value = "html,json,csv,sarif")]
    pub format: Vec<Format>,
    /// Directory for the reports (written as audit.<format>).
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Exit 3 when an un-muted failing finding is at or above this severity; `none` reports
    /// without failing.
    #[arg(long, default_value = "low", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Audit an Inventory JSON file (from `dapgov inventory --out`) instead of the target.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Accepted findings: a TOML file of [[mute]] entries with check, resource and reason.
    #[arg(long)]
    pub mutelist: Option<PathBuf>,
    /// A previous audit.json: mark findings new or unchanged and list the fixed ones.
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

/// The severity that fails the audit, or none (`--fail-on none`: report without failing).
#[derive(Debug, Clone, Copy)]
pub struct FailOn(pub Option<Severity>);

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    match s {
        "none" => Ok(FailOn(None)),
        other => other.parse::<Severity>().map(|l| FailOn(Some(l))).map_err(|e| format!("{e}; or `none` to report without failing")),
    }
}

fn read_snapshot(path: &Path) -> anyhow::Result<Inventory> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the snapshot {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: not an Inventory: {e}; write one with `dapgov inventory --out FILE`", path.display(), e.line(), e.column())
    })
}

/// Run an audit and write its reports; returns the audit and the report paths.
pub async fn audit(ctx: &Context, a: &Args) -> anyhow::Result<(Audit, Vec<PathBuf>)> {
    let catalogue = Catalogue::builtin()?;
    let (inventory, source) = match &a.snapshot {
        Some(p) => (read_snapshot(p)?, format!("snapshot:{}", p.display())),
        None => {
            let l = ctx.open(false).await?;
            let (inv, _) = observe(&l).await?;
            let source = inv.target.clone();
            (inv, source)
        }
    };
    let mutelist = crate::ops::read_mutelist(a.mutelist.as_deref(), &catalogue)?;
    // Read before writing: --compare may name the file this run replaces.
    let previous = a.compare.as_deref().map(dapgov_report::read_previous).transpose()?;
    let options = AuditOptions {
        pillars: a.pillar.clone(),
        min_severity: a.severity,
        now: chrono::Utc::now(),
        source,
        mutelist: mutelist.as_ref().map(|(m, name)| (m, name.clone())),
        previous: previous.as_ref(),
    };
    let mut result = dapgov_audit::run(&inventory, &catalogue, &options);
    // Findings point at the spec line that declares their resource (SARIF shows them there).
    if a.snapshot.is_none() {
        if let Ok(text) = std::fs::read_to_string(&ctx.config) {
            let zone_of = |address: &str| address.strip_prefix("bucket.").and_then(|b| inventory.buckets.get(b)).and_then(|b| b.zone.clone());
            result.locate_in_spec(&ctx.config.display().to_string(), |address| dapgov_spec::declaring_line(&text, address, zone_of(address).as_deref()));
        }
    }
    let written = dapgov_report::write(&result, &a.format, &a.out)?;
    Ok((result, written))
}

pub fn print_summary(audit: &Audit, written: &[PathBuf], fail_on: Option<Severity>) {
    let t = &audit.summary.totals;
    println!(
        "Audit of {} ({}, account {}, {}): {} checks, {} failing, {} passed, {} muted, {} not applicable, on {} resources",
        audit.run.project,
        audit.run.source,
        audit.run.account_id,
        audit.run.region,
        audit.checks.len(),
        t.fail,
        t.pass,
        t.muted,
        t.not_applicable,
        audit.summary.resources
    );
    println!("{:<24} {:>8} {:>5} {:>6} {:>4} {:>5}   {:>5} {:>5} {:>5} {:>5}", "pillar", "critical", "high", "medium", "low", "info", "pass", "fail", "muted", "n/a");
    for p in &audit.run.pillars {
        let f = &audit.summary.failing[p];
        let c = &audit.summary.by_pillar[p];
        println!(
            "{:<24} {:>8} {:>5} {:>6} {:>4} {:>5}   {:>5} {:>5} {:>5} {:>5}",
            p.as_str(),
            f[&Severity::Critical],
            f[&Severity::High],
            f[&Severity::Medium],
            f[&Severity::Low],
            f[&Severity::Informational],
            c.pass,
            c.fail,
            c.muted,
            c.not_applicable
        );
    }
    let mut failing: Vec<_> = audit.findings.iter().filter(|f| f.is_failing()).collect();
    failing.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in failing.iter().take(25) {
        let delta = f.delta.map(|d| format!(" [{}]", d.as_str())).unwrap_or_default();
        println!("  FAIL {:<8} {} {}: {}{delta}", f.severity.as_str(), f.check_id, f.resource, f.detail);
    }
    if failing.len() > 25 {
        println!("  … and {} more in the reports", failing.len() - 25);
    }
    if let Some(c) = &audit.comparison {
        println!("Since {}: {} new, {} unchanged, {} fixed", c.previous_generated_at, c.new, c.unchanged, c.fixed.len());
    }
    for p in written {
        println!("Wrote {}", p.display());
    }
    match fail_on {
        None => println!("Reported without failing (--fail-on none)."),
        Some(level) if audit.failing_at_or_above(level) > 0 => {
            println!("{} failing finding(s) at or above {}: exit {EXIT_FINDINGS}", audit.failing_at_or_above(level), level.as_str())
        }
        Some(level) => println!("No failing finding at or above {}.", level.as_str()),
    }
}

pub async fn run(ctx: &Context, a: Args) -> anyhow::Result<u8> {
    let (audit, written) = audit(ctx, &a).await?;
    print_summary(&audit, &written, a.fail_on.0);
    Ok(if a.fail_on.0.is_some_and(|level| audit.failing_at_or_above(level) > 0) { EXIT_FINDINGS } else { 0 })
}

#[derive(clap::Args)]
pub struct ChecksArgs {
    /// Only this pillar's checks.
    #[arg(long)]
    pub pillar: Option<Pillar>,
    /// `table` (default), `json` (the full catalogue entries) or `markdown` (as in docs/checks.md).
    #[arg(long, default_value = "table", value_parser = ["table", "json", "markdown"])]
    pub format: String,
}

pub fn checks(a: ChecksArgs) -> anyhow::Result<u8> {
    let catalogue = Catalogue::builtin()?;
    let selected: Vec<_> = catalogue.checks().iter().filter(|c| a.pillar.is_none_or(|p| c.pillar == p)).collect();
    if a.format == "markdown" {
        print!("{}", dapgov_report::catalogue_markdown(&catalogue, a.pillar));
        return Ok(0);
    }
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&selected)?);
        return Ok(0);
    }
    println!("{:<58} {:<23} {:<9} {:<11} title", "id", "pillar", "severity", "practice");
    for c in &selected {
        println!("{:<58} {:<23} {:<9} {:<11} {}", c.id, c.pillar.as_str(), c.severity.as_str(), c.best_practice, c.title);
    }
    println!("{} checks", selected.len());
    Ok(0)
}
