//! S3 buckets: read with every property dapgov manages; put; deleted only empty, or with --force-delete-data.

use crate::AwsTarget;
use crate::apply::{json, sdk_tags};
use crate::error::{build, code, sdk};
use crate::read::{absent, tags_from};
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::{project_prefix, s3_arn};
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use futures::future::try_join_all;
use std::collections::BTreeMap;

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
        location,
        encryption,
        versioning,
        pab,
        ownership,
        policy,
        lifecycle,
        logging,
        tagging,
        lock,
        acl,
    ) = tokio::join!(
        s3.get_bucket_location().bucket(n).send(),
        s3.get_bucket_encryption().bucket(n).send(),
        s3.get_bucket_versioning().bucket(n).send(),
        s3.get_public_access_block().bucket(n).send(),
        s3.get_bucket_ownership_controls().bucket(n).send(),
        s3.get_bucket_policy().bucket(n).send(),
        s3.get_bucket_lifecycle_configuration().bucket(n).send(),
        s3.get_bucket_logging().bucket(n).send(),
        s3.get_bucket_tagging().bucket(n).send(),
        s3.get_object_lock_configuration().bucket(n).send(),
        s3.get_bucket_acl().bucket(n).send(),
    );
    let location = location.map_err(|e| sdk("s3:GetBucketLocation", n, e))?;
    let region = location
        .location_constraint()
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "us-east-1".into());
    let encryption = absent(
        encryption,
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
    })
    .or(Some(BucketEncryption {
        algorithm: "none".into(),
        kms_key: None,
        bucket_key_enabled: false,
    }));
    let versioning = versioning.map_err(|e| sdk("s3:GetBucketVersioning", n, e))?;
    let versioning = Some(match versioning.status().map(|s| s.as_str()) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => Versioning::Disabled,
    });
    let public_access_block = absent(
        pab,
        &["NoSuchPublicAccessBlockConfiguration"],
        "s3:GetBucketPublicAccessBlock",
        n,
    )?
    .and_then(|o| o.public_access_block_configuration().cloned())
    .map(|c| {
        public_access_block([
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets(),
        ])
    });
    let object_ownership = absent(
        ownership,
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
    });
    let policy = match absent(policy, &["NoSuchBucketPolicy"], "s3:GetBucketPolicy", n)?
        .and_then(|o| o.policy().map(str::to_string))
    {
        Some(p) => Some(
            serde_json::from_str(&p)
                .map_err(|e| TargetError::Other(format!("bucket {n}: policy is not JSON: {e}")))?,
        ),
        None => None,
    };
    let lifecycle = absent(
        lifecycle,
        &["NoSuchLifecycleConfiguration"],
        "s3:GetLifecycleConfiguration",
        n,
    )?
    .map(|o| {
        o.rules()
            .iter()
            .map(|r| LifecycleRule {
                id: r.id().unwrap_or_default().to_string(),
                prefix: r
                    .filter()
                    .and_then(|f| f.prefix())
                    .unwrap_or_default()
                    .to_string(),
                enabled: r.status().as_str() == "Enabled",
                expiration_days: r.expiration().and_then(|e| e.days()).map(|d| d as u32),
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
                noncurrent_expiration_days: r
                    .noncurrent_version_expiration()
                    .and_then(|e| e.noncurrent_days())
                    .map(|d| d as u32),
                abort_incomplete_multipart_days: r
                    .abort_incomplete_multipart_upload()
                    .and_then(|a| a.days_after_initiation())
                    .map(|d| d as u32),
            })
            .collect()
    });
    let logging = logging
        .map_err(|e| sdk("s3:GetBucketLogging", n, e))?
        .logging_enabled()
        .map(|l| BucketLogging {
            target_bucket: l.target_bucket().to_string(),
            target_prefix: l.target_prefix().to_string(),
        });
    let tags = absent(
        tagging,
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
    });
    let object_lock = absent(
        lock,
        &["ObjectLockConfigurationNotFoundError"],
        "s3:GetBucketObjectLockConfiguration",
        n,
    )?
    .and_then(|o| {
        o.object_lock_configuration().map(|c| {
            let retention = c.rule().and_then(|r| r.default_retention());
            ObjectLock {
                enabled: c
                    .object_lock_enabled()
                    .is_some_and(|e| e.as_str() == "Enabled"),
                mode: retention
                    .and_then(|r| r.mode())
                    .map(|m| m.as_str().to_string()),
                days: retention.and_then(|r| r.days()).map(|d| d as u32),
            }
        })
    });
    let acl = acl.map_err(|e| sdk("s3:GetBucketAcl", n, e))?;
    let owner = acl.owner().and_then(|o| o.id()).map(str::to_string);
    let acl_grants = Some(
        acl.grants()
            .iter()
            .filter_map(|g| {
                let grantee = g.grantee()?;
                let who = grantee
                    .uri()
                    .or(grantee.email_address())
                    .or(grantee.id())?
                    .to_string();
                // The owner's own full control is the default, not a grant to report.
                (Some(&who) != owner.as_ref()).then(|| AclGrant {
                    grantee: who,
                    permission: g
                        .permission()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                })
            })
            .collect(),
    );
    let zone = tags.as_ref().and_then(|t| t.get("zone")).cloned();
    Ok(Bucket {
        arn: Some(s3_arn(&n)),
        name,
        zone,
        region: Some(region),
        tags,
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

/// The four Block Public Access flags (S3 and S3 Control answer with different types); a flag
/// the answer leaves out is off.
pub(crate) fn public_access_block(
    [acls, ignore, policy, restrict]: [Option<bool>; 4],
) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: acls.unwrap_or(false),
        ignore_public_acls: ignore.unwrap_or(false),
        block_public_policy: policy.unwrap_or(false),
        restrict_public_buckets: restrict.unwrap_or(false),
    }
}

