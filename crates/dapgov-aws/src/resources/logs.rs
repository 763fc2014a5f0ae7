//! CloudWatch Logs groups: read with retention, key, metric filters and tags; put; deleted.

use crate::AwsTarget;
use crate::error::{build, code, sdk};
use crate::read::tags_from;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::log_group_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, LogGroup>> {
    let logs = &t.clients.logs;
    let prefix = log_group_prefix(project);
    let list = logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .send()
        .await
        .map_err(|e| sdk("logs:DescribeLogGroups", &prefix, e))?;
    let mut out = BTreeMap::new();
    for g in list.log_groups() {
        let Some(name) = g.log_group_name() else {
            continue;
        };
        let what = format!("log group {name}");
        let filters = logs
            .describe_metric_filters()
            .log_group_name(name)
            .send()
            .await
            .map_err(|e| sdk("logs:DescribeMetricFilters", &what, e))?;
        let metric_filters = filters
            .metric_filters()
            .iter()
            .filter_map(|f| {
                let m = f.metric_transformations().first()?;
                Some((
                    f.filter_name()?.to_string(),
                    MetricFilter {
                        pattern: f.filter_pattern().unwrap_or_default().to_string(),
                        metric_namespace: m.metric_namespace().to_string(),
                        metric_name: m.metric_name().to_string(),
                    },
                ))
            })
            .collect();
        let arn = g.arn().map(|a| a.trim_end_matches(":*").to_string());
        let tags = match arn {
            Some(a) => Some(tags_from(
                logs.list_tags_for_resource()
                    .resource_arn(a)
                    .send()
                    .await
                    .map_err(|e| sdk("logs:ListTagsForResource", &what, e))?
                    .tags()
                    .map(|m| m.clone().into_iter())
                    .into_iter()
                    .flatten(),
            )),
            None => None,
        };
        out.insert(
            name.to_string(),
            LogGroup {
                name: name.to_string(),
                retention_days: g.retention_in_days().map(|d| d as u32),
                kms_key: g.kms_key_id().map(str::to_string),
                metric_filters: Some(metric_filters),
                tags,
            },
        );
    }
    Ok(out)
}

async fn put(t: &AwsTarget, want: LogGroup, have: Option<LogGroup>) -> TargetResult<()> {
    let create = have.is_none();
    let logs = &t.clients.logs;
    let name = &want.name;
    let what = format!("log group {name}");
    if create {
        let r = logs
            .create_log_group()
            .log_group_name(name)
            .set_kms_key_id(want.kms_key.clone())
            .set_tags(want.tags.clone().map(|t| t.into_iter().collect()))
            .send()
            .await;
        match r {
            Ok(_) => {}
            Err(e) if code(&e) == Some("ResourceAlreadyExistsException") => {}
            Err(e) => return Err(sdk("logs:CreateLogGroup", &what, e)),
        }
    }
    if let Some(k) = &want.kms_key
        && have.as_ref().is_some_and(|h| h.kms_key.as_ref() != Some(k))
    {
        logs.associate_kms_key()
            .log_group_name(name)
            .kms_key_id(k)
            .send()
            .await
            .map_err(|e| sdk("logs:AssociateKmsKey", &what, e))?;
    }
    if let Some(d) = want.retention_days {
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(d as i32)
            .send()
            .await
            .map_err(|e| sdk("logs:PutRetentionPolicy", &what, e))?;
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
    for filter in have
        .and_then(|h| h.metric_filters)
        .unwrap_or_default()
        .keys()
        .filter(|f| !wanted.contains_key(*f))
    {
        logs.delete_metric_filter()
            .log_group_name(name)
            .filter_name(filter)
            .send()
            .await
            .map_err(|e| sdk("logs:DeleteMetricFilter", &what, e))?;
    }
    if !create && let Some(tags) = &want.tags {
        let arn = t.arns().await?.log_group(name);
        logs.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk("logs:TagResource", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .logs
        .delete_log_group()
        .log_group_name(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("logs:DeleteLogGroup", &what, e))
}

impl AwsResource for LogGroup {
    const READ_ACTIONS: &'static [&'static str] = &[
        "logs:DescribeLogGroups",
        "logs:DescribeMetricFilters",
        "logs:ListTagsForResource",
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
