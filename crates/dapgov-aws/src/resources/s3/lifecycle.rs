//! Lifecycle rules: read and written here, side by side.

use super::S3;
use crate::error::{build, sdk};
use crate::read::absent;
use dapgov_inventory::{LifecycleRule, Transition};
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<Vec<LifecycleRule>>> {
    let got = s3
        .get_bucket_lifecycle_configuration()
        .bucket(n)
        .send()
        .await;
    Ok(absent(
        got,
        &["NoSuchLifecycleConfiguration"],
        "s3:GetLifecycleConfiguration",
        n,
    )?
    .map(|o| o.rules().iter().map(rule_of).collect()))
}

fn rule_of(r: &aws_sdk_s3::types::LifecycleRule) -> LifecycleRule {
    let days = |d: Option<i32>| d.map(|d| d as u32);
    LifecycleRule {
        id: r.id().unwrap_or_default().to_string(),
        prefix: r
            .filter()
            .and_then(|f| f.prefix())
            .unwrap_or_default()
            .to_string(),
        enabled: r.status().as_str() == "Enabled",
        expiration_days: days(r.expiration().and_then(|e| e.days())),
        transitions: r
            .transitions()
            .iter()
            .map(|t| Transition {
                days: t.days().unwrap_or(0) as u32,
                storage_class: t
                    .storage_class()
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        noncurrent_expiration_days: days(
            r.noncurrent_version_expiration()
                .and_then(|e| e.noncurrent_days()),
        ),
        abort_incomplete_multipart_days: days(
            r.abort_incomplete_multipart_upload()
                .and_then(|a| a.days_after_initiation()),
        ),
    }
}

fn sdk_rule(r: &LifecycleRule) -> TargetResult<aws_sdk_s3::types::LifecycleRule> {
    use aws_sdk_s3::types::*;
    let status = if r.enabled {
        ExpirationStatus::Enabled
    } else {
        ExpirationStatus::Disabled
    };
    let mut b = aws_sdk_s3::types::LifecycleRule::builder()
        .id(&r.id)
        .status(status)
        .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build());
    if let Some(d) = r.expiration_days {
        b = b.expiration(LifecycleExpiration::builder().days(d as i32).build());
    }
    for tr in &r.transitions {
        b = b.transitions(
            aws_sdk_s3::types::Transition::builder()
                .days(tr.days as i32)
                .storage_class(TransitionStorageClass::from(tr.storage_class.as_str()))
                .build(),
        );
    }
    if let Some(d) = r.noncurrent_expiration_days {
        b = b.noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(d as i32)
                .build(),
        );
    }
    if let Some(d) = r.abort_incomplete_multipart_days {
        b = b.abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(d as i32)
                .build(),
        );
    }
    b.build().map_err(|e| build("a lifecycle rule", e))
}

/// No rules declared removes the configuration.
pub(super) async fn put(s3: &S3, n: &str, rules: &[LifecycleRule]) -> TargetResult<()> {
    let what = format!("bucket {n}");
    if rules.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(n)
            .send()
            .await
            .map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
        return Ok(());
    }
    let conf = aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
        .set_rules(Some(
            rules.iter().map(sdk_rule).collect::<TargetResult<_>>()?,
        ))
        .build()
        .map_err(|e| build("a lifecycle configuration", e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(n)
        .lifecycle_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
    Ok(())
}
