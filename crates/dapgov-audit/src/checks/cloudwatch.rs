//! CloudWatch Logs groups and metric filters, alarms, and the SNS topics alarms notify.

use crate::context::{Ctx, Outcome};
use dapgov_inventory::names::{account_of, service_of};
use dapgov_inventory::{Alarm, BILLING_NAMESPACE, BILLING_REGION};

/// Longest retention that still counts as bounded (ten years).
const MAX_RETENTION_DAYS: u32 = 3653;
/// Shortest retention that leaves time to investigate an incident.
const MIN_RETENTION_DAYS: u32 = 365;

pub fn log_group_kms(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .log_groups
        .values()
        .map(|g| {
            let r = ctx.log_group(g);
            match &g.kms_key {
                Some(k) => Outcome::pass(r, format!("events are encrypted with {k}")),
                None => Outcome::fail(r, "events are encrypted only with the service's own keys"),
            }
        })
        .collect()
}

pub fn log_group_retention_minimum(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .log_groups
        .values()
        .map(|g| {
            let r = ctx.log_group(g);
            match g.retention_days {
                None => Outcome::pass(r, "events never expire"),
                Some(d) if d >= MIN_RETENTION_DAYS => Outcome::pass(r, format!("events are kept {d} days")),
                Some(d) => Outcome::fail(r, format!("events are kept only {d} days, less than the {MIN_RETENTION_DAYS} an investigation may need")),
            }
        })
        .collect()
}

pub fn log_group_retention_bounded(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .log_groups
        .values()
        .map(|g| {
            let r = ctx.log_group(g);
            match g.retention_days {
                None => Outcome::fail(r, "events never expire and are billed forever"),
                Some(d) if d <= MAX_RETENTION_DAYS => {
                    Outcome::pass(r, format!("events expire after {d} days"))
                }
                Some(d) => {
                    Outcome::fail(r, format!("events are kept {d} days, more than ten years"))
                }
            }
        })
        .collect()
}

pub fn topic_kms(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .topics
        .values()
        .map(|t| {
            let r = ctx.topic(t);
            match &t.kms_key {
                Some(k) => Outcome::pass(r, format!("messages are encrypted with {k}")),
                None => Outcome::fail(r, "messages are not encrypted at rest"),
            }
        })
        .collect()
}

fn has_actions(a: &Alarm) -> bool {
    a.actions_enabled == Some(true) && a.alarm_actions.as_ref().is_some_and(|x| !x.is_empty())
}

pub fn alarm_actions_enabled(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .alarms
        .values()
        .map(|a| {
            let r = ctx.alarm(&a.name, a.region.as_deref());
            let failure = if a.actions_enabled != Some(true) {
                Some("alarm actions are disabled: it changes state silently".to_string())
            } else if a.alarm_actions.as_ref().is_none_or(|x| x.is_empty()) {
                Some("the alarm has no action for the ALARM state".to_string())
            } else {
                None
            };
            Outcome::verdict(
                r,
                failure,
                format!(
                    "notifies {}",
                    a.alarm_actions.clone().unwrap_or_default().join(", ")
                ),
            )
        })
        .collect()
}

pub fn alarm_action_topic_exists(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .alarms
        .values()
        .map(|a| {
            let r = ctx.alarm(&a.name, a.region.as_deref());
            let topics: Vec<&String> = a
                .alarm_actions
                .iter()
                .flatten()
                .filter(|x| {
                    service_of(x) == Some("sns")
                        && account_of(x) == Some(ctx.inv.account_id.as_str())
                })
                .collect();
            if topics.is_empty() {
                return Outcome::not_applicable(
                    r,
                    "the alarm notifies no SNS topic of this account",
                );
            }
            let missing: Vec<&str> = topics
                .iter()
                .filter(|arn| !ctx.inv.topics.values().any(|t| ctx.topic(t).arn == ***arn))
                .map(|s| s.as_str())
                .collect();
            Outcome::verdict(
                r,
                (!missing.is_empty()).then(|| {
                    format!(
                        "the alarm notifies {}, which does not exist",
                        missing.join(", ")
                    )
                }),
                "every topic the alarm notifies exists",
            )
        })
        .collect()
}

