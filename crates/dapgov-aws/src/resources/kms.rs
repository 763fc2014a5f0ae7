//! KMS keys: read with their alias, rotation, policy and tags; put; scheduled for deletion, never deleted at once.

use crate::AwsTarget;
use crate::apply::{json, parse, sdk_tags};
use crate::error::{code, sdk};
use crate::read::{absent, tags_from};
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use futures::future::try_join_all;
use std::collections::BTreeMap;

async fn read_all(
    t: &AwsTarget,
    project: &str,
) -> TargetResult<(BTreeMap<String, Key>, Vec<String>)> {
    let kms = &t.clients.kms;
    let mut aliases = Vec::new();
    let mut pages = kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("kms:ListAliases", "the account", e))?;
        for a in page.aliases() {
            if let (Some(name), Some(target)) = (
                a.alias_name().and_then(|n| n.strip_prefix("alias/")),
                a.target_key_id(),
            ) && name.starts_with(&project_prefix(project))
            {
                aliases.push((name.to_string(), target.to_string()));
            }
        }
    }
    let read = try_join_all(
        aliases
            .into_iter()
            .map(|(alias, id)| read_one(t, alias, id)),
    )
    .await?;
    let unreadable = read.iter().filter_map(|(_, u)| u.clone()).collect();
    Ok((
        read.into_iter()
            .map(|(k, _)| (k.alias.clone(), k))
            .collect(),
        unreadable,
    ))
}

/// A key, and its rotation period as unreadable when the endpoint does not report it.
async fn read_one(t: &AwsTarget, alias: String, id: String) -> TargetResult<(Key, Option<String>)> {
    let kms = &t.clients.kms;
    let (described, rotation, policy, tags) = tokio::join!(
        kms.describe_key().key_id(&id).send(),
        kms.get_key_rotation_status().key_id(&id).send(),
        kms.get_key_policy()
            .key_id(&id)
            .policy_name("default")
            .send(),
        kms.list_resource_tags().key_id(&id).send(),
    );
    let what = format!("key alias/{alias}");
    let meta = described
        .map_err(|e| sdk("kms:DescribeKey", &what, e))?
        .key_metadata()
        .cloned()
        .ok_or_else(|| TargetError::Other(format!("{what}: no key metadata")))?;
    let state = meta.key_state().map(|s| s.as_str().to_string());
    // Rotation status cannot be read while a key is pending deletion or disabled.
    let rotation = absent(
        rotation,
        &["KMSInvalidStateException", "DisabledException"],
        "kms:GetKeyRotationStatus",
        &what,
    )?;
    let policy = absent(
        policy,
        &["KMSInvalidStateException"],
        "kms:GetKeyPolicy",
        &what,
    )?
    .and_then(|p| p.policy().map(str::to_string));
    let tags = tags_from(
        tags.map_err(|e| sdk("kms:ListResourceTags", &what, e))?
            .tags()
            .iter()
            .map(|t| (t.tag_key().to_string(), t.tag_value().to_string())),
    );
    let period_unreadable = rotation
        .as_ref()
        .is_some_and(|r| r.key_rotation_enabled() && r.rotation_period_in_days().is_none())
        .then(|| format!("key.{alias}:rotation_period_days"));
    let key =
        Key {
            key_id: Some(meta.key_id().to_string()),
            arn: meta.arn().map(str::to_string),
            description: meta.description().map(str::to_string),
            rotation_enabled: rotation.as_ref().map(|r| r.key_rotation_enabled()),
            rotation_period_days: rotation
                .as_ref()
                .and_then(|r| r.rotation_period_in_days())
                .map(|d| d as u32),
            state,
            policy: match policy {
                Some(p) => Some(serde_json::from_str(&p).map_err(|e| {
                    TargetError::Other(format!("{what}: key policy is not JSON: {e}"))
                })?),
                None => None,
            },
            // KMS keeps no deletion window until deletion is scheduled; dapgov records the one it
            // will use as a tag when it creates the key.
            deletion_window_days: tags.get(DELETION_WINDOW_TAG).and_then(|v| v.parse().ok()),
            tags: Some(tags),
            versions: None,
            alias,
        };
    Ok((key, period_unreadable))
}

/// Tag that records the deletion window dapgov will use, since KMS keeps none until deletion.
pub(crate) const DELETION_WINDOW_TAG: &str = "deletion-window-days";

