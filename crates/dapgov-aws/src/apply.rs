//! Applying one change. A create or update writes every property the desired resource
//! declares (each call is idempotent), so an update after drift and a retry after a failure
//! part-way both converge. A property that depends on a resource created later in the same
//! apply (bucket logging needs the log bucket) is left for the next round of `converge`.

use crate::AwsTarget;
use crate::error::{build, code, sdk};
use dapgov_target::{ChangeAction, ChangeRequest, TargetError, TargetResult};
use dapgov_inventory::*;
use dapgov_inventory::names::s3_object_arn;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Tag that records the deletion window dapgov will use, since KMS keeps none until deletion.
pub(crate) const DELETION_WINDOW_TAG: &str = "deletion-window-days";
const DEFAULT_DELETION_WINDOW: i32 = 30;

fn parse<T: DeserializeOwned>(v: Option<&Value>, r: &ResourceRef) -> TargetResult<T> {
    let v = v.ok_or_else(|| TargetError::Other(format!("{r}: no desired state to apply")))?;
    serde_json::from_value(v.clone()).map_err(|e| TargetError::Other(format!("{r}: {e}")))
}

fn parse_opt<T: DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
}

pub(crate) async fn change(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let r = &c.resource;
    if matches!(c.action, ChangeAction::Delete | ChangeAction::Replace) {
        delete(t, c).await?;
        if c.action == ChangeAction::Delete {
            return Ok(());
        }
    }
    let create = c.action != ChangeAction::Update;
    let observed = if create { None } else { c.observed.as_ref() };
    match r.kind {
        ResourceKind::AccountSettings => account_settings(t, parse(c.desired.as_ref(), r)?).await,
        ResourceKind::Key => key(t, parse(c.desired.as_ref(), r)?, parse_opt(observed)).await,
        ResourceKind::Topic => topic(t, parse(c.desired.as_ref(), r)?, parse_opt(observed)).await,
        ResourceKind::LogGroup => log_group(t, parse(c.desired.as_ref(), r)?, parse_opt(observed), create).await,
        ResourceKind::Role => role(t, parse(c.desired.as_ref(), r)?, parse_opt(observed), create).await,
        ResourceKind::Bucket => bucket(t, parse(c.desired.as_ref(), r)?, parse_opt(observed), create).await,
        ResourceKind::Trail => trail(t, parse(c.desired.as_ref(), r)?, create).await,
        ResourceKind::Alarm => alarm(t, parse(c.desired.as_ref(), r)?, create).await,
        ResourceKind::Budget => budget(t, parse(c.desired.as_ref(), r)?, parse_opt(observed), create).await,
        ResourceKind::GlueSecurityConfiguration => glue_security_configuration(t, parse(c.desired.as_ref(), r)?, create).await,
        ResourceKind::GlueDatabase => glue_database(t, parse(c.desired.as_ref(), r)?).await,
        ResourceKind::AthenaWorkgroup => workgroup(t, parse(c.desired.as_ref(), r)?, create).await,
    }
}

fn json(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON values serialize")
}

// ---------------------------------------------------------------- account settings

