//! S3 buckets: read with every property dapgov manages; put; deleted only empty, or with
//! --force-delete-data. Each sub-configuration is read and written side by side in a file of
//! its own (`find` and `put`); this file puts them together.

mod encryption;
mod lifecycle;
mod logging;
mod notification;
mod object_lock;
mod ownership;
mod policy;
pub(crate) mod public_access_block;
mod tags;
mod versioning;

use crate::AwsTarget;
use crate::error::{build, code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::{project_prefix, s3_arn};
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use futures::future::try_join_all;
use std::collections::BTreeMap;

type S3 = aws_sdk_s3::Client;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Bucket>> {
    let list = t
        .clients
        .s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| sdk("s3:ListAllMyBuckets", "the account", e))?;
    let names: Vec<String> = list
        .buckets()
        .iter()
        .filter_map(|b| b.name())
        .filter(|n| n.starts_with(&project_prefix(project)))
        .map(str::to_string)
        .collect();
    let read = try_join_all(names.into_iter().map(|n| read_one(t, n))).await?;
    Ok(read.into_iter().map(|b| (b.name.clone(), b)).collect())
}

async fn read_one(t: &AwsTarget, name: String) -> TargetResult<Bucket> {
    let s3 = &t.clients.s3;
    let n = name.as_str();
    let (
        region,
        encryption,
        versioning,
        public_access_block,
        object_ownership,
        policy,
        lifecycle,
        logging,
        tags,
        object_lock,
        acl_grants,
        eventbridge,
    ) = tokio::try_join!(
        region(s3, n),
        encryption::find(s3, n),
        versioning::find(s3, n),
        public_access_block::find(s3, n),
        ownership::find(s3, n),
        policy::find(s3, n),
        lifecycle::find(s3, n),
        logging::find(s3, n),
        tags::find(s3, n),
        object_lock::find(s3, n),
        ownership::find_grants(s3, n),
        notification::find(s3, n),
    )?;
    let zone = tags.as_ref().and_then(|t| t.get("zone")).cloned();
    Ok(Bucket {
        arn: Some(s3_arn(n)),
        name,
        zone,
        region: Some(region),
        tags,
        eventbridge,
        encryption,
        versioning,
        public_access_block,
        object_ownership,
        policy,
        lifecycle,
        logging,
        object_lock,
        acl_grants,
        usage: None,
    })
}

/// The bucket's region (S3 answers nothing for us-east-1).
async fn region(s3: &S3, n: &str) -> TargetResult<String> {
    let location = s3
        .get_bucket_location()
        .bucket(n)
        .send()
        .await
        .map_err(|e| sdk("s3:GetBucketLocation", n, e))?;
    Ok(location
        .location_constraint()
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "us-east-1".into()))
}

async fn create(t: &AwsTarget, want: &Bucket) -> TargetResult<()> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let n = want.name.as_str();
    let mut req = t.clients.s3.create_bucket().bucket(n);
    let region = want.region.clone().unwrap_or_else(|| t.region.clone());
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) => Err(sdk("s3:CreateBucket", &format!("bucket {n}"), e)),
    }
}

/// Every declared sub-configuration, in an order S3 accepts: tags first (ownership is read
/// from them), grants cleared before ownership disables ACLs, the policy after the public
/// access block it must pass.
async fn put(t: &AwsTarget, want: Bucket, have: Option<Bucket>) -> TargetResult<()> {
    let s3 = &t.clients.s3;
    let n = want.name.as_str();
    if have.is_none() {
        create(t, &want).await?;
    }
    if let Some(tags) = &want.tags {
        tags::put(s3, n, tags).await?;
    }
    if let Some(enc) = &want.encryption {
        encryption::put(s3, n, enc).await?;
    }
    if let Some(v) = want.versioning {
        versioning::put(s3, n, v).await?;
    }
    if let Some(p) = &want.public_access_block {
        public_access_block::put(s3, n, p).await?;
    }
    let granted = |b: &Bucket| b.acl_grants.as_ref().is_some_and(|g| !g.is_empty());
    if want.acl_grants.as_ref().is_some_and(|g| g.is_empty()) && have.as_ref().is_some_and(granted)
    {
        ownership::clear_grants(s3, n).await?;
    }
    if let Some(o) = &want.object_ownership {
        ownership::put(s3, n, o).await?;
    }
    if let Some(rules) = &want.lifecycle {
        lifecycle::put(s3, n, rules).await?;
    }
    if let Some(p) = &want.policy {
        policy::put(s3, n, p).await?;
    }
    if let Some(l) = &want.logging {
        logging::put(s3, n, l).await?;
    }
    if let Some(on) = want.eventbridge {
        notification::put(s3, n, on).await?;
    }
    Ok(())
}

