//! Tags (ownership and the zone are read from them): read and written here, side by side.

use super::S3;
use crate::apply::sdk_tags;
use crate::error::{build, sdk};
use crate::read::{absent, tags_from};
use dapgov_inventory::Tags;
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<Tags>> {
    let got = s3.get_bucket_tagging().bucket(n).send().await;
    Ok(absent(
        got,
        &["NoSuchTagSet", "NoSuchTagSetError"],
        "s3:GetBucketTagging",
        n,
    )?
    .map(|o| {
        tags_from(
            o.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        )
    }))
}

pub(super) async fn put(s3: &S3, n: &str, tags: &Tags) -> TargetResult<()> {
    use aws_sdk_s3::types::{Tag, Tagging};
    let set = sdk_tags(tags, "an S3 tag", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(set))
        .build()
        .map_err(|e| build("S3 tagging", e))?;
    s3.put_bucket_tagging()
        .bucket(n)
        .tagging(tagging)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketTagging", &format!("bucket {n}"), e))?;
    Ok(())
}
