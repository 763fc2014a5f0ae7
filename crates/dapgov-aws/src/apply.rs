//! Applying one change. A create or update writes every property the desired resource
//! declares (each call is idempotent), so an update after drift and a retry after a failure
//! part-way both converge. A property that depends on a resource created later in the same
//! apply (bucket logging needs the log bucket) is left for the next round of `converge`.

use crate::AwsTarget;
use crate::error::build;
use crate::resources::{
    account, athena, budgets, cloudtrail, cloudwatch, dashboard, glue, iam, kms, logs, s3, sns,
};
use dapgov_inventory::*;
use dapgov_target::{ChangeAction, ChangeRequest, TargetError, TargetResult};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) fn parse<T: DeserializeOwned>(v: Option<&Value>, r: &ResourceRef) -> TargetResult<T> {
    let v = v.ok_or_else(|| TargetError::Other(format!("{r}: no desired state to apply")))?;
    serde_json::from_value(v.clone()).map_err(|e| TargetError::Other(format!("{r}: {e}")))
}

pub(crate) fn parse_opt<T: DeserializeOwned>(v: Option<&Value>) -> Option<T> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
}

pub(crate) async fn change(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let r = &c.resource;
    if matches!(c.action, ChangeAction::Delete | ChangeAction::Replace) {
        delete(t, c).await?;
        if c.action == ChangeAction::Delete {
            return Ok(());
        }
    }
    let create = c.action != ChangeAction::Update;
    let observed = if create { None } else { c.observed.as_ref() };
    match r.kind {
        ResourceKind::AccountSettings => account::put(t, parse(c.desired.as_ref(), r)?).await,
        ResourceKind::Key => kms::put(t, parse(c.desired.as_ref(), r)?, parse_opt(observed)).await,
        ResourceKind::Topic => {
            sns::put(t, parse(c.desired.as_ref(), r)?, parse_opt(observed)).await
        }
        ResourceKind::LogGroup => {
            logs::put(
                t,
                parse(c.desired.as_ref(), r)?,
                parse_opt(observed),
                create,
            )
            .await
        }
        ResourceKind::Role => {
            iam::put(
                t,
                parse(c.desired.as_ref(), r)?,
                parse_opt(observed),
                create,
            )
            .await
        }
        ResourceKind::Bucket => {
            s3::put(
                t,
                parse(c.desired.as_ref(), r)?,
                parse_opt(observed),
                create,
            )
            .await
        }
        ResourceKind::Trail => cloudtrail::put(t, parse(c.desired.as_ref(), r)?, create).await,
        ResourceKind::Alarm => cloudwatch::put(t, parse(c.desired.as_ref(), r)?, create).await,
        ResourceKind::Budget => {
            budgets::put(
                t,
                parse(c.desired.as_ref(), r)?,
                parse_opt(observed),
                create,
            )
            .await
        }
        ResourceKind::GlueSecurityConfiguration => {
            glue::put_security_configuration(t, parse(c.desired.as_ref(), r)?, create).await
        }
        ResourceKind::GlueDatabase => glue::put_database(t, parse(c.desired.as_ref(), r)?).await,
        ResourceKind::AthenaWorkgroup => {
            athena::put(t, parse(c.desired.as_ref(), r)?, create).await
        }
        ResourceKind::Dashboard => dashboard::put(t, parse(c.desired.as_ref(), r)?).await,
    }
}

/// A JSON value as the text a service takes (policies, configurations).
pub(crate) fn json(v: &Value) -> String {
    serde_json::to_string(v).expect("JSON values serialize")
}

/// A resource's tags as one service's SDK tag type; `what` names that type in a build error.
pub(crate) fn sdk_tags<'a, T, E: std::fmt::Display>(
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
    what: &str,
    make: impl Fn(&str, &str) -> Result<T, E>,
) -> TargetResult<Vec<T>> {
    tags.into_iter()
        .map(|(k, v)| make(k, v).map_err(|e| build(what, e)))
        .collect()
}

async fn delete(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    match c.resource.kind {
        ResourceKind::AccountSettings => Err(TargetError::Refused {
            resource: c.resource.to_string(),
            message: "account settings are never removed".into(),
        }),
        ResourceKind::Bucket => s3::delete(t, &c.resource.name, c.force_delete_data).await,
        ResourceKind::Key => kms::delete(t, c).await,
        ResourceKind::Role => iam::delete(t, c).await,
        ResourceKind::Topic => sns::delete(t, c).await,
        ResourceKind::LogGroup => logs::delete(t, c).await,
        ResourceKind::Trail => cloudtrail::delete(t, c).await,
        ResourceKind::Alarm => cloudwatch::delete(t, c).await,
        ResourceKind::Budget => budgets::delete(t, c).await,
        ResourceKind::GlueSecurityConfiguration => glue::delete_security_configuration(t, c).await,
        ResourceKind::GlueDatabase => glue::delete_database(t, c).await,
        ResourceKind::AthenaWorkgroup => athena::delete(t, c).await,
        ResourceKind::Dashboard => dashboard::delete(t, c).await,
    }
}