const DEFAULT_DELETION_WINDOW: i32 = 30;

fn kms_tags(tags: &Tags, extra: &[(&str, String)]) -> TargetResult<Vec<aws_sdk_kms::types::Tag>> {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    sdk_tags(
        tags.iter().chain(extra.iter().map(|(k, v)| (k, v))),
        "a KMS tag",
        |k, v| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
        },
    )
}

async fn put(t: &AwsTarget, want: Key, have: Option<Key>) -> TargetResult<()> {
    let kms = &t.clients.kms;
    let what = format!("key alias/{}", want.alias);
    let window = (
        "deletion-window-days",
        want.deletion_window_days
            .map(|d| d as i32)
            .unwrap_or(DEFAULT_DELETION_WINDOW)
            .to_string(),
    );
    let tags = kms_tags(&want.tags.clone().unwrap_or_default(), &[window])?;
    let id = match have.and_then(|h| h.key_id) {
        Some(id) => {
            if let Some(p) = &want.policy {
                kms.put_key_policy()
                    .key_id(&id)
                    .policy_name("default")
                    .policy(json(p))
                    .send()
                    .await
                    .map_err(|e| sdk("kms:PutKeyPolicy", &what, e))?;
            }
            if let Some(d) = &want.description {
                kms.update_key_description()
                    .key_id(&id)
                    .description(d)
                    .send()
                    .await
                    .map_err(|e| sdk("kms:UpdateKeyDescription", &what, e))?;
            }
            kms.tag_resource()
                .key_id(&id)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| sdk("kms:TagResource", &what, e))?;
            id
        }
        None => {
            let create = || {
                kms.create_key()
                    .set_description(want.description.clone())
                    .set_tags(Some(tags.clone()))
            };
            let created = match create()
                .set_policy(want.policy.as_ref().map(json))
                .send()
                .await
            {
                Ok(c) => c,
                // The policy names roles created later in this apply; start from the default
                // policy and let the next round put the full one.
                Err(e) if code(&e) == Some("MalformedPolicyDocumentException") => create()
                    .send()
                    .await
                    .map_err(|e| sdk("kms:CreateKey", &what, e))?,
                Err(e) => return Err(sdk("kms:CreateKey", &what, e)),
            };
            let id = created
                .key_metadata()
                .map(|m| m.key_id().to_string())
                .ok_or_else(|| TargetError::Other(format!("{what}: created without an id")))?;
            kms.create_alias()
                .alias_name(format!("alias/{}", want.alias))
                .target_key_id(&id)
                .send()
                .await
                .map_err(|e| sdk("kms:CreateAlias", &what, e))?;
            id
        }
    };
    match want.rotation_enabled {
        Some(true) => {
            let mut req = kms.enable_key_rotation().key_id(&id);
            if let Some(d) = want.rotation_period_days {
                req = req.rotation_period_in_days(d as i32);
            }
            req.send()
                .await
                .map_err(|e| sdk("kms:EnableKeyRotation", &what, e))?;
        }
        Some(false) => {
            kms.disable_key_rotation()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| sdk("kms:DisableKeyRotation", &what, e))?;
        }
        None => {}
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    let have: Key = parse(c.observed.as_ref(), &c.resource)?;
    let id = have
        .key_id
        .clone()
        .ok_or_else(|| TargetError::Other(format!("{what}: no key id observed")))?;
    let kms = &t.clients.kms;
    kms.delete_alias()
        .alias_name(format!("alias/{}", have.alias))
        .send()
        .await
        .map_err(|e| sdk("kms:DeleteAlias", &what, e))?;
    let window = have
        .deletion_window_days
        .map(|d| d as i32)
        .unwrap_or(DEFAULT_DELETION_WINDOW);
    // Never immediate: the key stays recoverable for the window.
    kms.schedule_key_deletion()
        .key_id(id)
        .pending_window_in_days(window)
        .send()
        .await
        .map_err(|e| sdk("kms:ScheduleKeyDeletion", &what, e))?;
    Ok(())
}

impl AwsResource for Key {
    const READ_ACTIONS: &'static [&'static str] = &[
        "kms:ListAliases",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListResourceTags",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        let (resources, unreadable) = read_all(t, scope.project).await?;
        Ok(Found {
            resources,
            unreadable,
        })
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
