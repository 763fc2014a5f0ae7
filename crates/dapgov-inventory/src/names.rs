//! Every name, ARN and alias the platform uses, in one place.
//!
//! Resources are found again by these deterministic names (and the `project` tag), so no state
//! file is needed. Targets, the planner, the auditor and the ETL are handed a [`Names`] and
//! never spell a name themselves; a test keeps `"{project}-"` and `"arn:` formatting here.

/// A zone data moves through; each has its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    Landing,
    Raw,
    Curated,
    Trusted,
}

impl Zone {
    /// Every zone, in the order data moves through them.
    pub const ALL: [Zone; 4] = [Zone::Landing, Zone::Raw, Zone::Curated, Zone::Trusted];

    /// As the zone's bucket, tag and table schema name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Zone::Landing => "landing",
            Zone::Raw => "raw",
            Zone::Curated => "curated",
            Zone::Trusted => "trusted",
        }
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The zones data moves through, in order, by name.
pub const DATA_ZONES: [&str; 4] = [
    Zone::Landing.as_str(),
    Zone::Raw.as_str(),
    Zone::Curated.as_str(),
    Zone::Trusted.as_str(),
];

/// The zones whose data are Delta tables: the files of every load stay referenced by the
/// tables' current versions, so their lifecycle may move them to colder storage that still
/// reads at once, never expire or archive them.
pub const TABLE_ZONES: [&str; 3] = ["raw", "curated", "trusted"];

/// Buckets that serve the platform's services rather than a data zone.
pub const SERVICE_BUCKETS: [&str; 3] = ["logs", "trail", "athena"];

/// The run metric the ETL publishes (1 on failure) and the ETL-failure alarm watches.
pub const ETL_FAILURE_METRIC: &str = "EtlRunFailed";
/// The tag apply writes on the loader with the SHA-256 of the package it deployed (as Lambda
/// reports code hashes, base64), which the audit holds the running code to.
pub const PACKAGE_TAG: &str = "package-sha256";
/// Rows a load took into curated, per dataset: a day without it is a day not loaded.
pub const LOADED_ROWS_METRIC: &str = "RowsLoaded";

/// The dimensions the ETL-failure alarm watches. CloudWatch keeps each dimension set apart,
/// so the ETL publishes the failure with exactly these as well as per dataset and run.
pub fn etl_failure_dimensions(project: &str) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([("Project".to_string(), project.to_string())])
}

/// The dimensions of the per-dataset failure flag every run publishes (0 or 1): one metric
/// per dataset, whose newest value says whether the dataset's latest run succeeded.
pub fn etl_dataset_dimensions(
    project: &str,
    dataset: &str,
) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        ("Project".to_string(), project.to_string()),
        ("Dataset".to_string(), dataset.to_string()),
    ])
}

/// The partition every ARN is built in. GovCloud and China would change it here only.
pub const PARTITION: &str = "aws";

/// ARNs of one account in one region, for resources named in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Arns {
    pub fn new(account: &str, region: &str) -> Self {
        Self {
            partition: PARTITION.into(),
            account: account.into(),
            region: region.into(),
        }
    }
    /// `arn:<partition>:<service>:<region>:<account>:<resource>`; global services pass `""`
    /// as region.
    fn arn(&self, service: &str, region: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{region}:{}:{resource}",
            self.partition, self.account
        )
    }
    pub fn key(&self, key_id: &str) -> String {
        self.arn("kms", &self.region, &format!("key/{key_id}"))
    }
    /// A key alias's ARN (`alias` without `alias/`).
    pub fn key_alias(&self, alias: &str) -> String {
        self.arn("kms", &self.region, &format!("alias/{alias}"))
    }
    pub fn role(&self, name: &str) -> String {
        self.arn("iam", "", &format!("role/{name}"))
    }
    pub fn root(&self) -> String {
        self.arn("iam", "", "root")
    }
    pub fn trail(&self, name: &str) -> String {
        self.arn("cloudtrail", &self.region, &format!("trail/{name}"))
    }
    /// The role CloudTrail assumes to deliver a trail's events to its log group.
    pub fn trail_delivery_role(&self, trail: &str) -> String {
        self.role(&format!("{trail}-delivery"))
    }
    pub fn log_group(&self, name: &str) -> String {
        self.arn("logs", &self.region, &format!("log-group:{name}"))
    }
    /// The log group's streams, as policies and CloudTrail name them.
    pub fn log_group_streams(&self, name: &str) -> String {
        format!("{}:*", self.log_group(name))
    }
    pub fn topic(&self, name: &str) -> String {
        self.arn("sns", &self.region, name)
    }
    pub fn alarm(&self, region: &str, name: &str) -> String {
        self.arn("cloudwatch", region, &format!("alarm:{name}"))
    }
    pub fn budget(&self, name: &str) -> String {
        self.arn("budgets", "", &format!("budget/{name}"))
    }
    pub fn glue_database(&self, database: &str) -> String {
        self.arn("glue", &self.region, &format!("database/{database}"))
    }
    pub fn glue_table(&self, database: &str, table: &str) -> String {
        self.arn("glue", &self.region, &format!("table/{database}/{table}"))
    }
    /// Any Glue resource of the account in the region (the ETL role's trust condition).
    pub fn glue_any(&self) -> String {
        self.arn("glue", &self.region, "*")
    }
    pub fn glue_security_configuration(&self, name: &str) -> String {
        self.arn(
            "glue",
            &self.region,
            &format!("securityConfiguration/{name}"),
        )
    }
    pub fn workgroup(&self, name: &str) -> String {
        self.arn("athena", &self.region, &format!("workgroup/{name}"))
    }
    pub fn function(&self, name: &str) -> String {
        self.arn("lambda", &self.region, &format!("function:{name}"))
    }
    pub fn queue(&self, name: &str) -> String {
        self.arn("sqs", &self.region, name)
    }
    pub fn event_rule(&self, name: &str) -> String {
        self.arn("events", &self.region, &format!("rule/{name}"))
    }
    pub fn schedule_group(&self, name: &str) -> String {
        self.arn("scheduler", &self.region, &format!("schedule-group/{name}"))
    }
}

