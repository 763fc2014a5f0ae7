//! The Athena workgroup: read with its configuration and tags; put; deleted.

use crate::AwsTarget;
use crate::error::{build, sdk};
use crate::read::tags_from;
use crate::resources::{AwsResource, Found, ReadScope};
use dapgov_inventory::names::project_prefix;
use dapgov_inventory::*;
use dapgov_target::{ChangeRequest, TargetResult};
use std::collections::BTreeMap;

async fn read_all(
    t: &AwsTarget,
    project: &str,
    account: &str,
) -> TargetResult<BTreeMap<String, AthenaWorkgroup>> {
    let a = &t.clients.athena;
    let list = a
        .list_work_groups()
        .send()
        .await
        .map_err(|e| sdk("athena:ListWorkGroups", "the account", e))?;
    let mut out = BTreeMap::new();
    for w in list
        .work_groups()
        .iter()
        .filter_map(|w| w.name())
        .filter(|n| n.starts_with(&project_prefix(project)))
    {
        let what = format!("workgroup {w}");
        let got = a
            .get_work_group()
            .work_group(w)
            .send()
            .await
            .map_err(|e| sdk("athena:GetWorkGroup", &what, e))?;
        let c = got.work_group().and_then(|g| g.configuration());
        let result = c.and_then(|c| c.result_configuration());
        let arn = Arns::new(account, &t.region).workgroup(w);
        let tags = tags_from(
            a.list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| sdk("athena:ListTagsForResource", &what, e))?
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                }),
        );
        out.insert(
            w.to_string(),
            AthenaWorkgroup {
                name: w.to_string(),
                enforce_configuration: c.and_then(|c| c.enforce_work_group_configuration()),
                result_location: result.and_then(|r| r.output_location()).map(str::to_string),
                result_kms_key: result
                    .and_then(|r| r.encryption_configuration())
                    .and_then(|e| e.kms_key())
                    .map(str::to_string),
                bytes_scanned_cutoff: c
                    .and_then(|c| c.bytes_scanned_cutoff_per_query())
                    .map(|b| b as u64),
                publish_metrics: c.and_then(|c| c.publish_cloud_watch_metrics_enabled()),
                engine_version: c
                    .and_then(|c| c.engine_version())
                    .and_then(|e| e.selected_engine_version())
                    .map(str::to_string),
                tags: Some(tags),
            },
        );
    }
    Ok(out)
}

async fn put(
    t: &AwsTarget,
    want: AthenaWorkgroup,
    have: Option<AthenaWorkgroup>,
) -> TargetResult<()> {
    let create = have.is_none();
    use aws_sdk_athena::types::*;
    let a = &t.clients.athena;
    let what = format!("workgroup {}", want.name);
    let encryption = match &want.result_kms_key {
        Some(k) => Some(
            EncryptionConfiguration::builder()
                .encryption_option(EncryptionOption::SseKms)
                .kms_key(k)
                .build()
                .map_err(|e| build("result encryption", e))?,
        ),
        None => None,
    };
    let tags: Vec<Tag> = want
        .tags
        .iter()
        .flatten()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if create {
        let result = ResultConfiguration::builder()
            .set_output_location(want.result_location.clone())
            .set_encryption_configuration(encryption)
            .build();
        let conf = WorkGroupConfiguration::builder()
            .set_engine_version(
                want.engine_version
                    .as_ref()
                    .map(|v| EngineVersion::builder().selected_engine_version(v).build()),
            )
            .set_enforce_work_group_configuration(want.enforce_configuration)
            .set_publish_cloud_watch_metrics_enabled(want.publish_metrics)
            .set_bytes_scanned_cutoff_per_query(want.bytes_scanned_cutoff.map(|b| b as i64))
            .result_configuration(result)
            .build();
        a.create_work_group()
            .name(&want.name)
            .configuration(conf)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk("athena:CreateWorkGroup", &what, e))?;
        return Ok(());
    }
    let result = ResultConfigurationUpdates::builder()
        .set_output_location(want.result_location.clone())
        .set_encryption_configuration(encryption)
        .build();
    let mut updates = WorkGroupConfigurationUpdates::builder()
        .set_engine_version(
            want.engine_version
                .as_ref()
                .map(|v| EngineVersion::builder().selected_engine_version(v).build()),
        )
        .set_enforce_work_group_configuration(want.enforce_configuration)
        .set_publish_cloud_watch_metrics_enabled(want.publish_metrics)
        .result_configuration_updates(result);
    updates = match want.bytes_scanned_cutoff {
        Some(b) => updates.bytes_scanned_cutoff_per_query(b as i64),
        None => updates.remove_bytes_scanned_cutoff_per_query(true),
    };
    a.update_work_group()
        .work_group(&want.name)
        .configuration_updates(updates.build())
        .send()
        .await
        .map_err(|e| sdk("athena:UpdateWorkGroup", &what, e))?;
    let arn = t.arns().await?.workgroup(&want.name);
    a.tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| sdk("athena:TagResource", &what, e))?;
    Ok(())
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let what = c.resource.to_string();
    t.clients
        .athena
        .delete_work_group()
        .work_group(&c.resource.name)
        .recursive_delete_option(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| sdk("athena:DeleteWorkGroup", &what, e))
}

impl AwsResource for AthenaWorkgroup {
    const READ_ACTIONS: &'static [&'static str] = &[
        "athena:ListWorkGroups",
        "athena:GetWorkGroup",
        "athena:ListTagsForResource",
    ];
    async fn read_all(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Found<Self>> {
        Ok(read_all(t, scope.project, scope.account).await?.into())
    }
    async fn put(t: &AwsTarget, want: Self, have: Option<Self>) -> TargetResult<()> {
        put(t, want, have).await
    }
    async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
        delete(t, c).await
    }
}
