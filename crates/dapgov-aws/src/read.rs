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

/// The IAM actions reading the Inventory needs: the auditor role must allow each. Tests hold
/// this list to the calls this crate makes and to the shipped auditor policy.
pub const INVENTORY_READ_ACTIONS: &[&str] = &[
    "s3:ListAllMyBuckets",
    "s3:GetAccountPublicAccessBlock",
    "s3:GetBucketAcl",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "kms:ListAliases",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "iam:ListRoles",
    "iam:GetRole",
    "iam:ListRoleTags",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetAccountPasswordPolicy",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:ListTags",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:ListTagsForResource",
    "sns:ListTopics",
    "sns:GetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:ListTagsForResource",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListDashboards",
    "cloudwatch:GetDashboard",
    // Budgets authorizes every describe call as ViewBudget.
    "budgets:ViewBudget",
    "glue:GetDatabases",
    "glue:GetTables",
    "glue:GetSecurityConfigurations",
    "athena:ListWorkGroups",
    "athena:GetWorkGroup",
    "athena:ListTagsForResource",
    "ce:ListCostAllocationTags",
    "ce:GetCostAndUsage",
    "ce:GetCostForecast",
];

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
        (account, unreadable_account),
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
    let mut inventory = Inventory {
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
        unreadable: unreadable
            .into_iter()
            .chain(unreadable_keys)
            .chain(unreadable_account)
            .collect(),
        not_managed: Default::default(),
    };
    inventory.retain_owned();
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::INVENTORY_READ_ACTIONS;

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
            include_str!("resources/glue.rs"),
            include_str!("resources/iam.rs"),
            include_str!("resources/kms.rs"),
            include_str!("resources/logs.rs"),
            include_str!("resources/s3.rs"),
            include_str!("resources/sns.rs"),
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
        let unlisted: Vec<&String> = calls
            .iter()
            .filter(|c| !INVENTORY_READ_ACTIONS.contains(&c.as_str()))
            .collect();
        assert!(
            unlisted.is_empty(),
            "calls missing from INVENTORY_READ_ACTIONS: {unlisted:?}"
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
        let refused: Vec<&&str> = INVENTORY_READ_ACTIONS
            .iter()
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