/// Every resource name of one project in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub project: String,
    pub arns: Arns,
}

impl Names {
    pub fn new(project: &str, account: &str, region: &str) -> Self {
        Self {
            project: project.into(),
            arns: Arns::new(account, region),
        }
    }
    pub fn account(&self) -> &str {
        &self.arns.account
    }
    pub fn region(&self) -> &str {
        &self.arns.region
    }

    /// The prefix every resource of the project's starts with.
    pub fn prefix(&self) -> String {
        project_prefix(&self.project)
    }
    /// Whether a resource name belongs to this project (see [`owns`]).
    pub fn owns(&self, name: &str) -> bool {
        owns(&self.project, name)
    }
    fn named(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix())
    }

    /// Bucket for a zone or a service bucket (`logs`, `trail`, `athena`).
    pub fn bucket(&self, zone: &str) -> String {
        format!("{}-{}", self.named(zone), self.arns.account)
    }
    pub fn bucket_arn(&self, zone: &str) -> String {
        s3_arn(&self.bucket(zone))
    }
    /// Key alias (without `alias/`): `pii`, `analytics` or `logs`.
    pub fn key_alias(&self, purpose: &str) -> String {
        self.named(purpose)
    }
    /// The alias as KMS calls name it (`alias/<project>-<purpose>`).
    pub fn key_alias_id(&self, purpose: &str) -> String {
        format!("alias/{}", self.key_alias(purpose))
    }
    pub fn role(&self, role: &str) -> String {
        self.named(role)
    }
    pub fn role_arn(&self, role: &str) -> String {
        self.arns.role(&self.role(role))
    }
    /// The inline policy that carries a role's permissions.
    pub fn role_policy(&self, role: &str) -> String {
        format!("{}-access", self.role(role))
    }
    pub fn trail(&self) -> String {
        self.named("trail")
    }
    pub fn trail_arn(&self) -> String {
        self.arns.trail(&self.trail())
    }
    pub fn trail_log_group(&self) -> String {
        format!("{}trail", log_group_prefix(&self.project))
    }
    pub fn topic(&self) -> String {
        self.named("alarms")
    }
    pub fn topic_arn(&self) -> String {
        self.arns.topic(&self.topic())
    }
    pub fn billing_alarm(&self) -> String {
        self.named("billing")
    }
    /// The alarm on one of the trail's security-event filters.
    pub fn security_alarm(&self, filter: &str) -> String {
        self.named(filter)
    }
    pub fn etl_failure_alarm(&self) -> String {
        self.named("etl-failures")
    }
    pub fn budget(&self) -> String {
        self.named("monthly")
    }
    pub fn glue_database(&self) -> String {
        format!("{}_catalog", self.project.replace('-', "_"))
    }
    pub fn glue_security_configuration(&self) -> String {
        self.named("glue")
    }
    pub fn workgroup(&self) -> String {
        self.named("analytics")
    }
    /// The operations dashboard: ETL runs, rows quarantined, PII found, durations, alarms, charges.
    pub fn dashboard(&self) -> String {
        self.named("operations")
    }
    /// The function that loads deliveries and runs the daily jobs.
    pub fn loader(&self) -> String {
        self.named("loader")
    }
    pub fn loader_arn(&self) -> String {
        self.arns.function(&self.loader())
    }
    /// Where events the loader could not handle are kept.
    pub fn dead_letter_queue(&self) -> String {
        self.named("loader-dlq")
    }
    pub fn dead_letter_queue_arn(&self) -> String {
        self.arns.queue(&self.dead_letter_queue())
    }
    /// The rule that sends landing's deliveries to the loader.
    pub fn delivery_rule(&self) -> String {
        self.named("deliveries")
    }
    pub fn delivery_rule_arn(&self) -> String {
        self.arns.event_rule(&self.delivery_rule())
    }
    /// The group of the daily jobs' schedules.
    pub fn schedule_group(&self) -> String {
        self.named("jobs")
    }
    pub fn schedule_group_arn(&self) -> String {
        self.arns.schedule_group(&self.schedule_group())
    }
    /// An alarm of the platform's, by what it watches.
    pub fn named_alarm(&self, what: &str) -> String {
        self.named(what)
    }
    /// The loader's log group, beside the platform's others.
    pub fn loader_log_group(&self) -> String {
        format!("{}loader", log_group_prefix(&self.project))
    }
}

