//! The AWS Security Finding Format, as `BatchImportFindings` takes it: one finding per check
//! and resource with a verdict (PASS or FAIL; NOT_APPLICABLE has nothing to import). The id is
//! the finding's stable uid, so importing a later audit updates the same findings in place.

use crate::{ReportError, compliance_of, meta};
use dapgov_audit::{Audit, Finding, Status};
use serde_json::{Value, json};

/// Security Hub caps a finding's description at 1024 characters.
const DESCRIPTION_LIMIT: usize = 1024;
/// And `Compliance.RelatedRequirements` at 32 entries.
const RELATED_REQUIREMENTS_LIMIT: usize = 32;

/// ASFF compliance status: WARNING for accepted (muted) findings, as Security Hub has no MUTED.
fn compliance_status(f: &Finding) -> &'static str {
    match (f.status, f.muted.is_some()) {
        (_, true) => "WARNING",
        (Status::Pass, false) => "PASSED",
        (Status::Fail, false) => "FAILED",
        (Status::NotApplicable, false) => "NOT_AVAILABLE",
    }
}

/// The findings as ASFF objects, for `--format asff` and for the Security Hub import.
pub fn findings(audit: &Audit) -> Vec<Value> {
    let product_arn =
        dapgov_inventory::names::security_hub_product_arn(&audit.run.region, &audit.run.account_id);
    audit
        .findings
        .iter()
        .filter(|f| f.status != Status::NotApplicable)
        .map(|f| {
            let m = meta(audit, f);
            let mut description: String = format!("{}: {}", f.resource, f.detail);
            if description.chars().count() > DESCRIPTION_LIMIT {
                description = description.chars().take(DESCRIPTION_LIMIT - 1).collect::<String>() + "…";
            }
            let related: Vec<String> = compliance_of(audit, &f.check_id, &f.best_practice)
                .iter()
                .flat_map(|(framework, ids)| ids.iter().map(move |id| format!("{framework} {id}")))
                .take(RELATED_REQUIREMENTS_LIMIT)
                .collect();
            let mut finding = json!({
                "SchemaVersion": "2018-10-08",
                "Id": f.uid,
                "ProductArn": product_arn,
                "ProductName": "dapgov",
                "CompanyName": "dapgov",
                "GeneratorId": format!("dapgov-{}", f.check_id),
                "AwsAccountId": audit.run.account_id,
                "Types": ["Software and Configuration Checks/AWS Well-Architected"],
                "CreatedAt": audit.run.generated_at,
                "UpdatedAt": audit.run.generated_at,
                "Severity": {"Label": f.severity.as_str().to_uppercase()},
                "Title": f.title,
                "Description": description,
                "Resources": [{
                    "Type": f.resource_type,
                    "Id": if f.arn.is_empty() { &f.resource } else { &f.arn },
                    "Partition": dapgov_inventory::names::PARTITION,
                    "Region": f.region,
                }],
                "Compliance": {"Status": compliance_status(f), "RelatedRequirements": related},
                "RecordState": "ACTIVE",
                "ProductFields": {"dapgov/pillar": f.pillar.as_str(), "dapgov/resource": f.resource, "dapgov/check": f.check_id},
            });
            if let Some(m) = m {
                finding["Remediation"] = json!({"Recommendation": {"Text": m.remediation.text, "Url": m.remediation.url}});
            }
            if let Some(reason) = &f.muted {
                finding["Note"] = json!({"Text": reason, "UpdatedBy": "dapgov mutelist", "UpdatedAt": audit.run.generated_at});
            }
            finding
        })
        .collect()
}

pub fn render(audit: &Audit) -> Result<String, ReportError> {
    let mut s = serde_json::to_string_pretty(&findings(audit))
        .map_err(|e| ReportError::Render("asff", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::tests::fixture_audit;

    #[test]
    fn asff_has_one_finding_per_verdict_with_a_stable_id_and_the_account_product() {
        let a = fixture_audit(None);
        let found = super::findings(&a);
        let verdicts = a
            .findings
            .iter()
            .filter(|f| f.status != dapgov_audit::Status::NotApplicable)
            .count();
        assert_eq!(found.len(), verdicts);
        let ids: std::collections::BTreeSet<&str> =
            found.iter().map(|f| f["Id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), found.len(), "ids are unique");
        let rotation = found
            .iter()
            .find(|f| {
                f["GeneratorId"] == "dapgov-kms_cmk_rotation_enabled"
                    && f["Compliance"]["Status"] == "FAILED"
            })
            .unwrap();
        assert_eq!(
            rotation["ProductArn"],
            "arn:aws:securityhub:ca-central-1:000000000000:product/000000000000/default"
        );
        assert_eq!(rotation["Severity"]["Label"], "HIGH");
        assert!(
            rotation["Compliance"]["RelatedRequirements"]
                .as_array()
                .unwrap()
                .contains(&"well-architected SEC02-BP05".into()),
            "{rotation:#}"
        );
        assert!(
            found
                .iter()
                .all(|f| f["Description"].as_str().unwrap().chars().count() <= 1024)
        );
    }
}
