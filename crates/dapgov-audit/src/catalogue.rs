//! The check catalogue: the data half of each check, from `policies/checks/<pillar>.toml`.

use crate::{Pillar, Severity, checks};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The catalogue files, embedded so the binary needs nothing beside it.
const SOURCES: [(&str, &str); 5] = [
    (
        "policies/checks/security.toml",
        include_str!("../../../policies/checks/security.toml"),
    ),
    (
        "policies/checks/reliability.toml",
        include_str!("../../../policies/checks/reliability.toml"),
    ),
    (
        "policies/checks/operational-excellence.toml",
        include_str!("../../../policies/checks/operational-excellence.toml"),
    ),
    (
        "policies/checks/performance-efficiency.toml",
        include_str!("../../../policies/checks/performance-efficiency.toml"),
    ),
    (
        "policies/checks/cost-optimization.toml",
        include_str!("../../../policies/checks/cost-optimization.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckMeta {
    /// Stable id, `<service>_<resource>_<property>`.
    pub id: String,
    pub title: String,
    pub pillar: Pillar,
    /// The AWS service the resource belongs to (`s3`, `kms`, `iam`, ...).
    pub service: String,
    /// The Well-Architected best practice the check supports, e.g. `SEC08-BP02`.
    pub best_practice: String,
    pub severity: Severity,
    /// e.g. `AwsS3Bucket`.
    pub resource_type: String,
    pub description: String,
    pub risk: String,
    pub remediation: Remediation,
    /// The Prowler checks that test the same property, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prowler: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub text: String,
    pub cli: String,
    /// Terraform (HCL) for teams that manage the property outside dapgov.
    pub iac: String,
    pub url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    check: Vec<CheckMeta>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: check `{id}`: {problem}")]
    Invalid {
        file: String,
        id: String,
        problem: String,
    },
    #[error("check `{0}` is implemented but has no entry in policies/checks/")]
    Unlisted(String),
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    checks: Vec<CheckMeta>,
}

impl Catalogue {
    /// The catalogue shipped with dapgov.
    pub fn builtin() -> Result<Catalogue, CatalogueError> {
        Self::from_sources(&SOURCES)
    }

    fn from_sources(sources: &[(&str, &str)]) -> Result<Catalogue, CatalogueError> {
        let mut checks = Vec::new();
        let mut seen = BTreeSet::new();
        for (file, text) in sources {
            let parsed: File = toml::from_str(text).map_err(|e| CatalogueError::Parse {
                file: file.to_string(),
                message: e.to_string(),
            })?;
            for c in parsed.check {
                let invalid = |problem: String| CatalogueError::Invalid {
                    file: file.to_string(),
                    id: c.id.clone(),
                    problem,
                };
                if !file.ends_with(&format!("/{}.toml", c.pillar.as_str())) {
                    return Err(invalid(format!(
                        "pillar `{}` belongs in policies/checks/{}.toml",
                        c.pillar.as_str(),
                        c.pillar.as_str()
                    )));
                }
                if !c.id.starts_with(&format!("{}_", c.service))
                    || !c
                        .id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(invalid(format!(
                        "ids are snake_case and start with the service (`{}_`)",
                        c.service
                    )));
                }
                if !seen.insert(c.id.clone()) {
                    return Err(invalid("the id is used twice".into()));
                }
                let prefix = match c.pillar {
                    Pillar::OperationalExcellence => "OPS",
                    Pillar::Security => "SEC",
                    Pillar::Reliability => "REL",
                    Pillar::PerformanceEfficiency => "PERF",
                    Pillar::CostOptimization => "COST",
                };
                if !valid_best_practice(&c.best_practice, prefix) {
                    return Err(invalid(format!(
                        "best_practice `{}` is not of the form {prefix}NN-BPNN",
                        c.best_practice
                    )));
                }
                if !c.remediation.url.starts_with("https://") {
                    return Err(invalid("remediation.url must be an https link".into()));
                }
                if c.title.len() > 150
                    || c.risk.trim().is_empty()
                    || c.remediation.text.trim().is_empty()
                {
                    return Err(invalid(
                        "title is at most 150 characters; risk and remediation text are required"
                            .into(),
                    ));
                }
                if checks::implementation(&c.id).is_none() {
                    return Err(invalid(
                        "no implementation in crates/dapgov-audit/src/checks/".into(),
                    ));
                }
                checks.push(c);
            }
        }
        if let Some(id) = checks::ids().into_iter().find(|id| !seen.contains(*id)) {
            return Err(CatalogueError::Unlisted(id.to_string()));
        }
        checks.sort_by(|a, b| (a.pillar, &a.id).cmp(&(b.pillar, &b.id)));
        Ok(Catalogue { checks })
    }

    pub fn checks(&self) -> &[CheckMeta] {
        &self.checks
    }

    pub fn get(&self, id: &str) -> Option<&CheckMeta> {
        self.checks.iter().find(|c| c.id == id)
    }
}

fn valid_best_practice(id: &str, prefix: &str) -> bool {
    let Some(rest) = id.strip_prefix(prefix) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 7
        && b[..2].iter().all(u8::is_ascii_digit)
        && &b[2..5] == b"-BP"
        && b[5..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_is_valid_and_covers_every_pillar() {
        let c = Catalogue::builtin().unwrap();
        assert!(c.checks().len() >= 60, "{} checks", c.checks().len());
        for p in Pillar::ALL {
            let n = c.checks().iter().filter(|m| m.pillar == p).count();
            assert!(n >= 5, "pillar {} has {n} checks", p.as_str());
        }
    }

    #[test]
    fn invalid_entries_are_refused_with_file_and_id() {
        let text = r#"
[[check]]
id = "s3_bucket_object_versioning"
title = "t"
pillar = "reliability"
service = "s3"
best_practice = "SEC09-BP01"
severity = "medium"
resource_type = "AwsS3Bucket"
description = "d"
risk = "r"
remediation = { text = "x", cli = "x", iac = "x", url = "https://example.org" }
"#;
        let err = Catalogue::from_sources(&[("policies/checks/reliability.toml", text)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("reliability.toml")
                && err.contains("s3_bucket_object_versioning")
                && err.contains("REL"),
            "{err}"
        );
        let err = Catalogue::from_sources(&[("policies/checks/security.toml", text)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("belongs in policies/checks/reliability.toml"),
            "{err}"
        );
    }

    #[test]
    fn best_practice_ids_are_checked() {
        assert!(valid_best_practice("SEC08-BP02", "SEC"));
        assert!(valid_best_practice("PERF03-BP01", "PERF"));
        assert!(!valid_best_practice("SEC8-BP02", "SEC"));
        assert!(!valid_best_practice("REL09-BP02", "SEC"));
    }
}