/// Every version and delete marker a listing page names, by key and version id; objects
/// written before versioning have the id "null" (a delete without an id would only add a
/// delete marker).
fn versions_listed(
    page: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
) -> Vec<(String, String)> {
    let id = |key: Option<&str>, version: Option<&str>| {
        (
            key.unwrap_or_default().to_string(),
            version.unwrap_or("null").to_string(),
        )
    };
    page.versions()
        .iter()
        .map(|v| id(v.key(), v.version_id()))
        .chain(
            page.delete_markers()
                .iter()
                .map(|m| id(m.key(), m.version_id())),
        )
        .collect()
}

/// Delete a bucket; one that holds objects (any version) only with `force`.
async fn delete(t: &AwsTarget, name: &str, force: bool) -> TargetResult<()> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let s3 = &t.clients.s3;
    let what = format!("bucket {name}");
    let mut previous: Vec<(String, String)> = Vec::new();
    loop {
        let page = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| sdk("s3:ListBucketVersions", &what, e))?;
        let listed = versions_listed(&page);
        if listed.is_empty() {
            break;
        }
        if listed == previous {
            return Err(TargetError::Other(format!(
                "{what}: deleting {} object version(s) made no progress; the bucket was kept",
                listed.len()
            )));
        }
        let ids: Vec<ObjectIdentifier> = listed
            .iter()
            .map(|(k, v)| {
                ObjectIdentifier::builder()
                    .key(k)
                    .version_id(v)
                    .build()
                    .map_err(|e| build("an object id", e))
            })
            .collect::<TargetResult<_>>()?;
        let first_round = previous.is_empty();
        previous = listed;
        if !force {
            return Err(TargetError::Refused {
                resource: what,
                message: format!(
                    "holds {}{} object version(s); keep it, or pass --force-delete-data to delete them",
                    ids.len(),
                    if page.is_truncated() == Some(true) {
                        "+"
                    } else {
                        ""
                    }
                ),
            });
        }
        if first_round {
            // The trail bucket's policy denies deleting logs to everyone; the bucket is going.
            s3.delete_bucket_policy()
                .bucket(name)
                .send()
                .await
                .map_err(|e| sdk("s3:DeleteBucketPolicy", &what, e))?;
        }
        let batch = Delete::builder()
            .set_objects(Some(ids))
            .quiet(true)
            .build()
            .map_err(|e| build("a delete batch", e))?;
        let done = s3
            .delete_objects()
            .bucket(name)
            .delete(batch)
            .send()
            .await
            .map_err(|e| sdk("s3:DeleteObject", &what, e))?;
        if let Some(e) = done.errors().first() {
            return Err(TargetError::Other(format!(
                "{what}: {} object version(s) could not be deleted, e.g. {}: {} ({}); the bucket was kept",
                done.errors().len(),
                e.key().unwrap_or_default(),
                e.code().unwrap_or_default(),
                e.message().unwrap_or_default()
            )));
        }
    }
    s3.delete_bucket()
        .bucket(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("s3:DeleteBucket", &what, e))
}

impl AwsResource for Bucket {
    const READ_ACTIONS: &'static [&'static str] = &[
        "s3:ListAllMyBuckets",
        "s3:GetBucketAcl",
        "s3:GetBucketLocation",
        "s3:GetBucketLogging",
        "s3:GetBucketNotification",
        "s3:GetBucketObjectLockConfiguration",
        "s3:GetBucketOwnershipControls",
        "s3:GetBucketPolicy",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetBucketTagging",
        "s3:GetBucketVersioning",
        "s3:GetEncryptionConfiguration",
        "s3:GetLifecycleConfiguration",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(Found::kept_only_by_aws(
            t,
            read_all(t, scope.project).await?,
            &[("eventbridge", |b| b.eventbridge.is_none())],
        ))
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, &c.resource.name, c.force_delete_data).await
    }
}
