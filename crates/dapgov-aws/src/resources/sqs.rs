//! The loader's dead-letter queue: read with its encryption, retention, policy and tags; put;
//! deleted.

use crate::AwsTarget;
use crate::apply::parse;
use crate::error::{code, sdk};
use crate::resources::{AwsResource, Found, ReadScope};
use aws_sdk_sqs::types::QueueAttributeName as Attr;
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Queue>> {
    let sqs = &t.clients.sqs;
    let mut urls = vec![];
    let mut pages = sqs
        .list_queues()
        .queue_name_prefix(project_prefix(project))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("sqs:ListQueues", "the account", e))?;
        urls.extend(page.queue_urls().iter().cloned());
    }
    let mut out = BTreeMap::new();
    for url in urls {
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let what = format!("queue {name}");
        let (attrs, tags) = tokio::join!(
            sqs.get_queue_attributes()
                .queue_url(&url)
                .attribute_names(Attr::All)
                .send(),
            sqs.list_queue_tags().queue_url(&url).send(),
        );
        let attrs = attrs.map_err(|e| sdk("sqs:GetQueueAttributes", &what, e))?;
        let attrs = attrs.attributes().cloned().unwrap_or_default();
        let tags = tags.map_err(|e| sdk("sqs:ListQueueTags", &what, e))?;
        out.insert(
            name.clone(),
            Queue {
                name,
                arn: attrs.get(&Attr::QueueArn).cloned(),
                url: Some(url),
                kms_key: attrs
                    .get(&Attr::KmsMasterKeyId)
                    .filter(|k| !k.is_empty())
                    .cloned(),
                retention_seconds: attrs
                    .get(&Attr::MessageRetentionPeriod)
                    .and_then(|s| s.parse().ok()),
                policy: attrs
                    .get(&Attr::Policy)
                    .and_then(|p| serde_json::from_str(p).ok()),
                tags: Some(
                    tags.tags()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                ),
            },
        );
    }
    Ok(out)
}

fn attributes(want: &Queue) -> TargetResult<BTreeMap<Attr, String>> {
    let mut attrs = BTreeMap::new();
    if let Some(k) = &want.kms_key {
        attrs.insert(Attr::KmsMasterKeyId, k.clone());
    }
    if let Some(r) = want.retention_seconds {
        attrs.insert(Attr::MessageRetentionPeriod, r.to_string());
    }
    if let Some(p) = &want.policy {
        attrs.insert(
            Attr::Policy,
            serde_json::to_string(p).map_err(|e| TargetError::Other(e.to_string()))?,
        );
    }
    Ok(attrs)
}

async fn put(t: &AwsTarget, want: Queue, have: Option<Queue>) -> TargetResult<()> {
    let sqs = &t.clients.sqs;
    let what = format!("queue {}", want.name);
    let attrs = attributes(&want)?;
    let url = match have.and_then(|h| h.url) {
        Some(url) => {
            sqs.set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attrs.into_iter().collect()))
                .send()
                .await
                .map_err(|e| sdk("sqs:SetQueueAttributes", &what, e))?;
            url
        }
        None => sqs
            .create_queue()
            .queue_name(&want.name)
            .set_attributes(Some(attrs.into_iter().collect()))
            .set_tags(want.tags.clone().map(|t| t.into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk("sqs:CreateQueue", &what, e))?
            .queue_url()
            .unwrap_or_default()
            .to_string(),
    };
    if let Some(tags) = &want.tags {
        sqs.tag_queue()
            .queue_url(&url)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| sdk("sqs:TagQueue", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: Queue = parse(c.observed.as_ref(), &c.resource)?;
    let url = have
        .url
        .ok_or_else(|| TargetError::Other(format!("{what}: no URL observed")))?;
    match t.clients.sqs.delete_queue().queue_url(url).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("AWS.SimpleQueueService.NonExistentQueue") => Ok(()),
        Err(e) => Err(sdk("sqs:DeleteQueue", &what, e)),
    }
}

impl AwsResource for Queue {
    const READ_ACTIONS: &'static [&'static str] = &[
        "sqs:ListQueues",
        "sqs:GetQueueAttributes",
        "sqs:ListQueueTags",
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