/// `<project>-`: the start of every resource name of the project's.
pub fn project_prefix(project: &str) -> String {
    format!("{project}-")
}

/// `/dapgov/<project>/`: the start of every log group of the project's.
pub fn log_group_prefix(project: &str) -> String {
    format!("/dapgov/{project}/")
}

/// Whether a resource name belongs to `project`: `<project>-...`, the Glue database
/// (`<project>_...`) or a log group under `/dapgov/<project>/`.
pub fn owns(project: &str, name: &str) -> bool {
    let glue = project.replace('-', "_");
    name.strip_prefix(project)
        .is_some_and(|rest| rest.starts_with('-'))
        || name
            .strip_prefix(glue.as_str())
            .is_some_and(|rest| rest.starts_with('_'))
        || name.starts_with(&log_group_prefix(project))
}

/// A bucket's ARN (S3 ARNs name neither region nor account).
pub fn s3_arn(bucket: &str) -> String {
    format!("arn:{PARTITION}:s3:::{bucket}")
}

/// Stands, in a key ARN, for the key id the key service has not assigned yet.
pub const KEY_PENDING: &str = "(known after apply)";

/// The ARN that stands for the key `alias` until it is created: one per key, so what refers
/// to it can be told apart before apply.
pub fn pending_key_arn(arns: &Arns, alias: &str) -> String {
    arns.key(&format!("{KEY_PENDING}: {alias}"))
}

/// The alias a pending key ARN stands for, if `arn` is one.
pub fn pending_key_alias(arn: &str) -> Option<&str> {
    arn.split_once(&format!("key/{KEY_PENDING}: "))
        .map(|(_, alias)| alias)
}

/// The product ARN Security Hub gives an account's own findings (`BatchImportFindings`).
pub fn security_hub_product_arn(region: &str, account: &str) -> String {
    format!("arn:{PARTITION}:securityhub:{region}:{account}:product/{account}/default")
}

/// An object's (or a key prefix's) ARN.
pub fn s3_object_arn(bucket: &str, key: &str) -> String {
    format!("{}/{key}", s3_arn(bucket))
}

/// The bucket an S3 ARN names (`arn:aws:s3:::bucket[/key]`).
pub fn bucket_of_s3_arn(arn: &str) -> Option<&str> {
    let rest = arn
        .strip_prefix("arn:")?
        .split_once(':')?
        .1
        .strip_prefix("s3:::")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|b| !b.is_empty())
}

/// The account an ARN names (its fifth field), if any.
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The service an ARN names (its third field), if it is an ARN.
pub fn service_of(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?
        .split(':')
        .nth(1)
        .filter(|s| !s.is_empty())
}

