//! Reading the Inventory: every resource named for the project, every property dapgov
//! manages, read concurrently.

use crate::AwsTarget;
use crate::error::{code, sdk};
use aws_smithy_runtime_api::client::result::SdkError;
use dapgov_target::{TargetError, TargetResult};
use dapgov_inventory::*;
use dapgov_inventory::names::{bucket_of_s3_arn, etl_dataset_dimensions, log_group_prefix, project_prefix, s3_arn, ETL_FAILURE_METRIC};
use futures::future::try_join_all;
use serde_json::Value;
use std::collections::BTreeMap;

/// `Ok(None)` when the service says the thing is absent (one of `codes`).
fn absent<T, E, R>(r: Result<T, SdkError<E, R>>, codes: &[&str], action: &str, resource: &str) -> TargetResult<Option<T>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(sdk(action, resource, e)),
    }
}

/// IAM returns policy documents URL-encoded.
pub(crate) fn policy_json(text: &str, what: &str) -> TargetResult<Value> {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8().map_err(|e| TargetError::Other(format!("{what}: policy is not UTF-8: {e}")))?;
    serde_json::from_str(&decoded).map_err(|e| TargetError::Other(format!("{what}: policy is not JSON: {e}")))
}

/// The four Block Public Access flags (S3 and S3 Control answer with different types); a flag
/// the answer leaves out is off.
fn public_access_block([acls, ignore, policy, restrict]: [Option<bool>; 4]) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: acls.unwrap_or(false),
        ignore_public_acls: ignore.unwrap_or(false),
        block_public_policy: policy.unwrap_or(false),
        restrict_public_buckets: restrict.unwrap_or(false),
    }
}

fn tags_from<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Tags {
    pairs.into_iter().collect()
}

pub(crate) async fn inventory(t: &AwsTarget, project: &str) -> TargetResult<Inventory> {
    let account_id = t.account().await?;
    let (buckets, (keys, unreadable_keys), roles, trails, log_groups, topics, alarms, (budgets, unreadable), (glue_databases, glue_security_configurations), athena_workgroups, account) = tokio::try_join!(
        buckets(t, project),
        keys(t, project),
        roles(t, project),
        trails(t, project),
        log_groups(t, project),
        topics(t, project),
        alarms(t, project),
        budgets(t, project, &account_id),
        glue(t, project),
        workgroups(t, project, &account_id),
        account_settings(t, &account_id),
    )?;
    Ok(Inventory {
        schema_version: SCHEMA_VERSION,
        target: "aws".into(),
        account_id,
        region: t.region.clone(),
        project: project.into(),
        buckets,
        keys,
        roles,
        trails,
        log_groups,
        topics,
        alarms,
        budgets,
        glue_databases,
        glue_security_configurations,
        athena_workgroups,
        account,
        etl_runs: etl_runs(t, project).await?,
        unreadable: unreadable.into_iter().chain(unreadable_keys).collect(),
    })
}

/// Each dataset's latest run, from the failure flag every run publishes per dataset (the run
/// itself is not a metric dimension: each run would make a billable metric of its own). The
/// newest datum within a minute of the last day, else of the last 14 days by the hour.
async fn etl_runs(t: &AwsTarget, project: &str) -> TargetResult<Vec<EtlRunSummary>> {
    use aws_sdk_cloudwatch::types::{DimensionFilter, Statistic};
    let cw = &t.clients.cloudwatch;
    let mut metrics = vec![];
    let mut pages = cw
        .list_metrics()
        .metric_name(ETL_FAILURE_METRIC)
        .dimensions(DimensionFilter::builder().name("Project").value(project).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        metrics.extend(page.map_err(|e| sdk("cloudwatch:ListMetrics", ETL_FAILURE_METRIC, e))?.metrics().iter().cloned());
    }
    let now = std::time::SystemTime::now();
    let mut runs = vec![];
    for m in metrics {
        let dims: BTreeMap<String, String> = m.dimensions().iter().map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string())).collect();
        let Some(dataset) = dims.get("Dataset").filter(|d| etl_dataset_dimensions(project, d) == dims).cloned() else { continue };
        let mut newest = None;
        for (period, days) in [(60, 1), (3600, 14)] {
            let got = cw
                .get_metric_statistics()
                .namespace(m.namespace().unwrap_or_default())
                .metric_name(ETL_FAILURE_METRIC)
                .set_dimensions(Some(m.dimensions().to_vec()))
                .start_time(aws_smithy_types::DateTime::from(now - std::time::Duration::from_secs(days * 86_400)))
                .end_time(aws_smithy_types::DateTime::from(now + std::time::Duration::from_secs(60)))
                .period(period)
                .statistics(Statistic::Maximum)
                .send()
                .await
                .map_err(|e| sdk("cloudwatch:GetMetricStatistics", &format!("{ETL_FAILURE_METRIC} of dataset {dataset}"), e))?;
            newest = got.datapoints().iter().filter(|d| d.timestamp().is_some()).max_by_key(|d| d.timestamp().map(|t| t.secs())).cloned();
            if newest.is_some() {
                break;
            }
        }
        let Some(d) = newest else { continue };
        let at = d.timestamp().and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0)).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
        runs.push(EtlRunSummary { run_id: format!("at {at}"), dataset, started_at: at, succeeded: d.maximum() == Some(0.0), output_formats: vec![], partitioned: true });
    }
    Ok(runs)
}

