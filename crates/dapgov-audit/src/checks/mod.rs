//! The code half of each check: pure functions over the Inventory.
//!
//! Every function returns one outcome per resource it applies to (PASS, FAIL or
//! NOT_APPLICABLE with a one-line reason). A check that finds no resource at all is reported
//! NOT_APPLICABLE by the engine.

mod cloudtrail;
mod cloudwatch;
mod cost;
mod glue_athena;
pub(crate) mod iam;
mod kms;
mod loader;
mod ops;
mod region;
mod s3;

use crate::context::{Ctx, Outcome};
use dapgov_policy::{Document, Statement, wildcard_match};
use serde_json::Value;

pub(crate) type CheckFn = fn(&Ctx) -> Vec<Outcome>;

const REGISTRY: &[(&str, CheckFn)] = &[
    // security
    ("s3_bucket_kms_encryption", s3::kms_encryption),
    (
        "sqs_queue_kms_encryption",
        loader::dead_letter_queue_encrypted,
    ),
    (
        "lambda_function_not_publicly_accessible",
        loader::function_not_publicly_accessible,
    ),
    (
        "lambda_function_code_matches_package",
        loader::function_code_matches_package,
    ),
    ("s3_bucket_zone_key", s3::zone_key),
    (
        "s3_bucket_level_public_access_block",
        s3::bucket_public_access_block,
    ),
    (
        "s3_account_level_public_access_blocks",
        s3::account_public_access_block,
    ),
    (
        "s3_bucket_secure_transport_policy",
        s3::secure_transport_policy,
    ),
    ("s3_bucket_tls_minimum_version", s3::tls_minimum_version),
    ("s3_bucket_acl_prohibited", s3::acl_prohibited),
    ("s3_bucket_public_access", s3::public_access),
    (
        "s3_bucket_policy_public_write_access",
        s3::policy_public_write_access,
    ),
    ("s3_bucket_cross_account_access", s3::cross_account_access),
    (
        "s3_bucket_deny_unencrypted_uploads",
        s3::deny_unencrypted_uploads,
    ),
    (
        "s3_bucket_server_access_logging_enabled",
        s3::server_access_logging,
    ),
    ("s3_bucket_classification_tags", s3::classification_tags),
    ("kms_cmk_rotation_enabled", kms::rotation_enabled),
    ("kms_key_rotation_period", kms::rotation_period),
    (
        "kms_key_not_publicly_accessible",
        kms::not_publicly_accessible,
    ),
    (
        "kms_key_policy_separation_of_duties",
        kms::separation_of_duties,
    ),
    (
        "kms_cmk_not_deleted_unintentionally",
        kms::not_pending_deletion_in_use,
    ),
    (
        "iam_inline_policy_no_administrative_privileges",
        iam::inline_no_admin,
    ),
    (
        "iam_role_administratoraccess_policy",
        iam::administrator_access_attached,
    ),
    (
        "iam_role_no_full_service_access",
        iam::no_full_service_access,
    ),
    (
        "iam_role_no_write_on_all_resources",
        iam::no_write_on_all_resources,
    ),
    (
        "iam_role_no_passrole_on_all_resources",
        iam::no_passrole_on_all,
    ),
    (
        "iam_policy_allows_privilege_escalation",
        iam::privilege_escalation,
    ),
    (
        "iam_role_cross_service_confused_deputy_prevention",
        iam::confused_deputy,
    ),
    ("iam_role_trust_requires_mfa", iam::trust_requires_mfa),
    (
        "iam_role_trust_no_external_principals",
        iam::trust_no_external,
    ),
    (
        "iam_role_analyst_cannot_read_pii_zones",
        iam::analyst_cannot_read_pii,
    ),
    ("iam_role_auditor_read_only", iam::auditor_read_only),
    (
        "iam_role_etl_cannot_delete_landing",
        iam::etl_cannot_delete_landing,
    ),
    (
        "iam_password_policy_minimum_length_14",
        iam::password_length,
    ),
    ("iam_password_policy_complexity", iam::password_complexity),
    ("iam_password_policy_reuse_24", iam::password_reuse),
    ("iam_password_policy_max_age_90", iam::password_max_age),
    (
        "cloudtrail_account_trail_logging",
        cloudtrail::account_trail_logging,
    ),
    ("cloudtrail_multi_region_enabled", cloudtrail::multi_region),
    (
        "cloudtrail_log_file_validation_enabled",
        cloudtrail::log_file_validation,
    ),
    (
        "cloudtrail_kms_encryption_enabled",
        cloudtrail::kms_encryption,
    ),
    ("cloudtrail_logging_enabled", cloudtrail::logging_on),
    (
        "cloudtrail_global_service_events",
        cloudtrail::global_events,
    ),
    (
        "cloudtrail_s3_dataevents_pii_zones",
        cloudtrail::data_events_pii_zones,
    ),
    (
        "cloudtrail_logs_s3_bucket_is_not_publicly_accessible",
        cloudtrail::bucket_not_public,
    ),
    (
        "cloudtrail_logs_s3_bucket_access_logging_enabled",
        cloudtrail::bucket_access_logging,
    ),
    (
        "cloudtrail_bucket_policy_source_arn",
        cloudtrail::bucket_policy_source_arn,
    ),
    (
        "cloudwatch_log_group_kms_encryption_enabled",
        cloudwatch::log_group_kms,
    ),
    (
        "sns_topics_kms_encryption_at_rest_enabled",
        cloudwatch::topic_kms,
    ),
    (
        "glue_security_configuration_kms_encryption",
        glue_athena::security_configuration_kms,
    ),
    (
        "athena_workgroup_encryption",
        glue_athena::workgroup_encryption,
    ),
    (
        "athena_workgroup_results_in_platform_bucket",
        glue_athena::results_in_platform_bucket,
    ),
    (
        "platform_resources_in_platform_region",
        region::resources_in_platform_region,
    ),
    // reliability
    ("s3_bucket_object_versioning", s3::versioning),
    (
        "s3_bucket_trail_logs_delete_protected",
        s3::trail_logs_delete_protected,
    ),
    (
        "s3_bucket_lifecycle_respects_retention",
        s3::lifecycle_respects_retention,
    ),
    (
        "s3_bucket_lifecycle_keeps_table_files",
        s3::lifecycle_keeps_table_files,
    ),
    ("s3_zone_buckets_present", s3::zone_buckets_present),
    ("kms_key_in_use_enabled", kms::in_use_enabled),
    (
        "cloudwatch_alarm_actions_enabled",
        cloudwatch::alarm_actions_enabled,
    ),
    (
        "cloudwatch_alarm_action_topic_exists",
        cloudwatch::alarm_action_topic_exists,
    ),
    (
        "sns_topic_has_subscriptions",
        cloudwatch::topic_has_subscriptions,
    ),
    ("etl_latest_run_succeeded", ops::latest_run_succeeded),
    (
        "lambda_function_dead_letter_queue",
        loader::function_dead_letter_queue,
    ),
    (
        "lambda_function_reserved_concurrency",
        loader::function_reserved_concurrency,
    ),
    ("etl_dataset_fresh", ops::etl_dataset_fresh),
    // operational excellence
    ("tagging_required_tags", ops::required_tags),
    (
        "lambda_function_logs_retained",
        loader::function_logs_retained,
    ),
    (
        "cloudwatch_log_metric_filter_unauthorized_api_calls",
        cloudwatch::filter_unauthorized_api_calls,
    ),
    (
        "cloudwatch_log_metric_filter_console_sign_in_without_mfa",
        cloudwatch::filter_console_sign_in_without_mfa,
    ),
    (
        "cloudwatch_log_metric_filter_root_account_usage",
        cloudwatch::filter_root_account_usage,
    ),
    (
        "cloudwatch_log_metric_filter_console_sign_in_failures",
        cloudwatch::filter_console_sign_in_failures,
    ),
    (
        "cloudwatch_log_metric_filter_kms_key_disable_or_deletion",
        cloudwatch::filter_kms_key_disable_or_deletion,
    ),
    (
        "cloudwatch_log_metric_filter_bucket_policy_changes",
        cloudwatch::filter_bucket_policy_changes,
    ),
    (
        "cloudwatch_log_metric_filter_iam_policy_changes",
        cloudwatch::filter_iam_policy_changes,
    ),
    (
        "cloudwatch_log_metric_filter_cloudtrail_changes",
        cloudwatch::filter_cloudtrail_changes,
    ),
    (
        "cloudwatch_etl_failure_alarm",
        cloudwatch::etl_failure_alarm,
    ),
    (
        "cloudwatch_dashboard_present",
        cloudwatch::dashboard_present,
    ),
    (
        "cloudtrail_cloudwatch_logging_enabled",
        cloudtrail::cloudwatch_logging,
    ),
    (
        "cloudwatch_log_group_retention_minimum",
        cloudwatch::log_group_retention_minimum,
    ),
    ("etl_recent_run_manifest", ops::recent_run_manifest),
    // performance efficiency
    ("s3_bucket_key_enabled", s3::bucket_key_enabled),
    ("glue_table_typed_columns", glue_athena::table_typed),
    ("glue_table_parquet_format", glue_athena::table_parquet),
    ("glue_table_partitioned", glue_athena::table_partitioned),
    (
        "athena_workgroup_enforce_configuration",
        glue_athena::workgroup_enforced,
    ),
    (
        "athena_workgroup_publish_metrics",
        glue_athena::workgroup_metrics,
    ),
    // cost optimization
    ("budgets_monthly_budget_present", cost::budget_present),
    (
        "budgets_actual_and_forecast_notifications",
        cost::budget_notifications,
    ),
    ("budgets_spend_within_limit", cost::spend_within_limit),
    (
        "ce_cost_allocation_tag_project_active",
        cost::project_tag_active,
    ),
    (
        "cloudwatch_billing_alarm_us_east_1",
        cloudwatch::billing_alarm,
    ),
    ("s3_bucket_lifecycle_abort_multipart", s3::abort_multipart),
    ("s3_bucket_lifecycle_transitions", s3::lifecycle_transitions),
    (
        "s3_bucket_noncurrent_version_expiration",
        s3::noncurrent_expiration,
    ),
    ("s3_bucket_landing_expiration", s3::landing_expiration),
    (
        "athena_workgroup_bytes_scanned_cutoff",
        glue_athena::bytes_scanned_cutoff,
    ),
    (
        "cloudwatch_log_group_retention_bounded",
        cloudwatch::log_group_retention_bounded,
    ),
];

