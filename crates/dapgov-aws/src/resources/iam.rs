//! IAM roles: read with trust, inline and attached policies and tags; put; deleted with their policies.

use crate::AwsTarget;
use crate::apply::{json, parse, sdk_tags};
use crate::error::{code, sdk};
use crate::read::{policy_json, tags_from};
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetError, TargetResult};
use futures::future::try_join_all;
use serde_json::Value;
use std::collections::BTreeMap;

async fn read_all(t: &AwsTarget, project: &str) -> TargetResult<BTreeMap<String, Role>> {
    let mut names = Vec::new();
    let mut pages = t.clients.iam.list_roles().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("iam:ListRoles", "the account", e))?;
        names.extend(
            page.roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| n.starts_with(&project_prefix(project))),
        );
    }
    let read = try_join_all(names.into_iter().map(|n| read_one(t, n))).await?;
    Ok(read.into_iter().map(|r| (r.name.clone(), r)).collect())
}

async fn read_one(t: &AwsTarget, name: String) -> TargetResult<Role> {
    let iam = &t.clients.iam;
    let what = format!("role {name}");
    let (got, inline, attached, tags) = tokio::join!(
        iam.get_role().role_name(&name).send(),
        iam.list_role_policies().role_name(&name).send(),
        iam.list_attached_role_policies().role_name(&name).send(),
        iam.list_role_tags().role_name(&name).send(),
    );
    let got = got.map_err(|e| sdk("iam:GetRole", &what, e))?;
    let r = got
        .role()
        .ok_or_else(|| TargetError::Other(format!("{what}: not returned")))?;
    let trust_policy = r
        .assume_role_policy_document()
        .map(|d| policy_json(d, &format!("{what} trust policy")))
        .transpose()?;
    let mut inline_policies = BTreeMap::new();
    for p in inline
        .map_err(|e| sdk("iam:ListRolePolicies", &what, e))?
        .policy_names()
    {
        let doc = iam
            .get_role_policy()
            .role_name(&name)
            .policy_name(p)
            .send()
            .await
            .map_err(|e| sdk("iam:GetRolePolicy", &what, e))?;
        inline_policies.insert(
            p.to_string(),
            policy_json(doc.policy_document(), &format!("{what} policy {p}"))?,
        );
    }
    let mut attached_policies = BTreeMap::new();
    for a in attached
        .map_err(|e| sdk("iam:ListAttachedRolePolicies", &what, e))?
        .attached_policies()
    {
        let Some(arn) = a.policy_arn() else { continue };
        attached_policies.insert(
            arn.to_string(),
            attached_document(t, arn).await.unwrap_or(Value::Null),
        );
    }
    let tags = tags_from(
        tags.map_err(|e| sdk("iam:ListRoleTags", &what, e))?
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string())),
    );
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
    let p = t
        .clients
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .ok()?;
    let version = p.policy()?.default_version_id()?.to_string();
    let v = t
        .clients
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .ok()?;
    policy_json(v.policy_version()?.document()?, arn).ok()
}

async fn put(t: &AwsTarget, want: Role, have: Option<Role>) -> TargetResult<()> {
    let create = have.is_none();
    let iam = &t.clients.iam;
    let name = &want.name;
    let what = format!("role {name}");
    let tags = sdk_tags(want.tags.iter().flatten(), "an IAM tag", |k, v| {
        aws_sdk_iam::types::Tag::builder().key(k).value(v).build()
    })?;
    let trust = want
        .trust_policy
        .as_ref()
        .map(json)
        .ok_or_else(|| TargetError::Other(format!("{what}: no trust policy")))?;
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
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(&trust)
            .send()
            .await
            .map_err(|e| sdk("iam:UpdateAssumeRolePolicy", &what, e))?;
        if let Some(d) = want.max_session_duration {
            iam.update_role()
                .role_name(name)
                .max_session_duration(d as i32)
                .send()
                .await
                .map_err(|e| sdk("iam:UpdateRole", &what, e))?;
        }
        iam.tag_role()
            .role_name(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("iam:TagRole", &what, e))?;
    }
    put_policies(t, &want, &have.unwrap_or_default()).await
}

/// The role's inline and attached policies as declared: put and attached, and those it had
/// beyond them removed and detached.
async fn put_policies(t: &AwsTarget, want: &Role, have: &Role) -> TargetResult<()> {
    let iam = &t.clients.iam;
    let name = &want.name;
    let what = format!("role {name}");
    let inline = want.inline_policies.clone().unwrap_or_default();
    for (policy, doc) in &inline {
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(json(doc))
            .send()
            .await
            .map_err(|e| sdk("iam:PutRolePolicy", &what, e))?;
    }
    for policy in have
        .inline_policies
        .iter()
        .flatten()
        .map(|(p, _)| p)
        .filter(|p| !inline.contains_key(*p))
    {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| sdk("iam:DeleteRolePolicy", &what, e))?;
    }
    let attached = want.attached_policies.clone().unwrap_or_default();
    for arn in have
        .attached_policies
        .iter()
        .flatten()
        .map(|(a, _)| a)
        .filter(|a| !attached.contains_key(*a))
    {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| sdk("iam:DetachRolePolicy", &what, e))?;
    }
    for arn in attached.keys() {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| sdk("iam:AttachRolePolicy", &what, e))?;
    }
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let (name, what) = (c.resource.name.as_str(), c.resource.to_string());
    let iam = &t.clients.iam;
    let have: Role = parse(c.observed.as_ref(), &c.resource)?;
    for p in have.inline_policies.iter().flatten().map(|(p, _)| p) {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .map_err(|e| sdk("iam:DeleteRolePolicy", &what, e))?;
    }
    for a in have.attached_policies.iter().flatten().map(|(a, _)| a) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(a)
            .send()
            .await
            .map_err(|e| sdk("iam:DetachRolePolicy", &what, e))?;
    }
    iam.delete_role()
        .role_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("iam:DeleteRole", &what, e))
}

impl AwsResource for Role {
    const READ_ACTIONS: &'static [&'static str] = &[
        "iam:ListRoles",
        "iam:GetRole",
        "iam:ListRoleTags",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
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