pub(crate) async fn buckets(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Bucket>> {
    let list = t.clients.s3.list_buckets().send().await.map_err(|e| sdk("s3:ListAllMyBuckets", "the account", e))?;
    let names: Vec<String> = list.buckets().iter().filter_map(|b| b.name()).filter(|n| n.starts_with(&project_prefix(project))).map(str::to_string).collect();
    let read = try_join_all(names.into_iter().map(|n| bucket(t, n))).await?;
    Ok(read.into_iter().map(|b| (b.name.clone(), b)).collect())
}

async fn bucket(t: &AwsTarget, name: String) -> TargetResult<Bucket> {
    let s3 = &t.clients.s3;
    let n = name.as_str();
    let (location, encryption, versioning, pab, ownership, policy, lifecycle, logging, tagging, lock, acl) = tokio::join!(
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
    let region = location.location_constraint().map(|c| c.as_str().to_string()).filter(|c| !c.is_empty()).unwrap_or_else(|| "us-east-1".into());
    let encryption = absent(encryption, &["ServerSideEncryptionConfigurationNotFoundError"], "s3:GetEncryptionConfiguration", n)?
        .and_then(|o| o.server_side_encryption_configuration().and_then(|c| c.rules().first().cloned()))
        .map(|rule| {
            let default = rule.apply_server_side_encryption_by_default();
            BucketEncryption {
                algorithm: default.map(|d| d.sse_algorithm().as_str().to_string()).unwrap_or_else(|| "none".into()),
                kms_key: default.and_then(|d| d.kms_master_key_id()).map(str::to_string),
                bucket_key_enabled: rule.bucket_key_enabled().unwrap_or(false),
            }
        })
        .or(Some(BucketEncryption { algorithm: "none".into(), kms_key: None, bucket_key_enabled: false }));
    let versioning = versioning.map_err(|e| sdk("s3:GetBucketVersioning", n, e))?;
    let versioning = Some(match versioning.status().map(|s| s.as_str()) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => Versioning::Disabled,
    });
    let public_access_block = absent(pab, &["NoSuchPublicAccessBlockConfiguration"], "s3:GetBucketPublicAccessBlock", n)?
        .and_then(|o| o.public_access_block_configuration().cloned())
        .map(|c| public_access_block([c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]));
    let object_ownership = absent(ownership, &["OwnershipControlsNotFoundError"], "s3:GetBucketOwnershipControls", n)?
        .and_then(|o| o.ownership_controls().and_then(|c| c.rules().first().map(|r| r.object_ownership().as_str().to_string())));
    let policy = match absent(policy, &["NoSuchBucketPolicy"], "s3:GetBucketPolicy", n)?.and_then(|o| o.policy().map(str::to_string)) {
        Some(p) => Some(serde_json::from_str(&p).map_err(|e| TargetError::Other(format!("bucket {n}: policy is not JSON: {e}")))?),
        None => None,
    };
    let lifecycle = absent(lifecycle, &["NoSuchLifecycleConfiguration"], "s3:GetLifecycleConfiguration", n)?.map(|o| {
        o.rules()
            .iter()
            .map(|r| LifecycleRule {
                id: r.id().unwrap_or_default().to_string(),
                prefix: r.filter().and_then(|f| f.prefix()).unwrap_or_default().to_string(),
                enabled: r.status().as_str() == "Enabled",
                expiration_days: r.expiration().and_then(|e| e.days()).map(|d| d as u32),
                transitions: r
                    .transitions()
                    .iter()
                    .map(|t| Transition { days: t.days().unwrap_or(0) as u32, storage_class: t.storage_class().map(|c| c.as_str().to_string()).unwrap_or_default() })
                    .collect(),
                noncurrent_expiration_days: r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()).map(|d| d as u32),
                abort_incomplete_multipart_days: r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()).map(|d| d as u32),
            })
            .collect()
    });
    let logging = logging
        .map_err(|e| sdk("s3:GetBucketLogging", n, e))?
        .logging_enabled()
        .map(|l| BucketLogging { target_bucket: l.target_bucket().to_string(), target_prefix: l.target_prefix().to_string() });
    let tags = absent(tagging, &["NoSuchTagSet", "NoSuchTagSetError"], "s3:GetBucketTagging", n)?
        .map(|o| tags_from(o.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string()))));
    let object_lock = absent(lock, &["ObjectLockConfigurationNotFoundError"], "s3:GetBucketObjectLockConfiguration", n)?.and_then(|o| {
        o.object_lock_configuration().map(|c| {
            let retention = c.rule().and_then(|r| r.default_retention());
            ObjectLock {
                enabled: c.object_lock_enabled().is_some_and(|e| e.as_str() == "Enabled"),
                mode: retention.and_then(|r| r.mode()).map(|m| m.as_str().to_string()),
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
                let who = grantee.uri().or(grantee.email_address()).or(grantee.id())?.to_string();
                // The owner's own full control is the default, not a grant to report.
                (Some(&who) != owner.as_ref()).then(|| AclGrant { grantee: who, permission: g.permission().map(|p| p.as_str().to_string()).unwrap_or_default() })
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

async fn keys(t: &AwsTarget, project: &str) -> TargetResult<(BTreeMap<String, Key>, Vec<String>)> {
    let kms = &t.clients.kms;
    let mut aliases = Vec::new();
    let mut pages = kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("kms:ListAliases", "the account", e))?;
        for a in page.aliases() {
            if let (Some(name), Some(target)) = (a.alias_name().and_then(|n| n.strip_prefix("alias/")), a.target_key_id())
                && name.starts_with(&project_prefix(project))
            {
                aliases.push((name.to_string(), target.to_string()));
            }
        }
    }
    let read = try_join_all(aliases.into_iter().map(|(alias, id)| key(t, alias, id))).await?;
    let unreadable = read.iter().filter_map(|(_, u)| u.clone()).collect();
    Ok((read.into_iter().map(|(k, _)| (k.alias.clone(), k)).collect(), unreadable))
}

/// A key, and its rotation period as unreadable when the endpoint does not report it.
async fn key(t: &AwsTarget, alias: String, id: String) -> TargetResult<(Key, Option<String>)> {
    let kms = &t.clients.kms;
    let (described, rotation, policy, tags) = tokio::join!(
        kms.describe_key().key_id(&id).send(),
        kms.get_key_rotation_status().key_id(&id).send(),
        kms.get_key_policy().key_id(&id).policy_name("default").send(),
        kms.list_resource_tags().key_id(&id).send(),
    );
    let what = format!("key alias/{alias}");
    let meta = described.map_err(|e| sdk("kms:DescribeKey", &what, e))?.key_metadata().cloned().ok_or_else(|| TargetError::Other(format!("{what}: no key metadata")))?;
    let state = meta.key_state().map(|s| s.as_str().to_string());
    // Rotation status cannot be read while a key is pending deletion or disabled.
    let rotation = absent(rotation, &["KMSInvalidStateException", "DisabledException"], "kms:GetKeyRotationStatus", &what)?;
    let policy = absent(policy, &["KMSInvalidStateException"], "kms:GetKeyPolicy", &what)?.and_then(|p| p.policy().map(str::to_string));
    let tags = tags_from(tags.map_err(|e| sdk("kms:ListResourceTags", &what, e))?.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())));
    let period_unreadable = rotation.as_ref().is_some_and(|r| r.key_rotation_enabled() && r.rotation_period_in_days().is_none()).then(|| format!("key.{alias}:rotation_period_days"));
    let key = Key {
        key_id: Some(meta.key_id().to_string()),
        arn: meta.arn().map(str::to_string),
        description: meta.description().map(str::to_string),
        rotation_enabled: rotation.as_ref().map(|r| r.key_rotation_enabled()),
        rotation_period_days: rotation.as_ref().and_then(|r| r.rotation_period_in_days()).map(|d| d as u32),
        state,
        policy: match policy {
            Some(p) => Some(serde_json::from_str(&p).map_err(|e| TargetError::Other(format!("{what}: key policy is not JSON: {e}")))?),
            None => None,
        },
        // KMS keeps no deletion window until deletion is scheduled; dapgov records the one it
        // will use as a tag when it creates the key.
        deletion_window_days: tags.get(crate::apply::DELETION_WINDOW_TAG).and_then(|v| v.parse().ok()),
        tags: Some(tags),
        versions: None,
        alias,
    };
    Ok((key, period_unreadable))
}

async fn roles(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Role>> {
    let mut names = Vec::new();
    let mut pages = t.clients.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("iam:ListRoles", "the account", e))?;
        names.extend(page.roles().iter().map(|r| r.role_name().to_string()).filter(|n| n.starts_with(&project_prefix(project))));
    }
    let read = try_join_all(names.into_iter().map(|n| role(t, n))).await?;
    Ok(read.into_iter().map(|r| (r.name.clone(), r)).collect())
}

