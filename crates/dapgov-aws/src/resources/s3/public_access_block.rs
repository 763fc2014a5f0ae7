//! Block Public Access on the bucket: read and written here, side by side.

use super::S3;
use crate::error::sdk;
use crate::read::absent;
use dapgov_inventory::PublicAccessBlock;
use dapgov_target::TargetResult;

/// The four Block Public Access flags (S3 and S3 Control answer with different types); a flag
/// the answer leaves out is off.
pub(crate) fn from_flags([acls, ignore, policy, restrict]: [Option<bool>; 4]) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: acls.unwrap_or(false),
        ignore_public_acls: ignore.unwrap_or(false),
        block_public_policy: policy.unwrap_or(false),
        restrict_public_buckets: restrict.unwrap_or(false),
    }
}

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<PublicAccessBlock>> {
    let got = s3.get_public_access_block().bucket(n).send().await;
    Ok(absent(
        got,
        &["NoSuchPublicAccessBlockConfiguration"],
        "s3:GetBucketPublicAccessBlock",
        n,
    )?
    .and_then(|o| o.public_access_block_configuration().cloned())
    .map(|c| {
        from_flags([
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ])
    }))
}

pub(super) async fn put(s3: &S3, n: &str, p: &PublicAccessBlock) -> TargetResult<()> {
    let conf = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(p.block_public_acls)
        .ignore_public_acls(p.ignore_public_acls)
        .block_public_policy(p.block_public_policy)
        .restrict_public_buckets(p.restrict_public_buckets)
        .build();
    s3.put_public_access_block()
        .bucket(n)
        .public_access_block_configuration(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketPublicAccessBlock", &format!("bucket {n}"), e))?;
    Ok(())
}
