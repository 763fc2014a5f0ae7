//! Default encryption: read and written here, side by side.

use super::S3;
use crate::error::{build, sdk};
use crate::read::absent;
use dapgov_inventory::BucketEncryption;
use dapgov_target::TargetResult;

/// The bucket's default encryption; `none` when it has none.
pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<BucketEncryption>> {
    let got = s3.get_bucket_encryption().bucket(n).send().await;
    let none = BucketEncryption {
        algorithm: "none".into(),
        kms_key: None,
        bucket_key_enabled: false,
    };
    let found = absent(
        got,
        &["ServerSideEncryptionConfigurationNotFoundError"],
        "s3:GetEncryptionConfiguration",
        n,
    )?
    .and_then(|o| {
        o.server_side_encryption_configuration()
            .and_then(|c| c.rules().first().cloned())
    })
    .map(|rule| {
        let default = rule.apply_server_side_encryption_by_default();
        BucketEncryption {
            algorithm: default
                .map(|d| d.sse_algorithm().as_str().to_string())
                .unwrap_or_else(|| "none".into()),
            kms_key: default
                .and_then(|d| d.kms_master_key_id())
                .map(str::to_string),
            bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
        }
    });
    Ok(Some(found.unwrap_or(none)))
}

pub(super) async fn put(s3: &S3, n: &str, enc: &BucketEncryption) -> TargetResult<()> {
    use aws_sdk_s3::types::*;
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(enc.algorithm.as_str()))
        .set_kms_master_key_id(enc.kms_key.clone())
        .build()
        .map_err(|e| build("default encryption", e))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(enc.bucket_key_enabled)
        .build();
    let conf = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| build("encryption configuration", e))?;
    s3.put_bucket_encryption()
        .bucket(n)
        .server_side_encryption_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutEncryptionConfiguration", &format!("bucket {n}"), e))?;
    Ok(())
}