async fn role(t: &AwsTarget, name: String) -> TargetResult<Role> {
    let iam = &t.clients.iam;
    let what = format!("role {name}");
    let (got, inline, attached, tags) = tokio::join!(
        iam.get_role().role_name(&name).send(),
        iam.list_role_policies().role_name(&name).send(),
        iam.list_attached_role_policies().role_name(&name).send(),
        iam.list_role_tags().role_name(&name).send(),
    );
    let got = got.map_err(|e| sdk("iam:GetRole", &what, e))?;
    let r = got.role().ok_or_else(|| TargetError::Other(format!("{what}: not returned")))?;
    let trust_policy = r.assume_role_policy_document().map(|d| policy_json(d, &format!("{what} trust policy"))).transpose()?;
    let mut inline_policies = BTreeMap::new();
    for p in inline.map_err(|e| sdk("iam:ListRolePolicies", &what, e))?.policy_names() {
        let doc = iam.get_role_policy().role_name(&name).policy_name(p).send().await.map_err(|e| sdk("iam:GetRolePolicy", &what, e))?;
        inline_policies.insert(p.to_string(), policy_json(doc.policy_document(), &format!("{what} policy {p}"))?);
    }
    let mut attached_policies = BTreeMap::new();
    for a in attached.map_err(|e| sdk("iam:ListAttachedRolePolicies", &what, e))?.attached_policies() {
        let Some(arn) = a.policy_arn() else { continue };
        attached_policies.insert(arn.to_string(), attached_document(t, arn).await.unwrap_or(Value::Null));
    }
    let tags = tags_from(tags.map_err(|e| sdk("iam:ListRoleTags", &what, e))?.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())));
    Ok(Role {
        arn: Some(r.arn().to_string()),
        trust_policy,
        inline_policies: Some(inline_policies),
        attached_policies: Some(attached_policies),
        max_session_duration: r.max_session_duration().map(|d| d as u32),
        tags: Some(tags),
        name,
    })
}

