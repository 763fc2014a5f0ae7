//! Versioning: read and written here, side by side.

use super::S3;
use crate::error::sdk;
use dapgov_inventory::Versioning;
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<Versioning>> {
    let got = s3
        .get_bucket_versioning()
        .bucket(n)
        .send()
        .await
        .map_err(|e| sdk("s3:GetBucketVersioning", n, e))?;
    Ok(Some(match got.status().map(|s| s.as_str()) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => Versioning::Disabled,
    }))
}

/// Versioning once enabled can only be suspended: `Disabled` asks for nothing.
pub(super) async fn put(s3: &S3, n: &str, v: Versioning) -> TargetResult<()> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let status = match v {
        Versioning::Enabled => BucketVersioningStatus::Enabled,
        Versioning::Suspended => BucketVersioningStatus::Suspended,
        Versioning::Disabled => return Ok(()),
    };
    let conf = VersioningConfiguration::builder().status(status).build();
    s3.put_bucket_versioning()
        .bucket(n)
        .versioning_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketVersioning", &format!("bucket {n}"), e))?;
    Ok(())
}