/// The region an ARN names (its fourth field), if any.
pub fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> Names {
        Names::new("van311", "123456789012", "ca-central-1")
    }

    #[test]
    fn a_pending_key_arn_names_its_alias() {
        let arn = pending_key_arn(&n().arns, "van311-pii");
        assert_eq!(pending_key_alias(&arn), Some("van311-pii"));
        assert_eq!(pending_key_alias(&n().arns.key("1234abcd-12ab")), None);
    }

    #[test]
    fn names_and_arns_follow_the_platform_convention() {
        let n = n();
        assert_eq!(n.bucket("raw"), "van311-raw-123456789012");
        assert_eq!(n.bucket_arn("raw"), "arn:aws:s3:::van311-raw-123456789012");
        assert_eq!(s3_object_arn("b", "k/x"), "arn:aws:s3:::b/k/x");
        assert_eq!(n.key_alias_id("pii"), "alias/van311-pii");
        assert_eq!(
            n.arns.key("abc"),
            "arn:aws:kms:ca-central-1:123456789012:key/abc"
        );
        assert_eq!(
            n.role_arn("etl"),
            "arn:aws:iam::123456789012:role/van311-etl"
        );
        assert_eq!(n.role_policy("etl"), "van311-etl-access");
        assert_eq!(n.arns.root(), "arn:aws:iam::123456789012:root");
        assert_eq!(
            n.trail_arn(),
            "arn:aws:cloudtrail:ca-central-1:123456789012:trail/van311-trail"
        );
        assert_eq!(
            n.arns.trail_delivery_role("van311-trail"),
            "arn:aws:iam::123456789012:role/van311-trail-delivery"
        );
        assert_eq!(
            n.arns.log_group_streams("/dapgov/van311/trail"),
            "arn:aws:logs:ca-central-1:123456789012:log-group:/dapgov/van311/trail:*"
        );
        assert_eq!(
            n.topic_arn(),
            "arn:aws:sns:ca-central-1:123456789012:van311-alarms"
        );
        assert_eq!(
            n.arns.alarm("us-east-1", "van311-billing"),
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:van311-billing"
        );
        assert_eq!(
            n.arns.budget("van311-monthly"),
            "arn:aws:budgets::123456789012:budget/van311-monthly"
        );
        assert_eq!(
            n.arns.glue_table("van311_catalog", "t"),
            "arn:aws:glue:ca-central-1:123456789012:table/van311_catalog/t"
        );
        assert_eq!(
            n.arns.workgroup(&n.workgroup()),
            "arn:aws:athena:ca-central-1:123456789012:workgroup/van311-analytics"
        );
        assert_eq!(
            Names::new("city-311", "1", "r").glue_database(),
            "city_311_catalog"
        );
    }

    #[test]
    fn arns_parse_back() {
        assert_eq!(
            account_of("arn:aws:sts::123456789012:assumed-role/r/s"),
            Some("123456789012")
        );
        assert_eq!(account_of("arn:aws:s3:::b"), None);
        assert_eq!(service_of("arn:aws:sns:r:1:t"), Some("sns"));
        assert_eq!(service_of("sns:r:1:t"), None);
        assert_eq!(
            region_of("arn:aws:kms:ca-central-1:1:key/x"),
            Some("ca-central-1")
        );
        assert_eq!(bucket_of_s3_arn("arn:aws:s3:::b/k/x"), Some("b"));
        assert_eq!(bucket_of_s3_arn("arn:aws:s3:::b"), Some("b"));
        assert_eq!(bucket_of_s3_arn("arn:aws:sns:r:1:t"), None);
    }

    #[test]
    fn ownership_needs_the_separator() {
        assert!(owns("van311", "van311-raw-1"));
        assert!(owns("van311", "van311_catalog"));
        assert!(owns("van311", "/dapgov/van311/trail"));
        assert!(!owns("van311", "van3110-raw-1"));
        assert!(!owns("van311", "/dapgov/van3110/trail"));
        assert!(!owns("van", "van311-raw-1"));
    }

    /// Names are spelled here only: no other crate's code (its tests aside) formats an ARN, a
    /// `<project>-` name or lists the zones itself.
    #[test]
    fn no_other_code_spells_names() {
        const SPELLINGS: [&str; 6] = [
            "\"arn:",
            "{project}-",
            "{project}_",
            "\"/dapgov/{",
            "\"logs\", \"trail\"",
            "\"landing\", \"raw\"",
        ];
        let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("crates dir");
        let mut files = vec![];
        let mut dirs: Vec<_> = std::fs::read_dir(crates)
            .expect("crates")
            .map(|e| e.expect("entry").path().join("src"))
            .collect();
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .map(|e| e.expect("entry").path())
            {
                if e.is_dir() {
                    dirs.push(e);
                } else if e.extension().is_some_and(|x| x == "rs") && !e.ends_with("src/names.rs") {
                    files.push(e);
                }
            }
        }
        assert!(
            files.len() > 50,
            "found only {} source files under {}",
            files.len(),
            crates.display()
        );
        let mut found = vec![];
        for f in &files {
            let text = std::fs::read_to_string(f).expect("read");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (i, line) in code.lines().enumerate() {
                if let Some(s) = SPELLINGS.iter().find(|s| line.contains(*s)) {
                    found.push(format!("{}:{}: {s}", f.display(), i + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "names spelled outside names.rs (use dapgov_inventory::names):\n{}",
            found.join("\n")
        );
    }
}