/// The default version of a managed policy; `None` when it cannot be read.
async fn attached_document(t: &AwsTarget, arn: &str) -> Option<Value> {
    let p = t.clients.iam.get_policy().policy_arn(arn).send().await.ok()?;
    let version = p.policy()?.default_version_id()?.to_string();
    let v = t.clients.iam.get_policy_version().policy_arn(arn).version_id(version).send().await.ok()?;
    policy_json(v.policy_version()?.document()?, arn).ok()
}

async fn trails(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Trail>> {
    let ct = &t.clients.cloudtrail;
    let list = ct.describe_trails().include_shadow_trails(false).send().await.map_err(|e| sdk("cloudtrail:DescribeTrails", "the account", e))?;
    let mut out = BTreeMap::new();
    for tr in list.trail_list().iter().filter(|tr| tr.name().is_some_and(|n| n.starts_with(&project_prefix(project)))) {
        let name = tr.name().unwrap_or_default().to_string();
        let what = format!("trail {name}");
        let arn = tr.trail_arn().map(str::to_string);
        let (status, selectors, tags) = tokio::join!(
            ct.get_trail_status().name(&name).send(),
            ct.get_event_selectors().trail_name(&name).send(),
            ct.list_tags().resource_id_list(arn.clone().unwrap_or_else(|| name.clone())).send(),
        );
        let status = status.map_err(|e| sdk("cloudtrail:GetTrailStatus", &what, e))?;
        let selectors = selectors.map_err(|e| sdk("cloudtrail:GetEventSelectors", &what, e))?;
        let data_event_buckets: Vec<String> = selectors
            .event_selectors()
            .iter()
            .flat_map(|s| s.data_resources())
            .filter(|d| d.r#type() == Some("AWS::S3::Object"))
            .flat_map(|d| d.values())
            .filter_map(|v| bucket_of_s3_arn(v))
            .map(str::to_string)
            .collect();
        let tags = tags
            .map_err(|e| sdk("cloudtrail:ListTags", &what, e))?
            .resource_tag_list()
            .first()
            .map(|r| tags_from(r.tags_list().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()))));
        // arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*
        let log_group = tr.cloud_watch_logs_log_group_arn().and_then(|a| a.split(":log-group:").nth(1)).map(|g| g.trim_end_matches(":*").to_string());
        out.insert(
            name.clone(),
            Trail {
                name,
                arn,
                s3_bucket: tr.s3_bucket_name().map(str::to_string),
                multi_region: tr.is_multi_region_trail(),
                include_global_events: tr.include_global_service_events(),
                log_file_validation: tr.log_file_validation_enabled(),
                kms_key: tr.kms_key_id().map(str::to_string),
                log_group,
                data_event_buckets: Some(data_event_buckets),
                logging: status.is_logging(),
                tags,
            },
        );
    }
    Ok(out)
}