pub fn topic_has_subscriptions(ctx: &Ctx) -> Vec<Outcome> {
    ctx.inv
        .topics
        .values()
        .map(|t| {
            let r = ctx.topic(t);
            match t.subscriptions.as_deref() {
                Some(s) if !s.is_empty() => Outcome::pass(r, format!("{} subscriber(s)", s.len())),
                _ => Outcome::fail(r, "nobody is subscribed: alarms sent here reach no one"),
            }
        })
        .collect()
}

/// True when `token` occurs in `pattern` as a whole word or phrase, so `CreatePolicy` is not
/// satisfied by `CreatePolicyVersion` alone.
fn mentions(pattern: &str, token: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    pattern.match_indices(token).any(|(i, _)| {
        !word(pattern[..i].chars().next_back()) && !word(pattern[i + token.len()..].chars().next())
    })
}

/// A metric filter on a log group that receives trail events, mentioning every token (the
/// CIS AWS Foundations Benchmark's event list for that control), with an alarm (with
/// actions) on its metric.
fn security_filter(ctx: &Ctx, tokens: &[&str], what: &str) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let r = ctx.account();
    let groups: Vec<&dapgov_inventory::LogGroup> = ctx
        .inv
        .trails
        .values()
        .filter_map(|t| t.log_group.as_deref())
        .filter_map(|g| ctx.inv.log_groups.get(g))
        .collect();
    if groups.is_empty() {
        return vec![Outcome::fail(
            r,
            format!("no trail delivers to CloudWatch Logs, so {what} cannot raise an alarm"),
        )];
    }
    let filters: Vec<(&str, &str, &dapgov_inventory::MetricFilter)> = groups
        .iter()
        .flat_map(|g| {
            g.metric_filters
                .iter()
                .flatten()
                .map(move |(n, f)| (g.name.as_str(), n.as_str(), f))
        })
        .filter(|(_, _, f)| tokens.iter().all(|t| mentions(&f.pattern, t)))
        .collect();
    if filters.is_empty() {
        return vec![Outcome::fail(
            r,
            format!("no metric filter matches {what} ({})", tokens.join(", ")),
        )];
    }
    for (group, name, f) in &filters {
        if let Some(a) = ctx.inv.alarms.values().find(|a| {
            a.namespace.as_deref() == Some(f.metric_namespace.as_str())
                && a.metric_name.as_deref() == Some(f.metric_name.as_str())
                && has_actions(a)
        }) {
            return vec![Outcome::pass(
                r,
                format!("filter {name} on {group} feeds alarm {}", a.name),
            )];
        }
    }
    let (_, name, f) = filters[0];
    vec![Outcome::fail(
        r,
        format!(
            "filter {name} counts {what} in {}/{}, but no alarm with actions watches it",
            f.metric_namespace, f.metric_name
        ),
    )]
}

pub fn filter_unauthorized_api_calls(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &["UnauthorizedOperation", "AccessDenied"],
        "unauthorized API calls",
    )
}

pub fn filter_console_sign_in_without_mfa(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &["ConsoleLogin", "additionalEventData.MFAUsed"],
        "console sign-ins without MFA",
    )
}

pub fn filter_root_account_usage(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &["userIdentity.type", "Root", "invokedBy", "AwsServiceEvent"],
        "use of the root user",
    )
}

pub fn filter_console_sign_in_failures(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &["ConsoleLogin", "Failed authentication"],
        "failed console sign-ins",
    )
}

pub fn filter_kms_key_disable_or_deletion(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &["kms.amazonaws.com", "DisableKey", "ScheduleKeyDeletion"],
        "KMS keys being disabled or scheduled for deletion",
    )
}

pub fn filter_bucket_policy_changes(ctx: &Ctx) -> Vec<Outcome> {
    const EVENTS: [&str; 10] = [
        "s3.amazonaws.com",
        "PutBucketAcl",
        "PutBucketPolicy",
        "PutBucketCors",
        "PutBucketLifecycle",
        "PutBucketReplication",
        "DeleteBucketPolicy",
        "DeleteBucketCors",
        "DeleteBucketLifecycle",
        "DeleteBucketReplication",
    ];
    security_filter(ctx, &EVENTS, "bucket policy changes")
}

