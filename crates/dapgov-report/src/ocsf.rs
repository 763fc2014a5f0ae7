//! OCSF 1.5 Detection Findings (class 2004), one per finding, as Prowler emits them, for
//! security data lakes and SIEMs that read the Open Cybersecurity Schema Framework.

use crate::{ReportError, compliance_of, meta};
use dapgov_audit::{Audit, Severity, Status};
use serde_json::{Value, json};

const OCSF_VERSION: &str = "1.5.0";
/// Detection Finding, activity Create: `class_uid * 100 + activity_id`.
const CLASS_UID: u32 = 2004;
const ACTIVITY_CREATE: u32 = 1;

fn severity_id(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Informational => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

pub fn render(audit: &Audit) -> Result<String, ReportError> {
    let time = chrono::DateTime::parse_from_rfc3339(&audit.run.generated_at)
        .map_err(|e| {
            ReportError::Render(
                "ocsf",
                format!("generated_at `{}`: {e}", audit.run.generated_at),
            )
        })?
        .timestamp();
    let findings: Vec<Value> = audit
        .findings
        .iter()
        .map(|f| {
            let m = meta(audit, f);
            let (sev_id, sev) = severity_id(f.severity);
            // OCSF status: New (1) for a verdict to act on, Suppressed (3) when muted.
            let (status_id, status) = if f.muted.is_some() { (3, "Suppressed") } else { (1, "New") };
            let mut finding = json!({
                "message": f.detail,
                "activity_id": ACTIVITY_CREATE,
                "activity_name": "Create",
                "finding_info": {
                    "created_time": time,
                    "desc": m.map(|m| m.description.as_str()).unwrap_or(f.title.as_str()),
                    "title": f.title,
                    "uid": f.uid,
                    "types": [format!("{}/{}", f.pillar.as_str(), f.best_practice)],
                },
                "time": time,
                "severity_id": sev_id,
                "severity": sev,
                "status_id": status_id,
                "status": status,
                "status_code": f.status.as_str(),
                "status_detail": f.detail,
                "resources": [{
                    "name": f.resource,
                    "uid": if f.arn.is_empty() { &f.resource } else { &f.arn },
                    "group": {"name": f.service},
                    "type": f.resource_type,
                    "cloud_partition": dapgov_inventory::names::PARTITION,
                    "region": f.region,
                }],
                "metadata": {
                    "event_code": f.check_id,
                    "product": {"uid": "dapgov", "name": "dapgov", "vendor_name": "dapgov", "version": audit.run.version},
                    "profiles": ["cloud", "datetime"],
                    "version": OCSF_VERSION,
                },
                "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
                "type_name": "Detection Finding: Create",
                "category_name": "Findings",
                "category_uid": 2,
                "class_name": "Detection Finding",
                "class_uid": CLASS_UID,
                "cloud": {
                    // OCSF account type 10: AWS Account.
                    "account": {"name": audit.run.project, "type_id": 10, "type": "AWS Account", "uid": audit.run.account_id},
                    "provider": "aws",
                    "region": audit.run.region,
                },
                "unmapped": {
                    "pillar": f.pillar.as_str(),
                    "compliance": compliance_of(audit, &f.check_id, &f.best_practice),
                },
            });
            if let Some(m) = m.filter(|_| f.status == Status::Fail) {
                finding["remediation"] = json!({"desc": m.remediation.text, "references": [m.remediation.url]});
                finding["risk_details"] = json!(m.risk);
            }
            if let Some(reason) = &f.muted {
                finding["unmapped"]["mute_reason"] = json!(reason);
            }
            finding
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&findings)
        .map_err(|e| ReportError::Render("ocsf", e.to_string()))?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use crate::tests::fixture_audit;
    use dapgov_audit::{Catalogue, Mutelist};

    #[test]
    fn every_finding_is_a_detection_finding_and_a_muted_one_is_suppressed() {
        let c = Catalogue::builtin().unwrap();
        let m = Mutelist::parse("[[mute]]\ncheck = \"kms_cmk_rotation_enabled\"\nresource = \"key.van311-pii\"\nreason = \"rotated by hand\"\n", "m.toml", &c).unwrap();
        let a = fixture_audit(Some(&m));
        let found: Vec<serde_json::Value> =
            serde_json::from_str(&super::render(&a).unwrap()).unwrap();
        assert_eq!(found.len(), a.findings.len());
        for f in &found {
            assert_eq!(
                (
                    f["class_uid"].as_u64(),
                    f["type_uid"].as_u64(),
                    f["metadata"]["version"].as_str()
                ),
                (Some(2004), Some(200401), Some("1.5.0"))
            );
            assert!(f["time"].as_i64().unwrap() > 1_700_000_000);
        }
        let rotation = found
            .iter()
            .find(|f| {
                f["metadata"]["event_code"] == "kms_cmk_rotation_enabled"
                    && f["status_code"] == "FAIL"
            })
            .unwrap();
        assert_eq!(
            (rotation["status"].as_str(), rotation["status_id"].as_u64()),
            (Some("Suppressed"), Some(3))
        );
        assert_eq!(rotation["unmapped"]["mute_reason"], "rotated by hand");
        let versioning = found
            .iter()
            .find(|f| {
                f["metadata"]["event_code"] == "s3_bucket_object_versioning"
                    && f["status_code"] == "FAIL"
            })
            .unwrap();
        assert_eq!(versioning["status"], "New");
        assert!(
            versioning["remediation"]["desc"]
                .as_str()
                .unwrap()
                .contains("versioning"),
            "{versioning:#}"
        );
    }
}