async fn log_groups(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, LogGroup>> {
    let logs = &t.clients.logs;
    let prefix = log_group_prefix(project);
    let list = logs.describe_log_groups().log_group_name_prefix(&prefix).send().await.map_err(|e| sdk("logs:DescribeLogGroups", &prefix, e))?;
    let mut out = BTreeMap::new();
    for g in list.log_groups() {
        let Some(name) = g.log_group_name() else { continue };
        let what = format!("log group {name}");
        let filters = logs.describe_metric_filters().log_group_name(name).send().await.map_err(|e| sdk("logs:DescribeMetricFilters", &what, e))?;
        let metric_filters = filters
            .metric_filters()
            .iter()
            .filter_map(|f| {
                let m = f.metric_transformations().first()?;
                Some((
                    f.filter_name()?.to_string(),
                    MetricFilter { pattern: f.filter_pattern().unwrap_or_default().to_string(), metric_namespace: m.metric_namespace().to_string(), metric_name: m.metric_name().to_string() },
                ))
            })
            .collect();
        let arn = g.arn().map(|a| a.trim_end_matches(":*").to_string());
        let tags = match arn {
            Some(a) => Some(tags_from(
                logs.list_tags_for_resource().resource_arn(a).send().await.map_err(|e| sdk("logs:ListTagsForResource", &what, e))?.tags().map(|m| m.clone().into_iter()).into_iter().flatten(),
            )),
            None => None,
        };
        out.insert(
            name.to_string(),
            LogGroup { name: name.to_string(), retention_days: g.retention_in_days().map(|d| d as u32), kms_key: g.kms_key_id().map(str::to_string), metric_filters: Some(metric_filters), tags },
        );
    }
    Ok(out)
}

async fn topics(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Topic>> {
    let sns = &t.clients.sns;
    let mut arns = Vec::new();
    let mut pages = sns.list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("sns:ListTopics", "the account", e))?;
        arns.extend(page.topics().iter().filter_map(|t| t.topic_arn()).filter(|a| a.rsplit(':').next().is_some_and(|n| n.starts_with(&project_prefix(project)))).map(str::to_string));
    }
    let mut out = BTreeMap::new();
    for arn in arns {
        let name = arn.rsplit(':').next().unwrap_or_default().to_string();
        let what = format!("topic {name}");
        let (attrs, subs, tags) = tokio::join!(
            sns.get_topic_attributes().topic_arn(&arn).send(),
            sns.list_subscriptions_by_topic().topic_arn(&arn).send(),
            sns.list_tags_for_resource().resource_arn(&arn).send(),
        );
        let attrs = attrs.map_err(|e| sdk("sns:GetTopicAttributes", &what, e))?;
        let subscriptions = subs
            .map_err(|e| sdk("sns:ListSubscriptionsByTopic", &what, e))?
            .subscriptions()
            .iter()
            .map(|s| format!("{}:{}", s.protocol().unwrap_or_default(), s.endpoint().unwrap_or_default()))
            .collect();
        let tags = tags_from(tags.map_err(|e| sdk("sns:ListTagsForResource", &what, e))?.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())));
        out.insert(
            name.clone(),
            Topic {
                name,
                kms_key: attrs.attributes().and_then(|a| a.get("KmsMasterKeyId")).filter(|k| !k.is_empty()).cloned(),
                arn: Some(arn),
                subscriptions: Some(subscriptions),
                tags: Some(tags),
            },
        );
    }
    Ok(out)
}

