//! Applying one change. A create or update writes every property the desired resource
//! declares (each call is idempotent), so an update after drift and a retry after a failure
//! part-way both converge. A property that depends on a resource created later in the same
//! apply (bucket logging needs the log bucket) is left for the next round of `converge`.

use crate::AwsTarget;
use crate::error::build;
use crate::resources::AwsResource;
use dapgov_inventory::*;
use dapgov_target::{ChangeAction, ChangeRequest, TargetError, TargetResult};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub(crate) fn parse<T: DeserializeOwned>(v: Option<&Value>, r: &ResourceRef) -> TargetResult<T> {
    let v = v.ok_or_else(|| TargetError::Other(format!("{r}: no recorded state to apply")))?;
    serde_json::from_value(v.clone()).map_err(|e| TargetError::Other(format!("{r}: {e}")))
}

pub(crate) async fn change(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    with_kind!(c.resource.kind, R => change_kind::<R>(t, c).await)
}

async fn change_kind<R: AwsResource>(t: &AwsTarget, c: &ChangeRequest) -> TargetResult<()> {
    let r = &c.resource;
    if matches!(c.action, ChangeAction::Delete | ChangeAction::Replace) {
        R::delete(t, c).await?;
        if c.action == ChangeAction::Delete {
            return Ok(());
        }
    }
    let have = match c.action {
        ChangeAction::Update => Some(parse::<R>(c.observed.as_ref(), r)?),
        _ => None,
    };
    R::put(t, parse(c.desired.as_ref(), r)?, have).await
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
