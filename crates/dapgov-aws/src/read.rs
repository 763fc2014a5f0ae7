//! Reading the Inventory: every resource named for the project, every property dapgov
//! manages, read concurrently, each kind by its file in `resources/`.

use crate::AwsTarget;
use crate::error::{code, sdk};
use crate::resources::{
    account, athena, budgets, cloudtrail, cloudwatch, dashboard, glue, iam, kms, logs, s3, sns,
};
use aws_smithy_runtime_api::client::result::SdkError;
use dapgov_inventory::*;
use dapgov_target::{TargetError, TargetResult};
use serde_json::Value;

/// `Ok(None)` when the service says the thing is absent (one of `codes`).
pub(crate) fn absent<T, E, R>(
    r: Result<T, SdkError<E, R>>,
    codes: &[&str],
    action: &str,
    resource: &str,
) -> TargetResult<Option<T>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if code(&e).is_some_and(|c| codes.contains(&c)) => Ok(None),
        Err(e) => Err(sdk(action, resource, e)),
    }
}

/// IAM returns policy documents URL-encoded.
pub(crate) fn policy_json(text: &str, what: &str) -> TargetResult<Value> {
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map_err(|e| TargetError::Other(format!("{what}: policy is not UTF-8: {e}")))?;
    serde_json::from_str(&decoded)
        .map_err(|e| TargetError::Other(format!("{what}: policy is not JSON: {e}")))
}

pub(crate) fn tags_from<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Tags {
    pairs.into_iter().collect()
}

pub(crate) async fn inventory(t: &AwsTarget, project: &str) -> TargetResult<Inventory> {
    let account_id = t.account().await?;
    let (
        buckets,
        (keys, unreadable_keys),
        roles,
        trails,
        log_groups,
        topics,
        alarms,
        (budgets, unreadable),
        (glue_databases, glue_security_configurations),
        athena_workgroups,
        account,
        dashboards,
    ) = tokio::try_join!(
        s3::read_all(t, project),
        kms::read_all(t, project),
        iam::read_all(t, project),
        cloudtrail::read_all(t, project),
        logs::read_all(t, project),
        sns::read_all(t, project),
        cloudwatch::read_all(t, project),
        budgets::read_all(t, project, &account_id),
        glue::read_all(t, project),
        athena::read_all(t, project, &account_id),
        account::read(t, &account_id),
        dashboard::read_all(t, project),
    )?;
    Ok(Inventory {
        schema_version: SCHEMA_VERSION,
        target: "aws".into(),
        account_id,
        region: t.region.clone(),
        project: project.into(),
        buckets,
        keys,
        roles,
        trails,
        log_groups,
        topics,
        alarms,
        budgets,
        glue_databases,
        glue_security_configurations,
        athena_workgroups,
        dashboards,
        account,
        etl_runs: cloudwatch::etl_runs(t, project).await?,
        unreadable: unreadable.into_iter().chain(unreadable_keys).collect(),
    })
}
