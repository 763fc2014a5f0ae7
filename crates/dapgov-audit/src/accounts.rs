//! One report over many accounts (and regions): each is audited apart, then their findings are
//! joined, every total summed, the frameworks judged again on the whole, and each account
//! keeps its own roll-up and exit status.

use crate::{Audit, Counts, Framework, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One account and region of an audit of many, before joining.
pub struct AccountPart {
    pub account_id: String,
    pub name: String,
    pub region: String,
    /// The audit, or why the account could not be read (role not assumable, access denied, ...).
    pub outcome: Result<Audit, String>,
}

/// One account's and region's line in an audit of many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountResult {
    pub account_id: String,
    pub name: String,
    pub region: String,
    /// Why the account could not be audited (null when it was).
    pub error: Option<String>,
    pub totals: Counts,
    /// Un-muted failing findings by severity.
    pub failing: BTreeMap<Severity, usize>,
    /// What `dapgov audit` would have exited with on this account alone: 0 clean, 3 failing
    /// findings at or above `--fail-on`, 1 could not be audited.
    pub exit_status: u8,
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.muted += other.muted;
        self.not_applicable += other.not_applicable;
    }
}

/// Adds one account's findings and counts to the joined audit.
fn add_account(j: &mut Audit, mut a: Audit) {
    j.findings.append(&mut a.findings);
    j.summary.totals.merge(&a.summary.totals);
    j.summary.resources += a.summary.resources;
    for (p, c) in &a.summary.by_pillar {
        j.summary.by_pillar.entry(*p).or_default().merge(c);
    }
    for (p, by) in &a.summary.failing {
        for (s, n) in by {
            *j.summary
                .failing
                .entry(*p)
                .or_default()
                .entry(*s)
                .or_default() += n;
        }
    }
    for row in a.best_practices {
        match j
            .best_practices
            .iter_mut()
            .find(|r| r.id == row.id && r.pillar == row.pillar)
        {
            Some(r) => r.counts.merge(&row.counts),
            None => j.best_practices.push(row),
        }
    }
}

/// Join the parts into one audit. `None` when no account could be audited (the parts' errors
/// say why).
pub fn combine(
    parts: Vec<AccountPart>,
    fail_on: Option<Severity>,
    frameworks: &[Framework],
) -> Option<Audit> {
    let mut accounts = Vec::new();
    let mut joined: Option<Audit> = None;
    for part in parts {
        let (mut audit, error) = match part.outcome {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        };
        let failing: BTreeMap<Severity, usize> = Severity::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    audit.as_ref().map_or(0, |a| {
                        a.findings
                            .iter()
                            .filter(|f| f.is_failing() && f.severity == *s)
                            .count()
                    }),
                )
            })
            .collect();
        let exit_status = match (&audit, fail_on) {
            (None, _) => 1,
            (Some(a), Some(level)) if a.failing_at_or_above(level) > 0 => 3,
            _ => 0,
        };
        accounts.push(AccountResult {
            account_id: part.account_id.clone(),
            name: part.name,
            region: part.region,
            error,
            totals: audit
                .as_ref()
                .map(|a| a.summary.totals.clone())
                .unwrap_or_default(),
            failing,
            exit_status,
        });
        let Some(mut a) = audit.take() else {
            continue;
        };
        for f in &mut a.findings {
            f.account = part.account_id.clone();
        }
        match &mut joined {
            None => joined = Some(a),
            Some(j) => add_account(j, a),
        }
    }
    let mut j = joined?;
    let ids: BTreeSet<&str> = accounts.iter().map(|a| a.account_id.as_str()).collect();
    let regions: BTreeSet<&str> = accounts.iter().map(|a| a.region.as_str()).collect();
    j.run.account_id = ids.into_iter().collect::<Vec<_>>().join(", ");
    j.run.region = regions.into_iter().collect::<Vec<_>>().join(", ");
    j.findings.sort_by(|a, b| {
        (a.pillar, &a.check_id, &a.account, &a.resource).cmp(&(
            b.pillar,
            &b.check_id,
            &b.account,
            &b.resource,
        ))
    });
    // Who may touch which zone is a per-account picture; the roll-up does not draw it.
    j.access.clear();
    j.comparison = None;
    let run_checks: BTreeSet<&str> = j.checks.iter().map(|c| c.id.as_str()).collect();
    j.frameworks = frameworks
        .iter()
        .map(|f| f.assess(&run_checks, &j.findings))
        .collect();
    j.accounts = accounts;
    // Each account has its own budget: one card would mislead.
    j.cost = None;
    Some(j)
}
