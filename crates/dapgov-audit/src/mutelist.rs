//! Mutelist: accepted findings, each with a reason. Muted findings stay in every report,
//! counted apart; they never fail a build.

use crate::{Catalogue, context::Resource};
use dapgov_policy::wildcard_match;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteRule {
    /// A check id, or a glob such as `s3_*` or `*`.
    pub check: String,
    /// A glob on the resource address (`bucket.van311-logs-*`) or ARN.
    pub resource: String,
    /// Why the finding is accepted; shown beside it in every report.
    pub reason: String,
    /// Only in these accounts (globs); every account when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    /// Only in these regions (globs); every region when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Only on resources carrying every one of these tags (values may be globs).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// The last day the rule mutes (`YYYY-MM-DD`); after it the finding counts again and the
    /// report says the acceptance expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// What the mutelist says of one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Muting {
    Muted(String),
    /// A rule covered it until `on`: it counts again.
    Expired {
        reason: String,
        on: String,
    },
    None,
}

/// Where a finding stands, as a mute rule scopes it.
pub struct Scope<'a> {
    pub account: &'a str,
    pub tags: Option<&'a dapgov_inventory::Tags>,
    pub today: chrono::NaiveDate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mutelist {
    #[serde(default)]
    pub mute: Vec<MuteRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum MutelistError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: mute entry {index} ({check}): {problem}")]
    Invalid {
        file: String,
        index: usize,
        check: String,
        problem: String,
    },
}

