//! The trail: read with its status, selectors and tags; put; deleted.

use crate::AwsTarget;
use crate::apply::sdk_tags;
use crate::error::sdk;
use crate::read::tags_from;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::{bucket_of_s3_arn, project_prefix, s3_object_arn};
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Trail>> {
    let ct = &t.clients.cloudtrail;
    let list = ct
        .describe_trails()
        .include_shadow_trails(false)
        .send()
        .await
        .map_err(|e| sdk("cloudtrail:DescribeTrails", "the account", e))?;
    let mut out = BTreeMap::new();
    for tr in list.trail_list().iter().filter(|tr| {
        tr.name()
            .is_some_and(|n| n.starts_with(&project_prefix(project)))
    }) {
        let name = tr.name().unwrap_or_default().to_string();
        let what = format!("trail {name}");
        let arn = tr.trail_arn().map(str::to_string);
        let (status, selectors, tags) = tokio::join!(
            ct.get_trail_status().name(&name).send(),
            ct.get_event_selectors().trail_name(&name).send(),
            ct.list_tags()
                .resource_id_list(arn.clone().unwrap_or_else(|| name.clone()))
                .send(),
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
            .map(|r| {
                tags_from(r.tags_list().iter().map(|t| {
                    (
                        t.key().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                }))
            });
        // arn:aws:logs:REGION:ACCOUNT:log-group:NAME:*
        let log_group = tr
            .cloud_watch_logs_log_group_arn()
            .and_then(|a| a.split(":log-group:").nth(1))
            .map(|g| g.trim_end_matches(":*").to_string());
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

async fn put(t: &AwsTarget, want: Trail, have: Option<Trail>) -> TargetResult<()> {
    let create = have.is_none();
    use aws_sdk_cloudtrail::types::*;
    let ct = &t.clients.cloudtrail;
    let name = want.name.as_str();
    let what = format!("trail {name}");
    let arns = t.arns().await?;
    let group_arn = want.log_group.as_ref().map(|g| arns.log_group_streams(g));
    let role_arn = want
        .log_group
        .as_ref()
        .map(|_| arns.trail_delivery_role(name));
    let bucket = want
        .s3_bucket
        .clone()
        .ok_or_else(|| TargetError::Other(format!("{what}: no bucket")))?;
    let tags = sdk_tags(want.tags.iter().flatten(), "a CloudTrail tag", |k, v| {
        aws_sdk_cloudtrail::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    })?;
    // The trail's settings, the same on create and update: the SDK's two builders share no
    // trait, so a macro sets them on either.
    macro_rules! settings {
        ($builder:expr) => {
            $builder
                .name(name)
                .s3_bucket_name(&bucket)
                .set_is_multi_region_trail(want.multi_region)
                .set_include_global_service_events(want.include_global_events)
                .set_enable_log_file_validation(want.log_file_validation)
                .set_kms_key_id(want.kms_key.clone())
                .set_cloud_watch_logs_log_group_arn(group_arn.clone())
                .set_cloud_watch_logs_role_arn(role_arn.clone())
        };
    }
    if create {
        settings!(ct.create_trail())
            .set_tags_list(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:CreateTrail", &what, e))?;
    } else {
        let r = settings!(ct.update_trail())
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:UpdateTrail", &what, e))?;
        let arn = r.trail_arn().unwrap_or_default();
        ct.add_tags()
            .resource_id(arn)
            .set_tags_list(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:AddTags", &what, e))?;
    }
    if let Some(buckets) = &want.data_event_buckets {
        let data = DataResource::builder()
            .r#type("AWS::S3::Object")
            .set_values(Some(buckets.iter().map(|b| s3_object_arn(b, "")).collect()))
            .build();
        let selector = EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .data_resources(data)
            .build();
        ct.put_event_selectors()
            .trail_name(name)
            .event_selectors(selector)
            .send()
            .await
            .map_err(|e| sdk("cloudtrail:PutEventSelectors", &what, e))?;
    }
    match want.logging {
        Some(true) => ct
            .start_logging()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("cloudtrail:StartLogging", &what, e))?,
        Some(false) => ct
            .stop_logging()
            .name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("cloudtrail:StopLogging", &what, e))?,
        None => {}
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .cloudtrail
        .delete_trail()
        .name(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("cloudtrail:DeleteTrail", &what, e))
}

impl AwsResource for Trail {
    const READ_ACTIONS: &'static [&'static str] = &[
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
        "cloudtrail:ListTags",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(read_all(t, scope.project).await?.into())
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
