//! Spec × observed Inventory → the Desired Inventory.
//!
//! Resources are found by deterministic names derived from the platform name and account,
//! and carry the `project` tag, so no local state file is needed: losing one orphans nothing.
//! Key ARNs are assigned by the key service, so policies that name a key read its ARN from the
//! observed inventory; before the key exists they hold a placeholder and the planner re-plans
//! once keys are created.

use crate::model::{Spec, Zone};
use dapgov_inventory::names::{DATA_ZONES, SERVICE_BUCKETS, TABLE_ZONES};
use dapgov_inventory::*;
use dapgov_policy::Templates;
use serde_json::json;
use std::collections::BTreeMap;

pub use dapgov_inventory::names::KEY_PENDING;
use dapgov_inventory::names::pending_key_arn;

pub use dapgov_inventory::{BILLING_NAMESPACE, BILLING_REGION};

/// Which key protects a zone.
pub fn zone_key_purpose(zone: &Zone) -> &'static str {
    if zone.holds_pii() { "pii" } else { "analytics" }
}

/// The key ARN for an alias, as observed, or a placeholder before creation.
fn key_arn(observed: &Inventory, names: &Names, purpose: &str) -> String {
    let alias = names.key_alias(purpose);
    observed
        .keys
        .get(&alias)
        .and_then(|k| k.arn.clone())
        .unwrap_or_else(|| pending_key_arn(&names.arns, &alias))
}

/// The desired Inventory with each key's ARN, as observed or (not created yet) its
/// placeholder, so checks that follow a bucket's key to the key itself can run before apply.
pub fn with_key_arns(mut desired: Inventory, observed: &Inventory) -> Inventory {
    let arns = dapgov_inventory::names::Arns::new(&desired.account_id, &desired.region);
    for (alias, key) in desired.keys.iter_mut() {
        if key.arn.is_none() {
            key.arn = Some(
                observed
                    .keys
                    .get(alias)
                    .and_then(|k| k.arn.clone())
                    .unwrap_or_else(|| pending_key_arn(&arns, alias)),
            );
        }
    }
    desired
}

fn tags(spec: &Spec, extra: &[(&str, &str)]) -> Tags {
    let mut t = Tags::new();
    t.insert(PROJECT_TAG.into(), spec.platform.name.clone());
    t.insert("owner".into(), spec.platform.owner.clone());
    t.insert(MANAGED_BY_TAG.into(), MANAGED_BY.into());
    for (k, v) in extra {
        t.insert((*k).into(), (*v).into());
    }
    t
}

/// Security events watched on the trail's log group: (name, filter pattern). The event lists
/// are the CIS AWS Foundations Benchmark's monitoring controls (4.1–4.8), plus the
/// public-access-block and trust-policy changes that matter to this platform.
pub const SECURITY_FILTERS: [(&str, &str); 8] = [
    (
        "unauthorized-api-calls",
        "{ ($.errorCode = \"*UnauthorizedOperation\") || ($.errorCode = \"AccessDenied*\") }",
    ),
    (
        "console-sign-in-without-mfa",
        "{ ($.eventName = \"ConsoleLogin\") && ($.additionalEventData.MFAUsed != \"Yes\") }",
    ),
    (
        "root-account-usage",
        "{ $.userIdentity.type = \"Root\" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != \"AwsServiceEvent\" }",
    ),
    (
        "console-sign-in-failures",
        "{ ($.eventName = ConsoleLogin) && ($.errorMessage = \"Failed authentication\") }",
    ),
    (
        "kms-key-disable-or-deletion",
        "{ ($.eventSource = kms.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }",
    ),
    (
        "bucket-policy-changes",
        "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || ($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || ($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || ($.eventName = DeleteBucketReplication) || ($.eventName = PutBucketPublicAccessBlock) || ($.eventName = DeleteBucketPublicAccessBlock)) }",
    ),
    (
        "iam-policy-changes",
        "{ ($.eventName = DeleteGroupPolicy) || ($.eventName = DeleteRolePolicy) || ($.eventName = DeleteUserPolicy) || ($.eventName = PutGroupPolicy) || ($.eventName = PutRolePolicy) || ($.eventName = PutUserPolicy) || ($.eventName = CreatePolicy) || ($.eventName = DeletePolicy) || ($.eventName = CreatePolicyVersion) || ($.eventName = DeletePolicyVersion) || ($.eventName = AttachRolePolicy) || ($.eventName = DetachRolePolicy) || ($.eventName = AttachUserPolicy) || ($.eventName = DetachUserPolicy) || ($.eventName = AttachGroupPolicy) || ($.eventName = DetachGroupPolicy) || ($.eventName = UpdateAssumeRolePolicy) }",
    ),
    (
        "cloudtrail-changes",
        "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || ($.eventName = StartLogging) || ($.eventName = StopLogging) || ($.eventName = PutEventSelectors) }",
    ),
];

