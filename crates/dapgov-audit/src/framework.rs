//! Compliance frameworks as data: `policies/compliance/<framework>.toml` maps each requirement
//! of a framework to the checks that give evidence for it, or marks it manual (no API can
//! prove it; it is listed in every report, never hidden). [`Framework::assess`] turns an
//! audit's findings into one verdict per requirement.

use crate::{Catalogue, Finding, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The framework files, embedded so the binary needs nothing beside it.
const SOURCES: [(&str, &str); 4] = [
    (
        "policies/compliance/well-architected.toml",
        include_str!("../../../policies/compliance/well-architected.toml"),
    ),
    (
        "policies/compliance/cis.toml",
        include_str!("../../../policies/compliance/cis.toml"),
    ),
    (
        "policies/compliance/nist-800-53.toml",
        include_str!("../../../policies/compliance/nist-800-53.toml"),
    ),
    (
        "policies/compliance/foippa.toml",
        include_str!("../../../policies/compliance/foippa.toml"),
    ),
];

/// The framework whose requirements are the best practices the checks name themselves.
const WELL_ARCHITECTED: &str = "well-architected";

/// The names `--framework` accepts, in the order reports list them.
pub fn names() -> Vec<&'static str> {
    SOURCES.iter().map(|(file, _)| stem(file)).collect()
}

