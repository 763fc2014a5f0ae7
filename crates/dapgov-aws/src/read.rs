//! Reading the Inventory: every resource named for the project, every property dapgov
//! manages, read concurrently, each kind by its file in `resources/`.

use crate::AwsTarget;
use crate::error::{code, sdk};
use crate::resources::{AwsResource, ReadScope, cloudwatch};
use aws_smithy_runtime_api::client::result::SdkError;
use dapgov_inventory::*;
use dapgov_target::{TargetError, TargetResult};
use futures::FutureExt;
use serde_json::Value;

/// The IAM actions reading the Inventory needs: each kind's, and those of the ETL runs and
/// cost read beside them. The auditor role must allow each; tests hold this list to the calls
/// this crate makes and to the shipped auditor policy.
pub fn inventory_read_actions() -> Vec<&'static str> {
    const BESIDE_THE_KINDS: &[&str] = &[
        // The ETL runs, from the metrics they published.
        "cloudwatch:ListMetrics",
        "cloudwatch:GetMetricStatistics",
        // Cost Explorer, read with the Inventory for the cost report.
        "ce:GetCostAndUsage",
        "ce:GetCostForecast",
    ];
    let mut actions: Vec<&'static str> = ResourceKind::ALL
        .iter()
        .flat_map(|k| {
            with_kind!(*k, R => <R as AwsResource>::READ_ACTIONS)
                .iter()
                .copied()
        })
        .chain(BESIDE_THE_KINDS.iter().copied())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    actions
}

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

/// What one kind's read found, ready to be put in its place in the Inventory.
type Placed = Box<dyn FnOnce(&mut Inventory) + Send>;

async fn read_kind<R: AwsResource>(t: &AwsTarget, scope: &ReadScope<'_>) -> TargetResult<Placed> {
    let found = R::read_all(t, scope).await?;
    Ok(Box::new(move |inv: &mut Inventory| {
        for (name, resource) in found.resources {
            R::insert(inv, name, resource);
        }
        inv.unreadable.extend(found.unreadable);
    }))
}

pub(crate) async fn inventory(t: &AwsTarget, project: &str) -> TargetResult<Inventory> {
    let account_id = t.account().await?;
    let scope = ReadScope {
        project,
        account: &account_id,
    };
    let reads = ResourceKind::ALL
        .iter()
        .map(|k| with_kind!(*k, R => read_kind::<R>(t, &scope).boxed()));
    let (found, etl_runs) = tokio::try_join!(
        futures::future::try_join_all(reads),
        cloudwatch::etl_runs(t, project)
    )?;
    let mut inventory = Inventory {
        schema_version: SCHEMA_VERSION,
        target: "aws".into(),
        account_id: account_id.clone(),
        region: t.region.clone(),
        project: project.into(),
        etl_runs,
        ..Default::default()
    };
    for place in found {
        place(&mut inventory);
    }
    inventory.retain_owned();
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::inventory_read_actions;

    /// The `service:Action` names the reading code reports in its errors.
    fn read_calls() -> Vec<String> {
        let sources = [
            include_str!("read.rs"),
            include_str!("cost.rs"),
            include_str!("resources/account.rs"),
            include_str!("resources/athena.rs"),
            include_str!("resources/budgets.rs"),
            include_str!("resources/cloudtrail.rs"),
            include_str!("resources/cloudwatch.rs"),
            include_str!("resources/dashboard.rs"),
            include_str!("resources/events.rs"),
            include_str!("resources/glue.rs"),
            include_str!("resources/iam.rs"),
            include_str!("resources/kms.rs"),
            include_str!("resources/lambda.rs"),
            include_str!("resources/logs.rs"),
            include_str!("resources/s3/mod.rs"),
            include_str!("resources/s3/encryption.rs"),
            include_str!("resources/s3/lifecycle.rs"),
            include_str!("resources/s3/logging.rs"),
            include_str!("resources/s3/notification.rs"),
            include_str!("resources/s3/object_lock.rs"),
            include_str!("resources/s3/ownership.rs"),
            include_str!("resources/s3/policy.rs"),
            include_str!("resources/s3/public_access_block.rs"),
            include_str!("resources/s3/tags.rs"),
            include_str!("resources/s3/versioning.rs"),
            include_str!("resources/scheduler.rs"),
            include_str!("resources/sns.rs"),
            include_str!("resources/sqs.rs"),
        ];
        let mut calls: Vec<String> = sources
            .iter()
            .flat_map(|s| s.split('"').skip(1).step_by(2))
            .filter(|lit| {
                lit.split_once(':').is_some_and(|(svc, op)| {
                    !svc.is_empty()
                        && svc
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                        && ["Get", "List", "Describe"]
                            .iter()
                            .any(|v| op.starts_with(v))
                        && op.bytes().all(|b| b.is_ascii_alphanumeric())
                })
            })
            // Emptying a bucket to delete it lists its versions; reading never does.
            .filter(|lit| *lit != "s3:ListBucketVersions")
            .map(|lit| {
                if lit.starts_with("budgets:") {
                    "budgets:ViewBudget".to_string()
                } else {
                    lit.to_string()
                }
            })
            .collect();
        calls.sort();
        calls.dedup();
        calls
    }

    #[test]
    fn the_list_names_every_call_the_reading_makes() {
        let calls = read_calls();
        assert!(calls.len() > 30, "{calls:?}");
        let listed = inventory_read_actions();
        let unlisted: Vec<&String> = calls
            .iter()
            .filter(|c| !listed.contains(&c.as_str()))
            .collect();
        assert!(
            unlisted.is_empty(),
            "calls missing from inventory_read_actions(): {unlisted:?}"
        );
    }

    #[test]
    fn the_shipped_auditor_role_may_make_every_read() {
        let spec = dapgov_spec::Spec::parse(
            &dapgov_spec::init_text("van311", dapgov_spec::Target::Aws).unwrap(),
            "dapgov.toml",
        )
        .unwrap();
        let names = spec.names("123456789012");
        let inv = dapgov_spec::desired(&spec, &Default::default(), "123456789012").unwrap();
        let role = &inv.roles[&names.role("auditor")];
        let policy = &role.inline_policies.as_ref().unwrap()[&names.role_policy("auditor")];
        let doc = dapgov_policy::Document::parse(policy).unwrap();
        let refused: Vec<&str> = inventory_read_actions()
            .into_iter()
            .filter(|a| {
                let req = dapgov_policy::Request {
                    action: a.to_string(),
                    resource: "*".into(),
                    principal: names.role_arn("auditor"),
                    context: Default::default(),
                };
                !dapgov_policy::evaluate(&[&doc], &req, false).is_allowed()
            })
            .collect();
        assert!(
            refused.is_empty(),
            "the auditor role cannot read the Inventory: {refused:?}"
        );
    }
}