use dapgov_inventory::names::{ETL_FAILURE_METRIC, LOADED_ROWS_METRIC, etl_failure_dimensions};
/// Namespace of the security-event metrics derived from the trail.
pub const SECURITY_NAMESPACE: &str = "dapgov/security";

/// Build the Desired Inventory. Fails only if a policy template does not render.
pub fn desired(
    spec: &Spec,
    observed: &Inventory,
    account: &str,
) -> Result<Inventory, dapgov_policy::RenderError> {
    let builder = Builder::new(spec, observed, account);
    let names = &builder.names;
    let mut inv = Inventory {
        schema_version: SCHEMA_VERSION,
        target: spec.platform.target.as_str().into(),
        account_id: account.into(),
        region: names.region().into(),
        project: names.project.clone(),
        account: account_settings(),
        ..Default::default()
    };
    builder.add_keys(&mut inv)?;
    builder.add_alerting(&mut inv);
    builder.add_roles(&mut inv)?;
    builder.add_buckets(&mut inv)?;
    builder.add_trail(&mut inv);
    builder.add_alarms(&mut inv);
    builder.add_budget(&mut inv);
    builder.add_analytics(&mut inv);
    if builder.loader_deployed() {
        builder.add_loader(&mut inv)?;
    }
    let dashboard = names.dashboard();
    inv.dashboards.insert(
        dashboard.clone(),
        Dashboard {
            name: dashboard,
            body: Some(dashboard_body(spec, names, &inv)),
        },
    );
    Ok(inv)
}

