//! The delivery rule (EventBridge, default bus): read with its pattern, state, targets and
//! tags; put; deleted with its targets.

use crate::AwsTarget;
use crate::apply::{parse, sdk_tags};
use crate::error::{build, code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy, RuleState, Target};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, EventRule>> {
    let events = &t.clients.events;
    let mut rules = vec![];
    let mut next: Option<String> = None;
    loop {
        let page = events
            .list_rules()
            .name_prefix(project_prefix(project))
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| sdk("events:ListRules", "the account", e))?;
        rules.extend(page.rules().iter().cloned());
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    let mut out = BTreeMap::new();
    for r in rules {
        let name = r.name().unwrap_or_default().to_string();
        let what = format!("event rule {name}");
        let arn = r.arn().unwrap_or_default().to_string();
        let (targets, tags) = tokio::join!(
            events.list_targets_by_rule().rule(&name).send(),
            events.list_tags_for_resource().resource_arn(&arn).send(),
        );
        let targets = targets
            .map_err(|e| sdk("events:ListTargetsByRule", &what, e))?
            .targets()
            .iter()
            .map(|t| EventTarget {
                id: t.id().to_string(),
                arn: t.arn().to_string(),
                dead_letter_queue: t
                    .dead_letter_config()
                    .and_then(|d| d.arn())
                    .map(str::to_string),
                maximum_retry_attempts: t
                    .retry_policy()
                    .and_then(|p| p.maximum_retry_attempts())
                    .map(|n| n as u32),
            })
            .collect();
        let tags = tags
            .map_err(|e| sdk("events:ListTagsForResource", &what, e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        out.insert(
            name.clone(),
            EventRule {
                arn: Some(arn),
                description: r.description().map(str::to_string),
                event_pattern: r.event_pattern().and_then(|p| serde_json::from_str(p).ok()),
                state: r.state().map(|s| s.as_str().to_string()),
                targets: Some(targets),
                tags: Some(tags),
                name,
            },
        );
    }
    Ok(out)
}

async fn put(t: &AwsTarget, want: EventRule, have: Option<EventRule>) -> TargetResult<()> {
    let events = &t.clients.events;
    let what = format!("event rule {}", want.name);
    let tags = sdk_tags(want.tags.iter().flatten(), "an EventBridge tag", |k, v| {
        aws_sdk_eventbridge::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    })?;
    let pattern = want
        .event_pattern
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| TargetError::Other(format!("{what}: {e}")))?;
    let arn = events
        .put_rule()
        .name(&want.name)
        .set_description(want.description.clone())
        .set_event_pattern(pattern)
        .state(RuleState::from(want.state.as_deref().unwrap_or("ENABLED")))
        .set_tags(have.is_none().then(|| tags.clone()))
        .send()
        .await
        .map_err(|e| sdk("events:PutRule", &what, e))?
        .rule_arn()
        .unwrap_or_default()
        .to_string();
    if have.is_some() {
        events
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("events:TagResource", &what, e))?;
    }
    if let Some(targets) = &want.targets {
        put_targets(t, &want.name, targets, have.and_then(|h| h.targets), &what).await?;
    }
    Ok(())
}

/// Exactly the declared targets: others are removed.
async fn put_targets(
    t: &AwsTarget,
    rule: &str,
    want: &[EventTarget],
    have: Option<Vec<EventTarget>>,
    what: &str,
) -> TargetResult<()> {
    let events = &t.clients.events;
    let extra: Vec<String> = have
        .unwrap_or_default()
        .into_iter()
        .filter(|h| !want.iter().any(|w| w.id == h.id))
        .map(|h| h.id)
        .collect();
    if !extra.is_empty() {
        events
            .remove_targets()
            .rule(rule)
            .set_ids(Some(extra))
            .send()
            .await
            .map_err(|e| sdk("events:RemoveTargets", what, e))?;
    }
    let targets = want
        .iter()
        .map(|w| {
            Target::builder()
                .id(&w.id)
                .arn(&w.arn)
                .set_dead_letter_config(
                    w.dead_letter_queue
                        .as_ref()
                        .map(|q| DeadLetterConfig::builder().arn(q).build()),
                )
                .set_retry_policy(w.maximum_retry_attempts.map(|n| {
                    RetryPolicy::builder()
                        .maximum_retry_attempts(n as i32)
                        .build()
                }))
                .build()
                .map_err(|e| build("an EventBridge target", e))
        })
        .collect::<TargetResult<Vec<_>>>()?;
    let put = events
        .put_targets()
        .rule(rule)
        .set_targets(Some(targets))
        .send()
        .await
        .map_err(|e| sdk("events:PutTargets", what, e))?;
    if put.failed_entry_count() > 0 {
        return Err(TargetError::Other(format!(
            "{what}: {} target(s) refused: {:?}",
            put.failed_entry_count(),
            put.failed_entries()
                .iter()
                .map(|f| f.error_message().unwrap_or_default())
                .collect::<Vec<_>>()
        )));
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: EventRule = parse(c.observed.as_ref(), &c.resource)?;
    let events = &t.clients.events;
    let ids: Vec<String> = have
        .targets
        .iter()
        .flatten()
        .map(|t| t.id.clone())
        .collect();
    if !ids.is_empty() {
        events
            .remove_targets()
            .rule(&have.name)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(|e| sdk("events:RemoveTargets", &what, e))?;
    }
    match events.delete_rule().name(&have.name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(sdk("events:DeleteRule", &what, e)),
    }
}

impl AwsResource for EventRule {
    const READ_ACTIONS: &'static [&'static str] = &[
        "events:ListRules",
        "events:ListTargetsByRule",
        "events:ListTagsForResource",
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