async fn account_settings(t: &AwsTarget, want: AccountSettings) -> TargetResult<()> {
    if let Some(p) = &want.password_policy {
        let mut req = t
            .clients
            .iam
            .update_account_password_policy()
            .minimum_password_length(p.minimum_length as i32)
            .require_symbols(p.require_symbols)
            .require_numbers(p.require_numbers)
            .require_uppercase_characters(p.require_uppercase)
            .require_lowercase_characters(p.require_lowercase);
        if let Some(d) = p.max_age_days {
            req = req.max_password_age(d as i32);
        }
        if let Some(n) = p.reuse_prevention {
            req = req.password_reuse_prevention(n as i32);
        }
        req.send().await.map_err(|e| sdk("iam:UpdateAccountPasswordPolicy", "the account", e))?;
    }
    if let Some(p) = &want.public_access_block {
        use aws_sdk_s3control::types::PublicAccessBlockConfiguration as Pab;
        let account = t.account().await?;
        let conf = Pab::builder().block_public_acls(p.block_public_acls).ignore_public_acls(p.ignore_public_acls).block_public_policy(p.block_public_policy).restrict_public_buckets(p.restrict_public_buckets).build();
        t.clients
            .s3control
            .put_public_access_block()
            .account_id(account)
            .public_access_block_configuration(conf)
            .send()
            .await
            .map_err(|e| sdk("s3:PutAccountPublicAccessBlock", "the account", e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- KMS

/// A resource's tags as one service's SDK tag type; `what` names that type in a build error.
fn sdk_tags<'a, T, E: std::fmt::Display>(tags: impl IntoIterator<Item = (&'a String, &'a String)>, what: &str, make: impl Fn(&str, &str) -> Result<T, E>) -> TargetResult<Vec<T>> {
    tags.into_iter().map(|(k, v)| make(k, v).map_err(|e| build(what, e))).collect()
}

fn kms_tags(tags: &Tags, extra: &[(&str, String)]) -> TargetResult<Vec<aws_sdk_kms::types::Tag>> {
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    sdk_tags(tags.iter().chain(extra.iter().map(|(k, v)| (k, v))), "a KMS tag", |k, v| aws_sdk_kms::types::Tag::builder().tag_key(k).tag_value(v).build())
}

async fn key(t: &AwsTarget, want: Key, have: Option<Key>) -> TargetResult<()> {
    let kms = &t.clients.kms;
    let what = format!("key alias/{}", want.alias);
    let window = ("deletion-window-days", want.deletion_window_days.map(|d| d as i32).unwrap_or(DEFAULT_DELETION_WINDOW).to_string());
    let tags = kms_tags(&want.tags.clone().unwrap_or_default(), &[window])?;
    let id = match have.and_then(|h| h.key_id) {
        Some(id) => {
            if let Some(p) = &want.policy {
                kms.put_key_policy().key_id(&id).policy_name("default").policy(json(p)).send().await.map_err(|e| sdk("kms:PutKeyPolicy", &what, e))?;
            }
            if let Some(d) = &want.description {
                kms.update_key_description().key_id(&id).description(d).send().await.map_err(|e| sdk("kms:UpdateKeyDescription", &what, e))?;
            }
            kms.tag_resource().key_id(&id).set_tags(Some(tags)).send().await.map_err(|e| sdk("kms:TagResource", &what, e))?;
            id
        }
        None => {
            let create = || kms.create_key().set_description(want.description.clone()).set_tags(Some(tags.clone()));
            let created = match create().set_policy(want.policy.as_ref().map(json)).send().await {
                Ok(c) => c,
                // The policy names roles created later in this apply; start from the default
                // policy and let the next round put the full one.
                Err(e) if code(&e) == Some("MalformedPolicyDocumentException") => create().send().await.map_err(|e| sdk("kms:CreateKey", &what, e))?,
                Err(e) => return Err(sdk("kms:CreateKey", &what, e)),
            };
            let id = created.key_metadata().map(|m| m.key_id().to_string()).ok_or_else(|| TargetError::Other(format!("{what}: created without an id")))?;
            kms.create_alias().alias_name(format!("alias/{}", want.alias)).target_key_id(&id).send().await.map_err(|e| sdk("kms:CreateAlias", &what, e))?;
            id
        }
    };
    match want.rotation_enabled {
        Some(true) => {
            let mut req = kms.enable_key_rotation().key_id(&id);
            if let Some(d) = want.rotation_period_days {
                req = req.rotation_period_in_days(d as i32);
            }
            req.send().await.map_err(|e| sdk("kms:EnableKeyRotation", &what, e))?;
        }
        Some(false) => {
            kms.disable_key_rotation().key_id(&id).send().await.map_err(|e| sdk("kms:DisableKeyRotation", &what, e))?;
        }
        None => {}
    }
    Ok(())
}

// ---------------------------------------------------------------- SNS

async fn topic(t: &AwsTarget, want: Topic, have: Option<Topic>) -> TargetResult<()> {
    let sns = &t.clients.sns;
    let what = format!("topic {}", want.name);
    let tags = sdk_tags(want.tags.iter().flatten(), "an SNS tag", |k, v| aws_sdk_sns::types::Tag::builder().key(k).value(v).build())?;
    // CreateTopic is idempotent and returns the existing topic's ARN.
    let mut create = sns.create_topic().name(&want.name).set_tags(Some(tags.clone()));
    if let Some(k) = &want.kms_key {
        create = create.attributes("KmsMasterKeyId", k);
    }
    let arn = create.send().await.map_err(|e| sdk("sns:CreateTopic", &what, e))?.topic_arn().unwrap_or_default().to_string();
    if let Some(k) = &want.kms_key {
        sns.set_topic_attributes().topic_arn(&arn).attribute_name("KmsMasterKeyId").attribute_value(k).send().await.map_err(|e| sdk("sns:SetTopicAttributes", &what, e))?;
    }
    sns.tag_resource().resource_arn(&arn).set_tags(Some(tags)).send().await.map_err(|e| sdk("sns:TagResource", &what, e))?;
    let existing = have.and_then(|h| h.subscriptions).unwrap_or_default();
    for s in want.subscriptions.iter().flatten().filter(|s| !existing.contains(s)) {
        let (protocol, endpoint) = s.split_once(':').ok_or_else(|| TargetError::Other(format!("{what}: subscription `{s}` is not protocol:endpoint")))?;
        sns.subscribe().topic_arn(&arn).protocol(protocol).endpoint(endpoint).send().await.map_err(|e| sdk("sns:Subscribe", &what, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- CloudWatch Logs

async fn log_group(t: &AwsTarget, want: LogGroup, have: Option<LogGroup>, create: bool) -> TargetResult<()> {
    let logs = &t.clients.logs;
    let name = &want.name;
    let what = format!("log group {name}");
    if create {
        let r = logs.create_log_group().log_group_name(name).set_kms_key_id(want.kms_key.clone()).set_tags(want.tags.clone().map(|t| t.into_iter().collect())).send().await;
        match r {
            Ok(_) => {}
            Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {}
            Err(e) => return Err(sdk("logs:CreateLogGroup", &what, e)),
        }
    }
    if let Some(k) = &want.kms_key
        && have.as_ref().is_some_and(|h| h.kms_key.as_ref() != Some(k))
    {
        logs.associate_kms_key().log_group_name(name).kms_key_id(k).send().await.map_err(|e| sdk("logs:AssociateKmsKey", &what, e))?;
    }
    if let Some(d) = want.retention_days {
        logs.put_retention_policy().log_group_name(name).retention_in_days(d as i32).send().await.map_err(|e| sdk("logs:PutRetentionPolicy", &what, e))?;
    }
    let wanted = want.metric_filters.clone().unwrap_or_default();
    for (filter, f) in &wanted {
        let m = aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
            .metric_name(&f.metric_name)
            .metric_namespace(&f.metric_namespace)
            .metric_value("1")
            .build()
            .map_err(|e| build("a metric transformation", e))?;
        logs.put_metric_filter()
            .log_group_name(name)
            .filter_name(filter)
            .filter_pattern(&f.pattern)
            .metric_transformations(m)
            .send()
            .await
            .map_err(|e| sdk("logs:PutMetricFilter", &what, e))?;
    }
    for filter in have.and_then(|h| h.metric_filters).unwrap_or_default().keys().filter(|f| !wanted.contains_key(*f)) {
        logs.delete_metric_filter().log_group_name(name).filter_name(filter).send().await.map_err(|e| sdk("logs:DeleteMetricFilter", &what, e))?;
    }
    if !create && let Some(tags) = &want.tags {
        let arn = t.arns().await?.log_group(name);
        logs.tag_resource().resource_arn(arn).set_tags(Some(tags.clone().into_iter().collect())).send().await.map_err(|e| sdk("logs:TagResource", &what, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- IAM

async fn role(t: &AwsTarget, want: Role, have: Option<Role>, create: bool) -> TargetResult<()> {
    let iam = &t.clients.iam;
    let name = &want.name;
    let what = format!("role {name}");
    let tags = sdk_tags(want.tags.iter().flatten(), "an IAM tag", |k, v| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())?;
    let trust = want.trust_policy.as_ref().map(json).ok_or_else(|| TargetError::Other(format!("{what}: no trust policy")))?;
    let created = if create {
        let r = iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(&trust)
            .set_max_session_duration(want.max_session_duration.map(|d| d as i32))
            .set_tags(Some(tags.clone()))
            .send()
            .await;
        match r {
            Ok(_) => true,
            Err(e) if code(&e) == Some("EntityAlreadyExists") => false,
            Err(e) => return Err(sdk("iam:CreateRole", &what, e)),
        }
    } else {
        false
    };
    if !created {
        iam.update_assume_role_policy().role_name(name).policy_document(&trust).send().await.map_err(|e| sdk("iam:UpdateAssumeRolePolicy", &what, e))?;
        if let Some(d) = want.max_session_duration {
            iam.update_role().role_name(name).max_session_duration(d as i32).send().await.map_err(|e| sdk("iam:UpdateRole", &what, e))?;
        }
        iam.tag_role().role_name(name).set_tags(Some(tags)).send().await.map_err(|e| sdk("iam:TagRole", &what, e))?;
    }
    let inline = want.inline_policies.clone().unwrap_or_default();
    for (policy, doc) in &inline {
        iam.put_role_policy().role_name(name).policy_name(policy).policy_document(json(doc)).send().await.map_err(|e| sdk("iam:PutRolePolicy", &what, e))?;
    }
    let have = have.unwrap_or_default();
    for policy in have.inline_policies.iter().flatten().map(|(p, _)| p).filter(|p| !inline.contains_key(*p)) {
        iam.delete_role_policy().role_name(name).policy_name(policy).send().await.map_err(|e| sdk("iam:DeleteRolePolicy", &what, e))?;
    }
    let attached = want.attached_policies.clone().unwrap_or_default();
    for arn in have.attached_policies.iter().flatten().map(|(a, _)| a).filter(|a| !attached.contains_key(*a)) {
        iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(|e| sdk("iam:DetachRolePolicy", &what, e))?;
    }
    for arn in attached.keys() {
        iam.attach_role_policy().role_name(name).policy_arn(arn).send().await.map_err(|e| sdk("iam:AttachRolePolicy", &what, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- S3

async fn bucket(t: &AwsTarget, want: Bucket, have: Option<Bucket>, create: bool) -> TargetResult<()> {
    use aws_sdk_s3::types::*;
    let s3 = &t.clients.s3;
    let n = want.name.as_str();
    let what = format!("bucket {n}");
    if create {
        let mut req = s3.create_bucket().bucket(n);
        let region = want.region.clone().unwrap_or_else(|| t.region.clone());
        if region != "us-east-1" {
            req = req.create_bucket_configuration(CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region.as_str())).build());
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if code(&e) == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) => return Err(sdk("s3:CreateBucket", &what, e)),
        }
    }
    if let Some(tags) = &want.tags {
        let set = sdk_tags(tags, "an S3 tag", |k, v| Tag::builder().key(k).value(v).build())?;
        let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(|e| build("S3 tagging", e))?;
        s3.put_bucket_tagging().bucket(n).tagging(tagging).send().await.map_err(|e| sdk("s3:PutBucketTagging", &what, e))?;
    }
    if let Some(enc) = &want.encryption {
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(enc.algorithm.as_str()))
            .set_kms_master_key_id(enc.kms_key.clone())
            .build()
            .map_err(|e| build("default encryption", e))?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).bucket_key_enabled(enc.bucket_key_enabled).build();
        let conf = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(|e| build("encryption configuration", e))?;
        s3.put_bucket_encryption().bucket(n).server_side_encryption_configuration(conf).send().await.map_err(|e| sdk("s3:PutEncryptionConfiguration", &what, e))?;
    }
    if let Some(v) = want.versioning {
        let status = match v {
            Versioning::Enabled => Some(BucketVersioningStatus::Enabled),
            Versioning::Suspended => Some(BucketVersioningStatus::Suspended),
            Versioning::Disabled => None,
        };
        if let Some(status) = status {
            let conf = VersioningConfiguration::builder().status(status).build();
            s3.put_bucket_versioning().bucket(n).versioning_configuration(conf).send().await.map_err(|e| sdk("s3:PutBucketVersioning", &what, e))?;
        }
    }
    if let Some(p) = &want.public_access_block {
        let conf = PublicAccessBlockConfiguration::builder()
            .block_public_acls(p.block_public_acls)
            .ignore_public_acls(p.ignore_public_acls)
            .block_public_policy(p.block_public_policy)
            .restrict_public_buckets(p.restrict_public_buckets)
            .build();
        s3.put_public_access_block().bucket(n).public_access_block_configuration(conf).send().await.map_err(|e| sdk("s3:PutBucketPublicAccessBlock", &what, e))?;
    }
    // Public grants left behind must go before ACLs can be disabled.
    if want.acl_grants.as_ref().is_some_and(|g| g.is_empty()) && have.as_ref().and_then(|h| h.acl_grants.as_ref()).is_some_and(|g| !g.is_empty()) {
        s3.put_bucket_acl().bucket(n).acl(BucketCannedAcl::Private).send().await.map_err(|e| sdk("s3:PutBucketAcl", &what, e))?;
    }
    if let Some(o) = &want.object_ownership {
        let rule = OwnershipControlsRule::builder().object_ownership(ObjectOwnership::from(o.as_str())).build().map_err(|e| build("ownership controls", e))?;
        let conf = OwnershipControls::builder().rules(rule).build().map_err(|e| build("ownership controls", e))?;
        s3.put_bucket_ownership_controls().bucket(n).ownership_controls(conf).send().await.map_err(|e| sdk("s3:PutBucketOwnershipControls", &what, e))?;
    }
    if let Some(rules) = &want.lifecycle {
        if rules.is_empty() {
            s3.delete_bucket_lifecycle().bucket(n).send().await.map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
        } else {
            let mut out = Vec::new();
            for r in rules {
                let mut b = aws_sdk_s3::types::LifecycleRule::builder()
                    .id(&r.id)
                    .status(if r.enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled })
                    .filter(LifecycleRuleFilter::builder().prefix(&r.prefix).build());
                if let Some(d) = r.expiration_days {
                    b = b.expiration(LifecycleExpiration::builder().days(d as i32).build());
                }
                for tr in &r.transitions {
                    b = b.transitions(aws_sdk_s3::types::Transition::builder().days(tr.days as i32).storage_class(TransitionStorageClass::from(tr.storage_class.as_str())).build());
                }
                if let Some(d) = r.noncurrent_expiration_days {
                    b = b.noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(d as i32).build());
                }
                if let Some(d) = r.abort_incomplete_multipart_days {
                    b = b.abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(d as i32).build());
                }
                out.push(b.build().map_err(|e| build("a lifecycle rule", e))?);
            }
            let conf = BucketLifecycleConfiguration::builder().set_rules(Some(out)).build().map_err(|e| build("a lifecycle configuration", e))?;
            s3.put_bucket_lifecycle_configuration().bucket(n).lifecycle_configuration(conf).send().await.map_err(|e| sdk("s3:PutLifecycleConfiguration", &what, e))?;
        }
    }
    if let Some(p) = &want.policy {
        s3.put_bucket_policy().bucket(n).policy(json(p)).send().await.map_err(|e| sdk("s3:PutBucketPolicy", &what, e))?;
    }
    if let Some(l) = &want.logging {
        // The log bucket may be created later in this apply; logging follows in the next round.
        if s3.head_bucket().bucket(&l.target_bucket).send().await.is_ok() {
            let enabled = LoggingEnabled::builder().target_bucket(&l.target_bucket).target_prefix(&l.target_prefix).build().map_err(|e| build("logging", e))?;
            let status = BucketLoggingStatus::builder().logging_enabled(enabled).build();
            s3.put_bucket_logging().bucket(n).bucket_logging_status(status).send().await.map_err(|e| sdk("s3:PutBucketLogging", &what, e))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- CloudTrail

async fn trail(t: &AwsTarget, want: Trail, create: bool) -> TargetResult<()> {
    use aws_sdk_cloudtrail::types::*;
    let ct = &t.clients.cloudtrail;
    let name = want.name.as_str();
    let what = format!("trail {name}");
    let arns = t.arns().await?;
    let group_arn = want.log_group.as_ref().map(|g| arns.log_group_streams(g));
    let role_arn = want.log_group.as_ref().map(|_| arns.trail_delivery_role(name));
    let bucket = want.s3_bucket.clone().ok_or_else(|| TargetError::Other(format!("{what}: no bucket")))?;
    let tags = sdk_tags(want.tags.iter().flatten(), "a CloudTrail tag", |k, v| aws_sdk_cloudtrail::types::Tag::builder().key(k).value(v).build())?;
    if create {
        ct.create_trail()
            .name(name)
            .s3_bucket_name(&bucket)
            .set_is_multi_region_trail(want.multi_region)
            .set_include_global_service_events(want.include_global_events)
            .set_enable_log_file_validation(want.log_file_validation)
            .set_kms_key_id(want.kms_key.clone())
            .set_cloud_watch_logs_log_group_arn(group_arn.clone())
            .set_cloud_watch_logs_role_arn(role_arn.clone())
            .set_tags_list(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:CreateTrail", &what, e))?;
    } else {
        let r = ct
            .update_trail()
            .name(name)
            .s3_bucket_name(&bucket)
            .set_is_multi_region_trail(want.multi_region)
            .set_include_global_service_events(want.include_global_events)
            .set_enable_log_file_validation(want.log_file_validation)
            .set_kms_key_id(want.kms_key.clone())
            .set_cloud_watch_logs_log_group_arn(group_arn)
            .set_cloud_watch_logs_role_arn(role_arn)
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:UpdateTrail", &what, e))?;
        let arn = r.trail_arn().unwrap_or_default();
        ct.add_tags().resource_id(arn).set_tags_list(Some(tags)).send().await.map_err(|e| sdk("cloudtrail:AddTags", &what, e))?;
    }
    if let Some(buckets) = &want.data_event_buckets {
        let data = DataResource::builder().r#type("AWS::S3::Object").set_values(Some(buckets.iter().map(|b| s3_object_arn(b, "")).collect())).build();
        let selector = EventSelector::builder().read_write_type(ReadWriteType::All).include_management_events(true).data_resources(data).build();
        ct.put_event_selectors().trail_name(name).event_selectors(selector).send().await.map_err(|e| sdk("cloudtrail:PutEventSelectors", &what, e))?;
    }
    match want.logging {
        Some(true) => ct.start_logging().name(name).send().await.map(|_| ()).map_err(|e| sdk("cloudtrail:StartLogging", &what, e))?,
        Some(false) => ct.stop_logging().name(name).send().await.map(|_| ()).map_err(|e| sdk("cloudtrail:StopLogging", &what, e))?,
        None => {}
    }
    Ok(())
}

// ---------------------------------------------------------------- CloudWatch alarms

fn alarm_client<'a>(t: &'a AwsTarget, region: Option<&str>) -> &'a aws_sdk_cloudwatch::Client {
    if region == Some(BILLING_REGION) && t.region != BILLING_REGION { &t.clients.cloudwatch_billing } else { &t.clients.cloudwatch }
}

async fn alarm(t: &AwsTarget, want: Alarm, create: bool) -> TargetResult<()> {
    use aws_sdk_cloudwatch::types::*;
    let cw = alarm_client(t, want.region.as_deref());
    let what = format!("alarm {}", want.name);
    let tags: Vec<Tag> = want.tags.iter().flatten().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    let dims: Vec<Dimension> = want.dimensions.iter().flatten().map(|(k, v)| Dimension::builder().name(k).value(v).build()).collect();
    // PutMetricAlarm creates or replaces the whole alarm.
    cw.put_metric_alarm()
        .alarm_name(&want.name)
        .set_namespace(want.namespace.clone())
        .set_metric_name(want.metric_name.clone())
        .set_dimensions(Some(dims))
        .set_statistic(want.statistic.as_deref().map(Statistic::from))
        .set_period(want.period_seconds.map(|p| p as i32))
        .set_evaluation_periods(want.evaluation_periods.map(|p| p as i32))
        .set_threshold(want.threshold)
        .set_comparison_operator(want.comparison.as_deref().map(ComparisonOperator::from))
        .set_actions_enabled(want.actions_enabled)
        .set_alarm_actions(want.alarm_actions.clone())
        .set_tags(if create { Some(tags.clone()) } else { None })
        .send()
        .await
        .map_err(|e| sdk("cloudwatch:PutMetricAlarm", &what, e))?;
    if !create {
        let region = want.region.clone().unwrap_or_else(|| t.region.clone());
        let arn = t.arns().await?.alarm(&region, &want.name);
        cw.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(|e| sdk("cloudwatch:TagResource", &what, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- Budgets

fn notification(n: &BudgetNotification) -> TargetResult<aws_sdk_budgets::types::Notification> {
    use aws_sdk_budgets::types::*;
    Notification::builder()
        .notification_type(NotificationType::from(n.kind.as_str()))
        .comparison_operator(ComparisonOperator::GreaterThan)
        .threshold(n.threshold_percent)
        .threshold_type(ThresholdType::Percentage)
        .build()
        .map_err(|e| build("a budget notification", e))
}

fn subscribers(n: &BudgetNotification) -> TargetResult<Vec<aws_sdk_budgets::types::Subscriber>> {
    use aws_sdk_budgets::types::*;
    n.subscribers
        .iter()
        .map(|s| {
            let (kind, address) = s.split_once(':').unwrap_or(("email", s));
            let kind = if kind.eq_ignore_ascii_case("sns") { SubscriptionType::Sns } else { SubscriptionType::Email };
            Subscriber::builder().subscription_type(kind).address(address).build().map_err(|e| build("a budget subscriber", e))
        })
        .collect()
}

async fn budget(t: &AwsTarget, want: Budget, have: Option<Budget>, create: bool) -> TargetResult<()> {
    use aws_sdk_budgets::types::*;
    let b = &t.clients.budgets;
    let account = t.account().await?;
    let what = format!("budget {}", want.name);
    let limit = Spend::builder().amount(format!("{:.2}", want.limit_usd.unwrap_or(0.0))).unit("USD").build().map_err(|e| build("a budget limit", e))?;
    let spec = aws_sdk_budgets::types::Budget::builder()
        .budget_name(&want.name)
        .budget_limit(limit)
        .time_unit(TimeUnit::from(want.time_unit.as_deref().unwrap_or("MONTHLY")))
        .budget_type(BudgetType::Cost)
        .build()
        .map_err(|e| build("a budget", e))?;
    let wanted = want.notifications.clone().unwrap_or_default();
    if create {
        let with: Vec<NotificationWithSubscribers> = wanted
            .iter()
            .map(|n| NotificationWithSubscribers::builder().notification(notification(n)?).set_subscribers(Some(subscribers(n)?)).build().map_err(|e| build("a budget notification", e)))
            .collect::<TargetResult<_>>()?;
        b.create_budget().account_id(&account).budget(spec).set_notifications_with_subscribers(Some(with)).send().await.map_err(|e| sdk("budgets:CreateBudget", &what, e))?;
        return Ok(());
    }
    b.update_budget().account_id(&account).new_budget(spec).send().await.map_err(|e| sdk("budgets:ModifyBudget", &what, e))?;
    let existing = have.and_then(|h| h.notifications).unwrap_or_default();
    let same = |a: &BudgetNotification, x: &BudgetNotification| a.kind == x.kind && a.threshold_percent == x.threshold_percent;
    for old in existing.iter().filter(|o| !wanted.iter().any(|w| same(w, o) && w.subscribers == o.subscribers)) {
        b.delete_notification().account_id(&account).budget_name(&want.name).notification(notification(old)?).send().await.map_err(|e| sdk("budgets:DeleteNotification", &what, e))?;
    }
    for new in wanted.iter().filter(|w| !existing.iter().any(|o| same(w, o) && w.subscribers == o.subscribers)) {
        b.create_notification()
            .account_id(&account)
            .budget_name(&want.name)
            .notification(notification(new)?)
            .set_subscribers(Some(subscribers(new)?))
            .send()
            .await
            .map_err(|e| sdk("budgets:CreateNotification", &what, e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- Glue and Athena

async fn glue_security_configuration(t: &AwsTarget, want: GlueSecurityConfiguration, create: bool) -> TargetResult<()> {
    use aws_sdk_glue::types::*;
    let g = &t.clients.glue;
    let what = format!("Glue security configuration {}", want.name);
    // Security configurations cannot be changed in place.
    if !create {
        g.delete_security_configuration().name(&want.name).send().await.map_err(|e| sdk("glue:DeleteSecurityConfiguration", &what, e))?;
    }
    let conf = EncryptionConfiguration::builder()
        .set_s3_encryption(want.s3_kms_key.as_ref().map(|k| vec![S3Encryption::builder().s3_encryption_mode(S3EncryptionMode::Ssekms).kms_key_arn(k).build()]))
        .set_cloud_watch_encryption(want.cloudwatch_kms_key.as_ref().map(|k| CloudWatchEncryption::builder().cloud_watch_encryption_mode(CloudWatchEncryptionMode::Ssekms).kms_key_arn(k).build()))
        .set_job_bookmarks_encryption(want.job_bookmarks_kms_key.as_ref().map(|k| JobBookmarksEncryption::builder().job_bookmarks_encryption_mode(JobBookmarksEncryptionMode::Csekms).kms_key_arn(k).build()))
        .build();
    g.create_security_configuration().name(&want.name).encryption_configuration(conf).send().await.map_err(|e| sdk("glue:CreateSecurityConfiguration", &what, e))?;
    Ok(())
}

async fn glue_database(t: &AwsTarget, want: GlueDatabase) -> TargetResult<()> {
    let what = format!("Glue database {}", want.name);
    let input = aws_sdk_glue::types::DatabaseInput::builder().name(&want.name).build().map_err(|e| build("a Glue database", e))?;
    match t.clients.glue.create_database().database_input(input).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("AlreadyExistsException") => Ok(()),
        Err(e) => Err(sdk("glue:CreateDatabase", &what, e)),
    }
}

async fn workgroup(t: &AwsTarget, want: AthenaWorkgroup, create: bool) -> TargetResult<()> {
    use aws_sdk_athena::types::*;
    let a = &t.clients.athena;
    let what = format!("workgroup {}", want.name);
    let encryption = match &want.result_kms_key {
        Some(k) => Some(EncryptionConfiguration::builder().encryption_option(EncryptionOption::SseKms).kms_key(k).build().map_err(|e| build("result encryption", e))?),
        None => None,
    };
    let tags: Vec<Tag> = want.tags.iter().flatten().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    if create {
        let result = ResultConfiguration::builder().set_output_location(want.result_location.clone()).set_encryption_configuration(encryption).build();
        let conf = WorkGroupConfiguration::builder()
            .set_engine_version(want.engine_version.as_ref().map(|v| EngineVersion::builder().selected_engine_version(v).build()))
            .set_enforce_work_group_configuration(want.enforce_configuration)
            .set_publish_cloud_watch_metrics_enabled(want.publish_metrics)
            .set_bytes_scanned_cutoff_per_query(want.bytes_scanned_cutoff.map(|b| b as i64))
            .result_configuration(result)
            .build();
        a.create_work_group().name(&want.name).configuration(conf).set_tags(Some(tags)).send().await.map_err(|e| sdk("athena:CreateWorkGroup", &what, e))?;
        return Ok(());
    }
    let result = ResultConfigurationUpdates::builder().set_output_location(want.result_location.clone()).set_encryption_configuration(encryption).build();
    let mut updates = WorkGroupConfigurationUpdates::builder()
        .set_engine_version(want.engine_version.as_ref().map(|v| EngineVersion::builder().selected_engine_version(v).build()))
        .set_enforce_work_group_configuration(want.enforce_configuration)
        .set_publish_cloud_watch_metrics_enabled(want.publish_metrics)
        .result_configuration_updates(result);
    updates = match want.bytes_scanned_cutoff {
        Some(b) => updates.bytes_scanned_cutoff_per_query(b as i64),
        None => updates.remove_bytes_scanned_cutoff_per_query(true),
    };
    a.update_work_group().work_group(&want.name).configuration_updates(updates.build()).send().await.map_err(|e| sdk("athena:UpdateWorkGroup", &what, e))?;
    let arn = t.arns().await?.workgroup(&want.name);
    a.tag_resource().resource_arn(arn).set_tags(Some(tags)).send().await.map_err(|e| sdk("athena:TagResource", &what, e))?;
    Ok(())
}

// ---------------------------------------------------------------- delete

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let r = &c.resource;
    let name = r.name.as_str();
    let what = r.to_string();
    match r.kind {
        ResourceKind::AccountSettings => Err(TargetError::Refused { resource: what, message: "account settings are never removed".into() }),
        ResourceKind::Bucket => delete_bucket(t, name, c.force_delete_data).await,
        ResourceKind::Key => {
            let have: Key = parse(c.observed.as_ref(), r)?;
            let id = have.key_id.clone().ok_or_else(|| TargetError::Other(format!("{what}: no key id observed")))?;
            let kms = &t.clients.kms;
            kms.delete_alias().alias_name(format!("alias/{}", have.alias)).send().await.map_err(|e| sdk("kms:DeleteAlias", &what, e))?;
            let window = have.deletion_window_days.map(|d| d as i32).unwrap_or(DEFAULT_DELETION_WINDOW);
            // Never immediate: the key stays recoverable for the window.
            kms.schedule_key_deletion().key_id(id).pending_window_in_days(window).send().await.map_err(|e| sdk("kms:ScheduleKeyDeletion", &what, e))?;
            Ok(())
        }
        ResourceKind::Role => {
            let iam = &t.clients.iam;
            let have: Role = parse(c.observed.as_ref(), r)?;
            for p in have.inline_policies.iter().flatten().map(|(p, _)| p) {
                iam.delete_role_policy().role_name(name).policy_name(p).send().await.map_err(|e| sdk("iam:DeleteRolePolicy", &what, e))?;
            }
            for a in have.attached_policies.iter().flatten().map(|(a, _)| a) {
                iam.detach_role_policy().role_name(name).policy_arn(a).send().await.map_err(|e| sdk("iam:DetachRolePolicy", &what, e))?;
            }
            iam.delete_role().role_name(name).send().await.map(|_| ()).map_err(|e| sdk("iam:DeleteRole", &what, e))
        }
        ResourceKind::Topic => {
            let have: Topic = parse(c.observed.as_ref(), r)?;
            let arn = have.arn.ok_or_else(|| TargetError::Other(format!("{what}: no ARN observed")))?;
            t.clients.sns.delete_topic().topic_arn(arn).send().await.map(|_| ()).map_err(|e| sdk("sns:DeleteTopic", &what, e))
        }
        ResourceKind::LogGroup => t.clients.logs.delete_log_group().log_group_name(name).send().await.map(|_| ()).map_err(|e| sdk("logs:DeleteLogGroup", &what, e)),
        ResourceKind::Trail => t.clients.cloudtrail.delete_trail().name(name).send().await.map(|_| ()).map_err(|e| sdk("cloudtrail:DeleteTrail", &what, e)),
        ResourceKind::Alarm => {
            let have: Alarm = parse(c.observed.as_ref(), r)?;
            alarm_client(t, have.region.as_deref()).delete_alarms().alarm_names(name).send().await.map(|_| ()).map_err(|e| sdk("cloudwatch:DeleteAlarms", &what, e))
        }
        ResourceKind::Budget => {
            let account = t.account().await?;
            t.clients.budgets.delete_budget().account_id(account).budget_name(name).send().await.map(|_| ()).map_err(|e| sdk("budgets:DeleteBudget", &what, e))
        }
        ResourceKind::GlueSecurityConfiguration => {
            t.clients.glue.delete_security_configuration().name(name).send().await.map(|_| ()).map_err(|e| sdk("glue:DeleteSecurityConfiguration", &what, e))
        }
        ResourceKind::GlueDatabase => t.clients.glue.delete_database().name(name).send().await.map(|_| ()).map_err(|e| sdk("glue:DeleteDatabase", &what, e)),
        ResourceKind::AthenaWorkgroup => {
            t.clients.athena.delete_work_group().work_group(name).recursive_delete_option(true).send().await.map(|_| ()).map_err(|e| sdk("athena:DeleteWorkGroup", &what, e))
        }
    }
}

/// Delete a bucket; one that holds objects (any version) only with `force`.
async fn delete_bucket(t: &AwsTarget, name: &str, force: bool) -> TargetResult<()> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let s3 = &t.clients.s3;
    let what = format!("bucket {name}");
    let mut previous: Vec<(String, String)> = Vec::new();
    loop {
        let page = s3.list_object_versions().bucket(name).max_keys(1000).send().await.map_err(|e| sdk("s3:ListBucketVersions", &what, e))?;
        // Every version by its id; objects written before versioning have the id "null" (a
        // delete without an id would only add a delete marker).
        let listed: Vec<(String, String)> = page
            .versions()
            .iter()
            .map(|v| (v.key().unwrap_or_default().to_string(), v.version_id().unwrap_or("null").to_string()))
            .chain(page.delete_markers().iter().map(|m| (m.key().unwrap_or_default().to_string(), m.version_id().unwrap_or("null").to_string())))
            .collect();
        if listed.is_empty() {
            break;
        }
        if listed == previous {
            return Err(TargetError::Other(format!("{what}: deleting {} object version(s) made no progress; the bucket was kept", listed.len())));
        }
        let ids: Vec<ObjectIdentifier> =
            listed.iter().map(|(k, v)| ObjectIdentifier::builder().key(k).version_id(v).build().map_err(|e| build("an object id", e))).collect::<TargetResult<_>>()?;
        let first_round = previous.is_empty();
        previous = listed;
        if !force {
            return Err(TargetError::Refused {
                resource: what,
                message: format!("holds {}{} object version(s); keep it, or pass --force-delete-data to delete them", ids.len(), if page.is_truncated() == Some(true) { "+" } else { "" }),
            });
        }
        if first_round {
            // The trail bucket's policy denies deleting logs to everyone; the bucket is going.
            s3.delete_bucket_policy().bucket(name).send().await.map_err(|e| sdk("s3:DeleteBucketPolicy", &what, e))?;
        }
        let batch = Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(|e| build("a delete batch", e))?;
        let done = s3.delete_objects().bucket(name).delete(batch).send().await.map_err(|e| sdk("s3:DeleteObject", &what, e))?;
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
    s3.delete_bucket().bucket(name).send().await.map(|_| ()).map_err(|e| sdk("s3:DeleteBucket", &what, e))
}
