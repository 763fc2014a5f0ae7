//! What the terminal shows after an audit and after an ETL run: the same numbers as the
//! reports, in lines a person reads.

use dapgov_audit::{Audit, Severity};
use dapgov_inventory::names::DATA_ZONES;
use dapgov_records::Manifest;
use std::fmt::Write as _;
use std::path::PathBuf;

/// How many failing findings the summary lists before pointing to the reports.
const FINDINGS_SHOWN: usize = 25;

/// The audit's summary: totals, a table by pillar and severity, the worst findings, the
/// accounts and frameworks, what changed, the files written, and the verdict of `--fail-on`
/// (`exit_findings` is the exit status findings at or above it give).
pub fn audit(
    audit: &Audit,
    written: &[PathBuf],
    fail_on: Option<Severity>,
    exit_findings: u8,
) -> String {
    let mut out = String::new();
    let t = &audit.summary.totals;
    let _ = writeln!(
        out,
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
    let _ = writeln!(out, "{}", pillar_table(audit));
    failing_findings(&mut out, audit);
    accounts_and_frameworks(&mut out, audit);
    for p in written {
        let _ = writeln!(out, "Wrote {}", p.display());
    }
    let _ = writeln!(out, "{}", verdict(audit, fail_on, exit_findings));
    out
}

fn pillar_table(audit: &Audit) -> String {
    let rows: Vec<Vec<String>> = audit
        .run
        .pillars
        .iter()
        .map(|p| {
            let (f, c) = (&audit.summary.failing[p], &audit.summary.by_pillar[p]);
            let mut row = vec![p.as_str().to_string()];
            row.extend(Severity::ALL.iter().map(|s| f[s].to_string()));
            row.extend(
                [c.pass, c.fail, c.muted, c.not_applicable]
                    .iter()
                    .map(usize::to_string),
            );
            row
        })
        .collect();
    crate::text::table(
        &[
            "pillar", "critical", "high", "medium", "low", "info", "pass", "fail", "muted", "n/a",
        ],
        &rows,
    )
}

fn failing_findings(out: &mut String, audit: &Audit) {
    let mut failing: Vec<_> = audit.findings.iter().filter(|f| f.is_failing()).collect();
    failing.sort_by_key(|f| std::cmp::Reverse(f.severity));
    for f in failing.iter().take(FINDINGS_SHOWN) {
        let delta = f
            .delta
            .map(|d| format!(" [{}]", d.as_str()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  FAIL {:<8} {} {}: {}{delta}",
            f.severity.as_str(),
            f.check_id,
            f.resource,
            f.detail
        );
    }
    if failing.len() > FINDINGS_SHOWN {
        let _ = writeln!(
            out,
            "  … and {} more in the reports",
            failing.len() - FINDINGS_SHOWN
        );
    }
}

fn accounts_and_frameworks(out: &mut String, audit: &Audit) {
    for acct in &audit.accounts {
        let _ = match &acct.error {
            Some(e) => writeln!(
                out,
                "  account {} ({}, {}): NOT AUDITED: {e}",
                acct.account_id, acct.name, acct.region
            ),
            None => writeln!(
                out,
                "  account {} ({}, {}): {} failing, {} passed, {} muted (exit {})",
                acct.account_id,
                acct.name,
                acct.region,
                acct.totals.fail,
                acct.totals.pass,
                acct.totals.muted,
                acct.exit_status
            ),
        };
    }
    for fw in &audit.frameworks {
        let t = &fw.totals;
        let _ = writeln!(
            out,
            "{} ({}): {} requirements: {} not met, {} accepted, {} met, {} manual, {} not applicable, {} not assessed",
            fw.title,
            fw.version,
            fw.requirements.len(),
            t.fail,
            t.muted,
            t.pass,
            t.manual,
            t.not_applicable,
            t.not_assessed
        );
    }
    if let Some(c) = &audit.comparison {
        let _ = writeln!(
            out,
            "Since {}: {} new, {} unchanged, {} fixed",
            c.previous_generated_at,
            c.new,
            c.unchanged,
            c.fixed.len()
        );
    }
}

fn verdict(audit: &Audit, fail_on: Option<Severity>, exit_findings: u8) -> String {
    match fail_on {
        None => "Reported without failing (--fail-on none).".into(),
        Some(level) if audit.failing_at_or_above(level) > 0 => format!(
            "{} failing finding(s) at or above {}: exit {exit_findings}",
            audit.failing_at_or_above(level),
            level.as_str()
        ),
        Some(level) => format!("No failing finding at or above {}.", level.as_str()),
    }
}

/// What one `etl run` did: counts per stage, where the time went, the load, quarantine,
/// warnings, drift, personal information found and the trusted tables.
pub fn etl_run(m: &Manifest, input: &str, dataset: &str) -> String {
    let mut out = String::new();
    if m.no_op {
        let _ = writeln!(
            out,
            "No-op: {input} was already loaded as dataset {dataset} (run {}). Pass --force to run again.",
            m.run_id
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Run {} of dataset {dataset}, input {input} ({} ms)",
        m.run_id, m.duration_ms
    );
    stages_and_times(&mut out, m);
    if let Some(line) = load_line(m) {
        let _ = writeln!(out, "{line}");
    }
    findings_of_run(&mut out, m);
    out
}

fn stages_and_times(out: &mut String, m: &Manifest) {
    let in_order = DATA_ZONES
        .into_iter()
        .filter_map(|s| m.stages.get_key_value(s));
    let others = m
        .stages
        .iter()
        .filter(|(s, _)| !DATA_ZONES.contains(&s.as_str()));
    for (stage, c) in in_order.chain(others) {
        let _ = writeln!(
            out,
            "  {stage:<8} rows in {:>8}  out {:>8}  quarantined {:>6}",
            c.rows_in, c.rows_out, c.rows_quarantined
        );
    }
    for t in &m.timings {
        let cpu = t
            .cpu_seconds
            .map(|c| format!("  CPU {c:>7.2} s"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  time     {:<44} {:>7.2} s{cpu}",
            t.stage, t.wall_seconds
        );
    }
}

fn load_line(m: &Manifest) -> Option<String> {
    let l = &m.load;
    let version = l.curated_version?;
    let what = match l.mode.as_str() {
        "replace_partitions" => format!(
            "{} day(s) delivered: {} row(s) replaced, {} added",
            l.days, l.rows_replaced, l.rows_added
        ),
        "replace" => format!(
            "table replaced: {} row(s) out, {} in",
            l.rows_replaced, l.rows_added
        ),
        _ => format!("{} row(s) appended", l.rows_added),
    };
    let retried = if l.retries > 0 {
        format!(
            " (retried {} time(s): a concurrent load committed first)",
            l.retries
        )
    } else {
        String::new()
    };
    Some(format!(
        "  load     {}: {what}; curated is at version {version}{retried}",
        l.mode
    ))
}

fn findings_of_run(out: &mut String, m: &Manifest) {
    for (rule, n) in &m.quarantine_reasons {
        let _ = writeln!(out, "  quarantined by {rule}: {n}");
    }
    for (rule, n) in &m.warnings_by_rule {
        let _ = writeln!(out, "  warning {rule}: {n} row(s)");
    }
    for d in &m.schema_drift {
        let _ = writeln!(out, "  schema drift: {d}");
    }
    if !m.pii_found.is_empty() {
        let found: Vec<String> = m
            .pii_found
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "  PII found: {}", found.join(", "));
    }
    for (t, status) in &m.trusted {
        let _ = writeln!(out, "  trusted.{t}: {status}");
    }
    for w in &m.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
}