/// What every part of the Desired Inventory is built from: the spec, the names it gives, the
/// policy templates, the keys' ARNs, and the values the role policies are rendered with.
struct Builder<'a> {
    spec: &'a Spec,
    names: Names,
    tpl: Templates,
    keys: BTreeMap<&'static str, String>,
    ctx: serde_json::Value,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a Spec, observed: &Inventory, account: &str) -> Builder<'a> {
        let names = spec.names(account);
        let keys: BTreeMap<&'static str, String> = ["pii", "analytics", "logs"]
            .iter()
            .map(|p| (*p, key_arn(observed, &names, p)))
            .collect();
        let buckets: BTreeMap<&str, String> = DATA_ZONES
            .iter()
            .chain(SERVICE_BUCKETS.iter())
            .map(|z| (*z, names.bucket(z)))
            .collect();
        let ctx = json!({
            "partition": names.arns.partition, "account": names.arns.account, "region": names.arns.region,
            "buckets": buckets, "keys": keys,
            "glue_database": names.glue_database(), "athena_workgroup": names.workgroup(),
            "metrics_namespace": spec.etl.metrics_namespace,
        });
        Builder {
            spec,
            names,
            tpl: Templates::builtin(),
            keys,
            ctx,
        }
    }

    /// Keys: administrators never use keys; users are the roles that need each one.
    fn add_keys(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        let Builder {
            spec, names, tpl, ..
        } = self;
        let admins = if spec.platform.key_admins.is_empty() {
            vec![names.arns.root()]
        } else {
            spec.platform.key_admins.clone()
        };
        let logs_service = format!("logs.{}.amazonaws.com", names.region());
        let key_users: [(&str, Vec<String>, Vec<&str>); 3] = [
            ("pii", vec![names.role_arn("etl")], vec![]),
            (
                "analytics",
                vec![names.role_arn("etl"), names.role_arn("analyst")],
                vec!["athena.amazonaws.com"],
            ),
            (
                "logs",
                vec![],
                vec![
                    "cloudtrail.amazonaws.com",
                    "logging.s3.amazonaws.com",
                    "cloudwatch.amazonaws.com",
                    &logs_service,
                ],
            ),
        ];
        for (purpose, users, services) in key_users {
            let alias = names.key_alias(purpose);
            let mut services: Vec<_> = services.iter().map(|s| json!({"principal": s})).collect();
            let mut users = if users.is_empty() {
                admins.clone()
            } else {
                users
            };
            if purpose == "logs" && self.loader_deployed() {
                // The dead-letter queue is encrypted under the logs key: whoever sends to it
                // (the loader, the schedules, the delivery rule) needs its data keys.
                users.extend([names.role_arn("etl"), names.role_arn("scheduler")]);
                services.push(json!({"principal": "events.amazonaws.com"}));
            }
            let policy = tpl.render(
                "key",
                &json!({"admins": admins, "users": users, "readers": [names.role_arn("auditor")], "services": services, "account": names.account()}),
            )?;
            inv.keys.insert(
                alias.clone(),
                Key {
                    alias,
                    description: Some(format!("dapgov {} key for {}", purpose, names.project)),
                    rotation_enabled: Some(true),
                    rotation_period_days: Some(spec.keys.rotation_period_days),
                    state: Some("Enabled".into()),
                    policy: Some(policy),
                    deletion_window_days: Some(spec.keys.deletion_window_days),
                    tags: Some(tags(spec, &[("purpose", purpose)])),
                    ..Default::default()
                },
            );
        }
        Ok(())
    }

    /// The alarms' topic, and the trail's log group with the security metric filters.
    fn add_alerting(&self, inv: &mut Inventory) {
        let Builder {
            spec, names, keys, ..
        } = self;
        inv.topics.insert(
            names.topic(),
            Topic {
                name: names.topic(),
                kms_key: Some(keys["logs"].clone()),
                subscriptions: Some(vec![format!("email:{}", spec.budget.alarm_email)]),
                tags: Some(tags(spec, &[])),
                ..Default::default()
            },
        );

        let filters = SECURITY_FILTERS
            .iter()
            .map(|(name, pattern)| {
                (
                    name.to_string(),
                    MetricFilter {
                        pattern: pattern.to_string(),
                        metric_namespace: SECURITY_NAMESPACE.into(),
                        metric_name: metric_name(name),
                    },
                )
            })
            .collect();
        inv.log_groups.insert(
            names.trail_log_group(),
            LogGroup {
                name: names.trail_log_group(),
                retention_days: Some(spec.logs.retention_days),
                kms_key: Some(keys["logs"].clone()),
                metric_filters: Some(filters),
                tags: Some(tags(spec, &[])),
            },
        );
    }

    /// The ETL, analyst and auditor roles, and the role CloudTrail delivers to its log group with.
    fn add_roles(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        let Builder {
            spec,
            names,
            tpl,
            ctx,
            ..
        } = self;
        for (role, template, service, source_arn) in [
            (
                "etl",
                "role-etl",
                Some("glue.amazonaws.com"),
                names.arns.glue_any(),
            ),
            ("analyst", "role-analyst", None, String::new()),
            ("auditor", "role-auditor", None, String::new()),
        ] {
            let mut services: Vec<serde_json::Value> = service
                .map(|s| json!({"service": s, "source_arn": source_arn}))
                .into_iter()
                .collect();
            let mut policy = tpl.render(template, &ctx)?;
            if role == "etl" && self.loader_deployed() {
                // The loader runs as the etl role: the role the ETL already is, with what a
                // function needs besides (its logs, its dead-letter queue).
                services.push(
                    json!({"service": "lambda.amazonaws.com", "source_arn": names.loader_arn()}),
                );
                self.add_loader_statements(&mut policy);
            }
            let trust = tpl.render("trust-role", &json!({"services": services, "account": names.arns.account, "partition": names.arns.partition}))?;
            inv.roles.insert(
                names.role(role),
                Role {
                    name: names.role(role),
                    trust_policy: Some(trust),
                    inline_policies: Some(BTreeMap::from([(names.role_policy(role), policy)])),
                    attached_policies: Some(BTreeMap::new()),
                    max_session_duration: Some(3600),
                    tags: Some(tags(spec, &[("role", role)])),
                    ..Default::default()
                },
            );
        }
        let delivery_trust = tpl.render(
            "trust-role",
            &json!({"services": [{"service": "cloudtrail.amazonaws.com", "source_arn": names.trail_arn()}], "account": names.arns.account, "partition": names.arns.partition}),
        )?;
        let log_group_arn = names.arns.log_group_streams(&names.trail_log_group());
        inv.roles.insert(
            names.role("trail-delivery"),
            Role {
                name: names.role("trail-delivery"),
                trust_policy: Some(delivery_trust),
                inline_policies: Some(BTreeMap::from([(
                    names.role_policy("trail-delivery"),
                    json!({"Version": "2012-10-17", "Statement": [{"Sid": "DeliverTrailEvents", "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_group_arn}]}),
                )])),
                attached_policies: Some(BTreeMap::new()),
                max_session_duration: Some(3600),
                tags: Some(tags(spec, &[("role", "trail-delivery")])),
                ..Default::default()
            },
        );
        Ok(())
    }

    /// A bucket per zone and service, encrypted with its key, logged to the log bucket.
    fn add_buckets(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        for zone in DATA_ZONES.iter().chain(SERVICE_BUCKETS.iter()) {
            let b = self.bucket(zone)?;
            inv.buckets.insert(b.name.clone(), b);
        }
        Ok(())
    }

    /// The bucket of a zone or a service: encrypted with its key, versioned, private,
    /// TLS-only, with its lifecycle, logged to the log bucket.
    fn bucket(&self, zone: &str) -> Result<Bucket, dapgov_policy::RenderError> {
        let Builder {
            spec,
            names,
            tpl,
            keys,
            ..
        } = self;
        let z = spec.zones.get(zone);
        let purpose = match z {
            Some(z) => zone_key_purpose(z),
            None if zone == "athena" => "analytics",
            None => "logs",
        };
        let classification = z.map(|z| z.classification.as_str()).unwrap_or("internal");
        let name = names.bucket(zone);
        // The retention period travels with the bucket so an audit can hold lifecycle to it.
        let retention = z.and_then(|z| z.retention_days).map(|d| d.to_string());
        let mut bucket_tags = vec![("zone", zone), ("classification", classification)];
        if let Some(days) = &retention {
            bucket_tags.push(("retention-days", days.as_str()));
        }
        let template = match zone {
            "logs" => "bucket-logs",
            "trail" => "bucket-trail",
            _ => "bucket-zone",
        };
        let policy = tpl.render(
            template,
            &json!({"partition": names.arns.partition, "bucket": name, "key_arn": keys[purpose], "account": names.account(), "trail_arn": names.trail_arn()}),
        )?;
        Ok(Bucket {
            name: name.clone(),
            zone: Some(zone.into()),
            region: Some(names.region().into()),
            tags: Some(tags(spec, &bucket_tags)),
            // Landing's deliveries reach the loader through EventBridge.
            eventbridge: (zone == "landing" && self.loader_deployed()).then_some(true),
            encryption: Some(BucketEncryption {
                algorithm: "aws:kms".into(),
                kms_key: Some(keys[purpose].clone()),
                bucket_key_enabled: true,
            }),
            versioning: Some(Versioning::Enabled),
            public_access_block: Some(PublicAccessBlock::all_on()),
            // CloudTrail writes with the bucket-owner-full-control ACL, which BucketOwnerEnforced accepts.
            object_ownership: Some("BucketOwnerEnforced".into()),
            policy: Some(policy),
            lifecycle: Some(lifecycle(zone, z, spec.logs.retention_days)),
            logging: (zone != "logs").then(|| BucketLogging {
                target_bucket: names.bucket("logs"),
                target_prefix: format!("{zone}/"),
            }),
            acl_grants: Some(vec![]),
            ..Default::default()
        })
    }

    /// The trail: every region, validated, to its bucket and log group, with the data events
    /// of landing and raw.
    fn add_trail(&self, inv: &mut Inventory) {
        let Builder {
            spec, names, keys, ..
        } = self;
        inv.trails.insert(
            names.trail(),
            Trail {
                name: names.trail(),
                s3_bucket: Some(names.bucket("trail")),
                multi_region: Some(true),
                include_global_events: Some(true),
                log_file_validation: Some(true),
                kms_key: Some(keys["logs"].clone()),
                log_group: Some(names.trail_log_group()),
                data_event_buckets: Some(vec![names.bucket("landing"), names.bucket("raw")]),
                logging: Some(true),
                tags: Some(tags(spec, &[])),
                ..Default::default()
            },
        );
    }

    /// The billing alarm, one alarm per security metric filter, and the ETL failure alarm.
    fn add_alarms(&self, inv: &mut Inventory) {
        let Builder { spec, names, .. } = self;
        let topic = names.topic_arn();
        let alarm = |name: String,
                     region: &str,
                     ns: &str,
                     metric: &str,
                     dims: BTreeMap<String, String>,
                     stat: &str,
                     period: u32,
                     threshold: f64| Alarm {
            name,
            region: Some(region.into()),
            namespace: Some(ns.into()),
            metric_name: Some(metric.into()),
            dimensions: Some(dims),
            statistic: Some(stat.into()),
            period_seconds: Some(period),
            evaluation_periods: Some(1),
            threshold: Some(threshold),
            comparison: Some(
                if ns == "AWS/Billing" {
                    "GreaterThanThreshold"
                } else {
                    "GreaterThanOrEqualToThreshold"
                }
                .into(),
            ),
            actions_enabled: Some(true),
            alarm_actions: Some(vec![topic.clone()]),
            tags: Some(tags(spec, &[])),
            ..Default::default()
        };
        let billing_threshold = spec
            .budget
            .billing_alarm_usd
            .unwrap_or(spec.budget.monthly_usd);
        let name = names.billing_alarm();
        inv.alarms.insert(
            name.clone(),
            alarm(
                name,
                BILLING_REGION,
                BILLING_NAMESPACE,
                "EstimatedCharges",
                BTreeMap::from([("Currency".into(), "USD".into())]),
                "Maximum",
                21600,
                billing_threshold,
            ),
        );
        for (filter, _) in SECURITY_FILTERS {
            let name = names.security_alarm(filter);
            inv.alarms.insert(
                name.clone(),
                alarm(
                    name,
                    names.region(),
                    SECURITY_NAMESPACE,
                    &metric_name(filter),
                    BTreeMap::new(),
                    "Sum",
                    300,
                    1.0,
                ),
            );
        }
        let name = names.etl_failure_alarm();
        inv.alarms.insert(
            name.clone(),
            alarm(
                name,
                names.region(),
                &spec.etl.metrics_namespace,
                ETL_FAILURE_METRIC,
                etl_failure_dimensions(&names.project),
                "Sum",
                300,
                1.0,
            ),
        );
    }

    /// The monthly budget, notified on actual and forecast spend at each threshold.
    fn add_budget(&self, inv: &mut Inventory) {
        let Builder { spec, names, .. } = self;
        let notifications = ["ACTUAL", "FORECASTED"]
            .iter()
            .flat_map(|kind| {
                spec.budget
                    .thresholds
                    .iter()
                    .map(move |t| BudgetNotification {
                        kind: kind.to_string(),
                        threshold_percent: *t,
                        subscribers: vec![format!("email:{}", spec.budget.alarm_email)],
                    })
            })
            .collect();
        inv.budgets.insert(
            names.budget(),
            Budget {
                name: names.budget(),
                limit_usd: Some(spec.budget.monthly_usd),
                time_unit: Some("MONTHLY".into()),
                notifications: Some(notifications),
                ..Default::default()
            },
        );
    }

    /// Glue's security configuration and database, and the Athena workgroup.
    fn add_analytics(&self, inv: &mut Inventory) {
        let Builder {
            spec, names, keys, ..
        } = self;
        let glue_sc = names.glue_security_configuration();
        inv.glue_security_configurations.insert(
            glue_sc.clone(),
            GlueSecurityConfiguration {
                name: glue_sc,
                s3_kms_key: Some(keys["analytics"].clone()),
                cloudwatch_kms_key: Some(keys["logs"].clone()),
                job_bookmarks_kms_key: Some(keys["analytics"].clone()),
            },
        );
        inv.glue_databases.insert(
            names.glue_database(),
            GlueDatabase {
                name: names.glue_database(),
                tables: None,
            },
        );
        inv.athena_workgroups.insert(
            names.workgroup(),
            AthenaWorkgroup {
                name: names.workgroup(),
                enforce_configuration: Some(true),
                result_location: Some(format!("s3://{}/results/", names.bucket("athena"))),
                result_kms_key: Some(keys["analytics"].clone()),
                bytes_scanned_cutoff: Some(spec.athena.bytes_scanned_cutoff),
                publish_metrics: Some(true),
                engine_version: Some(dapgov_inventory::ATHENA_ENGINE_VERSION.into()),
                tags: Some(tags(spec, &[])),
            },
        );
    }
}

/// The account-wide settings: a strict password policy and S3 public access blocked.
fn account_settings() -> AccountSettings {
    AccountSettings {
        password_policy: Some(PasswordPolicy {
            minimum_length: 14,
            require_symbols: true,
            require_numbers: true,
            require_uppercase: true,
            require_lowercase: true,
            max_age_days: Some(90),
            reuse_prevention: Some(24),
        }),
        public_access_block: Some(PublicAccessBlock::all_on()),
        cost_allocation_tags: None,
    }
}

/// The operations dashboard: what the ETL runs did (failures, rows quarantined, personal
/// information found, durations), the alarms' states, and the estimated charges.
fn dashboard_body(spec: &Spec, names: &Names, inv: &Inventory) -> serde_json::Value {
    let (ns, project, region) = (
        spec.etl.metrics_namespace.as_str(),
        names.project.as_str(),
        names.region(),
    );
    // Runs publish their counts per project, dataset and run: a search sums every run's.
    let search = |metric: &str, stat: &str| json!([[{"expression": format!("SEARCH('{{{ns},Dataset,Project,RunId}} MetricName=\"{metric}\" Project=\"{project}\"', '{stat}', 86400)"), "id": "m", "label": metric}]]);
    let panel = |x: u32,
                 y: u32,
                 title: &str,
                 metrics: serde_json::Value,
                 stat: &str,
                 panel_region: &str| {
        json!({"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
               "properties": {"title": title, "region": panel_region, "stat": stat, "period": 86400, "view": "timeSeries", "metrics": metrics}})
    };
    let failure_dims = etl_failure_dimensions(project);
    let mut failed = vec![json!(ns), json!(ETL_FAILURE_METRIC)];
    for (k, v) in &failure_dims {
        failed.push(json!(k));
        failed.push(json!(v));
    }
    let alarms: Vec<String> = inv
        .alarms
        .values()
        .map(|a| {
            names
                .arns
                .alarm(a.region.as_deref().unwrap_or(region), &a.name)
        })
        .collect();
    json!({"widgets": [
        panel(0, 0, "ETL runs failed", json!([failed]), "Sum", region),
        panel(12, 0, "Rows quarantined", search("RowsQuarantined", "Sum"), "Sum", region),
        panel(0, 6, "Personal information found", search("PiiFound", "Sum"), "Sum", region),
        panel(12, 6, "Run duration (seconds)", search("DurationSeconds", "Maximum"), "Maximum", region),
        {"type": "alarm", "x": 0, "y": 12, "width": 12, "height": 6, "properties": {"title": "Alarms", "alarms": alarms}},
        panel(12, 12, "Estimated charges (USD)", json!([[BILLING_NAMESPACE, "EstimatedCharges", "Currency", "USD"]]), "Maximum", BILLING_REGION),
    ]})
}

/// `unauthorized-api-calls` → `UnauthorizedApiCalls`.
fn metric_name(filter: &str) -> String {
    filter
        .split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect()
}

fn lifecycle(zone: &str, z: Option<&Zone>, log_retention_days: u32) -> Vec<LifecycleRule> {
    let mut rule = LifecycleRule {
        id: format!("{zone}-lifecycle"),
        prefix: String::new(),
        enabled: true,
        abort_incomplete_multipart_days: Some(7),
        ..Default::default()
    };
    match z {
        Some(z) => {
            rule.expiration_days = z.expire_days;
            rule.noncurrent_expiration_days = Some(z.noncurrent_expire_days);
            if let Some(d) = z.transition_ia_days {
                rule.transitions.push(Transition {
                    days: d,
                    storage_class: "STANDARD_IA".into(),
                });
            }
            if let Some(d) = z.transition_glacier_days {
                // Delta tables read any file of any load at any time: their zones archive to the
                // Glacier class that reads in milliseconds, never to one that needs a restore.
                let class = if TABLE_ZONES.contains(&zone) {
                    "GLACIER_IR"
                } else {
                    "GLACIER"
                };
                rule.transitions.push(Transition {
                    days: d,
                    storage_class: class.into(),
                });
            }
        }
        None if zone == "athena" => {
            rule.expiration_days = Some(30);
            rule.noncurrent_expiration_days = Some(7);
        }
        // The loader's packages: the current one stays, those it replaced go after a month.
        None if zone == ARTIFACTS => {
            rule.noncurrent_expiration_days = Some(30);
        }
        // Access logs and trail logs: keep as long as the log retention, cold after 90 days.
        None => {
            rule.expiration_days = Some(log_retention_days.max(365));
            rule.noncurrent_expiration_days = Some(30);
            rule.transitions.push(Transition {
                days: 90,
                storage_class: "STANDARD_IA".into(),
            });
        }
    }
    vec![rule]
}

/// The bucket the loader's packages are uploaded to.
pub const ARTIFACTS: &str = "artifacts";
/// Days the dead-letter queue keeps an event (SQS's most).
const DEAD_LETTER_RETENTION_SECONDS: u32 = 14 * 86_400;
/// Retries of a delivery event, by EventBridge, then by the schedules, before the dead-letter
/// queue.
const EVENT_RETRIES: u32 = 4;

impl Builder<'_> {
    /// Whether the loader function and what feeds it are part of the platform: on AWS, once
    /// the spec names its package.
    fn loader_deployed(&self) -> bool {
        self.spec.platform.target == crate::Target::Aws
            && self.spec.automation.function.package.is_some()
    }

    /// What the etl role needs to run as the loader: its log group, its dead-letter queue
    /// (and the logs key's data keys for it, through SQS only).
    fn add_loader_statements(&self, policy: &mut serde_json::Value) {
        let names = &self.names;
        let extra = json!([
            {"Sid": "LoaderLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": names.arns.log_group_streams(&names.loader_log_group())},
            {"Sid": "LoaderDeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage",
             "Resource": names.dead_letter_queue_arn()},
            {"Sid": "LoaderDeadLetterKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
             "Resource": self.keys["logs"],
             "Condition": {"StringEquals": {"kms:ViaService": format!("sqs.{}.amazonaws.com", names.region())}}},
        ]);
        if let Some(statements) = policy["Statement"].as_array_mut() {
            statements.extend(extra.as_array().into_iter().flatten().cloned());
        }
    }

    /// The loader and what feeds it: the artifacts bucket, the dead-letter queue, the
    /// function, the delivery rule, the schedules and their role, the function's log group,
    /// and the alarms on all of them.
    fn add_loader(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        let Builder {
            spec, names, keys, ..
        } = self;
        let f = &spec.automation.function;
        let artifacts = self.bucket(ARTIFACTS)?;
        inv.buckets.insert(artifacts.name.clone(), artifacts);
        let dlq = names.dead_letter_queue_arn();
        inv.queues.insert(
            names.dead_letter_queue(),
            Queue {
                name: names.dead_letter_queue(),
                kms_key: Some(keys["logs"].clone()),
                retention_seconds: Some(DEAD_LETTER_RETENTION_SECONDS),
                policy: Some(json!({"Version": "2012-10-17", "Statement": [
                    {"Sid": "DeliveryRuleDeadLetters", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                     "Action": "sqs:SendMessage", "Resource": dlq,
                     "Condition": {"ArnEquals": {"aws:SourceArn": names.delivery_rule_arn()}}}]})),
                tags: Some(tags(spec, &[("role", "dead-letters")])),
                ..Default::default()
            },
        );
        inv.functions.insert(
            names.loader(),
            Function {
                name: names.loader(),
                role: Some(names.role_arn("etl")),
                runtime: Some("provided.al2023".into()),
                handler: Some("bootstrap".into()),
                architecture: Some(f.architecture.as_str().into()),
                memory_mb: Some(f.memory_mb),
                timeout_seconds: Some(f.timeout_seconds),
                ephemeral_storage_mb: Some(f.ephemeral_storage_mb),
                reserved_concurrency: Some(f.reserved_concurrency),
                package: f.package.as_ref().map(|file| FunctionPackage {
                    file: file.clone(),
                    bucket: names.bucket(ARTIFACTS),
                    key: format!("lambda/{}.zip", names.loader()),
                }),
                dead_letter_queue: Some(dlq.clone()),
                environment: Some(BTreeMap::from([("DAPGOV_LOG".into(), "info".into())])),
                log_group: Some(names.loader_log_group()),
                permissions: Some(BTreeMap::from([(
                    "deliveries".into(),
                    InvokePermission {
                        principal: "events.amazonaws.com".into(),
                        source_arn: Some(names.delivery_rule_arn()),
                    },
                )])),
                tags: Some(tags(spec, &[("role", "loader")])),
                ..Default::default()
            },
        );
        let prefixes: Vec<serde_json::Value> = spec
            .datasets
            .keys()
            .map(|d| json!({"prefix": format!("{d}/")}))
            .collect();
        inv.event_rules.insert(
            names.delivery_rule(),
            EventRule {
                name: names.delivery_rule(),
                description: Some("Deliveries into the landing zone, to the loader".into()),
                event_pattern: Some(json!({"source": ["aws.s3"], "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [names.bucket("landing")]}, "object": {"key": prefixes}}})),
                state: Some("ENABLED".into()),
                targets: Some(vec![EventTarget {
                    id: "loader".into(),
                    arn: names.loader_arn(),
                    dead_letter_queue: Some(dlq.clone()),
                    maximum_retry_attempts: Some(EVENT_RETRIES),
                }]),
                tags: Some(tags(spec, &[("role", "deliveries")])),
                ..Default::default()
            },
        );
        self.add_schedules(inv)?;
        self.add_scheduler_role(inv)?;
        inv.log_groups.insert(
            names.loader_log_group(),
            LogGroup {
                name: names.loader_log_group(),
                retention_days: Some(spec.logs.retention_days),
                kms_key: Some(keys["logs"].clone()),
                tags: Some(tags(spec, &[("role", "loader")])),
                ..Default::default()
            },
        );
        self.add_loader_alarms(inv);
        Ok(())
    }

    /// The role the schedules run the loader as: invoke it, dead-letter what fails.
    fn add_scheduler_role(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        let Builder {
            spec,
            names,
            keys,
            tpl,
            ..
        } = self;
        let dlq = names.dead_letter_queue_arn();
        let scheduler_trust = tpl.render(
            "trust-role",
            &json!({"services": [{"service": "scheduler.amazonaws.com", "source_arn": names.schedule_group_arn()}],
                    "account": names.arns.account, "partition": names.arns.partition}),
        )?;
        inv.roles.insert(
            names.role("scheduler"),
            Role {
                name: names.role("scheduler"),
                trust_policy: Some(scheduler_trust),
                inline_policies: Some(BTreeMap::from([(
                    names.role_policy("scheduler"),
                    json!({"Version": "2012-10-17", "Statement": [
                        {"Sid": "RunTheJobs", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": names.loader_arn()},
                        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq},
                        {"Sid": "DeadLetterKey", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": keys["logs"],
                         "Condition": {"StringEquals": {"kms:ViaService": format!("sqs.{}.amazonaws.com", names.region())}}}]}),
                )])),
                attached_policies: Some(BTreeMap::new()),
                max_session_duration: Some(3600),
                tags: Some(tags(spec, &[("role", "scheduler")])),
                ..Default::default()
            },
        );
        Ok(())
    }

    /// The daily jobs, in the platform's time zone, each to the loader.
    fn add_schedules(&self, inv: &mut Inventory) -> Result<(), dapgov_policy::RenderError> {
        let Builder { spec, names, .. } = self;
        let a = &spec.automation;
        // The spec's schedules were checked when it was read.
        let schedules = a.schedules().unwrap_or_default();
        let group = ScheduleGroup {
            name: names.schedule_group(),
            schedules: Some(
                schedules
                    .into_iter()
                    .map(|(job, s)| {
                        (
                            job.as_str().to_string(),
                            Schedule {
                                expression: s.eventbridge_expression().unwrap_or_default(),
                                time_zone: a.time_zone.clone(),
                                state: "ENABLED".into(),
                                target_arn: names.loader_arn(),
                                role_arn: names.role_arn("scheduler"),
                                input: json!({"dapgov_job": job.as_str()}).to_string(),
                                dead_letter_queue: Some(names.dead_letter_queue_arn()),
                                maximum_retry_attempts: Some(EVENT_RETRIES),
                            },
                        )
                    })
                    .collect(),
            ),
            tags: Some(tags(spec, &[("role", "jobs")])),
            ..Default::default()
        };
        inv.schedule_groups.insert(group.name.clone(), group);
        Ok(())
    }

    /// Alarms on what would otherwise fail quietly: an event dead-lettered, the loader failing
    /// or throttled, a dataset that declares `fresh_within` loading nothing for a day
    /// (missing data is breaching: no load is the alarm).
    fn add_loader_alarms(&self, inv: &mut Inventory) {
        let Builder { spec, names, .. } = self;
        let topic = names.topic_arn();
        let alarm = |name: String,
                     namespace: &str,
                     metric: &str,
                     dims: BTreeMap<String, String>,
                     statistic: &str,
                     period: u32,
                     comparison: &str,
                     threshold: f64| Alarm {
            name,
            namespace: Some(namespace.into()),
            metric_name: Some(metric.into()),
            dimensions: Some(dims),
            statistic: Some(statistic.into()),
            period_seconds: Some(period),
            evaluation_periods: Some(1),
            threshold: Some(threshold),
            comparison: Some(comparison.into()),
            actions_enabled: Some(true),
            alarm_actions: Some(vec![topic.clone()]),
            tags: Some(tags(spec, &[])),
            ..Default::default()
        };
        let function = BTreeMap::from([("FunctionName".to_string(), names.loader())]);
        for a in [
            alarm(
                names.named_alarm("loader-dead-letters"),
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                BTreeMap::from([("QueueName".to_string(), names.dead_letter_queue())]),
                "Maximum",
                300,
                "GreaterThanThreshold",
                0.0,
            ),
            alarm(
                names.named_alarm("loader-errors"),
                "AWS/Lambda",
                "Errors",
                function.clone(),
                "Sum",
                300,
                "GreaterThanThreshold",
                0.0,
            ),
            alarm(
                names.named_alarm("loader-throttles"),
                "AWS/Lambda",
                "Throttles",
                function,
                "Sum",
                300,
                "GreaterThanThreshold",
                0.0,
            ),
        ] {
            inv.alarms.insert(a.name.clone(), a);
        }
        for (dataset, _) in spec
            .datasets
            .iter()
            .filter(|(_, d)| d.fresh_within.is_some())
        {
            let mut a = alarm(
                names.named_alarm(&format!("{dataset}-not-loaded")),
                &spec.etl.metrics_namespace,
                LOADED_ROWS_METRIC,
                dapgov_inventory::names::etl_dataset_dimensions(&names.project, dataset),
                "Sum",
                86_400,
                "LessThanThreshold",
                1.0,
            );
            a.treat_missing_data = Some("breaching".into());
            inv.alarms.insert(a.name.clone(), a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::INIT_TEMPLATE;

    fn spec() -> Spec {
        Spec::parse(INIT_TEMPLATE, "t").unwrap()
    }

    #[test]
    fn desired_platform_has_every_resource() {
        let inv = desired(&spec(), &Inventory::default(), "123456789012").unwrap();
        assert_eq!(inv.buckets.len(), 7);
        assert_eq!(inv.keys.len(), 3);
        assert_eq!(inv.roles.len(), 4);
        assert_eq!(inv.alarms.len(), 10); // billing, ETL failures, eight security events
        assert!(inv.buckets.contains_key("van311-raw-123456789012"));
        assert_eq!(
            inv.alarms["van311-billing"].region.as_deref(),
            Some("us-east-1")
        );
        let raw = &inv.buckets["van311-raw-123456789012"];
        assert_eq!(
            raw.tags.as_ref().unwrap()["classification"],
            "confidential-pii"
        );
        assert!(
            raw.encryption
                .as_ref()
                .unwrap()
                .kms_key
                .as_ref()
                .unwrap()
                .ends_with(&format!("{KEY_PENDING}: van311-pii"))
        );
    }

    #[test]
    fn observed_key_arns_flow_into_policies() {
        let mut observed = Inventory::default();
        observed.keys.insert(
            "van311-pii".into(),
            Key {
                alias: "van311-pii".into(),
                arn: Some("arn:aws:kms:ca-central-1:1:key/abc".into()),
                ..Default::default()
            },
        );
        let inv = desired(&spec(), &observed, "123456789012").unwrap();
        let etl = serde_json::to_string(&inv.roles["van311-etl"].inline_policies).unwrap();
        assert!(etl.contains("arn:aws:kms:ca-central-1:1:key/abc"));
    }

    #[test]
    fn every_rendered_role_policy_passes_the_linter() {
        let inv = desired(&spec(), &Inventory::default(), "123456789012").unwrap();
        for role in inv.roles.values() {
            for (name, doc) in role.inline_policies.as_ref().unwrap() {
                let errors =
                    dapgov_policy::lint(name, &dapgov_policy::Document::parse(doc).unwrap());
                assert!(errors.is_empty(), "{errors:?}");
            }
        }
    }

    #[test]
    fn rendered_policies_snapshot() {
        let inv = desired(&spec(), &Inventory::default(), "123456789012").unwrap();
        insta::assert_json_snapshot!("etl_role_policy", inv.roles["van311-etl"].inline_policies);
        insta::assert_json_snapshot!(
            "analyst_role_policy",
            inv.roles["van311-analyst"].inline_policies
        );
        insta::assert_json_snapshot!(
            "raw_bucket_policy",
            inv.buckets["van311-raw-123456789012"].policy
        );
        insta::assert_json_snapshot!("pii_key_policy", inv.keys["van311-pii"].policy);
    }
}