pub fn filter_iam_policy_changes(ctx: &Ctx) -> Vec<Outcome> {
    const EVENTS: [&str; 16] = [
        "DeleteGroupPolicy",
        "DeleteRolePolicy",
        "DeleteUserPolicy",
        "PutGroupPolicy",
        "PutRolePolicy",
        "PutUserPolicy",
        "CreatePolicy",
        "DeletePolicy",
        "CreatePolicyVersion",
        "DeletePolicyVersion",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "AttachUserPolicy",
        "DetachUserPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
    ];
    security_filter(ctx, &EVENTS, "IAM policy changes")
}

pub fn filter_cloudtrail_changes(ctx: &Ctx) -> Vec<Outcome> {
    security_filter(
        ctx,
        &[
            "CreateTrail",
            "UpdateTrail",
            "DeleteTrail",
            "StartLogging",
            "StopLogging",
        ],
        "CloudTrail configuration changes",
    )
}

pub fn etl_failure_alarm(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let metric = dapgov_inventory::names::ETL_FAILURE_METRIC;
    let r = ctx.account();
    let alarms: Vec<&Alarm> = ctx
        .inv
        .alarms
        .values()
        .filter(|a| a.metric_name.as_deref() == Some(metric))
        .collect();
    vec![match alarms.iter().find(|a| has_actions(a)) {
        Some(a) => Outcome::pass(r, format!("alarm {} watches {metric} and notifies", a.name)),
        None if alarms.is_empty() => Outcome::fail(
            r,
            format!("no alarm watches {metric}: a failed ETL run goes unnoticed"),
        ),
        None => Outcome::fail(
            r,
            format!(
                "alarm {} watches {metric} but notifies no one",
                alarms[0].name
            ),
        ),
    }]
}

/// The operations dashboard exists and shows what operators look at first: the ETL runs'
/// failures and the alarms' states.
pub fn dashboard_present(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let metric = dapgov_inventory::names::ETL_FAILURE_METRIC;
    let r = ctx.account();
    let shows = |d: &dapgov_inventory::Dashboard| {
        let text = d.body.as_ref().map(|b| b.to_string()).unwrap_or_default();
        let widgets = d
            .body
            .as_ref()
            .and_then(|b| b["widgets"].as_array())
            .cloned()
            .unwrap_or_default();
        (
            text.contains(metric),
            widgets.iter().any(|w| w["type"] == "alarm"),
        )
    };
    let dashboards: Vec<&dapgov_inventory::Dashboard> = ctx.inv.dashboards.values().collect();
    vec![match dashboards.iter().find(|d| shows(d) == (true, true)) {
        Some(d) => Outcome::pass(
            r,
            format!(
                "dashboard {} shows the ETL runs' failures and the alarms",
                d.name
            ),
        ),
        None if dashboards.is_empty() => Outcome::fail(
            r,
            "no CloudWatch dashboard: operators have nowhere to see the runs and alarms at a glance",
        ),
        None => Outcome::fail(
            r,
            format!(
                "dashboard {} shows neither the ETL runs' {metric} nor the alarms together",
                dashboards[0].name
            ),
        ),
    }]
}

pub fn billing_alarm(ctx: &Ctx) -> Vec<Outcome> {
    if !ctx.platform_exists() {
        return vec![];
    }
    let r = ctx.account();
    let billing: Vec<&Alarm> = ctx
        .inv
        .alarms
        .values()
        .filter(|a| {
            a.namespace.as_deref() == Some(BILLING_NAMESPACE)
                && a.metric_name.as_deref() == Some("EstimatedCharges")
        })
        .collect();
    let good = billing.iter().find(|a| {
        a.region.as_deref() == Some(BILLING_REGION)
            && has_actions(a)
            && a.dimensions
                .as_ref()
                .and_then(|d| d.get("Currency"))
                .map(String::as_str)
                == Some("USD")
    });
    vec![match (good, billing.first()) {
        (Some(a), _) => Outcome::pass(
            r,
            format!("alarm {} watches estimated charges in us-east-1", a.name),
        ),
        (None, Some(a)) if a.region.as_deref() != Some(BILLING_REGION) => Outcome::fail(
            r,
            format!(
                "alarm {} is in {}; billing metrics exist only in us-east-1, so it never fires",
                a.name,
                a.region.as_deref().unwrap_or("?")
            ),
        ),
        (None, Some(a)) => Outcome::fail(
            r,
            format!(
                "alarm {} lacks actions or the Currency=USD dimension",
                a.name
            ),
        ),
        (None, None) => Outcome::fail(r, "no alarm on AWS/Billing EstimatedCharges"),
    }]
}
