//! Object ownership and ACL grants (ownership `BucketOwnerEnforced` disables ACLs): read and
//! written here, side by side.

use super::S3;
use crate::error::{build, sdk};
use crate::read::absent;
use dapgov_inventory::AclGrant;
use dapgov_target::TargetResult;

pub(super) async fn find(s3: &S3, n: &str) -> TargetResult<Option<String>> {
    let got = s3.get_bucket_ownership_controls().bucket(n).send().await;
    Ok(absent(
        got,
        &["OwnershipControlsNotFoundError"],
        "s3:GetBucketOwnershipControls",
        n,
    )?
    .and_then(|o| {
        o.ownership_controls().and_then(|c| {
            c.rules()
                .first()
                .map(|r| r.object_ownership().as_str().to_string())
        })
    }))
}

pub(super) async fn put(s3: &S3, n: &str, ownership: &str) -> TargetResult<()> {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(ownership))
        .build()
        .map_err(|e| build("ownership controls", e))?;
    let conf = OwnershipControls::builder()
        .rules(rule)
        .build()
        .map_err(|e| build("ownership controls", e))?;
    s3.put_bucket_ownership_controls()
        .bucket(n)
        .ownership_controls(conf)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketOwnershipControls", &format!("bucket {n}"), e))?;
    Ok(())
}

/// The ACL's grants other than the owner's own full control (the default, not a grant to
/// report).
pub(super) async fn find_grants(s3: &S3, n: &str) -> TargetResult<Option<Vec<AclGrant>>> {
    let acl = s3
        .get_bucket_acl()
        .bucket(n)
        .send()
        .await
        .map_err(|e| sdk("s3:GetBucketAcl", n, e))?;
    let owner = acl.owner().and_then(|o| o.id()).map(str::to_string);
    Ok(Some(
        acl.grants()
            .iter()
            .filter_map(|g| {
                let grantee = g.grantee()?;
                let who = grantee
                    .uri()
                    .or(grantee.email_address())
                    .or(grantee.id())?
                    .to_string();
                (Some(&who) != owner.as_ref()).then(|| AclGrant {
                    grantee: who,
                    permission: g
                        .permission()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                })
            })
            .collect(),
    ))
}

/// Grants left behind (public ones among them) are removed by a private ACL: they must go
/// before ownership can disable ACLs.
pub(super) async fn clear_grants(s3: &S3, n: &str) -> TargetResult<()> {
    s3.put_bucket_acl()
        .bucket(n)
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .map_err(|e| sdk("s3:PutBucketAcl", &format!("bucket {n}"), e))?;
    Ok(())
}