async fn put(t: &AwsTarget, want: Bucket, have: Option<Bucket>) -> TargetResult<()> {
    let create = have.is_none();
    use aws_sdk_s3::types::*;
    let s3 = &t.clients.s3;
    let n = want.name.as_str();
    let what = format!("bucket {n}");
    if create {
        let mut req = s3.create_bucket().bucket(n);
        let region = want.region.clone().unwrap_or_else(|| t.region.clone());
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if code(&e) == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(sdk("s3:CreateBucket", &what, e)),
        }
    }
    if let Some(tags) = &want.tags {
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
            .map_err(|e| sdk("s3:PutBucketTagging", &what, e))?;
    }
    if let Some(enc) = &want.encryption {
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
            .map_err(|e| sdk("s3:PutEncryptionConfiguration", &what, e))?;
    }
    if let Some(v) = want.versioning {
        let status = match v {
            Versioning::Enabled => Some(BucketVersioningStatus::Enabled),
            Versioning::Suspended => Some(BucketVersioningStatus::Suspended),
            Versioning::Disabled => None,
        };
        if let Some(status) = status {
            let conf = VersioningConfiguration::builder().status(status).build();
            s3.put_bucket_versioning()
                .bucket(n)
                .versioning_configuration(conf)
                .send()
                .await
                .map_err(|e| sdk("s3:PutBucketVersioning", &what, e))?;
        }
    }
    if let Some(p) = &want.public_access_block {
        let conf = PublicAccessBlockConfiguration::builder()
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
            .map_err(|e| sdk("s3:PutBucketPublicAccessBlock", &what, e))?;
    }
    // Public grants left behind must go before ACLs can be disabled.
    if want.acl_grants.as_ref().is_some_and(|g| g.is_empty())
        && have
            .as_ref()
            .and_then(|h| h.acl_grants.as_ref())
            .is_some_and(|g| !g.is_empty())
    {
        s3.put_bucket_acl()
            .bucket(n)
            .acl(BucketCannedAcl::Private)
            .send()
            .await
            .map_err(|e| sdk("s3:PutBucketAcl", &what, e))?;
    }
    if let Some(o) = &want.object_ownership {
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::from(o.as_str()))
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
            .map_err(|e| sdk("s3:PutBucketOwnershipControls", &what, e))?;
    }
    if let Some(rules) = &want.lifecycle {
        if rules.is_empty() {
            s3.delete_bucket_lifecycle()
                .bucket(n)
                .send()
                .await
                .map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
        } else {
            let mut out = Vec::new();
            for r in rules {
                let mut b = aws_sdk_s3::types::LifecycleRule::builder()
                    .id(&r.id)
                    .status(if r.enabled {
                        ExpirationStatus::Enabled
                    } else {
                        ExpirationStatus::Disabled
                    })
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
                out.push(b.build().map_err(|e| build("a lifecycle rule", e))?);
            }
            let conf = BucketLifecycleConfiguration::builder()
                .set_rules(Some(out))
                .build()
                .map_err(|e| build("a lifecycle configuration", e))?;
            s3.put_bucket_lifecycle_configuration()
                .bucket(n)
                .lifecycle_configuration(conf)
                .send()
                .await
                .map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
        }
    }
    if let Some(p) = &want.policy {
        s3.put_bucket_policy()
            .bucket(n)
            .policy(json(p))
            .send()
            .await
            .map_err(|e| sdk("s3:PutBucketPolicy", &what, e))?;
    }
    if let Some(l) = &want.logging {
        // The log bucket may be created later in this apply; logging follows in the next round.
        if s3
            .head_bucket()
            .bucket(&l.target_bucket)
            .send()
            .await
            .is_ok()
        {
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
                .map_err(|e| sdk("s3:PutBucketLogging", &what, e))?;
        }
    }
    Ok(())
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
        // Every version by its id; objects written before versioning have the id "null" (a
        // delete without an id would only add a delete marker).
        let listed: Vec<(String, String)> = page
            .versions()
            .iter()
            .map(|v| {
                (
                    v.key().unwrap_or_default().to_string(),
                    v.version_id().unwrap_or("null").to_string(),
                )
            })
            .chain(page.delete_markers().iter().map(|m| {
                (
                    m.key().unwrap_or_default().to_string(),
                    m.version_id().unwrap_or("null").to_string(),
                )
            }))
            .collect();
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
        Ok(read_all(t, scope.project).await?.into())
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, &c.resource.name, c.force_delete_data).await
    }
}
