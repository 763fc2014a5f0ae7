//! The alarm topic: read with its subscriptions and tags; put; deleted.

use crate::AwsTarget;
use crate::apply::{parse, sdk_tags};
use crate::error::sdk;
use crate::read::tags_from;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Topic>> {
    let sns = &t.clients.sns;
    let mut arns = Vec::new();
    let mut pages = sns.list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("sns:ListTopics", "the account", e))?;
        arns.extend(
            page.topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .filter(|a| {
                    a.rsplit(':')
                        .next()
                        .is_some_and(|n| n.starts_with(&project_prefix(project)))
                })
                .map(str::to_string),
        );
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
            .map(|s| {
                format!(
                    "{}:{}",
                    s.protocol().unwrap_or_default(),
                    s.endpoint().unwrap_or_default()
                )
            })
            .collect();
        let tags = tags_from(
            tags.map_err(|e| sdk("sns:ListTagsForResource", &what, e))?
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        out.insert(
            name.clone(),
            Topic {
                name,
                kms_key: attrs
                    .attributes()
                    .and_then(|a| a.get("KmsMasterKeyId"))
                    .filter(|k| !k.is_empty())
                    .cloned(),
                arn: Some(arn),
                subscriptions: Some(subscriptions),
                tags: Some(tags),
            },
        );
    }
    Ok(out)
}

async fn put(t: &AwsTarget, want: Topic, have: Option<Topic>) -> TargetResult<()> {
    let sns = &t.clients.sns;
    let what = format!("topic {}", want.name);
    let tags = sdk_tags(want.tags.iter().flatten(), "an SNS tag", |k, v| {
        aws_sdk_sns::types::Tag::builder().key(k).value(v).build()
    })?;
    // CreateTopic is idempotent and returns the existing topic's ARN.
    let mut create = sns
        .create_topic()
        .name(&want.name)
        .set_tags(Some(tags.clone()));
    if let Some(k) = &want.kms_key {
        create = create.attributes("KmsMasterKeyId", k);
    }
    let arn = create
        .send()
        .await
        .map_err(|e| sdk("sns:CreateTopic", &what, e))?
        .topic_arn()
        .unwrap_or_default()
        .to_string();
    if let Some(k) = &want.kms_key {
        sns.set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(k)
            .send()
            .await
            .map_err(|e| sdk("sns:SetTopicAttributes", &what, e))?;
    }
    sns.tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| sdk("sns:TagResource", &what, e))?;
    let existing = have.and_then(|h| h.subscriptions).unwrap_or_default();
    for s in want
        .subscriptions
        .iter()
        .flatten()
        .filter(|s| !existing.contains(s))
    {
        let (protocol, endpoint) = s.split_once(':').ok_or_else(|| {
            TargetError::Other(format!(
                "{what}: subscription `{s}` is not protocol:endpoint"
            ))
        })?;
        sns.subscribe()
            .topic_arn(&arn)
            .protocol(protocol)
            .endpoint(endpoint)
            .send()
            .await
            .map_err(|e| sdk("sns:Subscribe", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: Topic = parse(c.observed.as_ref(), &c.resource)?;
    let arn = have
        .arn
        .ok_or_else(|| TargetError::Other(format!("{what}: no ARN observed")))?;
    t.clients
        .sns
        .delete_topic()
        .topic_arn(arn)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("sns:DeleteTopic", &what, e))
}

impl AwsResource for Topic {
    const READ_ACTIONS: &'static [&'static str] = &[
        "sns:ListTopics",
        "sns:GetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        "sns:ListTagsForResource",
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