async fn alarms(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Alarm>> {
    let mut clients = vec![(&t.clients.cloudwatch, t.region.clone())];
    if t.region != BILLING_REGION {
        clients.push((&t.clients.cloudwatch_billing, BILLING_REGION.to_string()));
    }
    let mut out = BTreeMap::new();
    for (cw, region) in clients {
        let list = cw.describe_alarms().alarm_name_prefix(project_prefix(project)).send().await.map_err(|e| sdk("cloudwatch:DescribeAlarms", &region, e))?;
        for a in list.metric_alarms() {
            let Some(name) = a.alarm_name() else { continue };
            let tags = match a.alarm_arn() {
                Some(arn) => Some(tags_from(
                    cw.list_tags_for_resource()
                        .resource_arn(arn)
                        .send()
                        .await
                        .map_err(|e| sdk("cloudwatch:ListTagsForResource", name, e))?
                        .tags()
                        .iter()
                        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())),
                )),
                None => None,
            };
            out.insert(
                name.to_string(),
                Alarm {
                    name: name.to_string(),
                    region: Some(region.clone()),
                    namespace: a.namespace().map(str::to_string),
                    metric_name: a.metric_name().map(str::to_string),
                    dimensions: Some(a.dimensions().iter().map(|d| (d.name().unwrap_or_default().to_string(), d.value().unwrap_or_default().to_string())).collect()),
                    statistic: a.statistic().map(|s| s.as_str().to_string()),
                    period_seconds: a.period().map(|p| p as u32),
                    evaluation_periods: a.evaluation_periods().map(|p| p as u32),
                    threshold: a.threshold(),
                    comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
                    actions_enabled: a.actions_enabled(),
                    alarm_actions: Some(a.alarm_actions().to_vec()),
                    state: a.state_value().map(|s| s.as_str().to_string()),
                    tags,
                },
            );
        }
    }
    Ok(out)
}

