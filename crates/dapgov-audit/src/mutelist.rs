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
    Invalid { file: String, index: usize, check: String, problem: String },
}

impl Mutelist {
    /// Parse a mutelist file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str, catalogue: &Catalogue) -> Result<Mutelist, MutelistError> {
        let list: Mutelist = toml::from_str(text).map_err(|e| MutelistError::Parse { file: file.into(), message: e.to_string() })?;
        for (i, rule) in list.mute.iter().enumerate() {
            let invalid = |problem: &str| MutelistError::Invalid { file: file.into(), index: i + 1, check: rule.check.clone(), problem: problem.into() };
            if rule.reason.trim().is_empty() {
                return Err(invalid("a reason is required: say why the finding is accepted"));
            }
            if rule.resource.trim().is_empty() {
                return Err(invalid("resource is empty; use `*` to mute the check on every resource"));
            }
            let is_glob = rule.check.contains(['*', '?']);
            if !is_glob && catalogue.get(&rule.check).is_none() {
                return Err(invalid("no such check; `dapgov checks` lists them"));
            }
            if is_glob && !catalogue.checks().iter().any(|c| wildcard_match(&rule.check, &c.id)) {
                return Err(invalid("the pattern matches no check; `dapgov checks` lists them"));
            }
        }
        Ok(list)
    }

    /// The reason a finding is muted, if a rule covers it.
    pub fn reason_for(&self, check: &str, resource: &Resource) -> Option<String> {
        self.mute
            .iter()
            .find(|m| wildcard_match(&m.check, check) && (wildcard_match(&m.resource, &resource.address) || wildcard_match(&m.resource, &resource.arn)))
            .map(|m| m.reason.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(address: &str) -> Resource {
        Resource { address: address.into(), arn: format!("arn:aws:s3:::{}", address.trim_start_matches("bucket.")), region: "ca-central-1".into() }
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
        assert_eq!(m.reason_for("s3_bucket_object_versioning", &res("bucket.logs-1")).as_deref(), Some("log bucket"));
        assert_eq!(m.reason_for("s3_bucket_object_versioning", &res("bucket.raw-1")), None);
        assert_eq!(m.reason_for("kms_cmk_rotation_enabled", &res("key.x")).as_deref(), Some("r"));
    }

    #[test]
    fn bad_entries_name_the_file_entry_and_fix() {
        let c = Catalogue::builtin().unwrap();
        let e = Mutelist::parse("[[mute]]\ncheck = \"no_such_check\"\nresource = \"*\"\nreason = \"x\"\n", "m.toml", &c).unwrap_err().to_string();
        assert!(e.contains("m.toml: mute entry 1 (no_such_check)") && e.contains("dapgov checks"), "{e}");
        let e = Mutelist::parse("[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"*\"\nreason = \" \"\n", "m.toml", &c).unwrap_err().to_string();
        assert!(e.contains("reason is required"), "{e}");
        let e = Mutelist::parse("[[mute]]\ncheck = 1\n", "m.toml", &c).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:") && e.contains("line 2"), "{e}");
    }
}
