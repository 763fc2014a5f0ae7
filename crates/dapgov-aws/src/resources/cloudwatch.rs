//! CloudWatch alarms (the billing alarm in us-east-1), and the ETL runs read from the metrics the runs publish.

use crate::AwsTarget;
use crate::apply::parse;
use crate::error::sdk;
use crate::read::tags_from;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::{ETL_FAILURE_METRIC, etl_dataset_dimensions, project_prefix};
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Alarm>> {
    let mut clients = vec![(&t.clients.cloudwatch, t.region.clone())];
    if t.region != BILLING_REGION {
        clients.push((&t.clients.cloudwatch_billing, BILLING_REGION.to_string()));
    }
    let mut out = BTreeMap::new();
    for (cw, region) in clients {
        let list = cw
            .describe_alarms()
            .alarm_name_prefix(project_prefix(project))
            .send()
            .await
            .map_err(|e| sdk("cloudwatch:DescribeAlarms", &region, e))?;
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
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        }),
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
                    dimensions: Some(
                        a.dimensions()
                            .iter()
                            .map(|d| {
                                (
                                    d.name().unwrap_or_default().to_string(),
                                    d.value().unwrap_or_default().to_string(),
                                )
                            })
                            .collect(),
                    ),
                    statistic: a.statistic().map(|s| s.as_str().to_string()),
                    period_seconds: a.period().map(|p| p as u32),
                    evaluation_periods: a.evaluation_periods().map(|p| p as u32),
                    threshold: a.threshold(),
                    comparison: a.comparison_operator().map(|c| c.as_str().to_string()),
                    treat_missing_data: a.treat_missing_data().map(str::to_string),
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

/// Each dataset's latest run, from the failure flag every run publishes per dataset (the run
/// itself is not a metric dimension: each run would make a billable metric of its own). The
/// newest datum within a minute of the last day, else of the last 14 days by the hour.
pub(crate) async fn etl_runs(t: &AwsTarget, project: &str) -> TargetResult<Vec<EtlRunSummary>> {
    use aws_sdk_cloudwatch::types::{DimensionFilter, Statistic};
    let cw = &t.clients.cloudwatch;
    let mut metrics = vec![];
    let mut pages = cw
        .list_metrics()
        .metric_name(ETL_FAILURE_METRIC)
        .dimensions(
            DimensionFilter::builder()
                .name("Project")
                .value(project)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        metrics.extend(
            page.map_err(|e| sdk("cloudwatch:ListMetrics", ETL_FAILURE_METRIC, e))?
                .metrics()
                .iter()
                .cloned(),
        );
    }
    let now = std::time::SystemTime::now();
    let mut runs = vec![];
    for m in metrics {
        let dims: BTreeMap<String, String> = m
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_string(),
                    d.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let Some(dataset) = dims
            .get("Dataset")
            .filter(|d| etl_dataset_dimensions(project, d) == dims)
            .cloned()
        else {
            continue;
        };
        let mut newest = None;
        for (period, days) in [(60, 1), (3600, 14)] {
            let got = cw
                .get_metric_statistics()
                .namespace(m.namespace().unwrap_or_default())
                .metric_name(ETL_FAILURE_METRIC)
                .set_dimensions(Some(m.dimensions().to_vec()))
                .start_time(aws_smithy_types::DateTime::from(
                    now - std::time::Duration::from_secs(days * 86_400),
                ))
                .end_time(aws_smithy_types::DateTime::from(
                    now + std::time::Duration::from_secs(60),
                ))
                .period(period)
                .statistics(Statistic::Maximum)
                .send()
                .await
                .map_err(|e| {
                    sdk(
                        "cloudwatch:GetMetricStatistics",
                        &format!("{ETL_FAILURE_METRIC} of dataset {dataset}"),
                        e,
                    )
                })?;
            newest = got
                .datapoints()
                .iter()
                .filter(|d| d.timestamp().is_some())
                .max_by_key(|d| d.timestamp().map(|t| t.secs()))
                .cloned();
            if newest.is_some() {
                break;
            }
        }
        let Some(d) = newest else { continue };
        let at = d
            .timestamp()
            .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        runs.push(EtlRunSummary {
            run_id: format!("at {at}"),
            dataset,
            started_at: at,
            succeeded: d.maximum() == Some(0.0),
            output_formats: vec![],
            partitioned: true,
        });
    }
    Ok(runs)
}

fn alarm_client<'a>(t: &'a AwsTarget, region: Option<&str>) -> &'a aws_sdk_cloudwatch::Client {
    if region == Some(BILLING_REGION) && t.region != BILLING_REGION {
        &t.clients.cloudwatch_billing
    } else {
        &t.clients.cloudwatch
    }
}

async fn put(t: &AwsTarget, want: Alarm, have: Option<Alarm>) -> TargetResult<()> {
    let create = have.is_none();
    use aws_sdk_cloudwatch::types::*;
    let cw = alarm_client(t, want.region.as_deref());
    let what = format!("alarm {}", want.name);
    let tags: Vec<Tag> = want
        .tags
        .iter()
        .flatten()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let dims: Vec<Dimension> = want
        .dimensions
        .iter()
        .flatten()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect();
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
        .set_treat_missing_data(want.treat_missing_data.clone())
        .set_actions_enabled(want.actions_enabled)
        .set_alarm_actions(want.alarm_actions.clone())
        .set_tags(if create { Some(tags.clone()) } else { None })
        .send()
        .await
        .map_err(|e| sdk("cloudwatch:PutMetricAlarm", &what, e))?;
    if !create {
        let region = want.region.clone().unwrap_or_else(|| t.region.clone());
        let arn = t.arns().await?.alarm(&region, &want.name);
        cw.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("cloudwatch:TagResource", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: Alarm = parse(c.observed.as_ref(), &c.resource)?;
    alarm_client(t, have.region.as_deref())
        .delete_alarms()
        .alarm_names(&c.resource.name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("cloudwatch:DeleteAlarms", &what, e))
}

impl AwsResource for Alarm {
    const READ_ACTIONS: &'static [&'static str] = &[
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
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