async fn budgets(t: &AwsTarget, project: &str, account: &str) -> TargetResult<(BTreeMap<String, Budget>, Vec<String>)> {
    let b = &t.clients.budgets;
    let list = absent(b.describe_budgets().account_id(account).send().await, &["NotFoundException"], "budgets:ViewBudget", "the account")?;
    let mut out = BTreeMap::new();
    let mut unreadable = Vec::new();
    for budget in list.iter().flat_map(|l| l.budgets()).filter(|x| x.budget_name().starts_with(&project_prefix(project))) {
        let name = budget.budget_name().to_string();
        let what = format!("budget {name}");
        let notes = absent(
            b.describe_notifications_for_budget().account_id(account).budget_name(&name).send().await,
            &["NotFoundException"],
            "budgets:DescribeNotificationsForBudget",
            &what,
        )?;
        let mut notifications = Vec::new();
        let mut subscribers_readable = true;
        for n in notes.iter().flat_map(|n| n.notifications()) {
            let mut subs = None;
            if subscribers_readable {
                let asked = b
                    .describe_subscribers_for_notification()
                    .account_id(account)
                    .budget_name(&name)
                    .notification(n.clone())
                    .customize()
                    // A server error here is an endpoint without the operation, not a blip: ask once.
                    .config_override(aws_sdk_budgets::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled()))
                    .send()
                    .await;
                // Some AWS-compatible endpoints do not serve subscribers: say so rather than guess.
                if let Err(e) = &asked
                    && e.raw_response().is_some_and(|r| r.status().is_server_error())
                {
                    tracing::info!("{what}: the endpoint does not report notification subscribers ({})", crate::describe(e));
                    unreadable.push(format!("budget.{name}:notifications"));
                    subscribers_readable = false;
                } else {
                    subs = absent(asked, &["NotFoundException"], "budgets:DescribeSubscribersForNotification", &what)?;
                }
            }
            notifications.push(BudgetNotification {
                kind: n.notification_type().as_str().to_string(),
                threshold_percent: n.threshold(),
                subscribers: subs.iter().flat_map(|s| s.subscribers()).map(|s| format!("{}:{}", s.subscription_type().as_str().to_lowercase(), s.address())).collect(),
            });
        }
        let amount = |s: Option<&aws_sdk_budgets::types::Spend>| s.and_then(|s| s.amount().parse::<f64>().ok());
        let spend = budget.calculated_spend();
        out.insert(
            name.clone(),
            Budget {
                name,
                limit_usd: amount(budget.budget_limit()),
                time_unit: Some(budget.time_unit().as_str().to_string()),
                notifications: Some(notifications),
                actual_usd: amount(spend.and_then(|s| s.actual_spend())),
                forecast_usd: amount(spend.and_then(|s| s.forecasted_spend())),
            },
        );
    }
    Ok((out, unreadable))
}

/// A Glue table as the Inventory records it; its format from its classification, or else
/// from its input format.
pub(crate) fn glue_table(tb: &aws_sdk_glue::types::Table) -> GlueTable {
    let sd = tb.storage_descriptor();
    let col = |c: &aws_sdk_glue::types::Column| Column { name: c.name().to_string(), data_type: c.r#type().unwrap_or("string").to_string() };
    let format = tb
        .parameters()
        .and_then(|p| p.get("classification").cloned())
        .or_else(|| sd.and_then(|s| s.input_format()).map(|f| if f.to_lowercase().contains("parquet") { "parquet".into() } else { "csv".into() }))
        .unwrap_or_else(|| "csv".into());
    GlueTable {
        name: tb.name().to_string(),
        location: sd.and_then(|s| s.location()).unwrap_or_default().to_string(),
        format,
        columns: sd.map(|s| s.columns().iter().map(col).collect()).unwrap_or_default(),
        partition_keys: tb.partition_keys().iter().map(col).collect(),
    }
}

async fn glue(t: &AwsTarget, project: &str) -> TargetResult<(BTreeMap<String, GlueDatabase>, BTreeMap<String, GlueSecurityConfiguration>)> {
    let g = &t.clients.glue;
    let db_prefix = format!("{}_", project.replace('-', "_"));
    // Every page: with many datasets one page would silently miss tables.
    let mut names = vec![];
    let mut pages = g.get_databases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("glue:GetDatabases", "the catalog", e))?;
        names.extend(page.database_list().iter().map(|d| d.name().to_string()).filter(|n| n.starts_with(&db_prefix)));
    }
    let mut databases = BTreeMap::new();
    for name in names {
        let mut tables = BTreeMap::new();
        let mut pages = g.get_tables().database_name(&name).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("glue:GetTables", &name, e))?;
            tables.extend(page.table_list().iter().map(|tb| (tb.name().to_string(), glue_table(tb))));
        }
        databases.insert(name.clone(), GlueDatabase { name, tables: Some(tables) });
    }
    let mut configs = vec![];
    let mut pages = g.get_security_configurations().into_paginator().send();
    while let Some(page) = pages.next().await {
        configs.extend(page.map_err(|e| sdk("glue:GetSecurityConfigurations", "the catalog", e))?.security_configurations().iter().cloned());
    }
    let security = configs
        .iter()
        .filter(|c| c.name().is_some_and(|n| n.starts_with(&project_prefix(project))))
        .map(|c| {
            let e = c.encryption_configuration();
            let name = c.name().unwrap_or_default().to_string();
            (
                name.clone(),
                GlueSecurityConfiguration {
                    name,
                    s3_kms_key: e.and_then(|e| e.s3_encryption().first()).and_then(|s| s.kms_key_arn()).map(str::to_string),
                    cloudwatch_kms_key: e.and_then(|e| e.cloud_watch_encryption()).and_then(|s| s.kms_key_arn()).map(str::to_string),
                    job_bookmarks_kms_key: e.and_then(|e| e.job_bookmarks_encryption()).and_then(|s| s.kms_key_arn()).map(str::to_string),
                },
            )
        })
        .collect();
    Ok((databases, security))
}