impl Mutelist {
    /// Parse a mutelist file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str, catalogue: &Catalogue) -> Result<Mutelist, MutelistError> {
        let list: Mutelist = toml::from_str(text).map_err(|e| MutelistError::Parse {
            file: file.into(),
            message: e.to_string(),
        })?;
        for (i, rule) in list.mute.iter().enumerate() {
            let invalid = |problem: &str| MutelistError::Invalid {
                file: file.into(),
                index: i + 1,
                check: rule.check.clone(),
                problem: problem.into(),
            };
            if rule.reason.trim().is_empty() {
                return Err(invalid(
                    "a reason is required: say why the finding is accepted",
                ));
            }
            if rule.resource.trim().is_empty() {
                return Err(invalid(
                    "resource is empty; use `*` to mute the check on every resource",
                ));
            }
            let is_glob = rule.check.contains(['*', '?']);
            if !is_glob && catalogue.get(&rule.check).is_none() {
                return Err(invalid("no such check; `dapgov checks` lists them"));
            }
            if is_glob
                && !catalogue
                    .checks()
                    .iter()
                    .any(|c| wildcard_match(&rule.check, &c.id))
            {
                return Err(invalid(
                    "the pattern matches no check; `dapgov checks` lists them",
                ));
            }
            if let Some(date) = &rule.expires
                && chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err()
            {
                return Err(invalid(&format!(
                    "expires `{date}` is not a date; write it as YYYY-MM-DD"
                )));
            }
        }
        Ok(list)
    }

    /// The reason a finding is muted, if a rule covers it.
    pub fn reason_for(&self, check: &str, resource: &Resource) -> Option<String> {
        let anywhere = Scope {
            account: "",
            tags: None,
            today: chrono::NaiveDate::MIN,
        };
        match self.muting(check, resource, &anywhere) {
            Muting::Muted(reason) => Some(reason),
            _ => None,
        }
    }

    /// What the rules say of a finding: the first rule that covers it mutes it, unless it has
    /// expired (then a later rule may still mute it).
    pub fn muting(&self, check: &str, resource: &Resource, scope: &Scope) -> Muting {
        let mut expired = Muting::None;
        for m in &self.mute {
            let covers = wildcard_match(&m.check, check)
                && (wildcard_match(&m.resource, &resource.address)
                    || wildcard_match(&m.resource, &resource.arn))
                && (m.accounts.is_empty()
                    || scope.account.is_empty()
                    || m.accounts.iter().any(|a| wildcard_match(a, scope.account)))
                && (m.regions.is_empty()
                    || m.regions
                        .iter()
                        .any(|r| wildcard_match(r, &resource.region)))
                && m.tags.iter().all(|(k, v)| {
                    scope
                        .tags
                        .and_then(|t| t.get(k))
                        .is_some_and(|have| wildcard_match(v, have))
                });
            if !covers {
                continue;
            }
            let last_day = m
                .expires
                .as_deref()
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            match last_day {
                Some(day) if scope.today > day => {
                    if expired == Muting::None {
                        expired = Muting::Expired {
                            reason: m.reason.clone(),
                            on: day.to_string(),
                        };
                    }
                }
                _ => return Muting::Muted(m.reason.clone()),
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(address: &str) -> Resource {
        Resource {
            address: address.into(),
            arn: format!("arn:aws:s3:::{}", address.trim_start_matches("bucket.")),
            region: "ca-central-1".into(),
        }
    }

    #[test]
    fn rules_match_by_glob_on_address_or_arn() {
        let c = Catalogue::builtin().unwrap();
        let m = Mutelist::parse(
            "[[mute]]\ncheck = \"s3_*\"\nresource = \"arn:aws:s3:::logs-*\"\nreason = \"log bucket\"\n\n[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"*\"\nreason = \"r\"\n",
            "m.toml",
            &c,
        )
        .unwrap();
        assert_eq!(
            m.reason_for("s3_bucket_object_versioning", &res("bucket.logs-1"))
                .as_deref(),
            Some("log bucket")
        );
        assert_eq!(
            m.reason_for("s3_bucket_object_versioning", &res("bucket.raw-1")),
            None
        );
        assert_eq!(
            m.reason_for("kms_cmk_rotation_enabled", &res("key.x"))
                .as_deref(),
            Some("r")
        );
    }

    #[test]
    fn rules_scoped_to_accounts_regions_and_tags_and_expiring() {
        let c = Catalogue::builtin().unwrap();
        let m = Mutelist::parse(
            "[[mute]]\ncheck = \"s3_*\"\nresource = \"*\"\nreason = \"dev sandbox\"\naccounts = [\"111*\"]\nregions = [\"ca-*\"]\ntags = { env = \"dev\" }\n\n\
             [[mute]]\ncheck = \"kms_*\"\nresource = \"*\"\nreason = \"migration window\"\nexpires = \"2026-11-30\"\n",
            "m.toml",
            &c,
        )
        .unwrap();
        let dev = dapgov_inventory::Tags::from([("env".to_string(), "dev".to_string())]);
        let prod = dapgov_inventory::Tags::from([("env".to_string(), "prod".to_string())]);
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let scope = |account, tags, today| Scope {
            account,
            tags,
            today,
        };
        let r = res("bucket.b-1");
        assert_eq!(
            m.muting(
                "s3_x",
                &r,
                &scope("111122223333", Some(&dev), day("2026-12-02"))
            ),
            Muting::Muted("dev sandbox".into())
        );
        assert_eq!(
            m.muting(
                "s3_x",
                &r,
                &scope("999922223333", Some(&dev), day("2026-12-02"))
            ),
            Muting::None,
            "another account"
        );
        assert_eq!(
            m.muting(
                "s3_x",
                &r,
                &scope("111122223333", Some(&prod), day("2026-12-02"))
            ),
            Muting::None,
            "another tag"
        );
        assert_eq!(
            m.muting(
                "s3_x",
                &Resource {
                    region: "us-east-1".into(),
                    ..r.clone()
                },
                &scope("111122223333", Some(&dev), day("2026-12-02"))
            ),
            Muting::None,
            "another region"
        );
        assert_eq!(
            m.muting("kms_y", &r, &scope("1", None, day("2026-11-30"))),
            Muting::Muted("migration window".into()),
            "the last day still mutes"
        );
        assert_eq!(
            m.muting("kms_y", &r, &scope("1", None, day("2026-12-01"))),
            Muting::Expired {
                reason: "migration window".into(),
                on: "2026-11-30".into()
            }
        );
        let e = Mutelist::parse("[[mute]]\ncheck = \"kms_*\"\nresource = \"*\"\nreason = \"r\"\nexpires = \"next week\"\n", "m.toml", &c).unwrap_err().to_string();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn bad_entries_name_the_file_entry_and_fix() {
        let c = Catalogue::builtin().unwrap();
        let e = Mutelist::parse(
            "[[mute]]\ncheck = \"no_such_check\"\nresource = \"*\"\nreason = \"x\"\n",
            "m.toml",
            &c,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("m.toml: mute entry 1 (no_such_check)") && e.contains("dapgov checks"),
            "{e}"
        );
        let e = Mutelist::parse(
            "[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"*\"\nreason = \" \"\n",
            "m.toml",
            &c,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("reason is required"), "{e}");
        let e = Mutelist::parse("[[mute]]\ncheck = 1\n", "m.toml", &c)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("m.toml:") && e.contains("line 2"), "{e}");
    }
}
