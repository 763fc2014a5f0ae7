//! The daily jobs' schedules (EventBridge Scheduler): one group per platform, tagged (schedules
//! themselves carry no tags), read with every schedule in it; put; deleted with them.

use crate::AwsTarget;
use crate::apply::{parse, sdk_tags};
use crate::error::{build, code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

type Scheduler = aws_sdk_scheduler::Client;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, ScheduleGroup>> {
    let scheduler = &t.clients.scheduler;
    let mut groups = vec![];
    let mut pages = scheduler
        .list_schedule_groups()
        .name_prefix(project_prefix(project))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("scheduler:ListScheduleGroups", "the account", e))?;
        groups.extend(page.schedule_groups().iter().cloned());
    }
    let mut out = BTreeMap::new();
    for g in groups {
        let name = g.name().unwrap_or_default().to_string();
        let arn = g.arn().unwrap_or_default().to_string();
        let what = format!("schedule group {name}");
        let tags = scheduler
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| sdk("scheduler:ListTagsForResource", &what, e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        out.insert(
            name.clone(),
            ScheduleGroup {
                schedules: Some(schedules_of(scheduler, &name).await?),
                arn: Some(arn),
                tags: Some(tags),
                name,
            },
        );
    }
    Ok(out)
}

async fn schedules_of(
    scheduler: &Scheduler,
    group: &str,
) -> TargetResult<BTreeMap<String, Schedule>> {
    let what = format!("schedule group {group}");
    let mut names = vec![];
    let mut pages = scheduler
        .list_schedules()
        .group_name(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("scheduler:ListSchedules", &what, e))?;
        names.extend(
            page.schedules()
                .iter()
                .filter_map(|s| s.name())
                .map(str::to_string),
        );
    }
    let mut out = BTreeMap::new();
    for name in names {
        let s = scheduler
            .get_schedule()
            .group_name(group)
            .name(&name)
            .send()
            .await
            .map_err(|e| {
                sdk(
                    "scheduler:GetSchedule",
                    &format!("schedule {group}/{name}"),
                    e,
                )
            })?;
        let target = s.target();
        out.insert(
            name,
            Schedule {
                expression: s.schedule_expression().unwrap_or_default().to_string(),
                time_zone: s
                    .schedule_expression_timezone()
                    .unwrap_or("UTC")
                    .to_string(),
                state: s
                    .state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
                role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
                input: target
                    .and_then(|t| t.input())
                    .unwrap_or_default()
                    .to_string(),
                dead_letter_queue: target
                    .and_then(|t| t.dead_letter_config())
                    .and_then(|d| d.arn())
                    .map(str::to_string),
                maximum_retry_attempts: target
                    .and_then(|t| t.retry_policy())
                    .and_then(|p| p.maximum_retry_attempts())
                    .map(|n| n as u32),
            },
        );
    }
    Ok(out)
}

fn target(s: &Schedule) -> TargetResult<Target> {
    Target::builder()
        .arn(&s.target_arn)
        .role_arn(&s.role_arn)
        .input(&s.input)
        .set_dead_letter_config(
            s.dead_letter_queue
                .as_ref()
                .map(|q| DeadLetterConfig::builder().arn(q).build()),
        )
        .set_retry_policy(s.maximum_retry_attempts.map(|n| {
            RetryPolicy::builder()
                .maximum_retry_attempts(n as i32)
                .build()
        }))
        .build()
        .map_err(|e| build("a schedule's target", e))
}

async fn put(t: &AwsTarget, want: ScheduleGroup, have: Option<ScheduleGroup>) -> TargetResult<()> {
    let scheduler = &t.clients.scheduler;
    let what = format!("schedule group {}", want.name);
    let tags = sdk_tags(want.tags.iter().flatten(), "a Scheduler tag", |k, v| {
        aws_sdk_scheduler::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    })?;
    match have.as_ref().and_then(|h| h.arn.clone()) {
        None => {
            scheduler
                .create_schedule_group()
                .name(&want.name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| sdk("scheduler:CreateScheduleGroup", &what, e))?;
        }
        Some(arn) => {
            scheduler
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| sdk("scheduler:TagResource", &what, e))?;
        }
    }
    let had = have.and_then(|h| h.schedules).unwrap_or_default();
    let wanted = want.schedules.clone().unwrap_or_default();
    for name in had.keys().filter(|n| !wanted.contains_key(*n)) {
        scheduler
            .delete_schedule()
            .group_name(&want.name)
            .name(name)
            .send()
            .await
            .map_err(|e| {
                sdk(
                    "scheduler:DeleteSchedule",
                    &format!("schedule {}/{name}", want.name),
                    e,
                )
            })?;
    }
    for (name, s) in wanted.iter().filter(|(n, s)| had.get(*n) != Some(*s)) {
        put_schedule(scheduler, &want.name, name, s, had.contains_key(name)).await?;
    }
    Ok(())
}

async fn put_schedule(
    scheduler: &Scheduler,
    group: &str,
    name: &str,
    s: &Schedule,
    exists: bool,
) -> TargetResult<()> {
    let what = format!("schedule {group}/{name}");
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build("a flexible time window", e))?;
    // Creating and updating send the same schedule: two SDK request builders with the same
    // setters.
    macro_rules! schedule {
        ($request:expr) => {
            $request
                .group_name(group)
                .name(name)
                .schedule_expression(&s.expression)
                .schedule_expression_timezone(&s.time_zone)
                .state(ScheduleState::from(s.state.as_str()))
                .flexible_time_window(window)
                .target(target(s)?)
                .send()
                .await
        };
    }
    if exists {
        schedule!(scheduler.update_schedule())
            .map_err(|e| sdk("scheduler:UpdateSchedule", &what, e))?;
    } else {
        schedule!(scheduler.create_schedule())
            .map_err(|e| sdk("scheduler:CreateSchedule", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: ScheduleGroup = parse(c.observed.as_ref(), &c.resource)?;
    // Deleting a group deletes its schedules.
    match t
        .clients
        .scheduler
        .delete_schedule_group()
        .name(&have.name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(sdk("scheduler:DeleteScheduleGroup", &what, e)),
    }
}

impl AwsResource for ScheduleGroup {
    const READ_ACTIONS: &'static [&'static str] = &[
        "scheduler:ListScheduleGroups",
        "scheduler:ListTagsForResource",
        "scheduler:ListSchedules",
        "scheduler:GetSchedule",
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
