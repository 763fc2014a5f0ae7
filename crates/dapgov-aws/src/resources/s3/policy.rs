//! The bucket policy: read and written here, side by side.

use super::S3;
use crate::apply::json;
use crate::error::sdk;
use crate::read::absent;
use dapgov_target::{TargetError, TargetResult};
use serde_json::Value;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<Value>> {
    let got = s3.get_bucket_policy().bucket(n).send().await;
    let Some(text) = absent(got, &["NoSuchBucketPolicy"], "s3:GetBucketPolicy", n)?
        .and_then(|o| o.policy().map(str::to_string))
    else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TargetError::Other(format!("bucket {n}: policy is not JSON: {e}")))
}

pub(super) async fn put(s3: &S3, n: &str, policy: &Value) -> TargetResult<()> {
    s3.put_bucket_policy()
        .bucket(n)
        .policy(json(policy))
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketPolicy", &format!("bucket {n}"), e))?;
    Ok(())
}
