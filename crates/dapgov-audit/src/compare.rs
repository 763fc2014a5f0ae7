//! New, fixed and unchanged failing findings against a previous audit, keyed on finding uid.

use crate::{Audit, Finding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delta {
    New,
    Unchanged,
}

impl Delta {
    pub fn as_str(self) -> &'static str {
        match self {
            Delta::New => "new",
            Delta::Unchanged => "unchanged",
        }
    }
}

/// A finding that failed before and no longer does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedFinding {
    pub uid: String,
    pub check_id: String,
    pub resource: String,
    /// The detail the failing finding had.
    pub was: String,
    /// What the check says now (`PASS: ...`), or that the resource is gone.
    pub now: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub previous_generated_at: String,
    pub new: usize,
    pub unchanged: usize,
    pub fixed: Vec<FixedFinding>,
}

/// Mark each failing finding new or unchanged; list the previous failures now fixed.
pub(crate) fn compare(previous: &Audit, findings: &mut [Finding]) -> Comparison {
    let before: BTreeMap<&str, &Finding> = previous
        .findings
        .iter()
        .filter(|f| f.is_failing())
        .map(|f| (f.uid.as_str(), f))
        .collect();
    let (mut new, mut unchanged) = (0, 0);
    for f in findings.iter_mut().filter(|f| f.is_failing()) {
        if before.contains_key(f.uid.as_str()) {
            f.delta = Some(Delta::Unchanged);
            unchanged += 1;
        } else {
            f.delta = Some(Delta::New);
            new += 1;
        }
    }
    let now: BTreeMap<&str, &Finding> = findings.iter().map(|f| (f.uid.as_str(), f)).collect();
    let fixed = before
        .values()
        .filter(|f| now.get(f.uid.as_str()).is_none_or(|n| !n.is_failing()))
        .map(|f| FixedFinding {
            uid: f.uid.clone(),
            check_id: f.check_id.clone(),
            resource: f.resource.clone(),
            was: f.detail.clone(),
            now: match now.get(f.uid.as_str()) {
                Some(n) if n.muted.is_some() => {
                    format!("muted: {}", n.muted.clone().unwrap_or_default())
                }
                Some(n) => format!("{}: {}", n.status.as_str(), n.detail),
                None => "the resource or check is no longer in the audit".into(),
            },
        })
        .collect();
    Comparison {
        previous_generated_at: previous.run.generated_at.clone(),
        new,
        unchanged,
        fixed,
    }
}