async fn workgroups(t: &AwsTarget, project: &str, account: &str) -> TargetResult<BTreeMap<String, AthenaWorkgroup>> {
    let a = &t.clients.athena;
    let list = a.list_work_groups().send().await.map_err(|e| sdk("athena:ListWorkGroups", "the account", e))?;
    let mut out = BTreeMap::new();
    for w in list.work_groups().iter().filter_map(|w| w.name()).filter(|n| n.starts_with(&project_prefix(project))) {
        let what = format!("workgroup {w}");
        let got = a.get_work_group().work_group(w).send().await.map_err(|e| sdk("athena:GetWorkGroup", &what, e))?;
        let c = got.work_group().and_then(|g| g.configuration());
        let result = c.and_then(|c| c.result_configuration());
        let arn = Arns::new(account, &t.region).workgroup(w);
        let tags = tags_from(
            a.list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk("athena:ListTagsForResource", &what, e))?
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())),
        );
        out.insert(
            w.to_string(),
            AthenaWorkgroup {
                name: w.to_string(),
                enforce_configuration: c.and_then(|c| c.enforce_work_group_configuration()),
                result_location: result.and_then(|r| r.output_location()).map(str::to_string),
                result_kms_key: result.and_then(|r| r.encryption_configuration()).and_then(|e| e.kms_key()).map(str::to_string),
                bytes_scanned_cutoff: c.and_then(|c| c.bytes_scanned_cutoff_per_query()).map(|b| b as u64),
                publish_metrics: c.and_then(|c| c.publish_cloud_watch_metrics_enabled()),
                engine_version: c.and_then(|c| c.engine_version()).and_then(|e| e.selected_engine_version()).map(str::to_string),
                tags: Some(tags),
            },
        );
    }
    Ok(out)
}

async fn account_settings(t: &AwsTarget, account: &str) -> TargetResult<AccountSettings> {
    let (pw, pab) = tokio::join!(t.clients.iam.get_account_password_policy().send(), t.clients.s3control.get_public_access_block().account_id(account).send());
    let password_policy = absent(pw, &["NoSuchEntity"], "iam:GetAccountPasswordPolicy", "the account")?.and_then(|p| {
        p.password_policy().map(|p| PasswordPolicy {
            minimum_length: p.minimum_password_length().unwrap_or(0) as u32,
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            // IAM reports 0 (or nothing) when passwords never expire.
            max_age_days: p.max_password_age().filter(|d| *d > 0).map(|d| d as u32),
            reuse_prevention: p.password_reuse_prevention().map(|d| d as u32),
        })
    });
    let public_access_block = absent(pab, &["NoSuchPublicAccessBlockConfiguration"], "s3:GetAccountPublicAccessBlock", "the account")?
        .and_then(|o| o.public_access_block_configuration().cloned())
        .map(|c| public_access_block([c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]));
    Ok(AccountSettings { password_policy, public_access_block })
}