fn stem(file: &str) -> &str {
    file.rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".toml"))
        .unwrap_or(file)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    framework: Header,
    section: Vec<SectionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    title: String,
    version: String,
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    id: String,
    title: String,
    requirements: Vec<RequirementFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementFile {
    id: String,
    title: String,
    #[serde(default)]
    checks: Vec<String>,
    #[serde(default)]
    manual: bool,
    note: Option<String>,
    reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Framework {
    /// The `--framework` name, e.g. `cis`.
    pub id: String,
    pub title: String,
    pub version: String,
    pub url: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    /// As the framework numbers it: `SEC08-BP02`, `4.2`, `AU-9`, `FOIPPA-3`.
    pub id: String,
    pub title: String,
    /// The group the framework puts it in (a question, a section, a control family).
    pub section: String,
    /// The checks that give evidence for it; empty when it is manual.
    pub checks: Vec<String>,
    pub manual: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where in the framework's text the requirement comes from (e.g. an act's section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameworkError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: requirement `{id}`: {problem}")]
    Invalid {
        file: String,
        id: String,
        problem: String,
    },
    #[error("unknown framework `{0}`; expected one of {names}", names = names().join(", "))]
    Unknown(String),
}

impl Framework {
    /// Every framework shipped with dapgov, checked against the catalogue.
    pub fn builtin(catalogue: &Catalogue) -> Result<Vec<Framework>, FrameworkError> {
        SOURCES
            .iter()
            .map(|(file, text)| Self::parse(file, text, catalogue))
            .collect()
    }

    /// The shipped framework called `name` (`well-architected`, `cis`, `nist-800-53`, `foippa`).
    pub fn named(name: &str, catalogue: &Catalogue) -> Result<Framework, FrameworkError> {
        let (file, text) = SOURCES
            .iter()
            .find(|(file, _)| stem(file) == name)
            .ok_or_else(|| FrameworkError::Unknown(name.to_string()))?;
        Self::parse(file, text, catalogue)
    }

    fn parse(file: &str, text: &str, catalogue: &Catalogue) -> Result<Framework, FrameworkError> {
        let parsed: File = toml::from_str(text).map_err(|e| FrameworkError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |id: &str, problem: String| FrameworkError::Invalid {
            file: file.to_string(),
            id: id.to_string(),
            problem,
        };
        if parsed.framework.id != stem(file) {
            return Err(FrameworkError::Parse {
                file: file.to_string(),
                message: format!(
                    "framework.id `{}` must be the file's name, `{}`",
                    parsed.framework.id,
                    stem(file)
                ),
            });
        }
        let named_by_checks = parsed.framework.id == WELL_ARCHITECTED;
        let mut seen = BTreeSet::new();
        let mut requirements = Vec::new();
        for section in parsed.section {
            for r in section.requirements {
                if !seen.insert(r.id.clone()) {
                    return Err(invalid(&r.id, "the id is used twice".into()));
                }
                if let Some(unknown) = r.checks.iter().find(|c| catalogue.get(c).is_none()) {
                    return Err(invalid(
                        &r.id,
                        format!(
                            "check `{unknown}` is not in policies/checks/ (`dapgov checks` lists them)"
                        ),
                    ));
                }
                let mut checks = r.checks;
                if named_by_checks {
                    checks.extend(
                        catalogue
                            .checks()
                            .iter()
                            .filter(|c| c.best_practice == r.id)
                            .map(|c| c.id.clone()),
                    );
                }
                let mut unique = BTreeSet::new();
                checks.retain(|c| unique.insert(c.clone()));
                match (checks.is_empty(), r.manual) {
                    (true, false) => {
                        return Err(invalid(&r.id, "maps no check and is not `manual = true`: name the checks that give evidence for it, or mark it manual".into()));
                    }
                    (false, true) => {
                        return Err(invalid(
                            &r.id,
                            format!(
                                "is `manual = true` but checks give evidence for it ({}): drop `manual`",
                                checks.join(", ")
                            ),
                        ));
                    }
                    _ => {}
                }
                requirements.push(Requirement {
                    id: r.id,
                    title: r.title,
                    section: format!("{} {}", section.id, section.title),
                    checks,
                    manual: r.manual,
                    note: r.note,
                    reference: r.reference,
                });
            }
        }
        if named_by_checks
            && let Some(c) = catalogue
                .checks()
                .iter()
                .find(|c| !seen.contains(&c.best_practice))
        {
            return Err(invalid(
                &c.best_practice,
                format!(
                    "check `{}` names it as its best practice, but the framework does not list it",
                    c.id
                ),
            ));
        }
        let h = parsed.framework;
        Ok(Framework {
            id: h.id,
            title: h.title,
            version: h.version,
            url: h.url,
            requirements,
        })
    }

    /// Whether any requirement takes evidence from `check`.
    pub fn maps(&self, check: &str) -> bool {
        self.requirements
            .iter()
            .any(|r| r.checks.iter().any(|c| c == check))
    }

    /// One verdict per requirement from the findings of the checks that were run.
    pub fn assess(&self, run_checks: &BTreeSet<&str>, findings: &[Finding]) -> FrameworkResult {
        let mut totals = RequirementCounts::default();
        let requirements: Vec<RequirementResult> = self
            .requirements
            .iter()
            .map(|r| {
                let own: Vec<&Finding> = findings
                    .iter()
                    .filter(|f| r.checks.contains(&f.check_id))
                    .collect();
                let failing: BTreeSet<String> = own
                    .iter()
                    .filter(|f| f.is_failing())
                    .map(|f| f.resource.clone())
                    .collect();
                let status = if r.manual {
                    RequirementStatus::Manual
                } else if !r.checks.iter().any(|c| run_checks.contains(c.as_str())) {
                    RequirementStatus::NotAssessed
                } else if !failing.is_empty() {
                    RequirementStatus::Fail
                } else if own
                    .iter()
                    .any(|f| f.muted.is_some() && f.status == Status::Fail)
                {
                    RequirementStatus::Muted
                } else if own.iter().any(|f| f.status == Status::Pass) {
                    RequirementStatus::Pass
                } else {
                    RequirementStatus::NotApplicable
                };
                totals.add(status);
                RequirementResult {
                    id: r.id.clone(),
                    title: r.title.clone(),
                    section: r.section.clone(),
                    status,
                    checks: r.checks.clone(),
                    failing_resources: failing.into_iter().collect(),
                    note: r.note.clone(),
                    reference: r.reference.clone(),
                }
            })
            .collect();
        FrameworkResult {
            id: self.id.clone(),
            title: self.title.clone(),
            version: self.version.clone(),
            url: self.url.clone(),
            totals,
            requirements,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequirementStatus {
    /// An un-muted failing finding on one of its checks.
    Fail,
    /// Its only failures are muted (accepted with a reason).
    Muted,
    Pass,
    /// Its checks found nothing to judge.
    NotApplicable,
    /// None of its checks ran (filtered out by `--pillar` or `--severity`).
    NotAssessed,
    /// No API can prove it: a person must.
    Manual,
}

impl RequirementStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequirementStatus::Fail => "FAIL",
            RequirementStatus::Muted => "MUTED",
            RequirementStatus::Pass => "PASS",
            RequirementStatus::NotApplicable => "NOT_APPLICABLE",
            RequirementStatus::NotAssessed => "NOT_ASSESSED",
            RequirementStatus::Manual => "MANUAL",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequirementCounts {
    pub pass: usize,
    pub fail: usize,
    pub muted: usize,
    pub manual: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
}

impl RequirementCounts {
    fn add(&mut self, s: RequirementStatus) {
        *match s {
            RequirementStatus::Pass => &mut self.pass,
            RequirementStatus::Fail => &mut self.fail,
            RequirementStatus::Muted => &mut self.muted,
            RequirementStatus::Manual => &mut self.manual,
            RequirementStatus::NotApplicable => &mut self.not_applicable,
            RequirementStatus::NotAssessed => &mut self.not_assessed,
        } += 1;
    }
}

/// A framework's verdicts on one audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkResult {
    pub id: String,
    pub title: String,
    pub version: String,
    pub url: String,
    pub totals: RequirementCounts,
    pub requirements: Vec<RequirementResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    pub section: String,
    pub status: RequirementStatus,
    pub checks: Vec<String>,
    /// Inventory addresses of the resources with an un-muted failing finding.
    pub failing_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::builtin().unwrap()
    }

    #[test]
    fn every_shipped_framework_maps_existing_checks_or_is_manual() {
        let c = catalogue();
        let all = Framework::builtin(&c).unwrap();
        assert_eq!(
            all.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["well-architected", "cis", "nist-800-53", "foippa"]
        );
        for f in &all {
            assert!(!f.requirements.is_empty(), "{}", f.id);
            for r in &f.requirements {
                assert!(
                    r.manual == r.checks.is_empty(),
                    "{} {}: mapped or manual, exactly one",
                    f.id,
                    r.id
                );
                assert!(
                    r.checks.iter().all(|id| c.get(id).is_some()),
                    "{} {}",
                    f.id,
                    r.id
                );
            }
        }
    }

    #[test]
    fn well_architected_lists_every_best_practice_of_the_five_pillars() {
        let wa = Framework::named("well-architected", &catalogue()).unwrap();
        let count = |prefix: &str| {
            wa.requirements
                .iter()
                .filter(|r| r.id.starts_with(prefix))
                .count()
        };
        // As the framework's appendix numbers them.
        assert_eq!(
            [
                count("OPS"),
                count("SEC"),
                count("REL"),
                count("PERF"),
                count("COST")
            ],
            [68, 63, 65, 32, 50]
        );
        // A check's own best practice is a requirement it gives evidence for.
        let bp = wa
            .requirements
            .iter()
            .find(|r| r.id == "SEC08-BP02")
            .unwrap();
        assert!(bp.checks.contains(&"s3_bucket_kms_encryption".to_string()) && !bp.manual);
        assert!(
            wa.requirements
                .iter()
                .find(|r| r.id == "SEC10-BP07")
                .unwrap()
                .manual
        );
    }

    #[test]
    fn a_requirement_neither_mapped_nor_manual_or_naming_an_unknown_check_is_refused() {
        let c = catalogue();
        let head = "[framework]\nid = \"cis\"\ntitle = \"t\"\nversion = \"v\"\nurl = \"https://example.org\"\n[[section]]\nid = \"1\"\ntitle = \"s\"\n";
        let err = Framework::parse(
            "policies/compliance/cis.toml",
            &format!("{head}requirements = [{{ id = \"1.1\", title = \"x\" }}]"),
            &c,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cis.toml") && err.contains("`1.1`") && err.contains("manual"),
            "{err}"
        );
        let err = Framework::parse("policies/compliance/cis.toml", &format!("{head}requirements = [{{ id = \"1.2\", title = \"x\", checks = [\"s3_bucket_encrypted_with_hope\"] }}]"), &c).unwrap_err().to_string();
        assert!(
            err.contains("`1.2`") && err.contains("s3_bucket_encrypted_with_hope"),
            "{err}"
        );
        let err = Framework::parse(
            "policies/compliance/nist.toml",
            &format!("{head}requirements = []"),
            &c,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("must be the file's name"), "{err}");
        assert!(
            Framework::named("sox", &c)
                .unwrap_err()
                .to_string()
                .contains("well-architected, cis, nist-800-53, foippa")
        );
    }
}
