//! Audit findings into AWS Security Hub. `BatchImportFindings` takes the AWS Security
//! Finding Format; a finding whose `Id` (and product) Security Hub already holds is updated in
//! place, so importing each audit keeps one finding per check and resource, never duplicates.

use crate::error::sdk;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Note, Partition, Recommendation, RecordState,
    Remediation, Resource, Severity, SeverityLabel,
};
use dapgov_target::{TargetError, TargetResult};
use serde_json::Value;

/// Security Hub takes at most 100 findings and 240 KB per call; 50 keeps well inside both.
const BATCH: usize = 50;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Imported {
    pub imported: usize,
    /// `id: code: message` for each finding Security Hub refused.
    pub refused: Vec<String>,
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

/// One ASFF finding (as `dapgov audit --format asff` writes it) as the SDK's type.
fn finding(v: &Value) -> TargetResult<AwsSecurityFinding> {
    let required = |field: &str| {
        text(v, field)
            .ok_or_else(|| TargetError::Other(format!("ASFF finding without `{field}`: {v}")))
    };
    let mut b = AwsSecurityFinding::builder()
        .schema_version(required("SchemaVersion")?)
        .id(required("Id")?)
        .product_arn(required("ProductArn")?)
        .generator_id(required("GeneratorId")?)
        .aws_account_id(required("AwsAccountId")?)
        .created_at(required("CreatedAt")?)
        .updated_at(required("UpdatedAt")?)
        .title(required("Title")?)
        .description(required("Description")?)
        .set_product_name(text(v, "ProductName").map(String::from))
        .set_company_name(text(v, "CompanyName").map(String::from))
        .set_record_state(text(v, "RecordState").map(RecordState::from));
    for t in v
        .get("Types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        b = b.types(t);
    }
    if let Some(label) = v.pointer("/Severity/Label").and_then(Value::as_str) {
        b = b.severity(
            Severity::builder()
                .label(SeverityLabel::from(label))
                .build(),
        );
    }
    for r in v
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        b = b.resources(
            Resource::builder()
                .r#type(text(r, "Type").unwrap_or("Other"))
                .id(text(r, "Id").unwrap_or_default())
                .set_partition(text(r, "Partition").map(Partition::from))
                .set_region(text(r, "Region").map(String::from))
                .build(),
        );
    }
    if let Some(c) = v.get("Compliance") {
        let related: Vec<String> = c
            .get("RelatedRequirements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        b = b.compliance(
            Compliance::builder()
                .set_status(text(c, "Status").map(ComplianceStatus::from))
                .set_related_requirements(Some(related))
                .build(),
        );
    }
    if let Some(r) = v.pointer("/Remediation/Recommendation") {
        b = b.remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .set_text(text(r, "Text").map(String::from))
                        .set_url(text(r, "Url").map(String::from))
                        .build(),
                )
                .build(),
        );
    }
    if let Some(n) = v.get("Note") {
        b = b.note(
            Note::builder()
                .set_text(text(n, "Text").map(String::from))
                .set_updated_by(text(n, "UpdatedBy").map(String::from))
                .set_updated_at(text(n, "UpdatedAt").map(String::from))
                .build(),
        );
    }
    for (k, value) in v
        .get("ProductFields")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(value) = value.as_str() {
            b = b.product_fields(k, value);
        }
    }
    Ok(b.build())
}

/// Import `findings` (ASFF objects) into the Security Hub the client reaches.
pub async fn import(
    client: &aws_sdk_securityhub::Client,
    findings: &[Value],
) -> TargetResult<Imported> {
    let mut out = Imported::default();
    for batch in findings.chunks(BATCH) {
        let typed = batch
            .iter()
            .map(finding)
            .collect::<TargetResult<Vec<_>>>()?;
        let answer = client
            .batch_import_findings()
            .set_findings(Some(typed))
            .send()
            .await
            .map_err(|e| sdk("securityhub:BatchImportFindings", "the account's Security Hub (is it enabled? `aws securityhub enable-security-hub`)", e))?;
        out.imported +=
            usize::try_from(answer.success_count().unwrap_or_default()).unwrap_or_default();
        out.refused.extend(answer.failed_findings().iter().map(|f| {
            format!(
                "{}: {}: {}",
                f.id().unwrap_or("?"),
                f.error_code().unwrap_or("?"),
                f.error_message().unwrap_or("no message")
            )
        }));
    }
    Ok(out)
}
