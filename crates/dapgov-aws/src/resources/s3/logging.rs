//! Server access logging: read and written here, side by side.

use super::S3;
use crate::error::{build, sdk};
use dapgov_inventory::BucketLogging;
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<BucketLogging>> {
    let got = s3
        .get_bucket_logging()
        .bucket(n)
        .send()
        .await
        .map_err(|e| sdk("s3:GetBucketLogging", n, e))?;
    Ok(got.logging_enabled().map(|l| BucketLogging {
        target_bucket: l.target_bucket().to_string(),
        target_prefix: l.target_prefix().to_string(),
    }))
}

/// The log bucket may be created later in the same apply: logging then follows in the next
/// round of `converge`.
pub(super) async fn put(s3: &S3, n: &str, l: &BucketLogging) -> TargetResult<()> {
    use aws_sdk_s3::types::{BucketLoggingStatus, LoggingEnabled};
    if s3
        .head_bucket()
        .bucket(&l.target_bucket)
        .send()
        .await
        .is_err()
    {
        return Ok(());
    }
    let enabled = LoggingEnabled::builder()
        .target_bucket(&l.target_bucket)
        .target_prefix(&l.target_prefix)
        .build()
        .map_err(|e| build("logging", e))?;
    let status = BucketLoggingStatus::builder()
        .logging_enabled(enabled)
        .build();
    s3.put_bucket_logging()
        .bucket(n)
        .bucket_logging_status(status)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketLogging", &format!("bucket {n}"), e))?;
    Ok(())
}