pub(crate) fn implementation(id: &str) -> Option<CheckFn> {
    REGISTRY.iter().find(|(i, _)| *i == id).map(|(_, f)| *f)
}

pub(crate) fn ids() -> Vec<&'static str> {
    REGISTRY.iter().map(|(i, _)| *i).collect()
}

// ---- policy helpers shared by the checks ----

/// Condition keys that confine a public principal to known callers.
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "kms:calleraccount",
];

pub(crate) fn parse(v: &Option<Value>) -> Option<Document> {
    v.as_ref().and_then(|v| Document::parse(v).ok())
}

pub(crate) fn covers(st: &Statement, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    st.actions()
        .iter()
        .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action))
}

/// Values of a condition `operator` (any `...IfExists` form included) on `key`, case-insensitively.
pub(crate) fn condition_values(st: &Statement, operator: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (op, keys) in st.condition.iter().flatten() {
        let op_base = op.strip_suffix("IfExists").unwrap_or(op);
        if !op_base.eq_ignore_ascii_case(operator) {
            continue;
        }
        for (k, values) in keys {
            if k.eq_ignore_ascii_case(key) {
                out.extend(values.as_slice().iter().map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            }
        }
    }
    out
}

fn has_restricting_condition(st: &Statement) -> bool {
    st.condition.iter().flatten().any(|(_, keys)| {
        keys.keys()
            .any(|k| RESTRICTING_KEYS.contains(&k.to_ascii_lowercase().as_str()))
    })
}

/// An Allow that anyone at all can use.
pub(crate) fn is_public_allow(st: &Statement) -> bool {
    st.is_allow()
        && st.principal.as_ref().is_some_and(|p| p.is_public())
        && !has_restricting_condition(st)
}

/// AWS principals (accounts or ARNs) outside `account` named by an Allow statement.
pub(crate) fn foreign_principals(st: &Statement, account: &str) -> Vec<String> {
    if !st.is_allow() {
        return vec![];
    }
    let Some(p) = &st.principal else {
        return vec![];
    };
    p.identifiers()
        .into_iter()
        .filter(|(kind, _)| kind == "AWS")
        .map(|(_, id)| id)
        .filter(|id| id != "*" && principal_account(id) != Some(account))
        .collect()
}

fn principal_account(id: &str) -> Option<&str> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(id);
    }
    dapgov_inventory::names::account_of(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_id_is_unique() {
        let mut ids = ids();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn foreign_principals_ignore_own_account() {
        let doc = Document::parse(&serde_json::json!({"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "222222222222", "arn:aws:iam::111111111111:role/x"]},
            "Action": "s3:GetObject", "Resource": "*"}]}))
        .unwrap();
        assert_eq!(
            foreign_principals(&doc.statements()[0], "111111111111"),
            vec!["222222222222".to_string()]
        );
    }
}
