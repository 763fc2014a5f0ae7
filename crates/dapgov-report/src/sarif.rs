//! SARIF 2.1.0 for code-scanning UIs: one rule per check run, one result per FAIL finding
//! (muted ones carry a suppression with the mutelist's reason).

use crate::{ReportError, meta};
use dapgov_audit::{Audit, Severity, Status};
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Informational => "note",
    }
}

/// GitHub code scanning ranks security results by this CVSS-like score.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

pub fn render(audit: &Audit) -> Result<String, ReportError> {
    let rules: Vec<Value> = audit
        .checks
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": {"text": c.title},
                "fullDescription": {"text": c.description},
                "help": {
                    "text": format!("{}\n\nRisk: {}\n\nCLI: {}", c.remediation.text, c.risk, c.remediation.cli),
                    "markdown": format!("{}\n\n**Risk:** {}\n\n```sh\n{}\n```\n\n```hcl\n{}\n```", c.remediation.text, c.risk, c.remediation.cli, c.remediation.iac),
                },
                "helpUri": c.remediation.url,
                "defaultConfiguration": {"level": level(c.severity)},
                "properties": {
                    "tags": [c.pillar.as_str(), c.service, c.best_practice],
                    "precision": "very-high",
                    "problem.severity": level(c.severity),
                    "security-severity": security_severity(c.severity),
                },
            })
        })
        .collect();
    let results: Vec<Value> = audit
        .findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .map(|f| {
            let index = audit.checks.iter().position(|c| c.id == f.check_id).unwrap_or(0);
            let mut r = json!({
                "ruleId": f.check_id,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": {"text": format!("{}: {}", f.resource, f.detail)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": audit.run.spec.as_deref().unwrap_or("dapgov.toml")}, "region": {"startLine": f.spec_line.unwrap_or(1)}},
                    "logicalLocations": [{"name": f.resource, "fullyQualifiedName": f.arn, "kind": "resource"}],
                }],
                "partialFingerprints": {"dapgovFindingUid/v1": f.uid},
                "properties": {"pillar": f.pillar.as_str(), "bestPractice": f.best_practice, "region": f.region, "severity": f.severity.as_str()},
            });
            // SARIF 2.1.0 §3.27.23: `suppressions` on every result or on none; an empty array
            // says the result is not suppressed.
            r["suppressions"] = match &f.muted {
                Some(reason) => json!([{"kind": "external", "justification": reason}]),
                None => json!([]),
            };
            if let Some(m) = meta(audit, f) {
                r["properties"]["remediation"] = json!(m.remediation.text);
            }
            r
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": audit.run.tool,
                "version": audit.run.version,
                "semanticVersion": audit.run.version,
                "informationUri": "https://docs.aws.amazon.com/wellarchitected/latest/framework/welcome.html",
                "rules": rules,
            }},
            "automationDetails": {"id": format!("dapgov/audit/{}/", audit.run.project)},
            "invocations": [{"executionSuccessful": true, "endTimeUtc": audit.run.generated_at}],
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc)
        .map_err(|e| ReportError::Render("sarif", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::tests::fixture_audit;
    use dapgov_audit::{Catalogue, Mutelist};

    #[test]
    fn sarif_lists_rules_and_only_failing_results_with_suppressions() {
        let c = Catalogue::builtin().unwrap();
        let m = Mutelist::parse("[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"key.van311-pii\"\nreason = \"rotated by hand each quarter\"\n", "m.toml", &c).unwrap();
        let a = fixture_audit(Some(&m));
        let v: serde_json::Value = serde_json::from_str(&super::render(&a).unwrap()).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            a.checks.len()
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2, "{results:#?}");
        let rot = results
            .iter()
            .find(|r| r["ruleId"] == "kms_cmk_rotation_enabled")
            .unwrap();
        assert_eq!(
            rot["suppressions"][0]["justification"],
            "rotated by hand each quarter"
        );
        let ver = results
            .iter()
            .find(|r| r["ruleId"] == "s3_bucket_object_versioning")
            .unwrap();
        assert_eq!(
            ver["suppressions"],
            serde_json::json!([]),
            "every result states its suppressions, none here"
        );
        assert_eq!(ver["level"], "warning");
        assert_eq!(
            ver["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            "arn:aws:s3:::van311-raw-000000000000"
        );
        let idx = ver["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][idx]["id"],
            "s3_bucket_object_versioning"
        );
    }
}
